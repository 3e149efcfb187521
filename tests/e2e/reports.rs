//! Reports end to end: hourly readings of three meters on two sites through
//! the listener, their metadata set through the API, then the reports of
//! `GET /api/v1/reports/{kind}` as JSON, CSV, XLSX (read back) and PDF
//! (its text), with the same numbers; a viewer granted one site sees only
//! its meters in every format; refusals name their parameter.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde_json::Value;

use meterhub_testkit::{APPLY_DEADLINE, Host, LineClient, add_user, browser, http, login_ok, reading, wait_for};

/// 2026-03-01T00:00:00+03:00 (Europe/Moscow, the configured zone).
const T0: i64 = 1_772_312_400_000;
const HOUR: i64 = 3_600_000;

/// (meter, site, resource, name, litres an hour)
const METERS: [(&str, &str, &str, &str, i64); 3] = [
    ("gas-1", "Север", "gas", "Котельная №1", 500),
    ("gas-2", "Север", "gas", "Котельная №2", 250),
    ("water-1", "Юг", "cold_water", "Дом 7", 125),
];

fn report(host: &Host, query: &str) -> Value {
    host.get_ok(&format!("/api/v1/reports/{query}"))
}

/// A file as the local admin downloads it.
fn download(host: &Host, path: &str) -> meterhub_testkit::Response {
    meterhub_testkit::request(host.api, "GET", path, &[("Authorization", &format!("Bearer {}", host.token))], b"")
}

fn items(report: &Value) -> Vec<Vec<String>> {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["kind"] == "item")
        .map(|r| r["values"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .collect()
}

fn column(report: &Value, key: &str) -> usize {
    report["columns"].as_array().unwrap().iter().position(|c| c["key"] == key).unwrap_or_else(|| panic!("no {key}"))
}

fn fed_host() -> Host {
    let host = Host::start();
    let mut client = LineClient::connect(host.driver("tcp-in"));
    // 2026-03-01 00:00 to 2026-03-03 00:00 inclusive, hourly.
    for (meter, _, _, _, per_hour) in METERS {
        for h in 0..=48 {
            let value = format!("\"{}.{:03}\"", 1000 + h * per_hour / 1000, (h * per_hour) % 1000);
            client.send(reading(meter, "volume", T0 + h * HOUR, &value).as_bytes());
        }
    }
    client.finish();
    let answers: Vec<Value> = std::iter::from_fn(|| client.answer()).collect();
    assert!(answers.iter().all(|a| a["ok"] == true), "{answers:?}");
    host.settled_stats(3 * 49);
    for (meter, site, resource, name, _) in METERS {
        wait_for("the meter registered", APPLY_DEADLINE, || {
            (host.get(&format!("/api/v1/meters/{meter}")).0 == 200).then_some(())
        });
        let body = serde_json::json!({ "actor": "e2e", "site": site, "resource": resource, "name": name }).to_string();
        let (status, answer) = http(host.api, "PATCH", &format!("/api/v1/meters/{meter}"), body.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }
    wait_for("two whole days of deltas of every meter", APPLY_DEADLINE, || {
        METERS
            .iter()
            .all(|(meter, ..)| {
                let days = host.get_ok(&format!("/api/v1/deltas?meter={meter}&period=day"));
                days.as_array().is_some_and(|d| d.iter().filter(|d| d["in_progress"] == false).count() == 2)
            })
            .then_some(())
    });
    host
}

#[test]
fn reports_show_the_same_exact_numbers_in_every_format_and_only_what_the_user_may_see() {
    let host = fed_host();
    let daily = report(&host, "consumption?period=day&from=2026-03-01&to=2026-03-03&lang=ru");
    assert_eq!(daily["title"], "Расход по дням", "{daily}");
    let (meter, period, consumption) =
        (column(&daily, "meter"), column(&daily, "period"), column(&daily, "consumption"));
    let rows = items(&daily);
    let got: Vec<(&str, &str, &str)> =
        rows.iter().map(|r| (r[meter].as_str(), r[period].as_str(), r[consumption].as_str())).collect();
    assert_eq!(
        got,
        [
            ("gas-1", "01.03.2026", "12.000"),
            ("gas-1", "02.03.2026", "12.000"),
            ("gas-2", "01.03.2026", "6.000"),
            ("gas-2", "02.03.2026", "6.000"),
            ("water-1", "01.03.2026", "3.000"),
            ("water-1", "02.03.2026", "3.000"),
        ],
        "{daily}"
    );
    // Subtotals per site and day, totals per day: exact sums.
    let sums: Vec<(String, String, String)> = daily["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] != "item")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_owned(),
                r["values"][period].as_str().unwrap().to_owned(),
                r["values"][consumption].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(sums.contains(&("subtotal".into(), "01.03.2026".into(), "18.000".into())), "{sums:?}");
    assert!(sums.contains(&("total".into(), "02.03.2026".into(), "21.000".into())), "{sums:?}");
    // The page shows Russian numbers and names.
    let shown = &daily["rows"][0]["cells"];
    assert_eq!(shown[column(&daily, "resource")], "Газ");
    assert_eq!(shown[column(&daily, "unit")], "м³");
    assert_eq!(shown[column(&daily, "start_value")], "1\u{202f}000,000");

    // CSV: the same rows, a download.
    let query = "/api/v1/reports/consumption?period=day&from=2026-03-01&to=2026-03-03&lang=ru";
    let csv = download(&host, &format!("{query}&format=csv"));
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.header("content-disposition"),
        Some("attachment; filename=\"consumption-2026-03-01-2026-03-02.csv\"")
    );
    let text = String::from_utf8(csv.body.clone()).unwrap();
    let csv_rows: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(csv_rows.len(), 1 + daily["rows"].as_array().unwrap().len(), "{text}");
    assert!(
        csv_rows[1].starts_with("Север,Газ,gas-1,Котельная №1,Объём,м³,01.03.2026,1000.000,1012.000,12.000,"),
        "{text}"
    );

    // XLSX read back: the same numbers.
    let xlsx = download(&host, &format!("{query}&format=xlsx"));
    assert_eq!(xlsx.status, 200);
    let mut book = Xlsx::new(Cursor::new(xlsx.body.clone())).expect("an XLSX");
    let sheet = book.worksheet_range_at(0).expect("a sheet").expect("readable");
    let values: Vec<f64> = sheet
        .rows()
        .filter(|r| {
            r.get(2).is_some_and(|c| {
                let id = c.to_string();
                id.starts_with("gas-") || id == "water-1"
            })
        })
        .map(|r| match r[consumption] {
            Data::Float(f) => f,
            ref other => panic!("consumption is {other:?}"),
        })
        .collect();
    assert_eq!(values, [12.0, 12.0, 6.0, 6.0, 3.0, 3.0]);

    // PDF text: the title and the figures as a Russian reader sees them.
    let pdf = download(&host, &format!("{query}&format=pdf"));
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let text = pdf_extract::extract_text_from_mem(&pdf.body).expect("PDF text");
    assert!(text.contains("Расход по дням"), "{text}");
    assert!(text.contains("12,000") && text.contains("21,000"), "{text}");

    // Boundaries of the month: start and end values for billing.
    let month = report(&host, "boundaries?month=2026-03&lang=en");
    let row = &items(&month)[0];
    assert_eq!(row[column(&month, "start_value")], "1000.000", "{month}");
    assert_eq!(row[column(&month, "end_value")], "1024.000", "{month}");
    assert_eq!(row[column(&month, "consumption")], "24.000", "{month}");

    // Completeness: 24 readings received each whole day.
    let complete = report(&host, "completeness?from=2026-03-01&to=2026-03-03&meter=gas-1&lang=en");
    let counted: Vec<(String, String)> = items(&complete)
        .iter()
        .map(|r| (r[column(&complete, "expected")].clone(), r[column(&complete, "received")].clone()))
        .collect();
    assert_eq!(
        counted,
        [("24".into(), "24".into()), ("24".into(), "24".into())],
        "the hourly period its readings keep: {complete}"
    );
    assert_eq!(report(&host, "activity")["kind"], "activity");

    // A viewer granted the north sees its two meters and nothing of the south, in any format.
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/Север"], "vera's password");
    let vera = login_ok(host.api, "vera", "vera's password");
    let hers = browser(host.api, &vera, "GET", query, false, "");
    assert_eq!(hers.status, 200);
    let seen: Vec<String> = items(&hers.json()).iter().map(|r| r[meter].clone()).collect();
    assert_eq!(seen, ["gas-1", "gas-1", "gas-2", "gas-2"]);
    for format in ["csv", "pdf"] {
        let file = browser(host.api, &vera, "GET", &format!("{query}&format={format}"), false, "");
        assert_eq!(file.status, 200);
        let text = if format == "pdf" {
            pdf_extract::extract_text_from_mem(&file.body).unwrap()
        } else {
            String::from_utf8(file.body.clone()).unwrap()
        };
        assert!(!text.contains("water-1") && !text.contains("Юг"), "{format}: {text}");
    }

    // Refusals name what is wrong.
    for (path, status, says) in [
        ("consumption?period=week&month=2026-03", 400, "period:"),
        ("consumption?from=2026-03-05&to=2026-04-01", 400, "from, to:"),
        ("consumption?month=2026-03&format=docx", 400, "format:"),
        ("weather?month=2026-03", 404, "no such report"),
    ] {
        let (got, body) = http(host.api, "GET", &format!("/api/v1/reports/{path}"), b"");
        let body = String::from_utf8_lossy(&body);
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
    }
}

/// The periods and times of the scheduled results listed.
fn scheduled_runs(host: &Host) -> Vec<(String, i64)> {
    let runs = host.get_ok("/api/v1/report-runs");
    runs["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| (r["period"].as_str().unwrap().to_owned(), r["made_at_ms"].as_i64().unwrap()))
        .collect()
}

#[test]
fn scheduled_reports_missed_while_the_host_was_down_are_made_once_when_it_comes_back() {
    let mut host = Host::start();
    host.stop();
    // The schedule made its report of four days ago, then the host was
    // down: state.json says so, as the host writes it.
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let day = |back: i64| today.checked_sub(jiff::Span::new().days(back)).unwrap().to_string();
    let reports = host.data_dir().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join("state.json"), format!("{{\"daily\": \"{}\"}}", day(4))).unwrap();
    let config = std::fs::read_to_string(host.dir().join("meterhub.toml")).unwrap()
        + "\n[reports.schedules.daily]\nreport = \"consumption\"\nevery = \"day\"\nat = \"00:00\"\nzone = \"UTC\"\nformats = [\"csv\", \"pdf\"]\n";
    std::fs::write(host.dir().join("meterhub.toml"), config).unwrap();
    host.restart();
    let want = [day(1), day(2), day(3)];
    let made = wait_for("the three missed days made", APPLY_DEADLINE, || {
        let runs = scheduled_runs(&host);
        want.iter().all(|d| runs.iter().any(|(p, _)| p == d)).then_some(runs)
    });
    // Once each, oldest first (a run crossing midnight UTC may add today's
    // report; it changes nothing of these three).
    let at = |d: &str| -> Vec<i64> { made.iter().filter(|(p, _)| p == d).map(|(_, t)| *t).collect() };
    let (one, two, three) = (at(&day(1)), at(&day(2)), at(&day(3)));
    assert!(one.len() == 1 && two.len() == 1 && three.len() == 1, "once each: {made:?}");
    assert!(three[0] <= two[0] && two[0] <= one[0], "made oldest first: {made:?}");
    assert!(made.iter().all(|(p, _)| p.as_str() > day(4).as_str()), "nothing before the missed days: {made:?}");
    let file = download(&host, &format!("/api/v1/report-runs/daily/{}.csv", day(1)));
    assert_eq!(file.status, 200);
    assert!(String::from_utf8_lossy(&file.body).starts_with("\u{feff}Объект,"), "{:?}", file.body);
    assert_eq!(
        download(&host, &format!("/api/v1/report-runs/daily/{}.xlsx", day(1))).status,
        404,
        "not a format it writes"
    );
    assert_eq!(download(&host, "/api/v1/report-runs/daily/..%2Fstate.json").status, 404);

    // Stopped and back again: nothing is made twice.
    host.stop();
    host.restart();
    wait_for("the host's first look", APPLY_DEADLINE, || {
        host.get_ok("/api/v1/report-runs")["looked_at_ms"].as_i64().map(|_| ())
    });
    let again = scheduled_runs(&host);
    for (period, made_at) in &made {
        assert!(again.contains(&(period.clone(), *made_at)), "{period} was made again: {again:?}");
    }
    let listed: std::collections::BTreeSet<&str> = again.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(listed.len(), again.len(), "a period listed twice: {again:?}");
}

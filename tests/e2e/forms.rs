//! Saved forms end to end: templates dropped into the forms folder of a
//! running host are read and checked (a broken edit keeps the last good
//! version served, its error at `file:line:col`); a user's values round-trip
//! and stay theirs; a value holding markup comes back as text; CSRF is
//! required; a shared form is a dispatcher's to write; a manual reading
//! enters the archive as source `manual` with the user's name, through the
//! journal, and the accounting counts it; an inspection note is seen only
//! by users who may see its meter.

use serde_json::{Value, json};

use meterhub_testkit::{
    APPLY_DEADLINE, Host, LineClient, Session, add_user, browser, http, login_ok, reading, wait_for,
};

/// 2026-03-01T00:00:00+03:00.
const T0: i64 = 1_772_312_400_000;
const HOUR: i64 = 3_600_000;

const SETTINGS: &str = r#"<form data-title="Мои настройки">
  <label>Цвет <input name="colour" value="<%= colour %>" maxlength="40"></label>
  <label>Предел <input name="limit" type="number" min="0" max="100" step="0.5"></label>
  <label>Период <select name="period"><option value="day">Сутки</option><option value="month">Месяц</option></select></label>
  <label>Заметки <textarea name="notes"></textarea></label>
  <p id="greeting">Здравствуйте, <%= user %>! Цвет: <%= colour %></p>
</form>"#;

const TEAM: &str = r#"<form data-title="Смена" data-scope="shared">
  <label>Старший смены <input name="lead" required></label>
</form>"#;

fn submit(api: std::net::SocketAddr, session: &Session, form: &str, values: Value) -> meterhub_testkit::Response {
    let body = json!({ "values": values }).to_string();
    browser(api, session, "POST", &format!("/api/v1/forms/{form}"), true, &body)
}

fn get(api: std::net::SocketAddr, session: &Session, path: &str) -> meterhub_testkit::Response {
    browser(api, session, "GET", path, false, "")
}

#[test]
fn a_forms_values_round_trip_per_user_escaped_and_a_shared_form_is_a_dispatchers_to_write() {
    let host = Host::start();
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/Север"], "vera's password");
    let (dina, vera) = (login_ok(host.api, "dina", "dina's password"), login_ok(host.api, "vera", "vera's password"));

    // Dropped into the folder of the running host: read at the next look.
    let folder = host.dir().join("forms");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("settings.html"), SETTINGS).unwrap();
    std::fs::write(folder.join("team.html"), TEAM).unwrap();
    let listed = get(host.api, &vera, "/api/v1/forms").json();
    let ids: Vec<&str> = listed["forms"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["inspection-note", "manual-reading", "report-parameters", "settings", "team"], "{listed}");

    // Vera's values, markup and all, come back exactly, and as text.
    let hostile = r#"<script>window.pwned=1</script><img src=x onerror="window.pwned=2">"#;
    let saved = submit(
        host.api,
        &vera,
        "settings",
        json!({ "colour": "\"><b>red</b>", "limit": "12.5", "period": "month", "notes": hostile }),
    );
    assert_eq!(saved.status, 200, "{}", saved.json());
    let form = get(host.api, &vera, "/api/v1/forms/settings").json();
    assert_eq!(form["values"]["notes"], hostile, "{form}");
    assert_eq!(form["values"]["colour"], "\"><b>red</b>");
    assert_eq!(form["saved_by"], "vera");
    let html = form["html"].as_str().unwrap();
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;script&gt;window.pwned=1&lt;/script&gt;"), "{html}");
    assert!(html.contains(r#"value="&quot;&gt;&lt;b&gt;red&lt;/b&gt;""#), "{html}");
    assert!(html.contains("Здравствуйте, vera! Цвет: &quot;&gt;&lt;b&gt;red&lt;/b&gt;"), "{html}");
    assert!(html.contains(r#"<option value="month" selected="">"#), "{html}");
    // Dina's form is her own, still empty.
    let hers = get(host.api, &dina, "/api/v1/forms/settings").json();
    assert_eq!(hers["values"], Value::Null, "{hers}");

    // Refused: values the template's types do not allow, each named; no CSRF token.
    let refused = submit(host.api, &vera, "settings", json!({ "limit": "12.25", "period": "year", "shoe": "42" }));
    assert_eq!(refused.status, 422, "{}", refused.json());
    let problems: Vec<(String, String)> = refused.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["field"].as_str().unwrap().to_owned(), p["code"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        problems,
        [
            ("shoe".into(), "unknown-field".into()),
            ("limit".into(), "step".into()),
            ("period".into(), "not-an-option".into())
        ]
    );
    let body = json!({ "values": { "colour": "blue" } }).to_string();
    let forged = browser(host.api, &vera, "POST", "/api/v1/forms/settings", false, &body);
    assert_eq!(forged.status, 403, "a POST without the CSRF token: {}", forged.json());
    assert_eq!(get(host.api, &vera, "/api/v1/forms/settings").json()["values"]["colour"], "\"><b>red</b>");

    // A shared form: the dispatcher writes, the viewer reads.
    assert_eq!(submit(host.api, &vera, "team", json!({ "lead": "vera" })).status, 403);
    assert_eq!(submit(host.api, &dina, "team", json!({ "lead": "Дина Петровна" })).status, 200);
    let team = get(host.api, &vera, "/api/v1/forms/team").json();
    assert_eq!((team["values"]["lead"].as_str(), team["saved_by"].as_str()), (Some("Дина Петровна"), Some("dina")));

    // A broken edit: refused at its line and column, the last good version served.
    std::fs::write(folder.join("settings.html"), SETTINGS.replace("<p id", "<script>x()</script>\n<p id")).unwrap();
    let listed = get(host.api, &vera, "/api/v1/forms").json();
    let settings = listed["forms"].as_array().unwrap().iter().find(|f| f["id"] == "settings").unwrap().clone();
    let error = settings["errors"][0].as_str().unwrap_or_default();
    assert!(error.ends_with("settings.html:6:3: <script> is not allowed in a form template (allowed: form, fieldset, legend, label, input, select, option, optgroup, textarea, button, output, datalist, p, div, span, br, hr, h2, h3, h4, small, strong, em, b, i, ul, ol, li, dl, dt, dd, table, caption, thead, tbody, tfoot, tr, th, td)"), "{settings}");
    let form = get(host.api, &vera, "/api/v1/forms/settings").json();
    assert!(!form["html"].as_str().unwrap().contains("<script"), "{form}");
    assert_eq!(form["values"]["limit"], "12.5");

    // Mended, and the values survive a restart.
    std::fs::write(folder.join("settings.html"), SETTINGS).unwrap();
    let mut host = host;
    host.stop();
    host.restart();
    let vera = login_ok(host.api, "vera", "vera's password");
    assert_eq!(get(host.api, &vera, "/api/v1/forms/settings").json()["values"]["period"], "month");
}

/// A host with `gas-1` (Север) and `water-1` (Юг), hourly volume readings of
/// 2026-03-01 and 2026-03-02 (Moscow time).
fn fed_host() -> Host {
    let host = Host::start();
    let mut client = LineClient::connect(host.driver("tcp-in"));
    for meter in ["gas-1", "water-1"] {
        for h in 0..=47 {
            client.send(reading(meter, "volume", T0 + h * HOUR, &format!("\"{}\"", 1000 + h)).as_bytes());
        }
    }
    client.finish();
    assert!(std::iter::from_fn(|| client.answer()).all(|a| a["ok"] == true));
    host.settled_stats(96);
    for (meter, site) in [("gas-1", "Север"), ("water-1", "Юг")] {
        wait_for("the meter registered", APPLY_DEADLINE, || {
            (host.get(&format!("/api/v1/meters/{meter}")).0 == 200).then_some(())
        });
        let body = json!({ "actor": "e2e", "site": site, "time_zone": "Europe/Moscow" }).to_string();
        let (status, answer) = http(host.api, "PATCH", &format!("/api/v1/meters/{meter}"), body.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }
    host
}

#[test]
fn a_manual_reading_enters_the_archive_with_its_provenance_and_notes_follow_the_grants() {
    let host = fed_host();
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/Север"], "vera's password");
    add_user(&host, &["yuri", "--role", "dispatcher", "--grant", "*/Юг"], "yuri's password");
    let (dina, vera, yuri) = (
        login_ok(host.api, "dina", "dina's password"),
        login_ok(host.api, "vera", "vera's password"),
        login_ok(host.api, "yuri", "yuri's password"),
    );
    // 2026-03-02 23:30 Moscow = 20:30 UTC, after the last automatic reading.
    let entered = json!({ "meter": "gas-1", "channel": "volume", "value": "1047.750", "at": "2026-03-02T23:30", "note": "обход, <b>счётчик</b> в порядке" });
    let answer = submit(host.api, &dina, "manual-reading", entered.clone());
    assert_eq!(answer.status, 200, "{}", answer.json());
    let reading = answer.json()["reading"].clone();
    assert_eq!((reading["source"].as_str(), reading["unit"].as_str()), (Some("manual"), Some("m3")), "{reading}");
    assert_eq!(reading["ts_ms"], T0 + 47 * HOUR + HOUR / 2);

    // In the archive, as any reading, saying who entered it.
    let archived = wait_for("the manual reading archived", APPLY_DEADLINE, || {
        let readings = host.get_ok("/api/v1/readings?device=gas-1&limit=1000");
        readings.as_array()?.iter().find(|r| r["source"] == "manual").cloned()
    });
    assert_eq!(archived["value"], "1047.750", "{archived}");
    assert_eq!(archived["ts_ms"], T0 + 47 * HOUR + HOUR / 2);
    assert_eq!(archived["frame_seq"], reading["journal_seq"]);
    assert_eq!(
        (archived["entered_by"].as_str(), archived["note"].as_str()),
        (Some("dina"), Some("обход, <b>счётчик</b> в порядке"))
    );
    host.settled_stats(97);
    // The accounting counts it: the day of 2026-03-02 (1024 at its start)
    // ends at the manual 1047.750, not the automatic 1047.
    wait_for("the day's delta to take the manual reading", APPLY_DEADLINE, || {
        let days = host.get_ok("/api/v1/deltas?meter=gas-1&period=day");
        days.as_array()?.iter().find(|d| d["consumption"] == "23.750").cloned()
    });
    // The meter is still read by its driver: its source stays the listener's.
    assert_eq!(host.get_ok("/api/v1/meters/gas-1")["source"], "tcp-in");
    // The form keeps the meter and channel for the next one, not the value.
    let form = get(host.api, &dina, "/api/v1/forms/manual-reading").json();
    assert_eq!(form["values"], json!({ "meter": "gas-1", "channel": "volume" }), "{form}");

    // Refused: a viewer; a meter outside the grants (as if it did not exist); a channel it lacks; a time to come.
    assert_eq!(submit(host.api, &vera, "manual-reading", entered.clone()).status, 403);
    let outside = submit(host.api, &yuri, "manual-reading", entered.clone());
    assert_eq!(
        (outside.status, outside.json()["problems"][0]["code"].as_str()),
        (422, Some("no-meter")),
        "{}",
        outside.json()
    );
    let mut wrong = entered.clone();
    wrong["channel"] = json!("energy");
    let refused = submit(host.api, &dina, "manual-reading", wrong).json();
    assert_eq!(refused["problems"][0]["code"], "no-channel", "{refused}");
    assert_eq!(refused["problems"][0]["limit"], "volume");
    let mut ahead = entered.clone();
    ahead["at"] = json!("2099-01-01T00:00");
    assert_eq!(submit(host.api, &dina, "manual-reading", ahead).json()["problems"][0]["code"], "in-future");

    // An inspection note on each meter: a user sees the notes of the meters she may see.
    for (who, subject) in [(&dina, "gas-1"), (&yuri, "water-1")] {
        let note = json!({ "subject": subject, "condition": "seal-broken", "visited": "2026-03-03T10:00", "text": format!("пломба на {subject}") });
        let answer = submit(host.api, who, "inspection-note", note);
        assert_eq!(answer.status, 200, "{}", answer.json());
    }
    let seen = |session: &Session| -> Vec<String> {
        let notes = get(host.api, session, "/api/v1/notes").json();
        notes["notes"].as_array().unwrap().iter().map(|n| n["subject"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(seen(&dina), ["water-1", "gas-1"]);
    assert_eq!(seen(&vera), ["gas-1"]);
    assert_eq!(seen(&yuri), ["water-1"]);
    let gas = get(host.api, &vera, "/api/v1/notes?subject=gas-1").json();
    assert_eq!(
        (gas["notes"][0]["user"].as_str(), gas["notes"][0]["values"]["condition"].as_str()),
        (Some("dina"), Some("seal-broken"))
    );
}

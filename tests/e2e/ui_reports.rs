//! The reports page in the real headless Chromium of `ui.rs`: a dispatcher
//! chooses daily consumption for two days, makes it, reads the table in
//! Russian numbers with the sums in bold, and downloads it as CSV, XLSX
//! and PDF (the page's own links, with her session), and finds a scheduled
//! report listed with its files; a viewer granted one site sees only its
//! meters. Screenshots `target/artefacts/ui/r-*.png` in
//! Russian and English at 1366 and 1920 px.

use fantoccini::Locator;
use meterhub_testkit::{LineClient, add_user};

use crate::ui::{Browser, ONE_BROWSER, PAGE_DEADLINE, place, send, ui_host_with};

/// 2026-03-01T00:00:00+03:00.
const T0: i64 = 1_772_312_400_000;
const HOUR: i64 = 3_600_000;

/// Fills the form for daily consumption of 1–2 March and makes the report.
async fn run_daily(page: &Browser) {
    page.goto("/#/reports").await;
    page.wait("the reports form", PAGE_DEADLINE, "document.getElementById('report-form')").await;
    page.js("const set = (id, v) => { const e = document.getElementById(id); e.value = v; \
         e.dispatchEvent(new Event('change')); }; \
         set('report-kind', 'daily'); set('report-from', '2026-03-01'); set('report-to', '2026-03-02'); return true")
        .await;
    page.client.find(Locator::Id("report-run")).await.expect("the button").click().await.expect("click");
    page.wait("the report's table", PAGE_DEADLINE, "document.querySelector('#report-table tbody tr')").await;
}

/// The texts of the table's rows of `kind`.
async fn rows(page: &Browser, kind: &str) -> Vec<Vec<String>> {
    let script = format!(
        "return [...document.querySelectorAll('#report-table tr.report-{kind}')].map(r => [...r.cells].map(c => c.textContent))"
    );
    serde_json::from_value(page.js(&script).await).expect("rows of text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_dispatcher_makes_a_report_reads_it_and_downloads_it_and_a_viewer_sees_her_sites_alone() {
    let _one = ONE_BROWSER.lock().await;
    // A daily schedule: its first look makes yesterday's report.
    let host = ui_host_with(
        "[reports.schedules.daily-all]\nreport = \"consumption\"\nevery = \"day\"\nat = \"00:00\"\nzone = \"UTC\"\nformats = [\"xlsx\", \"pdf\"]\n",
    );
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/Север"], "vera's password");
    let mut device = LineClient::connect(host.driver("tcp-in"));
    for (meter, per_hour) in [("gas-1", 1250), ("water-1", 125)] {
        for h in 0..=48 {
            let v = 1000 * 1000 + h * per_hour;
            send(&mut device, meter, "volume", T0 + h * HOUR, &format!("{}.{:03}", v / 1000, v % 1000));
        }
    }
    place(&host, "gas-1", "gas", "Север");
    place(&host, "water-1", "cold_water", "Юг");
    meterhub_testkit::wait_for("both meters' days", meterhub_testkit::APPLY_DEADLINE, || {
        ["gas-1", "water-1"]
            .iter()
            .all(|m| {
                let days = host.get_ok(&format!("/api/v1/deltas?meter={m}&period=day"));
                days.as_array().is_some_and(|d| d.iter().filter(|d| d["in_progress"] == false).count() == 2)
            })
            .then_some(())
    });

    let page = Browser::open(format!("http://{}", host.api), "r").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    run_daily(&page).await;
    let items = rows(&page, "item").await;
    assert_eq!(items.len(), 4, "{items:?}");
    // Russian numbers: a narrow no-break space between thousands, a decimal comma.
    assert_eq!(items[0][7], "1\u{202f}000,000", "{items:?}");
    assert_eq!(items[0][9], "30,000", "{items:?}");
    assert_eq!(items[0][5], "м³");
    let totals = rows(&page, "total").await;
    assert_eq!(totals.iter().map(|r| r[9].as_str()).collect::<Vec<_>>(), ["33,000", "33,000"], "{totals:?}");
    let weight =
        page.js("return getComputedStyle(document.querySelector('#report-table tr.report-total td')).fontWeight").await;
    assert_eq!(weight, "700");
    page.screenshot("1-daily-ru-1366").await;
    // The scheduled result, listed with its files.
    let files = page
        .wait(
            "the scheduled result",
            PAGE_DEADLINE,
            "[...(document.querySelector('#report-runs-table tr[data-schedule=\"daily-all\"]')?.querySelectorAll('a') ?? [])].map(a => a.textContent).join(' ')",
        )
        .await;
    assert_eq!(files, "XLSX PDF");

    // The downloads: the page's links, fetched with her session.
    for (id, content_type, start) in [
        ("report-csv", "text/csv; charset=utf-8", "\u{feff}Объект"),
        ("report-xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "PK"),
        ("report-pdf", "application/pdf", "%PDF"),
    ] {
        let script = format!(
            "const a = document.getElementById('{id}'); return fetch(a.href).then(async r => {{ \
               const bytes = new Uint8Array(await r.arrayBuffer()); \
               return [r.status, r.headers.get('content-type'), r.headers.get('content-disposition'), \
                       new TextDecoder('utf-8', {{ ignoreBOM: true }}).decode(bytes.slice(0, 16)), a.hasAttribute('download')]; }})"
        );
        let got = page.js(&script).await;
        assert_eq!(got[0], 200, "{id}: {got}");
        assert_eq!(got[1], content_type, "{id}: {got}");
        assert!(
            got[2].as_str().is_some_and(|d| d.starts_with("attachment; filename=\"consumption-2026-03-01-2026-03-02.")),
            "{id}: {got}"
        );
        assert!(got[3].as_str().is_some_and(|s| s.starts_with(start)), "{id}: {got}");
        assert_eq!(got[4], true, "{id}: a download link");
    }

    page.client.set_window_size(1920, 1080).await.expect("resize");
    run_daily(&page).await;
    page.wait("the scheduled result", PAGE_DEADLINE, "document.querySelector('#report-runs-table tbody tr')").await;
    page.js("window.scrollTo(0, document.body.scrollHeight); return true").await;
    page.screenshot("2-daily-ru-1920").await;
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait("the page in English", PAGE_DEADLINE, "document.querySelector('.reports h2')?.textContent === 'Reports'")
        .await;
    run_daily(&page).await;
    let english = rows(&page, "item").await;
    assert_eq!(english[0][9], "30.000", "{english:?}");
    assert_eq!(english[0][1], "Gas");
    page.screenshot("3-daily-en-1920").await;
    page.client.set_window_size(1366, 768).await.expect("resize");
    page.js("const s = document.getElementById('report-kind'); s.value = 'completeness'; s.dispatchEvent(new Event('change')); return true").await;
    page.client.find(Locator::Id("report-run")).await.expect("the button").click().await.expect("click");
    page.wait(
        "the completeness table",
        PAGE_DEADLINE,
        "document.getElementById('report-title')?.textContent === 'Data completeness'",
    )
    .await;
    page.screenshot("4-completeness-en-1366").await;
    page.close().await;

    // A viewer of the north: only gas-1, in the table and in the file.
    let page = Browser::open(format!("http://{}", host.api), "r").await;
    page.goto("/").await;
    page.log_in("vera", "vera's password").await;
    run_daily(&page).await;
    let hers: Vec<String> = rows(&page, "item").await.into_iter().map(|r| r[2].clone()).collect();
    assert_eq!(hers, ["gas-1", "gas-1"]);
    let csv = page.js("return fetch(document.getElementById('report-csv').href).then(r => r.text())").await;
    assert!(csv.as_str().is_some_and(|t| t.contains("gas-1") && !t.contains("water-1") && !t.contains("Юг")), "{csv}");
    page.close().await;
}

//! Personal pages in the real headless Chromium of `ui.rs`: a dispatcher
//! arranges her start page (live values of two meters, a chart, a report,
//! one moved up), saves it, and a new login on a fresh browser opens on it
//! as she left it; an admin publishes a page to the viewers with both
//! meters, and a viewer granted one site lands on it and sees that site's
//! meter alone in every widget. Screenshots `target/artefacts/ui/p-*.png`
//! in Russian and English at 1366 and 1920 px.

use meterhub_testkit::{LineClient, add_user};

use crate::ui::{Browser, ONE_BROWSER, PAGE_DEADLINE, js_string, place, send, ui_host};

/// An hour ago, on the hour: the chart's last day holds the readings.
fn start_ms() -> i64 {
    let now = meterhub_storage::clock::now_ms();
    now - now % 3_600_000 - 6 * 3_600_000
}

/// The kinds of the page's widgets, in order.
const KINDS: &str = "[...document.querySelectorAll('#home-grid .widget')].map(w => w.dataset.kind).join(' ')";

/// Clicks the button `label` of widget `index`'s controls.
async fn widget_button(page: &Browser, index: usize, title: &str) {
    page.click(&format!("#home-grid .widget[data-index=\"{index}\"] button[title={}]", js_string(title))).await;
}

/// Adds a widget of `kind` while arranging.
async fn add(page: &Browser, kind: &str) {
    page.js(&format!("document.getElementById('home-add-kind').value = {}; return true", js_string(kind))).await;
    page.click("#home-add").await;
}

/// Sets the select `name` of widget `index` to `value`, as choosing does.
async fn choose(page: &Browser, index: usize, name: &str, value: &str) {
    page.js(&format!(
        "const s = document.querySelector('#home-grid .widget[data-index=\"{index}\"] select[name={name}]'); \
         s.value = {}; s.dispatchEvent(new Event('change')); return true",
        js_string(value)
    ))
    .await;
}

/// From the standard page (silent modules, values): arranging, both
/// meters' live values, a chart of `chart_meter`'s volume, a daily report.
async fn arrange(page: &Browser, chart_meter: &str) {
    page.click("#home-edit").await;
    for meter in ["gas-1", "water-1"] {
        page.click(&format!("#home-grid .widget[data-index=\"1\"] input[type=checkbox][value={}]", js_string(meter)))
            .await;
    }
    add(page, "chart").await;
    choose(page, 2, "meter", chart_meter).await;
    choose(page, 2, "channel", "volume").await;
    add(page, "report").await;
    choose(page, 3, "report", "daily").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_page_arranged_survives_a_new_login_and_a_page_published_to_viewers_shows_each_her_grants() {
    let _one = ONE_BROWSER.lock().await;
    let host = ui_host();
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    add_user(&host, &["ada", "--role", "admin"], "ada's password");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/Север"], "vera's password");
    let mut device = LineClient::connect(host.driver("tcp-in"));
    let t0 = start_ms();
    for h in 0..=5 {
        send(&mut device, "gas-1", "volume", t0 + h * 3_600_000, &format!("{}.500", 1000 + 3 * h));
        send(&mut device, "water-1", "volume", t0 + h * 3_600_000, &format!("{}.250", 200 + h));
    }
    place(&host, "gas-1", "gas", "Север");
    place(&host, "water-1", "cold_water", "Юг");

    // Dina arranges her page.
    let page = Browser::open(format!("http://{}", host.api), "p").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    page.click("#nav-home").await;
    let kinds = page.wait("the standard page", PAGE_DEADLINE, KINDS).await;
    assert_eq!(kinds, "silent values");
    assert_eq!(page.js("return document.getElementById('home-origin').textContent").await, "стандартная страница");
    arrange(&page, "gas-1").await;
    widget_button(&page, 2, "Выше").await;
    widget_button(&page, 2, "Во всю ширину").await;
    assert_eq!(page.js(&format!("return {KINDS}")).await, "silent chart values report");
    page.screenshot("1-arranging-ru-1366").await;
    page.click("#home-save").await;
    let saved = page.wait("saved", PAGE_DEADLINE, "document.querySelector('#home-status.ok')?.textContent").await;
    assert_eq!(saved, "Страница сохранена.");
    page.close().await;

    // A new login, a fresh browser: her page, as she left it, with live data.
    let page = Browser::open(format!("http://{}", host.api), "p").await;
    page.goto("/").await;
    page.log_in_to("dina", "dina's password", "home-grid").await;
    assert_eq!(page.wait("her page", PAGE_DEADLINE, KINDS).await, "silent chart values report");
    assert!(page.js("return location.hash").await == "#/home");
    let values = page
        .wait(
            "both meters' values",
            PAGE_DEADLINE,
            "(() => { const v = [...document.querySelectorAll('.widget-values-table td.value')].map(c => c.textContent); \
             return v.every(t => t !== '—') && v.length === 2 ? v.join(' | ') : null; })()",
        )
        .await;
    assert_eq!(values, "1\u{202f}015,500 м³ | 205,250 м³");
    page.wait("the chart drawn", PAGE_DEADLINE, "document.querySelector('.widget-chart-box canvas')").await;
    page.wait("the report's rows", PAGE_DEADLINE, "document.querySelector('.widget-report tr.report-item')").await;
    page.screenshot("2-page-ru-1366").await;
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.screenshot("3-page-ru-1920").await;
    page.click("#language-toggle").await;
    page.wait("English", PAGE_DEADLINE, "document.querySelector('.home-bar h2')?.textContent === 'My page'").await;
    page.wait("the report again", PAGE_DEADLINE, "document.querySelector('.widget-report tr.report-item')").await;
    page.screenshot("4-page-en-1920").await;
    page.click("#language-toggle").await;
    page.close().await;

    // Ada publishes a page with both meters to the viewers.
    let page = Browser::open(format!("http://{}", host.api), "p").await;
    page.goto("/").await;
    page.log_in("ada", "ada's password").await;
    page.goto("/#/home").await;
    arrange(&page, "water-1").await;
    page.js("document.getElementById('home-publish-role').value = 'viewer'; return true").await;
    page.click("#home-publish").await;
    let published =
        page.wait("published", PAGE_DEADLINE, "document.querySelector('#home-status.ok')?.textContent").await;
    assert_eq!(published, "Страница опубликована для роли «наблюдатель».");
    page.close().await;

    // Vera lands on it and sees the north's meter alone, in every widget.
    let page = Browser::open(format!("http://{}", host.api), "p").await;
    page.goto("/").await;
    page.log_in_to("vera", "vera's password", "home-grid").await;
    assert_eq!(page.wait("the viewers' page", PAGE_DEADLINE, KINDS).await, "silent values chart report");
    page.wait("the report's rows", PAGE_DEADLINE, "document.querySelector('.widget-report tr.report-item')").await;
    page.wait(
        "gas-1's value",
        PAGE_DEADLINE,
        "(() => { const v = [...document.querySelectorAll('.widget-values-table td.value')]; \
         return v.length > 0 && v.every(c => c.textContent !== '—'); })()",
    )
    .await;
    let rows = page
        .js("return [...document.querySelectorAll('.widget-values-table tbody tr')].map(r => r.dataset.device)")
        .await;
    assert_eq!(rows, serde_json::json!(["gas-1"]));
    let chart = page.js("return document.querySelector('.widget[data-kind=chart]').innerText").await;
    assert!(chart.as_str().is_some_and(|t| t.contains("Нет данных, доступных вам.")), "{chart}");
    let text = page.js("return document.getElementById('home-grid').innerText").await;
    let text = text.as_str().unwrap_or_default();
    assert!(
        !text.contains("water-1") && !text.contains("Юг") && !text.contains("205,250"),
        "outside her grants: {text}"
    );
    assert_eq!(
        page.js("return document.getElementById('home-origin').textContent").await,
        "страница роли «наблюдатель» (ada)"
    );
    page.client.set_window_size(1366, 768).await.expect("resize");
    page.screenshot("5-viewer-ru-1366").await;
    page.click("#language-toggle").await;
    page.wait("English", PAGE_DEADLINE, "document.querySelector('.home-bar h2')?.textContent === 'My page'").await;
    page.screenshot("6-viewer-en-1366").await;
    page.close().await;
}

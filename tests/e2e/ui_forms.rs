//! Saved forms in the real headless Chromium of `ui.rs`: a dispatcher
//! enters a manual reading with the shipped form (the meter from the list
//! of hers, its one channel and unit filled in), sees a refused channel
//! named beside its field, and finds the reading in the archive under her
//! name; a value holding markup saved in her report parameters comes back
//! as the characters she typed and runs nothing; the reports page opens
//! with her saved parameters; a viewer sees the reading form read-only.
//! Screenshots `target/artefacts/ui/f-*.png` in Russian and English at
//! 1366 and 1920 px.

use meterhub_testkit::{APPLY_DEADLINE, LineClient, add_user, wait_for};

use crate::ui::{Browser, ONE_BROWSER, PAGE_DEADLINE, js_string, place, send, ui_host};

const HOUR: i64 = 3_600_000;

/// Five hours ago, on the hour: the meter page's last day holds the readings.
fn start_ms() -> i64 {
    let now = meterhub_storage::clock::now_ms();
    now - now % HOUR - 5 * HOUR
}

/// `ms` as a `datetime-local` value in Moscow (the meters' zone).
fn moscow(ms: i64) -> String {
    let zone = jiff::tz::TimeZone::get("Europe/Moscow").expect("the zone");
    jiff::Timestamp::from_millisecond(ms).expect("a time").to_zoned(zone).strftime("%Y-%m-%dT%H:%M").to_string()
}

/// Sets the form's field `name` to `value` as typing does.
fn set(name: &str, value: &str) -> String {
    format!(
        "const e = document.querySelector('#user-form [name=' + CSS.escape({}) + ']'); e.value = {}; \
         e.dispatchEvent(new Event('input', {{ bubbles: true }})); return true",
        js_string(name),
        js_string(value)
    )
}

/// Opens form `id` and waits for it.
async fn open_form(page: &Browser, id: &str) {
    page.goto(&format!("/#/form/{id}")).await;
    page.wait("the form", PAGE_DEADLINE, "document.getElementById('user-form')").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_dispatcher_fills_forms_a_manual_reading_lands_and_a_saved_value_stays_text() {
    let _one = ONE_BROWSER.lock().await;
    let host = ui_host();
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/Север"], "vera's password");
    let mut device = LineClient::connect(host.driver("tcp-in"));
    let t0 = start_ms();
    let at = moscow(t0 + 3 * HOUR + HOUR / 2);
    for h in 0..=3 {
        send(&mut device, "gas-1", "volume", t0 + h * HOUR, &format!("{}.000", 1000 + h));
    }
    place(&host, "gas-1", "gas", "Север");

    let page = Browser::open(format!("http://{}", host.api), "f").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    page.click("#nav-forms").await;
    let titles = page
        .wait(
            "the list of forms",
            PAGE_DEADLINE,
            "[...document.querySelectorAll('#forms-list .form-link')].map(a => a.textContent).join(' | ')",
        )
        .await;
    assert_eq!(titles, "Акт осмотра | Ручной ввод показаний | Параметры отчёта");
    page.screenshot("1-list-ru-1366").await;

    // A manual reading: the meter from her list, its one channel filled in, its unit shown.
    open_form(&page, "manual-reading").await;
    let meters = page.js("return [...document.querySelectorAll('#form-list-meter option')].map(o => o.value)").await;
    assert_eq!(meters, serde_json::json!(["gas-1"]));
    page.js(&set("meter", "gas-1")).await;
    let channel = page.js("return document.querySelector('#user-form [name=channel]').value").await;
    assert_eq!(channel, "volume");
    assert_eq!(page.js("return document.getElementById('form-unit').textContent").await, "(м³)");
    page.js(&set("value", "1003.25")).await;
    page.js(&set("at", &at)).await;
    page.js(&set("note", "обход, пломба цела")).await;
    page.screenshot("2-manual-ru-1366").await;
    page.click("#user-form button[type=submit]").await;
    let done =
        page.wait("the reading entered", PAGE_DEADLINE, "document.querySelector('#form-result.ok')?.textContent").await;
    assert!(done.as_str().is_some_and(|t| t.starts_with("Показание 1\u{202f}003,25 м³ внесено в архив")), "{done}");
    let archived = wait_for("the manual reading in the archive", APPLY_DEADLINE, || {
        let readings = host.get_ok("/api/v1/readings?device=gas-1");
        readings.as_array()?.iter().find(|r| r["source"] == "manual").cloned()
    });
    assert_eq!((archived["value"].as_str(), archived["entered_by"].as_str()), (Some("1003.25"), Some("dina")));
    assert_eq!(archived["ts_ms"], t0 + 3 * HOUR + HOUR / 2);
    page.screenshot("3-entered-ru-1366").await;
    // On the meter's page, the reading says who entered it.
    page.click("#form-reading-meter").await;
    let mark = page
        .wait(
            "the manual reading on the meter page",
            PAGE_DEADLINE,
            "document.querySelector('#readings-table .manual-mark')?.textContent",
        )
        .await;
    assert_eq!(mark, " ✎ вручную dina");
    open_form(&page, "manual-reading").await;
    page.js(&set("at", &at)).await;

    // A channel the meter lacks: refused beside the field, in Russian.
    page.js(&set("channel", "energy")).await;
    page.js(&set("value", "1")).await;
    page.click("#user-form button[type=submit]").await;
    let problem = page
        .wait(
            "the refusal beside the channel",
            PAGE_DEADLINE,
            "document.querySelector('.field-problem[data-field=channel]')?.textContent",
        )
        .await;
    assert_eq!(problem, "У счётчика нет такого канала (есть: volume)");
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.screenshot("4-refused-ru-1920").await;

    // Markup typed into a saved value comes back as the characters typed, and runs nothing.
    let hostile = r#"<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>"#;
    open_form(&page, "report-parameters").await;
    page.js("const s = document.querySelector('#user-form [name=report]'); s.value = 'completeness'; return true")
        .await;
    page.js(&set("site", hostile)).await;
    page.click("#user-form button[type=submit]").await;
    page.wait("saved", PAGE_DEADLINE, "document.querySelector('#form-result.ok')").await;
    page.goto("/#/forms").await;
    open_form(&page, "report-parameters").await;
    let shown = page.js("return document.querySelector('#user-form [name=site]').value").await;
    assert_eq!(shown, hostile);
    let inert = page
        .js("return [window.pwned === undefined, document.querySelectorAll('#form-body img, #form-body script').length]")
        .await;
    assert_eq!(inert, serde_json::json!([true, 0]), "markup in a value became elements");
    // The reports page opens with her parameters.
    page.goto("/#/reports").await;
    page.wait(
        "the saved report chosen",
        PAGE_DEADLINE,
        "document.getElementById('report-kind')?.value === 'completeness' && document.getElementById('report-site').value",
    )
    .await;
    assert_eq!(page.js("return document.getElementById('report-site').value").await, hostile);

    // In English.
    page.click("#language-toggle").await;
    open_form(&page, "manual-reading").await;
    let title =
        page.wait("the English form", PAGE_DEADLINE, "document.querySelector('#form-page h2')?.textContent").await;
    assert_eq!(title, "Manual meter reading");
    assert_eq!(page.js("return document.querySelector('#user-form [name=meter]').value").await, "gas-1", "kept");
    page.screenshot("5-manual-en-1920").await;
    page.client.set_window_size(1366, 768).await.expect("resize");
    page.goto("/#/forms").await;
    page.wait(
        "the English list",
        PAGE_DEADLINE,
        "document.querySelector('#forms-list .form-link')?.textContent === 'Inspection note'",
    )
    .await;
    page.screenshot("6-list-en-1366").await;
    page.close().await;

    // A viewer: the reading form is read-only.
    let page = Browser::open(format!("http://{}", host.api), "f").await;
    page.goto("/").await;
    page.log_in("vera", "vera's password").await;
    open_form(&page, "manual-reading").await;
    let disabled = page
        .js("return [...document.querySelectorAll('#user-form input, #user-form button')].every(e => e.disabled)")
        .await;
    assert_eq!(disabled, true);
    assert_eq!(
        page.js("return document.getElementById('form-result').textContent").await,
        "Отправлять эту форму может диспетчер."
    );
    page.close().await;
}

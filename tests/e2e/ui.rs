//! The dispatcher UI in a real headless Chromium (Debian's `chromium`,
//! driven through `chromedriver` by fantoccini; `scripts/install-browser`
//! installs both): the first-run hint and the login, a reading sent through
//! the listener driver on the live table within a second, a cut stream
//! that reconnects and replays what it missed, a viewer who sees nothing of
//! a meter outside their grants (and whose subscription naming it is
//! refused), the language kept per user, and the sync page (a stalled link
//! to the center shown stalled within seconds, a site at its center with a
//! consistency check's difference). Every step leaves a screenshot in
//! `target/artefacts/ui/`.
//!
//! The browser tests run one at a time (each has a host and a Chromium);
//! every wait is on a condition in the page, with a deadline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tokio::task::AbortHandle;

use meterhub_testkit::browser::Chromedriver;
use meterhub_testkit::postgres::Schema;
use meterhub_testkit::{
    APPLY_DEADLINE, Host, LineClient, add_user, browser, default_config, http, login_ok, now_ms, plugins_dir, reading,
    request, wait_for, workspace,
};

/// How long the page may take to show something the host already has.
pub(crate) const PAGE_DEADLINE: Duration = Duration::from_secs(15);
/// How long a reconnection may take (the browser's retry delay is 3 s).
const RECONNECT_DEADLINE: Duration = Duration::from_secs(30);
/// The issue's bound: a reading sent through a driver is on the page within this.
pub(crate) const LIVE_BOUND: Duration = Duration::from_secs(1);

/// One browser test at a time.
pub(crate) static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A test host for the UI: cookies without `Secure` (plain HTTP on
/// 127.0.0.1), a control request every second.
pub(crate) fn ui_host() -> Host {
    ui_host_with("")
}

/// [`ui_host`] with `extra` configuration after its own.
pub(crate) fn ui_host_with(extra: &str) -> Host {
    Host::start_with(
        &(default_config(&plugins_dir("wasm"))
            + "\n[web]\ncookie_secure = false\nstream_control_seconds = 1\n"
            + extra),
    )
}

/// A test host as the demo runs: `Secure` `__Host-` cookies, which a
/// browser keeps for http://localhost (a secure context) too.
fn secure_cookie_host() -> Host {
    Host::start_with(&(default_config(&plugins_dir("wasm")) + "\n[web]\nstream_control_seconds = 1\n"))
}

/// `target/artefacts/ui/`, made when missing.
fn artefacts() -> PathBuf {
    let dir = workspace().join("target").join("artefacts").join("ui");
    std::fs::create_dir_all(&dir).expect("create target/artefacts/ui");
    dir
}

/// A headless Chromium on one page of the UI.
pub(crate) struct Browser {
    pub(crate) client: Client,
    base: String,
    test: &'static str,
    _driver: Chromedriver,
}

impl Browser {
    /// A new browser (1366×768, a laptop) for the UI at `base`; `test`
    /// prefixes its screenshots.
    pub(crate) async fn open(base: String, test: &'static str) -> Browser {
        let driver = Chromedriver::start();
        let client = driver.session(1366, 768).await;
        Browser { client, base, test, _driver: driver }
    }

    /// Opens `path` (with its `#/…` route) of the UI.
    pub(crate) async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    /// Runs `script` (a function body: `return …`) in the page.
    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `expression` is truthy in the page; returns its value.
    /// At the deadline: a screenshot `<test>-timeout.png`, then a panic
    /// naming `what` and the page's text.
    pub(crate) async fn wait(&self, what: &str, deadline: Duration, expression: &str) -> Value {
        let script = format!("return ({expression});");
        let end = Instant::now() + deadline;
        loop {
            let value = self.js(&script).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!("") && value != json!(0);
            if truthy {
                return value;
            }
            if Instant::now() >= end {
                self.screenshot("timeout").await;
                let text = self.js("return document.body.innerText").await;
                panic!("timed out after {deadline:?} waiting for {what} ({expression}); the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Saves `target/artefacts/ui/<test>-<name>.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = artefacts().join(format!("{}-{name}.png", self.test));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Logs in through the login page and waits for the live table.
    pub(crate) async fn log_in(&self, user: &str, password: &str) {
        self.log_in_to(user, password, "live-table").await;
    }

    /// Logs in through the login page and waits for the element `landing`
    /// (an id) of the start page.
    pub(crate) async fn log_in_to(&self, user: &str, password: &str, landing: &str) {
        self.wait("the login page", PAGE_DEADLINE, "!document.getElementById('login-view').hidden").await;
        let field = |id: &'static str| self.client.find(Locator::Id(id));
        field("login-user").await.expect("user field").clear().await.expect("clear");
        field("login-user").await.expect("user field").send_keys(user).await.expect("type the user");
        field("login-password").await.expect("password field").send_keys(password).await.expect("type");
        field("login-submit").await.expect("the button").click().await.expect("click");
        let landed = format!("document.getElementById({})", js_string(landing));
        self.wait("the start page after the login", PAGE_DEADLINE, &landed).await;
    }

    /// Clicks the element `css` finds, as a user would (a WebDriver click);
    /// found again when the page re-rendered it between the find and the
    /// click (a live page redraws as data arrives).
    pub(crate) async fn click(&self, css: &str) {
        let end = Instant::now() + PAGE_DEADLINE;
        loop {
            let clicked = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await,
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e) if Instant::now() < end => {
                    eprintln!("click {css}: {e}; trying again");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    /// The state the indicator `prefix` (`stream`: the header's global
    /// stream, `meter-stream`: the meter page's) shows.
    pub(crate) fn state_is(prefix: &str, state: &str) -> String {
        format!("document.getElementById('{prefix}-state')?.dataset.state === '{state}'")
    }

    /// Ends the WebDriver session.
    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A JavaScript string literal of `text`.
pub(crate) fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string")
}

/// The text of the live table's value cell of `device`/`channel`.
fn live_value(device: &str, channel: &str) -> String {
    format!(
        "document.querySelector('#live-table tr[data-device=' + CSS.escape({}) + '][data-channel=' + CSS.escape({}) + '] td.value')?.textContent",
        js_string(device),
        js_string(channel)
    )
}

/// Sends one reading line through the listener's TCP driver; returns after its acknowledgement.
pub(crate) fn send(client: &mut LineClient, device: &str, channel: &str, ts_ms: i64, value: &str) {
    client.send(reading(device, channel, ts_ms, &format!("\"{value}\"")).as_bytes());
    let answer = client.answer().expect("an acknowledgement");
    assert_eq!(answer["ok"], true, "{answer}");
}

/// Sets a meter's site and resource through the API once it is registered.
pub(crate) fn place(host: &Host, meter: &str, resource: &str, site: &str) {
    wait_for(&format!("meter {meter} to be registered"), APPLY_DEADLINE, || {
        (host.get(&format!("/api/v1/meters/{meter}")).0 == 200).then_some(())
    });
    let body = json!({ "actor": "e2e", "resource": resource, "site": site }).to_string();
    let (status, answer) = http(host.api, "PATCH", &format!("/api/v1/meters/{meter}"), body.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_reading_from_the_listener_is_on_the_live_table_within_a_second() {
    let _one = ONE_BROWSER.lock().await;
    let host = ui_host();
    let page = Browser::open(format!("http://{}", host.api), "a").await;

    // The first run: the login page says how to make the first admin.
    page.goto("/").await;
    page.wait("the first-run hint", PAGE_DEADLINE, "!document.getElementById('first-run').hidden").await;
    let hint = page.js("return document.getElementById('first-run').innerText").await;
    assert!(hint.as_str().is_some_and(|h| h.contains("meterhub user add <name> --role admin")), "{hint}");
    page.screenshot("1-first-run").await;

    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    page.wait("the stream to connect", PAGE_DEADLINE, &Browser::state_is("stream", "connected")).await;
    page.wait("the empty table's note", PAGE_DEADLINE, "!document.getElementById('live-empty').hidden").await;
    page.screenshot("2-live-empty").await;

    // A reading through the real listener driver, on the page within a second.
    let mut device = LineClient::connect(host.driver("tcp-in"));
    let ts = now_ms() - 60_000;
    let sent = Instant::now();
    send(&mut device, "gas-1", "volume", ts, "123.456");
    // In the dispatcher's language: a decimal comma.
    let shown = format!("{} === '123,456'", live_value("gas-1", "volume"));
    page.wait("the reading on the live table", PAGE_DEADLINE, &shown).await;
    let latency = sent.elapsed();
    page.screenshot("3-live-reading").await;
    eprintln!("a reading from the device to the page: {latency:?}");
    assert!(latency <= LIVE_BOUND, "the reading took {latency:?} from the device to the page");
    let unit =
        page.js("return document.querySelector('#live-table tr[data-device=\"gas-1\"] td.unit').textContent").await;
    assert_eq!(unit, "м³");

    // Data in the dispatcher's language: thousands apart by a narrow
    // no-break space, the channel's and unit's Russian names, no English
    // name of either on the table; the meter's state and the summary strip.
    send(&mut device, "heat-1", "energy", ts, "3644.5");
    page.wait(
        "a value in the Russian format",
        PAGE_DEADLINE,
        &format!("{} === '3\u{202f}644,5'", live_value("heat-1", "energy")),
    )
    .await;
    let table = page.js("return document.getElementById('live-table').innerText").await;
    let table = table.as_str().unwrap_or_default();
    assert!(table.contains("Энергия") && table.contains("Объём") && table.contains("м³"), "{table}");
    for english in ["volume", "energy", "m3", "kWh", "degC"] {
        assert!(!table.split_whitespace().any(|w| w == english), "{english} on the Russian table:\n{table}");
    }
    page.wait(
        "both meters fresh on the summary strip",
        PAGE_DEADLINE,
        "document.querySelector('#summary-meters [data-state=fresh]')?.textContent === '2 на связи'",
    )
    .await;
    let state =
        page.js("return document.querySelector('#live-table tr[data-device=\"gas-1\"] td.state').textContent").await;
    assert_eq!(state, "на связи");

    // Its age is counted every second, and the delivery quality is measured.
    let age = "document.querySelector('#live-table tr[data-device=\"gas-1\"] td.age').textContent";
    let first_age = page.js(&format!("return {age}")).await;
    page.wait("the age to be counted on", Duration::from_secs(5), &format!("{age} !== {first_age}")).await;
    let t3 = page
        .wait("a delivery-quality measurement", PAGE_DEADLINE, "document.getElementById('stream-quality')?.dataset.t3")
        .await;
    let t3: f64 = t3.as_str().and_then(|t| t.parse().ok()).expect("T3 in ms");
    assert!((0.0..500.0).contains(&t3), "T3 = {t3} ms on the loopback");
    let late = page.js("return document.getElementById('stream-quality').dataset.late").await;
    assert_eq!(late, "false", "T3 = {t3} ms is not late for Tc = 1 s");

    // A frame from a device clock ten minutes ahead, then one stamped right:
    // the newer reading shows; the one ahead never hides it.
    send(&mut device, "heat-1", "energy", now_ms() + 600_000, "3650");
    send(&mut device, "heat-1", "energy", now_ms(), "3645.5");
    let energy = live_value("heat-1", "energy");
    page.wait("the reading stamped right", PAGE_DEADLINE, &format!("{energy} === '3\u{202f}645,5'")).await;
    host.settled_stats(4);
    let shown = page.js(&format!("return {energy}")).await;
    assert_eq!(shown, "3\u{202f}645,5", "the frame from the clock ahead never hides the newer reading");

    // The meter page: a chart (uPlot when scripts/build-ui ran), readings
    // growing live, the daily deltas.
    page.client.find(Locator::Css("#live-table a")).await.expect("the meter's link").click().await.expect("click");
    page.wait(
        "the meter page's readings",
        PAGE_DEADLINE,
        "document.querySelector('#readings-table td.value')?.textContent === '123,456'",
    )
    .await;
    page.wait("the meter stream", PAGE_DEADLINE, &Browser::state_is("meter-stream", "connected")).await;
    let chart = if workspace().join("ui/vendor/uPlot.iife.min.js").exists() {
        "document.querySelector('#meter-chart .uplot canvas')"
    } else {
        "document.getElementById('chart-missing')"
    };
    page.wait("the chart", PAGE_DEADLINE, chart).await;
    send(&mut device, "gas-1", "volume", ts + 50_000, "124.5");
    page.wait(
        "the live reading on the meter page",
        PAGE_DEADLINE,
        "[...document.querySelectorAll('#readings-table td.value')].some(td => td.textContent === '124,5')",
    )
    .await;
    page.wait("the daily consumption", PAGE_DEADLINE, "document.querySelector('#deltas-day td.num')").await;
    // The meter's days are Moscow's: its times and deltas say so, the day
    // in the Russian date format.
    let zone = page
        .js("return [document.querySelector('#readings-table th').textContent, \
             document.getElementById('deltas-zone').textContent, \
             /^\\d\\d\\.\\d\\d\\.\\d{4}$/.test(document.querySelector('#deltas-day td').textContent)]")
        .await;
    assert_eq!(
        zone,
        json!([
            "Время прибора (Europe/Moscow, UTC+3)",
            "Сутки и месяцы по времени счётчика: Europe/Moscow, UTC+3",
            true
        ])
    );
    page.screenshot("4-meter").await;

    // The plugin status page, for a dispatcher.
    page.goto("/#/plugins").await;
    page.wait("the plugin instances", PAGE_DEADLINE, "document.querySelector('#plugin-instances tr[data-instance]')")
        .await;
    page.wait("the quarantine", PAGE_DEADLINE, "document.getElementById('quarantine-empty')").await;
    page.screenshot("5-plugins").await;

    // A wall screen.
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.goto("/#/live").await;
    page.wait(
        "the live table on a wall screen",
        PAGE_DEADLINE,
        &format!("{} === '124,5'", live_value("gas-1", "volume")),
    )
    .await;
    page.screenshot("6-wall-screen").await;
    // The live table, the chart and the plugin page, all within the CSP.
    let violations = page.js("return document.body.dataset.cspViolations ?? null").await;
    assert_eq!(violations, Value::Null, "the Content-Security-Policy blocked something");
    page.close().await;
}

/// A TCP proxy between the browser and the host that can cut every
/// connection and refuse new ones until it is let through again.
struct CuttableProxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl CuttableProxy {
    async fn start(upstream: SocketAddr) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (open_, connections_) = (open.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut down, _)) = listener.accept().await else { continue };
                if !open_.load(Ordering::SeqCst) {
                    // Refused: closed at once.
                    drop(down);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                connections_.lock().unwrap_or_else(|e| e.into_inner()).push(task.abort_handle());
            }
        })
        .abort_handle();
        CuttableProxy { addr, open, connections, accept }
    }

    /// Cuts every connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            connection.abort();
        }
    }

    /// Lets connections through again.
    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_cut_stream_reconnects_and_the_page_replays_what_it_missed() {
    let _one = ONE_BROWSER.lock().await;
    let host = ui_host();
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    let mut device = LineClient::connect(host.driver("tcp-in"));
    let t0 = now_ms() - 3_600_000;
    send(&mut device, "heat-7", "energy", t0, "100");
    send(&mut device, "heat-8", "energy", t0, "200");

    let proxy = CuttableProxy::start(host.api).await;
    let page = Browser::open(format!("http://{}", proxy.addr), "b").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    page.wait("heat-8 on the live table", PAGE_DEADLINE, &format!("{} === '200'", live_value("heat-8", "energy")))
        .await;
    page.goto("/#/meter/heat-7").await;
    page.wait(
        "the meter page's first reading",
        PAGE_DEADLINE,
        "document.querySelector('#readings-table td.value')?.textContent === '100'",
    )
    .await;
    page.wait("the meter stream", PAGE_DEADLINE, &Browser::state_is("meter-stream", "connected")).await;
    page.wait("the global stream", PAGE_DEADLINE, &Browser::state_is("stream", "connected")).await;

    // Cut: both streams notice and say so.
    proxy.cut();
    page.wait("the meter stream to reconnect", RECONNECT_DEADLINE, &Browser::state_is("meter-stream", "reconnecting"))
        .await;
    page.wait("the global stream to reconnect", RECONNECT_DEADLINE, &Browser::state_is("stream", "reconnecting")).await;
    page.screenshot("1-reconnecting").await;

    // Readings meanwhile, archived before the page can reach the host again.
    let missed: Vec<String> = (1..=5).map(|i| format!("{}", 100 + i * 7)).collect();
    for (i, value) in missed.iter().enumerate() {
        send(&mut device, "heat-7", "energy", t0 + (i as i64 + 1) * 60_000, value);
    }
    send(&mut device, "heat-8", "energy", t0 + 60_000, "201");
    let archived = wait_for("the missed readings in the archive", APPLY_DEADLINE, || {
        let readings = host.get_ok("/api/v1/readings?device=heat-7");
        (readings.as_array().map_or(0, Vec::len) == 6).then_some(readings)
    });
    assert_eq!(archived[5]["value"], "135", "{archived}");
    let still = page.js(&format!("return {}", Browser::state_is("meter-stream", "reconnecting"))).await;
    assert_eq!(still, true, "the page cannot have reconnected through a closed proxy");

    proxy.restore();
    page.wait("the meter stream back", RECONNECT_DEADLINE, &Browser::state_is("meter-stream", "connected")).await;
    let all_shown = format!(
        "(() => {{ const shown = [...document.querySelectorAll('#readings-table td.value')].map(td => td.textContent); \
         return {}.every(v => shown.includes(v)); }})()",
        serde_json::to_string(&missed).expect("JSON")
    );
    page.wait("every missed reading on the meter page", PAGE_DEADLINE, &all_shown).await;
    page.wait("the global stream back", RECONNECT_DEADLINE, &Browser::state_is("stream", "connected")).await;
    page.screenshot("2-replayed").await;
    page.goto("/#/live").await;
    page.wait(
        "both meters' newest values",
        PAGE_DEADLINE,
        &format!("{} === '135' && {} === '201'", live_value("heat-7", "energy"), live_value("heat-8", "energy")),
    )
    .await;
    page.screenshot("3-live-after").await;
    page.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_viewer_sees_nothing_of_a_meter_outside_their_grants() {
    let _one = ONE_BROWSER.lock().await;
    let host = ui_host();
    let mut device = LineClient::connect(host.driver("tcp-in"));
    let ts = now_ms() - 60_000;
    send(&mut device, "secret-1", "volume", ts, "9111.5");
    send(&mut device, "open-1", "volume", ts, "222");
    place(&host, "secret-1", "gas", "Kazan-1");
    place(&host, "open-1", "gas", "Kazan-2");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "gas/Kazan-2"], "vera's password");

    let page = Browser::open(format!("http://{}", host.api), "c").await;
    page.goto("/").await;
    page.log_in("vera", "vera's password").await;
    page.wait("open-1 in the tree", PAGE_DEADLINE, "document.querySelector('#tree-body a[data-meter=\"open-1\"]')")
        .await;
    page.wait("open-1 on the live table", PAGE_DEADLINE, &format!("{} === '222'", live_value("open-1", "volume")))
        .await;
    // New values, the restricted one first: once open-1's is shown,
    // secret-1's would have been too.
    send(&mut device, "secret-1", "volume", ts + 1000, "9112.5");
    send(&mut device, "open-1", "volume", ts + 1000, "223");
    page.wait("open-1's new value", PAGE_DEADLINE, &format!("{} === '223'", live_value("open-1", "volume"))).await;
    let text = page.js("return document.body.innerText").await;
    let text = text.as_str().expect("the page's text");
    for secret in ["secret-1", "9111.5", "9112.5", "Kazan-1"] {
        assert!(!text.contains(secret), "the viewer's page shows {secret:?}:\n{text}");
    }
    let hidden = page.js("return document.getElementById('nav-plugins').hidden").await;
    assert_eq!(hidden, true, "no plugin status for a viewer");
    let hidden = page.js("return document.getElementById('nav-sync').hidden").await;
    assert_eq!(hidden, true, "no sync page for a viewer");
    page.screenshot("1-viewer").await;

    // The stream refuses a subscription naming the meter: from the page…
    let refused = page
        .js("return fetch('/api/v1/stream?device=secret-1', {headers: {Accept: 'text/event-stream'}})
                 .then(async r => ({status: r.status, body: await r.text()}))")
        .await;
    assert_eq!(refused["status"], 403, "{refused}");
    assert!(refused["body"].as_str().is_some_and(|b| b.contains("secret-1")), "the refusal names it: {refused}");
    // …and over HTTP with her cookie.
    let vera = login_ok(host.api, "vera", "vera's password");
    let r = browser(host.api, &vera, "GET", "/api/v1/stream?device=secret-1", false, "");
    assert_eq!(r.status, 403, "{}", r.json());
    let r = browser(host.api, &vera, "GET", "/api/v1/meters", false, "");
    let meters = r.json();
    let ids: Vec<&str> = meters.as_array().expect("a list").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["open-1"], "{meters}");

    // Opening its page by address shows nothing of it either.
    page.goto("/#/meter/secret-1").await;
    page.wait("the meter page's refusal", PAGE_DEADLINE, "!document.getElementById('meter-error').hidden").await;
    let rows = page.js("return document.querySelectorAll('#readings-table tbody tr').length").await;
    assert_eq!(rows, 0);
    let text = page.js("return document.getElementById('view').innerText").await;
    let text = text.as_str().unwrap_or_default();
    assert!(!text.contains("9112.5") && !text.contains("112,5"), "{text}");
    page.screenshot("2-restricted-meter").await;
    page.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_the_language_switch_is_kept_per_user_across_reloads_and_logins() {
    let _one = ONE_BROWSER.lock().await;
    // On http://localhost with the demo's secure cookies (README).
    let host = secure_cookie_host();
    add_user(&host, &["ann", "--role", "viewer", "--grant", "*"], "ann's password");
    add_user(&host, &["bob", "--role", "viewer", "--grant", "*"], "bob's password");
    let nav = "document.getElementById('nav-live').textContent";

    let page = Browser::open(format!("http://localhost:{}", host.api.port()), "d").await;
    page.goto("/").await;
    page.wait(
        "the Russian login page",
        PAGE_DEADLINE,
        "document.getElementById('login-submit').textContent === 'Войти'",
    )
    .await;
    page.log_in("ann", "ann's password").await;
    page.wait("the Russian UI", PAGE_DEADLINE, &format!("{nav} === 'Текущие значения'")).await;
    page.screenshot("1-russian").await;

    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait(
        "the English UI",
        PAGE_DEADLINE,
        &format!("{nav} === 'Live values' && document.documentElement.lang === 'en'"),
    )
    .await;
    page.wait(
        "the live table in English",
        PAGE_DEADLINE,
        "document.querySelector('#live-table th')?.textContent === 'Meter'",
    )
    .await;
    page.screenshot("2-english").await;

    // A reload asks the host, which kept it.
    page.client.refresh().await.expect("reload");
    page.wait(
        "English after a reload",
        PAGE_DEADLINE,
        &format!("!document.getElementById('topbar').hidden && {nav} === 'Live values'"),
    )
    .await;

    // Logged out, with the browser's memory wiped: the login page is
    // Russian again, the login brings her English back.
    page.client.find(Locator::Id("logout")).await.expect("logout").click().await.expect("click");
    page.wait("the login page", PAGE_DEADLINE, "!document.getElementById('login-view').hidden").await;
    page.js("localStorage.clear(); return true").await;
    page.client.refresh().await.expect("reload");
    page.wait(
        "the Russian login page",
        PAGE_DEADLINE,
        "document.getElementById('login-submit').textContent === 'Войти'",
    )
    .await;
    page.log_in("ann", "ann's password").await;
    page.wait("English after a new login", PAGE_DEADLINE, &format!("{nav} === 'Live values'")).await;
    page.screenshot("3-english-after-login").await;

    // Her choice, not everyone's.
    let session = login_ok(host.api, "bob", "bob's password");
    let me = browser(host.api, &session, "GET", "/api/v1/session", false, "").json();
    assert_eq!(me["language"], "ru", "{me}");
    let r = browser(host.api, &session, "PATCH", "/api/v1/session", true, r#"{"language":"de"}"#);
    assert_eq!(r.status, 400, "{}", r.json());
    let r = browser(host.api, &session, "PATCH", "/api/v1/session", false, r#"{"language":"en"}"#);
    assert_eq!(r.status, 403, "the CSRF token is needed: {}", r.json());
    page.close().await;
}

/// The UI files are served by the host itself, with their content types,
/// open without a login, under the security headers.
#[test]
fn ui_files_are_served_by_the_host_with_their_content_types() {
    let host = Host::start();
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/ui/js/app.js", "text/javascript; charset=utf-8"),
        ("/ui/css/app.css", "text/css; charset=utf-8"),
    ] {
        let r = request(host.api, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(content_type), "{path}");
        assert!(r.header("content-security-policy").is_some_and(|c| c.contains("script-src 'self'")), "{path}");
    }
    let r = request(host.api, "HEAD", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let r = request(host.api, "GET", "/ui/nothing-here.js", &[], b"");
    assert_eq!(r.status, 404);
    let r = request(host.api, "POST", "/ui/js/app.js", &[], b"");
    assert_eq!(r.status, 401, "only reading is open");
}

/// A value dropped on a thread of its own: a [`Schema`] drops its tables
/// with the blocking PostgreSQL client, which cannot run on the test's
/// runtime.
struct OffRuntime<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> std::ops::Deref for OffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("not dropped yet")
    }
}

impl<T: Send + 'static> Drop for OffRuntime<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            let _ = std::thread::spawn(move || drop(value)).join();
        }
    }
}

/// The config of a UI host with `sinks` (`[sinks.<id>]` tables) added.
fn sink_host_config(sinks: &str) -> String {
    default_config(&plugins_dir("wasm")) + "\n[web]\ncookie_secure = false\nstream_control_seconds = 1\n" + sinks
}

/// The text of `selector` in the sinks section (`null` when missing).
fn sink_text(selector: &str) -> String {
    format!("document.querySelector('#sinks ' + {})?.innerText", js_string(selector))
}

/// The text of `selector` in the sinks section, "" when missing.
async fn sink_text_of(page: &Browser, selector: &str) -> String {
    page.js(&format!("return {}", sink_text(selector))).await.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_the_plugins_page_shows_each_sink_its_state_position_lag_and_last_error() {
    let _one = ONE_BROWSER.lock().await;
    // `pg` writes into a schema of its own on the shared PostgreSQL; `down`
    // points at a port where nothing listens, so it retries.
    let schema = OffRuntime(Some(Schema::new("e2e_ui_sink")));
    let unreachable = schema.url.replace(":5432/", ":1/");
    assert_ne!(unreachable, schema.url, "{}", schema.url);
    let sinks = format!(
        "\n[sinks.pg]\nplugin = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\nlinger_ms = 20\n\
         \n[sinks.down]\nplugin = \"postgres\"\nurl = \"{unreachable}\"\nschema = \"{}\"\nretry_min_ms = 200\nretry_max_ms = 1000\n",
        schema.url, schema.name, schema.name
    );
    let host = Host::start_with(&sink_host_config(&sinks));
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    let mut device = LineClient::connect(host.driver("tcp-in"));
    let ts = now_ms() - 600_000;
    for (i, value) in ["10.5", "11.25", "12"].into_iter().enumerate() {
        send(&mut device, "gas-s1", "volume", ts + i as i64 * 60_000, value);
    }
    let sink = |id: &str| {
        let status = host.get_ok("/api/v1/sinks");
        status.as_array().and_then(|all| all.iter().find(|s| s["id"] == id).cloned())
    };
    let pg = wait_for("sink pg to deliver the readings", APPLY_DEADLINE, || {
        sink("pg").filter(|s| s["state"] == "running" && s["position"].as_u64() >= Some(3) && s["lag_records"] == 0)
    });
    let down = wait_for("sink down to retry", APPLY_DEADLINE, || {
        sink("down").filter(|s| s["state"] == "retrying" && s["last_error"]["message"].is_string())
    });
    let position = pg["position"].as_u64().expect("a position");
    assert_eq!(pg["target"], schema.url.trim_start_matches("postgres://"), "{pg}");

    let page = Browser::open(format!("http://{}", host.api), "e").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    page.goto("/#/plugins").await;
    let pg_row = "tr.sink[data-sink=\"pg\"]";
    let down_row = "tr.sink[data-sink=\"down\"]";
    page.wait(
        "sink pg running with a position",
        PAGE_DEADLINE,
        &format!(
            "(() => {{ const r = document.querySelector('#sinks {pg_row}'); \
             return r && r.dataset.state === 'running' && Number(r.dataset.position) > 0 && r.dataset.lagRecords === '0'; }})()"
        ),
    )
    .await;
    page.wait(
        "sink down retrying, with its error",
        PAGE_DEADLINE,
        &format!(
            "document.querySelector('#sinks {down_row}')?.dataset.state === 'retrying' && \
             document.querySelector('#sinks tr.sink-error[data-sink=\"down\"]')"
        ),
    )
    .await;

    // Russian: the section, the columns, the states, the counts, the error.
    let russian_formats =
        page.js("return import('/ui/js/format.js').then(f => [f.formatCount(1234567), f.formatAge(125000)])").await;
    assert_eq!(russian_formats, json!(["1\u{a0}234\u{a0}567", "2 мин 5 с"]), "Russian digit groups and durations");
    assert_eq!(page.js("return document.getElementById('sinks-title').textContent").await, "Выгрузки");
    let headers = sink_text_of(&page, "thead").await;
    for header in ["Выгрузка и куда", "Состояние", "Позиция", "Отставание", "Записано", "Отклонено", "Последняя запись"]
    {
        assert!(headers.contains(header), "{header:?} in {headers:?}");
    }
    let row = sink_text_of(&page, pg_row).await;
    for expected in [
        "pg".to_owned(),
        "postgres".to_owned(),
        pg["target"].as_str().unwrap().to_owned(),
        format!("схема {}", schema.name),
        "работает".to_owned(),
        format!("{position}\nиз {position}"),
        "0 зап.".to_owned(),
        "0 с".to_owned(),
        "пакетов:".to_owned(),
        "назад".to_owned(),
    ] {
        assert!(row.contains(&expected), "{expected:?} in the pg row:\n{row}");
    }
    let state_class = page.js(&format!("return document.querySelector('#sinks {pg_row} .sink-state').className")).await;
    assert!(state_class.as_str().is_some_and(|c| c.contains("state-running")), "{state_class}");
    let row = sink_text_of(&page, down_row).await;
    assert!(row.contains("повторяет попытку") && row.contains("ещё не было"), "the down row:\n{row}");
    assert!(!row.contains("зап."), "no lag shown before the sink knows its position:\n{row}");
    let message = down["last_error"]["message"].as_str().unwrap();
    let error = sink_text_of(&page, "tr.sink-error[data-sink=\"down\"]").await;
    assert!(error.starts_with("Последняя ошибка (") && error.contains("cannot reach"), "{error}");
    assert!(
        error.contains(message.split(": ").next().unwrap()),
        "the message as the host says it ({message}):\n{error}"
    );
    let color = page
        .js(&format!(
            "return [getComputedStyle(document.querySelector('#sinks {pg_row} .sink-state')).color, \
                     getComputedStyle(document.querySelector('#sinks {down_row} .sink-state')).color]"
        ))
        .await;
    assert_eq!(color, json!(["rgb(26, 127, 55)", "rgb(179, 89, 0)"]), "running is --ok, retrying is --warn");
    page.js("document.getElementById('sinks').scrollIntoView({block: 'nearest'}); return true").await;
    page.screenshot("1-sinks-ru-1366").await;

    // English.
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait(
        "the sinks in English",
        PAGE_DEADLINE,
        &format!("document.getElementById('sinks-title')?.textContent === 'Sinks' && {}", sink_text(pg_row)),
    )
    .await;
    let english_formats = page.js("return import('/ui/js/format.js').then(f => f.formatCount(1234567))").await;
    assert_eq!(english_formats, "1,234,567");
    let headers = sink_text_of(&page, "thead").await;
    for header in ["Sink and target", "State", "Position", "Lag", "Delivered", "Retried", "Rejected", "Last success"] {
        assert!(headers.contains(header), "{header:?} in {headers:?}");
    }
    let row = sink_text_of(&page, pg_row).await;
    for expected in
        [format!("schema {}", schema.name), "running".into(), "0 records".into(), "0 s".into(), " ago".into()]
    {
        assert!(row.contains(&expected), "{expected:?} in the pg row:\n{row}");
    }
    let row = sink_text_of(&page, down_row).await;
    assert!(row.contains("retrying") && row.contains("never"), "the down row:\n{row}");
    let error = sink_text_of(&page, "tr.sink-error[data-sink=\"down\"]").await;
    assert!(error.starts_with("Last error (") && error.contains("cannot reach"), "{error}");
    page.js("document.getElementById('sinks').scrollIntoView({block: 'nearest'}); return true").await;
    page.screenshot("2-sinks-en-1366").await;

    // A wall screen, in both languages.
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.wait("the sinks on a wall screen", PAGE_DEADLINE, &sink_text(pg_row)).await;
    page.js("window.scrollTo(0, 0); return true").await;
    page.screenshot("3-sinks-en-1920").await;
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait(
        "the sinks in Russian again",
        PAGE_DEADLINE,
        &format!("document.getElementById('sinks-title')?.textContent === 'Выгрузки' && {}", sink_text(pg_row)),
    )
    .await;
    page.screenshot("4-sinks-ru-1920").await;

    // `meterhub status` says the same.
    let out = host.cli(&["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = status.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("SINK ") && l.contains("LAG RECORDS")), "{status}");
    let pg_line = lines.iter().find(|l| l.starts_with("pg (postgres)")).unwrap_or_else(|| panic!("{status}"));
    let fields: Vec<&str> = pg_line.split_whitespace().collect();
    assert_eq!(fields[2..5], ["running", &position.to_string(), "0"], "{pg_line}");
    let at = lines.iter().position(|l| l.starts_with("down (postgres)")).unwrap_or_else(|| panic!("{status}"));
    let fields: Vec<&str> = lines[at].split_whitespace().collect();
    assert_eq!(fields[2..6], ["retrying", "-", "-", "-"], "no position, no lag yet: {status}");
    assert!(lines[at + 1].starts_with("  last error at ") && lines[at + 1].contains("cannot reach"), "{status}");

    // Without sinks: the hint, in both languages.
    std::fs::write(&host.config, sink_host_config("")).expect("write the config");
    host.wait_generation(2);
    let hint =
        page.wait("the no-sinks hint", PAGE_DEADLINE, "document.getElementById('sinks-empty')?.textContent").await;
    assert_eq!(hint, "Выгрузки не настроены: добавьте [sinks.<id>] в конфигурацию (docs/sinks.md)");
    page.screenshot("5-no-sinks-ru-1920").await;
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait(
        "the no-sinks hint in English",
        PAGE_DEADLINE,
        "document.getElementById('sinks-empty')?.textContent === \
         'No sinks configured: add [sinks.<id>] to the configuration (docs/sinks.md)'",
    )
    .await;
    let out = host.cli(&["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("SINKS: none"), "{}", String::from_utf8_lossy(&out.stdout));

    let violations = page.js("return document.body.dataset.cspViolations ?? null").await;
    assert_eq!(violations, Value::Null, "the Content-Security-Policy blocked something");
    page.close().await;
}

/// How long a link may take to catch up after a stall.
const SYNC_CATCH_UP: Duration = Duration::from_secs(60);
/// The bound on the page: a batch without an answer for 5 s is stalled at
/// the host, and the page asks every 2 s.
const STALL_SHOWN: Duration = Duration::from_secs(10);

/// A link's row on the sync page: `section` is `links` or `sites`.
fn sync_row(section: &str, site: &str) -> String {
    format!("document.querySelector('#sync-{section} tr.sync-row[data-site=' + CSS.escape({}) + ']')", js_string(site))
}

/// The row's `data-state` is `state`.
fn sync_state_is(section: &str, site: &str, state: &str) -> String {
    format!("{}?.dataset.state === {}", sync_row(section, site), js_string(state))
}

/// The text of the row (with its note rows), "" when missing.
async fn sync_text(page: &Browser, section: &str, site: &str) -> String {
    let script = format!(
        "const r = {}; if (!r) return ''; let text = r.innerText; \
         for (let n = r.nextElementSibling; n && n.classList.contains('sync-note'); n = n.nextElementSibling) \
         text += '\\n' + n.innerText; return text;",
        sync_row(section, site)
    );
    page.js(&script).await.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_the_sync_page_shows_a_stalled_link_as_stalled_within_seconds() {
    use crate::sync::{center_config, lines, send_lines, site_config, tokens_dir};
    use meterhub_testkit::{Proxy, free_port};
    let _one = ONE_BROWSER.lock().await;
    // A center and site `north`, linked through a proxy the test stalls.
    let web = "\n[web]\ncookie_secure = false\n";
    let tokens = tokens_dir();
    let port = free_port();
    let center = Host::start_with(&(center_config(port, &["north"], tokens.path()) + web));
    let proxy = Proxy::start(([127, 0, 0, 1], port).into());
    let site = Host::start_with(&(site_config("north", proxy.addr, tokens.path()) + web));
    add_user(&site, &["ada", "--role", "admin"], "ada's password");
    add_user(&center, &["cora", "--role", "dispatcher", "--grant", "*"], "cora's password");
    send_lines(&site, &lines(0, 200));

    // The site's page: its link to the center, in sync.
    let mut page = Browser::open(format!("http://{}", site.api), "sync").await;
    page.goto("/").await;
    page.log_in("ada", "ada's password").await;
    let nav = page.js("const a = document.getElementById('nav-sync'); return [a.hidden, a.textContent]").await;
    assert_eq!(nav, json!([false, "Синхронизация"]), "the sync page is in the navigation for an admin");
    page.client.find(Locator::Id("nav-sync")).await.expect("the link").click().await.expect("click");
    page.wait("the link in sync", PAGE_DEADLINE, &sync_state_is("links", "center", "in_sync")).await;
    let summary = page
        .wait(
            "the summary",
            PAGE_DEADLINE,
            "document.getElementById('sync-summary')?.dataset.inSync === '1' && \
             document.getElementById('sync-summary').innerText",
        )
        .await;
    assert_eq!(summary, "Связей с центром: 1 · в синхроне 1 · догоняют 0 · стоят 0 · нет связи 0");
    let row = sync_text(&page, "links", "center").await;
    for expected in ["center", &format!("http://{}", proxy.addr), "сайт north", "в синхроне", "0 зап.", "назад"]
    {
        assert!(row.contains(expected), "{expected:?} in the link's row:\n{row}");
    }
    let hidden = page.js("return document.getElementById('sync-sites-card').hidden").await;
    assert_eq!(hidden, true, "a site takes no sites: no empty section");
    page.screenshot("in-sync-ru-1366").await;

    // Stalled: a batch goes out and no answer comes back.
    proxy.stall();
    let stalled_at = Instant::now();
    send_lines(&site, &lines(200, 100));
    page.wait("the link shown stalled", STALL_SHOWN, &sync_state_is("links", "center", "stalled")).await;
    let shown_after = stalled_at.elapsed();
    eprintln!("a stalled link on the sync page after {shown_after:?}");
    assert!(shown_after <= STALL_SHOWN, "the stall took {shown_after:?} to show");
    let row = sync_text(&page, "links", "center").await;
    for expected in ["стоит", "пакет без ответа"] {
        assert!(row.contains(expected), "{expected:?} in the stalled row:\n{row}");
    }
    let colors = page
        .js(&format!(
            "return [getComputedStyle({} .querySelector('.sync-state')).backgroundColor, \
             document.getElementById('sync-summary').dataset.state]",
            sync_row("links", "center")
        ))
        .await;
    assert_eq!(colors, json!(["rgb(198, 40, 40)", "stalled"]), "stalled is red (--bad)");
    page.screenshot("stalled-ru-1366").await;
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.wait("the stalled link on a wall screen", PAGE_DEADLINE, &sync_state_is("links", "center", "stalled")).await;
    page.screenshot("stalled-ru-1920").await;
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait(
        "the stalled link in English",
        PAGE_DEADLINE,
        &format!(
            "document.getElementById('nav-sync').textContent === 'Sync' && {} && \
             {}.querySelector('.sync-state').textContent === 'stalled'",
            sync_state_is("links", "center", "stalled"),
            sync_row("links", "center")
        ),
    )
    .await;
    page.screenshot("stalled-en-1920").await;
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait("Russian again", PAGE_DEADLINE, "document.getElementById('nav-sync').textContent === 'Синхронизация'")
        .await;

    // Healed: the link catches up and is in sync again.
    proxy.heal();
    page.wait("the link in sync again", SYNC_CATCH_UP, &sync_state_is("links", "center", "in_sync")).await;
    page.client.set_window_size(1366, 768).await.expect("resize");
    page.screenshot("healed-ru-1366").await;

    // A consistency check: under the link, both ends hold the same.
    let check = "/api/v1/sync/check?from=2025-11-30T00:00:00Z&to=2026-01-01T00:00:00Z";
    let (status, report) = http(site.api, "POST", check, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&report));
    let clean = "document.querySelector('#sync-links tr.sync-check[data-different=\"0\"]')?.innerText";
    let note = page.wait("the clean check under the link", PAGE_DEADLINE, clean).await;
    assert!(note.as_str().is_some_and(|n| n.contains("показаний 300 — расхождений нет")), "{note}");
    let violations = page.js("return document.body.dataset.cspViolations ?? null").await;
    assert_eq!(violations, Value::Null, "the Content-Security-Policy blocked something");

    // A reading written into north's namespace at the center: the next
    // check names its meter and day.
    send_lines(&center, &[reading("north/m1", "volume", 1_764_547_200_000 + 30_000, "7")]);
    wait_for("the center to archive it", APPLY_DEADLINE, || {
        let readings = center.get_ok("/api/v1/readings?device=north%2Fm1&limit=1000");
        (readings.as_array().map_or(0, Vec::len) == 61).then_some(())
    });
    let (status, report) = http(site.api, "POST", check, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&report));

    // The center's page (the same browser, saving a Chromium start): the
    // site, in sync, with what it received and the check's difference.
    page.base = format!("http://{}", center.api);
    page.test = "sync-center";
    page.goto("/").await;
    page.log_in("cora", "cora's password").await;
    page.goto("/#/sync").await;
    page.wait("the site north in sync", PAGE_DEADLINE, &sync_state_is("sites", "north", "in_sync")).await;
    let state = page.js(&format!("return {}.dataset.state", sync_row("sites", "north"))).await;
    assert_eq!(state, "in_sync");
    let summary = page.js("return document.getElementById('sync-summary').innerText").await;
    assert_eq!(summary, "Сайтов: 1 · в синхроне 1 · догоняют 0 · стоят 0 · нет связи 0");
    let different = "document.querySelector('#sync-sites tr.sync-check[data-different=\"1\"]')?.innerText";
    let note = page.wait("the check's difference under the site", PAGE_DEADLINE, different).await;
    assert!(
        note.as_str().is_some_and(|n| n.contains("расходятся приборо-суток: 1 из")
            && n.contains("m1 за 01.12.2025: на сайте 60, в центре 61")),
        "{note}"
    );
    let row = sync_text(&page, "sites", "north").await;
    for expected in ["north", "в синхроне", "0 зап.", "назад", "300", "пакетов:", "пок./с"]
    {
        assert!(row.contains(expected), "{expected:?} in the site's row:\n{row}");
    }
    let hidden = page.js("return document.getElementById('sync-links-card').hidden").await;
    assert_eq!(hidden, true, "a center without links shows no links section");
    page.js("document.getElementById('sync-sites-card').scrollIntoView({block: 'nearest'}); return true").await;
    page.screenshot("sites-ru-1366").await;

    // Cut: the center hears nothing from the site and shows it down.
    proxy.cut();
    page.wait("the site down at the center", Duration::from_secs(30), &sync_state_is("sites", "north", "down")).await;
    let row = sync_text(&page, "sites", "north").await;
    assert!(row.contains("нет связи"), "the down row:\n{row}");
    page.screenshot("sites-down-ru-1366").await;
    let violations = page.js("return document.body.dataset.cspViolations ?? null").await;
    assert_eq!(violations, Value::Null, "the Content-Security-Policy blocked something");
    page.close().await;
}

/// A state reading line for the listener (a tamper sensor: 1 raised, 0 back to normal).
fn state_reading(device: &str, channel: &str, ts_ms: i64, value: u8) -> String {
    format!(
        "{{\"device\":\"{device}\",\"channel\":\"{channel}\",\"ts\":{ts_ms},\"value\":{value},\"unit\":\"\",\"kind\":\"state\"}}\n"
    )
}

/// Sends one state reading through the listener's TCP driver; returns after its acknowledgement.
fn send_state(client: &mut LineClient, device: &str, channel: &str, ts_ms: i64, value: u8) {
    client.send(state_reading(device, channel, ts_ms, value).as_bytes());
    let answer = client.answer().expect("an acknowledgement");
    assert_eq!(answer["ok"], true, "{answer}");
}

/// The id of the alarm the banner shows, `null` while it is hidden.
const BANNER_ALARM: &str = "(() => { const b = document.getElementById('alarm-banner'); return b.hidden ? null : (b.dataset.alarm || null); })()";

/// The words of `text` written in Latin letters that are not in `allowed` (ids, user names).
fn latin_words<'a>(text: &'a str, allowed: &[&str]) -> Vec<&'a str> {
    text.split(|c: char| c.is_whitespace() || ",.:;()«»—·".contains(c))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()) && !allowed.contains(w))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_an_alarm_is_on_the_banner_within_a_second_acknowledged_and_cleared() {
    let _one = ONE_BROWSER.lock().await;
    let host = ui_host();
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    // The meter is known, by a name, before its alarm.
    let mut device = LineClient::connect(host.driver("tcp-in"));
    send(&mut device, "gas-1", "volume", now_ms() - 60_000, "123.456");
    wait_for("meter gas-1 to be registered", APPLY_DEADLINE, || {
        (host.get("/api/v1/meters/gas-1").0 == 200).then_some(())
    });
    let body = json!({ "actor": "e2e", "name": "Котельная №2, газ" }).to_string();
    let (status, answer) = http(host.api, "PATCH", "/api/v1/meters/gas-1", body.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));

    let page = Browser::open(format!("http://{}", host.api), "alarm").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    page.wait("the stream to connect", PAGE_DEADLINE, &Browser::state_is("stream", "connected")).await;
    page.wait(
        "the meter's name in the tree",
        PAGE_DEADLINE,
        "document.querySelector('#tree-body a[data-meter=\"gas-1\"]')?.textContent.startsWith('Котельная №2')",
    )
    .await;
    let quiet = page
        .js("return [document.getElementById('alarm-banner').hidden, document.getElementById('nav-alarms-badge').hidden]")
        .await;
    assert_eq!(quiet, json!([true, true]), "no alarm yet: no banner, no badge");

    // The magnet sensor trips: the banner shows it within a second.
    let sent = Instant::now();
    send_state(&mut device, "gas-1", "magnet", now_ms(), 1);
    let shown = page.wait("the alarm banner", PAGE_DEADLINE, BANNER_ALARM).await;
    let latency = sent.elapsed();
    eprintln!("an alarm from the device to the banner: {latency:?}");
    assert!(latency <= LIVE_BOUND, "the alarm took {latency:?} from the device to the banner");
    let id: u64 = shown.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("an alarm id: {shown}"));
    let open = host.get_ok("/api/v1/alarms");
    assert_eq!(open["alarms"][0]["id"], id, "{open}");
    assert_eq!(open["alarms"][0]["kind"], "state", "{open}");
    assert_eq!(open["alarms"][0]["channel"], "magnet", "{open}");
    assert_eq!(open["counts"]["unacknowledged"], 1, "{open}");

    // In the dispatcher's language: the channel's Russian name (channels.js),
    // the meter's name and id, the severity in red, the badge.
    let banner = page.js("return document.getElementById('alarm-banner').textContent").await;
    let banner = banner.as_str().expect("the banner's text").to_owned();
    for expected in [
        "Воздействие магнитом: датчик сработал",
        "Критическая",
        "Котельная №2, газ",
        "gas-1",
        "Подтвердить",
        "Все тревоги",
    ] {
        assert!(banner.contains(expected), "{expected:?} on the banner: {banner}");
    }
    let shown = page.js("return document.getElementById('alarm-banner').innerText").await;
    let shown = shown.as_str().unwrap_or_default();
    assert_eq!(latin_words(shown, &["gas-1"]), Vec::<&str>::new(), "English on the Russian banner: {shown}");
    let looks = page
        .js("const b = document.getElementById('alarm-banner'), n = document.getElementById('nav-alarms-badge'); \
             return [getComputedStyle(b).backgroundColor, b.dataset.severity, n.hidden, n.textContent]")
        .await;
    assert_eq!(looks, json!(["rgb(198, 40, 40)", "critical", false, "1"]), "critical is red, one to acknowledge");
    page.screenshot("1-banner-ru-1366").await;

    // A wall screen, then the alarms page at both sizes.
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.wait("the banner on a wall screen", PAGE_DEADLINE, BANNER_ALARM).await;
    page.screenshot("2-banner-ru-1920").await;
    let row = format!("document.querySelector('#alarms-table tr[data-alarm=\"{id}\"]')");
    page.goto("/#/alarms").await;
    page.wait("the alarm on the alarms page", PAGE_DEADLINE, &row).await;
    page.wait(
        "the raised event in the log",
        PAGE_DEADLINE,
        &format!("document.querySelector('#events-table tr[data-alarm=\"{id}\"][data-code=\"raised\"]')"),
    )
    .await;
    let text = page.js(&format!("return {row}.innerText")).await;
    let text = text.as_str().unwrap_or_default().to_owned();
    for expected in
        ["Критическая", "Котельная №2, газ", "gas-1", "Воздействие магнитом: датчик сработал", "активна", "Подтвердить"]
    {
        assert!(text.contains(expected), "{expected:?} in the alarm's row: {text}");
    }
    let card = page
        .js("return document.querySelector('#view .view-head').innerText + ' ' + document.getElementById('alarms-card').innerText")
        .await;
    let card = card.as_str().unwrap_or_default().to_owned();
    let zone = page
        .js("return document.querySelector('#alarms-table th:nth-child(2)').textContent.match(/UTC[^)]*/)[0]")
        .await;
    let allowed = ["gas-1", zone.as_str().unwrap_or("UTC")];
    assert_eq!(latin_words(&card, &allowed), Vec::<&str>::new(), "English on the Russian alarms page: {card}");
    page.screenshot("3-alarms-ru-1920").await;
    page.client.set_window_size(1366, 768).await.expect("resize");
    page.wait("the alarms page on a laptop", PAGE_DEADLINE, &row).await;
    page.screenshot("4-alarms-ru-1366").await;

    // English, then Russian again.
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait(
        "the banner in English",
        PAGE_DEADLINE,
        "document.getElementById('alarm-banner-text')?.textContent === 'Magnet: sensor triggered' && \
         document.querySelector('#nav-alarms [data-i18n]').textContent === 'Alarms' && \
         document.querySelector('#alarms-table th')?.textContent === 'Severity'",
    )
    .await;
    let banner = page.js("return document.getElementById('alarm-banner').textContent").await;
    assert!(banner.as_str().is_some_and(|b| b.contains("Critical") && b.contains("Acknowledge")), "{banner}");
    page.screenshot("5-alarms-en-1366").await;
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    page.wait(
        "the banner in Russian again",
        PAGE_DEADLINE,
        "document.getElementById('alarm-banner-text')?.textContent === 'Воздействие магнитом: датчик сработал'",
    )
    .await;

    // Acknowledged on the banner with a comment: the banner hides, the
    // alarm stays on the alarms page (it is still active), acknowledged.
    page.goto("/#/live").await;
    page.wait("the banner on the live page", PAGE_DEADLINE, BANNER_ALARM).await;
    page.click("#alarm-banner .alarm-ack-button").await;
    page.wait("the comment field", PAGE_DEADLINE, "document.querySelector('#alarm-banner .alarm-ack-comment')").await;
    let comment = "Проверено на месте, пломба цела";
    page.client
        .find(Locator::Css("#alarm-banner .alarm-ack-comment"))
        .await
        .expect("the comment field")
        .send_keys(comment)
        .await
        .expect("type the comment");
    page.wait(
        "the comment typed",
        PAGE_DEADLINE,
        &format!("document.querySelector('#alarm-banner .alarm-ack-comment').value === {}", js_string(comment)),
    )
    .await;
    page.screenshot("6-acknowledging-ru-1366").await;
    page.click("#alarm-banner .alarm-ack-send").await;
    page.wait("the banner to hide", PAGE_DEADLINE, "document.getElementById('alarm-banner').hidden").await;
    let alarm = host.get_ok(&format!("/api/v1/alarms/{id}"));
    assert_eq!(alarm["acknowledged"]["by"], "dina", "{alarm}");
    assert_eq!(alarm["acknowledged"]["comment"], comment, "{alarm}");
    assert_eq!((alarm["active"].clone(), alarm["open"].clone()), (json!(true), json!(true)), "still active: {alarm}");
    let badge = page.js("return document.getElementById('nav-alarms-badge').hidden").await;
    assert_eq!(badge, true, "nothing left to acknowledge");
    page.goto("/#/alarms").await;
    let acknowledged =
        format!("document.querySelector('#alarms-table tr[data-alarm=\"{id}\"][data-acknowledged=\"true\"]')");
    page.wait("the acknowledged alarm on the alarms page", PAGE_DEADLINE, &acknowledged).await;
    let text = page.js(&format!("return {row}.innerText")).await;
    let text = text.as_str().unwrap_or_default().to_owned();
    for expected in ["dina", comment, "активна"] {
        assert!(text.contains(expected), "{expected:?} in the acknowledged row: {text}");
    }
    page.wait(
        "the acknowledgement in the log",
        PAGE_DEADLINE,
        &format!("document.querySelector('#events-table tr[data-alarm=\"{id}\"][data-code=\"acknowledged\"]')"),
    )
    .await;
    page.screenshot("7-acknowledged-ru-1366").await;

    // Back to normal: the alarm closes and leaves the page.
    send_state(&mut device, "gas-1", "magnet", now_ms(), 0);
    let closed = wait_for("the alarm to close", APPLY_DEADLINE, || {
        let alarm = host.get_ok(&format!("/api/v1/alarms/{id}"));
        (alarm["open"] == false).then_some(alarm)
    });
    assert_eq!(closed["active"], false, "{closed}");
    assert_eq!(closed["end_value"], "0", "{closed}");
    page.wait(
        "the alarm to leave the alarms page",
        PAGE_DEADLINE,
        &format!("!{row} && !document.getElementById('alarms-empty').hidden"),
    )
    .await;
    page.wait(
        "the end in the log",
        PAGE_DEADLINE,
        &format!("document.querySelector('#events-table tr[data-alarm=\"{id}\"][data-code=\"ended\"]')"),
    )
    .await;
    let open = host.get_ok("/api/v1/alarms");
    assert_eq!(open["counts"]["open"], 0, "{open}");
    let hidden = page.js("return document.getElementById('alarm-banner').hidden").await;
    assert_eq!(hidden, true);
    page.screenshot("8-cleared-ru-1366").await;
    let violations = page.js("return document.body.dataset.cspViolations ?? null").await;
    assert_eq!(violations, Value::Null, "the Content-Security-Policy blocked something");
    page.close().await;
}

/// A Vega SI-12 behind a ChirpStack network server (`lw640` over HTTP).
const SI12: &str = "3632333364374F18";

/// A ChirpStack v4 `up` event of the SI-12 (current values, fPort 2).
fn chirpstack_si12_up(fcnt: u32) -> Value {
    use base64::Engine;
    let payload = meterhub_plugin_api::hex::decode("01001ce75128621c00000000000000000000000000000000").expect("hex");
    json!({
        "deduplicationId": format!("3ac7e3c4-4401-4b8d-9386-{fcnt:012}"),
        "time": "2026-12-01T09:34:15.775023242+00:00",
        "deviceInfo": {"tenantName": "ChirpStack", "applicationName": "Water", "deviceProfileName": "SI-12",
            "deviceName": "Подъезд 1", "devEui": SI12.to_ascii_lowercase()},
        "devAddr": "00189440", "dr": 1, "fCnt": fcnt, "fPort": 2,
        "data": base64::engine::general_purpose::STANDARD.encode(payload),
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -97, "snr": 7.5}],
        "txInfo": {"frequency": 868100000}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_silent_module_turns_red_the_summary_counts_it_and_an_alarm_says_so() {
    let _one = ONE_BROWSER.lock().await;
    let lns = format!(
        "\n[drivers.lns]\nplugin = \"lw640\"\ntransport = \"http\"\nlisten = \"127.0.0.1:0\"\n\
         [drivers.lns.settings]\nauth_token = \"Bearer s3cret\"\n\
         [[drivers.lns.devices]]\ndeveui = \"{SI12}\"\ncodec = \"vega-codec\"\nmodel = \"SI-12\"\n"
    );
    let host = Host::start_with(
        &(default_config(&plugins_dir("wasm")) + &lns + "\n[web]\ncookie_secure = false\nstream_control_seconds = 1\n"),
    );
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    let headers = [("Content-Type", "application/json"), ("Authorization", "Bearer s3cret")];
    let up = chirpstack_si12_up(7).to_string();
    let answer = request(host.driver("lns"), "POST", "/?event=up", &headers, up.as_bytes());
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let module = wait_for("the module on the board", APPLY_DEADLINE, || {
        let modules = host.get_ok("/api/v1/modules");
        modules["modules"].as_array()?.first().filter(|m| m["state"] == "fresh").cloned()
    });
    let id = module["module"].as_str().expect("a module id").to_owned();

    let page = Browser::open(format!("http://{}", host.api), "silent").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;
    let fresh = "document.querySelector('#summary-modules [data-state=\"fresh\"]')?.textContent";
    let shown = page.wait("the module fresh on the summary", PAGE_DEADLINE, fresh).await;
    assert_eq!(shown, "1 на связи");

    // The operator expects a frame every second: three seconds later the
    // module is silent, and so is the meter read through it.
    let (status, body) =
        http(host.api, "PATCH", &format!("/api/v1/modules/{id}"), br#"{"actor":"e2e","expected_period_s":1}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let silent = "document.querySelector('#summary-modules [data-state=\"silent\"]')?.textContent";
    let counted = page.wait("the summary to count the silent module", PAGE_DEADLINE, silent).await;
    assert_eq!(counted, "1 молчит");
    let dot = "(() => { const m = document.querySelector('#tree-body .tree-meter.state-silent .state-dot'); \
               return m ? getComputedStyle(m).color : null; })()";
    let red = page.wait("the meter red in the tree", PAGE_DEADLINE, dot).await;
    assert_eq!(red, "rgb(207, 34, 46)", "the silent state's red");
    // The frame says the battery is at 0 %: a battery alarm (a warning
    // too) may be on the banner first; the silence, newer, takes its place.
    let silent_alarm = wait_for("the module's silence raised", APPLY_DEADLINE, || {
        let open = host.get_ok("/api/v1/alarms");
        open["alarms"].as_array()?.iter().find(|a| a["rule"] == "module-silent").map(|a| a["id"].clone())
    });
    assert!(silent_alarm.as_u64().is_some(), "an alarm id: {silent_alarm}");
    let shows_silence = format!("(() => {{ const a = {BANNER_ALARM}; return a === '{silent_alarm}' ? a : null; }})()");
    let banner = page.wait("the module's silence on the banner", PAGE_DEADLINE, &shows_silence).await;
    let alarm = host.get_ok(&format!("/api/v1/alarms/{}", banner.as_str().unwrap_or("0")));
    assert_eq!((alarm["rule"].as_str(), alarm["subject"]["id"].as_str()), (Some("module-silent"), Some(id.as_str())));
    let text = page.js("return document.getElementById('alarm-banner').innerText").await;
    assert!(text.as_str().unwrap_or_default().contains(&format!("Модуль {id} не на связи")), "{text}");
    page.screenshot("silent-ru-1366").await;
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.screenshot("silent-ru-1920").await;

    // In English too.
    page.client.find(Locator::Id("language-toggle")).await.expect("the switch").click().await.expect("click");
    let english = "document.querySelector('#summary-modules [data-state=\"silent\"]')?.textContent === '1 silent'";
    page.wait("the summary in English", PAGE_DEADLINE, english).await;
    page.client.set_window_size(1366, 768).await.expect("resize");
    page.screenshot("silent-en-1366").await;

    // A frame again: fresh, the alarm ends.
    let up = chirpstack_si12_up(8).to_string();
    assert_eq!(request(host.driver("lns"), "POST", "/?event=up", &headers, up.as_bytes()).status, 200);
    let ended = wait_for("the alarm to end", APPLY_DEADLINE, || {
        let alarm = host.get_ok(&format!("/api/v1/alarms/{}", banner.as_str().unwrap_or("0")));
        (alarm["active"] == false).then_some(alarm)
    });
    assert!(ended["ended_at_ms"].as_i64().is_some(), "{ended}");
}

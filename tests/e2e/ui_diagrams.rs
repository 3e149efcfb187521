//! Mimic diagrams in the dispatcher UI, in the real headless Chromium of
//! `ui.rs` (WebGL2 on SwiftShader, as on a machine without a GPU): a
//! diagram opened from the navigation tree renders (pixels checked at
//! known points), a reading sent through the real listener driver changes
//! a bound element's colour and text within a second, a click runs its
//! action, go-to and back work, the Canvas 2D fallback draws the same, and
//! a viewer without rights to a meter sees its value blank and its actions
//! never fire. Screenshots in `target/artefacts/ui/d-*.png`.

use std::time::Instant;

use meterhub_testkit::{LineClient, add_user, now_ms};

use crate::ui::{Browser, LIVE_BOUND, ONE_BROWSER, PAGE_DEADLINE, js_string, place, send, ui_host};

/// The diagram under test: a tank coloured by pressure, the pressure as
/// text, a lamp a click lights, a button to another diagram, and a
/// standard valve closed by a meter the viewer may not see.
const PLANT: &str = r#"<Diagram Name="Установка" Range="0,0,400,300" Background="ffffff">
  <Rectangle id="tank" position="20,20,120,120" color="000000" fill="00aa00" width="2"/>
  <Text id="pressure" position="20,150" size="18">—</Text>
  <Rectangle id="lamp" position="170,120,230,180" color="000000" fill="cccccc">
    <Producer event="click"><Action type="change_fill" value="ffd600"><Target id="lamp"/></Action></Producer>
  </Rectangle>
  <Rectangle id="go" position="300,200,380,260" color="000000" fill="7b1fa2">
    <Producer event="click"><Action type="goto" value="second"/></Producer>
  </Rectangle>
  <Valve id="valve" position="20,200,120,280"/>
  <Text id="secret" position="150,290" size="14">—</Text>
  <Producer device="gas-1" channel="pressure" when="above" value="0.6">
    <Action type="change_fill" value="ff0000"><Target id="tank"/></Action>
  </Producer>
  <Producer device="gas-1" channel="pressure">
    <Action type="show_value" decimals="2" unit="МПа"><Target id="pressure"/></Action>
  </Producer>
  <Producer device="secret-1" channel="volume" when="above" value="0">
    <Action type="set_property" name="Open" value="false"><Target id="valve"/></Action>
  </Producer>
  <Producer device="secret-1" channel="volume">
    <Action type="show_value"><Target id="secret"/></Action>
  </Producer>
</Diagram>
"#;

const SECOND: &str = r#"<Diagram Name="Вторая" Range="0,0,200,100" Background="ffffff">
  <Rectangle position="0,0,200,100" fill="795548"/>
</Diagram>
"#;

/// The colour drawn at drawing point x,y of the open diagram.
fn probe(x: f64, y: f64) -> String {
    format!("document.getElementById('diagram-stage')?.viewer?.probe({x}, {y})")
}

/// The text element `id` of the open diagram shows now.
fn text_of(id: &str) -> String {
    format!(
        "(() => {{ const v = document.getElementById('diagram-stage')?.viewer; if (!v) return null;
            const n = v.diagram.elements.findIndex((e) => e.id === {id}) + 1;
            return v.runtime.text.get(v.scene.ranges[2 * n]); }})()",
        id = js_string(id)
    )
}

/// The text element `inner` (its ordinal in the object) of object instance `id` shows now.
fn text_of_object(id: &str, inner: usize) -> String {
    format!(
        "(() => {{ const v = document.getElementById('diagram-stage')?.viewer; if (!v) return null;
            const n = v.diagram.elements.findIndex((e) => e.id === {id}) + 1;
            return v.runtime.text.get(v.scene.ranges[2 * n] + {inner} - 1); }})()",
        id = js_string(id)
    )
}

/// Presses and releases the pointer at drawing point x,y of the open diagram.
fn click_at(x: f64, y: f64) -> String {
    format!(
        "const v = document.getElementById('diagram-stage').viewer; const [px, py] = v.toScreen({x}, {y});
         const r = v.top.getBoundingClientRect();
         const at = {{ clientX: r.left + px, clientY: r.top + py, pointerId: 1, bubbles: true }};
         v.top.dispatchEvent(new PointerEvent('pointerdown', {{ ...at, buttons: 1 }}));
         v.top.dispatchEvent(new PointerEvent('pointerup', {{ ...at, buttons: 0 }}));
         return true;"
    )
}

const READY: &str = "document.getElementById('diagram-stage')?.dataset.ready === 'true'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_a_diagram_renders_live_values_change_it_clicks_act_and_a_viewer_without_rights_sees_it_blank() {
    let _one = ONE_BROWSER.lock().await;
    let host = ui_host();
    let dir = host.config.parent().expect("the config's folder").join("diagrams");
    std::fs::create_dir_all(&dir).expect("the diagrams folder");
    std::fs::write(dir.join("plant.xml"), PLANT).expect("write plant.xml");
    std::fs::write(dir.join("second.xml"), SECOND).expect("write second.xml");
    // The demo's gas regulation point, as scripts/demo ships it.
    let demo = meterhub_testkit::workspace().join("configs").join("diagrams").join("grp-1.xml");
    std::fs::copy(&demo, dir.join("grp-1.xml")).expect("copy the demo's diagram");
    let mut device = LineClient::connect(host.driver("tcp-in"));
    let ts = now_ms() - 60_000;
    send(&mut device, "gas-1", "pressure", ts, "0.45");
    send(&mut device, "secret-1", "volume", ts, "5");
    send(&mut device, "demo-000", "volume", ts, "4321.125");
    send(&mut device, "demo-000", "temperature", ts, "24.6");
    place(&host, "gas-1", "gas", "Kazan-2");
    place(&host, "secret-1", "gas", "Kazan-1");
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "gas/Kazan-2"], "vera's password");

    let page = Browser::open(format!("http://{}", host.api), "d").await;
    page.goto("/").await;
    page.log_in("dina", "dina's password").await;

    // WebGL2 asked for: the viewer would choose Canvas 2D over SwiftShader's
    // emulation (checked below).
    page.js("localStorage.setItem('meterhub.diagram.renderer', 'webgl2'); return true").await;

    // Opened from the navigation tree.
    page.wait(
        "the diagram in the tree",
        PAGE_DEADLINE,
        "document.querySelector('#tree-diagrams a[data-diagram=\"plant\"]')",
    )
    .await;
    page.js("document.querySelector('#tree-diagrams a[data-diagram=\"plant\"]').click(); return true").await;
    page.wait("the diagram drawn", PAGE_DEADLINE, READY).await;
    let renderer = page.js("return document.getElementById('diagram-renderer').dataset.renderer").await;
    assert_eq!(renderer, "webgl2", "asked for, SwiftShader gives WebGL2 to a machine without a GPU");

    // Pixels where the drawing says: the pressure is in range, so the tank
    // is green; secret-1 reads above 0, so the valve is closed (red); the
    // background is white; the pressure is written as text.
    page.wait("the pressure shown", PAGE_DEADLINE, &format!("{} === '0,45 МПа'", text_of("pressure"))).await;
    assert_eq!(page.js(&format!("return {}", probe(70.0, 70.0))).await, "00aa00");
    assert_eq!(page.js(&format!("return {}", probe(37.0, 246.0))).await, "c62828", "secret-1 > 0 closed the valve");
    assert_eq!(page.js(&format!("return {}", probe(390.0, 10.0))).await, "ffffff");
    assert_eq!(page.js(&format!("return {}", probe(70.0, 20.0))).await, "000000", "the tank's outline");
    page.screenshot("1-diagram-ru-1366").await;

    // A reading through the real listener driver recolours the tank and
    // rewrites the text within a second.
    let sent = Instant::now();
    send(&mut device, "gas-1", "pressure", ts + 1000, "0.72");
    page.wait(
        "the tank red and the new pressure",
        PAGE_DEADLINE,
        &format!("{} === 'ff0000' && {} === '0,72 МПа'", probe(70.0, 70.0), text_of("pressure")),
    )
    .await;
    let latency = sent.elapsed();
    eprintln!("a reading from the device to the diagram: {latency:?}");
    assert!(latency <= LIVE_BOUND, "the reading took {latency:?} from the device to the diagram");
    let readout =
        page.js("return document.querySelector('#diagram-values li[data-device=\"gas-1\"]').dataset.value").await;
    assert_eq!(readout, "0,72 м³");

    // A real click (WebDriver's, at the stage's centre: the lamp) lights it.
    let overlay = page.client.find(fantoccini::Locator::Css("#diagram-stage .diagram-overlay")).await.expect("overlay");
    overlay.click().await.expect("a click on the diagram");
    page.wait("the lamp lit", PAGE_DEADLINE, &format!("{} === 'ffd600'", probe(200.0, 150.0))).await;
    page.screenshot("2-diagram-live").await;

    // Go to the second diagram, and back.
    page.js(&click_at(340.0, 230.0)).await;
    page.wait("the second diagram", PAGE_DEADLINE, &format!("location.hash === '#/diagram/second' && {READY}")).await;
    page.wait("its colour", PAGE_DEADLINE, &format!("{} === '795548'", probe(100.0, 50.0))).await;
    assert_eq!(page.js("return document.getElementById('diagram-back').hidden").await, false);
    page.js("document.getElementById('diagram-back').click(); return true").await;
    page.wait("back on the plant", PAGE_DEADLINE, &format!("location.hash === '#/diagram/plant' && {READY}")).await;

    // Left to choose, the viewer draws with Canvas 2D where WebGL2 is only
    // emulated: the same pixels; in English at 1920.
    page.js("localStorage.removeItem('meterhub.diagram.renderer'); location.reload(); return true").await;
    page.wait("the diagram drawn by Canvas 2D", PAGE_DEADLINE, READY).await;
    assert_eq!(page.js("return document.getElementById('diagram-renderer').dataset.renderer").await, "canvas2d");
    page.wait("the tank red on Canvas 2D", PAGE_DEADLINE, &format!("{} === 'ff0000'", probe(70.0, 70.0))).await;
    assert_eq!(page.js(&format!("return {}", probe(37.0, 246.0))).await, "c62828");
    assert_eq!(page.js(&format!("return {}", probe(390.0, 10.0))).await, "ffffff");
    page.js("document.getElementById('language-toggle').click(); return true").await;
    page.client.set_window_size(1920, 1080).await.expect("resize");
    page.wait("English", PAGE_DEADLINE, "document.getElementById('nav-diagrams').textContent === 'Diagrams'").await;
    page.wait("drawn again", PAGE_DEADLINE, READY).await;
    page.wait("the pressure in English", PAGE_DEADLINE, &format!("{} === '0.72 МПа'", text_of("pressure"))).await;
    page.screenshot("3-diagram-canvas2d-en-1920").await;
    page.js("document.getElementById('language-toggle').click(); return true").await;

    // The demo's diagram at 1920, in Russian: the meter's reading on its
    // display, the temperature above the limit in red.
    page.wait("Russian again", PAGE_DEADLINE, "document.getElementById('nav-diagrams').textContent === 'Мнемосхемы'")
        .await;
    page.goto("/#/diagram/grp-1").await;
    page.wait("the demo's diagram", PAGE_DEADLINE, READY).await;
    page.wait(
        "the gas meter's reading",
        PAGE_DEADLINE,
        &format!("{} === '4\u{202f}321,125'", text_of_object("meter", 3)),
    )
    .await;
    page.wait("the temperature alarm", PAGE_DEADLINE, &format!("{} === '24,6 °C — выше нормы'", text_of("temp-alarm")))
        .await;
    page.screenshot("5-demo-grp-ru-1920").await;
    page.client.set_window_size(1366, 768).await.expect("resize");

    // The list of diagrams.
    page.goto("/#/diagrams").await;
    page.wait(
        "the diagrams' list",
        PAGE_DEADLINE,
        "document.querySelector('#diagrams-list li[data-diagram=\"plant\"] a')",
    )
    .await;
    page.screenshot("6-diagrams-list-ru").await;

    // A viewer granted gas-1 only: secret-1's value is blank, its action
    // never fires (the valve stays open), gas-1's still shows.
    page.js("document.getElementById('logout').click(); return true").await;
    page.goto("/#/live").await;
    page.log_in("vera", "vera's password").await;
    page.goto("/#/diagram/plant").await;
    page.wait("the diagram for vera", PAGE_DEADLINE, READY).await;
    page.wait("gas-1's pressure", PAGE_DEADLINE, &format!("{} === '0,72 МПа'", text_of("pressure"))).await;
    assert_eq!(page.js(&format!("return {}", text_of("secret"))).await, "", "secret-1's value is blank");
    assert_eq!(page.js(&format!("return {}", probe(37.0, 246.0))).await, "2e7d32", "the valve stays open");
    let hidden =
        page.js("return document.querySelector('#diagram-values li[data-device=\"secret-1\"]').dataset.hidden").await;
    assert_eq!(hidden, "true");
    page.screenshot("4-diagram-viewer-ru").await;
    page.close().await;
}

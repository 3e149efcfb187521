//! The diagram viewer in a headless Chromium (software GL: SwiftShader),
//! side by side with the same drawing as plain SVG DOM in the same run.
//!
//! Starts the real `meterhub` binary with generated diagrams of each size
//! in `--sizes` (a mix of rectangles, lines, polylines, ellipses, texts and
//! standard objects), logs in, and for each size:
//! - **meterhub**, the renderer the viewer chooses (Canvas 2D on this
//!   machine: its WebGL2 is SwiftShader's emulation): opens
//!   `#/diagram/<name>` and measures the time to the first frame (from the
//!   route's change: the fetch, the scene, the first draw), then pans
//!   `--frames` animation frames, one step each, and reports the frame
//!   interval p50/p95 (the browser's own pacing, so the GPU process's work
//!   is in it); then the same with WebGL2 asked for (at most 10 frames);
//! - **SVG DOM**: builds the same primitives as SVG elements (one element
//!   each, colours as the viewer has them) in a stage of the same size,
//!   measures the time to its first frame, then pans it the same way (the
//!   root group's transform).
//!
//! Then **updates**: a diagram of `--signals` bound meters (each a
//! rectangle coloured above a limit and a text showing the value) takes
//! `--updates` readings per second for `--seconds`, fed in the page to the
//! viewer's reading entry (the one the live stream calls), while it pans:
//! frame interval p50/p95 and readings applied.
//!
//! Build the host first (`scripts/bench diagram` does), then:
//! `cargo bench -p meterhub --bench diagram [-- options]`.
//!
//! | argument       | environment               | default |
//! |----------------|---------------------------|---------|
//! | `--sizes L`    | `METERHUB_BENCH_SIZES`    | 5000,50000,200000 primitives |
//! | `--frames F`   | `METERHUB_BENCH_FRAMES`   | 60 |
//! | `--signals S`  | `METERHUB_BENCH_SIGNALS`  | 1000 |
//! | `--updates U`  | `METERHUB_BENCH_UPDATES`  | 5000 readings/s |
//! | `--seconds D`  | `METERHUB_BENCH_SECONDS`  | 5 |

use std::fmt::Write as _;
use std::time::Duration;

use meterhub_testkit::bench::Args;
use meterhub_testkit::browser::Chromedriver;
use meterhub_testkit::{Host, add_user, default_config, plugins_dir};
use serde_json::Value;

/// Frames panned with WebGL2 asked for: on SwiftShader a large diagram
/// takes seconds a frame.
const GL_FRAMES: usize = 10;
/// How long a page may take to draw the largest diagram.
const DRAW_DEADLINE: Duration = Duration::from_secs(300);

/// A diagram of about `n` primitives on a grid: rectangles, lines,
/// polylines, ellipses, texts, and every 50th cell a standard valve.
fn generate(n: usize, signals: usize) -> String {
    let side = (n as f64).sqrt().ceil() as usize;
    let cell = 20.0;
    let mut xml =
        format!("<Diagram Name=\"bench {n}\" Range=\"0,0,{w},{w}\" Background=\"ffffff\">\n", w = side as f64 * cell);
    let mut drawn = 0;
    let mut i = 0;
    while drawn < n {
        let (x, y) = ((i % side) as f64 * cell, (i / side) as f64 * cell);
        let colour = format!("{:06x}", (i * 2_654_435_761usize) & 0x7f7f7f);
        let element = match i % 20 {
            0..=7 => {
                format!("<Rectangle position=\"{x},{y},{},{}\" color=\"000000\" fill=\"{colour}\"", x + 16.0, y + 16.0)
            }
            8..=12 => format!("<Line position=\"{x},{y},{},{}\" color=\"{colour}\" width=\"2\"", x + 16.0, y + 12.0),
            13..=15 => format!(
                "<Polyline points=\"{x},{y} {},{} {},{} {},{}\" color=\"{colour}\"",
                x + 5.0,
                y + 12.0,
                x + 10.0,
                y + 3.0,
                x + 16.0,
                y + 14.0
            ),
            16..=17 => {
                format!("<Ellipse position=\"{x},{y},{},{}\" color=\"000000\" fill=\"{colour}\"", x + 16.0, y + 16.0)
            }
            18 => format!("<Text position=\"{x},{}\" size=\"6\" text=\"T{i}\"", y + 12.0),
            _ if i % 100 == 19 => format!("<Valve position=\"{x},{y},{},{}\"", x + 16.0, y + 12.0),
            _ => format!("<Polygon points=\"{x},{y} {},{y} {},{}\" fill=\"{colour}\"", x + 16.0, x + 8.0, y + 16.0),
        };
        let id = if i < signals { format!(" id=\"s{i}\"") } else { String::new() };
        let _ = writeln!(xml, "  {element}{id}/>");
        drawn += if element.starts_with("<Valve") { 6 } else { 1 };
        i += 1;
    }
    for s in 0..signals.min(i) {
        let _ = writeln!(
            xml,
            "  <Producer device=\"m{s}\" channel=\"v\" when=\"above\" value=\"50\"><Action type=\"change_color\" value=\"ff0000\"><Target id=\"s{s}\"/></Action></Producer>\n  <Producer device=\"m{s}\" channel=\"v\" when=\"any\"><Action type=\"blink\" value=\"off\"><Target id=\"s{s}\"/></Action></Producer>"
        );
    }
    xml.push_str("</Diagram>\n");
    xml
}

/// Opens diagram `name` and returns (ms to first frame, renderer).
const OPEN: &str = "const [name, done] = arguments;
  window.__openedAt = performance.now();
  location.hash = '#/diagram/' + name;
  const wait = () => {
    const stage = document.getElementById('diagram-stage');
    if (stage?.dataset.ready === 'true') {
      requestAnimationFrame(() => done([stage.readyAt - window.__openedAt, stage.viewer.renderer.name, stage.viewer.scene.count]));
    } else setTimeout(wait, 5);
  };
  wait();";

/// Pans `frames` animation frames; returns the frame intervals (ms). With
/// `updates` > 0, feeds that many readings per second of `signals` meters.
const PAN_VIEWER: &str = "const [frames, updates, signals, done] = arguments;
  const v = document.getElementById('diagram-stage').viewer;
  const times = [];
  let last = performance.now(), sent = 0, n = 0, step = 0;
  const started = last;
  const frame = (now) => {
    times.push(now - last);
    last = now;
    if (updates) {
      const due = Math.floor(((now - started) / 1000) * updates);
      for (; sent < due; sent++) v.reading({ device: 'm' + (sent % signals), channel: 'v', value: String(sent % 100), ts_ms: Date.now() });
    }
    // Drawn once at the next frame (pan schedules it).
    v.pan(step++ % 60 < 30 ? 3 : -3, 1);
    if (++n < frames) requestAnimationFrame(frame);
    else done({ times: times.slice(1), sent });
  };
  requestAnimationFrame(frame);";

/// Builds the open diagram's primitives as SVG DOM in a stage of the same
/// size; returns the ms to its first frame.
const BUILD_SVG: &str = "const [done] = arguments;
  const stage = document.getElementById('diagram-stage');
  const v = stage.viewer, s = v.scene, look = v.runtime.now;
  const started = performance.now();
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', '100%'); svg.setAttribute('height', '100%');
  const root = document.createElementNS(NS, 'g');
  svg.append(root);
  const hex = (c) => c < 0 ? 'none' : '#' + c.toString(16).padStart(6, '0');
  const b = s.bbox, seg = s.segments, parts = s.parts;
  const texts = new Map(s.texts.map((t) => [t.prim, t]));
  for (let p = 0; p < s.count; p++) {
    const k = s.kind[p];
    let e;
    if (k === 1 || k === 2) {
      e = document.createElementNS(NS, k === 1 ? 'rect' : 'ellipse');
      if (k === 1) { e.setAttribute('x', b[4*p]); e.setAttribute('y', b[4*p+1]); e.setAttribute('width', b[4*p+2]-b[4*p]); e.setAttribute('height', b[4*p+3]-b[4*p+1]); }
      else { e.setAttribute('cx', (b[4*p]+b[4*p+2])/2); e.setAttribute('cy', (b[4*p+1]+b[4*p+3])/2); e.setAttribute('rx', (b[4*p+2]-b[4*p])/2); e.setAttribute('ry', (b[4*p+3]-b[4*p+1])/2); }
    } else if (k === 6) {
      const t = texts.get(p);
      e = document.createElementNS(NS, 'text');
      e.setAttribute('x', t.x); e.setAttribute('y', t.y); e.setAttribute('font-size', t.size); e.textContent = t.text;
    } else {
      e = document.createElementNS(NS, k === 5 ? 'polygon' : 'polyline');
      const pts = [];
      for (let i = parts[4*p]; i < parts[4*p+1]; i++) { if (i === parts[4*p]) pts.push(seg[6*i] + ',' + seg[6*i+1]); pts.push(seg[6*i+2] + ',' + seg[6*i+3]); }
      e.setAttribute('points', pts.join(' '));
    }
    e.setAttribute('stroke', hex(look.stroke[p]));
    e.setAttribute('fill', k === 6 ? hex(look.stroke[p]) : (k === 0 || k === 3 || k === 4) ? 'none' : hex(look.fill[p]));
    e.setAttribute('stroke-width', s.width[p]);
    root.append(e);
  }
  v.destroy();
  stage.replaceChildren(svg);
  window.__svg = { root, view: { ...v.view } };
  requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - started)));";

/// Pans the SVG DOM `frames` animation frames; returns the intervals.
const PAN_SVG: &str = "const [frames, done] = arguments;
  const { root, view } = window.__svg;
  const times = [];
  let last = performance.now(), n = 0, step = 0;
  const frame = (now) => {
    times.push(now - last);
    last = now;
    view.x -= (step++ % 60 < 30 ? 3 : -3) / view.scale; view.y -= 1 / view.scale;
    root.setAttribute('transform', `scale(${view.scale}) translate(${-view.x},${-view.y})`);
    if (++n < frames) requestAnimationFrame(frame);
    else done({ times: times.slice(1) });
  };
  requestAnimationFrame(frame);";

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(((v.len().saturating_sub(1)) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN)
}

fn times(answer: &Value) -> Vec<f64> {
    answer["times"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

fn main() {
    let args = Args::parse(
        &[
            ("--sizes", "METERHUB_BENCH_SIZES"),
            ("--frames", "METERHUB_BENCH_FRAMES"),
            ("--signals", "METERHUB_BENCH_SIGNALS"),
            ("--updates", "METERHUB_BENCH_UPDATES"),
            ("--seconds", "METERHUB_BENCH_SECONDS"),
        ],
        |_| None,
        "diagram",
    );
    let sizes: Vec<usize> = args
        .get("--sizes")
        .unwrap_or("5000,50000,200000")
        .split(',')
        .map(|s| s.trim().parse().expect("--sizes: numbers, comma-separated"))
        .collect();
    let frames: usize = args.positive("--frames", 60);
    let signals: usize = args.positive("--signals", 1000);
    let updates: usize = args.positive("--updates", 5000);
    let seconds: f64 = args.positive("--seconds", 5.0);

    let host = Host::start_with(&(default_config(&plugins_dir("wasm")) + "\n[web]\ncookie_secure = false\n"));
    let dir = host.config.parent().expect("the config's folder").join("diagrams");
    std::fs::create_dir_all(&dir).expect("the diagrams folder");
    for &n in &sizes {
        std::fs::write(dir.join(format!("d{n}.xml")), generate(n, 0)).expect("write a diagram");
    }
    std::fs::write(dir.join("updates.xml"), generate(signals * 5, signals)).expect("write the updates diagram");
    add_user(&host, &["bench", "--role", "admin"], "bench password");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    runtime.block_on(async {
        let driver = Chromedriver::start();
        let client = driver.session(1366, 768).await;
        let timeouts = fantoccini::wd::TimeoutConfiguration::new(Some(DRAW_DEADLINE), Some(DRAW_DEADLINE), None);
        client.update_timeouts(timeouts).await.expect("timeouts");
        let base = format!("http://{}", host.api);
        client.goto(&format!("{base}/")).await.expect("open the UI");
        client
            .execute_async(
                "const done = arguments[0]; fetch('/api/v1/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({user: 'bench', password: 'bench password'})}).then((r) => done(r.status));",
                vec![],
            )
            .await
            .expect("log in");
        client.execute("location.reload(); return true", vec![]).await.expect("reload");
        let logged_in = "const done = arguments[0]; const look = () => document.getElementById('topbar') && !document.getElementById('topbar').hidden ? done(true) : setTimeout(look, 20); look();";
        client.execute_async(logged_in, vec![]).await.expect("logged in");
        println!(
            "diagram viewer vs SVG DOM, headless Chromium (WebGL2 on SwiftShader), 1366x768, {frames} frames of panning ({} with WebGL2 asked for)",
            frames.min(GL_FRAMES)
        );
        println!(
            "{:>7} {:>9} {:>8} {:>7} {:>7} | {:>8} {:>7} {:>7} | {:>8} {:>7} {:>7} | {:>6}",
            "prims", "chosen", "first", "p50", "p95", "webgl2", "p50", "p95", "SVG", "p50", "p95", "p95 x"
        );
        let set_renderer = |value: &'static str| {
            let client = client.clone();
            async move {
                let script = format!("localStorage.{value}; return true");
                client.execute(&script, vec![]).await.expect("the renderer's key");
            }
        };
        for &n in &sizes {
            set_renderer("removeItem('meterhub.diagram.renderer')").await;
            let opened = client.execute_async(OPEN, vec![format!("d{n}").into()]).await.expect("open");
            let pan = client.execute_async(PAN_VIEWER, vec![frames.into(), 0.into(), 1.into()]).await.expect("pan");
            let svg_first = client.execute_async(BUILD_SVG, vec![]).await.expect("svg");
            let svg_pan = client.execute_async(PAN_SVG, vec![frames.into()]).await.expect("pan svg");
            client.goto(&format!("{base}/#/live")).await.expect("leave");
            set_renderer("setItem('meterhub.diagram.renderer', 'webgl2')").await;
            let gl_opened = client.execute_async(OPEN, vec![format!("d{n}").into()]).await.expect("open webgl2");
            let gl_pan = client
                .execute_async(PAN_VIEWER, vec![frames.min(GL_FRAMES).into(), 0.into(), 1.into()])
                .await
                .expect("pan webgl2");
            client.goto(&format!("{base}/#/live")).await.expect("leave");
            let (ours, gl, theirs) = (times(&pan), times(&gl_pan), times(&svg_pan));
            println!(
                "{:>7} {:>9} {:>8.0} {:>7.1} {:>7.1} | {:>8.0} {:>7.1} {:>7.1} | {:>8.0} {:>7.1} {:>7.1} | {:>6.1}",
                opened[2],
                opened[1].as_str().unwrap_or("?"),
                opened[0].as_f64().unwrap_or(f64::NAN),
                percentile(&ours, 0.5),
                percentile(&ours, 0.95),
                gl_opened[0].as_f64().unwrap_or(f64::NAN),
                percentile(&gl, 0.5),
                percentile(&gl, 0.95),
                svg_first.as_f64().unwrap_or(f64::NAN),
                percentile(&theirs, 0.5),
                percentile(&theirs, 0.95),
                percentile(&theirs, 0.95) / percentile(&ours, 0.95),
            );
        }
        set_renderer("removeItem('meterhub.diagram.renderer')").await;
        let opened = client.execute_async(OPEN, vec!["updates".into()]).await.expect("open updates");
        let updates_frames = (seconds * 60.0) as usize;
        let fed = client
            .execute_async(PAN_VIEWER, vec![updates_frames.into(), updates.into(), signals.into()])
            .await
            .expect("updates");
        let t = times(&fed);
        let took: f64 = t.iter().sum::<f64>() / 1000.0;
        println!(
            "updates: {} primitives, {signals} bound meters, {} readings in {took:.1} s ({:.0}/s asked {updates}/s): frame p50 {:.1} ms, p95 {:.1} ms ({})",
            opened[2],
            fed["sent"],
            fed["sent"].as_f64().unwrap_or(0.0) / took.max(1e-9),
            percentile(&t, 0.5),
            percentile(&t, 0.95),
            opened[1].as_str().unwrap_or("?"),
        );
        let _ = client.close().await;
    });
}

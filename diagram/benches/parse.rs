//! How the streaming reader scales: diagrams of 20,000 and 200,000
//! primitives (rectangles, lines, polylines, text, nested groups, object
//! instances, data producers), generated in memory, read and compiled
//! five times each. Prints the input's size, the median time of a parse
//! with its compilation, the heap memory at its peak and after it, and the
//! size of the compiled JSON.
//!
//! `cargo bench -p meterhub-diagram --bench parse`
//!
//! Heap memory is counted by a global allocator around the system's: the
//! peak is the most bytes live at once during the parse over those live
//! before it (so the input's text is not counted), the reader's working
//! memory plus the compiled diagram it returns; what stays live after it
//! is the compiled diagram alone.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use meterhub_testkit::alloc::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs per size; the median is reported.
const RUNS: usize = 5;

/// Elements per inner group; inner groups per outer group.
const GROUP: usize = 100;
const GROUPS_PER_OUTER: usize = 10;

/// A diagram of `n` elements: an object defined once, then groups of
/// groups holding a repeating mix of primitives, object instances and
/// elements with data producers (two channels of a thousand meters).
fn generate(n: usize) -> String {
    let mut xml = String::with_capacity(n * 120);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Diagram Name=\"bench\" Range=\"0,0,100000,100000\">\n");
    xml.push_str(
        r#"  <Object Name="BenchValve" Range="-10,-10,10,10">
    <Property name="Pressure" type="number" value="0"/>
    <Polygon points="-10,-10 0,0 -10,10"/>
    <Polygon points="10,-10 0,0 10,10"/>
    <Ellipse id="knob" position="-3,-3,3,3" fill="ffffff">
      <Producer property="Pressure" when="above" value="0.6">
        <Action type="change_fill" value="ff0000"><Target id="knob"/></Action>
      </Producer>
    </Ellipse>
  </Object>
"#,
    );
    for i in 0..n {
        if i % (GROUP * GROUPS_PER_OUTER) == 0 {
            let _ = writeln!(xml, "  <Group Name=\"area{}\">", i / (GROUP * GROUPS_PER_OUTER));
        }
        if i % GROUP == 0 {
            let (dx, dy) = ((i / GROUP) % 100 * 1000, (i / GROUP) / 100 * 1000);
            let _ = writeln!(xml, "    <Group Name=\"panel{}\" Transform=\"1,0,{dx},0,1,{dy}\">", i / GROUP);
        }
        element(&mut xml, i);
        if i % GROUP == GROUP - 1 || i == n - 1 {
            xml.push_str("    </Group>\n");
        }
        if i % (GROUP * GROUPS_PER_OUTER) == GROUP * GROUPS_PER_OUTER - 1 || i == n - 1 {
            xml.push_str("  </Group>\n");
        }
    }
    xml.push_str("</Diagram>\n");
    xml
}

/// Element `i` of the mix.
fn element(xml: &mut String, i: usize) {
    let (x, y) = ((i % 10) as f64 * 90.5, (i % GROUP / 10) as f64 * 95.25);
    let _ = match i % 10 {
        0..=2 => writeln!(
            xml,
            r#"      <Rectangle position="{x},{y},{},{}" color="336699" fill="e0e0e0" width="1.5"/>"#,
            x + 80.0,
            y + 40.0
        ),
        3 | 4 => writeln!(xml, r#"      <Line position="{x},{y},{},{y}" color="000000"/>"#, x + 80.0),
        5 | 6 => {
            let points: Vec<String> =
                (0..8).map(|k| format!("{},{}", x + f64::from(k) * 10.0, y + f64::from(k % 2) * 7.5)).collect();
            writeln!(xml, r#"      <Polyline points="{}" color="0055d4" width="2"/>"#, points.join(" "))
        }
        7 => writeln!(
            xml,
            r#"      <Text id="t{i}" position="{x},{y}" size="12">—<Producer device="meter-{}" channel="volume"><Action type="show_value" decimals="3" unit="m³"><Target id="t{i}"/></Action></Producer></Text>"#,
            (i / 10) % 1000
        ),
        8 => writeln!(
            xml,
            r#"      <BenchValve id="v{i}" position="{x},{y},{},{}"><Property name="Pressure" value="0.4"/></BenchValve>"#,
            x + 20.0,
            y + 20.0
        ),
        _ => writeln!(
            xml,
            r#"      <Rectangle id="r{i}" position="{x},{y},{},{}" fill="00aa00"><Producer device="meter-{}" channel="pressure" when="above" value="0.6"><Action type="change_fill" value="ff0000"><Target id="r{i}"/></Action></Producer></Rectangle>"#,
            x + 40.0,
            y + 40.0,
            (i / 10) % 1000
        ),
    };
}

/// One parse and compilation.
struct Run {
    took: Duration,
    /// The most heap bytes live at once during it, over those before.
    peak: usize,
    /// The heap bytes live after it, over those before: the compiled diagram.
    kept: usize,
    diagram: meterhub_diagram::Diagram,
}

fn measure(xml: &str) -> Run {
    let start = Instant::now();
    let (diagram, peak, kept) = meterhub_testkit::alloc::measure(|| {
        meterhub_diagram::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("the generated diagram: {e:#?}"))
    });
    let took = start.elapsed();
    Run { took, peak, kept, diagram }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The process's peak resident memory (VmHWM), for comparison.
fn vm_hwm() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map_or_else(|| "?".to_owned(), |v| v.trim().to_owned())
}

fn main() {
    println!(
        "{:>10}  {:>9}  {:>13}  {:>9}  {:>9}  {:>9}  {:>7}",
        "primitives", "input", "parse+compile", "peak heap", "kept heap", "JSON", "signals"
    );
    for n in [20_000, 200_000] {
        let xml = generate(n);
        let mut runs: Vec<Run> = (0..RUNS).map(|_| measure(&xml)).collect();
        runs.sort_by_key(|r| r.took);
        let median = &runs[RUNS / 2];
        assert_eq!(median.diagram.elements.len(), n, "every generated element is compiled");
        let json = serde_json::to_string(&median.diagram).map_or(0, |j| j.len());
        println!(
            "{:>10}  {:>9}  {:>10.1} ms  {:>9}  {:>9}  {:>9}  {:>7}",
            n,
            mib(xml.len()),
            median.took.as_secs_f64() * 1000.0,
            mib(median.peak),
            mib(median.kept),
            mib(json),
            median.diagram.signals.len()
        );
    }
    println!(
        "parse+compile: the median of {RUNS} runs; peak heap: the most bytes live during that run over those before it;"
    );
    println!("kept heap: live after it (the compiled diagram); JSON: the compiled form serialized.");
    println!("process peak resident memory (VmHWM, the generated inputs included): {}", vm_hwm());
}

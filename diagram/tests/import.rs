//! `meterhub diagram import` as data: the SVG drawings of `fixtures/svg/`
//! (one as Inkscape writes it, one plain) imported, the diagram read back
//! by the project's own parser, and its geometry, groups, colours and
//! warnings checked against the drawing.

use kurbo::{CubicBez, Line, ParamCurve, ParamCurveNearest, Point};
use meterhub_diagram::import::{FLATTEN_FRACTION, ImportError, Imported, import};
use meterhub_diagram::model::{Element, Shape};
use meterhub_diagram::{Diagram, parse};

fn svg(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/svg").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Imports `text` and reads the result back as the host would.
fn import_and_parse(text: &str, name: &str) -> (Imported, Diagram) {
    let imported = import(text, name).unwrap_or_else(|e| panic!("{e}"));
    let diagram = parse(imported.xml.as_bytes()).unwrap_or_else(|e| panic!("{e:#?}\n{}", imported.xml));
    (imported, diagram)
}

fn element<'a>(d: &'a Diagram, id: &str) -> &'a Element {
    d.elements.iter().find(|e| e.id.as_deref() == Some(id)).unwrap_or_else(|| panic!("no element {id:?}"))
}

fn points(e: &Element) -> Vec<Point> {
    match &e.shape {
        Shape::Polyline { p } | Shape::Polygon { p } => p.chunks(2).map(|c| Point::new(c[0], c[1])).collect(),
        other => panic!("not a polyline or polygon: {other:?}"),
    }
}

/// The distance from `p` to the polyline through `vertices` (closed: back
/// to the first).
fn distance_to(vertices: &[Point], closed: bool, p: Point) -> f64 {
    let mut edges: Vec<Line> = vertices.windows(2).map(|w| Line::new(w[0], w[1])).collect();
    if closed && let (Some(first), Some(last)) = (vertices.first(), vertices.last()) {
        edges.push(Line::new(*last, *first));
    }
    edges.iter().map(|l| l.nearest(p, 1e-9).distance_sq.sqrt()).fold(f64::INFINITY, f64::min)
}

/// The `line:col` where the element holding `needle` starts in `text`.
fn at(text: &str, needle: &str) -> String {
    let found = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in the fixture"));
    let start = text[..found].rfind('<').unwrap_or(0);
    let line = text[..start].matches('\n').count() + 1;
    let col = text[..start].rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    format!("{line}:{col}")
}

fn assert_near(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < 1e-9, "{actual:?} vs {expected:?}");
    }
}

#[test]
fn an_inkscape_drawing_keeps_its_layers_transforms_and_text() {
    let (_, d) = import_and_parse(&svg("boiler-house-inkscape.svg"), "boiler-house");
    assert_eq!((d.name.as_str(), d.range), ("boiler-house", [0.0, 0.0, 210.0, 148.0]));

    // Layers by their labels; a plain <g> by its id; a text's own
    // transform as a group of its own.
    let names: Vec<Option<&str>> = d.groups.iter().map(|g| g.name.as_deref()).collect();
    assert_eq!(names, [Some("Equipment"), Some("g5"), Some("Labels"), None]);
    assert_eq!(d.groups[0].transform, Some([1.0, 0.0, 10.0, 0.0, 1.0, 5.0]));
    // rotate(90,160,60): x' = -y + 220, y' = x - 100.
    assert_eq!(d.groups[1].transform, Some([0.0, -1.0, 220.0, 1.0, 0.0, -100.0]));
    assert_eq!(d.groups[1].parent, Some(0));
    let (sin, cos) = 15f64.to_radians().sin_cos();
    assert_near(&d.groups[3].transform.expect("rotate(-15)"), &[cos, sin, 0.0, -sin, cos, 0.0]);

    let boiler = element(&d, "boiler1");
    assert_eq!(boiler.shape, Shape::Rect { p: [20.0, 15.0, 60.0, 45.0] });
    assert_eq!(
        (boiler.color.as_deref(), boiler.fill.as_deref(), boiler.width),
        (Some("333333"), Some("e0e0e0"), Some(0.5))
    );
    assert_eq!(boiler.group, Some(0));
    // A gradient: its first stop's colour, through the href chain.
    assert_eq!(element(&d, "tank1").fill.as_deref(), Some("3366cc"));
    // No stroke: the outline takes the fill's colour.
    let pump = element(&d, "pump1");
    assert_eq!(pump.shape, Shape::Ellipse { p: [92.0, 22.0, 108.0, 38.0] });
    assert_eq!((pump.color.as_deref(), pump.fill.as_deref(), pump.width), (Some("00aa00"), Some("00aa00"), None));
    // Two closed subpaths: two polygons, the second id made unique.
    for id in ["valve1", "valve1_2"] {
        assert!(matches!(element(&d, id).shape, Shape::Polygon { .. }));
        assert_eq!(element(&d, id).group, Some(1));
    }

    let text = element(&d, "text1");
    assert_eq!(text.shape, Shape::Text { p: [20.0, 10.0], text: "Boiler & pump".into(), size: 6.0 });
    assert_eq!((text.color.as_deref(), text.group), (Some("1a1a1a"), Some(2)));
    let Shape::Text { text, size, .. } = &element(&d, "text2").shape else { panic!("text2 is a Text") };
    assert_eq!((text.as_str(), *size), ("P1 15 kW", 4.2333));
    assert_eq!(element(&d, "text2").group, Some(3));

    // Nine elements: nothing from the hidden layer, the clip path or the clone.
    let ids: Vec<&str> = d.elements.iter().filter_map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, ["boiler1", "tank1", "pump1", "pipe1", "gauge1", "valve1", "valve1_2", "text1", "text2"]);
}

#[test]
fn curves_are_flattened_within_the_tolerance_of_the_true_curve() {
    let (_, d) = import_and_parse(&svg("boiler-house-inkscape.svg"), "boiler-house");
    let tolerance = 210.0 * FLATTEN_FRACTION;
    // Rounding the points to 4 decimals moves them a little more.
    let slack = tolerance + 1e-4;

    // "m 60,30 h 15 c 5,0 10,-5 17,0": a line, then a cubic.
    let pipe = points(element(&d, "pipe1"));
    assert_eq!(pipe[..2], [Point::new(60.0, 30.0), Point::new(75.0, 30.0)]);
    assert_eq!(pipe.last(), Some(&Point::new(92.0, 30.0)));
    assert!(pipe.len() > 2 + 3, "the curve is more than its ends: {pipe:?}");
    let curve = CubicBez::new((75.0, 30.0), (80.0, 30.0), (85.0, 25.0), (92.0, 30.0));
    for i in 0..=200 {
        let on_curve = curve.eval(f64::from(i) / 200.0);
        let off = distance_to(&pipe[1..], false, on_curve);
        assert!(off <= slack, "the curve at {on_curve:?} is {off} from the polyline");
    }
    for p in &pipe[1..] {
        assert!(curve.nearest(*p, 1e-9).distance_sq.sqrt() <= slack, "{p:?} is off the curve");
    }

    // "M 130,30 A 10,10 0 0 1 150,30 Z": the upper half of the circle of
    // radius 10 about (140,30), closed by its diameter.
    let gauge = points(element(&d, "gauge1"));
    assert!(matches!(element(&d, "gauge1").shape, Shape::Polygon { .. }));
    assert!(gauge.len() > 3, "{gauge:?}");
    let centre = Point::new(140.0, 30.0);
    for p in &gauge {
        assert!(((*p - centre).hypot() - 10.0).abs() <= slack, "{p:?} is off the arc");
        assert!(p.y <= 30.0, "{p:?}: the sweep flag draws the upper half");
    }
    for i in 0..=180 {
        let angle = f64::from(180 + i).to_radians();
        let on_arc = centre + 10.0 * kurbo::Vec2::new(angle.cos(), angle.sin());
        let off = distance_to(&gauge, true, on_arc);
        assert!(off <= slack, "the arc at {on_arc:?} is {off} from the polygon");
    }
}

#[test]
fn what_is_not_converted_is_a_warning_at_its_line_and_column() {
    let text = svg("boiler-house-inkscape.svg");
    let (imported, _) = import_and_parse(&text, "boiler-house");
    let warnings: Vec<String> = imported.warnings.iter().map(ToString::to_string).collect();
    let expected = [
        (at(&text, "id=\"defs1\""), "<defs id=\"defs1\">: definitions not converted: 1 <clipPath>"),
        (
            at(&text, "url(#linearGradient2)"),
            "<rect id=\"tank1\">: fill url(#linearGradient2) is a gradient: its first stop's colour 3366cc used",
        ),
        (at(&text, "url(#linearGradient2)"), "<rect id=\"tank1\">: rounded corners (rx, ry) dropped"),
        (at(&text, "M 150,55"), "<path id=\"valve1\">: 2 closed subpaths filled one by one: holes are not kept"),
        (at(&text, "text-anchor:middle"), "<text id=\"text2\">: 2 lines joined into one Text"),
        (at(&text, "text-anchor:middle"), "<text id=\"text2\">: text-anchor ignored: the text starts at its position"),
        (
            at(&text, "xlink:href=\"#pump1\""),
            "<use id=\"use1\">: a clone (<use>) is not expanded: unlink it in the editor first",
        ),
        (at(&text, "Hidden notes"), "<g id=\"layer3\">: hidden (display:none): skipped"),
    ];
    let expected: Vec<String> = expected.iter().map(|(at, rest)| format!("{at}: {rest}")).collect();
    assert_eq!(warnings, expected);

    let text = svg("substation-plain.svg");
    let (imported, _) = import_and_parse(&text, "substation");
    let warnings: Vec<String> = imported.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!("{}: <rect>: draws nothing (neither fill nor stroke): skipped", at(&text, "x=\"300\" y=\"250\"")),
            format!(
                "{}: <image>: an embedded image (data: URI) is not kept: save it in the diagrams folder and link it",
                at(&text, "data:image/png")
            ),
        ]
    );
}

#[test]
fn a_plain_svg_inherits_paint_and_wraps_a_transformed_shape_in_a_group() {
    let (_, d) = import_and_parse(&svg("substation-plain.svg"), "substation");
    // The viewBox, not width and height (which only scale it on screen).
    assert_eq!(d.range, [0.0, 0.0, 400.0, 300.0]);
    let kinds: Vec<&str> = d
        .elements
        .iter()
        .map(|e| match &e.shape {
            Shape::Rect { .. } => "rect",
            Shape::Ellipse { .. } => "ellipse",
            Shape::Line { .. } => "line",
            Shape::Polyline { .. } => "polyline",
            Shape::Polygon { .. } => "polygon",
            Shape::Text { .. } => "text",
            Shape::Image { .. } => "image",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["rect", "rect", "ellipse", "line", "polyline", "polygon", "rect", "polyline", "image", "text"]);
    let [_, rect, ellipse, line, _, polygon, turned, curve, image, text] = &d.elements[..] else { unreachable!() };

    // Fill and stroke from the group; rgb() and named colours.
    assert_eq!(rect.shape, Shape::Rect { p: [50.0, 40.0, 150.0, 100.0] });
    assert_eq!((rect.color.as_deref(), rect.fill.as_deref(), rect.width), (Some("000080"), Some("ff0000"), Some(2.0)));
    assert_eq!(
        (ellipse.shape.clone(), ellipse.fill.as_deref()),
        (Shape::Ellipse { p: [210.0, 45.0, 290.0, 95.0] }, None)
    );
    assert_eq!((line.color.as_deref(), line.fill.as_deref()), (Some("000080"), None));
    assert_eq!((polygon.color.as_deref(), polygon.fill.as_deref()), (Some("ff0000"), Some("ff0000")));

    // rotate(45 20 15) on the rectangle itself: a group of its own that
    // keeps (20,15) in place and turns (30,15) by 45°.
    let group = &d.groups[turned.group.expect("in a group") as usize];
    let t = group.transform.expect("a transform");
    let map = |x: f64, y: f64| [t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5]];
    assert_near(&map(20.0, 15.0), &[20.0, 15.0]);
    let h = 10.0 / 2f64.sqrt();
    assert_near(
        &map(30.0, 15.0).map(|v| (v * 1e6).round() / 1e6),
        &[20.0 + h, 15.0 + h].map(|v| (v * 1e6).round() / 1e6),
    );

    // "M 50 250 Q 100 200 150 250 T 250 250": the smooth quadratic mirrors
    // the first; both flattened, each apex 25 from the baseline.
    let p = points(curve);
    assert!(p.len() > 10, "{p:?}");
    assert_eq!((p.first(), p.last()), (Some(&Point::new(50.0, 250.0)), Some(&Point::new(250.0, 250.0))));
    let tolerance = 400.0 * FLATTEN_FRACTION;
    let top = p.iter().map(|p| p.y).fold(f64::INFINITY, f64::min);
    let bottom = p.iter().map(|p| p.y).fold(f64::NEG_INFINITY, f64::max);
    assert!((top - 225.0).abs() <= tolerance && (bottom - 275.0).abs() <= tolerance, "{top} {bottom}");

    assert_eq!(image.shape, Shape::Image { p: [360.0, 10.0, 392.0, 42.0], href: "breaker.png".into() });
    assert_eq!(text.shape, Shape::Text { p: [50.0, 290.0], text: "Feeder 1 <10 kV>".into(), size: 12.0 });
    assert_eq!(text.color.as_deref(), Some("222222"));
}

#[test]
fn style_wins_over_attributes_and_current_color_follows_color() {
    let (_, d) = import_and_parse(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
             <rect id="r" x="1" y="2" width="3" height="4" fill="red" style="fill: #0000ff ; stroke:lime"/>
             <g color="green"><circle id="c" cx="50" cy="50" r="5" fill="currentColor"/></g>
           </svg>"#,
        "styles",
    );
    assert_eq!((element(&d, "r").fill.as_deref(), element(&d, "r").color.as_deref()), (Some("0000ff"), Some("00ff00")));
    assert_eq!(element(&d, "c").fill.as_deref(), Some("008000"));
}

#[test]
fn ids_are_kept_unique_and_escaped() {
    let (imported, d) = import_and_parse(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
             <rect id="a&amp;b&quot;c" width="1" height="1"/>
             <rect id="a&amp;b&quot;c" width="2" height="2"/>
             <path id="p" d="M0,0 L10,0 M0,5 L10,5" stroke="black"/>
             <rect id="p_2" width="3" height="3"/>
           </svg>"#,
        "Boiler \"A\" & <B>",
    );
    assert_eq!(d.name, "Boiler \"A\" & <B>");
    let ids: Vec<&str> = d.elements.iter().filter_map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, ["a&b\"c", "a&b\"c_2", "p", "p_2", "p_2_2"]);
    let renamed: Vec<&str> = imported.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(renamed, ["id \"a&b\\\"c\" is taken: \"a&b\\\"c_2\" instead", "id \"p_2\" is taken: \"p_2_2\" instead"]);
}

#[test]
fn without_a_viewbox_the_range_is_the_page_or_else_the_extent_of_the_drawing() {
    let (_, d) = import_and_parse(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="100mm" height="50mm"><rect width="1" height="1"/></svg>"#,
        "page",
    );
    assert_near(&d.range, &[0.0, 0.0, 100.0 * 96.0 / 25.4, 50.0 * 96.0 / 25.4]);

    let (imported, d) = import_and_parse(
        r#"<svg xmlns="http://www.w3.org/2000/svg">
             <rect x="10" y="20" width="30" height="40" stroke="black"/>
             <g transform="translate(100,0)"><circle r="5"/></g>
           </svg>"#,
        "extent",
    );
    assert_eq!(d.range, [10.0, -5.0, 105.0, 60.0]);
    assert_eq!(
        imported.warnings[0].to_string(),
        "1:1: <svg>: no viewBox, nor an absolute width and height: the Range is the extent of the drawing"
    );
}

#[test]
fn malformed_svg_is_an_error_at_its_line_and_column() {
    let broken = "<svg xmlns=\"http://www.w3.org/2000/svg\">\n  <rect x=\"1\">\n</svg>\n";
    match import(broken, "broken") {
        Err(ImportError::Xml { line, col, message }) => {
            assert_eq!((line, col), (3, 1), "{message}");
            assert!(message.contains("rect"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let html = "<html>\n<body/></html>";
    assert_eq!(import(html, "page").unwrap_err().to_string(), "1:1: the root element is <html>, not an SVG <svg>");
}

#[test]
fn text_with_markup_characters_reads_back_as_written() {
    let (imported, d) = import_and_parse(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
             <text x="1" y="2">a &amp; b &lt;c&gt; ]]&gt;  d</text>
             <text x="1" y="20">plain</text>
           </svg>"#,
        "text",
    );
    let texts: Vec<&str> = d
        .elements
        .iter()
        .map(|e| match &e.shape {
            Shape::Text { text, .. } => text.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["a & b <c> ]]> d", "plain"]);
    assert!(imported.xml.contains(">plain</Text>"), "{}", imported.xml);
}

#[test]
fn the_imported_fixtures_are_valid_for_the_schema_too() {
    const XMLLINT: &str = "/usr/bin/xmllint";
    assert!(
        std::path::Path::new(XMLLINT).exists(),
        "{XMLLINT} is needed: run scripts/install-browser (scripts/test does)"
    );
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/diagram.rng");
    for name in ["boiler-house-inkscape", "substation-plain"] {
        let (imported, _) = import_and_parse(&svg(&format!("{name}.svg")), name);
        let file = std::env::temp_dir().join(format!("meterhub-import-{}-{name}.xml", std::process::id()));
        std::fs::write(&file, &imported.xml).expect("a temporary file");
        let out = std::process::Command::new(XMLLINT)
            .arg("--noout")
            .arg("--relaxng")
            .arg(&schema)
            .arg(&file)
            .output()
            .expect("xmllint runs");
        let _ = std::fs::remove_file(&file);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn numbers_beyond_a_diagram_are_left_out_with_a_warning() {
    // svgtypes refuses a number that overflows; arithmetic on two that do
    // not can still overflow.
    let (imported, d) = import_and_parse(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
             <rect id="huge" x="1e308mm" width="5" height="5"/>
             <circle id="far" cx="1e308" r="1e308"/>
           </svg>"#,
        "numbers",
    );
    let ids: Vec<&str> = d.elements.iter().filter_map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, ["huge"]);
    assert_eq!(element(&d, "huge").shape, Shape::Rect { p: [0.0, 0.0, 5.0, 5.0] });
    let messages: Vec<&str> = imported.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        ["x: beyond the numbers a diagram holds; left out", "coordinates beyond the numbers a diagram holds: skipped"]
    );
}

#[test]
fn groups_nested_too_deep_are_cut_with_a_warning_not_a_crash() {
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">{}<rect width="1" height="1"/>{}</svg>"#,
        "<g>".repeat(100_000),
        "</g>".repeat(100_000)
    );
    let (imported, d) = import_and_parse(&svg, "deep");
    assert_eq!((d.groups.len(), d.elements.len()), (256, 0));
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(imported.warnings[0].message.starts_with("nested deeper than 256"), "{:?}", imported.warnings);
}

//! The language as data: fixtures in, the compiled diagram (or errors at
//! their places) out.

use std::io::{BufReader, Read};

use meterhub_diagram::model::{Condition, Effect, Producer, Shape, Target};
use meterhub_diagram::{Diagram, parse};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn compile(text: &str) -> Diagram {
    parse(text.as_bytes()).unwrap_or_else(|errors| panic!("{errors:#?}"))
}

fn errors(text: &str) -> Vec<String> {
    match parse(text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_construct_compiles() {
    let d = compile(&fixture("every-construct.xml"));
    assert_eq!(
        (d.name.as_str(), d.range, d.background.as_deref()),
        ("ГРП-1", [0.0, 0.0, 1000.0, 600.0], Some("f4f6f8"))
    );
    assert_eq!(d.features, ["technical", "valves"]);
    // Elements in drawing order: the ordinal is the position, from 1.
    let kinds: Vec<&str> = d
        .elements
        .iter()
        .map(|e| match &e.shape {
            Shape::Line { .. } => "line",
            Shape::Rect { .. } => "rect",
            Shape::Ellipse { .. } => "ellipse",
            Shape::Arc { .. } => "arc",
            Shape::Polyline { .. } => "polyline",
            Shape::Polygon { .. } => "polygon",
            Shape::Text { .. } => "text",
            Shape::Image { .. } => "image",
            Shape::Object { .. } => "object",
        })
        .collect();
    assert_eq!(
        kinds,
        ["rect", "text", "rect", "polyline", "polygon", "arc", "image", "object", "text", "object", "text", "rect"]
    );
    // A standard object, carried by the diagram; entities in text.
    assert!(d.objects.contains_key("Valve"));
    let Shape::Text { text, .. } = &d.elements[10].shape else { panic!() };
    assert_eq!(text, "Кран & байпас №1");
    assert!(d.actions.iter().any(|a| a.effect == Effect::SetProperty { name: "Voltage".into(), value: None }));
    // Groups nest, with their transforms.
    assert_eq!(d.groups.len(), 2);
    assert_eq!(d.groups[0].transform, Some([1.0, 0.0, 0.0, 0.0, -1.0, 0.0]));
    assert_eq!((d.groups[1].parent, d.elements[3].group), (Some(0), Some(1)));
    assert_eq!(d.elements[2].features, [0, 1]);
    // The object: properties, its own drawing, an action on a property.
    let lamp = &d.objects["Lamp"];
    assert_eq!((lamp.properties.len(), lamp.elements.len()), (2, 3));
    assert_eq!(lamp.actions[0].target, Target::Element { element: 3 }, "the bulb, by id within the object");
    let Shape::Object { object, props, .. } = &d.elements[7].shape else { panic!() };
    assert_eq!((object.as_str(), props["Voltage"].as_str()), ("Lamp", "220"));
    // The button before the rectangle: resolved forward, both ways.
    assert_eq!(d.actions[0].producer, Producer::User { event: "mouseup".into(), element: 1 });
    assert_eq!(d.actions[0].target, Target::Element { element: 3 });
    assert_eq!(d.actions[1].producer, Producer::User { event: "mouseup".into(), element: 1 });
    assert_eq!(d.actions[1].target, Target::Element { element: 3 }, "TARGET-ACTION-PRODUCER");
    // Data: signals once each, conditions, effects.
    let signals: Vec<(&str, &str)> = d.signals.iter().map(|s| (s.device.as_str(), s.channel.as_str())).collect();
    assert_eq!(signals, [("grp-1", "pressure"), ("grp-1", "magnet"), ("grp-1", "volume")]);
    assert!(
        d.actions
            .iter()
            .any(|a| a.producer == Producer::Data { signal: 0, when: Condition::Range { min: 0.3, max: 0.6 } })
    );
    assert!(d.actions.iter().any(|a| a.effect == Effect::ShowValue { decimals: Some(2), unit: Some("МПа".into()) }));
    assert!(
        d.actions.iter().any(|a| a.effect == Effect::Blink { on: true } && a.target == Target::Feature { feature: 1 })
    );
    assert!(
        d.actions
            .iter()
            .any(|a| a.effect == Effect::Goto { diagram: "boiler-house".into() } && a.target == Target::Diagram)
    );
    assert!(d.actions.iter().any(|a| a.effect == Effect::Zoom { factor: 1.5 } && a.target == Target::Diagram));
    // Compact JSON: short keys, no nulls.
    let json = serde_json::to_string(&d).unwrap();
    assert!(!json.contains("null"), "{json}");
    assert!(json.contains(r#""k":"rect","p":[20.0,20.0,120.0,60.0]"#), "{json}");
}

#[test]
fn errors_name_line_and_column() {
    let text = "<Diagram Range=\"0,0,10,10\">\n  <Rectangle position=\"0,0,1\"/>\n  <Circle position=\"0,0,1,1\"/>\n  <Line position=\"0,0,1,1\" color=\"red\"/>\n  <Rectangle position=\"0,0,1,1\">\n    <Producer event=\"click\"><Action type=\"change_color\" value=\"ff0000\"><Target id=\"nowhere\"/></Action></Producer>\n  </Rectangle>\n</Diagram>\n";
    let e = errors(text);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(e[0].starts_with("2:3: <Rectangle>: position takes 4 numbers, got 3"), "{e:#?}");
    assert!(e[1].starts_with("3:3: <Circle>: unknown element \"Circle\""), "{e:#?}");
    assert!(e[2].starts_with("4:3: <Line>: \"red\" is not a colour"), "{e:#?}");
    assert!(e[3].starts_with("6:72: no element has id \"nowhere\""), "{e:#?}");
}

#[test]
fn malformed_xml_and_misplaced_tags_are_named() {
    let e = errors("<Diagram Range=\"0,0,1,1\">\n<Line position=\"0,0,1,1\">\n</Diagram>\n");
    assert!(e.iter().any(|e| e.starts_with("3:") && e.contains("not well-formed")), "{e:#?}");
    assert!(errors("<Scheme/>")[0].starts_with("1:1: <Scheme>: a diagram file starts with <Diagram>"));
    let e = errors("<Diagram Range=\"0,0,1,1\"><Feature name=\"x\"/></Diagram>");
    assert!(e[0].contains("a <Feature> goes inside the element it marks"), "{e:#?}");
    let e = errors(
        "<Diagram Range=\"0,0,1,1\"><Tank position=\"0,0,1,1\"/><Object Name=\"Tank\" Range=\"0,0,1,1\"/></Diagram>",
    );
    assert!(e[0].contains("no <Object Name=\"Tank\"> above"), "an object is defined before it is used: {e:#?}");
    let e = errors(
        "<Diagram Range=\"0,0,1,1\"><Producer device=\"m\" channel=\"v\" when=\"above\"><Action type=\"blink\" value=\"on\"/></Producer></Diagram>",
    );
    assert!(e[0].contains("when=\\\"above\\\" needs a \\\"value\\\"") || e[0].contains("needs a \"value\""), "{e:#?}");
}

#[test]
fn elements_and_objects_are_only_where_they_can_be_drawn() {
    // Found by the fuzzer: an object defined inside an element, then a
    // feature in it (a panic on another scope's element).
    let e = errors(
        "<Diagram Range=\"0,0,1,1\"><Rectangle position=\"0,0,1,1\"><Object Name=\"X\" Range=\"0,0,1,1\"><Feature name=\"f\"/></Object></Rectangle></Diagram>",
    );
    assert!(e[0].contains("an <Object> is defined at the top of the diagram"), "{e:#?}");
    let e = errors(
        "<Diagram Range=\"0,0,1,1\"><Rectangle position=\"0,0,1,1\"><Line position=\"0,0,1,1\"/></Rectangle></Diagram>",
    );
    assert!(e[0].contains("not inside another element"), "{e:#?}");
}

/// A generated diagram of `n` rectangles, produced as it is read.
struct Generated {
    n: usize,
    next: usize,
    pending: Vec<u8>,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            self.pending = if self.next == 0 {
                b"<Diagram Range=\"0,0,100000,100000\">\n".to_vec()
            } else if self.next <= self.n {
                let i = self.next;
                format!(
                    "  <Rectangle position=\"{},{},{},{}\" color=\"336699\"/>\n",
                    i % 1000,
                    i / 1000,
                    i % 1000 + 1,
                    i / 1000 + 1
                )
                .into_bytes()
            } else if self.next == self.n + 1 {
                b"</Diagram>\n".to_vec()
            } else {
                return Ok(0);
            };
            self.next += 1;
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[test]
fn two_hundred_thousand_primitives_are_read_as_a_stream() {
    let n = 200_000;
    let d = parse(BufReader::new(Generated { n, next: 0, pending: Vec::new() })).expect("compiles");
    assert_eq!(d.elements.len(), n);
    assert_eq!(d.elements[n - 1].shape, Shape::Rect { p: [0.0, 200.0, 1.0, 201.0] });
}

#[test]
fn entities_and_character_references_in_text_are_kept_with_the_spaces_around_them() {
    let xml = "<Diagram Range=\"0,0,1,1\"><Text position=\"0,0\"> Котёл &amp; насос &#8470;&#x32; </Text></Diagram>";
    let diagram = meterhub_diagram::parse(xml.as_bytes()).expect("reads");
    let meterhub_diagram::model::Shape::Text { text, .. } = &diagram.elements[0].shape else { panic!("a text") };
    assert_eq!(text, "Котёл & насос №2");
    let e = errors("<Diagram Range=\"0,0,1,1\"><Text position=\"0,0\">&nbsp;</Text></Diagram>");
    assert!(e[0].contains("unknown entity &nbsp;"), "{e:#?}");
}

//! The standard metering objects (`library/standard.xml`): meter, valve,
//! pipe, pressure gauge, regulator, pump, transformer, lamp. A diagram uses
//! them as elements without defining them; the reader copies each one used
//! into the compiled diagram, so the browser needs nothing else.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::model::Object;

/// The library's source, shipped inside the binary.
pub const SOURCE: &str = include_str!("../library/standard.xml");

/// The standard objects by name, read once.
pub fn standard() -> &'static BTreeMap<String, Object> {
    static STANDARD: OnceLock<BTreeMap<String, Object>> = OnceLock::new();
    STANDARD.get_or_init(|| match crate::parse::parse_with(SOURCE.as_bytes(), None) {
        Ok(diagram) => diagram.objects,
        // A test below reads the library; a broken one never ships.
        Err(errors) => panic!("the standard object library does not read: {errors:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_reads_and_holds_the_standard_objects() {
        let names: Vec<&str> = standard().keys().map(String::as_str).collect();
        assert_eq!(names, ["Lamp", "Meter", "Pipe", "PressureGauge", "Pump", "Regulator", "Transformer", "Valve"]);
        for (name, object) in standard() {
            assert!(!object.elements.is_empty() && !object.properties.is_empty(), "{name}");
        }
    }

    #[test]
    fn a_diagram_uses_a_standard_object_and_carries_it() {
        let xml = r#"<Diagram Range="0,0,100,100"><Valve id="v" position="10,10,60,40"><Property name="Open" value="false"/></Valve></Diagram>"#;
        let diagram = crate::parse(xml.as_bytes()).expect("reads");
        assert_eq!(diagram.objects.keys().collect::<Vec<_>>(), ["Valve"]);
        let bad = r#"<Diagram Range="0,0,100,100"><Valve position="10,10,60,40"><Property name="Open" value="maybe"/></Valve></Diagram>"#;
        let errors = crate::parse(bad.as_bytes()).expect_err("a boolean");
        assert!(errors[0].message.contains("not a boolean"), "{errors:?}");
    }
}

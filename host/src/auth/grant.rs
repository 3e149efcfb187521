//! Grants: which subtrees of the registry tree (resource / site / module /
//! meter) a user may see, written as patterns like `gas/Kazan-1`.
//!
//! A pattern has one to four `/`-separated components, in the order
//! resource, site, module, meter. A shorter pattern is a subtree prefix
//! (`gas` is every gas meter); `*` matches any one component, set or not
//! (`*/*/mod-17` is every meter read through module mod-17, `*` is
//! everything). A literal component matches only a set component equal to it
//! (case-sensitive).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Most components of a pattern: resource, site, module, meter.
const DEPTH: usize = 4;
/// Longest pattern, bytes.
const MAX_PATTERN_BYTES: usize = 512;

/// Where a meter sits in the registry tree. An unset component (a meter
/// without a site, say) is matched only by `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterPath {
    /// Resource: gas, electricity, heat, cold_water, hot_water.
    pub resource: Option<String>,
    /// Site.
    pub site: Option<String>,
    /// The communication module the meter is read through.
    pub module: Option<String>,
    /// Meter id.
    pub meter: Option<String>,
}

impl MeterPath {
    fn components(&self) -> [Option<&str>; DEPTH] {
        [self.resource.as_deref(), self.site.as_deref(), self.module.as_deref(), self.meter.as_deref()]
    }
}

/// One component of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Component {
    Any,
    Exactly(String),
}

/// A parsed grant pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantPattern {
    text: String,
    components: Vec<Component>,
}

impl GrantPattern {
    /// Parses `text`; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<GrantPattern, String> {
        let fail = |why: String| {
            Err(format!(
                "grant pattern {text:?}: {why} (expected resource/site/module/meter, e.g. gas/Kazan-1 or */*/mod-17)"
            ))
        };
        if text.is_empty() {
            return fail("is empty".into());
        }
        if text.len() > MAX_PATTERN_BYTES {
            return fail(format!("is longer than {MAX_PATTERN_BYTES} bytes"));
        }
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() > DEPTH {
            return fail(format!("has {} components, at most {DEPTH}", parts.len()));
        }
        let names = ["resource", "site", "module", "meter"];
        let mut components = Vec::with_capacity(parts.len());
        for (part, name) in parts.iter().zip(names) {
            if part.is_empty() {
                return fail(format!("the {name} component is empty"));
            }
            if *part == "*" {
                components.push(Component::Any);
            } else if part.contains('*') {
                return fail(format!("the {name} component {part:?}: `*` stands alone for a whole component"));
            } else if part.chars().any(char::is_control) || part.trim() != *part {
                return fail(format!("the {name} component {part:?} has control characters or surrounding spaces"));
            } else {
                components.push(Component::Exactly((*part).to_owned()));
            }
        }
        Ok(GrantPattern { text: text.to_owned(), components })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the meter at `path` is in this pattern's subtree.
    pub fn matches(&self, path: &MeterPath) -> bool {
        self.components.iter().zip(path.components()).all(|(pattern, value)| match pattern {
            Component::Any => true,
            Component::Exactly(want) => value == Some(want.as_str()),
        })
    }
}

impl fmt::Display for GrantPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for GrantPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for GrantPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        GrantPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(resource: Option<&str>, site: Option<&str>, module: Option<&str>, meter: &str) -> MeterPath {
        MeterPath {
            resource: resource.map(Into::into),
            site: site.map(Into::into),
            module: module.map(Into::into),
            meter: Some(meter.into()),
        }
    }

    #[test]
    fn patterns_match_subtrees_and_wildcards_one_component() {
        let kazan_gas = path(Some("gas"), Some("Kazan-1"), Some("mod-17"), "meter-7");
        let kazan_heat = path(Some("heat"), Some("Kazan-1"), Some("mod-18"), "meter-8");
        let bare = path(None, None, None, "meter-9");
        // (pattern, sees kazan_gas, sees kazan_heat, sees bare)
        let table = [
            ("*", true, true, true),
            ("gas", true, false, false),
            ("gas/Kazan-1", true, false, false),
            ("gas/Kazan-2", false, false, false),
            ("*/Kazan-1", true, true, false),
            ("*/*/mod-17", true, false, false),
            ("*/*/*/meter-7", true, false, false),
            ("*/*/*/meter-9", false, false, true),
            ("*/*/*/*", true, true, true),
            ("Gas", false, false, false),
        ];
        for (text, gas, heat, unset) in table {
            let p = GrantPattern::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((p.matches(&kazan_gas), p.matches(&kazan_heat), p.matches(&bare)), (gas, heat, unset), "{text}");
        }
    }

    #[test]
    fn bad_patterns_are_refused_saying_why() {
        let table = [
            ("", "is empty"),
            ("gas/", "the site component is empty"),
            ("/Kazan", "the resource component is empty"),
            ("gas//m", "the site component is empty"),
            ("a/b/c/d/e", "has 5 components, at most 4"),
            ("ga*", "the resource component \"ga*\": `*` stands alone"),
            ("gas/ Kazan", "surrounding spaces"),
            ("gas/Ka\nzan", "control characters"),
        ];
        for (text, want) in table {
            let e = GrantPattern::parse(text).expect_err(text);
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains("expected resource/site/module/meter"), "{e}");
        }
        assert!(GrantPattern::parse(&"x".repeat(600)).unwrap_err().contains("longer than 512"));
    }

    #[test]
    fn patterns_round_trip_through_json_and_are_checked_on_read() {
        let p = GrantPattern::parse("*/Kazan-1").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"*/Kazan-1\"");
        assert_eq!(serde_json::from_str::<GrantPattern>(&json).unwrap(), p);
        assert!(serde_json::from_str::<GrantPattern>("\"a//b\"").is_err());
    }
}

//! Personal pages: the start page a user composes from widgets (live
//! values of chosen meters, a chart, a mimic diagram, a report, the silent
//! modules), kept by the host per user in the forms database; an admin may
//! publish a page to a role as its default. A page holds only choices,
//! never data: every widget's data comes from the API under the user's own
//! grants, so a page published to a role shows each user what she may see
//! of it and nothing more. `api/pages.rs` serves it.

use serde::{Deserialize, Serialize};

/// The most widgets on one page.
pub const MAX_WIDGETS: usize = 24;
/// The most meters one widget names.
pub const MAX_METERS: usize = 50;
/// The longest title, channel, diagram name or meter id, characters.
pub const MAX_TEXT: usize = 200;
/// The longest chart window, hours (31 days).
pub const MAX_HOURS: u32 = 744;

/// What a widget shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WidgetKind {
    /// The live values of its meters.
    Values,
    /// A chart of its meter's channel over its last hours.
    Chart,
    /// A mimic diagram.
    Diagram,
    /// A report.
    Report,
    /// The silent modules.
    Silent,
}

/// The reports a widget may show (the reports page's choices).
pub const REPORTS: [&str; 5] = ["monthly", "daily", "boundaries", "activity", "completeness"];

/// One widget and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    /// What it shows.
    pub kind: WidgetKind,
    /// Its title; the kind's name when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Whether it takes the page's whole width.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wide: bool,
    /// Its meters (values; the chart's first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meters: Vec<String>,
    /// The chart's channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The chart's window, hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u32>,
    /// The diagram's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagram: Option<String>,
    /// The report (one of [`REPORTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

/// A page: its widgets in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// The widgets, first on top.
    pub widgets: Vec<Widget>,
}

impl Page {
    /// The page of a user who composed none, in a role nobody published
    /// one for: the silent modules and a values widget to fill.
    pub fn built_in() -> Page {
        let widget = |kind| Widget {
            kind,
            title: String::new(),
            wide: false,
            meters: Vec::new(),
            channel: None,
            hours: None,
            diagram: None,
            report: None,
        };
        Page { widgets: vec![widget(WidgetKind::Silent), widget(WidgetKind::Values)] }
    }

    /// Reads a page from JSON, every setting checked; the problems name
    /// the widget and the setting.
    pub fn parse(json: &[u8]) -> Result<Page, String> {
        let page: Page = serde_json::from_slice(json).map_err(|e| format!("a page: {e}"))?;
        page.check()?;
        Ok(page)
    }

    fn check(&self) -> Result<(), String> {
        if self.widgets.len() > MAX_WIDGETS {
            return Err(format!("widgets: {} of them, at most {MAX_WIDGETS}", self.widgets.len()));
        }
        for (i, w) in self.widgets.iter().enumerate() {
            let at = |what: &str| format!("widgets[{i}].{what}");
            let long = |text: &str| text.chars().count() > MAX_TEXT || text.chars().any(char::is_control);
            if long(&w.title) {
                return Err(format!("{}: at most {MAX_TEXT} characters of text", at("title")));
            }
            if w.meters.len() > MAX_METERS {
                return Err(format!("{}: {} meters, at most {MAX_METERS}", at("meters"), w.meters.len()));
            }
            if let Some(bad) = w.meters.iter().find(|m| m.is_empty() || long(m)) {
                return Err(format!("{}: {bad:?} is not a meter id", at("meters")));
            }
            for (name, text) in [("channel", &w.channel), ("diagram", &w.diagram)] {
                if text.as_deref().is_some_and(long) {
                    return Err(format!("{}: at most {MAX_TEXT} characters of text", at(name)));
                }
            }
            if let Some(hours) = w.hours.filter(|h| !(1..=MAX_HOURS).contains(h)) {
                return Err(format!("{}: {hours} is not 1 to {MAX_HOURS}", at("hours")));
            }
            if let Some(report) = w.report.as_deref().filter(|r| !REPORTS.contains(r)) {
                return Err(format!("{}: {report:?} is not one of {}", at("report"), REPORTS.join(", ")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_read_with_every_setting_checked() {
        let page = Page::parse(
            br#"{"widgets": [{"kind": "chart", "meters": ["gas-1"], "channel": "volume", "hours": 24, "wide": true},
                             {"kind": "report", "report": "activity"}]}"#,
        )
        .unwrap();
        assert_eq!(page.widgets[0].kind, WidgetKind::Chart);
        let refusals = [
            (r#"{"widgets": [{"kind": "weather"}]}"#, "unknown variant"),
            (r#"{"widgets": [{"kind": "chart", "hours": 0}]}"#, "widgets[0].hours: 0 is not 1 to 744"),
            (r#"{"widgets": [{"kind": "report", "report": "gossip"}]}"#, "widgets[0].report"),
            (r#"{"widgets": [{"kind": "values", "meters": [""]}]}"#, "widgets[0].meters"),
            (r#"{"widgets": [{"kind": "values", "colour": "red"}]}"#, "unknown field `colour`"),
        ];
        for (json, expected) in refusals {
            let error = Page::parse(json.as_bytes()).unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
        }
        let many = format!(r#"{{"widgets": [{}]}}"#, vec![r#"{"kind": "silent"}"#; 25].join(","));
        assert!(Page::parse(many.as_bytes()).unwrap_err().contains("at most 24"));
    }
}

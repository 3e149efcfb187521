//! A template with its values: each placeholder replaced by its value
//! escaped for HTML, and each control showing its saved value (an input's
//! `value`, a checkbox or radio `checked`, an option `selected`, a
//! textarea's text). A value is always text: markup in it arrives as the
//! characters typed, never as elements.

use std::cell::RefCell;
use std::collections::BTreeMap;

use lol_html::html_content::{ContentType, Element};
use lol_html::{RewriteStrSettings, doc_text, element, rewrite_str};

use crate::placeholder::{self, Piece};
use crate::template::Template;
use crate::values::Values;

/// `text` escaped for HTML text and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the rendering keeps between handlers.
#[derive(Default)]
struct Rendering {
    /// The name of the `<select>` whose options are being rendered.
    select: Option<String>,
    /// The text node being gathered.
    text: String,
}

/// `template`'s HTML with `values`, and `built_ins` (the user's name, ...)
/// for placeholders that name no field.
pub fn render(template: &Template, values: &Values, built_ins: &BTreeMap<&str, String>) -> String {
    let lookup = |name: &str| values.get(name).or_else(|| built_ins.get(name)).map_or("", String::as_str);
    let substitute = |raw: &str| -> String {
        match placeholder::split(raw) {
            Ok(pieces) => pieces
                .into_iter()
                .map(|(_, piece)| match piece {
                    Piece::Text(text) => text.to_owned(),
                    Piece::Name(name) => escape(lookup(name)),
                })
                .collect(),
            // Checked when the template was read; nothing of it is trusted otherwise.
            Err(_) => escape(raw),
        }
    };
    let state = RefCell::new(Rendering::default());
    let rendered = rewrite_str(
        &template.html,
        RewriteStrSettings {
            element_content_handlers: vec![element!("*", |el| {
                fill(el, values, &substitute, &mut state.borrow_mut());
                Ok(())
            })],
            document_content_handlers: vec![doc_text!(|chunk| {
                if chunk.removed() {
                    // A textarea's text replaced by its value.
                    state.borrow_mut().text.clear();
                    return Ok(());
                }
                let mut s = state.borrow_mut();
                s.text.push_str(chunk.as_str());
                if chunk.last_in_text_node() {
                    let text = std::mem::take(&mut s.text);
                    chunk.replace(&substitute(&text), ContentType::Html);
                } else {
                    chunk.remove();
                }
                Ok(())
            })],
            ..RewriteStrSettings::new()
        },
    );
    // The template was read by the same rewriter when it was loaded.
    rendered.unwrap_or_default()
}

fn fill(el: &mut Element, values: &Values, substitute: &dyn Fn(&str) -> String, state: &mut Rendering) {
    let tag = el.tag_name();
    if !matches!(tag.as_str(), "option" | "optgroup") {
        state.select = None;
    }
    let placeholders: Vec<(String, String)> =
        el.attributes().iter().map(|a| (a.name(), a.value())).filter(|(_, value)| value.contains("<%=")).collect();
    for (name, value) in placeholders {
        let _ = el.set_attribute(&name, &substitute(&value));
    }
    let name = el.get_attribute("name");
    let saved = name.as_deref().and_then(|n| values.get(n));
    match tag.as_str() {
        "input" => {
            let Some(saved) = saved else { return };
            let kind = el.get_attribute("type").unwrap_or_default().to_ascii_lowercase();
            if matches!(kind.as_str(), "checkbox" | "radio") {
                let own = el.get_attribute("value").unwrap_or_else(|| "on".into());
                if *saved == own {
                    let _ = el.set_attribute("checked", "");
                } else {
                    el.remove_attribute("checked");
                }
            } else if !matches!(kind.as_str(), "submit" | "button" | "reset") {
                let _ = el.set_attribute("value", &escape(saved));
            }
        }
        "select" => state.select = name,
        "option" => {
            let Some(chosen) = state.select.as_deref().and_then(|n| values.get(n)) else { return };
            if el.get_attribute("value").as_deref() == Some(chosen.as_str()) {
                let _ = el.set_attribute("selected", "");
            } else {
                el.remove_attribute("selected");
            }
        }
        "textarea" => {
            if let Some(saved) = saved {
                el.set_inner_content(saved, ContentType::Text);
            }
        }
        _ => {}
    }
}

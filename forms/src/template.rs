//! A form template read once when its file changes: one `<form>` with its
//! title, scope and action, the fields its controls declare, and every
//! `<%= name %>` placeholder. What the UI could not show safely is refused
//! here with `line:col` (scripts, styles, event handlers, links, frames,
//! a placeholder outside text or a `value`/`placeholder`/`title`), so the
//! HTML served is the operator's markup, the user's values escaped, and
//! nothing else.

use std::cell::RefCell;
use std::collections::BTreeSet;

use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, doc_text, element, rewrite_str};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::field::{Field, Kind, RefKind, TEXT_MAX, TEXTAREA_MAX};
use crate::placeholder::{self, Piece};

/// Whose values a form keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Each user their own (the default).
    User,
    /// One set for everyone who may see the form (`data-scope="shared"`).
    Shared,
}

/// What submitting a form does besides keeping its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Keeps the values (the default).
    Save,
    /// Enters a meter reading into the archive (`data-action="manual-reading"`).
    ManualReading,
    /// Adds an inspection note to a meter or module (`data-action="inspection-note"`).
    InspectionNote,
}

/// The names a placeholder may use besides the fields: the user's name,
/// who saved the values last and when.
pub const BUILT_INS: [&str; 3] = ["user", "saved_by", "saved_at"];

/// Elements a template may use: the form, its controls, text and layout.
const ELEMENTS: &[&str] = &[
    "form", "fieldset", "legend", "label", "input", "select", "option", "optgroup", "textarea", "button", "output",
    "datalist", "p", "div", "span", "br", "hr", "h2", "h3", "h4", "small", "strong", "em", "b", "i", "ul", "ol", "li",
    "dl", "dt", "dd", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
];

/// Attributes a template may use (and any `data-*` or `aria-*`).
const ATTRIBUTES: &[&str] = &[
    "name",
    "type",
    "value",
    "required",
    "min",
    "max",
    "step",
    "minlength",
    "maxlength",
    "placeholder",
    "checked",
    "selected",
    "disabled",
    "readonly",
    "for",
    "id",
    "class",
    "title",
    "rows",
    "cols",
    "size",
    "autocomplete",
    "lang",
    "colspan",
    "rowspan",
    "list",
    "role",
    "inputmode",
    "label",
];

/// Attributes a placeholder may stand in.
const PLACEHOLDER_ATTRIBUTES: &[&str] = &["value", "placeholder", "title"];

/// `<input type>`s a template may use.
const INPUT_TYPES: &[&str] =
    &["text", "search", "number", "date", "time", "datetime-local", "checkbox", "radio", "submit", "button", "reset"];

/// A checked form template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `data-title` of its `<form>`.
    pub title: String,
    /// `data-scope`.
    pub scope: Scope,
    /// `data-action`.
    pub action: Action,
    /// Its fields, in the document's order.
    pub fields: Vec<Field>,
    /// The names its placeholders use.
    pub placeholders: BTreeSet<String>,
    /// The template as written.
    pub(crate) html: String,
}

/// What the reading gathers.
#[derive(Default)]
struct Reading {
    forms: Vec<(usize, String, Option<String>, Option<String>)>,
    fields: Vec<Field>,
    placeholders: Vec<(usize, String)>,
    errors: Vec<(usize, String)>,
    /// The field of the `<select>` whose options are being read.
    select: Option<usize>,
    /// The text node being read: where it starts and its text so far.
    text: Option<(usize, String)>,
}

impl Template {
    /// Reads `html`; every problem as `line:col: cause`, in the order found.
    pub fn parse(html: &str) -> Result<Template, Vec<String>> {
        let reading = RefCell::new(Reading::default());
        let outcome = rewrite_str(
            html,
            RewriteStrSettings {
                element_content_handlers: vec![element!("*", |el| {
                    let at = el.source_location().bytes().start;
                    reading.borrow_mut().element(el, at);
                    Ok(())
                })],
                document_content_handlers: vec![doc_text!(|chunk| {
                    let mut r = reading.borrow_mut();
                    let start = chunk.source_location().bytes().start;
                    let (_, text) = r.text.get_or_insert_with(|| (start, String::new()));
                    text.push_str(chunk.as_str());
                    if chunk.last_in_text_node() {
                        let (at, text) = r.text.take().unwrap_or_default();
                        r.text_node(at, &text);
                    }
                    Ok(())
                })],
                ..RewriteStrSettings::new()
            },
        );
        let mut r = reading.into_inner();
        if let Err(e) = outcome {
            r.errors.push((0, format!("the HTML does not read: {e}")));
        }
        match r.forms.len() {
            0 => r.errors.push((0, "a form template holds one <form> element; this one has none".into())),
            1 => {}
            n => {
                let at = r.forms[1].0;
                r.errors.push((at, format!("a form template holds one <form> element; this one has {n}")));
            }
        }
        let fields: BTreeSet<&str> = r.fields.iter().map(|f| f.name.as_str()).collect();
        for (at, name) in &r.placeholders {
            if !fields.contains(name.as_str()) && !BUILT_INS.contains(&name.as_str()) {
                r.errors.push((
                    *at,
                    format!(
                        "placeholder <%= {name} %> names no field of the form (fields: {}; or one of {})",
                        fields.iter().copied().collect::<Vec<_>>().join(", "),
                        BUILT_INS.join(", ")
                    ),
                ));
            }
        }
        for field in &r.fields {
            if let Kind::Choice { options } = &field.kind
                && options.is_empty()
            {
                r.errors.push((0, format!("field {:?} has no options", field.name)));
            }
        }
        let (form_at, title, scope, action) = r.forms.first().cloned().unwrap_or_default();
        let scope = match scope.as_deref() {
            None | Some("user") => Scope::User,
            Some("shared") => Scope::Shared,
            Some(other) => {
                r.errors.push((form_at, format!("data-scope is user or shared, not {other:?}")));
                Scope::User
            }
        };
        let action = match action.as_deref() {
            None | Some("save") => Action::Save,
            Some("manual-reading") => Action::ManualReading,
            Some("inspection-note") => Action::InspectionNote,
            Some(other) => {
                r.errors
                    .push((form_at, format!("data-action is save, manual-reading or inspection-note, not {other:?}")));
                Action::Save
            }
        };
        if let Some(missing) = missing_for(action, &r.fields) {
            r.errors.push((form_at, missing));
        }
        if !r.errors.is_empty() {
            r.errors.sort_by_key(|(at, _)| *at);
            return Err(r.errors.into_iter().map(|(at, cause)| format!("{}: {cause}", position(html, at))).collect());
        }
        Ok(Template {
            title,
            scope,
            action,
            fields: r.fields,
            placeholders: r.placeholders.into_iter().map(|(_, name)| name).collect(),
            html: html.to_owned(),
        })
    }

    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A field an action needs: its name, how it is written, what it must hold.
type Needed = (&'static str, &'static str, fn(&Kind) -> bool);

/// The fields a manual-reading form needs.
const MANUAL_READING_FIELDS: [Needed; 4] = [
    ("meter", "<input name=\"meter\" data-kind=\"meter\">", |k| matches!(k, Kind::Ref { of: RefKind::Meter })),
    ("channel", "<input name=\"channel\" data-kind=\"channel\">", |k| matches!(k, Kind::Ref { of: RefKind::Channel })),
    ("value", "<input name=\"value\" type=\"number\">", |k| matches!(k, Kind::Number { .. })),
    ("at", "<input name=\"at\" type=\"datetime-local\">", |k| matches!(k, Kind::DateTime)),
];

/// What `action` needs of the fields that `fields` lacks, in words.
fn missing_for(action: Action, fields: &[Field]) -> Option<String> {
    let has = |name: &str, fits: &fn(&Kind) -> bool| fields.iter().any(|f| f.name == name && fits(&f.kind));
    match action {
        Action::Save => None,
        Action::ManualReading => {
            let missing: Vec<&str> = MANUAL_READING_FIELDS
                .iter()
                .filter(|(name, _, fits)| !has(name, fits))
                .map(|(_, written, _)| *written)
                .collect();
            (!missing.is_empty()).then(|| format!("a manual-reading form needs {}", missing.join(", ")))
        }
        Action::InspectionNote => {
            let subjects =
                fields.iter().filter(|f| matches!(f.kind, Kind::Ref { of } if of != RefKind::Channel)).count();
            (subjects != 1).then(|| {
                "an inspection-note form needs one field naming its subject (data-kind=\"subject\", \"meter\" or \"module\")"
                    .to_owned()
            })
        }
    }
}

/// The field an inspection note is about: its one meter, module or subject field.
pub fn subject_field(fields: &[Field]) -> Option<&Field> {
    fields.iter().find(|f| matches!(f.kind, Kind::Ref { of } if of != RefKind::Channel))
}

impl Reading {
    fn error(&mut self, at: usize, cause: String) {
        self.errors.push((at, cause));
    }

    fn element(&mut self, el: &Element, at: usize) {
        let tag = el.tag_name();
        // A select holds only options (and their groups): any other element
        // is past its end.
        if !matches!(tag.as_str(), "option" | "optgroup") {
            self.select = None;
        }
        if !ELEMENTS.contains(&tag.as_str()) {
            self.error(at, format!("<{tag}> is not allowed in a form template (allowed: {})", ELEMENTS.join(", ")));
            return;
        }
        for attribute in el.attributes() {
            let (name, value) = (attribute.name(), attribute.value());
            if name.contains(['<', '%', '=']) {
                self.error(at, format!("<{tag}>: a placeholder in an attribute stands inside its quotes"));
                continue;
            }
            let allowed = ATTRIBUTES.contains(&name.as_str()) || name.starts_with("data-") || name.starts_with("aria-");
            if !allowed {
                let why = if name.starts_with("on") {
                    "event handlers are not allowed: the UI runs no script from a template"
                } else if name == "style" {
                    "style attributes are not applied under the UI's content policy; use a class"
                } else {
                    "not allowed in a form template"
                };
                self.error(at, format!("<{tag}> attribute {name:?}: {why}"));
                continue;
            }
            match placeholder::split(&value) {
                Err((_, cause)) => self.error(at, format!("<{tag}> attribute {name:?}: {cause}")),
                Ok(pieces) => {
                    for (_, piece) in pieces {
                        if let Piece::Name(placeholder) = piece {
                            if !PLACEHOLDER_ATTRIBUTES.contains(&name.as_str()) {
                                self.error(
                                    at,
                                    format!(
                                        "<{tag}> attribute {name:?}: a placeholder stands only in text or in {}",
                                        PLACEHOLDER_ATTRIBUTES.join(", ")
                                    ),
                                );
                            }
                            self.placeholders.push((at, placeholder.to_owned()));
                        }
                    }
                }
            }
        }
        match tag.as_str() {
            "form" => self.forms.push((
                at,
                el.get_attribute("data-title").unwrap_or_default(),
                el.get_attribute("data-scope"),
                el.get_attribute("data-action"),
            )),
            "input" => self.input(el, at),
            "select" => {
                if let Some(name) = self.named(el, at) {
                    self.select = Some(self.fields.len());
                    let required = el.has_attribute("required");
                    self.fields.push(Field { name, kind: Kind::Choice { options: Vec::new() }, required });
                }
            }
            "option" => {
                let Some(select) = self.select else { return };
                match el.get_attribute("value") {
                    Some(value) => {
                        if let Kind::Choice { options } = &mut self.fields[select].kind {
                            options.push(value);
                        }
                    }
                    None => self.error(at, "<option> of a named <select> needs a value attribute".into()),
                }
            }
            "textarea" => {
                if let Some(name) = self.named(el, at) {
                    let (min_len, max_len) = self.lengths(el, at, TEXTAREA_MAX);
                    let required = el.has_attribute("required");
                    self.fields.push(Field { name, kind: Kind::Text { min_len, max_len }, required });
                }
            }
            _ => {}
        }
    }

    /// The element's `name`, refused when another field has it.
    fn named(&mut self, el: &Element, at: usize) -> Option<String> {
        let name = el.get_attribute("name")?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            self.error(at, format!("field name {name:?}: letters, digits, - and _ only"));
            return None;
        }
        if self.fields.iter().any(|f| f.name == name) {
            self.error(at, format!("two fields are named {name:?}"));
            return None;
        }
        Some(name)
    }

    fn input(&mut self, el: &Element, at: usize) {
        let kind_of = el.get_attribute("type").unwrap_or_else(|| "text".into()).to_ascii_lowercase();
        if !INPUT_TYPES.contains(&kind_of.as_str()) {
            self.error(at, format!("<input type={kind_of:?}> is not allowed (allowed: {})", INPUT_TYPES.join(", ")));
            return;
        }
        if matches!(kind_of.as_str(), "submit" | "button" | "reset") {
            return;
        }
        let required = el.has_attribute("required");
        if kind_of == "radio" {
            let (Some(name), value) = (el.get_attribute("name"), el.get_attribute("value")) else { return };
            let Some(value) = value else {
                self.error(at, format!("radio button {name:?} needs a value attribute"));
                return;
            };
            if let Some(field) = self.fields.iter_mut().find(|f| f.name == name) {
                match &mut field.kind {
                    Kind::Choice { options } => options.push(value),
                    _ => self.error(at, format!("two fields are named {name:?}")),
                }
                return;
            }
            if let Some(name) = self.named(el, at) {
                self.fields.push(Field { name, kind: Kind::Choice { options: vec![value] }, required });
            }
            return;
        }
        let Some(name) = self.named(el, at) else { return };
        let kind = match kind_of.as_str() {
            "number" => {
                let mut number = |attribute: &str| -> Option<Decimal> {
                    let text = el.get_attribute(attribute)?;
                    if attribute == "step" && text == "any" {
                        return None;
                    }
                    let parsed = Decimal::from_str_exact(text.trim()).ok();
                    if parsed.is_none() {
                        self.error(at, format!("field {name:?}: {attribute}={text:?} is not a number"));
                    }
                    parsed
                };
                let (min, max) = (number("min"), number("max"));
                let step = if el.has_attribute("step") { number("step") } else { Some(Decimal::ONE) };
                Kind::Number { min, max, step }
            }
            "date" => Kind::Date,
            "time" => Kind::Time,
            "datetime-local" => Kind::DateTime,
            "checkbox" => Kind::Check { value: el.get_attribute("value").unwrap_or_else(|| "on".into()) },
            _ => match el.get_attribute("data-kind") {
                Some(of) => match RefKind::parse(&of) {
                    Some(of) => Kind::Ref { of },
                    None => {
                        self.error(at, format!("field {name:?}: data-kind is meter, module, channel or subject"));
                        return;
                    }
                },
                None => {
                    let (min_len, max_len) = self.lengths(el, at, TEXT_MAX);
                    Kind::Text { min_len, max_len }
                }
            },
        };
        self.fields.push(Field { name, kind, required });
    }

    /// `minlength` and `maxlength`, the latter at most `limit` (and `limit` when not declared).
    fn lengths(&mut self, el: &Element, at: usize, limit: usize) -> (usize, usize) {
        let mut length = |attribute: &str, default: usize| match el.get_attribute(attribute) {
            None => default,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if n <= limit => n,
                _ => {
                    self.error(at, format!("{attribute}={text:?}: a whole number up to {limit}"));
                    default
                }
            },
        };
        (length("minlength", 0), length("maxlength", limit))
    }

    fn text_node(&mut self, at: usize, text: &str) {
        match placeholder::split(text) {
            Err((offset, cause)) => self.error(at + offset, cause),
            Ok(pieces) => {
                for (offset, piece) in pieces {
                    if let Piece::Name(name) = piece {
                        self.placeholders.push((at + offset, name.to_owned()));
                    }
                }
            }
        }
    }
}

/// `line:col` (1-based, columns in characters) of byte `at` of `text`.
pub(crate) fn position(text: &str, at: usize) -> String {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    format!("{line}:{column}")
}

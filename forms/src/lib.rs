//! Saved forms (`docs/forms.md`): the dissertation's mechanism (chapter 3)
//! made safe. A form template is HTML with `<%= name %>` placeholders; its
//! controls declare its fields' types; the values a user submits are
//! checked against them and kept by the host (per user, or shared), and
//! rendered back escaped. Pure: no I/O, no clock.
//!
//! - [`template`]: one template read and checked, its fields and placeholders;
//! - [`field`]: a field's type and constraints, and the check of a value;
//! - [`values`]: a submission checked as a whole;
//! - [`render`]: the template with its values, every value escaped;
//! - [`SHIPPED`]: the forms the product ships.

pub mod field;
mod placeholder;
pub mod render;
pub mod template;
pub mod values;

pub use field::{Field, Kind, Problem, RefKind};
pub use render::{escape, render};
pub use template::{Action, BUILT_INS, Scope, Template};
pub use values::{FieldProblem, Values, check};

/// The forms the product ships, as `(file name, template)`: a manual meter
/// reading, an inspection note and saved report parameters, each in Russian
/// and English (`<id>.en.html`). A file of the same name in the forms
/// folder takes a shipped form's place.
pub const SHIPPED: &[(&str, &str)] = &[
    ("manual-reading.html", include_str!("../shipped/manual-reading.html")),
    ("manual-reading.en.html", include_str!("../shipped/manual-reading.en.html")),
    ("inspection-note.html", include_str!("../shipped/inspection-note.html")),
    ("inspection-note.en.html", include_str!("../shipped/inspection-note.en.html")),
    ("report-parameters.html", include_str!("../shipped/report-parameters.html")),
    ("report-parameters.en.html", include_str!("../shipped/report-parameters.en.html")),
];

#[cfg(test)]
mod tests;

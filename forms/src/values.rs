//! A submission checked against its template: every name a field of the
//! form, every value of its field's type and within its constraints.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::field::Problem;
use crate::template::Template;

/// A form's values by field name, as kept.
pub type Values = BTreeMap<String, String>;

/// A refused value: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field's name.
    pub field: String,
    /// Why.
    #[serde(flatten)]
    pub problem: Problem,
}

/// `submitted` as kept (every field of the form, empty when not given), or
/// every problem found, one per field.
pub fn check(template: &Template, submitted: &BTreeMap<String, String>) -> Result<Values, Vec<FieldProblem>> {
    let mut problems: Vec<FieldProblem> = submitted
        .keys()
        .filter(|name| template.field(name).is_none())
        .map(|name| FieldProblem {
            field: name.clone(),
            problem: Problem::new("unknown-field", None, format!("the form has no field {name:?}")),
        })
        .collect();
    let mut values = Values::new();
    for field in &template.fields {
        let raw = submitted.get(&field.name).map_or("", String::as_str);
        match field.check(raw) {
            Ok(value) => {
                values.insert(field.name.clone(), value);
            }
            Err(problem) => problems.push(FieldProblem { field: field.name.clone(), problem }),
        }
    }
    if problems.is_empty() { Ok(values) } else { Err(problems) }
}

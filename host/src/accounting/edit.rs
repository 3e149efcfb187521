//! Metadata changes and register events as the API receives them (JSON),
//! checked field by field; an error names the field and the problem.

use meterhub_accounting::{Decimal, MeterSpec, RegisterEvent};
use serde_json::{Map, Value};

use super::error::AccountingError;
use super::model::{HistoryEntry, METADATA_FIELDS, MeterRecord, RECOMPUTING_FIELDS, Resource};

fn entry(field: &str, old: Value, new: Value) -> HistoryEntry {
    HistoryEntry { seq: 0, at_ms: 0, actor: String::new(), field: field.to_owned(), old, new }
}

fn text(field: &str, value: &Value) -> Result<Option<String>, AccountingError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(AccountingError::invalid(field, format!("expected a string or null, got {other}"))),
    }
}

/// A decimal given as a JSON string (exact) or number.
pub(crate) fn decimal(field: &str, value: &Value) -> Result<Decimal, AccountingError> {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(AccountingError::invalid(field, format!("expected a decimal (string or number), got {other}")));
        }
    };
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|e| AccountingError::invalid(field, format!("{text:?} is not a decimal: {e}")))
}

fn positive(field: &str, value: &Value) -> Result<Option<Decimal>, AccountingError> {
    if value.is_null() {
        return Ok(None);
    }
    let d = decimal(field, value)?;
    if d <= Decimal::ZERO {
        return Err(AccountingError::invalid(field, format!("{d} is not above zero")));
    }
    Ok(Some(d))
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Applies the metadata fields of `patch` to `meter`; returns the history
/// entries of what changed and whether its deltas must be recomputed (zone,
/// capacity or pulse weight changed). The key `actor` is ignored here.
pub fn apply_patch(
    meter: &mut MeterRecord,
    patch: &Map<String, Value>,
) -> Result<(Vec<HistoryEntry>, bool), AccountingError> {
    let mut entries = Vec::new();
    let mut recompute = false;
    for (field, value) in patch {
        if field == "actor" {
            continue;
        }
        let before = current(meter, field);
        let md = &mut meter.metadata;
        match field.as_str() {
            "name" => md.name = text(field, value)?,
            "address" => md.address = text(field, value)?,
            "consumer_account" => md.consumer_account = text(field, value)?,
            "site" => md.site = text(field, value)?,
            "model" => md.model = text(field, value)?,
            "resource" => {
                md.resource = match text(field, value)? {
                    None => None,
                    Some(name) => Some(Resource::parse(&name).ok_or_else(|| {
                        AccountingError::invalid(field, format!("{name:?} is not one of {}", Resource::NAMES))
                    })?),
                }
            }
            "time_zone" => {
                let zone = text(field, value)?;
                if let Some(zone) = &zone {
                    MeterSpec::new(zone, None, vec![]).map_err(|e| AccountingError::invalid(field, e.to_string()))?;
                }
                md.time_zone = zone;
            }
            "pulse_weight" => md.pulse_weight = positive(field, value)?,
            "register_capacity" => md.register_capacity = positive(field, value)?,
            "initial_value" => {
                md.initial_value = if value.is_null() { None } else { Some(decimal(field, value)?) };
            }
            "installed_at" => {
                md.installed_at_ms = if value.is_null() { None } else { Some(timestamp(field, Some(value))?) };
            }
            "billing_channel" => md.billing_channel = text(field, value)?,
            other => {
                return Err(AccountingError::invalid(
                    other,
                    format!("not a meter metadata field (known: {})", METADATA_FIELDS.join(", ")),
                ));
            }
        }
        let after = current(meter, field);
        if before != after {
            recompute |= RECOMPUTING_FIELDS.contains(&field.as_str());
            entries.push(entry(field, before, after));
        }
    }
    let md = &meter.metadata;
    if md.initial_value.is_some() != md.installed_at_ms.is_some() {
        let (missing, given) = if md.initial_value.is_none() {
            ("initial_value", "installed_at")
        } else {
            ("installed_at", "initial_value")
        };
        return Err(AccountingError::invalid(
            missing,
            format!("needed with {given}: the initial value is the register's value at the installation time"),
        ));
    }
    Ok((entries, recompute))
}

/// The current value of metadata `field`, as JSON.
fn current(meter: &MeterRecord, field: &str) -> Value {
    let md = &meter.metadata;
    match field {
        "name" => json(&md.name),
        "address" => json(&md.address),
        "consumer_account" => json(&md.consumer_account),
        "site" => json(&md.site),
        "model" => json(&md.model),
        "resource" => json(&md.resource),
        "time_zone" => json(&md.time_zone),
        "pulse_weight" => json(&md.pulse_weight),
        "register_capacity" => json(&md.register_capacity),
        "initial_value" => json(&md.initial_value),
        "installed_at" => json(&md.installed_at_ms.map(meterhub_plugin_api::time::format_rfc3339_ms)),
        "billing_channel" => json(&md.billing_channel),
        _ => Value::Null,
    }
}

fn timestamp(field: &str, value: Option<&Value>) -> Result<i64, AccountingError> {
    match value {
        Some(Value::Number(n)) => {
            n.as_i64().ok_or_else(|| AccountingError::invalid(field, format!("{n} is not whole milliseconds")))
        }
        Some(Value::String(s)) => {
            meterhub_plugin_api::time::parse_ms_or_rfc3339(s).map_err(|e| AccountingError::invalid(field, e))
        }
        Some(other) => {
            Err(AccountingError::invalid(field, format!("expected RFC 3339 text or milliseconds, got {other}")))
        }
        None => Err(AccountingError::invalid(field, "missing")),
    }
}

fn required_decimal(body: &Map<String, Value>, field: &str) -> Result<Decimal, AccountingError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(AccountingError::invalid(field, "missing")),
        Some(v) => decimal(field, v),
    }
}

/// A register event from its JSON form: `{"kind": "replacement", "at":
/// .., "old_final": .., "new_initial": ..}` or `{"kind": "reset", "at": ..,
/// "value_before": .. (optional), "value_after": ..}`; `at` is RFC 3339 or
/// ms since the epoch. The key `actor` is ignored.
pub fn parse_event(body: &Map<String, Value>) -> Result<RegisterEvent, AccountingError> {
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let known: &[&str] = match kind {
        "replacement" => &["kind", "at", "old_final", "new_initial", "actor"],
        "reset" => &["kind", "at", "value_before", "value_after", "actor"],
        _ => {
            return Err(AccountingError::invalid(
                "kind",
                format!("expected \"replacement\" or \"reset\", got {:?}", body.get("kind")),
            ));
        }
    };
    if let Some(unknown) = body.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(AccountingError::invalid(
            unknown,
            format!("not a field of a {kind} event (known: {})", known.join(", ")),
        ));
    }
    let at_ms = timestamp("at", body.get("at"))?;
    Ok(match kind {
        "replacement" => RegisterEvent::Replacement {
            at_ms,
            old_final: required_decimal(body, "old_final")?,
            new_initial: required_decimal(body, "new_initial")?,
        },
        _ => RegisterEvent::Reset {
            at_ms,
            value_before: match body.get("value_before") {
                None | Some(Value::Null) => None,
                Some(v) => Some(decimal("value_before", v)?),
            },
            value_after: required_decimal(body, "value_after")?,
        },
    })
}

/// The history entry of a recomputation someone asked for.
pub fn recompute_entry() -> HistoryEntry {
    entry("recompute", Value::Null, Value::Null)
}

/// Adds `event` to `meter` (kept in time order); the history entry, and a
/// recomputation is always due.
pub fn add_event(meter: &mut MeterRecord, event: RegisterEvent) -> (Vec<HistoryEntry>, bool) {
    let new = json(&event);
    meter.events.push(event);
    meter.events.sort_by_key(RegisterEvent::at_ms);
    (vec![entry("event", Value::Null, new)], true)
}

//! Tests as data. Two kinds of case under `fixtures/`, each a payload
//! `<name>.hex` (the FRMPayload as hex), its `<name>.case.json` (see
//! [`CaseFile`]) and the expected decoding `<name>.out.json`:
//!
//! - `vectors/`: the real uplinks published with the CMi4110's decoders,
//!   each with its source and licence; where the publisher printed decoded
//!   values (`published`), the fields must carry the same values (numbers
//!   compared as exact decimals, units by meaning, other text exactly), key
//!   by key, except the keys `not_compared` lists with the reason;
//! - `cases/`: hand-made payloads for the layouts and errors the vectors do
//!   not show.
//!
//! Each case is decoded through the `Plugin` trait from the neutral uplink
//! frame of [`crate::uplink`]; `METERHUB_BLESS=1` rewrites the `.out.json`
//! files (review the diff), never the published values.

use std::collections::BTreeMap;
use std::str::FromStr;

use meterhub_plugin_api::testing::{Case, Fixtures, unhex};
use meterhub_plugin_api::{Decimal, Plugin};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{codec, fields, uplink};

/// A case's `.case.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CaseFile {
    /// Where the payload comes from (`owner/repo@commit:path`, example name);
    /// required in `vectors/`.
    source: Option<String>,
    /// The licence of the source; required in `vectors/`.
    licence: Option<String>,
    /// What the case shows.
    note: Option<String>,
    /// The uplink's fPort (required).
    fport: Option<u8>,
    /// The network server's time, ms (default [`crate::SERVER_MS`]).
    ts_ms: Option<i64>,
    /// Codec settings (default `{}`).
    settings: Option<Value>,
    /// The decoded values the source published with the payload.
    published: Option<Map<String, Value>>,
    /// Where `published` comes from.
    published_source: Option<String>,
    /// Published keys not compared, with the reason.
    not_compared: BTreeMap<String, String>,
}

/// The meaning of a published unit text, in meterhub's spelling.
fn unit_alias(unit: &str) -> &str {
    match unit {
        "m³" => "m3",
        "m³/h" => "m3/h",
        "°C" => "degC",
        other => other,
    }
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

/// Every published value found, equal, in `got`; the differences otherwise.
fn compare(published: &Map<String, Value>, not_compared: &BTreeMap<String, String>, got: &Value) -> Vec<String> {
    let mut problems: Vec<String> = not_compared
        .keys()
        .filter(|k| !published.contains_key(*k))
        .map(|k| format!("not_compared {k:?} is not published"))
        .collect();
    for (key, want) in published.iter().filter(|(k, _)| !not_compared.contains_key(*k)) {
        let Some(have) = got.get(key) else {
            problems.push(format!("{key}: published {want}, missing here"));
            continue;
        };
        let same = match (want, have) {
            (Value::String(w), Value::String(h)) if key.ends_with("Unit") => unit_alias(w) == h,
            (Value::Number(_), _) => decimal(want).is_some() && decimal(want) == decimal(have),
            _ => want == have,
        };
        if !same {
            problems.push(format!("{key}: published {want}, here {have}"));
        }
    }
    problems
}

fn run(case: &Case, kind: &str) -> Result<Value, String> {
    let file: CaseFile = case.options(".case.json")?;
    if kind == "vectors" && (file.source.is_none() || file.licence.is_none()) {
        return Err("a vector names its source and licence".into());
    }
    if file.published.is_some() != file.published_source.is_some() {
        return Err("published values name their source (published_source)".into());
    }
    let _ = file.note;
    let fport = file.fport.ok_or("fport is required")?;
    let hex = String::from_utf8(case.read(".hex")?).map_err(|e| e.to_string())?;
    let payload = unhex(hex.trim());
    let settings = file.settings.unwrap_or_else(|| json!({})).to_string();
    let frame = uplink(fport, &payload, file.ts_ms.unwrap_or(crate::SERVER_MS));
    match codec(&settings).decode(&frame) {
        Ok(decoded) => {
            let shown = fields(&decoded);
            if let Some(published) = &file.published {
                let problems = compare(published, &file.not_compared, &shown);
                if !problems.is_empty() {
                    return Err(format!("differs from the published values: {}", problems.join("; ")));
                }
            }
            Ok(json!({ "fields": shown, "readings": decoded.readings, "telemetry": decoded.telemetry }))
        }
        Err(e) => Ok(json!({ "error": e.reason })),
    }
}

#[test]
fn every_fixture_decodes_as_expected() {
    let mut fixtures = Fixtures::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
    fixtures.check("vectors", ".hex", &[".case.json"], |case| run(case, "vectors"));
    fixtures.check("cases", ".hex", &[".case.json"], |case| run(case, "cases"));
    fixtures.finish();
}

#[test]
fn the_comparison_with_published_values_can_fail() {
    let published: Map<String, Value> =
        serde_json::from_str(r#"{"energy":894135,"volumeUnit":"m³","messageFormat":"00","x":[1]}"#).unwrap();
    let none = BTreeMap::new();
    let good = json!({"energy":"894135.0","volumeUnit":"m3","messageFormat":"00","x":[1]});
    assert!(compare(&published, &none, &good).is_empty());
    let bad = json!({"energy":"894136","volumeUnit":"m³","messageFormat":"0","x":[2]});
    assert_eq!(compare(&published, &none, &bad).len(), 4, "{:?}", compare(&published, &none, &bad));
    assert_eq!(compare(&published, &none, &json!({})).len(), 4);
    let skip = BTreeMap::from([("x".to_owned(), "why".to_owned()), ("y".to_owned(), "stale".to_owned())]);
    assert_eq!(compare(&published, &skip, &good), ["not_compared \"y\" is not published"]);
}

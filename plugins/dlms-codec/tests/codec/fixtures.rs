//! Tests as data. Two kinds of case under `fixtures/`, each an APDU
//! `<name>.hex` (hex digits, white space anywhere), its `<name>.case.json`
//! (see [`CaseFile`]) and the expected decoding `<name>.out.json`
//! (`readings` and `fields`, or `error`):
//!
//! - `vectors/`: public frames, each with its source and licence;
//! - `cases/`: hand-made pushes for the layouts and errors the vectors do
//!   not show.
//!
//! `METERHUB_BLESS=1` rewrites the `.out.json` files (review the diff).

use meterhub_plugin_api::Plugin;
use meterhub_plugin_api::hex::decode_spaced;
use meterhub_plugin_api::testing::{Case, Fixtures};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{codec, fields, frame};

/// A case's `.case.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CaseFile {
    /// Where the frame comes from; required in `vectors/`.
    source: Option<String>,
    /// The licence of the source; required in `vectors/`.
    licence: Option<String>,
    /// What the case shows.
    note: Option<String>,
    /// Meta `dlms.system_title`, when the driver gives one.
    system_title: Option<String>,
    /// Codec settings (default `{}`).
    settings: Option<Value>,
}

fn run(case: &Case, kind: &str) -> Result<Value, String> {
    let file: CaseFile = case.options(".case.json")?;
    if kind == "vectors" && (file.source.is_none() || file.licence.is_none()) {
        return Err("a vector names its source and licence".into());
    }
    if file.note.is_none() {
        return Err("a case says what it shows (note)".into());
    }
    let text = String::from_utf8(case.read(".hex")?).map_err(|e| e.to_string())?;
    let payload = decode_spaced(&text).map_err(|e| format!("{}: {e}", case.path(".hex").display()))?;
    let settings = file.settings.unwrap_or_else(|| json!({})).to_string();
    match codec(&settings).decode(&frame(&payload, file.system_title.as_deref())) {
        Ok(decoded) => Ok(json!({ "readings": decoded.readings, "fields": fields(&decoded) })),
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

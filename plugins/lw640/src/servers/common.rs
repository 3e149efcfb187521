//! Field readers the servers share: each reads one JSON value and refuses
//! it naming its path and position.

use crate::error::Refusal;
use crate::fields::{self, Eui};
use crate::json::{self, Number, Type, Val};

/// A DevEUI or JoinEUI written as 16 hex digits.
pub fn eui_hex(v: &Val<'_>) -> Result<Eui, Refusal> {
    Eui::from_hex(&v.string()?).map_err(|e| v.fail(e))
}

/// An EUI written as 16 hex digits or as the base64 of its 8 bytes.
pub fn eui_hex_or_base64(v: &Val<'_>) -> Result<Eui, Refusal> {
    Eui::from_hex_or_base64(&v.string()?).map_err(|e| v.fail(e))
}

/// Bytes written in base64.
pub fn base64(v: &Val<'_>) -> Result<Vec<u8>, Refusal> {
    fields::decode_base64(&v.string()?).map_err(|e| v.fail(e))
}

/// An RFC 3339 time, as Unix milliseconds.
pub fn time(v: &Val<'_>) -> Result<i64, Refusal> {
    fields::rfc3339_ms(&v.string()?).map_err(|e| v.fail(e))
}

/// The payload as the server decoded it: a JSON object, passed on as its
/// compact text.
pub fn upstream(v: &Val<'_>) -> Result<String, Refusal> {
    v.expect_type(Type::Object)?;
    Ok(v.compact())
}

/// The payload as the server decoded it, given as a string holding JSON
/// object text (ChirpStack v3's `objectJSON`); empty is none.
pub fn upstream_text(v: &Val<'_>) -> Result<Option<String>, Refusal> {
    let Some(text) = v.text()? else { return Ok(None) };
    match json::parse_object(text.as_bytes()) {
        Ok(inner) => Ok(Some(inner.val().compact())),
        Err(e) => Err(v.fail(format!("not the text of a JSON object: {e}"))),
    }
}

/// An identifier written as a string or as a number (ChirpStack v3's
/// `applicationID`), as text; empty is none.
pub fn id_text(v: &Val<'_>) -> Result<Option<String>, Refusal> {
    match v.kind() {
        Type::Number => Ok(Some(v.integer(i64::MIN, i64::MAX)?.to_string())),
        _ => v.text(),
    }
}

/// What `lorawan.application` says: the name when the server gives one,
/// otherwise the id.
pub fn name_or_id(name: Option<String>, id: Option<String>) -> Option<String> {
    name.or(id)
}

/// The battery charge a status event tells: none when the device is on
/// external power or could not measure it.
pub fn battery(level: Option<Number>, external_power: bool, unavailable: bool) -> Option<Number> {
    level.filter(|_| !external_power && !unavailable)
}

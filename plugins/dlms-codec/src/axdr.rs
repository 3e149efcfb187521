//! A-XDR `Data` (Blue Book 4.1.5 / Green Book 9.5, the `Data` CHOICE):
//! one tag byte, then the value. Decoded into [`Value`]s that remember
//! their offset, and shown as JSON for the fields.
//!
//! Bounds: containers nest at most [`MAX_DEPTH`] deep and hold at most
//! [`MAX_ELEMENTS`] elements; a length is never trusted beyond the bytes
//! left (each element takes at least one byte), so no input makes the
//! decoder reserve more than the input's size. Anything past these, and
//! the choices not decoded (compact-array, don't-care), is refused naming
//! the offset.

use meterhub_plugin_api::{DecodeError, hex};
use serde_json::{Value as Json, json};

use crate::datetime::CosemDateTime;
use crate::exact::float_text;

/// `text` (Rust's shortest round-trip form of `value`), or the names
/// [`float_text`] gives NaN and the infinities.
fn shortest(value: f64, text: String) -> String {
    if value.is_finite() { text } else { float_text(value) }
}
use crate::reader::Reader;

/// How deep arrays and structures nest at most (a push is a structure of
/// structures of scaler-units: three).
pub const MAX_DEPTH: usize = 16;

/// How many elements one array or structure holds at most.
pub const MAX_ELEMENTS: usize = 4096;

/// One decoded `Data` value and the offset of its tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Offset of the tag byte in its buffer.
    pub offset: usize,
    /// The value.
    pub data: Data,
}

/// The `Data` choices this codec decodes.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `null-data`, tag 0.
    Null,
    /// `array`, tag 1.
    Array(Vec<Value>),
    /// `structure`, tag 2.
    Structure(Vec<Value>),
    /// `boolean`, tag 3.
    Boolean(bool),
    /// `bit-string`, tag 4: the number of bits and the bytes holding them.
    BitString(usize, Vec<u8>),
    /// `double-long`, tag 5: i32.
    DoubleLong(i32),
    /// `double-long-unsigned`, tag 6: u32.
    DoubleLongUnsigned(u32),
    /// `octet-string`, tag 9.
    OctetString(Vec<u8>),
    /// `visible-string`, tag 10: the bytes as sent.
    VisibleString(Vec<u8>),
    /// `utf8-string`, tag 12.
    Utf8String(String),
    /// `bcd`, tag 13: one signed byte.
    Bcd(i8),
    /// `integer`, tag 15: i8.
    Integer(i8),
    /// `long`, tag 16: i16.
    Long(i16),
    /// `unsigned`, tag 17: u8.
    Unsigned(u8),
    /// `long-unsigned`, tag 18: u16.
    LongUnsigned(u16),
    /// `long64`, tag 20: i64.
    Long64(i64),
    /// `long64-unsigned`, tag 21: u64.
    Long64Unsigned(u64),
    /// `enum`, tag 22.
    Enum(u8),
    /// `float32`, tag 23.
    Float32(f32),
    /// `float64`, tag 24.
    Float64(f64),
    /// `date-time`, tag 25: twelve bytes.
    DateTime([u8; 12]),
    /// `date`, tag 26: five bytes.
    Date([u8; 5]),
    /// `time`, tag 27: four bytes.
    Time([u8; 4]),
}

impl Data {
    /// The Blue Book name of the choice.
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::Null => "null-data",
            Data::Array(_) => "array",
            Data::Structure(_) => "structure",
            Data::Boolean(_) => "boolean",
            Data::BitString(..) => "bit-string",
            Data::DoubleLong(_) => "double-long",
            Data::DoubleLongUnsigned(_) => "double-long-unsigned",
            Data::OctetString(_) => "octet-string",
            Data::VisibleString(_) => "visible-string",
            Data::Utf8String(_) => "utf8-string",
            Data::Bcd(_) => "bcd",
            Data::Integer(_) => "integer",
            Data::Long(_) => "long",
            Data::Unsigned(_) => "unsigned",
            Data::LongUnsigned(_) => "long-unsigned",
            Data::Long64(_) => "long64",
            Data::Long64Unsigned(_) => "long64-unsigned",
            Data::Enum(_) => "enum",
            Data::Float32(_) => "float32",
            Data::Float64(_) => "float64",
            Data::DateTime(_) => "date-time",
            Data::Date(_) => "date",
            Data::Time(_) => "time",
        }
    }

    /// The twelve bytes of a date-time, sent as `date-time` or as an
    /// `octet-string` of twelve (the clock's attribute 2).
    pub fn date_time(&self) -> Option<CosemDateTime> {
        match self {
            Data::DateTime(b) => Some(CosemDateTime::from_bytes(b)),
            Data::OctetString(b) => <&[u8; 12]>::try_from(b.as_slice()).ok().map(CosemDateTime::from_bytes),
            _ => None,
        }
    }
}

/// The name of a `Data` tag, for errors about tags not decoded.
fn tag_name(tag: u8) -> Option<&'static str> {
    Some(match tag {
        19 => "compact-array",
        255 => "dont-care",
        _ => return None,
    })
}

/// Decode one `Data` at the reader's position, `depth` containers deep.
pub fn decode(r: &mut Reader<'_>, depth: usize) -> Result<Value, DecodeError> {
    let offset = r.pos();
    let tag = r.u8("Data tag")?;
    let data = match tag {
        0 => Data::Null,
        1 | 2 => decode_container(r, tag, offset, depth)?,
        4 => decode_bit_string(r)?,
        9 | 10 | 12 => decode_string(r, tag, offset)?,
        _ => decode_fixed(r, tag, offset)?,
    };
    Ok(Value { offset, data })
}

/// An array or structure: a length, then the elements.
fn decode_container(r: &mut Reader<'_>, tag: u8, offset: usize, depth: usize) -> Result<Data, DecodeError> {
    let name = if tag == 1 { "array" } else { "structure" };
    if depth >= MAX_DEPTH {
        return Err(r.error_at(name, offset, format_args!("nests deeper than {MAX_DEPTH} levels")));
    }
    let count = r.length(&format!("{name} length"), 1)?;
    if count > MAX_ELEMENTS {
        return Err(r.error_at(name, offset, format_args!("{count} elements exceed the {MAX_ELEMENTS} decoded")));
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        items.push(decode(r, depth + 1)?);
    }
    Ok(if tag == 1 { Data::Array(items) } else { Data::Structure(items) })
}

/// A bit-string: its length in bits, then the bytes holding them.
fn decode_bit_string(r: &mut Reader<'_>) -> Result<Data, DecodeError> {
    let bits = r.length("bit-string length", 0)?;
    let bytes = r.take(bits.div_ceil(8), "bit-string")?;
    Ok(Data::BitString(bits, bytes.to_vec()))
}

/// An octet-string, visible-string or utf8-string: a length, then bytes.
fn decode_string(r: &mut Reader<'_>, tag: u8, offset: usize) -> Result<Data, DecodeError> {
    let name = match tag {
        9 => "octet-string",
        10 => "visible-string",
        _ => "utf8-string",
    };
    let len = r.length(&format!("{name} length"), 1)?;
    let bytes = r.take(len, name)?.to_vec();
    Ok(match tag {
        9 => Data::OctetString(bytes),
        10 => Data::VisibleString(bytes),
        _ => Data::Utf8String(
            String::from_utf8(bytes).map_err(|e| r.error_at(name, offset, format_args!("not UTF-8: {e}")))?,
        ),
    })
}

/// The fixed-size choices.
fn decode_fixed(r: &mut Reader<'_>, tag: u8, offset: usize) -> Result<Data, DecodeError> {
    Ok(match tag {
        3 => Data::Boolean(r.u8("boolean")? != 0),
        5 => Data::DoubleLong(r.u32("double-long")? as i32),
        6 => Data::DoubleLongUnsigned(r.u32("double-long-unsigned")?),
        13 => Data::Bcd(r.u8("bcd")? as i8),
        15 => Data::Integer(r.u8("integer")? as i8),
        16 => Data::Long(r.u16("long")? as i16),
        17 => Data::Unsigned(r.u8("unsigned")?),
        18 => Data::LongUnsigned(r.u16("long-unsigned")?),
        20 => Data::Long64(r.u64("long64")? as i64),
        21 => Data::Long64Unsigned(r.u64("long64-unsigned")?),
        22 => Data::Enum(r.u8("enum")?),
        23 => Data::Float32(f32::from_bits(r.u32("float32")?)),
        24 => Data::Float64(f64::from_bits(r.u64("float64")?)),
        25 => Data::DateTime(r.array("date-time")?),
        26 => Data::Date(r.array("date")?),
        27 => Data::Time(r.array("time")?),
        _ => {
            let what = match tag_name(tag) {
                Some(name) => format!("tag {tag} ({name}) is not decoded"),
                None => format!("tag {tag} (0x{tag:02X}) is not a Data type"),
            };
            return Err(r.error_at("Data", offset, what));
        }
    })
}

/// `value` as JSON for the fields: `{"type": <Blue Book name>, "value": ...}`;
/// numbers as JSON numbers (exact to 64 bits), floats as their exact
/// decimal text, octet-strings as hex, a twelve-byte octet-string also as
/// date-time text.
pub fn to_json(value: &Value) -> Json {
    let data = &value.data;
    let shown = match data {
        Data::Null => Json::Null,
        Data::Array(items) | Data::Structure(items) => Json::Array(items.iter().map(to_json).collect()),
        Data::Boolean(b) => (*b).into(),
        Data::BitString(bits, bytes) => bit_text(*bits, bytes).into(),
        Data::DoubleLong(v) => (*v).into(),
        Data::DoubleLongUnsigned(v) => (*v).into(),
        Data::OctetString(b) => hex::encode(b).into(),
        Data::VisibleString(b) => visible_text(b),
        Data::Utf8String(s) => s.as_str().into(),
        Data::Bcd(v) | Data::Integer(v) => (*v).into(),
        Data::Long(v) => (*v).into(),
        Data::Unsigned(v) | Data::Enum(v) => (*v).into(),
        Data::LongUnsigned(v) => (*v).into(),
        Data::Long64(v) => (*v).into(),
        Data::Long64Unsigned(v) => (*v).into(),
        // The shortest text that reads back as the same binary value: a
        // float's exact expansion runs to hundreds of digits, and fields
        // must not grow far beyond the frame (readings use the exact one).
        Data::Float32(v) => shortest(f64::from(*v), v.to_string()).into(),
        Data::Float64(v) => shortest(*v, v.to_string()).into(),
        Data::DateTime(b) => hex::encode(b).into(),
        Data::Date(b) => hex::encode(b).into(),
        Data::Time(b) => hex::encode(b).into(),
    };
    let mut out = json!({ "type": data.type_name(), "value": shown });
    if let Some(t) = data.date_time() {
        out["dateTime"] = date_time_json(&t);
    }
    if let Data::OctetString(b) = data
        && !b.is_empty()
        && b.iter().all(|c| (0x20..0x7f).contains(c))
    {
        // Serial numbers and device names come as octet-strings of text.
        out["text"] = String::from_utf8_lossy(b).into_owned().into();
    }
    out
}

/// A date-time as JSON: local text, deviation and status when specified.
pub fn date_time_json(t: &CosemDateTime) -> Json {
    json!({ "local": t.local_text(), "deviation": t.deviation_minutes(), "status": t.status_bits() })
}

/// A visible-string as text when every byte is printable ASCII, else as
/// `{"hex": ...}` (never lossy).
fn visible_text(bytes: &[u8]) -> Json {
    match std::str::from_utf8(bytes) {
        Ok(s) if bytes.iter().all(|b| (0x20..0x7f).contains(b)) => s.into(),
        _ => json!({ "hex": hex::encode(bytes) }),
    }
}

/// The bits of a bit-string as `0`/`1` text, first bit first.
fn bit_text(bits: usize, bytes: &[u8]) -> String {
    (0..bits).map(|i| if bytes[i / 8] & (0x80 >> (i % 8)) != 0 { '1' } else { '0' }).collect()
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::hex::decode_spaced;

    use super::*;

    fn one(hex_text: &str) -> Result<Value, String> {
        let bytes = decode_spaced(hex_text).unwrap();
        let mut r = Reader::new(&bytes, "APDU");
        let v = decode(&mut r, 0).map_err(|e| e.reason)?;
        r.expect_end("the value").map_err(|e| e.reason)?;
        Ok(v)
    }

    fn shown(hex_text: &str) -> String {
        let v = to_json(&one(hex_text).unwrap());
        format!("{} {}", v["type"].as_str().unwrap(), v["value"])
    }

    #[test]
    fn every_choice_decodes() {
        let cases = [
            ("00", "null-data null"),
            ("03 01", "boolean true"),
            ("04 0b a0e0", "bit-string \"10100000111\""),
            ("05 fffffffe", "double-long -2"),
            ("06 00002394", "double-long-unsigned 9108"),
            ("09 03 010203", "octet-string \"010203\""),
            ("0a 02 4142", "visible-string \"AB\""),
            ("0a 02 41ff", "visible-string {\"hex\":\"41ff\"}"),
            ("0c 02 c3a9", "utf8-string \"é\""),
            ("0d 12", "bcd 18"),
            ("0f fd", "integer -3"),
            ("10 8000", "long -32768"),
            ("11 ff", "unsigned 255"),
            ("12 0904", "long-unsigned 2308"),
            ("14 ffffffffffffffff", "long64 -1"),
            ("15 ffffffffffffffff", "long64-unsigned 18446744073709551615"),
            ("16 1e", "enum 30"),
            ("17 3dcccccd", "float32 \"0.1\""),
            ("18 406cd00000000000", "float64 \"230.5\""),
            ("19 07e50713010f2e2300ff8880", "date-time \"07e50713010f2e2300ff8880\""),
            ("1a 07e50713ff", "date \"07e50713ff\""),
            ("1b 0f2e2300", "time \"0f2e2300\""),
            ("01 02 11 01 11 02", "array [{\"type\":\"unsigned\",\"value\":1},{\"type\":\"unsigned\",\"value\":2}]"),
            ("02 00", "structure []"),
            ("09 81 01 aa", "octet-string \"aa\""),
        ];
        for (input, want) in cases {
            assert_eq!(shown(input), want, "{input}");
        }
    }

    #[test]
    fn twelve_bytes_of_octet_string_also_show_as_date_time() {
        let v = to_json(&one("09 0c 07e50713010f2e2300ff8880").unwrap());
        assert_eq!(v["dateTime"].to_string(), r#"{"deviation":-120,"local":"2021-07-19T15:46:35.00","status":128}"#);
        assert!(to_json(&one("09 02 0102").unwrap()).get("dateTime").is_none());
    }

    #[test]
    fn printable_octet_strings_also_show_as_text() {
        assert_eq!(to_json(&one("09 03 414243").unwrap())["text"], "ABC");
        assert!(to_json(&one("09 03 4142ff").unwrap()).get("text").is_none());
        assert!(to_json(&one("09 00").unwrap()).get("text").is_none());
    }

    #[test]
    fn values_remember_their_offsets() {
        let v = one("02 02 0f fd 16 1e").unwrap();
        let Data::Structure(items) = v.data else { panic!("a structure") };
        assert_eq!((v.offset, items[0].offset, items[1].offset), (0, 2, 4));
    }

    #[test]
    fn bounds_and_unknown_tags_are_refused_naming_the_offset() {
        let err = |h: &str| one(h).unwrap_err();
        assert_eq!(
            err("02 05 0f 01 0f 02"),
            "APDU: structure length at offset 1: length 5 needs at least 5 byte(s), 4 are left"
        );
        assert_eq!(err("02 03 0f 01 0f 02"), "APDU: Data tag at offset 6: needs 1 byte(s), 0 left");
        assert_eq!(err("02 02 0f 01 12 00"), "APDU: long-unsigned at offset 5: needs 2 byte(s), 1 left");
        assert_eq!(err("13 00"), "APDU: Data at offset 0: tag 19 (compact-array) is not decoded");
        assert_eq!(err("02 01 07"), "APDU: Data at offset 2: tag 7 (0x07) is not a Data type");
        assert_eq!(err("ff"), "APDU: Data at offset 0: tag 255 (dont-care) is not decoded");
        assert!(err("0c 01 ff").starts_with("APDU: utf8-string at offset 0: not UTF-8"));
        assert!(err("04 81 ff 00").contains("bit-string at offset 3: needs 32 byte(s)"));
        let deep = "02 01 ".repeat(MAX_DEPTH + 1) + "00";
        assert_eq!(err(&deep), format!("APDU: structure at offset {}: nests deeper than 16 levels", 2 * MAX_DEPTH));
        let ok = "02 01 ".repeat(MAX_DEPTH) + "00";
        assert!(one(&ok).is_ok());
        let many = format!("01 82 10 01 {}", "00 ".repeat(MAX_ELEMENTS + 1));
        assert_eq!(err(&many), "APDU: array at offset 0: 4097 elements exceed the 4096 decoded");
        assert_eq!(
            err("09 04 0102"),
            "APDU: octet-string length at offset 1: length 4 needs at least 4 byte(s), 2 are left"
        );
        assert_eq!(err("00 00"), "APDU: end at offset 1: 1 byte(s) left after the value");
    }
}

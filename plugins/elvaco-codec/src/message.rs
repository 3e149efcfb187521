//! Layer 1: one uplink's FRMPayload to a [`Message`]: its format and its
//! records, checked.
//!
//! Byte 0 is the message format ([`crate::formats`]); the body is M-Bus
//! records ([`crate::mbus`]), a JSON object ([`crate::json_format`]) or the
//! two bytes `0E 00` of the meter communication error. Two records that
//! would get the same field name (the same quantity, function, storage,
//! tariff and subunit) make the message an error: which one to archive
//! would be a guess. So does a number no exact decimal can hold (a JSON
//! energy with more than 28 decimals).

use meterhub_plugin_api::DecodeError;

use crate::fields::field_name;
use crate::formats::{Format, Layout, lookup};
use crate::json_format::{self, JsonBody};
use crate::mbus::{self, Record, Value};
use crate::reader::Reader;

/// One decoded uplink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its message format.
    pub format: &'static Format,
    /// What it carries.
    pub body: Body,
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Data records, in payload order.
    Records(Vec<Record>),
    /// The module could not read the meter.
    CommunicationError,
}

/// Whether `fport` is an application port (1-223): 0 carries MAC commands,
/// 224-255 are reserved by LoRaWAN.
fn check_port(fport: u8) -> Result<(), DecodeError> {
    match fport {
        0 => Err(DecodeError::new("fPort 0: MAC commands, not meter data")),
        224..=255 => Err(DecodeError::new(format!("fPort {fport}: a port reserved by LoRaWAN, not meter data"))),
        _ => Ok(()),
    }
}

/// Decode the FRMPayload `bytes` received on `fport`.
pub fn decode(fport: u8, bytes: &[u8]) -> Result<Message, DecodeError> {
    check_port(fport)?;
    let r = Reader::new(bytes, format!("fPort {fport}"));
    let id = r.u8(0, "message format").map_err(|_| r.error("empty payload (no message format byte at offset 0)"))?;
    let format = lookup(id).map_err(|e| r.error_at("message format", 0, e))?;
    let r = r.described(format!("fPort {fport} message format {id:02X} ({})", format.name));
    let body = match format.layout {
        Layout::MBus => {
            let records = mbus::records(&r, 1)?;
            if records.is_empty() {
                return Err(r.error_at("records", 1, "none: the message ends after its format byte"));
            }
            Body::Records(records)
        }
        Layout::Json => match json_format::decode(&r, 1)? {
            JsonBody::Records(records) => Body::Records(records),
            JsonBody::CommunicationError => Body::CommunicationError,
        },
        Layout::CommunicationError => {
            if r.bytes() != [0x0E, 0x00] {
                return Err(r.error_at(
                    "payload",
                    0,
                    format_args!("the communication error message is the two bytes 0E 00, got {} byte(s)", r.len()),
                ));
            }
            Body::CommunicationError
        }
    };
    if let Body::Records(records) = &body {
        for (i, record) in records.iter().enumerate() {
            let name = field_name(record, format);
            if matches!(record.value, Value::Number { .. }) && record.value.decimal().is_none() {
                return Err(r.error_at(&name, record.offset, "the value does not fit an exact decimal"));
            }
            if let Some(earlier) = records[..i].iter().find(|other| field_name(other, format) == name) {
                return Err(r.error_at(
                    &name,
                    record.offset,
                    format_args!("repeats the record at offset {}", earlier.offset),
                ));
            }
        }
    }
    Ok(Message { format, body })
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::testing::unhex;

    use super::*;

    fn err(fport: u8, hex: &str) -> String {
        decode(fport, &unhex(hex)).unwrap_err().reason
    }

    #[test]
    fn formats_and_bodies() {
        let m = decode(2, &unhex("010c06374189000c789897967002fd170000")).unwrap();
        assert_eq!(m.format.name, "Compact");
        let Body::Records(records) = m.body else { panic!() };
        assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), [1, 7, 13]);
        assert_eq!(decode(2, &[0x0e, 0x00]).unwrap().body, Body::CommunicationError);
        assert_eq!(decode(2, b"\x02{ }").unwrap().body, Body::CommunicationError);
    }

    #[test]
    fn errors_name_port_format_field_and_offset() {
        assert_eq!(err(2, ""), "fPort 2: empty payload (no message format byte at offset 0)");
        assert_eq!(err(0, "00"), "fPort 0: MAC commands, not meter data");
        assert_eq!(err(224, "00"), "fPort 224: a port reserved by LoRaWAN, not meter data");
        assert!(err(2, "15").starts_with("fPort 2: message format at offset 0: message format 15 is a CMi4140 format"));
        assert_eq!(
            err(2, "00"),
            "fPort 2 message format 00 (Standard): records at offset 1: none: the message ends after its format byte"
        );
        assert_eq!(
            err(2, "0e0000"),
            "fPort 2 message format 0E (Meter Communication Error): payload at offset 0: the communication error message is the two bytes 0E 00, got 3 byte(s)"
        );
        assert_eq!(
            err(1, "010c06374189000c"),
            "fPort 1 message format 01 (Compact): VIF at offset 8: needs 1 byte(s), the payload has 8"
        );
        let tiny =
            format!("02{}", meterhub_plugin_api::testing::hex(br#"{"E":"0.0000000000000000000000000001","U":"Wh"}"#));
        assert_eq!(
            err(2, &tiny),
            "fPort 2 message format 02 (JSON): energy at offset 6: the value does not fit an exact decimal"
        );
        assert_eq!(
            err(2, "010c06374189000c0601000000"),
            "fPort 2 message format 01 (Compact): energy at offset 7: repeats the record at offset 1"
        );
    }
}

//! The envelope's value forms, read the same way for every server: EUIs
//! (hex, or base64 in ChirpStack v3's Protobuf JSON), base64 payloads,
//! RFC 3339 and Protobuf timestamps, and the event time's fallback.

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, parse_rfc3339_ms};

use crate::error::snippet;

/// An EUI-64 (DevEUI, JoinEUI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Eui(pub [u8; 8]);

impl Eui {
    /// The 16 upper-case hex digits the metadata carries.
    pub fn hex(&self) -> String {
        meterhub_plugin_api::hex::encode_upper(&self.0)
    }

    /// Its value as one integer (a compact key).
    pub fn as_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// An EUI from exactly 16 hex digits, either case.
    pub fn from_hex(text: &str) -> Result<Eui, String> {
        let bytes = match text.len() {
            16 => meterhub_plugin_api::hex::decode(text).ok(),
            _ => None,
        };
        match bytes.and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(eui) => Ok(Eui(eui)),
            None => Err(format!("{:?} is not 16 hex digits", snippet(text))),
        }
    }

    /// An EUI from 16 hex digits or from the base64 of its 8 bytes (the
    /// two forms ChirpStack v3's marshalers write). The two cannot be
    /// confused: 8 bytes in base64 are 11 or 12 characters.
    pub fn from_hex_or_base64(text: &str) -> Result<Eui, String> {
        if text.len() == 16 {
            return Eui::from_hex(text);
        }
        match decode_base64(text).ok().and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(eui) => Ok(Eui(eui)),
            None => Err(format!("{:?} is neither 16 hex digits nor the base64 of 8 bytes", snippet(text))),
        }
    }
}

/// Standard base64, padding optional.
const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe base64, padding optional (the Protobuf JSON mapping accepts it).
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The bytes of base64 `text`: the standard alphabet (what the servers
/// write) or the URL-safe one, padding optional. The error is the standard
/// decoder's.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(text).or_else(|e| URL_SAFE.decode(text).map_err(|_| format!("not base64: {e}")))
}

/// Unix milliseconds of RFC 3339 `text` (fractions beyond milliseconds
/// truncated).
pub fn rfc3339_ms(text: &str) -> Result<i64, String> {
    parse_rfc3339_ms(text)
}

/// Unix milliseconds of a Protobuf timestamp; `None` when it does not
/// denote one (nanos outside 0..1e9, or out of `i64` milliseconds).
pub fn timestamp_ms(ts: &prost_types::Timestamp) -> Option<i64> {
    let nanos = i64::from(ts.nanos);
    if !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    ts.seconds.checked_mul(1000)?.checked_add(nanos / 1_000_000)
}

/// The event's time: the server's when it gave a usable one (from
/// 2000-01-01 to before 2100-01-01; Go's zero time `0001-01-01T00:00:00Z`,
/// which The Things Stack writes for an unset time, is not), otherwise the
/// host's receive clock.
pub fn event_ts(server_ms: Option<i64>, now_ms: i64) -> i64 {
    server_ms.filter(|ms| usable_ts(*ms)).unwrap_or(now_ms)
}

/// Whether a server's time is one meterhub takes: from 2000-01-01 to
/// before 2100-01-01.
pub fn usable_ts(ms: i64) -> bool {
    (MIN_TS_MS..MAX_TS_MS).contains(&ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euis_in_hex_or_base64() {
        let eui = Eui::from_hex("0101010101010a0B").unwrap();
        assert_eq!(eui.hex(), "0101010101010A0B");
        assert_eq!(Eui::from_hex_or_base64("AgICAgICAgI=").unwrap().hex(), "0202020202020202");
        assert_eq!(Eui::from_hex_or_base64("AgICAgICAgI").unwrap().hex(), "0202020202020202");
        assert_eq!(Eui::from_hex_or_base64("0202020202020202").unwrap().hex(), "0202020202020202");
        assert_eq!(Eui::from_hex("01010101").unwrap_err(), "\"01010101\" is not 16 hex digits");
        assert_eq!(Eui::from_hex("010101010101010g").unwrap_err(), "\"010101010101010g\" is not 16 hex digits");
        assert!(Eui::from_hex("ääääääää").is_err());
        assert!(Eui::from_hex_or_base64("AgICAgICAg==").is_err(), "7 bytes");
    }

    #[test]
    fn base64_standard_or_url_safe() {
        assert_eq!(decode_base64("qg==").unwrap(), vec![0xaa]);
        assert_eq!(decode_base64("qg").unwrap(), vec![0xaa]);
        assert_eq!(decode_base64("-_8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_base64("...").unwrap_err(), "not base64: Invalid symbol 46, offset 0.");
        assert_eq!(decode_base64("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn times_and_their_fallback() {
        assert_eq!(rfc3339_ms("2022-07-18T09:34:15.775023242+00:00"), Ok(1_658_136_855_775));
        let ts = prost_types::Timestamp { seconds: 1_658_136_855, nanos: 775_023_242 };
        assert_eq!(timestamp_ms(&ts), Some(1_658_136_855_775));
        assert_eq!(timestamp_ms(&prost_types::Timestamp { seconds: 1, nanos: -1 }), None);
        assert_eq!(timestamp_ms(&prost_types::Timestamp { seconds: i64::MAX, nanos: 0 }), None);
        let zero = rfc3339_ms("0001-01-01T00:00:00Z").unwrap();
        assert_eq!(event_ts(Some(zero), 5), 5);
        assert_eq!(event_ts(None, 5), 5);
        assert_eq!(event_ts(Some(1_658_136_855_775), 5), 1_658_136_855_775);
    }
}

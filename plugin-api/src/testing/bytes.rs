//! Bytes in test data: hex both ways (over [`crate::hex`], panicking with
//! the offending text, as test data should) and bytes shown as text.

use std::fmt::Write as _;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    crate::hex::encode(bytes)
}

/// The bytes of hex `text` (either case, no separators).
///
/// # Panics
///
/// When `text` is not hex, naming it and where.
pub fn unhex(text: &str) -> Vec<u8> {
    crate::hex::decode(text).unwrap_or_else(|e| panic!("test data {text:?} is not hex: {e}"))
}

/// `bytes` as text: valid UTF-8 as it is, every other byte as `\xNN`
/// (upper-case), so that transcripts of binary input stay readable and
/// exact.
pub fn text(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02X}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_names_bad_text() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
        assert_eq!(unhex("00AB7f"), vec![0, 0xab, 0x7f]);
        let e = std::panic::catch_unwind(|| unhex("0g")).unwrap_err();
        assert_eq!(
            e.downcast_ref::<String>().unwrap(),
            "test data \"0g\" is not hex: not a hex digit at offset 1: 'g'"
        );
    }

    #[test]
    fn text_escapes_only_invalid_utf8() {
        assert_eq!(text(b"ok \xff\x00 \xc3\xa9"), "ok \\xFF\u{0} é");
        assert_eq!(text(b"\xc3"), "\\xC3");
    }
}

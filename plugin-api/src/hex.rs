//! Hex text of bytes, both ways: the one encoder and decoder of the
//! workspace (payloads in JSON, digests, the command line, test fixtures).

use std::fmt::Write;

/// Lower-case hex of `bytes`, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Upper-case hex of `bytes`, two digits a byte.
pub fn encode_upper(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// Why a text is not hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// A character that is not a hex digit, at this byte offset of the text.
    NotADigit {
        /// The character.
        found: char,
        /// Its byte offset in the text.
        offset: usize,
    },
    /// An odd number of digits.
    OddLength(usize),
}

impl std::fmt::Display for HexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HexError::NotADigit { found, offset } => write!(f, "not a hex digit at offset {offset}: {found:?}"),
            HexError::OddLength(n) => write!(f, "odd number of hex digits ({n})"),
        }
    }
}

impl std::error::Error for HexError {}

/// Bytes of hex `text` (either case, no separators).
pub fn decode(text: &str) -> Result<Vec<u8>, HexError> {
    if let Some((offset, found)) = text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(HexError::NotADigit { found, offset });
    }
    if !text.len().is_multiple_of(2) {
        return Err(HexError::OddLength(text.len()));
    }
    // Only ASCII hex digits from here: every byte is one digit.
    Ok(text.as_bytes().chunks(2).map(|pair| (digit(pair[0]) << 4) | digit(pair[1])).collect())
}

/// Bytes of hex `text` with ASCII white space anywhere between digits
/// ignored (`"01 02\n03"`), as people paste it.
pub fn decode_spaced(text: &str) -> Result<Vec<u8>, HexError> {
    let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    decode(&digits)
}

fn digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
        assert_eq!(decode(&encode_upper(&all)).unwrap(), all);
        assert_eq!(encode(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(encode_upper(&[0x00, 0xab, 0x7f]), "00AB7F");
    }

    #[test]
    fn refuses_what_is_not_hex_saying_where() {
        assert_eq!(decode("0g"), Err(HexError::NotADigit { found: 'g', offset: 1 }));
        assert_eq!(decode("abc"), Err(HexError::OddLength(3)));
        assert_eq!(decode("ab c").unwrap_err().to_string(), "not a hex digit at offset 2: ' '");
        assert_eq!(decode_spaced("ab c\n0").unwrap(), vec![0xab, 0xc0]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }
}

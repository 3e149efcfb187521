//! A bounds-checked little-endian reader over one packet's bytes.
//!
//! Every read names the field and its offset, and fails with a
//! [`DecodeError`] instead of panicking when the packet is too short. The
//! reader carries the packet's description (`SI-12 fPort 2 type 1 (current
//! values)`) so that every error names model, port and type.
//!
//! The `*_v` readers apply the "no value" convention of §2.2: an unsigned
//! field whose bytes are all `FF` reads as `None`. The layouts use them for
//! measured values, times, battery and serials; signed fields never do (all
//! `FF` is a valid −1 there), nor do enums, flags, bit fields, chunk headers,
//! request ids and wrapping counters.

use meterhub_plugin_api::DecodeError;

/// Reader over one packet.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    what: &'a str,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, described as `what` in errors.
    pub fn new(bytes: &'a [u8], what: &'a str) -> Self {
        Reader { bytes, what }
    }

    /// The packet length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The packet description used in errors.
    pub fn what(&self) -> &'a str {
        self.what
    }

    /// An error about this packet.
    pub fn error(&self, message: impl std::fmt::Display) -> DecodeError {
        DecodeError::new(format!("{}: {message}", self.what))
    }

    /// Fail unless the packet is exactly `n` bytes long.
    pub fn expect_len(&self, n: usize) -> Result<(), DecodeError> {
        if self.bytes.len() == n {
            Ok(())
        } else {
            Err(self.error(format!("{} bytes, expected {n}", self.bytes.len())))
        }
    }

    /// Fail unless the packet is at least `n` bytes long.
    pub fn expect_min_len(&self, n: usize) -> Result<(), DecodeError> {
        if self.bytes.len() >= n {
            Ok(())
        } else {
            Err(self.error(format!("{} bytes, expected at least {n}", self.bytes.len())))
        }
    }

    /// [`expect_len`](Self::expect_len) when the layout is `exact`, else
    /// [`expect_min_len`](Self::expect_min_len) (chunked, variable layouts).
    pub fn expect(&self, n: usize, exact: bool) -> Result<(), DecodeError> {
        if exact { self.expect_len(n) } else { self.expect_min_len(n) }
    }

    fn take<const N: usize>(&self, at: usize, field: &str) -> Result<[u8; N], DecodeError> {
        at.checked_add(N)
            .and_then(|end| self.bytes.get(at..end))
            .and_then(|slice| <[u8; N]>::try_from(slice).ok())
            .ok_or_else(|| {
                self.error(format!(
                    "field {field} at offset {at} needs {N} byte(s), the packet has {}",
                    self.bytes.len()
                ))
            })
    }

    /// Unsigned byte.
    pub fn u8(&self, at: usize, field: &str) -> Result<u8, DecodeError> {
        Ok(self.take::<1>(at, field)?[0])
    }

    /// Signed byte.
    pub fn i8(&self, at: usize, field: &str) -> Result<i8, DecodeError> {
        Ok(i8::from_le_bytes(self.take::<1>(at, field)?))
    }

    /// Unsigned 16-bit little-endian.
    pub fn u16(&self, at: usize, field: &str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take::<2>(at, field)?))
    }

    /// Signed 16-bit little-endian.
    pub fn i16(&self, at: usize, field: &str) -> Result<i16, DecodeError> {
        Ok(i16::from_le_bytes(self.take::<2>(at, field)?))
    }

    /// Unsigned 32-bit little-endian.
    pub fn u32(&self, at: usize, field: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take::<4>(at, field)?))
    }

    /// Signed 32-bit little-endian.
    pub fn i32(&self, at: usize, field: &str) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.take::<4>(at, field)?))
    }

    /// Unsigned 64-bit little-endian.
    pub fn u64(&self, at: usize, field: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take::<8>(at, field)?))
    }

    /// Unsigned byte, `None` when `FF` ("no value").
    pub fn u8_v(&self, at: usize, field: &str) -> Result<Option<u8>, DecodeError> {
        self.u8(at, field).map(|v| (v != u8::MAX).then_some(v))
    }

    /// Unsigned 16-bit, `None` when `FF FF` ("no value").
    pub fn u16_v(&self, at: usize, field: &str) -> Result<Option<u16>, DecodeError> {
        self.u16(at, field).map(|v| (v != u16::MAX).then_some(v))
    }

    /// Unsigned 32-bit, `None` when all `FF` ("no value").
    pub fn u32_v(&self, at: usize, field: &str) -> Result<Option<u32>, DecodeError> {
        self.u32(at, field).map(|v| (v != u32::MAX).then_some(v))
    }

    /// Unsigned 64-bit, `None` when all `FF` ("no value").
    pub fn u64_v(&self, at: usize, field: &str) -> Result<Option<u64>, DecodeError> {
        self.u64(at, field).map(|v| (v != u64::MAX).then_some(v))
    }

    /// The bytes from `at` to the end (empty when `at` is past the end).
    pub fn rest(&self, at: usize) -> &'a [u8] {
        self.bytes.get(at..).unwrap_or(&[])
    }

    /// `len` bytes from `at`.
    pub fn slice(&self, at: usize, len: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        at.checked_add(len).and_then(|end| self.bytes.get(at..end)).ok_or_else(|| {
            self.error(format!("field {field} at offset {at} needs {len} byte(s), the packet has {}", self.bytes.len()))
        })
    }
}

/// Lower-case hex text of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    meterhub_plugin_api::hex::encode(bytes)
}

/// Parse hex text (either case) into bytes; the error says what is wrong.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    meterhub_plugin_api::hex::decode(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_little_endian_and_bounds_checked() {
        let r = Reader::new(&[0x01, 0x02, 0x03, 0x04, 0xff], "X fPort 2 type 1 (t)");
        assert_eq!(r.u16(0, "a").unwrap(), 0x0201);
        assert_eq!(r.u32(0, "a").unwrap(), 0x0403_0201);
        assert_eq!(r.i8(4, "a").unwrap(), -1);
        assert_eq!(r.u8_v(4, "a").unwrap(), None);
        let e = r.u32(2, "input1").unwrap_err();
        assert_eq!(e.reason, "X fPort 2 type 1 (t): field input1 at offset 2 needs 4 byte(s), the packet has 5");
        assert!(r.u8(usize::MAX, "x").is_err());
        assert_eq!(r.expect_len(4).unwrap_err().reason, "X fPort 2 type 1 (t): 5 bytes, expected 4");
        assert_eq!(r.rest(9), &[] as &[u8]);
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(parse_hex("01aBFf").unwrap(), vec![1, 0xab, 0xff]);
        assert_eq!(hex(&[1, 0xab, 0xff]), "01abff");
        assert!(parse_hex("abc").unwrap_err().contains("odd"));
        assert!(parse_hex("zz").unwrap_err().contains("offset 0"));
    }
}

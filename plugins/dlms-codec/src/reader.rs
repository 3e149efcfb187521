//! A bounds-checked cursor over one APDU's bytes (the frame's payload, or
//! the plaintext a ciphered APDU opened to).
//!
//! Every read names the field and its byte offset and fails with a
//! [`DecodeError`] instead of panicking when the bytes run out. The reader
//! carries a description of what it reads (`APDU`, `deciphered APDU`) so
//! that an error also says which buffer the offset counts in.

use meterhub_plugin_api::DecodeError;

/// Cursor over one buffer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: String,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, described as `what` in errors.
    pub fn new(bytes: &'a [u8], what: impl Into<String>) -> Self {
        Reader { bytes, pos: 0, what: what.into() }
    }

    /// The offset of the next byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// An error about this buffer.
    pub fn error(&self, message: impl std::fmt::Display) -> DecodeError {
        DecodeError::new(format!("{}: {message}", self.what))
    }

    /// An error about field `field` at offset `at`.
    pub fn error_at(&self, field: &str, at: usize, message: impl std::fmt::Display) -> DecodeError {
        self.error(format!("{field} at offset {at}: {message}"))
    }

    /// The next `len` bytes, for `field`.
    pub fn take(&mut self, len: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let slice = at.checked_add(len).and_then(|end| self.bytes.get(at..end)).ok_or_else(|| {
            self.error_at(field, at, format_args!("needs {len} byte(s), {} left", self.bytes.len() - at))
        })?;
        self.pos += len;
        Ok(slice)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// The next byte.
    pub fn u8(&mut self, field: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self, field: &str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// The next four bytes, big-endian.
    pub fn u32(&mut self, field: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// The next eight bytes, big-endian.
    pub fn u64(&mut self, field: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// An A-XDR length (X.690 definite form: one byte below 0x80, else
    /// `0x80 | n` and n big-endian bytes, n 1 to 4), checked against the
    /// bytes left when each unit counted takes at least `min_unit_bytes`
    /// (so that no length makes the caller reserve more than the input).
    pub fn length(&mut self, field: &str, min_unit_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let first = self.u8(field)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(self.error_at(
                    field,
                    at,
                    format_args!("length form 0x{first:02X} is not 1 to 4 length bytes"),
                ));
            }
            let mut len = 0usize;
            for b in self.take(n, field)? {
                len = (len << 8) | usize::from(*b);
            }
            len
        };
        let needed = len.saturating_mul(min_unit_bytes);
        if needed > self.remaining() {
            return Err(self.error_at(
                field,
                at,
                format_args!("length {len} needs at least {needed} byte(s), {} are left", self.remaining()),
            ));
        }
        Ok(len)
    }

    /// Fail unless every byte was read.
    pub fn expect_end(&self, after: &str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error_at("end", self.pos, format_args!("{n} byte(s) left after {after}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked_and_name_field_and_offset() {
        let mut r = Reader::new(&[0x0f, 0x00, 0x00, 0x01, 0xdb, 0x00], "APDU");
        assert_eq!(r.u8("tag").unwrap(), 0x0f);
        assert_eq!(r.u32("long-invoke-id-and-priority").unwrap(), 0x1db);
        assert_eq!(r.u16("x").unwrap_err().reason, "APDU: x at offset 5: needs 2 byte(s), 1 left");
        assert_eq!(r.pos(), 5, "a failed read does not move");
        assert_eq!(r.u8("date-time").unwrap(), 0);
        assert!(r.expect_end("the body").is_ok());
        assert!(r.take(usize::MAX, "x").is_err());
    }

    #[test]
    fn lengths_are_short_or_long_form_and_fit_what_is_left() {
        assert_eq!(Reader::new(&[0x02, 1, 2], "b").length("n", 1).unwrap(), 2);
        assert_eq!(Reader::new(&[0x81, 0x01, 9], "b").length("n", 1).unwrap(), 1);
        assert_eq!(Reader::new(&[0x82, 0x00, 0x01, 9], "b").length("n", 1).unwrap(), 1);
        assert_eq!(
            Reader::new(&[0x03, 1, 2], "b").length("n", 1).unwrap_err().reason,
            "b: n at offset 0: length 3 needs at least 3 byte(s), 2 are left"
        );
        assert_eq!(
            Reader::new(&[0x85, 0, 0, 0, 0, 1], "b").length("n", 1).unwrap_err().reason,
            "b: n at offset 0: length form 0x85 is not 1 to 4 length bytes"
        );
        assert!(Reader::new(&[0x84, 0xff, 0xff, 0xff, 0xff], "b").length("n", 1).is_err());
        assert_eq!(Reader::new(&[0x84, 0xff, 0xff, 0xff, 0xff], "b").length("n", 0).unwrap(), 0xffff_ffff);
    }

    #[test]
    fn trailing_bytes_are_named() {
        let mut r = Reader::new(&[1, 2, 3], "APDU");
        r.u8("tag").unwrap();
        assert_eq!(
            r.expect_end("the body").unwrap_err().reason,
            "APDU: end at offset 1: 2 byte(s) left after the body"
        );
    }
}

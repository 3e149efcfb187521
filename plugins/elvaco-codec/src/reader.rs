//! A bounds-checked reader over one uplink's FRMPayload.
//!
//! Every read names the field and its byte offset and fails with a
//! [`DecodeError`] instead of panicking when the payload is too short. The
//! reader carries the uplink's description (`fPort 2 message format 0x00
//! (Standard)`) so that every error names the port and the message format
//! as well.

use meterhub_plugin_api::DecodeError;

/// Reader over one payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    what: String,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, described as `what` in errors.
    pub fn new(bytes: &'a [u8], what: impl Into<String>) -> Self {
        Reader { bytes, what: what.into() }
    }

    /// The payload length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The whole payload.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The description used in errors.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The same payload described as `what`.
    pub fn described(&self, what: impl Into<String>) -> Reader<'a> {
        Reader { bytes: self.bytes, what: what.into() }
    }

    /// An error about this payload.
    pub fn error(&self, message: impl std::fmt::Display) -> DecodeError {
        DecodeError::new(format!("{}: {message}", self.what))
    }

    /// An error about field `field` at byte `at`.
    pub fn error_at(&self, field: &str, at: usize, message: impl std::fmt::Display) -> DecodeError {
        self.error(format!("{field} at offset {at}: {message}"))
    }

    /// The byte at `at`.
    pub fn u8(&self, at: usize, field: &str) -> Result<u8, DecodeError> {
        Ok(self.slice(at, 1, field)?[0])
    }

    /// `len` bytes from `at`.
    pub fn slice(&self, at: usize, len: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        at.checked_add(len).and_then(|end| self.bytes.get(at..end)).ok_or_else(|| {
            self.error_at(field, at, format_args!("needs {len} byte(s), the payload has {}", self.bytes.len()))
        })
    }

    /// The bytes from `at` to the end (empty past the end).
    pub fn rest(&self, at: usize) -> &'a [u8] {
        self.bytes.get(at..).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked_and_name_field_and_offset() {
        let r = Reader::new(&[0x0c, 0x06, 0x35], "fPort 2 message format 0x00 (Standard)");
        assert_eq!(r.u8(2, "x").unwrap(), 0x35);
        assert_eq!(r.slice(0, 2, "DIF").unwrap(), &[0x0c, 0x06]);
        assert_eq!(
            r.slice(1, 4, "energy").unwrap_err().reason,
            "fPort 2 message format 0x00 (Standard): energy at offset 1: needs 4 byte(s), the payload has 3"
        );
        assert!(r.slice(usize::MAX, 2, "x").is_err());
        assert!(r.u8(3, "x").is_err());
        assert_eq!(r.rest(9), &[] as &[u8]);
        assert_eq!(r.rest(2), &[0x35]);
    }
}

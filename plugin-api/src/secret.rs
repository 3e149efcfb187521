//! [`SecretKey`]: a 128-bit key from a driver instance's secrets file (a
//! DLMS block cipher or authentication key), whose `Debug` shows nothing
//! of it, so no log line or error made from a plugin's state can quote it.

/// A 128-bit key. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 16]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// The key of 32 hex digits `text`; `None` for anything else (the
    /// caller's error must not quote the text).
    pub fn from_hex(text: &str) -> Option<SecretKey> {
        let bytes = crate::hex::decode(text).ok()?;
        <[u8; 16]>::try_from(bytes.as_slice()).ok().map(SecretKey)
    }

    /// Its bytes, for the cipher.
    pub fn bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_32_hex_digits_and_never_shown() {
        let key = SecretKey::from_hex("000102030405060708090A0B0C0D0E0F").expect("a key");
        assert_eq!(key.bytes()[15], 0x0F);
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
        assert!(SecretKey::from_hex("0001").is_none() && SecretKey::from_hex("zz").is_none());
    }
}

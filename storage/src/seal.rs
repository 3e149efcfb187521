//! The checksummed envelope every stored value is wrapped in, in every
//! database of the house (archive, accounting, users):
//! `[crc32 u32 BE of (key || body)][body]`. Covering the key too catches a
//! value stored under the wrong key. Bodies are JSON (decimals as canonical
//! strings) or numbers as 8 big-endian bytes; the archive adds raw frames
//! and rejections in the journal's binary encoding (`archive::value`).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A stored value that is not what was sealed under its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored value at {key} is corrupt: {reason}")]
pub struct SealError {
    /// The key, printable ([`display_key`]).
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl SealError {
    /// A [`SealError`] for the value under `key`.
    pub fn new(key: &[u8], reason: impl Into<String>) -> SealError {
        SealError { key: display_key(key), reason: reason.into() }
    }
}

/// A key as printable text: ASCII as is, other bytes escaped (`\xff`).
pub fn display_key(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

fn crc(key: &[u8], body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(key);
    hasher.update(body);
    hasher.finalize()
}

/// Wraps `body`, stored under `key`, in the envelope.
pub fn seal(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&crc(key, body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks the envelope of the value stored under `key`; returns the body.
pub fn unseal<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [u8], SealError> {
    let Some((stored, body)) = value.split_first_chunk::<4>() else {
        return Err(SealError::new(key, format!("value of {} bytes is shorter than its checksum", value.len())));
    };
    let stored = u32::from_be_bytes(*stored);
    let computed = crc(key, body);
    if stored != computed {
        return Err(SealError::new(
            key,
            format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    Ok(body)
}

/// A JSON value, sealed.
pub fn seal_json<T: Serialize>(key: &[u8], value: &T) -> Result<Vec<u8>, SealError> {
    let body = serde_json::to_vec(value).map_err(|e| SealError::new(key, format!("cannot encode value: {e}")))?;
    Ok(seal(key, &body))
}

/// A sealed JSON value.
pub fn unseal_json<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, SealError> {
    serde_json::from_slice(unseal(key, value)?).map_err(|e| SealError::new(key, format!("cannot decode value: {e}")))
}

/// A number, sealed.
pub fn seal_u64(key: &[u8], value: u64) -> Vec<u8> {
    seal(key, &value.to_be_bytes())
}

/// A sealed number.
pub fn unseal_u64(key: &[u8], value: &[u8]) -> Result<u64, SealError> {
    let body: [u8; 8] = unseal(key, value)?
        .try_into()
        .map_err(|_| SealError::new(key, format!("expected an 8-byte number, found {} bytes", value.len() - 4)))?;
    Ok(u64::from_be_bytes(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_detects_flipped_bits_and_wrong_keys() {
        let sealed = seal_u64(b"k1", 42);
        assert_eq!(unseal_u64(b"k1", &sealed).expect("intact"), 42);
        let err = unseal_u64(b"k2", &sealed).unwrap_err();
        assert!(err.to_string().contains("k2") && err.to_string().contains("checksum"), "{err}");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(unseal_u64(b"k1", &bad).is_err(), "bit in byte {i}");
        }
        assert!(unseal(b"k1", &[1, 2]).is_err());
        assert_eq!(display_key(b"r\xff\0x"), "r\\xff\\x00x");
    }

    #[test]
    fn json_round_trips_and_names_the_key_when_it_cannot_decode() {
        let sealed = seal_json(b"user/a", &vec![1, 2]).expect("encodes");
        assert_eq!(unseal_json::<Vec<i32>>(b"user/a", &sealed).expect("decodes"), vec![1, 2]);
        let err = unseal_json::<String>(b"user/a", &sealed).unwrap_err();
        assert_eq!(err.key, "user/a");
        assert!(err.reason.starts_with("cannot decode value"), "{err}");
    }
}

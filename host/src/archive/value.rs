//! The checksummed envelope every stored value is wrapped in:
//! `[crc32 u32 BE of (key || body)][body]`. Covering the key too catches a
//! value stored under the wrong key. Bodies are JSON (decimals as canonical
//! strings), raw frames and rejections use the journal's binary encoding,
//! numbers are 8 big-endian bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use meterhub_plugin_api::RawFrame;

use super::error::ArchiveError;
use super::keys::display_key;
use crate::journal::codec;
use crate::journal::{Entry, Rejection};

fn crc(key: &[u8], body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(key);
    hasher.update(body);
    hasher.finalize()
}

fn corrupt(key: &[u8], reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt { key: display_key(key), reason: reason.into() }
}

/// Wraps `body`, stored under `key`, in the envelope.
pub(crate) fn seal(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&crc(key, body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks the envelope of the value stored under `key`; returns the body.
pub(crate) fn unseal<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [u8], ArchiveError> {
    let Some((stored, body)) = value.split_first_chunk::<4>() else {
        return Err(corrupt(key, format!("value of {} bytes is shorter than its checksum", value.len())));
    };
    let stored = u32::from_be_bytes(*stored);
    let computed = crc(key, body);
    if stored != computed {
        return Err(corrupt(key, format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")));
    }
    Ok(body)
}

/// A JSON value, sealed.
pub(crate) fn seal_json<T: Serialize>(key: &[u8], value: &T) -> Result<Vec<u8>, ArchiveError> {
    let body = serde_json::to_vec(value).map_err(|e| corrupt(key, format!("cannot encode value: {e}")))?;
    Ok(seal(key, &body))
}

/// A sealed JSON value.
pub(crate) fn unseal_json<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, ArchiveError> {
    serde_json::from_slice(unseal(key, value)?).map_err(|e| corrupt(key, format!("cannot decode value: {e}")))
}

/// A number, sealed.
pub(crate) fn seal_u64(key: &[u8], value: u64) -> Vec<u8> {
    seal(key, &value.to_be_bytes())
}

/// A sealed number.
pub(crate) fn unseal_u64(key: &[u8], value: &[u8]) -> Result<u64, ArchiveError> {
    let body: [u8; 8] = unseal(key, value)?
        .try_into()
        .map_err(|_| corrupt(key, format!("expected an 8-byte number, found {} bytes", value.len() - 4)))?;
    Ok(u64::from_be_bytes(body))
}

/// A raw frame, sealed.
pub(crate) fn seal_frame(key: &[u8], frame: &RawFrame) -> Vec<u8> {
    seal(key, &codec::encode_frame(frame))
}

/// A sealed raw frame.
pub(crate) fn unseal_frame(key: &[u8], value: &[u8]) -> Result<RawFrame, ArchiveError> {
    codec::decode_frame(unseal(key, value)?).map_err(|e| corrupt(key, e.0))
}

/// A rejection, sealed.
pub(crate) fn seal_rejection(key: &[u8], rejection: &Rejection) -> Vec<u8> {
    let mut body = Vec::new();
    codec::encode_entry(&Entry::Rejected(rejection.clone()), &mut body);
    seal(key, &body)
}

/// A sealed rejection.
pub(crate) fn unseal_rejection(key: &[u8], value: &[u8]) -> Result<Rejection, ArchiveError> {
    match codec::decode_entry(unseal(key, value)?, 0).map_err(|e| corrupt(key, e.0))? {
        Entry::Rejected(rejection) => Ok(rejection),
        Entry::Frame(_) => Err(corrupt(key, "holds a frame where a rejection belongs")),
    }
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
            assert!(matches!(unseal_u64(b"k1", &bad), Err(ArchiveError::Corrupt { .. })), "bit in byte {i}");
        }
        assert!(matches!(unseal(b"k1", &[1, 2]), Err(ArchiveError::Corrupt { .. })));
    }
}

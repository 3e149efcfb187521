//! The archive's values in the sealed envelope ([`crate::seal`]): JSON and
//! numbers as everywhere, raw frames and rejections in the journal's binary
//! encoding. Errors are the archive's own ([`ArchiveError::Corrupt`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

use meterhub_plugin_api::RawFrame;

use super::error::ArchiveError;
use crate::journal::codec;
use crate::journal::{Entry, Rejection};
pub(crate) use crate::seal::seal;
use crate::seal::{self, SealError};

fn corrupt(key: &[u8], reason: impl Into<String>) -> ArchiveError {
    SealError::new(key, reason).into()
}

/// A JSON value, sealed.
pub(crate) fn seal_json<T: Serialize>(key: &[u8], value: &T) -> Result<Vec<u8>, ArchiveError> {
    Ok(seal::seal_json(key, value)?)
}

/// A sealed JSON value.
pub(crate) fn unseal_json<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, ArchiveError> {
    Ok(seal::unseal_json(key, value)?)
}

/// A number, sealed.
pub(crate) fn seal_u64(key: &[u8], value: u64) -> Vec<u8> {
    seal::seal_u64(key, value)
}

/// A sealed number.
pub(crate) fn unseal_u64(key: &[u8], value: &[u8]) -> Result<u64, ArchiveError> {
    Ok(seal::unseal_u64(key, value)?)
}

pub(crate) fn unseal<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [u8], ArchiveError> {
    Ok(seal::unseal(key, value)?)
}

/// A raw frame, sealed (layout 1 stored frames so; the migration tests write them).
#[cfg(test)]
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

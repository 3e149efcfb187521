//! Key layout of the single sled tree. Every key starts with a one-byte
//! prefix naming its table; integers are big-endian, timestamps have the
//! sign bit flipped, so byte order is numeric order; strings inside a key are
//! followed by a 0 byte (device and channel never contain NUL).
//!
//! | prefix | key                                  | value                              |
//! |--------|--------------------------------------|------------------------------------|
//! | `a`    | meta name                            | `u64` (applied-through, next seq, layout, chunked-through) |
//! | `L`    | first reading seq                    | log block ([`super::blocks`])      |
//! | `C`    | device 0 channel 0 first ts, first seq | series chunk ([`super::chunks`]) |
//! | `F`    | first frame seq                      | frame block (raw frames)           |
//! | `I`    | first frame seq                      | frame block header (index)         |
//! | `X`    | a `C` key                            | a damaged chunk, as found          |
//! | `q`    | frame seq                            | quarantine reason and time         |
//! | `d`    | device                               | device summary                     |
//! | `c`    | source                               | source counters                    |
//! | `m`    | module                               | latest telemetry                   |
//! | `k`    | cursor name                          | `u64`                              |
//! | `x`    | source length (u32), source, seq     | rejection                          |
//! | `p`    | source length (u32), source, key     | resume mark (`i64`, sign flipped)  |
//!
//! Layout 1 (before storage v2) kept one entry per reading and frame: `r`
//! (device 0 channel 0 ts: the reading and its conflicts), `l` (reading seq:
//! its `r` key), `f` (frame seq: the frame), `t` (received-at, frame seq).
//! [`super::migrate`] converts them.

use super::error::ArchiveError;

pub(crate) const LOG_BLOCK: u8 = b'L';
pub(crate) const CHUNK: u8 = b'C';
pub(crate) const FRAME_BLOCK: u8 = b'F';
pub(crate) const FRAME_INDEX: u8 = b'I';
/// A damaged chunk's bytes, kept for analysis after it was rebuilt.
pub(crate) const DAMAGED_CHUNK: u8 = b'X';
/// Layout 1: one reading (and its conflicts) per natural key.
pub(crate) const V1_READING: u8 = b'r';
/// Layout 1: reading seq -> its `r` key.
pub(crate) const V1_LOG: u8 = b'l';
/// Layout 1: one raw frame per journal seq.
pub(crate) const V1_FRAME: u8 = b'f';
/// Layout 1: receive-time index of frames.
pub(crate) const V1_RECEIVED: u8 = b't';
pub(crate) const QUARANTINE: u8 = b'q';
pub(crate) const DEVICE: u8 = b'd';
pub(crate) const COUNTERS: u8 = b'c';
pub(crate) const TELEMETRY: u8 = b'm';
pub(crate) const CURSOR: u8 = b'k';
pub(crate) const REJECTION: u8 = b'x';
pub(crate) const RESUME: u8 = b'p';

/// Meta key (table `a`): highest journal seq applied.
pub(crate) const APPLIED_THROUGH: &[u8] = b"aapplied_through";
/// Meta key (table `a`): the next global reading seq.
pub(crate) const NEXT_READING_SEQ: &[u8] = b"anext_reading_seq";
/// Meta key (table `a`): the layout version of the tree (absent: layout 1).
pub(crate) const LAYOUT: &[u8] = b"alayout";
/// Meta key (table `a`): every reading up to this seq is in the chunks.
pub(crate) const CHUNKED_THROUGH: &[u8] = b"achunked_through";
/// The layout this code writes.
pub(crate) const LAYOUT_VERSION: u64 = 2;

/// A timestamp as 8 bytes that sort like the signed number.
pub(crate) fn ts_bytes(ts_ms: i64) -> [u8; 8] {
    ((ts_ms as u64) ^ (1 << 63)).to_be_bytes()
}

fn ts_from_bytes(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// The timestamp in the 8 bytes of `slice` (as [`ts_bytes`] wrote them).
pub(crate) fn ts_from_slice(slice: &[u8]) -> i64 {
    ts_from_bytes(slice.try_into().unwrap_or([0x80, 0, 0, 0, 0, 0, 0, 0]))
}

/// Checks a string that goes inside a key followed by a 0 separator.
pub(crate) fn check_component(what: &'static str, value: &str) -> Result<(), ArchiveError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.contains('\0') {
        "it contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(ArchiveError::InvalidKey { what, value: value.to_string(), reason })
}

fn with_prefix(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(prefix);
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// `C` device 0 channel 0: every chunk of a series. Both must be checked.
pub(crate) fn chunk_prefix(device: &str, channel: &str) -> Vec<u8> {
    with_prefix(CHUNK, &[device.as_bytes(), &[0], channel.as_bytes(), &[0]])
}

/// Layout 1's natural key of a reading (`r` device 0 channel 0 ts).
#[cfg(test)]
pub(crate) fn v1_reading_key(device: &str, channel: &str, ts_ms: i64) -> Vec<u8> {
    with_prefix(V1_READING, &[device.as_bytes(), &[0], channel.as_bytes(), &[0], &ts_bytes(ts_ms)])
}

/// The first key after every key starting with `prefix`, for a prefix that
/// ends in a 0 separator.
pub(crate) fn after_prefix(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// Splits a layout 1 reading key into device, channel and timestamp.
pub(crate) fn parse_v1_reading_key(key: &[u8]) -> Option<(&str, &str, i64)> {
    let rest = key.strip_prefix(&[V1_READING])?;
    let device_end = rest.iter().position(|&b| b == 0)?;
    let device = std::str::from_utf8(&rest[..device_end]).ok()?;
    let rest = &rest[device_end + 1..];
    let channel_end = rest.iter().position(|&b| b == 0)?;
    let channel = std::str::from_utf8(&rest[..channel_end]).ok()?;
    let ts: [u8; 8] = rest[channel_end + 1..].try_into().ok()?;
    Some((device, channel, ts_from_bytes(ts)))
}

/// A table key made of the prefix and a big-endian sequence number.
pub(crate) fn seq_key(prefix: u8, seq: u64) -> Vec<u8> {
    with_prefix(prefix, &[&seq.to_be_bytes()])
}

/// The sequence number of a key made by [`seq_key`] (or ending with one).
pub(crate) fn trailing_seq(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[start..].try_into().ok()?))
}

/// A table key made of the prefix and a string (the string ends the key).
pub(crate) fn name_key(prefix: u8, name: &str) -> Vec<u8> {
    with_prefix(prefix, &[name.as_bytes()])
}

/// Layout 1's receive-time index key (`t` received-at, frame seq).
pub(crate) fn v1_received_key(received_at_ms: i64, frame_seq: u64) -> Vec<u8> {
    with_prefix(V1_RECEIVED, &[&ts_bytes(received_at_ms), &frame_seq.to_be_bytes()])
}

/// `x` length, source: all kept rejections of a source.
pub(crate) fn rejection_prefix(source: &str) -> Vec<u8> {
    let len = u32::try_from(source.len()).unwrap_or(u32::MAX);
    with_prefix(REJECTION, &[&len.to_be_bytes(), source.as_bytes()])
}

/// `p` length, source: all resume marks of a source.
pub(crate) fn resume_prefix(source: &str) -> Vec<u8> {
    let len = u32::try_from(source.len()).unwrap_or(u32::MAX);
    with_prefix(RESUME, &[&len.to_be_bytes(), source.as_bytes()])
}

/// `p` length, source, key: one resume mark.
pub(crate) fn resume_key(source: &str, key: &str) -> Vec<u8> {
    let mut k = resume_prefix(source);
    k.extend_from_slice(key.as_bytes());
    k
}

/// A resume mark as stored (sign bit flipped, like timestamps).
pub(crate) fn mark_to_u64(mark: i64) -> u64 {
    u64::from_be_bytes(ts_bytes(mark))
}

/// The stored resume mark.
pub(crate) fn mark_from_u64(stored: u64) -> i64 {
    ts_from_bytes(stored.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_numerically_including_negatives() {
        let ts = [i64::MIN, -1_000, -1, 0, 1, 1_763_719_200_000, i64::MAX];
        let keys: Vec<Vec<u8>> = ts.iter().map(|&t| v1_reading_key("dev", "ch", t)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (&t, key) in ts.iter().zip(&keys) {
            assert_eq!(parse_v1_reading_key(key), Some(("dev", "ch", t)));
            assert_eq!(ts_from_slice(&key[key.len() - 8..]), t);
        }
    }

    #[test]
    fn device_and_channel_boundaries_sort_before_longer_names() {
        // "a" then "ab": the 0 separator keeps every key of "a" before "ab".
        let a = [chunk_prefix("a", "zz"), ts_bytes(i64::MAX).to_vec()].concat();
        let ab = [chunk_prefix("ab", ""), ts_bytes(i64::MIN).to_vec()].concat();
        assert!(a < ab);
        let prefix = with_prefix(CHUNK, &[b"a", &[0]]);
        assert!(a.starts_with(&prefix) && !ab.starts_with(&prefix));
        assert!(a < after_prefix(&prefix) && ab > after_prefix(&prefix));
    }

    #[test]
    fn components_with_nul_or_empty_are_refused() {
        assert!(check_component("device", "m-1").is_ok());
        assert!(check_component("device", "m\0").is_err());
        assert!(check_component("channel", "").is_err());
    }

    #[test]
    fn seq_keys_sort_numerically() {
        assert!(seq_key(LOG_BLOCK, 255) < seq_key(LOG_BLOCK, 256));
        assert_eq!(trailing_seq(&seq_key(LOG_BLOCK, 7)), Some(7));
        assert!(v1_received_key(-5, 9) < v1_received_key(3, 1));
    }
}

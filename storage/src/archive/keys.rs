//! Key layout of the single sled tree. Every key starts with a one-byte
//! prefix naming its table; integers are big-endian, timestamps have the
//! sign bit flipped, so byte order is numeric order; strings inside a key are
//! followed by a 0 byte (device and channel never contain NUL).
//!
//! | prefix | key                                  | value                              |
//! |--------|--------------------------------------|------------------------------------|
//! | `a`    | meta name                            | `u64` (applied-through, next seq)  |
//! | `r`    | device 0 channel 0 ts                | original reading + its conflicts   |
//! | `l`    | reading seq                          | the `r` key of that record         |
//! | `f`    | frame seq                            | raw frame                          |
//! | `t`    | received-at ts, frame seq            | empty (index)                      |
//! | `q`    | frame seq                            | quarantine reason and time         |
//! | `d`    | device                               | device summary                     |
//! | `c`    | source                               | source counters                    |
//! | `m`    | module                               | latest telemetry                   |
//! | `k`    | cursor name                          | `u64`                              |
//! | `x`    | source length (u32), source, seq     | rejection                          |
//! | `p`    | source length (u32), source, key     | resume mark (`i64`, sign flipped)  |

use super::error::ArchiveError;

pub(crate) const READING: u8 = b'r';
pub(crate) const LOG: u8 = b'l';
pub(crate) const FRAME: u8 = b'f';
pub(crate) const RECEIVED: u8 = b't';
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

/// A timestamp as 8 bytes that sort like the signed number.
pub(crate) fn ts_bytes(ts_ms: i64) -> [u8; 8] {
    ((ts_ms as u64) ^ (1 << 63)).to_be_bytes()
}

fn ts_from_bytes(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
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

/// `r` device 0: all readings of a device. The device must be checked.
pub(crate) fn device_readings_prefix(device: &str) -> Vec<u8> {
    with_prefix(READING, &[device.as_bytes(), &[0]])
}

/// `r` device 0 channel 0: all readings of a channel. Both must be checked.
pub(crate) fn channel_readings_prefix(device: &str, channel: &str) -> Vec<u8> {
    with_prefix(READING, &[device.as_bytes(), &[0], channel.as_bytes(), &[0]])
}

/// The natural key of a reading. Device and channel must be checked.
pub(crate) fn reading_key(device: &str, channel: &str, ts_ms: i64) -> Vec<u8> {
    let mut key = channel_readings_prefix(device, channel);
    key.extend_from_slice(&ts_bytes(ts_ms));
    key
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

/// Splits a reading key into device, channel and timestamp.
pub(crate) fn parse_reading_key(key: &[u8]) -> Option<(&str, &str, i64)> {
    let rest = key.strip_prefix(&[READING])?;
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

/// `t` received-at, frame seq.
pub(crate) fn received_key(received_at_ms: i64, frame_seq: u64) -> Vec<u8> {
    with_prefix(RECEIVED, &[&ts_bytes(received_at_ms), &frame_seq.to_be_bytes()])
}

/// `t` received-at: the first index key at or after that time.
pub(crate) fn received_bound(received_at_ms: i64) -> Vec<u8> {
    with_prefix(RECEIVED, &[&ts_bytes(received_at_ms)])
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
        let keys: Vec<Vec<u8>> = ts.iter().map(|&t| reading_key("dev", "ch", t)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (&t, key) in ts.iter().zip(&keys) {
            assert_eq!(parse_reading_key(key), Some(("dev", "ch", t)));
        }
    }

    #[test]
    fn device_and_channel_boundaries_sort_before_longer_names() {
        // "a" then "ab": the 0 separator keeps every key of "a" before "ab".
        let a = reading_key("a", "zz", i64::MAX);
        let ab = reading_key("ab", "", i64::MIN);
        assert!(a < ab);
        let prefix = device_readings_prefix("a");
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
        assert!(seq_key(LOG, 255) < seq_key(LOG, 256));
        assert_eq!(trailing_seq(&seq_key(LOG, 7)), Some(7));
        assert!(received_key(-5, 9) < received_key(3, 1));
    }
}

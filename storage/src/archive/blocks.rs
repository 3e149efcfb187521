//! The archive's blocks: what one apply writes in one piece.
//!
//! - A **log block** (`L` + its first reading seq) holds every reading one
//!   apply archived, in global sequence order (their seqs are consecutive,
//!   so a block's range ends where the next block starts). It is the global
//!   log consumers follow. Its value is two sealed parts: the *directory*
//!   (the registers it names) and the compressed *body*
//!   ([`super::codec`]); a damaged body can be rebuilt from the series
//!   chunks of the registers the directory names.
//! - A **frame block** (`F` + its first frame seq) holds the raw frames of
//!   one apply, compressed; its header (`I` + the same seq: last seq, count,
//!   receive-time span) lets lookups by seq and by receive time find it
//!   without reading the frames.

use meterhub_plugin_api::RawFrame;

use super::codec::{self, Reader, Registers, put_uvarint};
use super::error::ArchiveError;
use super::keys;
use super::log::ReadingBlock;
use super::model::StoredReading;
use crate::journal::codec as frame_codec;
use crate::seal::{seal, unseal};

/// The most readings one log block holds (an apply with more writes several).
pub(crate) const LOG_BLOCK_READINGS: usize = 4096;
/// A frame block is cut once its frames' payloads reach this many bytes.
pub(crate) const FRAME_BLOCK_BYTES: usize = 1 << 20;

/// `frames` cut into runs whose payloads stay within [`FRAME_BLOCK_BYTES`]
/// (a larger frame is a block of its own).
pub(crate) fn frame_block_cuts(frames: &[RawFrame]) -> Vec<&[RawFrame]> {
    let mut cuts = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, frame) in frames.iter().enumerate() {
        if i > start && bytes + frame.payload.len() > FRAME_BLOCK_BYTES {
            cuts.push(&frames[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += frame.payload.len();
    }
    if start < frames.len() {
        cuts.push(&frames[start..]);
    }
    cuts
}

/// `readings` (in global sequence order) cut into log blocks of at most
/// [`LOG_BLOCK_READINGS`], moved, not copied.
pub(crate) fn cut_log_blocks(readings: Vec<StoredReading>) -> Vec<ReadingBlock> {
    let mut blocks = Vec::with_capacity(readings.len().div_ceil(LOG_BLOCK_READINGS));
    let mut rest = readings.into_iter();
    while rest.len() > 0 {
        blocks.push(rest.by_ref().take(LOG_BLOCK_READINGS).collect());
    }
    blocks
}

/// The largest a block may decompress to (a bound against damaged sizes).
pub(crate) const MAX_BLOCK_BYTES: usize = 256 * 1024 * 1024;

fn corrupt(key: &[u8], reason: impl Into<String>) -> ArchiveError {
    crate::seal::SealError::new(key, reason).into()
}

/// A log block whose body cannot be read.
#[derive(Debug)]
pub(crate) struct DamagedBody {
    /// The registers it holds readings of, when its directory is intact.
    pub(crate) registers: Option<Vec<(String, String)>>,
    /// What is wrong.
    pub(crate) error: ArchiveError,
}

/// The stored value of a log block of `readings` (non-empty, consecutive
/// seqs) under `key`.
pub(crate) fn encode_log_block(key: &[u8], readings: &[StoredReading]) -> Vec<u8> {
    // Few registers, many readings each: only the distinct ones are sorted.
    let distinct: foldhash::HashSet<(&str, &str)> =
        readings.iter().map(|s| (s.reading.device.as_str(), s.reading.channel.as_str())).collect();
    let mut registers: Vec<(&str, &str)> = distinct.into_iter().collect();
    registers.sort_unstable();
    let mut dir = Vec::with_capacity(registers.len() * 24);
    put_uvarint(&mut dir, registers.len() as u64);
    for (device, channel) in registers {
        for s in [device, channel] {
            put_uvarint(&mut dir, s.len() as u64);
            dir.extend_from_slice(s.as_bytes());
        }
    }
    let dir = seal(key, &dir);
    let body = seal(key, &codec::encode(readings, Registers::Named));
    let mut out = Vec::with_capacity(4 + dir.len() + body.len());
    out.extend_from_slice(&(dir.len() as u32).to_be_bytes());
    out.extend_from_slice(&dir);
    out.extend_from_slice(&body);
    out
}

/// The readings of the log block stored under `key`.
pub(crate) fn decode_log_block(key: &[u8], value: &[u8]) -> Result<Vec<StoredReading>, DamagedBody> {
    let Some((len, rest)) = value.split_first_chunk::<4>() else {
        return Err(DamagedBody { registers: None, error: corrupt(key, "log block shorter than its header") });
    };
    let dir_len = u32::from_be_bytes(*len) as usize;
    if dir_len > rest.len() {
        return Err(DamagedBody { registers: None, error: corrupt(key, "log block directory length out of range") });
    }
    let (dir, body) = rest.split_at(dir_len);
    let registers = unseal(key, dir).ok().and_then(|dir| decode_directory(dir).ok());
    let damaged = |error| DamagedBody { registers: registers.clone(), error };
    let body = unseal(key, body).map_err(|e| damaged(e.into()))?;
    codec::decode(body, Registers::Named, MAX_BLOCK_BYTES).map_err(|reason| damaged(corrupt(key, reason)))
}

/// Whether the log block under `key` holds readings of `series`, from its
/// directory alone (`None` when the directory is damaged).
pub(crate) fn names(key: &[u8], value: &[u8], series: &(String, String)) -> Option<bool> {
    let (len, rest) = value.split_first_chunk::<4>()?;
    let dir = rest.get(..u32::from_be_bytes(*len) as usize)?;
    let registers = decode_directory(unseal(key, dir).ok()?).ok()?;
    Some(registers.iter().any(|(d, c)| *d == series.0 && *c == series.1))
}

fn decode_directory(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let count = r.uvarint("register count")?;
    let mut out = Vec::new();
    for _ in 0..count {
        let mut pair = [String::new(), String::new()];
        for s in &mut pair {
            let len = r.uvarint("name length")? as usize;
            *s = String::from_utf8(r.take(len, "name")?.to_vec()).map_err(|_| "a name is not UTF-8".to_owned())?;
        }
        let [device, channel] = pair;
        out.push((device, channel));
    }
    Ok(out)
}

/// Where a frame block is and what it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameBlockHeader {
    /// The first frame's journal seq (the block's key).
    pub(crate) first_seq: u64,
    /// The last frame's journal seq.
    pub(crate) last_seq: u64,
    /// The earliest receive time of its frames.
    pub(crate) min_received_ms: i64,
    /// The latest receive time of its frames.
    pub(crate) max_received_ms: i64,
}

impl FrameBlockHeader {
    const BYTES: usize = 24;

    pub(crate) fn encode(&self) -> Vec<u8> {
        let key = keys::seq_key(keys::FRAME_INDEX, self.first_seq);
        let mut body = Vec::with_capacity(Self::BYTES);
        body.extend_from_slice(&self.last_seq.to_be_bytes());
        body.extend_from_slice(&self.min_received_ms.to_be_bytes());
        body.extend_from_slice(&self.max_received_ms.to_be_bytes());
        seal(&key, &body)
    }

    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Self, ArchiveError> {
        let body = unseal(key, value)?;
        let first_seq = keys::trailing_seq(key).ok_or_else(|| corrupt(key, "malformed frame index key"))?;
        let field = |i: usize| -> Result<[u8; 8], ArchiveError> {
            body.get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| corrupt(key, "frame index entry cut short"))
        };
        if body.len() != Self::BYTES {
            return Err(corrupt(key, format!("frame index entry of {} bytes", body.len())));
        }
        Ok(FrameBlockHeader {
            first_seq,
            last_seq: u64::from_be_bytes(field(0)?),
            min_received_ms: i64::from_be_bytes(field(1)?),
            max_received_ms: i64::from_be_bytes(field(2)?),
        })
    }

    /// The header of a block of `frames` (non-empty, ascending seqs).
    pub(crate) fn of(frames: &[RawFrame]) -> Option<Self> {
        let first = frames.first()?;
        let last = frames.last()?;
        Some(FrameBlockHeader {
            first_seq: first.seq,
            last_seq: last.seq,
            min_received_ms: frames.iter().map(|f| f.received_at_ms).min()?,
            max_received_ms: frames.iter().map(|f| f.received_at_ms).max()?,
        })
    }
}

/// The stored value of a frame block under `key`.
pub(crate) fn encode_frame_block(key: &[u8], frames: &[RawFrame]) -> Vec<u8> {
    let mut plain = Vec::new();
    put_uvarint(&mut plain, frames.len() as u64);
    for frame in frames {
        let encoded = frame_codec::encode_frame(frame);
        put_uvarint(&mut plain, encoded.len() as u64);
        plain.extend_from_slice(&encoded);
    }
    let compressed = codec::compress(&plain);
    seal(key, &compressed)
}

/// The frames of the frame block stored under `key`.
pub(crate) fn decode_frame_block(key: &[u8], value: &[u8]) -> Result<Vec<RawFrame>, ArchiveError> {
    let body = unseal(key, value)?;
    let plain = codec::decompress(body, MAX_BLOCK_BYTES).map_err(|e| corrupt(key, e))?;
    let mut r = Reader { buf: &plain, pos: 0 };
    let count = r.uvarint("frame count").map_err(|e| corrupt(key, e))?;
    let mut frames = Vec::new();
    for _ in 0..count {
        let len = r.uvarint("frame length").map_err(|e| corrupt(key, e))? as usize;
        let bytes = r.take(len, "frame").map_err(|e| corrupt(key, e))?;
        frames.push(frame_codec::decode_frame(bytes).map_err(|e| corrupt(key, e.0))?);
    }
    Ok(frames)
}

//! The compact binary encoding of archived readings, shared by the log
//! blocks ([`super::blocks`]) and the series chunks ([`super::chunks`]).
//!
//! A list of readings is written as a string table (every device, channel,
//! unit and source it names, once) followed by one record per reading whose
//! numbers are deltas from the previous record's, as zig-zag LEB128
//! varints: timestamps, sequence numbers and values of a meter's readings
//! change little from one to the next, so most fields take one or two
//! bytes before compression. The whole is then compressed with zstd.
//!
//! Layout (before compression): `version u8`, `count`, `strings` (count,
//! then length + UTF-8 bytes each), then per reading: `seq Δ`, `frame_seq Δ`,
//! `ts Δ`, `archived_at Δ`, [`device`, `channel` when the list names them],
//! `source`, `unit` (string indexes), `kind u8`, `conflict u8`, `scale u8`,
//! `mantissa` (zig-zag varint of the decimal's 96-bit mantissa).

use std::cell::RefCell;
use std::collections::HashMap;

use meterhub_plugin_api::{Reading, ReadingKind};
use rust_decimal::Decimal;

use super::model::StoredReading;

/// The format version of an encoded list.
const VERSION: u8 = 1;
/// zstd level: fast to write, and the lists compress well already at 1.
const ZSTD_LEVEL: i32 = 1;
/// The most readings one list may claim to hold (a sanity bound on input).
const MAX_COUNT: u64 = 16 * 1024 * 1024;

/// Whether a list carries each reading's device and channel (log blocks do;
/// a chunk's key names its series instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registers<'a> {
    /// Every record names its device and channel.
    Named,
    /// Every record belongs to this device and channel.
    Of(&'a str, &'a str),
}

/// Encodes and compresses `readings`.
pub(crate) fn encode(readings: &[StoredReading], registers: Registers<'_>) -> Vec<u8> {
    let mut strings = Strings::default();
    let mut body = Vec::with_capacity(readings.len() * 12);
    let mut prev = Prev::default();
    for stored in readings {
        put_delta(&mut body, &mut prev.seq, stored.seq as i64);
        put_delta(&mut body, &mut prev.frame_seq, stored.frame_seq as i64);
        put_delta(&mut body, &mut prev.ts, stored.reading.ts_ms);
        put_delta(&mut body, &mut prev.archived_at, stored.archived_at_ms);
        if registers == Registers::Named {
            put_uvarint(&mut body, strings.index(&stored.reading.device));
            put_uvarint(&mut body, strings.index(&stored.reading.channel));
        }
        put_uvarint(&mut body, strings.index(&stored.source));
        put_uvarint(&mut body, strings.index(&stored.reading.unit));
        body.push(kind_code(stored.reading.kind));
        body.push(u8::from(stored.conflict));
        body.push(stored.reading.value.scale() as u8);
        put_uvarint128(&mut body, zigzag128(stored.reading.value.mantissa()));
    }
    let mut plain = Vec::with_capacity(body.len() + strings.bytes + 16);
    plain.push(VERSION);
    put_uvarint(&mut plain, readings.len() as u64);
    put_uvarint(&mut plain, strings.list.len() as u64);
    for s in &strings.list {
        put_uvarint(&mut plain, s.len() as u64);
        plain.extend_from_slice(s.as_bytes());
    }
    plain.extend_from_slice(&body);
    compress(&plain)
}

thread_local! {
    /// zstd contexts, one per thread and reused: making one per block cost
    /// more than compressing a small block.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Compresses `plain` at [`ZSTD_LEVEL`], its size recorded in the frame
/// header (what [`decompress`] sizes its buffer by).
pub(crate) fn compress(plain: &[u8]) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some(compressor) => compressor,
            None => slot.insert(
                zstd::bulk::Compressor::new(ZSTD_LEVEL)
                    .unwrap_or_else(|e| panic!("a zstd context cannot be made: {e}")),
            ),
        };
        compressor.compress(plain).unwrap_or_else(|e| unreachable!("zstd compresses any input in memory: {e}"))
    })
}

/// Decompresses a body written by [`compress`], into a buffer of
/// the size its frame header names (at most `max_bytes`): a buffer of
/// `max_bytes` for every block would reserve that much each time.
pub(crate) fn decompress(bytes: &[u8], max_bytes: usize) -> Result<Vec<u8>, String> {
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(size)) if size <= max_bytes as u64 => size as usize,
        Ok(Some(size)) => return Err(format!("claims {size} bytes decompressed, more than {max_bytes}")),
        Ok(None) => return Err("its size is not recorded".to_owned()),
        Err(_) => return Err("cannot decompress: not a zstd frame".to_owned()),
    };
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(decompressor) => decompressor,
            None => slot.insert(zstd::bulk::Decompressor::new().map_err(|e| format!("cannot decompress: {e}"))?),
        };
        decompressor.decompress(bytes, size).map_err(|e| format!("cannot decompress: {e}"))
    })
}

/// Decompresses and decodes a list written by [`encode`] with the same
/// `registers`. `max_bytes` bounds the decompressed size.
pub(crate) fn decode(bytes: &[u8], registers: Registers<'_>, max_bytes: usize) -> Result<Vec<StoredReading>, String> {
    let plain = decompress(bytes, max_bytes)?;
    let mut r = Reader { buf: &plain, pos: 0 };
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(format!("unknown format version {version}"));
    }
    let count = r.uvarint("count")?;
    if count > MAX_COUNT {
        return Err(format!("claims {count} readings"));
    }
    let string_count = r.uvarint("string count")?;
    if string_count > MAX_COUNT {
        return Err(format!("claims {string_count} strings"));
    }
    let mut strings = Vec::with_capacity(string_count as usize);
    for _ in 0..string_count {
        let len = r.uvarint("string length")? as usize;
        let raw = r.take(len, "string")?;
        strings.push(std::str::from_utf8(raw).map_err(|_| "a string is not UTF-8".to_owned())?.to_owned());
    }
    let string = |r: &mut Reader<'_>, what: &'static str| -> Result<String, String> {
        let i = r.uvarint(what)? as usize;
        strings.get(i).cloned().ok_or_else(|| format!("{what} names string {i} of {}", strings.len()))
    };
    let mut prev = Prev::default();
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let seq = r.delta(&mut prev.seq, "seq")? as u64;
        let frame_seq = r.delta(&mut prev.frame_seq, "frame seq")? as u64;
        let ts_ms = r.delta(&mut prev.ts, "timestamp")?;
        let archived_at_ms = r.delta(&mut prev.archived_at, "archived-at")?;
        let (device, channel) = match registers {
            Registers::Named => (string(&mut r, "device")?, string(&mut r, "channel")?),
            Registers::Of(device, channel) => (device.to_owned(), channel.to_owned()),
        };
        let source = string(&mut r, "source")?;
        let unit = string(&mut r, "unit")?;
        let kind = kind_from(r.u8("kind")?)?;
        let conflict = match r.u8("conflict flag")? {
            0 => false,
            1 => true,
            other => return Err(format!("conflict flag {other}")),
        };
        let scale = u32::from(r.u8("scale")?);
        let mantissa = unzigzag128(r.uvarint128("mantissa")?);
        let value = Decimal::try_from_i128_with_scale(mantissa, scale)
            .map_err(|e| format!("value {mantissa}e-{scale}: {e}"))?;
        out.push(StoredReading {
            seq,
            frame_seq,
            source,
            reading: Reading { device, channel, ts_ms, value, unit, kind },
            conflict,
            archived_at_ms,
        });
    }
    if r.pos != plain.len() {
        return Err(format!("{} bytes after the last reading", plain.len() - r.pos));
    }
    Ok(out)
}

#[derive(Default)]
struct Prev {
    seq: i64,
    frame_seq: i64,
    ts: i64,
    archived_at: i64,
}

#[derive(Default)]
struct Strings<'a> {
    list: Vec<&'a str>,
    index: HashMap<&'a str, u64>,
    bytes: usize,
}

impl<'a> Strings<'a> {
    fn index(&mut self, s: &'a str) -> u64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u64;
        self.list.push(s);
        self.index.insert(s, i);
        self.bytes += s.len() + 2;
        i
    }
}

fn kind_code(kind: ReadingKind) -> u8 {
    match kind {
        ReadingKind::Cumulative => 0,
        ReadingKind::Instantaneous => 1,
        ReadingKind::State => 2,
    }
}

fn kind_from(code: u8) -> Result<ReadingKind, String> {
    Ok(match code {
        0 => ReadingKind::Cumulative,
        1 => ReadingKind::Instantaneous,
        2 => ReadingKind::State,
        other => return Err(format!("reading kind {other}")),
    })
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn zigzag128(v: i128) -> u128 {
    ((v << 1) ^ (v >> 127)) as u128
}

fn unzigzag128(v: u128) -> i128 {
    ((v >> 1) as i128) ^ -((v & 1) as i128)
}

/// Appends `value - *prev` (wrapping) as a zig-zag varint and moves `prev`.
fn put_delta(out: &mut Vec<u8>, prev: &mut i64, value: i64) {
    put_uvarint(out, zigzag(value.wrapping_sub(*prev)));
    *prev = value;
}

pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_uvarint128(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over bytes whose every failure names the field.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| format!("{what} is cut short"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn uvarint(&mut self, what: &str) -> Result<u64, String> {
        let v = self.uvarint128(what)?;
        u64::try_from(v).map_err(|_| format!("{what} is out of range"))
    }

    fn uvarint128(&mut self, what: &str) -> Result<u128, String> {
        let mut v: u128 = 0;
        for shift in (0..128).step_by(7) {
            let byte = self.u8(what)?;
            v |= u128::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("{what} is not a valid varint"))
    }

    fn delta(&mut self, prev: &mut i64, what: &str) -> Result<i64, String> {
        *prev = prev.wrapping_add(unzigzag(self.uvarint(what)?));
        Ok(*prev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: u64, device: &str, ts_ms: i64, value: &str, conflict: bool) -> StoredReading {
        StoredReading {
            seq,
            frame_seq: seq.wrapping_mul(3),
            source: "listener".into(),
            reading: Reading {
                device: device.into(),
                channel: "volume".into(),
                ts_ms,
                value: value.parse().expect("decimal"),
                unit: "m3".into(),
                kind: ReadingKind::Cumulative,
            },
            conflict,
            archived_at_ms: 1_763_719_200_000 + seq as i64,
        }
    }

    #[test]
    fn lists_round_trip_with_extreme_values() {
        let readings = vec![
            stored(1, "m-1", i64::MIN, "0", false),
            stored(2, "m-2", i64::MAX, "-79228162514264337593543950335", true),
            stored(u64::MAX, "m-1", 0, "79228162514264337593543950335", false),
            stored(5, "m-1", -1, "0.0000000000000000000000000001", false),
            stored(4, "m-3", 1_763_719_200_000, "12345.678", false),
        ];
        let bytes = encode(&readings, Registers::Named);
        assert_eq!(decode(&bytes, Registers::Named, 1 << 20).expect("decode"), readings);
    }

    #[test]
    fn a_chunk_takes_its_register_from_outside() {
        let readings: Vec<_> = (0..100).map(|i| stored(i + 1, "m-1", i as i64 * 3_600_000, "1.5", false)).collect();
        let bytes = encode(&readings, Registers::Of("m-1", "volume"));
        assert!(bytes.len() < 400, "100 hourly readings take {} bytes", bytes.len());
        assert_eq!(decode(&bytes, Registers::Of("m-1", "volume"), 1 << 20).expect("decode"), readings);
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let readings: Vec<_> = (0..50).map(|i| stored(i + 1, "m-1", i as i64, "7", false)).collect();
        let bytes = encode(&readings, Registers::Named);
        for i in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut damaged = bytes.clone();
                damaged[i] ^= bit;
                // Either an error or (for a flip zstd cannot see) some list:
                // never a panic. The seal around it catches the rest.
                let _ = decode(&damaged, Registers::Named, 1 << 20);
            }
        }
        assert!(decode(&bytes[..bytes.len() / 2], Registers::Named, 1 << 20).is_err());
        assert!(decode(&bytes, Registers::Named, 10).is_err(), "the size bound holds");
    }
}

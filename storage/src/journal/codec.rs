//! The on-disk record framing and the compact binary encoding of entries.
//!
//! A record is `[len u32 LE][crc32 u32 LE of (seq || payload)][seq u64 LE][payload]`
//! where `len` is the payload length. The payload starts with a format
//! version byte and a tag byte, then the entry's fields: strings and byte
//! strings are a `u32 LE` length followed by the bytes, integers are little
//! endian, the transport is one byte.
//!
//! The same entry encoding is used by the archive to store raw frames.

use meterhub_plugin_api::{RawFrame, Transport};

use super::entry::{Entry, REJECTION_INPUT_MAX_BYTES, Rejection};

/// Bytes before the payload: length, checksum, sequence number.
pub const RECORD_HEADER_BYTES: usize = 16;
/// Largest payload a record may hold; anything bigger on disk is corruption.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;
/// The payload format version written by this code.
const FORMAT_VERSION: u8 = 1;
const TAG_FRAME: u8 = 1;
const TAG_REJECTED: u8 = 2;

/// Why bytes could not be decoded into an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeFailure(pub String);

/// Appends the encoded payload of `entry` to `out` (the frame's `seq` is not
/// part of it). A rejection's input is cut to [`REJECTION_INPUT_MAX_BYTES`].
pub fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    match entry {
        Entry::Frame(frame) => {
            out.push(TAG_FRAME);
            encode_frame_fields(frame, out);
        }
        Entry::Rejected(rejection) => {
            out.push(TAG_REJECTED);
            put_str(out, &rejection.source);
            put_str(out, &rejection.peer);
            out.extend_from_slice(&rejection.received_at_ms.to_le_bytes());
            out.push(transport_code(rejection.transport));
            put_str(out, &rejection.reason);
            let input = &rejection.input[..rejection.input.len().min(REJECTION_INPUT_MAX_BYTES)];
            put_bytes(out, input);
        }
    }
}

/// Decodes a payload written by [`encode_entry`]; a frame gets `seq`.
pub fn decode_entry(payload: &[u8], seq: u64) -> Result<Entry, DecodeFailure> {
    let mut r = Reader { buf: payload, pos: 0 };
    let version = r.u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(DecodeFailure(format!("unknown payload format version {version}")));
    }
    let entry = match r.u8("entry tag")? {
        TAG_FRAME => Entry::Frame(decode_frame_fields(&mut r, seq)?),
        TAG_REJECTED => Entry::Rejected(Rejection {
            source: r.string("source")?,
            peer: r.string("peer")?,
            received_at_ms: r.i64("received_at_ms")?,
            transport: r.transport()?,
            reason: r.string("reason")?,
            input: r.bytes("input")?.to_vec(),
        }),
        tag => return Err(DecodeFailure(format!("unknown entry tag {tag}"))),
    };
    r.finish()?;
    Ok(entry)
}

/// Encodes a raw frame on its own (seq included), as the archive stores it.
pub fn encode_frame(frame: &RawFrame) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + frame.payload.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&frame.seq.to_le_bytes());
    encode_frame_fields(frame, &mut out);
    out
}

/// Decodes bytes written by [`encode_frame`].
pub fn decode_frame(bytes: &[u8]) -> Result<RawFrame, DecodeFailure> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = r.u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(DecodeFailure(format!("unknown frame format version {version}")));
    }
    let seq = r.u64("seq")?;
    let frame = decode_frame_fields(&mut r, seq)?;
    r.finish()?;
    Ok(frame)
}

/// Appends one whole record (header and payload) for `entry` with `seq` to
/// `out`. Fails with the encoded size if the payload exceeds
/// [`MAX_PAYLOAD_BYTES`]; `out` is then left unchanged.
pub fn encode_record(seq: u64, entry: &Entry, out: &mut Vec<u8>) -> Result<(), usize> {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
    encode_entry(entry, out);
    let payload_len = out.len() - start - RECORD_HEADER_BYTES;
    if payload_len > MAX_PAYLOAD_BYTES {
        out.truncate(start);
        return Err(payload_len);
    }
    let seq_bytes = seq.to_le_bytes();
    let crc = record_crc(&seq_bytes, &out[start + RECORD_HEADER_BYTES..]);
    // MAX_PAYLOAD_BYTES fits in u32, so the cast is lossless.
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    out[start + 8..start + 16].copy_from_slice(&seq_bytes);
    Ok(())
}

/// The checksum stored in a record header.
pub fn record_crc(seq_le: &[u8; 8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(seq_le);
    hasher.update(payload);
    hasher.finalize()
}

/// A record header read from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Payload length.
    pub len: usize,
    /// Stored checksum.
    pub crc: u32,
    /// Sequence number.
    pub seq: u64,
}

impl RecordHeader {
    /// Parses the header at the start of `bytes`; `None` if there are fewer
    /// than [`RECORD_HEADER_BYTES`].
    pub fn parse(bytes: &[u8]) -> Option<RecordHeader> {
        let header = bytes.get(..RECORD_HEADER_BYTES)?;
        let mut len = [0u8; 4];
        let mut crc = [0u8; 4];
        let mut seq = [0u8; 8];
        len.copy_from_slice(&header[0..4]);
        crc.copy_from_slice(&header[4..8]);
        seq.copy_from_slice(&header[8..16]);
        Some(RecordHeader {
            len: u32::from_le_bytes(len) as usize,
            crc: u32::from_le_bytes(crc),
            seq: u64::from_le_bytes(seq),
        })
    }
}

fn encode_frame_fields(frame: &RawFrame, out: &mut Vec<u8>) {
    put_str(out, &frame.source);
    put_str(out, &frame.peer);
    out.extend_from_slice(&frame.received_at_ms.to_le_bytes());
    out.push(transport_code(frame.transport));
    put_str(out, &frame.content_type);
    put_len(out, frame.meta.len());
    for (key, value) in &frame.meta {
        put_str(out, key);
        put_str(out, value);
    }
    put_bytes(out, &frame.payload);
}

fn decode_frame_fields(r: &mut Reader<'_>, seq: u64) -> Result<RawFrame, DecodeFailure> {
    let source = r.string("source")?;
    let peer = r.string("peer")?;
    let received_at_ms = r.i64("received_at_ms")?;
    let transport = r.transport()?;
    let content_type = r.string("content_type")?;
    let meta_len = r.len("meta count")?;
    // Each pair needs at least 8 bytes: refuse counts the buffer cannot hold
    // before allocating for them.
    if meta_len > r.remaining() / 8 {
        return Err(DecodeFailure(format!("meta count {meta_len} exceeds the remaining {} bytes", r.remaining())));
    }
    let mut meta = Vec::with_capacity(meta_len);
    for _ in 0..meta_len {
        meta.push((r.string("meta key")?, r.string("meta value")?));
    }
    let payload = r.bytes("payload")?.to_vec();
    Ok(RawFrame { seq, source, peer, received_at_ms, transport, content_type, meta, payload })
}

fn transport_code(transport: Transport) -> u8 {
    match transport {
        Transport::Tcp => 1,
        Transport::Http => 2,
        Transport::Websocket => 3,
        Transport::Mqtt => 4,
        Transport::Fetch => 5,
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Lengths beyond u32 cannot occur: the record payload is capped far below.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// A bounds-checked cursor over a payload.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeFailure> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len()).ok_or_else(|| {
            DecodeFailure(format!("{what}: needs {n} bytes at payload offset {}, {} left", self.pos, self.remaining()))
        })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeFailure> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeFailure> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u64(&mut self, what: &str) -> Result<u64, DecodeFailure> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &str) -> Result<i64, DecodeFailure> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    fn len(&mut self, what: &str) -> Result<usize, DecodeFailure> {
        Ok(u32::from_le_bytes(self.array(what)?) as usize)
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeFailure> {
        let len = self.len(what)?;
        self.take(len, what)
    }

    fn string(&mut self, what: &str) -> Result<String, DecodeFailure> {
        let at = self.pos;
        let bytes = self.bytes(what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| DecodeFailure(format!("{what} at payload offset {at} is not UTF-8")))
    }

    fn transport(&mut self) -> Result<Transport, DecodeFailure> {
        match self.u8("transport")? {
            1 => Ok(Transport::Tcp),
            2 => Ok(Transport::Http),
            3 => Ok(Transport::Websocket),
            4 => Ok(Transport::Mqtt),
            5 => Ok(Transport::Fetch),
            code => Err(DecodeFailure(format!("unknown transport code {code}"))),
        }
    }

    fn finish(&self) -> Result<(), DecodeFailure> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeFailure(format!("{} trailing bytes after the entry", self.remaining())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> RawFrame {
        RawFrame {
            seq: 0,
            source: "vega-tcp".into(),
            peer: "10.0.0.5:4001".into(),
            received_at_ms: 1_763_719_200_123,
            transport: Transport::Tcp,
            content_type: "vega/packet".into(),
            meta: vec![("devEui".into(), "0011223344556677".into()), ("fPort".into(), "2".into())],
            payload: vec![0, 1, 2, 0xFF, 0x7F],
        }
    }

    fn rejection() -> Rejection {
        Rejection {
            source: "lora-http".into(),
            peer: "192.0.2.1:5555".into(),
            received_at_ms: -5,
            transport: Transport::Http,
            reason: "body is not JSON".into(),
            input: b"{not json".to_vec(),
        }
    }

    #[test]
    fn frame_entry_round_trips() {
        let entry = Entry::Frame(frame());
        let mut buf = Vec::new();
        encode_entry(&entry, &mut buf);
        let Entry::Frame(decoded) = decode_entry(&buf, 42).expect("decodes") else { panic!("not a frame") };
        assert_eq!(decoded, RawFrame { seq: 42, ..frame() });
    }

    #[test]
    fn rejection_entry_round_trips_and_input_is_capped() {
        let entry = Entry::Rejected(rejection());
        let mut buf = Vec::new();
        encode_entry(&entry, &mut buf);
        assert_eq!(decode_entry(&buf, 7).expect("decodes"), entry);

        let long = Rejection { input: vec![b'x'; REJECTION_INPUT_MAX_BYTES + 100], ..rejection() };
        let mut buf = Vec::new();
        encode_entry(&Entry::Rejected(long.clone()), &mut buf);
        let Entry::Rejected(decoded) = decode_entry(&buf, 7).expect("decodes") else { panic!("not a rejection") };
        assert_eq!(decoded.input.len(), REJECTION_INPUT_MAX_BYTES);
        assert_eq!(decoded.reason, long.reason);
    }

    #[test]
    fn standalone_frame_round_trips() {
        let f = RawFrame { seq: 9, transport: Transport::Websocket, ..frame() };
        assert_eq!(decode_frame(&encode_frame(&f)).expect("decodes"), f);
    }

    #[test]
    fn record_header_and_crc() {
        let mut buf = Vec::new();
        encode_record(5, &Entry::Frame(frame()), &mut buf).expect("fits");
        let header = RecordHeader::parse(&buf).expect("header");
        assert_eq!(header.seq, 5);
        assert_eq!(header.len, buf.len() - RECORD_HEADER_BYTES);
        assert_eq!(header.crc, record_crc(&5u64.to_le_bytes(), &buf[RECORD_HEADER_BYTES..]));
    }

    #[test]
    fn truncated_or_garbled_payloads_are_errors_not_panics() {
        let mut buf = Vec::new();
        encode_entry(&Entry::Frame(frame()), &mut buf);
        for cut in 0..buf.len() {
            assert!(decode_entry(&buf[..cut], 1).is_err(), "cut at {cut}");
        }
        let mut bad = buf.clone();
        bad[0] = 99;
        assert!(decode_entry(&bad, 1).unwrap_err().0.contains("version"));
        let mut bad = buf.clone();
        bad[1] = 77;
        assert!(decode_entry(&bad, 1).unwrap_err().0.contains("tag"));
        let mut trailing = buf;
        trailing.push(0);
        assert!(decode_entry(&trailing, 1).unwrap_err().0.contains("trailing"));
    }
}

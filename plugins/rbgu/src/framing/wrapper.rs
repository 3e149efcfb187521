//! The `wrapper` profile: IEC 62056-47, DLMS/COSEM over TCP. Each frame is
//! an 8-byte header of big-endian u16s, version (0x0001), source wPort,
//! destination wPort and APDU length, then the APDU.
//!
//! The committed frame is the whole wrapper frame, header and APDU, so that
//! nothing is lost; the wPorts go to metadata (`wrapper.source`,
//! `wrapper.destination`, decimal).
//!
//! Refusals:
//! - an APDU length over `max_frame_bytes`: the header is trustworthy, so the
//!   APDU is skipped by its length without being held, and framing goes on
//!   right after it;
//! - a version other than 0x0001: the stream is not a wrapper stream, or it
//!   lost step; the wrapper has no flag and no checksum, so no later offset
//!   can be trusted to start a header. The refusal is fatal: the session is
//!   closed with its reason;
//! - the stream ending inside a header or an APDU: a torn frame.
//!
//! The way out is [`encode`]: the frames the driver sends (the APDUs of
//! queued commands, [`crate::commands`]), in the same layout.

use super::{Frame, Framer, Output, Profile, Refusal, Span, What};

/// Length of the wrapper header.
pub const HEADER_BYTES: usize = 8;
/// The only wrapper version.
pub const VERSION: u16 = 1;

/// The wrapper frame from wPort `source` to wPort `destination` carrying
/// `apdu`.
///
/// # Panics
///
/// When `apdu` is longer than 65 535 bytes, which the header cannot say;
/// the driver's APDUs are far shorter (a SET is checked against the
/// meter's receive size, at most 65 535, before it is sent).
pub fn encode(source: u16, destination: u16, apdu: &[u8]) -> Vec<u8> {
    let len = u16::try_from(apdu.len()).unwrap_or_else(|_| panic!("a wrapper APDU of {} bytes", apdu.len()));
    let mut frame = Vec::with_capacity(HEADER_BYTES + apdu.len());
    for field in [VERSION, source, destination, len] {
        frame.extend(field.to_be_bytes());
    }
    frame.extend_from_slice(apdu);
    frame
}

/// Where the framer is.
#[derive(Debug)]
enum State {
    /// Reading a header (up to [`HEADER_BYTES`]) starting at `start`.
    Header { start: u64, bytes: Vec<u8> },
    /// Reading the APDU of the frame starting at `start`; `frame` holds its
    /// header and the APDU so far, `len` is the APDU's length.
    Body { start: u64, frame: Vec<u8>, len: usize },
    /// Skipping `remaining` bytes of an oversized APDU.
    Skip { remaining: u64, span: Span },
    /// Taking nothing more (after a fatal refusal or the end).
    Done,
}

/// The wrapper framer of one session.
#[derive(Debug)]
pub struct WrapperFramer {
    max: usize,
    /// Stream offset of the next byte.
    offset: u64,
    state: State,
}

impl WrapperFramer {
    /// A framer refusing APDUs longer than `max` bytes.
    pub fn new(max: usize) -> WrapperFramer {
        WrapperFramer { max, offset: 0, state: State::Header { start: 0, bytes: Vec::new() } }
    }

    /// Take what the current state needs from `chunk`; returns how much.
    fn step(&mut self, chunk: &[u8], out: &mut Vec<Output>) -> usize {
        match &mut self.state {
            State::Header { start, bytes } => {
                let n = (HEADER_BYTES - bytes.len()).min(chunk.len());
                bytes.extend_from_slice(&chunk[..n]);
                if bytes.len() == HEADER_BYTES {
                    let (start, header) = (*start, std::mem::take(bytes));
                    self.header(start, header, out);
                }
                n
            }
            State::Body { frame, len, .. } => {
                let n = (HEADER_BYTES + *len - frame.len()).min(chunk.len());
                frame.extend_from_slice(&chunk[..n]);
                if frame.len() == HEADER_BYTES + *len {
                    self.complete(out);
                }
                n
            }
            State::Skip { remaining, span } => {
                let n = usize::try_from(*remaining).unwrap_or(usize::MAX).min(chunk.len());
                span.grow(&chunk[..n], out);
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.next_header(n as u64, out);
                }
                n
            }
            State::Done => chunk.len(),
        }
    }

    /// A whole header at `start`: check it, then read or skip its APDU.
    fn header(&mut self, start: u64, header: Vec<u8>, out: &mut Vec<Output>) {
        let field = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let (version, len) = (field(0), usize::from(field(6)));
        if version != VERSION {
            let what = What::Version { version };
            out.push(Output::Fatal(Refusal { profile: Profile::Wrapper, offset: start, what, input: header }));
            self.state = State::Done;
        } else if len > self.max {
            let what = What::Declared { len: len as u64, max: self.max };
            let span = Span::new(Profile::Wrapper, start, what, &header);
            self.state = State::Skip { remaining: len as u64, span };
        } else {
            self.state = State::Body { start, frame: header, len };
            if len == 0 {
                self.complete(out);
            }
        }
    }

    /// The frame being read is whole: yield it.
    fn complete(&mut self, out: &mut Vec<Output>) {
        let State::Body { start, frame, .. } = std::mem::replace(&mut self.state, State::Done) else { return };
        let port = |i: usize| u16::from_be_bytes([frame[i], frame[i + 1]]).to_string();
        let meta = vec![("wrapper.source".to_owned(), port(2)), ("wrapper.destination".to_owned(), port(4))];
        let end = start + frame.len() as u64;
        let content = frame[HEADER_BYTES..].to_vec();
        out.push(Output::Frame(Frame { offset: start, wire: frame, content, meta }));
        self.state = State::Header { start: end, bytes: Vec::new() };
    }

    /// The skipped APDU ended `taken` bytes into the current chunk: report
    /// it and read the next header.
    fn next_header(&mut self, taken: u64, out: &mut Vec<Output>) {
        let start = self.offset + taken;
        if let State::Skip { span, .. } = std::mem::replace(&mut self.state, State::Header { start, bytes: Vec::new() })
        {
            span.end(out);
        }
    }
}

impl Framer for WrapperFramer {
    fn push(&mut self, mut chunk: &[u8], out: &mut Vec<Output>) {
        while !chunk.is_empty() {
            let n = self.step(chunk, out);
            self.offset += n as u64;
            chunk = &chunk[n..];
        }
    }

    fn finish(&mut self, out: &mut Vec<Output>) {
        let torn = |start: u64, what: What, bytes: &[u8]| Span::new(Profile::Wrapper, start, what, bytes);
        match std::mem::replace(&mut self.state, State::Done) {
            State::Header { start, bytes } if !bytes.is_empty() => {
                torn(start, What::Torn { have: bytes.len() as u64 }, &bytes).end(out);
            }
            State::Body { start, frame, len } => {
                let what = What::TornDeclared { have: frame.len() as u64, len: (HEADER_BYTES + len) as u64 };
                torn(start, what, &frame).end(out);
            }
            State::Skip { span, .. } => span.end(out),
            State::Header { .. } | State::Done => {}
        }
    }

    fn held(&self) -> usize {
        match &self.state {
            State::Header { bytes, .. } => bytes.len(),
            State::Body { frame, .. } => frame.len(),
            State::Skip { span, .. } => span.kept(),
            State::Done => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::testing::{frames, refusals, run, same_at_every_split, unhex};

    /// Vector 1 of `dlms_wrapper_vectors.txt`: the ciphered push.
    const PUSH: &str = "0001000100010046db082f192291991641033b30000001e5025ce9d2271fd78be8c204211a916a9d7f587e0a7a814cadea89e9593f01f92ea8c087b5bdfdefeab6becf282dfe49c08f5be6dc8400";

    fn framer() -> WrapperFramer {
        WrapperFramer::new(1024)
    }

    #[test]
    fn the_public_push_is_one_frame_with_its_wports() {
        let push = unhex(PUSH);
        let out = run(&mut framer(), &[&push]);
        let [Output::Frame(f)] = &out[..] else { panic!("{out:?}") };
        assert_eq!((f.offset, f.wire.len(), f.content.len()), (0, 78, 70));
        assert_eq!(f.content[..2], [0xdb, 0x08]);
        let meta = [("wrapper.source", "1"), ("wrapper.destination", "1")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(f.meta, meta);
    }

    #[test]
    fn frames_do_not_depend_on_chunking() {
        let mut stream = unhex(PUSH);
        stream.extend(unhex("00010010000100030f0102"));
        stream.extend(unhex("0001001000010000"));
        stream.extend(unhex(PUSH));
        let out = same_at_every_split(framer, &stream);
        assert_eq!(frames(&out).iter().map(|f| f.offset).collect::<Vec<_>>(), vec![0, 78, 89, 97]);
        assert_eq!(frames(&out)[1].meta[0].1, "16", "source wPort");
        assert!(frames(&out)[2].content.is_empty(), "an empty APDU is a frame");
    }

    #[test]
    fn an_oversized_apdu_is_skipped_by_its_length() {
        let mut stream = unhex("0001000100010010");
        stream.extend([0xaa; 16]);
        stream.extend(unhex("000100010001000201ff"));
        let out = same_at_every_split(|| WrapperFramer::new(15), &stream);
        let [r] = &refusals(&out)[..] else { panic!("{out:?}") };
        assert_eq!(r.to_string(), "wrapper offset 0: frame declares 16 bytes, more than max_frame_bytes 15");
        assert_eq!(r.input.len(), 24);
        assert_eq!(frames(&out)[0].offset, 24);
    }

    #[test]
    fn a_bad_version_is_fatal() {
        let mut stream = unhex("000100010001000201ff");
        stream.extend(b"GET / HTTP/1.1\r\n");
        let out = same_at_every_split(framer, &stream);
        let Some(Output::Fatal(r)) = out.last() else { panic!("{out:?}") };
        assert_eq!(
            r.to_string(),
            "wrapper offset 10: wrapper version 0x4745, expected 0x0001: not an IEC 62056-47 stream, closing the session"
        );
        assert_eq!(r.input, b"GET / HT");
    }

    #[test]
    fn a_torn_frame_names_its_offset() {
        let stream = unhex("000100010001000201ff0001000100");
        let out = same_at_every_split(framer, &stream);
        let [r] = &refusals(&out)[..] else { panic!("{out:?}") };
        assert_eq!(r.to_string(), "wrapper offset 10: stream closed 5 bytes into a frame (torn)");
        let out = same_at_every_split(framer, &unhex("00010001000100050102"));
        assert_eq!(
            refusals(&out)[0].to_string(),
            "wrapper offset 0: stream closed 10 bytes into a frame of 13 bytes (torn)"
        );
    }

    #[test]
    fn an_encoded_frame_reads_back() {
        let frame = encode(32, 1, &[0x62, 0x03, 0x80, 0x01, 0x00]);
        assert_eq!(frame, unhex("0001 0020 0001 0005 6203800100"));
        let out = same_at_every_split(framer, &frame);
        let [Output::Frame(f)] = &out[..] else { panic!("{out:?}") };
        assert_eq!((f.content.as_slice(), f.meta[0].1.as_str(), f.meta[1].1.as_str()), (&frame[8..], "32", "1"));
        assert_eq!(encode(0xABCD, 0x1234, &[]), unhex("0001 ABCD 1234 0000"));
    }

    #[test]
    fn it_holds_at_most_a_frame() {
        let mut f = WrapperFramer::new(100);
        let mut out = Vec::new();
        f.push(&unhex("0001000100010064"), &mut out);
        f.push(&[0; 99], &mut out);
        assert_eq!(f.held(), 107);
        f.push(&unhex("00000100010001ffff"), &mut out);
        f.push(&[0; 5000], &mut out);
        assert!(f.held() <= crate::framing::KEEP_BYTES, "an oversized APDU is not held");
        assert_eq!(frames(&out).len(), 1);
    }
}

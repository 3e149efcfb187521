//! The `stuffed` profile: frames ended by a delimiter byte, the delimiter
//! and the escape byte inside a frame replaced by the escape byte and a
//! code, as Russian modem protocols do it. The default bytes are SLIP's
//! (RFC 1055): end 0xC0, escape 0xDB, 0xDB 0xDC for 0xC0 and 0xDB 0xDD for
//! 0xDB.
//!
//! Optionally frames also begin with a start byte (e.g. 0xC0 … 0xC2 with a
//! start 0xC0 and an end 0xC2), which then has its own escape code. Without
//! one, a frame is every byte after the previous end byte up to the next,
//! and an end byte right after another (RFC 1055's flush) is no frame. With
//! one, bytes between an end byte and the next start byte belong to no
//! frame and are refused, and a start byte inside a frame means the frame
//! before it is torn (refused; the new frame begins there). An empty frame
//! (a start byte and an end byte) is no frame either.
//!
//! The committed frame is the frame as it came, still stuffed, from its
//! start byte (or first byte) through its end byte, so that a wrong setting
//! never alters the archive; the `stuffed.*` metadata says how to undo the
//! stuffing. The content read for DLMS is the unstuffed bytes.
//!
//! Refusals: an escape byte followed by a byte that is none of its codes
//! (the frame is refused up to the next end or start byte), a frame whose
//! stuffed bytes pass `max_frame_bytes` (likewise), bytes outside any frame,
//! a torn frame. The end byte and the start byte always delimit, even right
//! after an escape byte (the frame is then refused for its escape).

use super::{Frame, Framer, Output, Profile, Span, What, hex_upper};

/// The bytes of the stuffed profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuffedBytes {
    /// The start byte and its escape code, if frames have a start byte.
    pub start: Option<(u8, u8)>,
    /// The end byte.
    pub end: u8,
    /// The escape byte.
    pub escape: u8,
    /// The code standing for the end byte after the escape byte.
    pub escaped_end: u8,
    /// The code standing for the escape byte after the escape byte.
    pub escaped_escape: u8,
}

impl Default for StuffedBytes {
    /// SLIP's (RFC 1055): no start byte, end 0xC0, escape 0xDB, codes 0xDC
    /// and 0xDD.
    fn default() -> Self {
        StuffedBytes { start: None, end: 0xC0, escape: 0xDB, escaped_end: 0xDC, escaped_escape: 0xDD }
    }
}

impl StuffedBytes {
    /// The byte `code` stands for after the escape byte, if it is a code.
    pub fn unescape(&self, code: u8) -> Option<u8> {
        match self.start {
            _ if code == self.escaped_end => Some(self.end),
            _ if code == self.escaped_escape => Some(self.escape),
            Some((start, start_code)) if code == start_code => Some(start),
            _ => None,
        }
    }

    /// `(byte, code)` for every byte that is escaped.
    fn pairs(&self) -> Vec<(u8, u8)> {
        let mut pairs = Vec::from([(self.end, self.escaped_end), (self.escape, self.escaped_escape)]);
        pairs.extend(self.start);
        pairs
    }

    /// Whether `b` is the start byte.
    fn is_start(&self, b: u8) -> bool {
        self.start.is_some_and(|(start, _)| start == b)
    }

    /// The escape codes, as refusals name them.
    fn codes(&self) -> String {
        self.pairs().iter().map(|(_, code)| format!("0x{code:02X}")).collect::<Vec<_>>().join(", ")
    }

    /// The metadata of every frame: `stuffed.start` (when there is one),
    /// `stuffed.end`, `stuffed.escape`, and `stuffed.escaped`, the escaped
    /// bytes and their codes as `byte:code` pairs (`C0:DC DB:DD`), all in
    /// upper-case hex.
    pub fn meta(&self) -> Vec<(String, String)> {
        let mut meta = Vec::new();
        if let Some((start, _)) = self.start {
            meta.push(("stuffed.start".to_owned(), hex_upper(&[start])));
        }
        meta.push(("stuffed.end".to_owned(), hex_upper(&[self.end])));
        meta.push(("stuffed.escape".to_owned(), hex_upper(&[self.escape])));
        let pairs: Vec<String> = self.pairs().iter().map(|(b, c)| format!("{b:02X}:{c:02X}")).collect();
        meta.push(("stuffed.escaped".to_owned(), pairs.join(" ")));
        meta
    }

    /// The content of a frame's `wire` bytes whose escapes were checked.
    fn unstuff(&self, wire: &[u8]) -> Vec<u8> {
        let mut content = Vec::with_capacity(wire.len());
        let mut escaped = false;
        for &b in wire {
            match () {
                _ if escaped => {
                    content.extend(self.unescape(b));
                    escaped = false;
                }
                _ if b == self.escape => escaped = true,
                _ if b == self.end || self.is_start(b) => {}
                _ => content.push(b),
            }
        }
        content
    }
}

/// Where the framer is.
#[derive(Debug)]
enum State {
    /// Between frames.
    Idle,
    /// In the frame starting at `start`; `wire` holds its bytes so far,
    /// `escaped` whether the last one is the escape byte.
    Frame { start: u64, wire: Vec<u8>, escaped: bool },
    /// Refusing bytes up to the next end or start byte.
    Refusing(Span),
    /// Taking nothing more.
    Done,
}

/// The stuffed framer of one session.
#[derive(Debug)]
pub struct StuffedFramer {
    max: usize,
    bytes: StuffedBytes,
    meta: Vec<(String, String)>,
    /// Stream offset of the next byte.
    offset: u64,
    state: State,
}

impl StuffedFramer {
    /// A framer with these bytes, refusing frames whose stuffed content
    /// passes `max` bytes.
    pub fn new(max: usize, bytes: StuffedBytes) -> StuffedFramer {
        let meta = bytes.meta();
        StuffedFramer { max, bytes, meta, offset: 0, state: State::Idle }
    }

    /// Byte `b` at stream offset `at`.
    fn byte(&mut self, b: u8, at: u64, out: &mut Vec<Output>) {
        self.state = match std::mem::replace(&mut self.state, State::Done) {
            State::Idle => self.idle(b, at),
            State::Frame { start, wire, escaped } => self.in_frame(start, wire, escaped, b, at, out),
            State::Refusing(span) => self.refusing(span, b, at, out),
            State::Done => State::Done,
        };
    }

    /// Between frames.
    fn idle(&self, b: u8, at: u64) -> State {
        match self.bytes.start {
            _ if b == self.bytes.end => State::Idle,
            Some((start, _)) if b == start => State::Frame { start: at, wire: vec![b], escaped: false },
            Some(_) => State::Refusing(Span::new(Profile::Stuffed, at, What::Outside, &[b])),
            None => self.content(at, Vec::new(), false, b, at),
        }
    }

    /// In the frame from `start` (its bytes `wire`, the last an escape if
    /// `escaped`).
    fn in_frame(&self, start: u64, mut wire: Vec<u8>, escaped: bool, b: u8, at: u64, out: &mut Vec<Output>) -> State {
        let delimiter = b == self.bytes.end || self.bytes.is_start(b);
        if delimiter && escaped {
            self.bad_escape(start, &wire, b, at).end(out);
            return self.after_delimiter(b, at);
        }
        if b == self.bytes.end {
            wire.push(b);
            self.complete(start, wire, out);
            return State::Idle;
        }
        if self.bytes.is_start(b) {
            Span::new(Profile::Stuffed, start, What::StartInFrame { byte: b, offset: at }, &wire).end(out);
            return self.after_delimiter(b, at);
        }
        self.content(start, wire, escaped, b, at)
    }

    /// A content byte (or escape code) `b` of the frame from `start`.
    fn content(&self, start: u64, mut wire: Vec<u8>, escaped: bool, b: u8, at: u64) -> State {
        if escaped && self.bytes.unescape(b).is_none() {
            return State::Refusing(self.bad_escape(start, &wire, b, at));
        }
        wire.push(b);
        let stuffed = wire.len() - usize::from(self.bytes.start.is_some());
        if stuffed > self.max {
            return State::Refusing(Span::new(Profile::Stuffed, start, What::Oversized { max: self.max }, &wire));
        }
        State::Frame { start, wire, escaped: !escaped && b == self.bytes.escape }
    }

    /// The refusal of the frame from `start` (its bytes `wire`, ending with
    /// the escape byte) for the byte `b` at `at` after its escape.
    fn bad_escape(&self, start: u64, wire: &[u8], b: u8, at: u64) -> Span {
        let what = What::Escape { escape: self.bytes.escape, offset: at - 1, byte: b, codes: self.bytes.codes() };
        Span::new(Profile::Stuffed, start, what, wire).and(&[b])
    }

    /// Refusing, up to the next end or start byte.
    fn refusing(&self, mut span: Span, b: u8, at: u64, out: &mut Vec<Output>) -> State {
        if b == self.bytes.end {
            span.grow(&[b], out);
            span.end(out);
            return State::Idle;
        }
        if self.bytes.is_start(b) {
            span.end(out);
            return State::Frame { start: at, wire: vec![b], escaped: false };
        }
        span.grow(&[b], out);
        State::Refusing(span)
    }

    /// After a refused frame ended by delimiter `b` at `at`: an end byte
    /// leaves the framer between frames, a start byte begins a frame.
    fn after_delimiter(&self, b: u8, at: u64) -> State {
        match self.bytes.is_start(b) {
            true => State::Frame { start: at, wire: vec![b], escaped: false },
            false => State::Idle,
        }
    }

    /// The frame from `start` is whole (`wire` ends with the end byte).
    fn complete(&self, start: u64, wire: Vec<u8>, out: &mut Vec<Output>) {
        let content = self.bytes.unstuff(&wire);
        if content.is_empty() {
            return;
        }
        out.push(Output::Frame(Frame { offset: start, wire, content, meta: self.meta.clone() }));
    }
}

impl Framer for StuffedFramer {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Output>) {
        for &b in chunk {
            self.byte(b, self.offset, out);
            self.offset += 1;
        }
    }

    fn finish(&mut self, out: &mut Vec<Output>) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Frame { start, wire, .. } => {
                Span::new(Profile::Stuffed, start, What::Torn { have: wire.len() as u64 }, &wire).end(out);
            }
            State::Refusing(span) => span.end(out),
            State::Idle | State::Done => {}
        }
    }

    fn held(&self) -> usize {
        match &self.state {
            State::Frame { wire, .. } => wire.len(),
            State::Refusing(span) => span.kept(),
            State::Idle | State::Done => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::testing::{frames, refusals, same_at_every_split, unhex};

    fn slip() -> StuffedFramer {
        StuffedFramer::new(16, StuffedBytes::default())
    }

    fn with_start() -> StuffedFramer {
        let bytes = StuffedBytes { start: Some((0xC0, 0xDE)), end: 0xC2, ..StuffedBytes::default() };
        StuffedFramer::new(16, bytes)
    }

    #[test]
    fn slip_frames_are_unstuffed_and_committed_as_they_came() {
        let stream = unhex("c0 01 db dc 02 c0 c0 03 db dd c0 04 c0");
        let out = same_at_every_split(slip, &stream);
        let got: Vec<(u64, Vec<u8>, Vec<u8>)> =
            frames(&out).iter().map(|f| (f.offset, f.wire.clone(), f.content.clone())).collect();
        assert_eq!(
            got,
            vec![
                (1, unhex("01 db dc 02 c0"), unhex("01 c0 02")),
                (7, unhex("03 db dd c0"), unhex("03 db")),
                (11, unhex("04 c0"), unhex("04")),
            ]
        );
        assert!(refusals(&out).is_empty());
        let meta: Vec<String> = frames(&out)[0].meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(meta, ["stuffed.end=C0", "stuffed.escape=DB", "stuffed.escaped=C0:DC DB:DD"]);
    }

    #[test]
    fn a_bad_escape_refuses_the_frame_up_to_its_end() {
        let stream = unhex("01 02 db 41 03 c0 05 c0");
        let out = same_at_every_split(slip, &stream);
        let [r] = &refusals(&out)[..] else { panic!("{out:?}") };
        assert_eq!(
            r.to_string(),
            "stuffed offset 0: escape 0xDB at offset 2 followed by 0x41, which is not one of its codes (0xDC, 0xDD)"
        );
        assert_eq!(r.input, unhex("01 02 db 41 03 c0"));
        assert_eq!(frames(&out)[0].offset, 6);
        let out = same_at_every_split(slip, &unhex("01 db c0 05 c0"));
        assert_eq!(refusals(&out)[0].input, unhex("01 db c0"), "an end byte ends the frame even after an escape");
        assert_eq!(frames(&out)[0].content, [5]);
    }

    #[test]
    fn an_oversized_frame_is_refused_up_to_its_end() {
        let mut stream = vec![0x11; 17];
        stream.extend(unhex("c0 05 c0"));
        let out = same_at_every_split(slip, &stream);
        let [r] = &refusals(&out)[..] else { panic!("{out:?}") };
        assert_eq!(r.to_string(), "stuffed offset 0: frame longer than max_frame_bytes 16");
        assert_eq!(r.input.len(), 18);
        assert_eq!(frames(&out)[0].offset, 18);
        let exactly = [&[0x11; 16][..], &[0xc0]].concat();
        assert_eq!(frames(&same_at_every_split(slip, &exactly)).len(), 1, "16 stuffed bytes fit");
    }

    #[test]
    fn a_torn_frame_names_its_offset() {
        let out = same_at_every_split(slip, &unhex("01 c0 02 03"));
        let [r] = &refusals(&out)[..] else { panic!("{out:?}") };
        assert_eq!(r.to_string(), "stuffed offset 2: stream closed 2 bytes into a frame (torn)");
    }

    #[test]
    fn with_a_start_byte() {
        // garbage, a frame with every code, a start inside a frame, an empty frame, a frame.
        let stream = unhex("41 42 c0 01 db dc db dd db de c2 c0 07 c0 08 c2 c0 c2 c0 09 c2");
        let out = same_at_every_split(with_start, &stream);
        let reasons: Vec<String> = refusals(&out).iter().map(|r| r.to_string()).collect();
        assert_eq!(
            reasons,
            [
                "stuffed offset 0: bytes outside any frame",
                "stuffed offset 11: start byte 0xC0 at offset 13 inside the frame (torn)",
            ]
        );
        let got: Vec<(u64, Vec<u8>)> = frames(&out).iter().map(|f| (f.offset, f.content.clone())).collect();
        assert_eq!(got, vec![(2, unhex("01 c2 db c0")), (13, unhex("08")), (18, unhex("09"))]);
        assert_eq!(frames(&out)[0].meta[0], ("stuffed.start".to_owned(), "C0".to_owned()));
        assert_eq!(frames(&out)[0].meta[3].1, "C2:DC DB:DD C0:DE");
    }

    #[test]
    fn it_holds_at_most_a_frame() {
        let mut f = slip();
        let mut out = Vec::new();
        f.push(&[0x11; 16], &mut out);
        assert_eq!(f.held(), 16);
        f.push(&[0x11; 10_000], &mut out);
        assert!(f.held() <= crate::framing::KEEP_BYTES);
    }
}

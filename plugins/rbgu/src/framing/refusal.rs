//! Refused input: what is wrong ([`What`]), the refusal a framer reports
//! ([`Refusal`]: profile, stream offset, what, the refused bytes), and the
//! [`Span`] of refused bytes a framer grows until its next sync point.

use super::{KEEP_BYTES, Output, Profile};

/// What is wrong with refused input. Offsets are stream offsets of the
/// session; the refusal's own offset is where the refused bytes start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum What {
    /// Bytes where a frame should start but none does.
    #[error("bytes outside any frame")]
    Outside,
    /// A header declares more than the limit.
    #[error("frame declares {len} bytes, more than max_frame_bytes {max}")]
    Declared {
        /// The declared length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A frame without a declared length grew past the limit.
    #[error("frame longer than max_frame_bytes {max}")]
    Oversized {
        /// The limit.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream closed {have} bytes into a frame (torn)")]
    Torn {
        /// Bytes of the frame received.
        have: u64,
    },
    /// The stream ended inside a frame of known length.
    #[error("stream closed {have} bytes into a frame of {len} bytes (torn)")]
    TornDeclared {
        /// Bytes of the frame received.
        have: u64,
        /// Its length, header included.
        len: u64,
    },
    /// A wrapper header whose version is not 0x0001.
    #[error("wrapper version 0x{version:04X}, expected 0x0001: not an IEC 62056-47 stream, closing the session")]
    Version {
        /// The version read.
        version: u16,
    },
    /// An HDLC frame format field whose type is not 0xA.
    #[error("frame format 0x{format:04X} is not of type 0xA")]
    Format {
        /// The two bytes of the format field.
        format: u16,
    },
    /// An HDLC frame length too small for its header and check sequences.
    #[error("frame length {len} is too short for its header")]
    Short {
        /// The length of the format field.
        len: u16,
    },
    /// An HDLC address that does not end within 4 bytes, or of 3 bytes.
    #[error("{which} address at offset {offset} is not of 1, 2 or 4 bytes")]
    Address {
        /// `destination` or `source`.
        which: &'static str,
        /// Where it starts.
        offset: u64,
    },
    /// An HDLC header check sequence that does not match.
    #[error("HCS 0x{got:04X}, computed 0x{want:04X}")]
    Hcs {
        /// As received.
        got: u16,
        /// As computed over the header.
        want: u16,
    },
    /// An HDLC frame check sequence that does not match.
    #[error("FCS 0x{got:04X}, computed 0x{want:04X}")]
    Fcs {
        /// As received.
        got: u16,
        /// As computed over the frame.
        want: u16,
    },
    /// An HDLC frame not followed by a flag where its length ends.
    #[error("0x{byte:02X} at offset {offset} where the closing flag 0x7E belongs")]
    NoClosingFlag {
        /// The byte found.
        byte: u8,
        /// Its offset.
        offset: u64,
    },
    /// A segmented HDLC message broken by refused input.
    #[error("segmented message of {segments} segments broken by refused input at offset {at}")]
    SegmentsBroken {
        /// Segments received.
        segments: u32,
        /// Where the refused input starts.
        at: u64,
    },
    /// A segmented HDLC message interrupted by a frame of other addresses.
    #[error("segmented message of {segments} segments interrupted at offset {at} by a frame of other addresses")]
    SegmentsInterrupted {
        /// Segments received.
        segments: u32,
        /// Where the other frame starts.
        at: u64,
    },
    /// The rest of a segmented HDLC message refused earlier.
    #[error("segments of a message refused earlier, skipped up to its last segment")]
    SegmentsRest,
    /// The stream ended inside a segmented HDLC message.
    #[error("stream closed inside a segmented message of {segments} segments (torn)")]
    SegmentsTorn {
        /// Segments received.
        segments: u32,
    },
    /// A segmented HDLC message grew past the limit.
    #[error("segmented message longer than max_frame_bytes {max}, skipped up to its last segment")]
    SegmentsOversized {
        /// The limit.
        max: usize,
    },
    /// An escape byte followed by a byte that is none of its codes.
    #[error(
        "escape 0x{escape:02X} at offset {offset} followed by 0x{byte:02X}, which is not one of its codes ({codes})"
    )]
    Escape {
        /// The escape byte.
        escape: u8,
        /// Its offset.
        offset: u64,
        /// The byte after it.
        byte: u8,
        /// The codes it allows, as text.
        codes: String,
    },
    /// A start byte inside a frame: the frame before it is torn.
    #[error("start byte 0x{byte:02X} at offset {offset} inside the frame (torn)")]
    StartInFrame {
        /// The start byte.
        byte: u8,
        /// Its offset.
        offset: u64,
    },
}

/// Input a framer refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The profile that refused it.
    pub profile: Profile,
    /// Stream offset where the refused bytes start.
    pub offset: u64,
    /// What is wrong.
    pub what: What,
    /// The refused bytes (at most [`KEEP_BYTES`]).
    pub input: Vec<u8>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} offset {}: {}", self.profile, self.offset, self.what)
    }
}

/// Refused bytes from an offset to the profile's next sync point, reported
/// once (see [`crate::framing`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    profile: Profile,
    offset: u64,
    what: What,
    kept: Vec<u8>,
    reported: bool,
}

impl Span {
    /// A span starting at stream `offset` with `bytes`, refused for `what`.
    pub fn new(profile: Profile, offset: u64, what: What, bytes: &[u8]) -> Span {
        let mut span = Span { profile, offset, what, kept: Vec::new(), reported: false };
        span.keep(bytes);
        span
    }

    /// The same span keeping `bytes` too (not reported yet, however many).
    pub fn and(mut self, bytes: &[u8]) -> Span {
        self.keep(bytes);
        self
    }

    /// Where it starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many bytes it keeps.
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    /// Add the next refused `bytes`; once the span has kept
    /// [`KEEP_BYTES`], it is reported to `out` (the rest is skipped unkept).
    pub fn grow(&mut self, bytes: &[u8], out: &mut Vec<Output>) {
        if self.reported {
            return;
        }
        self.keep(bytes);
        if self.kept.len() >= KEEP_BYTES {
            self.report(out);
        }
    }

    /// The span ended: report it to `out` unless it was reported already.
    pub fn end(mut self, out: &mut Vec<Output>) {
        self.report(out);
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = KEEP_BYTES.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn report(&mut self, out: &mut Vec<Output>) {
        if !self.reported {
            self.reported = true;
            out.push(Output::Refused(self.refusal()));
        }
    }

    fn refusal(&mut self) -> Refusal {
        Refusal {
            profile: self.profile,
            offset: self.offset,
            what: self.what.clone(),
            input: std::mem::take(&mut self.kept),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_reported_once_when_full_or_ended() {
        let mut out = Vec::new();
        let mut span = Span::new(Profile::Hdlc, 7, What::Outside, b"ab");
        span.grow(&[0; KEEP_BYTES], &mut out);
        assert_eq!(out.len(), 1, "reported once full");
        span.grow(b"more", &mut out);
        span.end(&mut out);
        let [Output::Refused(r)] = &out[..] else { panic!("{out:?}") };
        assert_eq!((r.offset, r.input.len(), &r.input[..2]), (7, KEEP_BYTES, &b"ab"[..]));
        assert_eq!(r.to_string(), "hdlc offset 7: bytes outside any frame");
        let mut out = Vec::new();
        Span::new(Profile::Stuffed, 0, What::Torn { have: 3 }, b"abc").end(&mut out);
        assert!(matches!(&out[..], [Output::Refused(r)] if r.input == b"abc"));
    }
}

//! The HDLC stream: flags, candidate frames and resynchronisation.
//!
//! Between frames only flags may come (several in a row are fill, and one
//! flag may close a frame and open the next). After a flag the scanner
//! reads a candidate frame ([`super::frame::parse`]); a candidate that fails
//! any check is refused from its opening flag, and the scanner hunts for
//! the next flag after that flag's first byte: the 62056-46 frame is not
//! byte stuffed, so a flag byte may sit inside a frame, and a refused
//! candidate's length cannot be trusted. Everything from a refused frame's
//! opening flag to the opening flag of the next valid frame is one refused
//! span, named after what failed first (a later candidate failing inside
//! it adds to it). Bytes outside any frame (before the first flag, or after
//! a frame where a flag belongs) are a span of their own, ending at the
//! next flag.
//!
//! It holds at most one candidate frame (its declared length is at most
//! `max_frame_bytes` and 2047) and the kept part of a refused span.

use super::frame::{FLAG, Parsed, parse};
use super::segments::Segments;
use crate::framing::{KEEP_BYTES, Output, Profile, Span, What};

/// The HDLC scanner of one session.
#[derive(Debug)]
pub struct Scanner {
    max: usize,
    /// Bytes not consumed yet; `buf[0]` is at stream offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// The stream offset of the opening flag just consumed, if the next
    /// byte may start a frame; `None` while hunting for a flag.
    flag: Option<u64>,
    /// The refused span being grown.
    span: Option<Span>,
    /// Whether that span is of bytes outside any frame (it ends at the
    /// next flag) rather than of a refused frame.
    outside: bool,
}

impl Scanner {
    /// A scanner refusing frames declaring more than `max` bytes.
    pub fn new(max: usize) -> Scanner {
        Scanner { max, buf: Vec::new(), base: 0, flag: None, span: None, outside: false }
    }

    /// How many bytes it holds.
    pub fn held(&self) -> usize {
        self.buf.len() + self.span.as_ref().map_or(0, Span::kept)
    }

    /// Take `chunk`: valid frames go to `segments`, refusals to `out`.
    pub fn push(&mut self, chunk: &[u8], segments: &mut Segments, out: &mut Vec<Output>) {
        self.buf.extend_from_slice(chunk);
        let mut pos = 0;
        while pos < self.buf.len() {
            let Some(step) = self.step(pos, segments, out) else { break };
            pos = step;
        }
        self.buf.drain(..pos);
        self.base += pos as u64;
    }

    /// One step from `pos`: the next position, or `None` to wait for more.
    fn step(&mut self, pos: usize, segments: &mut Segments, out: &mut Vec<Output>) -> Option<usize> {
        let at = self.base + pos as u64;
        let Some(flag_at) = self.flag else {
            let rest = &self.buf[pos..];
            let found = rest.iter().position(|&b| b == FLAG);
            let skip = found.unwrap_or(rest.len());
            // Only the first KEEP_BYTES of a span are kept anyway.
            let outside = rest[..skip.min(KEEP_BYTES)].to_vec();
            self.refuse(at, What::Outside, None, &outside, segments, out);
            if found.is_none() {
                return Some(pos + skip);
            }
            // Bytes outside any frame end at a flag; a refused frame's span
            // goes on until a valid frame (its flags cannot be trusted).
            if self.outside {
                self.end_span(out);
            }
            self.flag = Some(at + skip as u64);
            return Some(pos + skip + 1);
        };
        if self.buf[pos] == FLAG {
            self.flag = Some(at);
            return Some(pos + 1);
        }
        match parse(&self.buf[pos..], flag_at, self.max) {
            Parsed::Need => None,
            Parsed::Good { frame, len } => {
                self.end_span(out);
                segments.frame(frame, out);
                self.flag = Some(at + len as u64);
                Some(pos + len + 1)
            }
            Parsed::Bad { what, segmented } => {
                self.refuse(flag_at, what, segmented, &[FLAG], segments, out);
                self.flag = None;
                Some(pos)
            }
        }
    }

    /// Refuse `bytes` at `at`: they grow the open span, or open one for
    /// `what` (telling `segments` its message, if any, is broken).
    fn refuse(
        &mut self,
        at: u64,
        what: What,
        segmented: Option<bool>,
        bytes: &[u8],
        segments: &mut Segments,
        out: &mut Vec<Output>,
    ) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.span {
            Some(span) => span.grow(bytes, out),
            None => {
                segments.broken(at, segmented, out);
                self.outside = what == What::Outside;
                self.span = Some(Span::new(Profile::Hdlc, at, what, bytes));
            }
        }
    }

    /// Report the open span, if any.
    fn end_span(&mut self, out: &mut Vec<Output>) {
        if let Some(span) = self.span.take() {
            span.end(out);
        }
    }

    /// The stream ended: a candidate frame still open is torn.
    pub fn finish(&mut self, segments: &mut Segments, out: &mut Vec<Output>) {
        if let Some(flag_at) = self.flag.take()
            && !self.buf.is_empty()
        {
            let mut torn = vec![FLAG];
            torn.append(&mut self.buf);
            let what = What::Torn { have: torn.len() as u64 };
            self.refuse(flag_at, what, None, &torn, segments, out);
        }
        self.end_span(out);
        self.buf.clear();
    }
}

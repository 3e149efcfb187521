//! Segmented HDLC messages, reassembled: frames with the segmentation bit
//! set are collected, with the first frame's addresses, until one without
//! it; the message is then one [`Frame`] whose committed bytes are its
//! frames one after the other (flags included) and whose content is their
//! information fields joined, without the first one's LLC header.
//!
//! The driver sends nothing, so it never sends the RR a sender may wait for
//! between segments: reassembly serves senders that do not wait (UI frames,
//! a large window). Limits and refusals:
//!
//! - a message whose frames pass `max_frame_bytes` between their flags is
//!   refused, and its remaining segments with it, up to its last segment;
//! - a frame of other addresses in the middle of a message ends it: the
//!   message so far is refused, the frame is taken as the start of a new one;
//! - refused input in the middle of a message breaks it: the message so far
//!   is refused, and so are the segments that follow up to the next frame
//!   without the segmentation bit (they are the rest of the broken message,
//!   unless the refused frame was known, by its checked header, to be the
//!   last one). A refused frame known to be a first segment makes the
//!   segments after it refused the same way; one whose header could not be
//!   checked is taken for a whole message;
//! - the stream ending in the middle of a message: torn.

use super::frame::{HdlcFrame, Parsed, parse};
use crate::framing::{Frame, Output, Profile, Span, What, hex_upper};

/// The LLC headers of IEC 62056-46 (destination LSAP, source LSAP, quality).
const LLC: [[u8; 3]; 2] = [[0xE6, 0xE6, 0x00], [0xE6, 0xE7, 0x00]];

/// A message being reassembled.
#[derive(Debug)]
struct Message {
    /// Its first frame, whose `wire` holds the wire bytes of every frame
    /// so far (their information is read again when the message is whole).
    first: HdlcFrame,
    /// Bytes of its frames between their flags.
    size: usize,
    segments: u32,
}

/// The reassembly of one session's messages.
#[derive(Debug)]
pub struct Segments {
    max: usize,
    message: Option<Message>,
    /// Segments are refused up to the next last segment.
    skipping: bool,
    /// The refused segments so far.
    rest: Option<Span>,
}

impl Segments {
    /// Reassembly refusing messages over `max` bytes between flags.
    pub fn new(max: usize) -> Segments {
        Segments { max, message: None, skipping: false, rest: None }
    }

    /// How many bytes it holds.
    pub fn held(&self) -> usize {
        self.message.as_ref().map_or(0, |m| m.first.wire.len()) + self.rest.as_ref().map_or(0, Span::kept)
    }

    /// A valid frame.
    pub fn frame(&mut self, frame: HdlcFrame, out: &mut Vec<Output>) {
        if self.skipping {
            return self.skip(frame, out);
        }
        if let Some(m) =
            self.message.take_if(|m| m.first.destination != frame.destination || m.first.source != frame.source)
        {
            let what = What::SegmentsInterrupted { segments: m.segments, at: frame.offset };
            Span::new(Profile::Hdlc, m.first.offset, what, &m.first.wire).end(out);
        }
        let last = !frame.segmented;
        match self.message.take() {
            None if last => out.push(Output::Frame(message_frame(frame.info.clone(), frame, 1))),
            None => self.message = Some(Message::first(frame)),
            Some(m) if m.size + (frame.wire.len() - 2) > self.max => self.oversized(m, frame, out),
            Some(m) if last => out.push(Output::Frame(m.and(frame).into_frame())),
            Some(m) => self.message = Some(m.and(frame)),
        }
    }

    /// Refused input starts at `at`, from a frame whose segmentation bit is
    /// `segmented` if its header was checked.
    pub fn broken(&mut self, at: u64, segmented: Option<bool>, out: &mut Vec<Output>) {
        if self.skipping && segmented == Some(false) {
            self.skipping = false;
            if let Some(rest) = self.rest.take() {
                rest.end(out);
            }
            return;
        }
        match self.message.take() {
            Some(m) => {
                let what = What::SegmentsBroken { segments: m.segments, at };
                Span::new(Profile::Hdlc, m.first.offset, what, &m.first.wire).end(out);
                self.skipping |= segmented != Some(false);
            }
            None => self.skipping |= segmented == Some(true),
        }
    }

    /// The stream ended: a message still open is torn.
    pub fn finish(&mut self, out: &mut Vec<Output>) {
        if let Some(m) = self.message.take() {
            Span::new(Profile::Hdlc, m.first.offset, What::SegmentsTorn { segments: m.segments }, &m.first.wire)
                .end(out);
        }
        if let Some(rest) = self.rest.take() {
            rest.end(out);
        }
        self.skipping = false;
    }

    /// A segment of a message refused earlier.
    fn skip(&mut self, frame: HdlcFrame, out: &mut Vec<Output>) {
        let rest = self.rest.get_or_insert_with(|| Span::new(Profile::Hdlc, frame.offset, What::SegmentsRest, &[]));
        rest.grow(&frame.wire, out);
        if !frame.segmented {
            self.skipping = false;
            if let Some(rest) = self.rest.take() {
                rest.end(out);
            }
        }
    }

    /// Message `m` grew past the limit with `frame`: refuse it, and its
    /// remaining segments.
    fn oversized(&mut self, m: Message, frame: HdlcFrame, out: &mut Vec<Output>) {
        let what = What::SegmentsOversized { max: self.max };
        self.rest = Some(Span::new(Profile::Hdlc, m.first.offset, what, &m.first.wire));
        self.skipping = true;
        self.skip(frame, out);
    }
}

impl Message {
    /// A message starting with `frame`.
    fn first(mut frame: HdlcFrame) -> Message {
        frame.info = Vec::new();
        Message { size: frame.wire.len() - 2, segments: 1, first: frame }
    }

    /// The message with `frame`, its next segment.
    fn and(mut self, frame: HdlcFrame) -> Message {
        self.size += frame.wire.len() - 2;
        self.first.wire.extend_from_slice(&frame.wire);
        self.segments += 1;
        self
    }

    /// The whole message as a frame: its information fields read again
    /// from its frames (only their bytes are held meanwhile).
    fn into_frame(self) -> Frame {
        let (wire, mut info, mut pos) = (&self.first.wire, Vec::new(), 0);
        while let Some(Parsed::Good { frame, len }) = wire.get(pos + 1..).map(|body| parse(body, 0, usize::MAX)) {
            info.extend_from_slice(&frame.info);
            pos += len + 2;
        }
        message_frame(info, self.first, self.segments)
    }
}

/// The frame of a message of `segments` frames, `first` its first frame
/// (holding the wire bytes of them all) and `info` their information
/// fields joined, with its metadata: `hdlc.destination`, `hdlc.source`
/// (upper HDLC address, and `/lower` when there is one, decimal),
/// `hdlc.control` (of the first frame, hex), `hdlc.llc` (the LLC header
/// taken off the information, hex, when there was one), `hdlc.segments`
/// (when more than one). Its content is the information without the LLC
/// header for I and UI frames, and empty for the others (their information,
/// if any, is the link's own, not an APDU).
fn message_frame(mut info: Vec<u8>, first: HdlcFrame, segments: u32) -> Frame {
    let mut meta = vec![
        ("hdlc.destination".to_owned(), first.destination.to_string()),
        ("hdlc.source".to_owned(), first.source.to_string()),
        ("hdlc.control".to_owned(), hex_upper(&[first.control])),
    ];
    if !carries_apdu(first.control) {
        info.clear();
    }
    if LLC.iter().any(|llc| info.starts_with(llc)) {
        meta.push(("hdlc.llc".to_owned(), hex_upper(&info[..3])));
        info.drain(..3);
    }
    if segments > 1 {
        meta.push(("hdlc.segments".to_owned(), segments.to_string()));
    }
    Frame { offset: first.offset, wire: first.wire, content: info, meta }
}

/// Whether a frame with this control byte carries an APDU: an I frame (low
/// bit 0) or a UI frame (0x03, with or without the poll/final bit).
fn carries_apdu(control: u8) -> bool {
    control & 0x01 == 0 || control & !0x10 == 0x03
}

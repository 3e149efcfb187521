//! The `hdlc` profile: IEC 62056-46 HDLC frames, as meters send DLMS over a
//! TCP connection when they do not speak the 62056-47 wrapper.
//!
//! - [`frame`]: one frame after its opening flag, every check (format,
//!   addresses, HCS, FCS, closing flag);
//! - [`scan`]: the stream of flags and frames, and resynchronisation at the
//!   next flag after refused input;
//! - [`segments`]: segmented messages reassembled.
//!
//! A committed frame is the HDLC frame from its opening to its closing
//! flag (a segmented message: its frames one after the other); its content
//! is the information field without the LLC header (`E6 E6 00` or
//! `E6 E7 00`, noted in `hdlc.llc` when taken off).

pub mod frame;
pub mod scan;
pub mod segments;

use super::{Framer, Output};
use scan::Scanner;
use segments::Segments;

/// The HDLC framer of one session.
#[derive(Debug)]
pub struct HdlcFramer {
    scanner: Scanner,
    segments: Segments,
    done: bool,
}

impl HdlcFramer {
    /// A framer refusing messages over `max` bytes between their flags.
    pub fn new(max: usize) -> HdlcFramer {
        HdlcFramer { scanner: Scanner::new(max), segments: Segments::new(max), done: false }
    }
}

impl Framer for HdlcFramer {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Output>) {
        if !self.done {
            self.scanner.push(chunk, &mut self.segments, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Output>) {
        if !std::mem::replace(&mut self.done, true) {
            self.scanner.finish(&mut self.segments, out);
            self.segments.finish(out);
        }
    }

    fn held(&self) -> usize {
        self.scanner.held() + self.segments.held()
    }
}

#[cfg(test)]
mod tests {
    use super::frame::crc16;
    use super::*;
    use crate::framing::testing::{frames, refusals, same_at_every_split, unhex};

    /// An HDLC frame from the meter (server 1/17) to the public client (16),
    /// control `control`, carrying `info`, with the segmentation bit if
    /// `segmented`.
    pub fn build(control: u8, info: &[u8], segmented: bool) -> Vec<u8> {
        let header_len = 2 + 1 + 2 + 1;
        let len = header_len + if info.is_empty() { 2 } else { 2 + info.len() + 2 };
        let format = 0xA000 | (u16::from(segmented) << 11) | len as u16;
        let mut body = format.to_be_bytes().to_vec();
        body.extend([0x21, 0x02, 0x23, control]);
        if !info.is_empty() {
            body.extend(crc16(&body).to_le_bytes());
            body.extend(info);
        }
        body.extend(crc16(&body).to_le_bytes());
        [&[0x7E][..], &body, &[0x7E]].concat()
    }

    fn framer() -> HdlcFramer {
        HdlcFramer::new(512)
    }

    fn reasons(out: &[Output]) -> Vec<String> {
        refusals(out).iter().map(|r| r.to_string()).collect()
    }

    /// Frames of `u9n/dlms-cosem` (MIT), `tests/test_hdlc/test_hdlc.py`:
    /// UA (information without LLC), AARE (LLC E6 E7 00), SNRM (none).
    const UA: &str = "7EA01F21022373E6C781801205019A06019A070400000001080400000001CCA27E";
    const AARE: &str = "7EA0382102233034E7E6E7006129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D04C80007B86A7E";
    const SNRM: &str = "7ea00802232193bd647e";

    #[test]
    fn public_frames_in_one_stream_with_shared_and_repeated_flags() {
        let (ua, aare, snrm) = (unhex(UA), unhex(AARE), unhex(SNRM));
        // UA, AARE sharing UA's closing flag, flag fill, SNRM.
        let stream = [&ua[..], &aare[1..], &[0x7E, 0x7E], &snrm].concat();
        let out = same_at_every_split(framer, &stream);
        assert!(refusals(&out).is_empty(), "{out:?}");
        let got: Vec<(u64, usize, Option<&str>)> = frames(&out)
            .iter()
            .map(|f| (f.offset, f.wire.len(), f.meta.iter().find(|(k, _)| k == "hdlc.llc").map(|(_, v)| v.as_str())))
            .collect();
        assert_eq!(got, vec![(0, 33, None), (32, 58, Some("E6E700")), (92, 10, None)]);
        assert!(frames(&out)[0].content.is_empty(), "a UA's information is the link's, not an APDU");
        assert_eq!(frames(&out)[1].content[0], 0x61, "the AARE after its LLC header");
        assert_eq!(frames(&out)[1].wire, aare);
    }

    #[test]
    fn a_bad_fcs_is_refused_up_to_the_next_good_frame() {
        let good = build(0x13, &unhex("e6e7000f00000001"), false);
        let mut bad = good.clone();
        bad[12] ^= 0xFF;
        let stream = [&good[..], &bad, &good].concat();
        let out = same_at_every_split(framer, &stream);
        assert_eq!(reasons(&out), ["hdlc offset 20: FCS 0xF8DF, computed 0x0D85"]);
        assert_eq!(refusals(&out)[0].input, bad[..bad.len() - 1], "its closing flag opens the next frame");
        assert_eq!(frames(&out).iter().map(|f| f.offset).collect::<Vec<_>>(), [0, 40]);
    }

    #[test]
    fn a_bad_hcs_or_garbage_resynchronises_at_a_flag() {
        let good = build(0x13, &unhex("0f00000001"), false);
        let mut bad = good.clone();
        bad[4] ^= 0x01;
        let stream = [&b"AT+ID=7\r\n"[..], &good, &bad, &good].concat();
        let out = same_at_every_split(framer, &stream);
        let got = reasons(&out);
        assert_eq!(got[0], "hdlc offset 0: bytes outside any frame");
        assert_eq!(got[1], "hdlc offset 26: HCS 0xA013, computed 0xF75C");
        assert_eq!(refusals(&out)[0].input, b"AT+ID=7\r\n");
        assert_eq!(frames(&out).iter().map(|f| f.offset).collect::<Vec<_>>(), [9, 43]);
    }

    #[test]
    fn torn_and_oversized_frames_name_their_offsets() {
        let good = build(0x13, &[0x0F; 40], false);
        let stream = [&good[..], &good[..20]].concat();
        let out = same_at_every_split(framer, &stream);
        assert_eq!(reasons(&out), ["hdlc offset 52: stream closed 20 bytes into a frame (torn)"]);
        let out = same_at_every_split(|| HdlcFramer::new(40), &[&good[..], &build(0x13, &[1], false)].concat());
        assert_eq!(reasons(&out), ["hdlc offset 0: frame declares 50 bytes, more than max_frame_bytes 40"]);
        assert_eq!(frames(&out)[0].offset, 52);
    }

    #[test]
    fn segments_are_reassembled() {
        let first = build(0x13, &unhex("e6e700 0f 0000"), true);
        let second = build(0x13, &unhex("0001 02"), false);
        let single = build(0x13, &unhex("0f01"), false);
        let stream = [&first[..], &second, &single].concat();
        let out = same_at_every_split(framer, &stream);
        let [message, one] = &frames(&out)[..] else { panic!("{out:?}") };
        assert_eq!((message.offset, message.content.clone()), (0, unhex("0f 0000 0001 02")));
        assert_eq!(message.wire, [&first[..], &second].concat());
        assert!(message.meta.contains(&("hdlc.segments".to_owned(), "2".to_owned())));
        assert_eq!(
            message.meta[0..2],
            [("hdlc.destination".into(), "16".into()), ("hdlc.source".into(), "1/17".into())]
        );
        assert_eq!((one.offset, one.content.clone()), (first.len() as u64 + second.len() as u64, unhex("0f01")));
    }

    #[test]
    fn a_broken_message_and_its_rest_are_refused() {
        let first = build(0x13, &unhex("0f 0000"), true);
        let mut middle = build(0x13, &unhex("0001"), true);
        let last = build(0x13, &unhex("02"), false);
        let single = build(0x13, &unhex("0f01"), false);
        let n = middle.len();
        middle[n - 2] ^= 0xFF;
        let stream = [&first[..], &middle, &last, &single].concat();
        let out = same_at_every_split(framer, &stream);
        let at = first.len();
        assert_eq!(
            reasons(&out),
            [
                format!("hdlc offset 0: segmented message of 1 segments broken by refused input at offset {at}"),
                format!("hdlc offset {at}: FCS 0x1257, computed 0xED57"),
                format!(
                    "hdlc offset {}: segments of a message refused earlier, skipped up to its last segment",
                    at + n
                ),
            ]
        );
        assert_eq!(frames(&out).iter().map(|f| f.content.clone()).collect::<Vec<_>>(), [unhex("0f01")]);
    }

    #[test]
    fn oversized_and_torn_messages_are_refused() {
        let part = build(0x13, &[0x11; 100], true);
        let last = build(0x13, &[0x22; 100], false);
        let stream = [&part[..], &part, &last, &build(0x13, &[1], false)].concat();
        let out = same_at_every_split(|| HdlcFramer::new(250), &stream);
        assert_eq!(
            reasons(&out),
            ["hdlc offset 0: segmented message longer than max_frame_bytes 250, skipped up to its last segment"]
        );
        assert_eq!(refusals(&out)[0].input.len(), 3 * part.len());
        assert_eq!(frames(&out).len(), 1);
        let out = same_at_every_split(framer, &[&part[..], &part].concat());
        assert_eq!(reasons(&out), ["hdlc offset 0: stream closed inside a segmented message of 2 segments (torn)"]);
    }

    #[test]
    fn it_holds_at_most_a_frame_and_a_message() {
        let mut f = HdlcFramer::new(300);
        let mut out = Vec::new();
        f.push(&build(0x13, &[0x11; 100], true), &mut out);
        f.push(&build(0x13, &[0x11; 100], true)[..50], &mut out);
        assert_eq!(f.held(), 112 + 49, "a segment and a candidate without its flag");
        f.push(&[0x55; 20_000], &mut out);
        assert!(f.held() <= crate::framing::KEEP_BYTES, "{}", f.held());
    }
}

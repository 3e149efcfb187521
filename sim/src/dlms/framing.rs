//! The two framings the rbgu driver reads DLMS from (its
//! `src/framing/wrapper.rs` and `src/framing/hdlc/`):
//!
//! - [`wrap`]: the IEC 62056-47 wrapper, 8 bytes of big-endian u16s
//!   (version 0x0001, source wPort 0x0001, destination wPort 0x0001, APDU
//!   length), then the APDU; [`wrap_between`] with other wPorts (the
//!   answers to a client), and [`next_wrapper`] cuts what a meter
//!   receives into frames;
//! - [`hdlc`]: IEC 62056-46 HDLC frames from the meter (server 1/17) to the
//!   public client (16): flag 0x7E, frame format type 3 (0xA, the
//!   segmentation bit, 11-bit length), destination `21`, source `02 23`,
//!   control 0x13 (UI, final), HCS, information (LLC `E6 E7 00`, then the
//!   APDU), FCS, flag 0x7E. HCS and FCS are the PPP FCS-16 (RFC 1662,
//!   CRC-16/X-25), low byte first. Information over one frame's room is cut
//!   into segments, which the driver joins.

use super::error::DlmsError;
use super::options::Framing;

/// The wrapper's version.
pub const WRAPPER_VERSION: u16 = 0x0001;
/// The meter's wPort (the management logical device).
pub const SOURCE_WPORT: u16 = 0x0001;
/// The client's wPort.
pub const DESTINATION_WPORT: u16 = 0x0001;
/// The wrapper header's length.
pub const WRAPPER_HEADER: usize = 8;

/// The HDLC flag.
pub const FLAG: u8 = 0x7E;
/// Destination: the public client, 16 (one byte, `16 << 1 | 1`).
pub const HDLC_DESTINATION: [u8; 1] = [0x21];
/// Source: the meter, upper address 1, lower 17 (two bytes).
pub const HDLC_SOURCE: [u8; 2] = [0x02, 0x23];
/// Control: an unnumbered information (UI) frame, poll/final set.
pub const HDLC_CONTROL: u8 = 0x13;
/// The LLC header of a response (destination LSAP E6, source LSAP E7, quality 0).
pub const LLC_RESPONSE: [u8; 3] = [0xE6, 0xE7, 0x00];
/// The most bytes between a frame's flags (the 11-bit length).
const HDLC_MAX_LEN: usize = 0x07FF;
/// Format, addresses, control, HCS, FCS.
const HDLC_OVERHEAD: usize = 2 + HDLC_DESTINATION.len() + HDLC_SOURCE.len() + 1 + 2 + 2;

/// `apdu` in the IEC 62056-47 wrapper (a push: wPorts 1 and 1).
pub fn wrap(apdu: &[u8]) -> Result<Vec<u8>, DlmsError> {
    wrap_between(SOURCE_WPORT, DESTINATION_WPORT, apdu)
}

/// `apdu` in the IEC 62056-47 wrapper from wPort `source` to wPort
/// `destination` (an answer: the request's wPorts swapped).
pub fn wrap_between(source: u16, destination: u16, apdu: &[u8]) -> Result<Vec<u8>, DlmsError> {
    let len = u16::try_from(apdu.len()).map_err(|_| DlmsError::TooLong {
        framing: "wrapper",
        len: apdu.len(),
        max: usize::from(u16::MAX),
    })?;
    let mut out = Vec::with_capacity(WRAPPER_HEADER + apdu.len());
    for field in [WRAPPER_VERSION, source, destination, len] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    out.extend_from_slice(apdu);
    Ok(out)
}

/// A wrapper frame a meter received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A whole frame of version 1.
    Frame {
        /// The sender's wPort (the client's).
        source: u16,
        /// The wPort it is for (the meter's logical device).
        destination: u16,
        /// Its APDU.
        apdu: Vec<u8>,
    },
    /// A header of another version: the stream cannot be cut into frames
    /// any more, so everything received so far was dropped.
    OtherVersion(u16),
}

/// The next whole wrapper frame at the front of `inbox` (taken out of
/// it), or `None` until one has arrived whole.
pub fn next_wrapper(inbox: &mut Vec<u8>) -> Option<Received> {
    let header: [u8; WRAPPER_HEADER] = inbox.get(..WRAPPER_HEADER)?.try_into().ok()?;
    let field = |i: usize| u16::from_be_bytes([header[2 * i], header[2 * i + 1]]);
    let version = field(0);
    if version != WRAPPER_VERSION {
        inbox.clear();
        return Some(Received::OtherVersion(version));
    }
    let end = WRAPPER_HEADER + usize::from(field(3));
    if inbox.len() < end {
        return None;
    }
    let apdu = inbox[WRAPPER_HEADER..end].to_vec();
    inbox.drain(..end);
    Some(Received::Frame { source: field(1), destination: field(2), apdu })
}

/// The PPP FCS-16 of `bytes` (RFC 1662: initial 0xFFFF, the reflected
/// polynomial 0x8408, complemented at the end; CRC-16/X-25).
pub fn fcs16(bytes: &[u8]) -> u16 {
    !fcs16_update(0xFFFF, bytes)
}

/// RFC 1662's `pppfcs16`: `fcs` run over `bytes`, not complemented.
pub fn fcs16_update(mut fcs: u16, bytes: &[u8]) -> u16 {
    for &b in bytes {
        fcs ^= u16::from(b);
        for _ in 0..8 {
            fcs = if fcs & 1 == 1 { (fcs >> 1) ^ 0x8408 } else { fcs >> 1 };
        }
    }
    fcs
}

/// `apdu` as HDLC frames (one, or segments back to back when the LLC
/// header and the APDU do not fit one frame).
pub fn hdlc(apdu: &[u8]) -> Vec<u8> {
    let mut information = LLC_RESPONSE.to_vec();
    information.extend_from_slice(apdu);
    let room = HDLC_MAX_LEN - HDLC_OVERHEAD;
    let mut out = Vec::with_capacity(information.len() + HDLC_OVERHEAD + 2);
    let mut pieces = information.chunks(room).peekable();
    while let Some(piece) = pieces.next() {
        hdlc_frame(&mut out, piece, pieces.peek().is_some());
    }
    out
}

/// Append one frame carrying `information` (not empty, at most the room
/// of a frame), with the segmentation bit when `more` follow.
fn hdlc_frame(out: &mut Vec<u8>, information: &[u8], more: bool) {
    // Invariant: `hdlc` cuts information to HDLC_MAX_LEN - HDLC_OVERHEAD.
    let len = (HDLC_OVERHEAD + information.len()) as u16;
    let format = 0xA000 | (u16::from(more) << 11) | len;
    let start = out.len();
    out.push(FLAG);
    out.extend_from_slice(&format.to_be_bytes());
    out.extend_from_slice(&HDLC_DESTINATION);
    out.extend_from_slice(&HDLC_SOURCE);
    out.push(HDLC_CONTROL);
    let hcs = fcs16(&out[start + 1..]);
    out.extend_from_slice(&hcs.to_le_bytes());
    out.extend_from_slice(information);
    let fcs = fcs16(&out[start + 1..]);
    out.extend_from_slice(&fcs.to_le_bytes());
    out.push(FLAG);
}

/// `apdu` framed by `framing`.
pub fn frame(framing: Framing, apdu: &[u8]) -> Result<Vec<u8>, DlmsError> {
    match framing {
        Framing::Wrapper => wrap(apdu),
        Framing::Hdlc => Ok(hdlc(apdu)),
    }
}

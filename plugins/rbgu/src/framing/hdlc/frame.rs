//! One HDLC frame of IEC 62056-46 read from the bytes after its opening
//! flag: frame format field (type 0xA, segmentation bit, 11-bit length),
//! destination and source addresses (1, 2 or 4 bytes, the last with its
//! low bit set), control, HCS (when an information field follows),
//! information, FCS, and the closing flag where the length says. HCS and
//! FCS are CRC-16/X-25 (CRC-16/IBM-SDLC), sent low byte first; a frame
//! without information has only the FCS. The 62056-46 frame is not byte
//! stuffed: its length, not a flag, says where it ends.

use crate::framing::What;

/// The HDLC flag.
pub const FLAG: u8 = 0x7E;

/// CRC-16/X-25, the HCS and FCS of IEC 62056-46.
const X25: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);

/// The CRC-16/X-25 of `bytes`.
pub fn crc16(bytes: &[u8]) -> u16 {
    X25.checksum(bytes)
}

/// An HDLC address as sent: 1, 2 or 4 bytes, each carrying 7 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(Vec<u8>);

impl std::fmt::Display for Address {
    /// The upper HDLC address, then `/` and the lower one when there is one
    /// (`16`, `1/17`), in decimal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |b: u8| u32::from(b >> 1);
        match self.0.as_slice() {
            [a] => write!(f, "{}", v(*a)),
            [a, b] => write!(f, "{}/{}", v(*a), v(*b)),
            [a, b, c, d] => write!(f, "{}/{}", (v(*a) << 7) | v(*b), (v(*c) << 7) | v(*d)),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A frame whose checks all passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HdlcFrame {
    /// Stream offset of its opening flag.
    pub offset: u64,
    /// The frame from its opening flag through its closing flag.
    pub wire: Vec<u8>,
    /// The segmentation bit: more segments of its message follow.
    pub segmented: bool,
    /// The destination address.
    pub destination: Address,
    /// The source address.
    pub source: Address,
    /// The control byte.
    pub control: u8,
    /// The information field (empty when there is none).
    pub info: Vec<u8>,
}

/// What the bytes after a flag are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet to tell.
    Need,
    /// Not a valid frame. `segmented` is its segmentation bit when its
    /// header was checked (by its HCS) before something else failed.
    Bad {
        /// Why.
        what: What,
        /// The segmentation bit of a checked header.
        segmented: Option<bool>,
    },
    /// A valid frame, `len` bytes between its flags.
    Good {
        /// The frame.
        frame: HdlcFrame,
        /// Its length between the flags.
        len: usize,
    },
}

fn bad(what: What) -> Parsed {
    Parsed::Bad { what, segmented: None }
}

/// Read the frame whose bytes after the opening flag (at `flag_at`) start
/// `body`; frames declaring more than `max` bytes are refused.
pub fn parse(body: &[u8], flag_at: u64, max: usize) -> Parsed {
    let [f0, f1, ..] = *body else { return Parsed::Need };
    let format = u16::from_be_bytes([f0, f1]);
    if format >> 12 != 0xA {
        return bad(What::Format { format });
    }
    let (len, segmented) = (usize::from(format & 0x07FF), format & 0x0800 != 0);
    if len > max {
        return bad(What::Declared { len: len as u64, max });
    }
    let at = flag_at + 1;
    let destination = match address(body, 2, len, at, "destination") {
        Ok(a) => a,
        Err(parsed) => return parsed,
    };
    let source = match address(body, 2 + destination.0.len(), len, at, "source") {
        Ok(a) => a,
        Err(parsed) => return parsed,
    };
    let control_at = 2 + destination.0.len() + source.0.len();
    let header = control_at + 1;
    let with_info = len > header + 2;
    if len < header + 2 || (with_info && len < header + 4) {
        return bad(What::Short { len: len as u16 });
    }
    if with_info {
        let Some(hcs) = body.get(header..header + 2) else { return Parsed::Need };
        let (got, want) = (u16::from_le_bytes([hcs[0], hcs[1]]), crc16(&body[..header]));
        if got != want {
            return bad(What::Hcs { got, want });
        }
    }
    let checked = with_info.then_some(segmented);
    let Some(&closing) = body.get(len) else { return Parsed::Need };
    if closing != FLAG {
        return Parsed::Bad {
            what: What::NoClosingFlag { byte: closing, offset: at + len as u64 },
            segmented: checked,
        };
    }
    let (got, want) = (u16::from_le_bytes([body[len - 2], body[len - 1]]), crc16(&body[..len - 2]));
    if got != want {
        return Parsed::Bad { what: What::Fcs { got, want }, segmented: checked };
    }
    let info = if with_info { body[header + 2..len - 2].to_vec() } else { Vec::new() };
    let mut wire = Vec::with_capacity(len + 2);
    wire.push(FLAG);
    wire.extend_from_slice(&body[..=len]);
    let frame = HdlcFrame { offset: flag_at, wire, segmented, destination, source, control: body[control_at], info };
    Parsed::Good { frame, len }
}

/// The address starting at `from` in `body`, within the frame's `len`
/// bytes (`at` is the stream offset of `body`).
fn address(body: &[u8], from: usize, len: usize, at: u64, which: &'static str) -> Result<Address, Parsed> {
    for i in from..from + 4 {
        if i + 3 > len {
            return Err(bad(What::Short { len: len as u16 }));
        }
        let Some(&b) = body.get(i) else { return Err(Parsed::Need) };
        if b & 1 == 1 {
            if i - from == 2 {
                break;
            }
            return Ok(Address(body[from..=i].to_vec()));
        }
    }
    Err(bad(What::Address { which, offset: at + from as u64 }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::testing::unhex;

    /// Frames of `u9n/dlms-cosem` (MIT), `tests/test_hdlc/test_hdlc.py`.
    const AARE: &str = "7EA0382102233034E7E6E7006129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D04C80007B86A7E";
    const SNRM: &str = "7ea00802232193bd647e";

    fn good(hex: &str) -> HdlcFrame {
        let bytes = unhex(hex);
        match parse(&bytes[1..], 0, 2047) {
            Parsed::Good { frame, len } => {
                assert_eq!(len + 2, bytes.len());
                frame
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crc_is_x25() {
        assert_eq!(crc16(b"123456789"), 0x906E, "the catalogue's check value");
    }

    #[test]
    fn public_frames_pass_their_checks() {
        let aare = good(AARE);
        assert_eq!((aare.destination.to_string(), aare.source.to_string()), ("16".into(), "1/17".into()));
        assert_eq!((aare.control, &aare.info[..3], aare.segmented), (0x30, &[0xE6, 0xE7, 0x00][..], false));
        let snrm = good(SNRM);
        assert_eq!((snrm.destination.to_string(), snrm.control, snrm.info.len()), ("1/17".into(), 0x93, 0));
        assert_eq!(Address(vec![0x00, 0x02, 0x00, 0x23]).to_string(), "1/17");
    }

    #[test]
    fn every_damage_is_named() {
        let aare = unhex(AARE);
        let body = &aare[1..];
        let cut = |n: usize| parse(&body[..n], 0, 2047);
        assert!((0..body.len()).all(|n| cut(n) == Parsed::Need), "any prefix needs more");
        let with = |i: usize, b: u8| {
            let mut body = body.to_vec();
            body[i] = b;
            parse(&body, 0, 2047)
        };
        assert_eq!(with(0, 0xB0), bad(What::Format { format: 0xB038 }));
        assert_eq!(with(5, 0x31), bad(What::Hcs { got: 0xE734, want: 0xF6BD }));
        let fcs = with(20, 0x00);
        assert!(matches!(fcs, Parsed::Bad { what: What::Fcs { .. }, segmented: Some(false) }), "{fcs:?}");
        assert_eq!(
            with(0x38, 0x00),
            Parsed::Bad { what: What::NoClosingFlag { byte: 0, offset: 0x39 }, segmented: Some(false) }
        );
        assert_eq!(parse(body, 0, 50), bad(What::Declared { len: 0x38, max: 50 }));
        assert_eq!(parse(&unhex("a0050303031234"), 0, 2047), bad(What::Short { len: 5 }));
        let long = parse(&unhex("a0200202020203"), 9, 2047);
        assert_eq!(long, bad(What::Address { which: "destination", offset: 12 }));
    }
}

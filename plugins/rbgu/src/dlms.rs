//! What the driver reads of a DLMS/COSEM APDU, and nothing more (decoding
//! is the codec's): its tag, by name, and for a `general-glo-ciphering`
//! APDU (tag 0xDB) the security header in clear: the system title
//! (length-prefixed, 8 bytes), the A-XDR length of the ciphered content,
//! then its security control byte and invocation counter (u32, big-endian).
//! Those identify a push and order it for the replay window
//! ([`crate::replays`]).

/// A DLMS system title: 8 bytes naming the sender (manufacturer and serial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SystemTitle(pub [u8; 8]);

impl std::fmt::Display for SystemTitle {
    /// 16 upper-case hex digits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&meterhub_plugin_api::hex::encode_upper(&self.0))
    }
}

/// The tag of `general-glo-ciphering`.
pub const GENERAL_GLO_CIPHERING: u8 = 0xDB;

/// The security header of a `general-glo-ciphering` APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GloHeader {
    /// The sender's system title.
    pub system_title: SystemTitle,
    /// The security control byte.
    pub security_control: u8,
    /// The invocation counter.
    pub invocation_counter: u32,
}

/// What was read of an APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apdu {
    /// Its tag.
    pub tag: u8,
    /// For `general-glo-ciphering`: its header, or why it cannot be read.
    pub glo: Option<Result<GloHeader, String>>,
}

impl Apdu {
    /// The APDU's name (`data-notification`), or its tag as `0xNN` when it
    /// is none the driver knows.
    pub fn name(&self) -> String {
        match tag_name(self.tag) {
            Some(name) => name.to_owned(),
            None => format!("0x{:02X}", self.tag),
        }
    }

    /// Whether it is ciphered by the glo, ded or general ciphering of
    /// DLMS (so not a plain APDU that a session's system title may be put
    /// on).
    pub fn is_ciphered(&self) -> bool {
        tag_name(self.tag).is_some_and(|n| n.starts_with("glo-") || n.starts_with("ded-") || n.contains("ciphering"))
    }
}

/// Read `apdu`; `None` when it is empty.
pub fn read(apdu: &[u8]) -> Option<Apdu> {
    let (&tag, rest) = apdu.split_first()?;
    let glo = (tag == GENERAL_GLO_CIPHERING).then(|| glo_header(rest));
    Some(Apdu { tag, glo })
}

/// The header of the `general-glo-ciphering` APDU `apdu` (its tag first)
/// and what follows its invocation counter (the information and, when
/// authenticated, the tag), when it reads; for [`crate::commands::proof`].
pub fn glo_sealed(apdu: &[u8]) -> Option<(GloHeader, &[u8])> {
    match apdu.split_first() {
        Some((&GENERAL_GLO_CIPHERING, body)) => glo_split(body).ok(),
        _ => None,
    }
}

/// The header of a `general-glo-ciphering` APDU, `body` after its tag.
fn glo_header(body: &[u8]) -> Result<GloHeader, String> {
    glo_split(body).map(|(header, _)| header)
}

/// The header of a `general-glo-ciphering` APDU, `body` after its tag,
/// and the bytes after its invocation counter.
fn glo_split(body: &[u8]) -> Result<(GloHeader, &[u8]), String> {
    let (&title_len, rest) = body.split_first().ok_or("general-glo-ciphering without a system title")?;
    if title_len != 8 {
        return Err(format!("general-glo-ciphering system title of {title_len} bytes, not 8"));
    }
    let (title, rest) = rest.split_first_chunk::<8>().ok_or("general-glo-ciphering system title cut short")?;
    let (len, rest) = axdr_length(rest).ok_or("general-glo-ciphering without a ciphered content length")?;
    if len != rest.len() as u64 {
        return Err(format!("general-glo-ciphering ciphered content of {len} bytes, but {} follow", rest.len()));
    }
    let [security_control, a, b, c, d, ref sealed @ ..] = *rest else {
        return Err(format!("general-glo-ciphering ciphered content of {len} bytes, no room for its security header"));
    };
    let invocation_counter = u32::from_be_bytes([a, b, c, d]);
    Ok((GloHeader { system_title: SystemTitle(*title), security_control, invocation_counter }, sealed))
}

/// An A-XDR length (one byte below 0x80, else 0x81 to 0x84 and that many
/// bytes) at the start of `bytes`, and the bytes after it.
fn axdr_length(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    if first < 0x80 {
        return Some((u64::from(first), rest));
    }
    let n = usize::from(first & 0x7F);
    if !(1..=4).contains(&n) || rest.len() < n {
        return None;
    }
    let len = rest[..n].iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Some((len, &rest[n..]))
}

/// The names of the xDLMS and ACSE APDU tags (Green Book, COSEMpdu). The
/// `event-notification-request` family is named `event-notification`.
fn tag_name(tag: u8) -> Option<&'static str> {
    Some(match tag {
        0x01 => "initiate-request",
        0x08 => "initiate-response",
        0x0E => "confirmed-service-error",
        0x0F => "data-notification",
        0x21 => "glo-initiate-request",
        0x28 => "glo-initiate-response",
        0x2E => "glo-confirmed-service-error",
        0x41 => "ded-initiate-request",
        0x48 => "ded-initiate-response",
        0x4E => "ded-confirmed-service-error",
        0x60 => "aarq",
        0x61 => "aare",
        0x62 => "rlrq",
        0x63 => "rlre",
        0xC0 => "get-request",
        0xC1 => "set-request",
        0xC2 => "event-notification",
        0xC3 => "action-request",
        0xC4 => "get-response",
        0xC5 => "set-response",
        0xC7 => "action-response",
        0xC8 => "glo-get-request",
        0xC9 => "glo-set-request",
        0xCA => "glo-event-notification",
        0xCB => "glo-action-request",
        0xCC => "glo-get-response",
        0xCD => "glo-set-response",
        0xCF => "glo-action-response",
        0xD0 => "ded-get-request",
        0xD1 => "ded-set-request",
        0xD2 => "ded-event-notification",
        0xD3 => "ded-action-request",
        0xD4 => "ded-get-response",
        0xD5 => "ded-set-response",
        0xD7 => "ded-action-response",
        0xD8 => "exception-response",
        0xD9 => "access-request",
        0xDA => "access-response",
        0xDB => "general-glo-ciphering",
        0xDC => "general-ded-ciphering",
        0xDD => "general-ciphering",
        0xDF => "general-signing",
        0xE0 => "general-block-transfer",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::testing::unhex;

    /// The APDU of vector 1 of `dlms_wrapper_vectors.txt`.
    const GLO: &str = "db082f192291991641033b30000001e5025ce9d2271fd78be8c204211a916a9d7f587e0a7a814cadea89e9593f01f92ea8c087b5bdfdefeab6becf282dfe49c08f5be6dc8400";
    /// Vector 2: a plain data-notification.
    const PLAIN: &str = "0f000001db00092212";

    #[test]
    fn the_public_ciphered_push_is_identified() {
        let apdu = read(&unhex(GLO)).unwrap();
        let header = apdu.glo.clone().unwrap().unwrap();
        assert_eq!(header.system_title.to_string(), "2F19229199164103");
        assert_eq!((header.security_control, header.invocation_counter), (0x30, 0x1E5));
        assert_eq!((apdu.name(), apdu.is_ciphered()), ("general-glo-ciphering".to_owned(), true));
        let plain = read(&unhex(PLAIN)).unwrap();
        assert_eq!(
            (plain.name(), plain.glo.clone(), plain.is_ciphered()),
            ("data-notification".to_owned(), None, false)
        );
        assert_eq!(read(&[0xC2]).unwrap().name(), "event-notification");
        assert_eq!(read(&[0x42]).unwrap().name(), "0x42");
        assert_eq!(read(&[]), None);
        let glo = unhex(GLO);
        let (sealed_header, sealed) = glo_sealed(&glo).unwrap();
        assert_eq!((sealed_header, sealed), (header, &glo[16..]));
        assert_eq!(glo_sealed(&unhex(PLAIN)), None);
        assert_eq!(glo_sealed(&unhex(GLO)[..40]), None, "a damaged header");
    }

    #[test]
    fn a_damaged_header_says_why() {
        let glo = unhex(GLO);
        let why = |bytes: &[u8]| read(bytes).unwrap().glo.unwrap().unwrap_err();
        assert_eq!(why(&glo[..1]), "general-glo-ciphering without a system title");
        assert_eq!(why(&[0xDB, 0x07]), "general-glo-ciphering system title of 7 bytes, not 8");
        assert_eq!(why(&glo[..6]), "general-glo-ciphering system title cut short");
        assert_eq!(why(&glo[..10]), "general-glo-ciphering without a ciphered content length");
        assert_eq!(why(&glo[..40]), "general-glo-ciphering ciphered content of 59 bytes, but 29 follow");
        let mut short = glo[..11].to_vec();
        short[10] = 3;
        short.extend([0x30, 0, 0]);
        assert_eq!(why(&short), "general-glo-ciphering ciphered content of 3 bytes, no room for its security header");
        let mut long = glo[..10].to_vec();
        long.extend([0x82, 0x00, 0x05, 0x30, 0, 0, 0, 9]);
        assert_eq!(read(&long).unwrap().glo.unwrap().unwrap().invocation_counter, 9, "a long-form length");
    }
}

//! The push APDUs (Green Book 9.5, xDLMS ASN.1 in A-XDR) and their
//! ciphered envelopes: one frame's payload to a [`Push`].
//!
//! - `data-notification` (`0x0F`): long-invoke-id-and-priority (u32),
//!   date-time (octet-string: length 0 absent, or 12), notification-body
//!   (one `Data`);
//! - `event-notification-request` (`0xC2`): time (OPTIONAL octet-string
//!   of 12), cosem-attribute-descriptor (class-id u16, instance-id 6 bytes,
//!   attribute-id i8), attribute-value (one `Data`);
//! - `general-glo-ciphering` (`0xDB`): system-title (octet-string of
//!   8), ciphered-content (octet-string: SC, IC, information, tag) holding
//!   one of the two above;
//! - `glo-event-notification-request` (`0xCA`): ciphered-content
//!   holding an event-notification-request, under the system title the
//!   driver learned (meta `dlms.system_title`).
//!
//! A plain notification from a system title with keys configured is
//! refused (see [`crate::cipher`]'s policy). Every other APDU is refused
//! by name (the dedicated-key ones because only the meter's association
//! knows that key). The whole payload must be the one APDU: bytes after it
//! are an error.

use meterhub_plugin_api::{DecodeError, hex};

use crate::axdr::{self, Value};
use crate::cipher::{self, Keys, Sealed, SecurityControl};
use crate::datetime::CosemDateTime;
use crate::obis::{AttrRef, Obis};
use crate::reader::Reader;

/// `data-notification`.
pub const DATA_NOTIFICATION: u8 = 0x0f;
/// `event-notification-request`.
pub const EVENT_NOTIFICATION_REQUEST: u8 = 0xc2;
/// `glo-event-notification-request`.
pub const GLO_EVENT_NOTIFICATION_REQUEST: u8 = 0xca;
/// `general-glo-ciphering`.
pub const GENERAL_GLO_CIPHERING: u8 = 0xdb;

/// A DATA-NOTIFICATION.
#[derive(Debug, Clone, PartialEq)]
pub struct DataNotification {
    /// long-invoke-id-and-priority: invoke id in bits 0-23, flags above.
    pub long_invoke_id_and_priority: u32,
    /// The notification's date-time, when sent.
    pub date_time: Option<CosemDateTime>,
    /// The notification body.
    pub body: Value,
}

impl DataNotification {
    /// The invoke id (bits 0-23).
    pub fn invoke_id(&self) -> u32 {
        self.long_invoke_id_and_priority & 0x00ff_ffff
    }
}

/// An EVENT-NOTIFICATION-REQUEST.
#[derive(Debug, Clone, PartialEq)]
pub struct EventNotification {
    /// The time, when sent.
    pub time: Option<CosemDateTime>,
    /// The object's interface class.
    pub class_id: u16,
    /// The object and attribute the value is of.
    pub attribute: AttrRef,
    /// The attribute's value.
    pub value: Value,
}

/// One notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// DATA-NOTIFICATION.
    Data(DataNotification),
    /// EVENT-NOTIFICATION-REQUEST.
    Event(EventNotification),
}

impl Notification {
    /// Its date-time or time, when sent.
    pub fn date_time(&self) -> Option<CosemDateTime> {
        match self {
            Notification::Data(n) => n.date_time,
            Notification::Event(n) => n.time,
        }
    }

    /// The APDU's name.
    pub fn name(&self) -> &'static str {
        match self {
            Notification::Data(_) => "data-notification",
            Notification::Event(_) => "event-notification-request",
        }
    }
}

/// How a notification was protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// The ciphering APDU's name.
    pub apdu: &'static str,
    /// The security control byte.
    pub control: SecurityControl,
    /// The invocation counter.
    pub invocation_counter: u32,
}

/// One frame's push.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The notification, opened when it came ciphered.
    pub notification: Notification,
    /// The ciphering, when it came ciphered.
    pub protection: Option<Protection>,
    /// The sender's system title: the ciphered APDU's, else the driver's.
    pub system_title: Option<[u8; 8]>,
    /// Where the system title comes from: `apdu` or `meta`.
    pub system_title_source: Option<&'static str>,
}

/// The push in `payload`, from the sender the driver named `meta_title`
/// (if it did), ciphered APDUs opened with `keys`.
pub fn parse(payload: &[u8], meta_title: Option<[u8; 8]>, keys: &Keys) -> Result<Push, DecodeError> {
    let mut r = Reader::new(payload, "APDU");
    let tag = r.u8("APDU tag")?;
    let plain = |notification| Push {
        notification,
        protection: None,
        system_title: meta_title,
        system_title_source: meta_title.map(|_| "meta"),
    };
    if let Some(title) = meta_title.filter(|t| keys.contains_key(t))
        && matches!(tag, DATA_NOTIFICATION | EVENT_NOTIFICATION_REQUEST)
    {
        let name = apdu_name(tag).unwrap_or_default();
        return Err(r.error_at(
            "APDU tag",
            0,
            format_args!(
                "a plain {name} from system title {}, which has keys configured: its pushes must come ciphered",
                hex::encode_upper(&title)
            ),
        ));
    }
    match tag {
        DATA_NOTIFICATION => Ok(plain(Notification::Data(data_notification(&mut r)?))),
        EVENT_NOTIFICATION_REQUEST => Ok(plain(Notification::Event(event_notification(&mut r)?))),
        GENERAL_GLO_CIPHERING | GLO_EVENT_NOTIFICATION_REQUEST => ciphered(&mut r, tag, meta_title, keys),
        other => Err(r.error_at("APDU tag", 0, refusal(other))),
    }
}

/// The clear part of a glo-ciphered APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The ciphering APDU's name.
    pub apdu: &'static str,
    /// The system title it carries (general-glo-ciphering does).
    pub system_title: Option<[u8; 8]>,
    /// The security control byte.
    pub control: SecurityControl,
    /// The invocation counter.
    pub invocation_counter: u32,
    /// The information and, when authenticated, the tag.
    pub information: &'a [u8],
}

/// The clear part of `payload` when it is a glo-ciphered push (`None`
/// for a plain one), without opening it: what a driver needs to name the
/// sender and order its pushes.
pub fn envelope(payload: &[u8]) -> Result<Option<Envelope<'_>>, DecodeError> {
    let mut r = Reader::new(payload, "APDU");
    match r.u8("APDU tag")? {
        DATA_NOTIFICATION | EVENT_NOTIFICATION_REQUEST => Ok(None),
        tag @ (GENERAL_GLO_CIPHERING | GLO_EVENT_NOTIFICATION_REQUEST) => read_envelope(&mut r, tag).map(Some),
        other => Err(r.error_at("APDU tag", 0, refusal(other))),
    }
}

/// The envelope after tag `tag`: the system title (general-glo-ciphering),
/// then the ciphered content (a length, SC, IC, information, to the end).
fn read_envelope<'a>(r: &mut Reader<'a>, tag: u8) -> Result<Envelope<'a>, DecodeError> {
    let system_title = if tag == GENERAL_GLO_CIPHERING {
        let at = r.pos();
        let len = r.u8("system-title length")?;
        if len != 8 {
            return Err(r.error_at(
                "system-title length",
                at,
                format_args!("{len} is not 8 (a system title is 8 bytes)"),
            ));
        }
        Some(r.array("system-title")?)
    } else {
        None
    };
    let at = r.pos();
    let len = r.length("ciphered-content length", 1)?;
    if len < r.remaining() {
        return Err(r.error_at(
            "ciphered-content length",
            at,
            format_args!("{len} leaves {} byte(s) after the content", r.remaining() - len),
        ));
    }
    if len < 5 {
        return Err(r.error_at(
            "ciphered-content length",
            at,
            format_args!("{len} cannot hold the security header (5 bytes)"),
        ));
    }
    let control = SecurityControl(r.u8("security control")?);
    let invocation_counter = r.u32("invocation counter")?;
    let information = r.take(r.remaining(), "ciphered information")?;
    let apdu = apdu_name(tag).unwrap_or_default();
    Ok(Envelope { apdu, system_title, control, invocation_counter, information })
}

/// A glo-ciphered push after its tag, opened and parsed.
fn ciphered(r: &mut Reader<'_>, tag: u8, meta_title: Option<[u8; 8]>, keys: &Keys) -> Result<Push, DecodeError> {
    let envelope = read_envelope(r, tag)?;
    let (title, source) = sender(r, &envelope, tag, meta_title)?;
    let who = format!("{} from system title {}", envelope.apdu, hex::encode_upper(&title));
    let sealed = Sealed {
        system_title: title,
        control: envelope.control,
        invocation_counter: envelope.invocation_counter,
        body: envelope.information,
    };
    let plain = cipher::open(&sealed, keys.get(&title), &who)?;
    let mut inner = Reader::new(&plain, format!("{who}: deciphered APDU"));
    let notification = match inner.u8("APDU tag")? {
        DATA_NOTIFICATION if tag == GENERAL_GLO_CIPHERING => Notification::Data(data_notification(&mut inner)?),
        EVENT_NOTIFICATION_REQUEST => Notification::Event(event_notification(&mut inner)?),
        other => return Err(inner.error_at("APDU tag", 0, inner_refusal(other, envelope.apdu))),
    };
    let protection =
        Protection { apdu: envelope.apdu, control: envelope.control, invocation_counter: envelope.invocation_counter };
    Ok(Push {
        notification,
        protection: Some(protection),
        system_title: Some(title),
        system_title_source: Some(source),
    })
}

/// The sender of a ciphered APDU and where its title comes from: the
/// APDU's own (which the driver's meta, if given, must repeat), else the
/// driver's.
fn sender(
    r: &Reader<'_>,
    envelope: &Envelope<'_>,
    tag: u8,
    meta_title: Option<[u8; 8]>,
) -> Result<([u8; 8], &'static str), DecodeError> {
    match (envelope.system_title, meta_title) {
        (Some(own), Some(meta)) if own != meta => Err(r.error_at(
            "system-title",
            2,
            format_args!(
                "{} differs from the driver's meta \"dlms.system_title\" {}",
                hex::encode_upper(&own),
                hex::encode_upper(&meta)
            ),
        )),
        (Some(own), _) => Ok((own, "apdu")),
        (None, Some(meta)) => Ok((meta, "meta")),
        (None, None) => Err(r.error_at(
            "APDU tag",
            0,
            format_args!(
                "{} (0x{tag:02X}) carries no system title and the frame has no meta \"dlms.system_title\"",
                envelope.apdu
            ),
        )),
    }
}

/// A DATA-NOTIFICATION after its tag.
fn data_notification(r: &mut Reader<'_>) -> Result<DataNotification, DecodeError> {
    let long_invoke_id_and_priority = r.u32("long-invoke-id-and-priority")?;
    let at = r.pos();
    let date_time = match r.u8("date-time length")? {
        0 => None,
        12 => Some(CosemDateTime::from_bytes(&r.array("date-time")?)),
        n => return Err(r.error_at("date-time length", at, format_args!("{n} is neither 0 (absent) nor 12"))),
    };
    let body = axdr::decode(r, 0)?;
    r.expect_end("the notification body")?;
    Ok(DataNotification { long_invoke_id_and_priority, date_time, body })
}

/// An EVENT-NOTIFICATION-REQUEST after its tag.
fn event_notification(r: &mut Reader<'_>) -> Result<EventNotification, DecodeError> {
    let at = r.pos();
    let time = match r.u8("time presence")? {
        0 => None,
        1 => {
            let len_at = r.pos();
            match r.u8("time length")? {
                12 => Some(CosemDateTime::from_bytes(&r.array("time")?)),
                n => return Err(r.error_at("time length", len_at, format_args!("{n} is not 12"))),
            }
        }
        n => return Err(r.error_at("time presence", at, format_args!("0x{n:02X} is neither 0 (absent) nor 1"))),
    };
    let class_id = r.u16("class-id")?;
    let obis = Obis(r.array("instance-id")?);
    let attribute = r.u8("attribute-id")? as i8;
    let value = axdr::decode(r, 0)?;
    r.expect_end("the attribute value")?;
    Ok(EventNotification { time, class_id, attribute: AttrRef { obis, attribute }, value })
}

/// The name of an xDLMS APDU tag, if it is one.
pub fn apdu_name(tag: u8) -> Option<&'static str> {
    Some(match tag {
        0x01 => "initiateRequest",
        0x08 => "initiateResponse",
        0x0e => "confirmedServiceError",
        0x0f => "data-notification",
        0x60 => "AARQ",
        0x61 => "AARE",
        0x62 => "RLRQ",
        0x63 => "RLRE",
        0xc0 => "get-request",
        0xc1 => "set-request",
        0xc2 => "event-notification-request",
        0xc3 => "action-request",
        0xc4 => "get-response",
        0xc5 => "set-response",
        0xc7 => "action-response",
        0xc8 => "glo-get-request",
        0xc9 => "glo-set-request",
        0xca => "glo-event-notification-request",
        0xcb => "glo-action-request",
        0xcc => "glo-get-response",
        0xcd => "glo-set-response",
        0xcf => "glo-action-response",
        0xd0 => "ded-get-request",
        0xd1 => "ded-set-request",
        0xd2 => "ded-event-notification-request",
        0xd3 => "ded-action-request",
        0xd4 => "ded-get-response",
        0xd5 => "ded-set-response",
        0xd7 => "ded-action-response",
        0xd8 => "exception-response",
        0xd9 => "access-request",
        0xda => "access-response",
        0xdb => "general-glo-ciphering",
        0xdc => "general-ded-ciphering",
        0xdd => "general-ciphering",
        0xdf => "general-signing",
        0xe0 => "general-block-transfer",
        _ => return None,
    })
}

/// Why an APDU with `tag` is not decoded.
fn refusal(tag: u8) -> String {
    let Some(name) = apdu_name(tag) else {
        return match tag {
            0x00 => {
                "0x00 is not an xDLMS APDU (is the IEC 62056-47 wrapper header still in front? the driver removes it)"
                    .into()
            }
            0x7e => "0x7E is not an xDLMS APDU (an HDLC flag: the driver removes the HDLC framing)".into(),
            other => format!("0x{other:02X} is not an xDLMS APDU"),
        };
    };
    let why = match tag {
        0xd2 | 0xdc => "ciphered with a dedicated key, which only the meter's association knows: not decoded",
        0xdd | 0xdf => "not decoded (dlms-codec opens general-glo-ciphering and glo-event-notification-request)",
        0xe0 => "a block of a longer APDU: not decoded (the codec takes whole APDUs)",
        _ => {
            "not a push notification (dlms-codec decodes data-notification, event-notification-request and their glo-ciphered forms)"
        }
    };
    format!("0x{tag:02X} ({name}) is {why}")
}

/// Why a deciphered APDU with `tag` inside `outer` is not decoded.
fn inner_refusal(tag: u8, outer: &str) -> String {
    let name = apdu_name(tag).map(|n| format!(" ({n})")).unwrap_or_default();
    let allowed = if outer == "general-glo-ciphering" {
        "a data-notification or event-notification-request"
    } else {
        "an event-notification-request"
    };
    format!("0x{tag:02X}{name} inside {outer} is not {allowed}")
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::hex::decode_spaced;

    use super::*;
    use crate::axdr::Data;

    fn parsed(hex_text: &str, meta: Option<[u8; 8]>) -> Result<Push, String> {
        parse(&decode_spaced(hex_text).unwrap(), meta, &Keys::new()).map_err(|e| e.reason)
    }

    #[test]
    fn a_data_notification_with_and_without_date_time() {
        let push = parsed("0f 000001db 00 11 07", None).unwrap();
        let Notification::Data(n) = &push.notification else { panic!("data-notification") };
        assert_eq!((n.long_invoke_id_and_priority, n.invoke_id(), n.date_time), (0x1db, 0x1db, None));
        assert_eq!(n.body.data, Data::Unsigned(7));
        assert_eq!((push.protection, push.system_title), (None, None));
        let push = parsed("0f c00001db 0c 07e50713010f2e2300ff8880 00", Some([1; 8])).unwrap();
        assert_eq!(push.notification.date_time().unwrap().local_text(), "2021-07-19T15:46:35.00");
        assert_eq!((push.system_title, push.system_title_source), (Some([1; 8]), Some("meta")));
        let Notification::Data(n) = &push.notification else { panic!("data-notification") };
        assert_eq!(n.invoke_id(), 0x1db, "priority and flags are not the invoke id");
    }

    #[test]
    fn an_event_notification() {
        let push = parsed("c2 01 0c 07e50713010f2e2300ff8880 0003 0100010800ff 02 06 00002394", None).unwrap();
        let Notification::Event(n) = &push.notification else { panic!("event") };
        assert_eq!((n.class_id, n.attribute.to_string()), (3, "1.0.1.8.0.255:2".to_owned()));
        assert!(n.time.is_some());
        assert_eq!(n.value.data, Data::DoubleLongUnsigned(9108));
        let push = parsed("c2 00 0001 0000600100ff 02 09 02 4142", None).unwrap();
        assert_eq!(push.notification.date_time(), None);
    }

    #[test]
    fn errors_name_field_and_offset() {
        let err = |h: &str| parsed(h, None).unwrap_err();
        assert_eq!(err(""), "APDU: APDU tag at offset 0: needs 1 byte(s), 0 left");
        assert_eq!(err("0f 000001db 05"), "APDU: date-time length at offset 5: 5 is neither 0 (absent) nor 12");
        assert_eq!(err("0f 000001db 00 11 07 00"), "APDU: end at offset 8: 1 byte(s) left after the notification body");
        assert_eq!(err("c2 02"), "APDU: time presence at offset 1: 0x02 is neither 0 (absent) nor 1");
        assert_eq!(err("c2 01 0b"), "APDU: time length at offset 2: 11 is not 12");
        assert_eq!(err("c2 00 0003 0100"), "APDU: instance-id at offset 4: needs 6 byte(s), 2 left");
        assert_eq!(
            err("00 01 00 01 00 01 00 46 db"),
            "APDU: APDU tag at offset 0: 0x00 is not an xDLMS APDU (is the IEC 62056-47 wrapper header still in front? the driver removes it)"
        );
        assert!(err("7e a0").contains("HDLC"));
        assert_eq!(
            err("c4 01 c1 00 06 00000001"),
            "APDU: APDU tag at offset 0: 0xC4 (get-response) is not a push notification (dlms-codec decodes data-notification, event-notification-request and their glo-ciphered forms)"
        );
        assert!(err("d2 00").contains("0xD2 (ded-event-notification-request) is ciphered with a dedicated key"));
        assert!(err("dc 00").contains("general-ded-ciphering"));
        assert_eq!(err("42"), "APDU: APDU tag at offset 0: 0x42 is not an xDLMS APDU");
    }

    #[test]
    fn ciphered_envelopes_are_checked_before_opening() {
        let err = |h: &str, meta| parsed(h, meta).unwrap_err();
        assert_eq!(
            err("db 07 01020304050607", None),
            "APDU: system-title length at offset 1: 7 is not 8 (a system title is 8 bytes)"
        );
        assert_eq!(
            err("db 08 0102030405060708 06 20 00000001 00", Some([9; 8])),
            "APDU: system-title at offset 2: 0102030405060708 differs from the driver's meta \"dlms.system_title\" 0909090909090909"
        );
        assert_eq!(
            err("db 08 0102030405060708 07 20 00000001 00", None),
            "APDU: ciphered-content length at offset 10: length 7 needs at least 7 byte(s), 6 are left"
        );
        assert_eq!(
            err("db 08 0102030405060708 05 20 00000001 00", None),
            "APDU: ciphered-content length at offset 10: 5 leaves 1 byte(s) after the content"
        );
        assert_eq!(
            err("db 08 0102030405060708 04 20 000000", None),
            "APDU: ciphered-content length at offset 10: 4 cannot hold the security header (5 bytes)"
        );
        assert_eq!(
            err("db 08 0102030405060708 06 30 00000001 00", None),
            "general-glo-ciphering from system title 0102030405060708: no key configured (secrets file: [devices.0102030405060708] ek)"
        );
        assert_eq!(
            err("ca 06 30 00000001 00", None),
            "APDU: APDU tag at offset 0: glo-event-notification-request (0xCA) carries no system title and the frame has no meta \"dlms.system_title\""
        );
    }

    #[test]
    fn unprotected_content_is_opened_without_keys() {
        // SC 0x00: the information is the APDU itself.
        let push = parsed("db 08 0102030405060708 0c 00 00000009 0f 00000001 00 00", None).unwrap();
        assert_eq!(push.system_title, Some([1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(push.system_title_source, Some("apdu"));
        let protection = push.protection.unwrap();
        assert_eq!(
            (protection.apdu, protection.control.0, protection.invocation_counter),
            ("general-glo-ciphering", 0, 9)
        );
        assert_eq!(
            parsed("db 08 0102030405060708 06 00 00000009 db", None).unwrap_err(),
            "general-glo-ciphering from system title 0102030405060708: deciphered APDU: APDU tag at offset 0: 0xDB (general-glo-ciphering) inside general-glo-ciphering is not a data-notification or event-notification-request"
        );
        let push = parsed("ca 13 00 00000002 c2 00 0001 0000600100ff 02 09 01 41", Some([7; 8])).unwrap();
        assert_eq!((push.system_title_source, push.notification.name()), (Some("meta"), "event-notification-request"));
        assert!(parsed("ca 0c 00 00000002 0f 00000001 00 00", Some([7; 8])).unwrap_err().contains(
            "0x0F (data-notification) inside glo-event-notification-request is not an event-notification-request"
        ));
    }
}

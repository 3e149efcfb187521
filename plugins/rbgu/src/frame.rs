//! The frame to commit: the frame's bytes exactly as extracted, the
//! profile's content type, and metadata in this order:
//!
//! - `framing`: the profile (`wrapper`, `hdlc`, `stuffed`);
//! - `stream.offset`: where the frame starts in its connection's bytes;
//! - the profile's own keys (`wrapper.*`, `hdlc.*`, `stuffed.*`);
//! - `frame.content`: what the frame carries, hex (the APDU of a wrapper or
//!   HDLC frame, all segments, without the LLC header; a stuffed frame
//!   unstuffed), so a codec never re-reads the framing (as `lorawan.frm`
//!   for LoRaWAN); absent when it carries nothing;
//! - with `content` `dlms`, what was read of the APDU ([`Dlms`]).

use meterhub_plugin_api::FrameOut;

use crate::dlms::SystemTitle;
use crate::framing::{Frame, Profile};

/// The framing profile.
pub const FRAMING: &str = "framing";
/// The frame's offset in its connection's bytes, decimal.
pub const STREAM_OFFSET: &str = "stream.offset";
/// What the frame carries, hex.
pub const FRAME_CONTENT: &str = "frame.content";
/// The APDU's name (`data-notification`, `general-glo-ciphering`), or its
/// tag as `0xNN`.
pub const DLMS_APDU: &str = "dlms.apdu";
/// The sender's system title, 16 upper-case hex digits.
pub const DLMS_SYSTEM_TITLE: &str = "dlms.system_title";
/// Where the system title comes from: `frame` (its own security header) or
/// `session` (an earlier frame of the same connection).
pub const DLMS_SYSTEM_TITLE_FROM: &str = "dlms.system_title_from";
/// The invocation counter, decimal.
pub const DLMS_INVOCATION_COUNTER: &str = "dlms.invocation_counter";
/// `1` on a replay: a duplicate, never new readings.
pub const DLMS_REPLAY: &str = "dlms.replay";
/// `1` on a frame of a device not in the registry, under
/// `unknown_devices = "pending"`: the codec holds it until the device is.
pub const DEVICE_PENDING: &str = "device.pending";
/// Why a `general-glo-ciphering` header could not be read.
pub const DLMS_ERROR: &str = "dlms.error";

/// Where a frame's system title comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TitleFrom {
    /// Its own security header.
    Frame,
    /// An earlier frame of the same connection.
    Session,
}

/// What was read of a frame's APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dlms {
    /// The APDU's name.
    pub apdu: String,
    /// Its system title and where it comes from.
    pub title: Option<(SystemTitle, TitleFrom)>,
    /// Its invocation counter (from its own header).
    pub counter: Option<u32>,
    /// Why its security header could not be read.
    pub error: Option<String>,
    /// Whether it is a replay.
    pub replay: bool,
    /// Whether its device is not in the registry (`unknown_devices =
    /// "pending"`).
    pub pending: bool,
}

/// The frame to commit for `frame` of `profile`.
pub fn commit(profile: Profile, frame: Frame, dlms: Option<&Dlms>) -> FrameOut {
    let mut meta =
        vec![(FRAMING.to_owned(), profile.name().to_owned()), (STREAM_OFFSET.to_owned(), frame.offset.to_string())];
    meta.extend(frame.meta);
    if !frame.content.is_empty() {
        meta.push((FRAME_CONTENT.to_owned(), meterhub_plugin_api::hex::encode_upper(&frame.content)));
    }
    if let Some(d) = dlms {
        meta.extend(dlms_meta(d));
    }
    FrameOut { content_type: profile.content_type().to_owned(), meta, payload: frame.wire }
}

fn dlms_meta(d: &Dlms) -> Vec<(String, String)> {
    let mut meta = vec![(DLMS_APDU.to_owned(), d.apdu.clone())];
    if let Some((title, from)) = d.title {
        meta.push((DLMS_SYSTEM_TITLE.to_owned(), title.to_string()));
        let from = match from {
            TitleFrom::Frame => "frame",
            TitleFrom::Session => "session",
        };
        meta.push((DLMS_SYSTEM_TITLE_FROM.to_owned(), from.to_owned()));
    }
    if let Some(counter) = d.counter {
        meta.push((DLMS_INVOCATION_COUNTER.to_owned(), counter.to_string()));
    }
    if d.replay {
        meta.push((DLMS_REPLAY.to_owned(), "1".to_owned()));
    }
    if let Some(error) = &d.error {
        meta.push((DLMS_ERROR.to_owned(), error.clone()));
    }
    if d.pending {
        meta.push((DEVICE_PENDING.to_owned(), "1".to_owned()));
    }
    meta
}

//! The `dlms-codec` plugin: DLMS/COSEM (СПОДЭС) push notifications to
//! meterhub readings by OBIS code.
//!
//! Code map, in data-flow order:
//! - [`frame`]: the envelope (payload = one xDLMS APDU, meta
//!   `dlms.system_title`);
//! - [`apdu`]: layer 1, the APDU to a [`apdu::Push`]: data-notification,
//!   event-notification-request, and the glo-ciphered envelopes, opened by
//!   [`cipher`] (security suite 0, AES-128-GCM); the values are A-XDR
//!   `Data` ([`axdr`], date-times in [`datetime`]); everything is read
//!   through [`reader`] (bounds-checked, errors name field and offset);
//! - [`layout`]: which object attribute each value is (a configured push
//!   layout, or the body describing itself);
//! - [`readings`]: layer 2, values to readings: the channel map
//!   ([`obis`]), units ([`units`]), exact scaling ([`exact`]), the
//!   readings' time;
//! - [`fields`]: the push as people checking payloads see it;
//! - [`settings`]: keys, push layouts, registers, channels.
//!
//! Invariant: nothing here panics on input; every frame this codec cannot
//! turn into readings exactly is a [`DecodeError`] naming what and where
//! (byte offset, element, OBIS code, system title). Keys never appear in
//! errors, fields or `Debug` output.

use meterhub_plugin_api::{DecodeError, Decoded, Plugin, RawFrame, hex};
use serde_json::Value;

pub mod apdu;
pub mod axdr;
pub mod cipher;
pub mod datetime;
pub mod exact;
pub mod fields;
pub mod frame;
pub mod layout;
pub mod obis;
pub mod reader;
pub mod readings;
pub mod settings;
pub mod units;

use settings::CodecSettings;

/// One codec instance: its settings.
#[derive(Debug, Clone)]
pub struct DlmsCodec {
    settings: CodecSettings,
}

impl Plugin for DlmsCodec {
    fn init(settings_json: &str) -> Result<Self, String> {
        Ok(DlmsCodec { settings: CodecSettings::parse(settings_json)? })
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let meta_title = frame::system_title(frame)?;
        if let Some(title) = meta_title {
            self.known_if_pending(frame, title)?;
        }
        let push = apdu::parse(&frame::apdu(frame)?, meta_title, &self.settings.keys)?;
        let Some(title) = push.system_title else {
            return Err(DecodeError::new(format!(
                "{}: no system title to name the meter: the APDU is not general-glo-ciphering (which carries one) and the frame has no meta {:?}",
                push.notification.name(),
                frame::META_SYSTEM_TITLE
            )));
        };
        self.known_if_pending(frame, title)?;
        let named = layout::name(&push.notification, &self.settings.push_layouts)?;
        let device = hex::encode_upper(&title);
        let built = readings::build(&push, &named, &device, &self.settings, frame.received_at_ms)?;
        let shown = fields::fields(&push, &named.layout, &built);
        Ok(Decoded { readings: built.readings, telemetry: Vec::new(), fields: Some(Value::Object(shown).to_string()) })
    }
}

impl DlmsCodec {
    /// A frame the driver marked pending (its device was not in the
    /// registry) waits, before anything is opened, until device `title` is
    /// in the secrets file.
    fn known_if_pending(&self, frame: &RawFrame, title: [u8; 8]) -> Result<(), DecodeError> {
        if !frame::pending(frame) || self.settings.devices.contains(&title) {
            return Ok(());
        }
        let title = hex::encode_upper(&title);
        Err(DecodeError::new(format!(
            "pending: device {title} is not in the instance's secrets file; add [devices.{title}] there, then `meterhub redecode --quarantined`"
        )))
    }
}

meterhub_plugin_api::export_plugin!(DlmsCodec);

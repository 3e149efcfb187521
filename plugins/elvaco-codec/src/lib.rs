//! The `elvaco-codec` plugin: uplinks of the Elvaco CMi4110, the LoRaWAN
//! module of Landis+Gyr UltraHeat T550 (UH50) heat and cooling meters, to
//! meterhub readings and module telemetry, from the neutral uplink frame.
//!
//! Code map, in data-flow order:
//! - [`frame`]: the envelope (FRMPayload + meta `fport`, `deveui`, `ts`...);
//! - [`message`]: layer 1, the payload to a checked [`message::Message`]:
//!   the message format ([`formats`]) and its records, M-Bus coded
//!   ([`mbus`], dates in [`datetime`]) or JSON ([`json_format`]), all read
//!   through [`reader`] (bounds-checked, errors name port, format, field and
//!   offset);
//! - [`fields`]: the message as the published decoder names it;
//! - [`readings`]: layer 2, the records to readings and telemetry, with
//!   the [`settings`] (the meters' UTC offset) deciding whose clock stamps
//!   them.
//!
//! Invariant: nothing here panics on input; every payload this codec
//! cannot decode exactly is a [`DecodeError`] naming fPort, format, field
//! and byte offset.

use meterhub_plugin_api::time::format_rfc3339_ms;
use meterhub_plugin_api::{DecodeError, Decoded, Plugin, RawFrame};
use serde_json::Value;

pub mod datetime;
pub mod fields;
pub mod formats;
pub mod frame;
pub mod json_format;
pub mod mbus;
pub mod message;
pub mod reader;
pub mod readings;
pub mod settings;

use readings::TimeSource;
use settings::CodecSettings;

/// One codec instance: its settings.
#[derive(Debug, Clone)]
pub struct ElvacoCodec {
    settings: CodecSettings,
}

impl Plugin for ElvacoCodec {
    fn init(settings_json: &str) -> Result<Self, String> {
        Ok(ElvacoCodec { settings: CodecSettings::parse(settings_json)? })
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let uplink = frame::parse(frame)?;
        let message = message::decode(uplink.fport, &uplink.data)?;
        let built = readings::build(&message, &uplink, self.settings.utc_offset_minutes(&uplink.dev_eui));
        let mut shown = fields::fields(&message);
        shown.insert("readingsTime".into(), format_rfc3339_ms(built.ts_ms).into());
        match built.source {
            TimeSource::Meter => {
                shown.insert("readingsTimeSource".into(), "meter".into());
            }
            TimeSource::Server(why) => {
                shown.insert("readingsTimeSource".into(), "server".into());
                shown.insert("readingsTimeNote".into(), why.into());
            }
        }
        Ok(Decoded {
            readings: built.readings,
            telemetry: built.telemetry,
            fields: Some(Value::Object(shown).to_string()),
        })
    }
}

meterhub_plugin_api::export_plugin!(ElvacoCodec);

//! The `vega-codec` plugin: Vega-Absolute LoRaWAN device payloads (as the
//! IoT Vega Server delivers them, or as raw FRMPayload bytes) to meterhub
//! readings and module telemetry.
//!
//! Code map, in data-flow order:
//! - [`settings`]: the codec settings (default model, per-device model and
//!   pulse weights), strict;
//! - [`frame`]: the input envelope (uplink JSON or raw bytes + meta);
//! - [`models`]: model names and aliases, the embedded AppEUI table;
//!   [`VegaCodec::resolve_model`] picks the model of a frame;
//! - [`fields`]: layer 1, bytes to the vendor's fields and typed
//!   measurements, dispatching to [`settings_packet`] (fPort 3),
//!   [`time_packet`] (fPort 4) and [`devices`] (data packets, one file per
//!   family), all reading through [`bytes`] (bounds-checked, errors name
//!   field and offset);
//! - [`readings`]: layer 2, measurements to readings and telemetry.
//!
//! Invariant: nothing here panics on input; every malformed frame is a
//! [`DecodeError`] naming model, port, type and what is wrong.

use meterhub_plugin_api::{DecodeError, Decoded, Plugin, RawFrame};
use serde_json::Value;

pub mod bytes;
pub mod devices;
pub mod fields;
pub mod frame;
pub mod models;
pub mod readings;
pub mod settings;
pub mod settings_packet;
pub mod time_packet;

pub use fields::{decode_fields, decode_packet};
pub use models::Model;

use models::{AppEuiTable, TableEntry};
use settings::CodecSettings;

/// One codec instance: its settings and the AppEUI table.
#[derive(Debug, Clone)]
pub struct VegaCodec {
    settings: CodecSettings,
    table: AppEuiTable,
}

impl VegaCodec {
    /// The model of the device: per-device setting > meta `model` > AppEUI
    /// table > settings `model`; SI-13 then picks its generation by AppEUI.
    pub fn resolve_model(
        &self,
        dev_eui: &str,
        app_eui: Option<&str>,
        meta_model: Option<&str>,
    ) -> Result<Model, DecodeError> {
        let model = if let Some(model) = self.settings.device(dev_eui).and_then(|d| d.model) {
            model
        } else if let Some(name) = meta_model {
            Model::parse(name).ok_or_else(|| DecodeError::new(format!("meta \"model\": unknown model {name:?}")))?
        } else if let Some(entry) = app_eui.and_then(|eui| self.table.get(eui)) {
            match entry {
                TableEntry::Supported(model) => *model,
                TableEntry::Unsupported(name) => {
                    return Err(DecodeError::new(format!(
                        "device {dev_eui}: AppEUI {} is a Vega {name}, which vega-codec does not decode; \
                         set codec_settings.devices.\"{dev_eui}\".model if it is another model",
                        app_eui.unwrap_or_default()
                    )));
                }
            }
        } else if let Some(model) = self.settings.model {
            model
        } else {
            return Err(DecodeError::new(format!(
                "no model for device {dev_eui} (AppEUI {}): set codec_settings.devices.\"{dev_eui}\".model",
                app_eui.unwrap_or("unknown")
            )));
        };
        Ok(model.for_app_eui(app_eui))
    }
}

impl Plugin for VegaCodec {
    fn init(settings_json: &str) -> Result<Self, String> {
        Ok(VegaCodec { settings: CodecSettings::parse(settings_json)?, table: AppEuiTable::embedded()? })
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let uplink = frame::parse(frame)?;
        let model = self.resolve_model(&uplink.dev_eui, uplink.app_eui.as_deref(), uplink.model.as_deref())?;
        let packet = fields::decode_packet(model, uplink.fport, &uplink.data)?;
        let (readings, telemetry) = readings::build(&packet, &uplink, self.settings.device(&uplink.dev_eui));
        let mut shown = serde_json::Map::new();
        shown.insert("model".into(), Value::from(model.name()));
        shown.extend(packet.fields);
        Ok(Decoded { readings, telemetry, fields: Some(Value::Object(shown).to_string()) })
    }
}

meterhub_plugin_api::export_plugin!(VegaCodec);

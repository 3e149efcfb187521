//! The codecs of each source (driver instance): its own codec, and for a
//! LoRaWAN driver the codecs its device routes name ([`Routes`]); see
//! [`super::lorawan`] for how a LoRaWAN frame finds its codec. A codec
//! that could not be instantiated keeps a reason: the frames it would
//! decode are quarantined with it, never dropped.

use std::collections::HashMap;

use meterhub_plugin_api::{DecodeError, Decoded, RawFrame, lorawan as keys};

use super::lorawan;
use crate::config::DeviceRoute;
use crate::plugin::PluginInstance;

/// What decodes the frames of one source.
pub enum CodecSlot {
    /// A codec instance.
    Ready(Box<dyn PluginInstance>),
    /// No codec, for the reason given: frames are quarantined with it.
    Unavailable(String),
}

impl CodecSlot {
    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, String> {
        match self {
            CodecSlot::Unavailable(reason) => Err(reason.clone()),
            CodecSlot::Ready(codec) => match codec.decode(frame) {
                Ok(Ok(decoded)) => Ok(decoded),
                Ok(Err(DecodeError { reason })) => Err(reason),
                Err(fault) => Err(fault.to_string()),
            },
        }
    }
}

/// The device routes of a LoRaWAN source and the codec instances they name
/// besides the source's own codec.
pub struct Routes {
    /// The source's own codec plugin id (routes naming it use its instance).
    pub default_codec: String,
    /// The routes, as configured.
    pub routes: Vec<DeviceRoute>,
    /// Instances of the other codec plugins the routes name, by plugin id.
    pub codecs: HashMap<String, CodecSlot>,
}

/// Codec instances by source.
#[derive(Default)]
pub struct Codecs {
    by_source: HashMap<String, CodecSlot>,
    routes: HashMap<String, Routes>,
}

impl Codecs {
    /// Use `instance` for frames of `source`.
    pub fn insert(&mut self, source: &str, instance: Box<dyn PluginInstance>) {
        self.by_source.insert(source.to_owned(), CodecSlot::Ready(instance));
    }

    /// Frames of `source` cannot be decoded, for `reason`.
    pub fn unavailable(&mut self, source: &str, reason: String) {
        self.by_source.insert(source.to_owned(), CodecSlot::Unavailable(reason));
    }

    /// Put `slot` in place for `source`, replacing what was there.
    pub fn set(&mut self, source: &str, slot: CodecSlot) {
        self.by_source.insert(source.to_owned(), slot);
    }

    /// Route the LoRaWAN devices of `source` by `routes` (none: every device
    /// goes to the source's own codec).
    pub fn set_routes(&mut self, source: &str, routes: Option<Routes>) {
        match routes {
            Some(routes) => self.routes.insert(source.to_owned(), routes),
            None => self.routes.remove(source),
        };
    }

    /// Decode `frame` with its source's codec. Every failure is a reason.
    pub fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, String> {
        if lorawan::is_lorawan(frame) {
            return self.decode_lorawan(frame);
        }
        match self.by_source.get_mut(&frame.source) {
            // A center's sites' batches: the host's own format.
            None if crate::sync::frame::is_sync(frame) => crate::sync::frame::decode(frame),
            // A reading entered by hand in the UI: the host's own format.
            None if crate::forms::manual::is_manual(frame) => crate::forms::manual::decode(frame),
            None => Err(format!("no codec is configured for source {:?}", frame.source)),
            Some(slot) => slot.decode(frame),
        }
    }

    /// A LoRaWAN event: the module's telemetry from the envelope, and for an
    /// uplink what the device's codec makes of the neutral frame.
    fn decode_lorawan(&mut self, frame: &RawFrame) -> Result<Decoded, String> {
        let envelope = lorawan::envelope(frame)?;
        let link = lorawan::telemetry(frame, &envelope)?;
        if envelope.event != keys::EVENT_UP {
            return Ok(Decoded { telemetry: vec![link], ..Decoded::default() });
        }
        let (route, routed) = match self.routes.get_mut(&frame.source) {
            Some(Routes { default_codec, routes, codecs }) => {
                let route = lorawan::route(routes, &envelope);
                let routed = match route {
                    Some(r) if r.upstream.is_empty() && r.codec != *default_codec => Some(
                        codecs
                            .get_mut(&r.codec)
                            .ok_or_else(|| format!("codec {:?} of the device's route is not loaded", r.codec))?,
                    ),
                    _ => None,
                };
                (route, routed)
            }
            None => (None, None),
        };
        if let Some(r) = route.filter(|r| !r.upstream.is_empty()) {
            return Ok(lorawan::merge(lorawan::from_upstream(frame, &envelope, &r.upstream)?, link));
        }
        let neutral = lorawan::neutral(frame, route.and_then(|r| r.model.as_deref()))?;
        let decoded = match (routed, self.by_source.get_mut(&frame.source)) {
            (Some(slot), _) => slot.decode(&neutral),
            (None, Some(CodecSlot::Unavailable(reason))) if route.is_none() => Err(format!(
                "device {} (profile {}) has no codec: no device route takes it, and the driver's own codec is \
                 unavailable ({reason}); add a [[drivers.{}.devices]] route",
                envelope.dev_eui,
                envelope.profile.map_or_else(|| "unknown".to_owned(), |p| format!("{p:?}")),
                frame.source
            )),
            (None, Some(slot)) => slot.decode(&neutral),
            (None, None) => Err(format!("no codec is configured for source {:?}", frame.source)),
        }?;
        Ok(lorawan::merge(decoded, link))
    }
}

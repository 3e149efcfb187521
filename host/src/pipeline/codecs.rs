//! One codec instance per source (driver instance). A source whose codec
//! could not be instantiated keeps a reason: its frames are quarantined
//! with it, never dropped.

use std::collections::HashMap;

use meterhub_plugin_api::{DecodeError, Decoded, RawFrame};

use crate::plugin::PluginInstance;

/// What decodes the frames of one source.
pub enum CodecSlot {
    /// A codec instance.
    Ready(Box<dyn PluginInstance>),
    /// No codec, for the reason given: frames are quarantined with it.
    Unavailable(String),
}

/// Codec instances by source.
#[derive(Default)]
pub struct Codecs {
    by_source: HashMap<String, CodecSlot>,
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

    /// Decode `frame` with its source's codec. Every failure is a reason.
    pub fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, String> {
        match self.by_source.get_mut(&frame.source) {
            // A center's sites' batches: the host's own format.
            None if crate::sync::frame::is_sync(frame) => crate::sync::frame::decode(frame),
            None => Err(format!("no codec is configured for source {:?}", frame.source)),
            Some(CodecSlot::Unavailable(reason)) => Err(reason.clone()),
            Some(CodecSlot::Ready(codec)) => match codec.decode(frame) {
                Ok(Ok(decoded)) => Ok(decoded),
                Ok(Err(DecodeError { reason })) => Err(reason),
                Err(fault) => Err(fault.to_string()),
            },
        }
    }
}

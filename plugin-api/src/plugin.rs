//! The one trait a plugin author implements.

use serde::{Deserialize, Serialize};

use crate::driver::{Action, Event};
use crate::model::{DecodeError, Decoded, RawFrame};
use crate::sink::{ArchivedReading, SinkOutcome};

/// A role a plugin can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Session state machine for a host transport.
    Driver,
    /// Raw frame to readings.
    Codec,
    /// Archived readings to an external store.
    Sink,
}

impl Role {
    /// The name used in `plugin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::Codec => "codec",
            Role::Sink => "sink",
        }
    }

    /// Parse the name used in `plugin.toml`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "driver" => Some(Role::Driver),
            "codec" => Some(Role::Codec),
            "sink" => Some(Role::Sink),
            _ => None,
        }
    }
}

/// What a plugin says about itself; the host checks it against `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Plugin id, equal to its folder name.
    pub id: String,
    /// The plugin's own version.
    pub version: String,
    /// The roles it plays.
    pub roles: Vec<Role>,
}

/// A meterhub plugin. Implement the methods of the roles the plugin plays;
/// the others answer that the role is not played.
///
/// One value of the type is one plugin instance: the host calls
/// [`Plugin::init`] with the instance's settings and then the role methods,
/// one call at a time.
pub trait Plugin: Sized + Send + 'static {
    /// Identity and roles.
    fn info() -> PluginInfo;

    /// A new instance configured by `settings_json` (a JSON object, `{}`
    /// when the config gives none). An error names the offending setting.
    fn init(settings_json: &str) -> Result<Self, String>;

    /// Driver: handle `event` of `session` at host time `now_ms`.
    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Vec<Action> {
        let _ = (session, now_ms, event);
        vec![Action::Close(format!("plugin {} is not a driver", Self::info().id))]
    }

    /// Codec: decode one committed frame.
    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let _ = frame;
        Err(DecodeError::new(format!("plugin {} is not a codec", Self::info().id)))
    }

    /// Sink: write one batch of archived readings.
    fn write(&mut self, batch: &[ArchivedReading]) -> SinkOutcome {
        let _ = batch;
        SinkOutcome::Reject(format!("plugin {} is not a sink", Self::info().id))
    }
}

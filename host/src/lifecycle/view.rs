//! What the running host publishes about itself after every change: the
//! API, `meterhub status` and `/metrics` read it.

use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::plugin::Refusal;
use crate::plugin::supervisor::InstanceEntry;

/// The host as it runs now.
#[derive(Default)]
pub struct HostView {
    /// Loaded plugins.
    pub plugins: Vec<PluginStatus>,
    /// Refused plugins.
    pub refused: Vec<Refusal>,
    /// Configured driver instances.
    pub drivers: Vec<DriverStatus>,
    /// Supervised plugin instances.
    pub instances: Vec<InstanceEntry>,
    /// The configuration and its changes.
    pub config: ConfigStatus,
    /// `[accounting]` in effect.
    pub accounting: crate::config::AccountingConfig,
    /// `[alarms]` in effect.
    pub alarms: crate::config::alarms::AlarmsConfig,
    /// `[reports]` in effect.
    pub reports: crate::config::reports::ReportsConfig,
    /// Where the mimic diagrams are.
    pub diagrams_dir: std::path::PathBuf,
    /// The form templates directory.
    pub forms_dir: std::path::PathBuf,
}

/// Shared, replaced as a whole by each change.
pub type LiveView = Arc<RwLock<HostView>>;

/// The configuration in effect and the last attempt to change it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigStatus {
    /// The configuration file.
    pub file: String,
    /// Changes applied since start (the start is the first).
    pub generation: u64,
    /// The last change applied.
    pub last_applied: Option<AppliedChange>,
    /// The last change refused; cleared by the next one applied.
    pub last_error: Option<RefusedChange>,
    /// How many times the configuration file was read again after a change
    /// on disk settled (or SIGHUP), whatever came of it: applied, refused,
    /// or the same text. A client that wrote the file can wait for this to
    /// move to know its write has been looked at.
    pub checks: u64,
    /// The last [`RECENT_CHANGES`] changes applied or refused, numbered
    /// from 1 since start, oldest first (the event log reads them).
    #[serde(skip)]
    pub recent: std::collections::VecDeque<(u64, ConfigChange)>,
}

/// Changes kept in [`ConfigStatus::recent`].
pub const RECENT_CHANGES: usize = 64;

/// A change applied or refused.
#[derive(Debug, Clone)]
pub enum ConfigChange {
    /// It took effect.
    Applied(AppliedChange),
    /// It was refused.
    Refused(RefusedChange),
}

impl ConfigStatus {
    /// Keeps `change` in [`ConfigStatus::recent`], numbered after the last.
    pub fn remember(&mut self, change: ConfigChange) {
        let number = self.recent.back().map_or(1, |(n, _)| n + 1);
        self.recent.push_back((number, change));
        if self.recent.len() > RECENT_CHANGES {
            self.recent.pop_front();
        }
    }
}

/// A change that took effect.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedChange {
    /// `start`, `config` (file edited, SIGHUP) or `plugins` (folder changed).
    pub trigger: &'static str,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// How long the apply took, milliseconds.
    pub apply_ms: f64,
    /// What changed, one line each.
    pub changes: Vec<String>,
}

/// A change that was refused: the last good configuration keeps running.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedChange {
    /// As in [`AppliedChange::trigger`].
    pub trigger: &'static str,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Each error, `file:line:col: cause`.
    pub errors: Vec<String>,
}

/// A loaded plugin as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    /// Plugin id.
    pub id: String,
    /// Its version.
    pub version: String,
    /// `wasm` or `native`.
    pub kind: &'static str,
    /// Roles it plays.
    pub roles: Vec<&'static str>,
    /// Contract version.
    pub api: String,
    /// The component or library.
    pub file: String,
    /// One line for operators.
    pub description: String,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// The commands a driver takes for its devices: name to description.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub commands: std::collections::BTreeMap<String, String>,
}

/// A running driver instance as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DriverStatus {
    /// Instance id (the source of its frames).
    pub id: String,
    /// Driver plugin.
    pub plugin: String,
    /// Codec plugin.
    pub codec: String,
    /// `tcp`, `http` or `websocket`.
    pub transport: &'static str,
    /// Bound listen address, or the URL it connects to; empty when not running.
    pub address: String,
    /// Whether it runs (its driver plugin is there and took its settings).
    pub running: bool,
    /// Its fetch session's counters and newest outcome, when it has one.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "live_fetch")]
    pub fetch: Option<Arc<crate::transport::fetch::FetchStats>>,
}

/// The fetch counters as they are when the view is read.
fn live_fetch<S: serde::Serializer>(
    fetch: &Option<Arc<crate::transport::fetch::FetchStats>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match fetch {
        Some(stats) => stats.as_ref().serialize(serializer),
        None => serializer.serialize_none(),
    }
}

impl PluginStatus {
    /// The status of a loaded plugin with `manifest`.
    pub fn of(manifest: &crate::plugin::Manifest) -> Self {
        PluginStatus {
            id: manifest.id.clone(),
            version: manifest.version.clone(),
            kind: manifest.kind.as_str(),
            roles: manifest.roles.iter().map(|r| r.as_str()).collect(),
            api: format!("{}.{}", manifest.api.0, manifest.api.1),
            file: manifest.file.display().to_string(),
            description: manifest.description.clone(),
            sha256: String::new(),
            commands: manifest.commands.clone(),
        }
    }
}

//! What the API handlers can see of the running host.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::archive::Archive;
use crate::lifecycle::{HostView, LiveView};
use crate::pipeline::PipelineHandle;

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
}

/// Everything the handlers use.
pub struct ApiState {
    /// The archive.
    pub archive: Arc<dyn Archive>,
    /// The running pipeline.
    pub pipeline: PipelineHandle,
    /// Plugins, driver instances, plugin instances and the configuration,
    /// as of the last change.
    pub live: LiveView,
    /// Journal statistics (commit latency, pipeline backlog).
    pub journal: Arc<crate::journal::JournalStats>,
    /// When the host started.
    pub started: Instant,
    /// Frames and readings per second per source (sampled).
    pub rates: super::rates::Rates,
    /// The meter registry and deltas.
    pub accounting: Arc<crate::accounting::Accounting>,
    /// Users, sessions and rights: the access check of every request.
    pub auth: Arc<crate::auth::Auth>,
    /// The live streams.
    pub publisher: Arc<crate::publish::Hub>,
}

impl ApiState {
    /// The host as it runs now.
    pub fn view(&self) -> std::sync::RwLockReadGuard<'_, HostView> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
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
        }
    }
}

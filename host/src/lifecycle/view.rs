//! What the running host publishes about itself after every change: the
//! API, `meterhub status` and `/metrics` read it.

use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::api::state::{DriverStatus, PluginStatus};
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

//! What the API handlers can see of the running host.

use std::sync::Arc;
use std::time::Instant;

use crate::lifecycle::{HostView, LiveView};
use crate::pipeline::PipelineHandle;
use meterhub_storage::archive::Archive;

/// Everything the handlers use.
pub struct ApiState {
    /// The archive.
    pub archive: Arc<dyn Archive>,
    /// The running pipeline.
    pub pipeline: PipelineHandle,
    /// Plugins, driver instances, plugin instances and the configuration,
    /// as of the last change.
    pub live: LiveView,
    /// Journal statistics (commit latency, pipeline backlog, inputs not stored).
    pub journal: Arc<meterhub_storage::journal::JournalStats>,
    /// Whether the journal and the archive can write (a full disk).
    pub health: Arc<meterhub_storage::health::StoreHealth>,
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
    /// Every listener's connection limits and counters.
    pub gates: Arc<meterhub_http::Gates>,
    /// Every sink's status.
    pub sinks: crate::sink::status::SinkBoard,
    /// The sites this host takes data from, when it is a monitoring center.
    pub center: Arc<crate::sync::center::Center>,
    /// Commands queued for devices.
    pub commands: Arc<crate::commands::Commands>,
    /// Alarms and the event log.
    pub alarms: Arc<crate::alarms::Alarms>,
    /// The mimic diagrams, read as they change.
    pub diagrams: crate::diagrams::Diagrams,
    /// The scheduled reports' results.
    pub scheduled: Arc<crate::reports::scheduled::Scheduled>,
    /// The saved forms, their values and notes.
    pub forms: Arc<crate::forms::Forms>,
}

impl ApiState {
    /// The host as it runs now.
    pub fn view(&self) -> std::sync::RwLockReadGuard<'_, HostView> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    /// How meters and modules are judged on the board now.
    pub fn judge(&self) -> crate::board::Judge {
        crate::board::Judge {
            silent_after_periods: self.view().accounting.silent_after_periods,
            clock_tolerance_ms: self.archive.device_clock_tolerance_ms(),
        }
    }

    /// The board now; a 500 saying why when the registry or the archive
    /// cannot be read.
    pub fn board(&self) -> Result<crate::board::Board, Box<meterhub_http::HttpResponse>> {
        let now_ms = meterhub_storage::clock::now_ms();
        crate::board::Board::read(&*self.archive, &self.accounting, &self.judge(), now_ms).map_err(|e| {
            tracing::error!(error = %e, "cannot read the board");
            Box::new(meterhub_http::error(hyper::StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
        })
    }
}

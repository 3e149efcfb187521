//! Sinks: data leaving the host (`docs/sinks.md`). Each `[sinks.<id>]`
//! instance follows the archive log by its own position, kept in the
//! database it writes to, in the same transaction as the rows it covers.
//!
//! - [`postgres`]: the connection the host owns, the host's tables in the
//!   sink's schema, migrations, one transaction per batch, failures sorted
//!   by what to do about them;
//! - [`worker`]: one sink at work (batches, linger, retry with backoff,
//!   dead letters found by halving);
//! - [`status`]: what operators see;
//! - [`Sinks`] (here): the running sinks, changed with the configuration
//!   and the plugins folder like the drivers.

pub mod plugin_target;
pub mod postgres;
pub mod records;
pub mod status;
pub mod target;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use meterhub_plugin_api::Role;
use meterhub_storage::archive::Archive;
use tokio::sync::watch;

use crate::config::{Config, SYNC_CENTER, SinkConfig, SinkKind};
use crate::plugin::Catalog;
use status::{SinkBoard, SinkEntry, SinkError, SinkState, SinkStatus, StatusCell, update};

/// Requests from the API one worker holds at most.
const COMMAND_QUEUE: usize = 8;

/// One running (or waiting) sink instance.
struct Running {
    config: SinkConfig,
    /// The plugin version it runs; `None` while it waits for its plugin.
    fingerprint: Option<String>,
    stop: watch::Sender<bool>,
    /// Its worker; `None` while it waits for its plugin.
    worker: Option<tokio::task::JoinHandle<()>>,
    /// Its plugin instance as `/api/v1/status` shows it (`<id>/sink`):
    /// calls, failures, quarantine, and the operator's restart.
    entry: crate::plugin::supervisor::InstanceEntry,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The sink instances of the host.
pub struct Sinks {
    archive: Arc<dyn Archive>,
    accounting: Arc<crate::accounting::AccountingStore>,
    archived: watch::Receiver<u64>,
    board: SinkBoard,
    running: BTreeMap<String, Running>,
    /// The other side of the sync: at a center, the sites it takes data
    /// from (`[center]`), changed with the configuration here too.
    center: Arc<crate::sync::center::Center>,
}

impl Sinks {
    /// No sinks yet; `board` shows them once they run.
    pub fn new(
        archive: Arc<dyn Archive>,
        accounting: Arc<crate::accounting::AccountingStore>,
        archived: watch::Receiver<u64>,
        board: SinkBoard,
        center: Arc<crate::sync::center::Center>,
    ) -> Sinks {
        Sinks { archive, accounting, archived, board, running: BTreeMap::new(), center }
    }

    /// Bring the running sinks (and a center's sites) in line with `config` and `catalog`: start
    /// the new ones, restart those whose configuration or plugin version
    /// changed, stop the removed ones, keep the others (their connections
    /// stay). Returns a line per change, for the log and the status.
    pub fn apply(&mut self, config: &Config, catalog: &Catalog) -> Vec<String> {
        let mut changes = Vec::new();
        self.center.apply(config.center.as_ref());
        if !config.sinks.is_empty() {
            // Sinks follow the accounting's change index: keep it from now
            // on (built first when it is not complete; seconds on a large
            // registry).
            if let Err(e) = tokio::task::block_in_place(|| self.accounting.track_changes()) {
                tracing::error!(error = %e, "the accounting's change index cannot be kept; sinks get no deltas until it can");
            }
        }
        let configured: BTreeMap<&str, &SinkConfig> = config.sinks.iter().map(|s| (s.id.as_str(), s)).collect();
        let removed: Vec<String> =
            self.running.keys().filter(|id| !configured.contains_key(id.as_str())).cloned().collect();
        for id in removed {
            if let Some(running) = self.running.remove(&id) {
                self.retire(&id, running);
            }
            changes.push(format!("sink {id}: removed"));
        }
        for (id, sink) in configured {
            let plugin = resolve(catalog, sink);
            let fingerprint = plugin.as_ref().ok().and_then(Option::as_ref).map(|p| p.fingerprint.clone());
            if let Some(running) = self.running.get(id)
                && running.config == *sink
                && running.fingerprint == fingerprint
            {
                continue;
            }
            // A restarted sink's new worker starts when the old one has
            // ended, so the two never write at once.
            let previous = self.running.remove(id).map(|mut running| running.worker.take());
            let was_running = previous.is_some();
            let previous = previous.flatten();
            let (plugin_id, target, schema) = match &sink.kind {
                SinkKind::Plugin(p) => (p.plugin.as_str(), postgres::describe(&p.target), p.target.schema.as_str()),
                SinkKind::Center(link) => (SYNC_CENTER, format!("{} as site {}", link.url, link.site), ""),
            };
            let mut initial = SinkStatus::new(id, plugin_id, target, schema);
            if let SinkKind::Center(link) = &sink.kind {
                initial.center = Some(status::CenterOf { url: link.url.clone(), site: link.site.clone() });
            }
            let status: StatusCell = Arc::new(Mutex::new(initial));
            let (stop, stopped) = watch::channel(false);
            let (sender, receiver) = tokio::sync::mpsc::channel(COMMAND_QUEUE);
            let mut commands = None;
            let mut worker = None;
            let entry;
            match (&sink.kind, plugin) {
                (SinkKind::Center(link), _) => {
                    entry = crate::plugin::supervisor::InstanceEntry::unavailable(
                        id,
                        "sink",
                        SYNC_CENTER,
                        "the host's own sink: no plugin instance".into(),
                    );
                    let target =
                        crate::sync::link::LinkTarget::new(id, link.clone(), self.archive.clone(), status.clone());
                    worker = Some(self.spawn(sink, target, &status, stopped, receiver, previous));
                    commands = Some(sender);
                    changes.push(format!("sink {id}: {}", if was_running { "restarted" } else { "started" }));
                }
                (SinkKind::Plugin(p), plugin) => match plugin.and_then(|plugin| {
                    let plugin = plugin.ok_or_else(|| format!("plugin {:?} is not a sink plugin", p.plugin))?;
                    crate::plugin::factory::supervised(&plugin, &p.settings_json, config)
                        .map_err(|e| format!("plugin {:?}: {e}", p.plugin))
                }) {
                    Ok(instance) => {
                        entry = crate::plugin::supervisor::InstanceEntry::of(id, "sink", &instance);
                        let target = plugin_target::PluginTarget {
                            sink: id.to_owned(),
                            plugin_id: p.plugin.clone(),
                            plugin: Arc::new(Mutex::new(instance)),
                            target: p.target.clone(),
                            connection: None,
                        };
                        worker = Some(self.spawn(sink, target, &status, stopped, receiver, previous));
                        commands = Some(sender);
                        changes.push(format!("sink {id}: {}", if was_running { "restarted" } else { "started" }));
                    }
                    Err(reason) => {
                        entry = crate::plugin::supervisor::InstanceEntry::unavailable(
                            id,
                            "sink",
                            &p.plugin,
                            reason.clone(),
                        );
                        tracing::error!(sink = %id, %reason, "sink cannot run; it waits for its plugin");
                        update(&status, |s| {
                            s.state = SinkState::Waiting;
                            s.last_error =
                                Some(SinkError { at_ms: meterhub_storage::clock::now_ms(), message: reason });
                        });
                        changes.push(format!("sink {id}: waiting for its plugin"));
                    }
                },
            }
            self.board.insert(id, SinkEntry { status, commands });
            self.running.insert(id.to_owned(), Running { config: sink.clone(), fingerprint, stop, worker, entry });
        }
        changes
    }

    /// Stop sink `id`, removed from the configuration. It leaves the
    /// board when its worker has ended, not before: a batch it was writing
    /// is committed or rolled back by then, so a sink that is no longer
    /// shown writes nothing more.
    fn retire(&self, id: &str, mut running: Running) {
        let (Some(worker), Some(shown)) = (running.worker.take(), self.board.get(id)) else {
            self.board.remove(id);
            return;
        };
        drop(running);
        let (board, id) = (self.board.clone(), id.to_owned());
        tokio::spawn(async move {
            let _ = worker.await;
            board.remove_if_shown(&id, &shown.status);
        });
    }

    /// Start the worker of `sink` delivering to `target`, once the
    /// `previous` worker of the same id has ended.
    fn spawn<T: target::Target>(
        &self,
        sink: &SinkConfig,
        target: T,
        status: &StatusCell,
        stop: watch::Receiver<bool>,
        commands: tokio::sync::mpsc::Receiver<status::Command>,
        previous: Option<tokio::task::JoinHandle<()>>,
    ) -> tokio::task::JoinHandle<()> {
        let worker = worker::Worker {
            commands,
            config: sink.clone(),
            target,
            archive: self.archive.clone(),
            accounting: self.accounting.clone(),
            status: status.clone(),
            archived: self.archived.clone(),
            stop,
        };
        tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            worker.run().await
        })
    }

    /// The sink plugin instances, for the status (`<id>/sink`).
    pub fn entries(&self) -> impl Iterator<Item = crate::plugin::supervisor::InstanceEntry> + '_ {
        self.running.values().map(|r| r.entry.clone())
    }

    /// What a change to `config` and `catalog` would start or restart and
    /// cannot: a sink plugin that is missing, does not play the sink role,
    /// lacks the capability or refuses its settings, at the place `plugin`
    /// is written. A reload with any of them is refused (the start lets such
    /// a sink wait for its plugin, like a driver).
    pub fn refusals(&self, config: &Config, catalog: &Catalog) -> Vec<crate::config::Diagnostic> {
        config
            .sinks
            .iter()
            .filter(|sink| {
                let fingerprint = resolve(catalog, sink).ok().flatten().map(|p| p.fingerprint.clone());
                self.running.get(&sink.id).is_none_or(|r| r.config != **sink || r.fingerprint != fingerprint)
            })
            .filter_map(|sink| problem(config, catalog, sink))
            .collect()
    }

    /// Stop every sink (at shutdown): an unfinished transaction is rolled
    /// back by the database, and the position stays where it was.
    pub fn stop_all(&mut self) {
        self.running.clear();
    }
}

/// Why `sink` cannot run with `catalog`, at the place its plugin is named.
pub fn problem(config: &Config, catalog: &Catalog, sink: &SinkConfig) -> Option<crate::config::Diagnostic> {
    let SinkKind::Plugin(p) = &sink.kind else { return None };
    let made = resolve(catalog, sink).and_then(|plugin| match plugin {
        Some(plugin) => crate::plugin::factory::supervised(&plugin, &p.settings_json, config)
            .map(drop)
            .map_err(|e| format!("plugin {:?}: {e}", p.plugin)),
        None => Ok(()),
    });
    made.err().map(|message| {
        crate::config::Diagnostic::new(&config.file, p.plugin_pos, format!("[sinks.{}]: {message}", sink.id))
    })
}

/// The sink plugin `sink` names (`None` for the host's own sinks), or why
/// it cannot be had.
fn resolve(catalog: &Catalog, sink: &SinkConfig) -> Result<Option<Arc<crate::plugin::LoadedPlugin>>, String> {
    let SinkKind::Plugin(p) = &sink.kind else { return Ok(None) };
    let plugin = crate::lifecycle::plan::resolve(catalog, &p.plugin, Role::Sink)?;
    if !plugin.manifest.capabilities.postgres {
        return Err(format!(
            "plugin {:?} does not declare the postgres capability in its plugin.toml, which this host's sinks provide",
            p.plugin
        ));
    }
    Ok(Some(plugin))
}

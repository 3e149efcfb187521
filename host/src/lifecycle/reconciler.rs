//! The task that owns the running [`Host`] and applies changes one at a
//! time: the configuration file changed (or SIGHUP), the plugins folder
//! changed. Each change is parse -> validate -> prepare -> commit, the same
//! path as the start; a refused change leaves the last good one running.

use std::path::PathBuf;
use std::sync::Arc;

use super::history;
use super::host::{Host, Trigger};
use super::watch::{self, Ticks};
use crate::config::Config;
use crate::plugin::Catalog;
use crate::plugin::wasm::Limits;

/// Applies changes to a running host.
pub struct Reconciler {
    host: Host,
    file: PathBuf,
    /// The configuration text last looked at, applied or not: the same text
    /// again is no change.
    last_text: String,
    limits: Limits,
    applied: Box<dyn Fn(&Host) + Send + Sync>,
}

impl Reconciler {
    /// Take over `host`, started from `text`. `applied` runs with every
    /// applied change, before its generation is published (it rewrites
    /// `run.json`).
    pub fn new(host: Host, text: String, limits: Limits, applied: Box<dyn Fn(&Host) + Send + Sync>) -> Self {
        let file = host.config().file.clone();
        if let Err(e) = history::record_good(&file, &text) {
            tracing::warn!(file = %file.display(), error = %e, "cannot record the last good configuration; `meterhub config rollback` will not have it");
        }
        Reconciler { host, file, last_text: text, limits, applied }
    }

    /// Serve changes until `stop` completes.
    pub async fn run(mut self, stop: impl Future<Output = ()>) -> Host {
        let mut config_ticks = watch_or_warn("configuration file", watch::file(&self.file));
        let plugins_dir = self.host.config().plugins_dir.clone();
        let mut plugin_ticks = watch_or_warn("plugins folder", watch::folder(&plugins_dir));
        let mut secrets_files = self.secrets_files();
        let mut secrets_ticks = watch_secrets(&secrets_files);
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        // The host answered (run.json, the API) before these watches were
        // armed: a change written in between sends no event, so look once.
        if std::fs::read_to_string(&self.file).is_ok_and(|text| text != self.last_text) {
            self.config_changed(false).await;
        }
        self.plugins_changed().await;
        let mut stop = std::pin::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                Some(()) = settled(&mut config_ticks) => self.config_changed(false).await,
                Some(()) = settled(&mut plugin_ticks) => self.plugins_changed().await,
                Some(()) = settled(&mut secrets_ticks) => {
                    tracing::info!("a secrets file changed: reading the configuration again");
                    self.config_changed(true).await;
                }
                Some(()) = async { hangup.as_mut()?.recv().await } => {
                    tracing::info!("SIGHUP: reloading the configuration and rescanning plugins");
                    self.config_changed(true).await;
                    self.plugins_changed().await;
                }
            }
            let named = self.secrets_files();
            if named != secrets_files {
                secrets_ticks = watch_secrets(&named);
                secrets_files = named;
            }
        }
        drop((config_ticks, plugin_ticks, secrets_ticks));
        self.host
    }

    /// The secrets files the configuration in effect names.
    fn secrets_files(&self) -> Vec<PathBuf> {
        self.host.config().drivers.iter().filter_map(|d| d.secrets.as_ref().map(|s| s.file.clone())).collect()
    }

    /// Read the configuration file again and apply it if it changed; counted
    /// once done, whatever came of it.
    pub async fn config_changed(&mut self, force: bool) {
        self.examine_config(force).await;
        self.host.checked();
    }

    async fn examine_config(&mut self, force: bool) {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(text) => text,
            Err(e) => {
                let error = format!("{}: cannot read the configuration file: {e}", self.file.display());
                self.host.refused(Trigger::Config, &[error]);
                return;
            }
        };
        if text == self.last_text && !force {
            tracing::debug!("configuration file touched; content unchanged");
            return;
        }
        self.last_text = text.clone();
        let config = match crate::config::load::parse(&self.file, &text) {
            Ok(config) => config,
            Err(e) => {
                let errors: Vec<String> = e.diagnostics.iter().map(ToString::to_string).collect();
                self.host.refused(Trigger::Config, &errors);
                return;
            }
        };
        let catalog = self.host.catalog().clone();
        if self.apply(config, catalog, Trigger::Config).await
            && let Err(e) = history::record_good(&self.file, &text)
        {
            tracing::warn!(error = %e, "cannot record the last good configuration");
        }
    }

    /// Scan the plugins folder again and apply what changed.
    pub async fn plugins_changed(&mut self) {
        let previous = self.host.catalog().clone();
        let dir = self.host.config().plugins_dir.clone();
        let limits = self.limits;
        let scanned = tokio::task::spawn_blocking(move || {
            let catalog = Catalog::rescan(&dir, limits, Some(&previous));
            (catalog, previous)
        })
        .await;
        let Ok((catalog, previous)) = scanned else { return };
        let same = catalog.refused == previous.refused
            && catalog.loaded.len() == previous.loaded.len()
            && catalog.loaded.iter().all(|(id, p)| previous.loaded.get(id).is_some_and(|q| Arc::ptr_eq(p, q)));
        if same {
            tracing::debug!("plugins folder touched; no plugin changed");
            return;
        }
        let config = self.host.config().clone();
        self.apply(config, Arc::new(catalog), Trigger::Plugins).await;
        crate::memory::release_free_heap();
    }

    async fn apply(&mut self, config: Config, catalog: Arc<Catalog>, trigger: Trigger) -> bool {
        match self.host.prepare(config, catalog, trigger).await {
            Ok(prepared) => {
                self.host.commit(prepared, &*self.applied).await;
                true
            }
            Err(diagnostics) => {
                let errors: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                self.host.refused(trigger, &errors);
                false
            }
        }
    }
}

/// A watch on `files`, the secrets files (a change to one is applied like
/// one to the configuration).
fn watch_secrets(files: &[PathBuf]) -> Option<(notify::RecommendedWatcher, Ticks)> {
    if files.is_empty() {
        return None;
    }
    watch_or_warn("secrets files", watch::files(files))
}

fn watch_or_warn(
    what: &str,
    watched: notify::Result<(notify::RecommendedWatcher, Ticks)>,
) -> Option<(notify::RecommendedWatcher, Ticks)> {
    match watched {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the {what}; changes take effect on SIGHUP");
            None
        }
    }
}

async fn settled(watched: &mut Option<(notify::RecommendedWatcher, Ticks)>) -> Option<()> {
    match watched {
        Some((_, ticks)) => watch::settled(ticks, watch::QUIET).await,
        None => std::future::pending().await,
    }
}

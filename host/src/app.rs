//! Assembling a host from a validated configuration: plugins, archive,
//! journal replay, pipeline, transports, API. Also the plugin-dependent
//! checks shared by `meterhub check` and `meterhub run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use meterhub_plugin_api::Role;
use serde::{Deserialize, Serialize};

use crate::api::{self, ApiState, DriverStatus};
use crate::archive::{Archive, SledArchive};
use crate::config::{Config, Diagnostic, DriverConfig, Pos, TransportConfig};
use crate::journal::{Journal, JournalConfig};
use crate::pipeline::{self, Codecs, Stage};
use crate::plugin::supervisor::{InstanceEntry, Supervised};
use crate::plugin::{Catalog, LoadedPlugin, wasm::Limits};
use crate::transport::{self, DriverRuntime};

/// Sandbox limits from the configuration.
pub fn limits(config: &Config) -> Limits {
    Limits { memory_bytes: config.wasm_memory_bytes, call_timeout_ms: config.wasm_call_timeout_ms }
}

/// Scan the configured plugins folder.
pub fn scan_plugins(config: &Config) -> Catalog {
    Catalog::scan(&config.plugins_dir, limits(config))
}

/// The archive directory inside the data directory.
pub fn archive_dir(config: &Config) -> PathBuf {
    config.data_dir.join("archive")
}

/// The journal directory inside the data directory.
pub fn journal_dir(config: &Config) -> PathBuf {
    config.data_dir.join("journal")
}

/// Where a running host says how to reach it.
pub fn run_file(config: &Config) -> PathBuf {
    config.data_dir.join("run.json")
}

/// What a running host writes to [`run_file`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// Host process id.
    pub pid: u32,
    /// Bound API address.
    pub api: String,
    /// Bound driver addresses (or URLs) by instance id.
    pub drivers: BTreeMap<String, String>,
}

fn plugin_for<'c>(
    catalog: &'c Catalog,
    config: &Config,
    id: &str,
    role: Role,
    at: Pos,
) -> Result<&'c Arc<LoadedPlugin>, Diagnostic> {
    let diag = |m: String| Diagnostic::new(&config.file, at, m);
    match catalog.loaded.get(id) {
        Some(p) if p.has_role(role) => Ok(p),
        Some(_) => Err(diag(format!("plugin {id:?} does not play the {} role", role.as_str()))),
        None => {
            let refused = catalog.refused.iter().find(|r| r.path.components().any(|c| c.as_os_str() == id));
            Err(diag(match refused {
                Some(r) => format!("plugin {id:?} was refused: {r}"),
                None => format!(
                    "plugin {id:?} is not in the plugins folder {} (loaded: {})",
                    catalog.dir.display(),
                    if catalog.loaded.is_empty() {
                        "none".to_owned()
                    } else {
                        catalog.loaded.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            }))
        }
    }
}

/// A supervised instance of `plugin` configured with `settings_json`; an
/// operator's restart makes a fresh one the same way.
fn supervised(plugin: &Arc<LoadedPlugin>, settings_json: &str, config: &Config) -> Result<Supervised, String> {
    let (plugin, settings) = (plugin.clone(), settings_json.to_owned());
    let id = plugin.manifest.id.clone();
    Supervised::new(&id, Box::new(move || plugin.instantiate(&settings)), config.supervision)
}

/// Instantiate the driver plugin of `driver`; errors point into the config.
pub fn instantiate_driver(catalog: &Catalog, config: &Config, driver: &DriverConfig) -> Result<Supervised, Diagnostic> {
    let plugin = plugin_for(catalog, config, &driver.plugin, Role::Driver, driver.plugin_pos)?;
    supervised(plugin, &driver.settings_json, config)
        .map_err(|e| Diagnostic::new(&config.file, driver.settings_pos, format!("plugin {:?}: {e}", driver.plugin)))
}

/// Instantiate the codec of `driver`. A driver's own codec shares its
/// settings; a separate codec plugin gets none.
pub fn instantiate_codec(catalog: &Catalog, config: &Config, driver: &DriverConfig) -> Result<Supervised, Diagnostic> {
    let codec = plugin_for(catalog, config, &driver.codec, Role::Codec, driver.codec_pos)?;
    let settings = if driver.codec == driver.plugin { driver.settings_json.as_str() } else { "{}" };
    supervised(codec, settings, config).map_err(|e| {
        Diagnostic::new(&config.file, driver.settings_pos, format!("codec plugin {:?}: {e}", driver.codec))
    })
}

/// The codec of every driver instance, and their status entries; an
/// instance whose codec cannot be made keeps the reason, and its frames are
/// quarantined with it.
pub fn codecs(catalog: &Catalog, config: &Config) -> (Codecs, Vec<InstanceEntry>) {
    let mut codecs = Codecs::default();
    let mut entries = Vec::new();
    for driver in &config.drivers {
        match instantiate_codec(catalog, config, driver) {
            Ok(codec) => {
                entries.push(InstanceEntry::of(&driver.id, "codec", &codec));
                codecs.insert(&driver.id, Box::new(codec));
            }
            Err(d) => {
                tracing::error!(driver = %driver.id, error = %d, "codec unavailable; frames will be quarantined");
                codecs.unavailable(&driver.id, format!("codec unavailable: {}", d.message));
            }
        }
    }
    (codecs, entries)
}

/// Every problem `meterhub check` reports beyond the config file itself.
pub fn check(config: &Config, catalog: &Catalog) -> Vec<String> {
    let mut problems: Vec<String> = catalog.refused.iter().map(ToString::to_string).collect();
    for driver in &config.drivers {
        let driver_problem = instantiate_driver(catalog, config, driver).err();
        let codec_problem = instantiate_codec(catalog, config, driver).err();
        let same = driver.codec == driver.plugin && driver_problem.is_some();
        problems.extend(driver_problem.map(|d| d.to_string()));
        if !same {
            problems.extend(codec_problem.map(|d| d.to_string()));
        }
    }
    problems
}

/// Open the archive, naming the path in the error.
pub fn open_archive(config: &Config) -> anyhow::Result<Arc<dyn Archive>> {
    let dir = archive_dir(config);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    Ok(Arc::new(SledArchive::open(&dir)?))
}

/// Run the host until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let catalog = scan_plugins(&config);
    let archive = open_archive(&config)?;

    // Start every driver whose plugin loads; the others are reported and
    // left out, and the host goes on. A missing codec stops nothing: frames
    // are committed and quarantined until a working codec is dropped in.
    let (codecs, mut instances) = codecs(&catalog, &config);
    let mut drivers = Vec::new();
    for driver in &config.drivers {
        match instantiate_driver(&catalog, &config, driver) {
            Ok(instance) => {
                instances.push(InstanceEntry::of(&driver.id, "driver", &instance));
                drivers.push((driver, Box::new(instance)));
            }
            Err(d) => tracing::error!(driver = %driver.id, error = %d, "driver instance not started"),
        }
    }

    // Raw-first: whatever the journal holds beyond the archive is applied
    // before any new input is accepted.
    let applied = archive.applied_through()?;
    let journal = Journal::open(JournalConfig::new(journal_dir(&config)), applied + 1)?;
    let mut stage = Stage::new(archive.clone(), codecs);
    let backlog = journal.replay(applied)?;
    if !backlog.is_empty() {
        tracing::info!(records = backlog.len(), after_seq = applied, "applying journal records not yet in the archive");
        for chunk in backlog.chunks(2048) {
            stage.apply(chunk.to_vec())?;
        }
        archive.flush()?;
    }
    let (journal, committed) = journal.start();
    let (pipeline, pipeline_task) = pipeline::runner::spawn(stage, committed, journal.clone());

    let mut tasks = Vec::new();
    let mut statuses = Vec::new();
    for (driver, instance) in drivers {
        let rt =
            Arc::new(DriverRuntime::new(&driver.id, &driver.plugin, instance, journal.clone(), driver.max_pending));
        let address = match &driver.transport {
            TransportConfig::Tcp { listen } => {
                let (listener, bound) = transport::tcp::bind(*listen)
                    .await
                    .with_context(|| format!("driver {}: cannot listen on {listen}", driver.id))?;
                tasks.push(tokio::spawn(transport::tcp::serve(rt, listener)));
                bound.to_string()
            }
            TransportConfig::Http { listen, max_body_bytes, request_timeout_ms } => {
                let (listener, bound) = transport::tcp::bind(*listen)
                    .await
                    .with_context(|| format!("driver {}: cannot listen on {listen}", driver.id))?;
                let limits = transport::http::HttpLimits {
                    max_body_bytes: *max_body_bytes,
                    request_timeout: std::time::Duration::from_millis(u64::from(*request_timeout_ms)),
                };
                tasks.push(tokio::spawn(transport::http::serve(rt, listener, limits)));
                bound.to_string()
            }
            TransportConfig::Websocket { url, reconnect_min_ms, reconnect_max_ms } => {
                let backoff = crate::backoff::Backoff {
                    min: std::time::Duration::from_millis(u64::from(*reconnect_min_ms)),
                    max: std::time::Duration::from_millis(u64::from(*reconnect_max_ms)),
                };
                tasks.push(tokio::spawn(transport::websocket::run(rt, url.clone(), backoff)));
                url.clone()
            }
        };
        tracing::info!(driver = %driver.id, plugin = %driver.plugin, transport = driver.transport.name(), %address, "driver started");
        statuses.push(DriverStatus {
            id: driver.id.clone(),
            plugin: driver.plugin.clone(),
            codec: driver.codec.clone(),
            transport: driver.transport.name(),
            address,
        });
    }

    let (api_listener, api_addr) = transport::tcp::bind(config.api.listen)
        .await
        .with_context(|| format!("[api]: cannot listen on {}", config.api.listen))?;
    let state = Arc::new(ApiState {
        archive: archive.clone(),
        pipeline,
        plugins: catalog.loaded.values().map(|p| api::state::PluginStatus::of(&p.manifest)).collect(),
        refused: catalog.refused.clone(),
        drivers: statuses.clone(),
        journal: journal.stats().clone(),
        instances,
        started,
    });
    tasks.push(tokio::spawn(api::serve(state, api_listener)));
    tracing::info!(address = %api_addr, "api listening");

    let info = RunInfo {
        pid: std::process::id(),
        api: api_addr.to_string(),
        drivers: statuses.into_iter().map(|s| (s.id, s.address)).collect(),
    };
    write_atomically(&run_file(&config), serde_json::to_vec_pretty(&info)?.as_slice())?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "meterhub is running");

    wait_for_signal().await;
    tracing::info!("stopping: no new input; committing what was received");
    for task in &tasks {
        task.abort();
    }
    journal.shutdown().await;
    let _ = pipeline_task.await;
    let _ = std::fs::remove_file(run_file(&config));
    tracing::info!("stopped");
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

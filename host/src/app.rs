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

use crate::accounting::{self, Accounting, AccountingStore};
use crate::api::{self, ApiState};
use crate::auth::{Auth, AuthSettings};
use crate::config::{Config, Diagnostic, Pos};
use crate::lifecycle::plan::resolve;
use crate::lifecycle::{DriverServices, Host, LiveView, Reconciler};
use crate::pipeline::{self, CodecSlot, Codecs, Stage};
use crate::plugin::factory::supervised;
use crate::plugin::{Catalog, wasm::Limits};
use crate::publish::{Hub, StreamSettings};
use crate::transport;
use meterhub_http::gate::{FdBudget, Gates};
use meterhub_storage::archive::{Archive, SledArchive};
use meterhub_storage::journal::{Journal, JournalConfig};

/// Sandbox limits from the configuration.
pub fn limits(config: &Config) -> Limits {
    Limits { memory_bytes: config.wasm_memory_bytes, call_timeout_ms: config.wasm_call_timeout_ms }
}

/// Scan the configured plugins folder (compiled code kept in
/// `host.compiled_plugins_dir`).
pub fn scan_plugins(config: &Config) -> Catalog {
    crate::plugin::compiled::keep_in(&config.compiled_plugins_dir);
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

/// The accounting database directory inside the data directory.
pub fn accounting_dir(config: &Config) -> PathBuf {
    config.data_dir.join("accounting")
}

/// The alarm database directory inside the data directory.
pub fn alarms_dir(config: &Config) -> PathBuf {
    config.data_dir.join("alarms")
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

/// The codec of every driver instance (offline re-decode); an instance
/// whose codec cannot be made keeps the reason, and its frames stay
/// quarantined with it.
pub fn codecs(catalog: &Catalog, config: &Config) -> Codecs {
    let mut codecs = Codecs::default();
    for driver in &config.drivers {
        let slot = match resolve(catalog, &driver.codec, Role::Codec)
            .and_then(|plugin| supervised(&plugin, &driver.codec_settings(), config))
        {
            Ok(codec) => CodecSlot::Ready(Box::new(codec)),
            Err(e) => CodecSlot::Unavailable(format!("codec unavailable: {e}")),
        };
        codecs.set(&driver.id, slot);
    }
    codecs
}

/// Every problem `meterhub check` reports beyond the config file itself.
pub fn check(config: &Config, catalog: &Catalog) -> Vec<String> {
    let mut problems: Vec<String> = catalog.refused.iter().map(ToString::to_string).collect();
    for driver in &config.drivers {
        let mut check = |id: &str, role: Role, at: Pos, settings: &str| {
            let made = resolve(catalog, id, role).map_err(|e| (at, e)).and_then(|p| {
                supervised(&p, settings, config).map_err(|e| (driver.settings_pos, format!("plugin {id:?}: {e}")))
            });
            if let Err((at, message)) = made {
                problems.push(Diagnostic::new(&config.file, at, message).to_string());
            }
        };
        check(&driver.plugin, Role::Driver, driver.plugin_pos, &driver.driver_settings());
        if driver.codec != driver.plugin {
            check(&driver.codec, Role::Codec, driver.codec_pos, &driver.codec_settings());
        }
    }
    for sink in &config.sinks {
        problems.extend(crate::sink::problem(config, catalog, sink).map(|d| d.to_string()));
    }
    problems
}

/// Open the archive, naming the path in the error.
pub fn open_archive(config: &Config) -> anyhow::Result<Arc<dyn Archive>> {
    let dir = archive_dir(config);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    let wait = meterhub_storage::archive::sled_archive::LOCK_WAIT;
    Ok(Arc::new(SledArchive::open_with(&dir, config.archive, wait)?))
}

/// Run the host until SIGINT or SIGTERM, applying configuration and plugin
/// changes as they come.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let stop = stop_signal();
    let text = std::fs::read_to_string(&config.file)
        .with_context(|| format!("cannot read the config file {}", config.file.display()))?;
    let fd_limit = crate::open_files::raise_to_hard_limit();
    let gates = Gates::new(FdBudget::new(fd_limit, config.fd_reserve));
    let catalog = Arc::new(scan_plugins(&config));
    let archive = open_archive(&config)?;

    // The start is a change from nothing: every driver whose plugin loads is
    // prepared (instances made, listeners bound); the others are reported and
    // wait for their plugin. A missing codec stops nothing: frames are
    // committed and quarantined until a working codec is dropped in.
    let mut prepared = Host::prepare_start(config.clone(), catalog, archive.clone())
        .await
        .map_err(|errors| anyhow::anyhow!(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))?;
    let mut codecs = Codecs::default();
    let codec_entries = prepared.install_codecs(&mut codecs);

    // Raw-first: whatever the journal holds beyond the archive is applied
    // before any new input is accepted.
    let applied = archive.applied_through()?;
    let journal_config = JournalConfig {
        pipeline_backlog_bytes: config.pipeline_backlog_bytes,
        ..JournalConfig::new(journal_dir(&config))
    };
    let journal = Journal::open(journal_config, applied + 1)?;
    let journal_damage = journal.damage().to_vec();
    let stage = Stage::new(archive.clone(), codecs);
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

    let (api_listener, api_addr) = transport::tcp::bind(config.api.listen)
        .await
        .with_context(|| format!("[api]: cannot listen on {}", config.api.listen))?;
    let accounting_store = Arc::new(
        AccountingStore::open(&accounting_dir(&config))
            .with_context(|| format!("cannot open the accounting database in {}", config.data_dir.display()))?,
    );
    let accounting = Arc::new(Accounting {
        store: accounting_store.clone(),
        default_zone: config.accounting.time_zone.clone(),
        wake: Default::default(),
    });
    let accounting_task = accounting::spawn(
        accounting::Consumer::new(archive.clone(), accounting_store, &config.accounting.time_zone)
            .with_tail_readings(config.accounting_tail_readings),
        accounting.wake.clone(),
        journal.health().clone(),
    );
    let accounting_wake_task =
        accounting::consumer::wake_on_archived(pipeline.archived.clone(), accounting.wake.clone());
    let auth = Arc::new(open_auth(&config)?);
    let commands = Arc::new(
        crate::commands::Commands::open(&config.data_dir, meterhub_storage::clock::now_ms())
            .with_context(|| format!("cannot open the command database in {}", config.data_dir.display()))?,
    );
    let publisher =
        Arc::new(Hub::new(archive.clone(), accounting.clone(), auth.clone(), StreamSettings::of(&config.web))?);
    let publisher_task = tokio::spawn(publisher.clone().run(pipeline.bus.subscribe(), auth.changes()));
    let live = LiveView::default();
    let alarm_store = Arc::new(
        crate::alarms::AlarmStore::open(&alarms_dir(&config))
            .with_context(|| format!("cannot open the alarm database in {}", config.data_dir.display()))?,
    );
    let alarms = Arc::new(crate::alarms::Alarms::open(alarm_store.clone(), accounting.clone(), publisher.clone())?);
    let form_store = Arc::new(
        crate::forms::FormStore::open(&crate::forms::store_dir(&config.data_dir))
            .with_context(|| format!("cannot open the forms database in {}", config.data_dir.display()))?,
    );
    let forms = Arc::new(crate::forms::Forms {
        catalog: Default::default(),
        store: form_store.clone(),
        journal: journal.clone(),
    });
    let center = Arc::new(crate::sync::center::Center::new(journal.clone(), archive.clone(), accounting.store.clone()));
    let sink_board = crate::sink::status::SinkBoard::default();
    let rates = api::rates::Rates::default();
    // Damage found before the stores opened stays in /health for this run.
    let damages = [
        ("archive", archive.damage()),
        ("accounting", accounting.store.damage().cloned()),
        ("users", auth.damage().cloned()),
        ("commands", commands.damage().cloned()),
        ("alarms", alarm_store.damage().cloned()),
        ("forms", form_store.damage().cloned()),
    ];
    let damages = damages.into_iter().filter_map(|(store, damage)| Some((store, damage?)));
    for (store, damage) in journal_damage.into_iter().map(|damage| ("journal", damage)).chain(damages) {
        journal.health().damaged(store, &damage);
    }
    let scheduled = Arc::new(crate::reports::scheduled::Scheduled::new(&config.data_dir));
    let state = Arc::new(ApiState {
        archive: archive.clone(),
        pipeline: pipeline.clone(),
        live: live.clone(),
        journal: journal.stats().clone(),
        health: journal.health().clone(),
        started,
        rates: rates.clone(),
        accounting: accounting.clone(),
        auth: auth.clone(),
        publisher,
        gates: gates.clone(),
        sinks: sink_board.clone(),
        center: center.clone(),
        commands: commands.clone(),
        alarms: alarms.clone(),
        diagrams: Default::default(),
        scheduled: scheduled.clone(),
        forms,
    });
    let rates_task = tokio::spawn(api::rates::sample(archive.clone(), rates));
    let api_gate = gates.gate("api", config.api.limits, true);
    let api_tls_task = match &config.api.tls {
        Some(tls) => {
            let server = crate::tls::server_config(&tls.cert_file, &tls.key_file)
                .map_err(|e| anyhow::anyhow!("[api] tls_listen: {e}"))?;
            let (listener, addr) = transport::tcp::bind(tls.listen)
                .await
                .with_context(|| format!("[api]: cannot listen on {} (tls_listen)", tls.listen))?;
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
            tracing::info!(address = %addr, "api listening over HTTPS");
            Some(tokio::spawn(api::serve(state.clone(), listener, api_gate.clone(), Some(acceptor))))
        }
        None => None,
    };
    let api_task = tokio::spawn(api::serve(state, api_listener, api_gate, None));
    tracing::info!(address = %api_addr, "api listening");

    let alarms_wake = Arc::new(tokio::sync::Notify::new());
    let alarms_wake_task = accounting::consumer::wake_on_archived(pipeline.archived.clone(), alarms_wake.clone());
    let alarm_sources = crate::alarms::watch::Sources {
        archive: archive.clone(),
        accounting: accounting.clone(),
        live: live.clone(),
        sinks: sink_board.clone(),
        auth: auth.clone(),
    };
    let alarms_task = crate::alarms::watch::spawn(alarms, alarm_sources, alarms_wake, journal.health().clone());
    let reports_task = crate::reports::scheduled::spawn(scheduled, archive.clone(), accounting.clone(), live.clone());
    let sinks = crate::sink::Sinks::new(
        archive.clone(),
        accounting.store.clone(),
        pipeline.archived.clone(),
        sink_board,
        center,
    );
    let services = DriverServices { journal: journal.clone(), commands: commands.clone() };
    let mut host = Host::new(&prepared, services, pipeline, live, codec_entries, gates, sinks);
    let run_file = run_file(&config);
    let write_run_file = move |host: &Host| {
        let info = RunInfo { pid: std::process::id(), api: api_addr.to_string(), drivers: host.addresses() };
        let written = serde_json::to_vec_pretty(&info)
            .map_err(std::io::Error::other)
            .and_then(|bytes| meterhub_storage::files::write_atomically(&run_file, &bytes));
        if let Err(e) = written {
            tracing::error!(error = %e, "cannot write run.json; `meterhub status` will not find this host");
        }
    };
    host.commit(prepared, &write_run_file).await;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "meterhub is running");

    let reconciler = Reconciler::new(host, text, limits(&config), Box::new(write_run_file));
    let mut host = reconciler.run(stop).await;
    tracing::info!("stopping: no new input; committing what was received");
    host.stop_all();
    api_task.abort();
    if let Some(task) = api_tls_task {
        task.abort();
    }
    rates_task.abort();
    accounting_task.abort();
    accounting_wake_task.abort();
    alarms_task.abort();
    reports_task.abort();
    alarms_wake_task.abort();
    publisher_task.abort();
    let _ = std::fs::remove_file(crate::auth::local_token::path(&config.data_dir));
    journal.shutdown().await;
    let _ = pipeline_task.await;
    // What the archive holds durably, the journal need not keep.
    if archive.flush().is_ok()
        && let Ok(applied) = archive.applied_through()
    {
        let discarded = Journal::open(JournalConfig::new(journal_dir(&config)), applied + 1)
            .and_then(|journal| journal.discard_applied(applied));
        match discarded {
            Ok(segments) => tracing::debug!(segments, applied, "journal segments already archived deleted"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot delete the journal segments already archived; the next start does")
            }
        }
    }
    // Sealed at a clean stop: the next start tells damage from a clean stop.
    tokio::task::block_in_place(|| {
        archive.close();
        accounting.store.close();
        auth.close();
        commands.close();
        alarm_store.close();
        form_store.close();
    });
    let _ = std::fs::remove_file(crate::app::run_file(&config));
    tracing::info!("stopped");
    Ok(())
}

/// The users-and-rights service on `<data_dir>/users`, with a fresh local
/// admin token written for the command line; says at start how to make the
/// first admin when there is no user, and warns about insecure cookies.
/// The copies of `dir` kept by [`meterhub_storage::integrity::check`]
/// (`<dir>.damaged-<ms>` beside it), oldest first.
fn damaged_copies(dir: &Path) -> Vec<PathBuf> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return Vec::new() };
    let prefix = format!("{}.damaged-", name.to_string_lossy());
    let mut copies: Vec<PathBuf> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    copies.sort();
    copies
}

fn open_auth(config: &Config) -> anyhow::Result<Auth> {
    let token = crate::auth::local_token::create(&config.data_dir)
        .with_context(|| format!("cannot write {}", crate::auth::local_token::path(&config.data_dir).display()))?;
    let auth = Auth::open(&config.data_dir, AuthSettings::of(&config.web), Some(token))
        .with_context(|| format!("cannot open the user database in {}", config.data_dir.display()))?;
    if !config.web.cookie_secure {
        tracing::warn!(
            "[web] cookie_secure = false: session cookies go over plain HTTP and can be read on the network; use it only on a trusted LAN"
        );
    }
    if auth.first_run()? {
        // A user database found damaged (now or at an earlier start) that
        // holds no user is never taken for a first run: that would lock
        // every user out without a word.
        let users = crate::auth::service::users_dir(&config.data_dir);
        if let Some(kept) = damaged_copies(&users).first() {
            anyhow::bail!(
                "the user database {} holds no users, and it was found damaged (its files as found are kept in {}): \
                 restore it from a backup, or, to start without users, move {} away and create the first admin with \
                 `meterhub user add <name> --role admin -c {}`",
                users.display(),
                kept.display(),
                kept.display(),
                config.file.display()
            );
        }
        tracing::warn!(
            "no users yet: create the first admin with `meterhub user add <name> --role admin -c {}` (the API answers 401 until someone logs in)",
            config.file.display()
        );
    }
    Ok(auth)
}

/// Register SIGTERM and SIGINT now, at start (a signal that came before
/// registration would end the process without committing what it holds),
/// and return what ends on the first of them.
fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let register = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| tracing::warn!(error = %e, "cannot listen for {name}")).ok()
    };
    let (mut term, mut int) =
        (register(SignalKind::terminate(), "SIGTERM"), register(SignalKind::interrupt(), "SIGINT"));
    async fn received(signal: &mut Option<Signal>) {
        match signal {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    async move {
        tokio::select! {
            _ = received(&mut term) => {}
            _ = received(&mut int) => {}
        }
    }
}

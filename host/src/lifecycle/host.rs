//! The running host's driver instances, and the one way they change:
//! [`Host::prepare`] makes everything a change needs (plugin instances,
//! listeners) and fails without touching what runs; [`Host::commit`] then
//! switches over and cannot fail. The start is a change from nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::plan::{self, Change, DriverPlan, Part, RunningSpec, TransportPlan};
use super::view::{AppliedChange, ConfigChange, LiveView, RefusedChange};
use crate::config::{Config, Diagnostic, TransportConfig};
use crate::lifecycle::view::{DriverStatus, PluginStatus};
use crate::pipeline::{CodecSlot, Codecs, PipelineHandle, RedecodeSelection, Routes};
use crate::plugin::Catalog;
use crate::plugin::supervisor::{InstanceEntry, Supervised};
use crate::transport::{self, DriverRuntime};
use meterhub_storage::archive::Archive;
use meterhub_storage::journal::JournalHandle;

/// What asked for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The host starts: a change from nothing.
    Start,
    /// The configuration file changed (or SIGHUP, or a rollback).
    Config,
    /// The plugins folder changed.
    Plugins,
}

impl Trigger {
    /// The name shown in status and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Config => "config",
            Trigger::Plugins => "plugins",
        }
    }
}

/// One running driver instance.
struct RunningDriver {
    spec: RunningSpec,
    /// The runtime new sessions go to; `None` when the driver does not run.
    runtime: Option<Arc<DriverRuntime>>,
    /// Feeds the transport its runtime; dropping it stops the transport.
    slot: Option<watch::Sender<Arc<DriverRuntime>>>,
    /// The bound listener (tcp, http), kept to hand over to a successor.
    listener: Option<Arc<TcpListener>>,
    /// Bound address or URL; empty when not running.
    address: String,
    driver_entry: InstanceEntry,
    codec_entry: InstanceEntry,
    /// The codec instances its device routes name besides its own.
    routed_entries: Vec<InstanceEntry>,
    /// Its fetch session's counters, when it has one.
    fetch: Option<Arc<transport::fetch::FetchStats>>,
}

impl RunningDriver {
    /// Stop accepting and drain the sessions; they finish on their own.
    fn stop(&mut self) {
        self.slot = None;
        self.listener = None;
        self.fetch = None;
        if let Some(rt) = self.runtime.take() {
            rt.drain();
        }
        self.address.clear();
    }
}

/// What the codec of a driver instance becomes.
enum CodecChange {
    Keep,
    Set(CodecSlot, InstanceEntry),
}

/// What the device routes of a driver instance become (`None`: it has none).
enum RoutesChange {
    Keep,
    Set(Option<Routes>, Vec<InstanceEntry>),
}

/// The status entries of the codec instances installed for one driver
/// instance, before its runtime starts.
#[derive(Default)]
pub struct CodecEntries {
    codec: Option<InstanceEntry>,
    routed: Option<Vec<InstanceEntry>>,
}

/// Everything one driver instance needs for a change, made in advance.
/// A plugin instance that could not be made is `Part::Missing` in the plan.
struct Ready {
    plan: DriverPlan,
    driver: Option<Supervised>,
    codec: CodecChange,
    routes: RoutesChange,
    listener: Option<(Arc<TcpListener>, SocketAddr)>,
}

/// A prepared change: nothing running has been touched yet.
pub struct Prepared {
    config: Config,
    catalog: Arc<Catalog>,
    archive: Arc<dyn Archive>,
    trigger: Trigger,
    ready: Vec<Ready>,
    removed: Vec<String>,
    started: Instant,
}

impl Prepared {
    /// Move the new codec instances into `codecs` (at start, before the
    /// pipeline runs); returns the status entries to keep.
    pub fn install_codecs(&mut self, codecs: &mut Codecs) -> BTreeMap<String, CodecEntries> {
        let mut entries: BTreeMap<String, CodecEntries> = BTreeMap::new();
        for r in &mut self.ready {
            let id = &r.plan.config.id;
            if let CodecChange::Set(slot, entry) = std::mem::replace(&mut r.codec, CodecChange::Keep) {
                codecs.set(id, slot);
                entries.entry(id.clone()).or_default().codec = Some(entry);
            }
            if let RoutesChange::Set(routes, routed) = std::mem::replace(&mut r.routes, RoutesChange::Keep) {
                codecs.set_routes(id, routes);
                entries.entry(id.clone()).or_default().routed = Some(routed);
            }
        }
        entries
    }
}

/// What every driver instance's sessions share: the journal their frames
/// are committed to, and the commands queued for their devices.
#[derive(Clone)]
pub struct DriverServices {
    /// Where frames are committed.
    pub journal: JournalHandle,
    /// Commands for devices.
    pub commands: Arc<crate::commands::Commands>,
}

/// The running host's driver instances.
pub struct Host {
    config: Config,
    catalog: Arc<Catalog>,
    archive: Arc<dyn Archive>,
    drivers: BTreeMap<String, RunningDriver>,
    services: DriverServices,
    pipeline: PipelineHandle,
    view: LiveView,
    /// Codec entries installed before the pipeline ran (at start).
    preinstalled: BTreeMap<String, CodecEntries>,
    /// Connection limits and counters of every listener.
    gates: Arc<meterhub_http::Gates>,
    /// The sink instances (and, at a center, its sites).
    sinks: crate::sink::Sinks,
}

fn diag(config: &Config, at: crate::config::Pos, message: String) -> Diagnostic {
    Diagnostic::new(&config.file, at, message)
}

impl Host {
    /// Prepare the start: every instance and listener `config` asks for.
    pub async fn prepare_start(
        config: Config,
        catalog: Arc<Catalog>,
        archive: Arc<dyn Archive>,
    ) -> Result<Prepared, Vec<Diagnostic>> {
        prepare(&BTreeMap::new(), BTreeMap::new(), config, catalog, archive, Trigger::Start).await
    }

    /// A host with nothing running yet, whose first [`commit`](Self::commit)
    /// is the prepared start.
    pub fn new(
        prepared_start: &Prepared,
        services: DriverServices,
        pipeline: PipelineHandle,
        view: LiveView,
        preinstalled: BTreeMap<String, CodecEntries>,
        gates: Arc<meterhub_http::Gates>,
        sinks: crate::sink::Sinks,
    ) -> Self {
        Host {
            config: prepared_start.config.clone(),
            catalog: prepared_start.catalog.clone(),
            archive: prepared_start.archive.clone(),
            drivers: BTreeMap::new(),
            services,
            pipeline,
            view,
            preinstalled,
            gates,
            sinks,
        }
    }

    /// The configuration in effect.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The plugins in use.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Bound addresses (or URLs) of running drivers, by instance id.
    pub fn addresses(&self) -> BTreeMap<String, String> {
        self.drivers
            .iter()
            .filter(|(_, d)| !d.address.is_empty())
            .map(|(id, d)| (id.clone(), d.address.clone()))
            .collect()
    }

    /// Prepare a change to `config` and `catalog`. A configuration change
    /// that needs a restart, names a plugin that cannot be had, or a listen
    /// address that cannot be bound is refused here, with every error.
    pub async fn prepare(
        &self,
        config: Config,
        catalog: Arc<Catalog>,
        trigger: Trigger,
    ) -> Result<Prepared, Vec<Diagnostic>> {
        let restart_only: Vec<Diagnostic> = self
            .config
            .restart_only_changes(&config)
            .into_iter()
            .map(|(key, was, now)| {
                let at = config.positions.get(key).copied().unwrap_or(crate::config::Pos { line: 1, col: 1 });
                diag(
                    &config,
                    at,
                    format!("`{key}` changed ({was} -> {now}): it takes effect only when meterhub restarts; the change was refused"),
                )
            })
            .collect();
        if !restart_only.is_empty() {
            return Err(restart_only);
        }
        // A configuration naming a sink that cannot run is refused; a plugin
        // taken out of the folder makes its sinks wait instead (as drivers).
        let sinks = if trigger == Trigger::Config { self.sinks.refusals(&config, &catalog) } else { Vec::new() };
        if !sinks.is_empty() {
            return Err(sinks);
        }
        let running: BTreeMap<String, RunningSpec> =
            self.drivers.iter().map(|(id, d)| (id.clone(), d.spec.clone())).collect();
        let listeners = self
            .drivers
            .values()
            .filter_map(|d| Some((d.spec.config.transport.listen()?, d.listener.clone()?)))
            .filter(|(addr, _)| addr.port() != 0)
            .collect();
        prepare(&running, listeners, config, catalog, self.archive.clone(), trigger).await
    }

    /// Switch over to `prepared`. Codecs change first, so frames of new
    /// driver instances decode with their new codec; then transports and
    /// driver runtimes; then what was removed stops. Frames quarantined
    /// under a replaced codec are decoded again with the new one.
    /// `announce` runs before the new generation is published (it rewrites
    /// `run.json`, so the addresses there are current once it shows).
    pub async fn commit(&mut self, mut prepared: Prepared, announce: &(dyn Fn(&Host) + Send + Sync)) {
        let mut changes = Vec::new();
        let mut redecode = Vec::new();
        let mut codec_entries = std::mem::take(&mut self.preinstalled);
        for r in &mut prepared.ready {
            let id = r.plan.config.id.clone();
            let mut replaced = false;
            if let CodecChange::Set(slot, entry) = std::mem::replace(&mut r.codec, CodecChange::Keep) {
                replaced |= matches!(slot, CodecSlot::Ready(_));
                if let Err(e) = self.pipeline.set_codec(&id, slot).await {
                    tracing::error!(driver = %id, error = %e, "codec not replaced");
                }
                codec_entries.entry(id.clone()).or_default().codec = Some(entry);
            }
            if let RoutesChange::Set(routes, routed) = std::mem::replace(&mut r.routes, RoutesChange::Keep) {
                replaced = true;
                if let Err(e) = self.pipeline.set_routes(&id, routes).await {
                    tracing::error!(driver = %id, error = %e, "device routes not replaced");
                }
                codec_entries.entry(id.clone()).or_default().routed = Some(routed);
            }
            if replaced && prepared.trigger != Trigger::Start {
                redecode.push(id);
            }
        }
        for r in prepared.ready {
            let id = r.plan.config.id.clone();
            let entries = codec_entries.remove(&id).unwrap_or_default();
            changes.extend(describe(&r, &prepared.catalog));
            let old = self.drivers.remove(&id);
            let driver = self.switch(r, old, entries);
            self.drivers.insert(id, driver);
        }
        for id in &prepared.removed {
            if let Some(mut d) = self.drivers.remove(id) {
                d.stop();
                let reason = format!("driver instance {id:?} was removed from the configuration");
                if let Err(e) = self.pipeline.set_codec(id, CodecSlot::Unavailable(reason)).await {
                    tracing::error!(driver = %id, error = %e, "codec not removed");
                }
                if let Err(e) = self.pipeline.set_routes(id, None).await {
                    tracing::error!(driver = %id, error = %e, "device routes not removed");
                }
                changes.push(format!("{id}: removed"));
            }
        }
        changes.extend(self.sinks.apply(&prepared.config, &prepared.catalog));
        let apply_ms = prepared.started.elapsed().as_secs_f64() * 1000.0;
        self.config = prepared.config;
        self.catalog = prepared.catalog;
        for change in &changes {
            tracing::info!(trigger = prepared.trigger.as_str(), %change, "applied");
        }
        tracing::info!(trigger = prepared.trigger.as_str(), changes = changes.len(), apply_ms, "change applied");
        // Addresses first: whoever sees the new generation finds them current.
        announce(self);
        self.publish(Some(AppliedChange {
            trigger: prepared.trigger.as_str(),
            at_ms: meterhub_storage::clock::now_ms(),
            apply_ms,
            changes,
        }));
        for source in redecode {
            let pipeline = self.pipeline.clone();
            tokio::spawn(async move {
                match pipeline.redecode(RedecodeSelection::QuarantinedFrom { source: source.clone() }).await {
                    Ok(report) if report.frames > 0 => {
                        tracing::info!(driver = %source, ?report, "quarantined frames decoded again with the new codec")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(driver = %source, error = %e, "re-decode after a codec change failed"),
                }
            });
        }
    }

    /// Record a refused change: the last good configuration keeps running.
    pub fn refused(&self, trigger: Trigger, errors: &[String]) {
        for error in errors {
            tracing::error!(trigger = trigger.as_str(), %error, "change refused; the running configuration stays");
        }
        let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
        let refused = RefusedChange {
            trigger: trigger.as_str(),
            at_ms: meterhub_storage::clock::now_ms(),
            errors: errors.to_vec(),
        };
        view.config.remember(ConfigChange::Refused(refused.clone()));
        view.config.last_error = Some(refused);
    }

    /// Count one more look at the configuration file (`ConfigStatus::checks`).
    pub fn checked(&self) {
        self.view.write().unwrap_or_else(|e| e.into_inner()).config.checks += 1;
    }

    /// Stop every driver instance (at shutdown).
    pub fn stop_all(&mut self) {
        for d in self.drivers.values_mut() {
            d.stop();
        }
        self.sinks.stop_all();
    }

    fn switch(&mut self, r: Ready, old: Option<RunningDriver>, entries: CodecEntries) -> RunningDriver {
        let c = &r.plan.config;
        let fingerprint = |part: &Part, old: Option<&Option<String>>| match part {
            Part::Keep => old.cloned().flatten(),
            Part::New(p) => Some(p.fingerprint.clone()),
            Part::Missing(_) => None,
        };
        let spec = RunningSpec {
            config: c.clone(),
            driver: fingerprint(&r.plan.driver, old.as_ref().map(|o| &o.spec.driver)),
            codec: fingerprint(&r.plan.codec, old.as_ref().map(|o| &o.spec.codec)),
            routed: match &r.plan.routed {
                Part::New(wanted) => {
                    wanted.iter().map(|(id, p)| (id.clone(), p.as_ref().ok().map(|p| p.fingerprint.clone()))).collect()
                }
                _ => old.as_ref().map(|o| o.spec.routed.clone()).unwrap_or_default(),
            },
        };
        let routed_entries =
            entries.routed.or_else(|| old.as_ref().map(|o| o.routed_entries.clone())).unwrap_or_default();
        let codec_entry = entries
            .codec
            .or_else(|| old.as_ref().map(|o| o.codec_entry.clone()))
            .unwrap_or_else(|| InstanceEntry::unavailable(&c.id, "codec", &c.codec, "no codec instance".to_owned()));
        let mut old = old;
        // The runtime new sessions go to.
        let (runtime, driver_entry) = match (r.driver, &r.plan.driver) {
            (Some(instance), _) => {
                let entry = InstanceEntry::of(&c.id, "driver", &instance);
                let rt = Arc::new(DriverRuntime::new(
                    &c.id,
                    &c.plugin,
                    Box::new(instance),
                    self.services.clone(),
                    c.max_pending,
                ));
                (Some(rt), entry)
            }
            (None, Part::Missing(reason)) => {
                (None, InstanceEntry::unavailable(&c.id, "driver", &c.plugin, reason.clone()))
            }
            (None, _) => {
                let o = old.as_ref().expect("a kept driver was running");
                (o.runtime.clone(), o.driver_entry.clone())
            }
        };
        let Some(runtime) = runtime else {
            if let Some(o) = old.as_mut() {
                o.stop();
            }
            return RunningDriver {
                spec,
                runtime: None,
                slot: None,
                listener: None,
                address: String::new(),
                driver_entry,
                codec_entry,
                routed_entries,
                fetch: None,
            };
        };
        if r.plan.transport == TransportPlan::Keep
            && let Some(mut o) = old.take_if(|o| o.slot.is_some())
            && let Some(slot) = o.slot.take()
        {
            // Same transport: the listener keeps accepting; new sessions go
            // to the new runtime, the old one drains.
            if let Some(previous) = o.runtime.take()
                && !Arc::ptr_eq(&previous, &runtime)
            {
                slot.send_replace(runtime.clone());
                previous.drain();
            }
            return RunningDriver {
                spec,
                runtime: Some(runtime),
                slot: Some(slot),
                listener: o.listener.take(),
                address: std::mem::take(&mut o.address),
                driver_entry,
                codec_entry,
                routed_entries,
                fetch: o.fetch.take(),
            };
        }
        // A new transport; the old one (if any) stops once the new one runs.
        let (slot, receiver) = watch::channel(runtime.clone());
        let (listener, address) = match (&c.transport, r.listener) {
            (TransportConfig::Tcp { limits, .. }, Some((listener, bound))) => {
                let gate = self.gates.gate(&c.id, *limits, false);
                tokio::spawn(transport::tcp::serve(receiver, listener.clone(), gate));
                (Some(listener), bound.to_string())
            }
            (TransportConfig::Http { max_body_bytes, request_timeout_ms, limits, .. }, Some((listener, bound))) => {
                let http_limits = transport::http::HttpLimits {
                    max_body_bytes: *max_body_bytes,
                    request_timeout: std::time::Duration::from_millis(u64::from(*request_timeout_ms)),
                };
                let gate = self.gates.gate(&c.id, *limits, false);
                tokio::spawn(transport::http::serve(receiver, listener.clone(), http_limits, gate));
                (Some(listener), bound.to_string())
            }
            (TransportConfig::Websocket { url, reconnect_min_ms, reconnect_max_ms, idle_timeout_ms }, _) => {
                let backoff = crate::backoff::Backoff {
                    min: std::time::Duration::from_millis(u64::from(*reconnect_min_ms)),
                    max: std::time::Duration::from_millis(u64::from(*reconnect_max_ms)),
                };
                let idle = std::time::Duration::from_millis(u64::from(*idle_timeout_ms));
                tokio::spawn(transport::websocket::run(receiver, url.clone(), backoff, idle));
                (None, url.clone())
            }
            (TransportConfig::Mqtt(mqtt), _) => {
                tokio::spawn(transport::mqtt::run(receiver, mqtt.clone()));
                (None, mqtt.url.clone())
            }
            (_, None) => unreachable!("prepare binds every server transport it starts"),
        };
        let fetch = c
            .fetch
            .as_ref()
            .filter(|_| self.catalog.loaded.get(&c.plugin).is_some_and(|p| p.manifest.capabilities.fetch));
        let fetch = fetch.map(|fetch| {
            let stats = Arc::new(transport::fetch::FetchStats::new(&fetch.url));
            tokio::spawn(transport::fetch::run(slot.subscribe(), fetch.clone(), stats.clone()));
            stats
        });
        if let Some(mut o) = old {
            // Its sessions go on if the runtime is kept; the old listener
            // closes unless the new transport took it over.
            if o.runtime.as_ref().is_some_and(|previous| Arc::ptr_eq(previous, &runtime)) {
                o.runtime = None;
            }
            o.stop();
        }
        tracing::info!(driver = %c.id, plugin = %c.plugin, transport = c.transport.name(), %address, "driver started");
        RunningDriver {
            spec,
            runtime: Some(runtime),
            slot: Some(slot),
            listener,
            address,
            driver_entry,
            codec_entry,
            routed_entries,
            fetch,
        }
    }

    /// Publish the running state to the API.
    fn publish(&self, applied: Option<AppliedChange>) {
        let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
        view.plugins = self
            .catalog
            .loaded
            .values()
            .map(|p| {
                let mut status = PluginStatus::of(&p.manifest);
                status.sha256 = p.file_sha256.clone();
                status
            })
            .collect();
        view.refused = self.catalog.refused.clone();
        view.drivers = self
            .drivers
            .values()
            .map(|d| DriverStatus {
                id: d.spec.config.id.clone(),
                plugin: d.spec.config.plugin.clone(),
                codec: d.spec.config.codec.clone(),
                transport: d.spec.config.transport.name(),
                address: d.address.clone(),
                running: d.runtime.is_some(),
                fetch: d.fetch.clone(),
            })
            .collect();
        // A driver that names no codec and plays no codec role (a LoRaWAN
        // driver whose devices decode by route) has no codec to show.
        let without_codec = |c: &crate::config::DriverConfig| {
            c.codec == c.plugin
                && self.catalog.loaded.get(&c.plugin).is_some_and(|p| !p.has_role(meterhub_plugin_api::Role::Codec))
        };
        view.instances = self
            .drivers
            .values()
            .flat_map(|d| {
                let codec = (!without_codec(&d.spec.config)).then(|| d.codec_entry.clone());
                std::iter::once(d.driver_entry.clone()).chain(codec).chain(d.routed_entries.clone())
            })
            .chain(self.sinks.entries())
            .collect();
        view.config.file = self.config.file.display().to_string();
        view.accounting = self.config.accounting.clone();
        view.alarms = self.config.alarms.clone();
        view.reports = self.config.reports.clone();
        view.diagrams_dir = self.config.diagrams_dir.clone();
        view.forms_dir = self.config.forms_dir.clone();
        if let Some(applied) = applied {
            view.config.generation += 1;
            view.config.remember(ConfigChange::Applied(applied.clone()));
            view.config.last_applied = Some(applied);
            view.config.last_error = None;
        }
    }
}

/// The codec instances the device routes of `c` name besides its own; a
/// plugin whose instance cannot be made becomes the reason in `wanted`, so
/// the running spec records it missing.
fn routed_codecs(
    c: &crate::config::DriverConfig,
    wanted: &mut [(String, Result<Arc<crate::plugin::LoadedPlugin>, String>)],
    config: &Config,
) -> (Option<Routes>, Vec<InstanceEntry>) {
    if c.devices.is_empty() {
        return (None, Vec::new());
    }
    let mut codecs = std::collections::HashMap::new();
    let mut entries = Vec::new();
    for (id, plugin) in wanted.iter_mut() {
        let made = match plugin {
            Ok(p) => crate::plugin::factory::supervised(p, c.routed_codec_settings(id), config)
                .map_err(|e| format!("codec plugin {id:?}: {e}")),
            Err(reason) => Err(reason.clone()),
        };
        match made {
            Ok(instance) => {
                entries.push(InstanceEntry::of(&c.id, "codec", &instance));
                codecs.insert(id.clone(), CodecSlot::Ready(Box::new(instance)));
            }
            Err(reason) => {
                let reason = format!("codec unavailable: {reason}");
                entries.push(InstanceEntry::unavailable(&c.id, "codec", id, reason.clone()));
                codecs.insert(id.clone(), CodecSlot::Unavailable(reason.clone()));
                *plugin = Err(reason);
            }
        }
    }
    (Some(Routes { default_codec: c.codec.clone(), routes: c.devices.clone(), codecs }), entries)
}

fn unavailable_codec(c: &crate::config::DriverConfig, reason: &str) -> CodecChange {
    let reason = format!("codec unavailable: {reason}");
    CodecChange::Set(
        CodecSlot::Unavailable(reason.clone()),
        InstanceEntry::unavailable(&c.id, "codec", &c.codec, reason),
    )
}

/// One line per thing that changes for driver instance `r`.
fn describe(r: &Ready, catalog: &Catalog) -> Vec<String> {
    let c = &r.plan.config;
    let version = |id: &str| {
        catalog
            .loaded
            .get(id)
            .map_or_else(String::new, |p| format!(" {} ({})", p.manifest.version, &p.file_sha256[..12]))
    };
    let mut lines = Vec::new();
    match (&r.plan.change, &r.plan.driver) {
        (_, Part::Missing(reason)) => lines.push(format!("{}: not running: {reason}", c.id)),
        (Change::Added, _) => lines.push(format!("{}: added ({} on {})", c.id, c.plugin, c.transport.name())),
        (Change::Changed, _) => lines.push(format!("{}: configuration changed", c.id)),
        (Change::Same, _) => {}
    }
    if r.driver.is_some() && r.plan.change == Change::Same {
        lines.push(format!("{}: driver now {}{}", c.id, c.plugin, version(&c.plugin)));
    }
    if let CodecChange::Set(slot, _) = &r.codec
        && r.plan.change == Change::Same
    {
        lines.push(match slot {
            CodecSlot::Ready(_) => format!("{}: codec now {}{}", c.id, c.codec, version(&c.codec)),
            CodecSlot::Unavailable(reason) => format!("{}: codec unavailable: {reason}", c.id),
        });
    }
    if let Part::New(wanted) = &r.plan.routed
        && r.plan.change == Change::Same
    {
        let now: Vec<String> = wanted
            .iter()
            .map(|(id, p)| match p {
                Ok(_) => format!("{id}{}", version(id)),
                Err(reason) => format!("{id} unavailable: {reason}"),
            })
            .collect();
        lines.push(format!("{}: device route codecs now {}", c.id, now.join("; ")));
    }
    if r.listener.is_some() && r.plan.change == Change::Same {
        lines.push(format!("{}: listening again", c.id));
    }
    lines
}

/// Make what the plan needs. `listeners` are the running ones by configured
/// address, handed over to a new transport on the same address.
async fn prepare(
    running: &BTreeMap<String, RunningSpec>,
    listeners: BTreeMap<SocketAddr, Arc<TcpListener>>,
    config: Config,
    catalog: Arc<Catalog>,
    archive: Arc<dyn Archive>,
    trigger: Trigger,
) -> Result<Prepared, Vec<Diagnostic>> {
    let started = Instant::now();
    let plan = plan::plan(running, &config, &catalog);
    // A configuration change must name plugins that can be had; at start and
    // when the plugins folder changes, a driver without its plugin waits.
    let strict = trigger == Trigger::Config;
    let mut errors = Vec::new();
    let mut ready = Vec::new();
    for mut p in plan.drivers {
        let c = p.config.clone();
        let judged = strict && p.change != Change::Same;
        let driver = match &p.driver {
            Part::Keep => None,
            Part::Missing(reason) => {
                if judged {
                    errors.push(diag(&config, c.plugin_pos, reason.clone()));
                }
                None
            }
            Part::New(plugin) => {
                match crate::plugin::factory::supervised_driver(plugin, &c.driver_settings(), &c.id, &archive, &config)
                {
                    Ok(instance) => Some(instance),
                    Err(e) => {
                        p.driver = Part::Missing(format!("plugin {:?}: {e}", c.plugin));
                        if judged {
                            errors.push(diag(&config, c.settings_pos, format!("plugin {:?}: {e}", c.plugin)));
                        }
                        None
                    }
                }
            }
        };
        let codec = match &p.codec {
            Part::Keep => CodecChange::Keep,
            Part::Missing(reason) => {
                if judged && c.codec != c.plugin {
                    errors.push(diag(&config, c.codec_pos, reason.clone()));
                }
                unavailable_codec(&c, reason)
            }
            Part::New(plugin) => match crate::plugin::factory::supervised(plugin, &c.codec_settings(), &config) {
                Ok(instance) => {
                    let entry = InstanceEntry::of(&c.id, "codec", &instance);
                    CodecChange::Set(CodecSlot::Ready(Box::new(instance)), entry)
                }
                Err(e) => {
                    let reason = format!("codec plugin {:?}: {e}", c.codec);
                    if judged && c.codec != c.plugin {
                        errors.push(diag(&config, c.settings_pos, reason.clone()));
                    }
                    p.codec = Part::Missing(reason.clone());
                    unavailable_codec(&c, &reason)
                }
            },
        };
        let routes = match &mut p.routed {
            Part::New(wanted) => {
                let (routes, entries) = routed_codecs(&c, wanted, &config);
                if judged {
                    for (id, reason) in wanted.iter().filter_map(|(id, p)| Some((id, p.as_ref().err()?))) {
                        let route = c.devices.iter().find(|r| &r.codec == id).expect("routed codecs come from routes");
                        errors.push(diag(&config, route.pos, reason.clone()));
                    }
                }
                RoutesChange::Set(routes, entries)
            }
            _ => RoutesChange::Keep,
        };
        if matches!(p.driver, Part::Missing(_)) {
            p.transport = TransportPlan::Off;
        }
        if let Some(fetch) = &c.fetch
            && let Some(plugin) = catalog.loaded.get(&c.plugin)
            && !plugin.manifest.capabilities.fetch
        {
            let reason = format!(
                "plugin {:?} does not declare capability `fetch` in its plugin.toml: it cannot use [drivers.{}.fetch]",
                c.plugin, c.id
            );
            if judged {
                errors.push(diag(&config, fetch.url_pos, reason));
            } else {
                tracing::error!(driver = %c.id, %reason, "no fetch session");
            }
        }
        let mut listener = None;
        if p.transport == TransportPlan::Start
            && let Some(listen) = c.transport.listen()
        {
            match listeners.get(&listen) {
                Some(taken_over) => listener = Some((taken_over.clone(), taken_over.local_addr().unwrap_or(listen))),
                None => match transport::tcp::bind(listen).await {
                    Ok((l, bound)) => listener = Some((Arc::new(l), bound)),
                    Err(e) => {
                        let reason = format!("cannot listen on {listen}: {e}");
                        if trigger == Trigger::Plugins {
                            p.driver = Part::Missing(reason);
                            p.transport = TransportPlan::Off;
                        } else {
                            errors.push(diag(&config, c.transport_pos, reason));
                        }
                    }
                },
            }
        }
        let driver = if matches!(p.driver, Part::Missing(_)) { None } else { driver };
        ready.push(Ready { plan: p, driver, codec, routes, listener });
    }
    if !errors.is_empty() {
        errors.sort_by_key(|d| (d.pos.line, d.pos.col));
        return Err(errors);
    }
    Ok(Prepared { config, catalog, archive, trigger, ready, removed: plan.removed, started })
}

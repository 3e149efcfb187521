//! `GET /api/v1/status` (what `meterhub status` prints) and `GET /metrics`
//! (Prometheus text format): plugin instances and per-source counters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use hyper::StatusCode;
use serde::Serialize;
use serde_json::json;

use super::state::ApiState;
use crate::plugin::supervisor::{InstanceState, InstanceStatus, OperatorRequest};
use meterhub_http::{self, HttpResponse};
use meterhub_storage::archive::{ArchiveError, SourceCounters};

/// One plugin instance in the status report.
#[derive(Debug, Serialize)]
pub struct InstanceView {
    /// `<driver instance>/<role>`.
    pub name: String,
    /// `driver` or `codec`.
    pub role: &'static str,
    /// Plugin id.
    pub plugin: String,
    /// `wasm` or `native`.
    pub kind: &'static str,
    /// Plugin version.
    pub version: String,
    /// Seconds since the instance was configured.
    pub uptime_s: i64,
    /// The live status.
    #[serde(flatten)]
    pub status: InstanceStatus,
}

fn instances(state: &ApiState) -> Vec<InstanceView> {
    let now = meterhub_storage::clock::now_ms();
    let view = state.view();
    view.instances
        .iter()
        .map(|entry| {
            let plugin = view.plugins.iter().find(|p| p.id == entry.plugin);
            let status = entry.snapshot();
            InstanceView {
                name: entry.name.clone(),
                role: entry.role,
                plugin: entry.plugin.clone(),
                kind: plugin.map_or("?", |p| p.kind),
                version: plugin.map_or_else(String::new, |p| p.version.clone()),
                uptime_s: (now - status.started_at_ms) / 1000,
                status,
            }
        })
        .collect()
}

/// `GET /api/v1/status`.
pub fn status(state: &ApiState) -> Result<HttpResponse, ArchiveError> {
    Ok(meterhub_http::json(
        StatusCode::OK,
        &json!({
            "instances": instances(state),
            "sinks": state.sinks.snapshot(),
            "sync": super::sync::links(state),
            "config": state.view().config,
            "sources": state.archive.counters()?,
            "not_stored": state.journal.not_stored(),
            "stores": state.health.problems(),
            "rates": *state.rates.lock().unwrap_or_else(|e| e.into_inner()),
            "applied_through": state.archive.applied_through()?,
            "uptime_s": state.started.elapsed().as_secs(),
        }),
    ))
}

/// `POST /api/v1/instances/{driver}/{role}/{restart|stop|start}`.
pub fn operator_request(state: &ApiState, driver: &str, role: &str, action: &str) -> HttpResponse {
    let request = match action {
        "restart" => OperatorRequest::Restart,
        "stop" => OperatorRequest::Stop,
        "start" => OperatorRequest::Start,
        other => {
            return meterhub_http::error(
                StatusCode::NOT_FOUND,
                &format!("no action {other:?}: use restart, stop or start"),
            );
        }
    };
    let name = format!("{driver}/{role}");
    let view = state.view();
    let Some(entry) = view.instances.iter().find(|e| e.name == name) else {
        let known: Vec<&str> = view.instances.iter().map(|e| e.name.as_str()).collect();
        return meterhub_http::error(
            StatusCode::NOT_FOUND,
            &format!("no instance {name:?} (known: {})", known.join(", ")),
        );
    };
    entry.request(request);
    tracing::info!(instance = %name, ?request, "operator request accepted");
    meterhub_http::json(
        StatusCode::ACCEPTED,
        &json!({"ok": true, "instance": name, "request": request, "note": "carried out at the instance's next call"}),
    )
}

/// A Prometheus label value, escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Reads one counter of an instance's status.
type InstanceCounter = fn(&InstanceStatus) -> u64;

/// Open alarms (active or not yet acknowledged), active and unacknowledged
/// ones, and alarms raised since start, by severity.
fn alarm_metrics(state: &ApiState, out: &mut String) {
    let open = state.alarms.open_for(&crate::auth::Principal::local_admin());
    let raised = state.alarms.raised();
    type Count = fn(&crate::alarms::Alarm) -> bool;
    let gauges: [(&str, &str, Count); 3] = [
        ("meterhub_alarms_open", "Alarms active or not yet acknowledged, by severity.", |_| true),
        ("meterhub_alarms_active", "Alarms whose condition holds, by severity.", |a| a.active()),
        ("meterhub_alarms_unacknowledged", "Open alarms no dispatcher acknowledged, by severity.", |a| {
            a.acknowledged.is_none()
        }),
    ];
    for (name, help, counts) in gauges {
        family(out, name, "gauge", help);
        for severity in raised.keys() {
            let n = open.iter().filter(|a| a.severity == *severity && counts(a)).count();
            let _ = writeln!(out, "{name}{{severity=\"{severity}\"}} {n}");
        }
    }
    let head = state.archive.log_head().unwrap_or(0);
    let judged = state.alarms.judged_through.load(std::sync::atomic::Ordering::Relaxed);
    family(out, "meterhub_alarms_lag_readings", "gauge", "Archived readings the alarm rules have yet to judge.");
    let _ = writeln!(out, "meterhub_alarms_lag_readings {}", head.saturating_sub(judged));
    family(out, "meterhub_alarms_raised_total", "counter", "Alarms raised since the host started, by severity.");
    for (severity, n) in &raised {
        let _ = writeln!(out, "meterhub_alarms_raised_total{{severity=\"{severity}\"}} {n}");
    }
}

/// The `# HELP` and `# TYPE` lines of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A latency histogram family, in seconds.
fn histogram(out: &mut String, name: &str, help: &str, h: &meterhub_storage::histogram::HistogramSnapshot) {
    family(out, name, "histogram", help);
    let bounds = meterhub_storage::histogram::BUCKETS_US.iter().map(|us| format!("{}", *us as f64 / 1e6));
    for (le, count) in bounds.chain(std::iter::once("+Inf".to_owned())).zip(&h.cumulative_buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_sum {}", h.sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// The connection counters of every listener (API, device ports, HTTP
/// ingress).
fn connection_metrics(out: &mut String, gates: &meterhub_http::Gates) {
    let (limit, reserve) = gates.budget().limits();
    family(out, "meterhub_open_files_limit", "gauge", "The open-file limit (raised to the hard limit at start).");
    let _ = writeln!(out, "meterhub_open_files_limit {limit}");
    let reserve_help = "File descriptors the ingest listeners leave free (host.fd_reserve).";
    family(out, "meterhub_open_files_reserve", "gauge", reserve_help);
    let _ = writeln!(out, "meterhub_open_files_reserve {reserve}");
    let listeners = gates.stats();
    let one = |n: u64| vec![(String::new(), n)];
    let each = |map: &BTreeMap<&'static str, u64>| map.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
    let families: [(&str, &str, &str, Option<&str>, ListenerValues); 6] = [
        ("meterhub_connections_open", "gauge", "Connections open per listener.", None, &|s| one(s.open)),
        ("meterhub_connections_accepted_total", "counter", "Connections admitted per listener.", None, &|s| {
            one(s.accepted)
        }),
        (
            "meterhub_connections_refused_total",
            "counter",
            "Connections closed at accept per listener, by reason (max_connections, max_per_peer, fd_reserve).",
            Some("reason"),
            &|s| each(&s.refused),
        ),
        (
            "meterhub_connections_timed_out_total",
            "counter",
            "Connections closed per listener because time ran out (idle, header, body).",
            Some("timeout"),
            &|s| each(&s.timed_out),
        ),
        (
            "meterhub_http_refusals_total",
            "counter",
            "HTTP answers of status 400 and above per listener, the parser's own (400, 414, 431) included.",
            Some("status"),
            &|s| s.refusals.iter().map(|(status, n)| (status.to_string(), *n)).collect(),
        ),
        (
            "meterhub_http_dropped_total",
            "counter",
            "HTTP connections dropped mid-request without an answer.",
            None,
            &|s| one(s.dropped),
        ),
    ];
    for (metric, kind, help, key, values) in families {
        family(out, metric, kind, help);
        for (listener, stats) in &listeners {
            for (value, n) in values(stats) {
                let extra = key.map_or_else(String::new, |key| format!(",{key}=\"{value}\""));
                let _ = writeln!(out, "{metric}{{listener=\"{}\"{extra}}} {n}", label(listener));
            }
        }
    }
}

/// Per sink: state, position, lag, and what it delivered, retried and rejected.
/// A center's sites: state, lag, what they sent.
fn site_metrics(out: &mut String, sites: &[crate::sync::center::SiteStatus]) {
    if sites.is_empty() {
        return;
    }
    type Value = fn(&crate::sync::center::SiteStatus) -> String;
    let families: [(&str, &str, &str, Value); 6] = [
        (
            "meterhub_sync_site_in_sync",
            "gauge",
            "1 while the site has nothing the center lacks and is heard from.",
            |s| u8::from(s.state == crate::sync::center::LinkState::InSync).to_string(),
        ),
        ("meterhub_sync_site_alarm", "gauge", "1 while the site's link is in alarm (silent too long).", |s| {
            u8::from(s.alarm.is_some()).to_string()
        }),
        ("meterhub_sync_site_lag_records", "gauge", "Records the site has that the center has not.", |s| {
            s.lag_records.to_string()
        }),
        ("meterhub_sync_site_lag_seconds", "gauge", "Age of the site's oldest record not at the center.", |s| {
            format!("{:.3}", s.lag_seconds)
        }),
        ("meterhub_sync_site_readings_total", "counter", "Readings stored from the site since the start.", |s| {
            s.readings.to_string()
        }),
        ("meterhub_sync_site_bytes_total", "counter", "Compressed batch bytes stored from the site.", |s| {
            s.bytes.to_string()
        }),
    ];
    for (metric, kind, help, value) in families {
        family(out, metric, kind, help);
        for site in sites {
            let _ = writeln!(out, "{metric}{{site=\"{}\"}} {}", label(&site.site), value(site));
        }
    }
}

fn sink_metrics(out: &mut String, sinks: &[crate::sink::status::SinkStatus]) {
    type Value = fn(&crate::sink::status::SinkStatus) -> String;
    let families: [(&str, &str, &str, Value); 9] = [
        (
            "meterhub_sink_lag_alarm",
            "gauge",
            "1 while the sink's oldest undelivered reading is older than its alarm_lag_seconds.",
            |s| u8::from(s.alarm.is_some()).to_string(),
        ),
        ("meterhub_sink_up", "gauge", "1 while the sink is running (delivering or caught up), else 0.", |s| {
            u8::from(s.state == crate::sink::status::SinkState::Running).to_string()
        }),
        ("meterhub_sink_position", "gauge", "The archive log sequence the sink delivered through.", |s| {
            s.position.unwrap_or(0).to_string()
        }),
        ("meterhub_sink_lag_records", "gauge", "Records of the archive log the sink has not delivered.", |s| {
            s.lag_records.to_string()
        }),
        ("meterhub_sink_lag_seconds", "gauge", "Age of the oldest reading the sink has not delivered.", |s| {
            format!("{:.3}", s.lag_seconds)
        }),
        ("meterhub_sink_delivered_total", "counter", "Records the sink wrote.", |s| s.delivered.to_string()),
        ("meterhub_sink_retries_total", "counter", "Attempts of the sink that failed and are tried again.", |s| {
            s.retried.to_string()
        }),
        ("meterhub_sink_rejected_total", "counter", "Records the sink put on its dead-letter list.", |s| {
            s.rejected.to_string()
        }),
        (
            "meterhub_sink_last_success_timestamp_seconds",
            "gauge",
            "When the sink last wrote a batch (0: never since the start).",
            |s| format!("{:.3}", s.last_success_ms.unwrap_or(0) as f64 / 1000.0),
        ),
    ];
    for (metric, kind, help, value) in families {
        family(out, metric, kind, help);
        for sink in sinks {
            let _ = writeln!(out, "{metric}{{sink=\"{}\"}} {}", label(&sink.id), value(sink));
        }
    }
}

/// Reads one metric's values of a listener, each with its extra label's value.
type ListenerValues<'a> = &'a dyn Fn(&meterhub_http::gate::GateStats) -> Vec<(String, u64)>;

/// `GET /metrics`.
pub fn metrics(state: &ApiState) -> Result<HttpResponse, ArchiveError> {
    // While the archive cannot be read (reopening after a full disk) the
    // rest of the metrics still answer, with the store health among them.
    let sources: BTreeMap<String, SourceCounters> = state.archive.counters().unwrap_or_default();
    let mut out = String::new();
    family(
        &mut out,
        "meterhub_frames_total",
        "counter",
        "Frames per source by outcome; received = archived + duplicate + quarantined + rejected at rest.",
    );
    for (source, c) in &sources {
        for (outcome, n) in [
            ("received", c.received),
            ("archived", c.archived),
            ("duplicate", c.duplicate),
            ("quarantined", c.quarantined),
            ("rejected", c.rejected),
        ] {
            let _ = writeln!(out, "meterhub_frames_total{{source=\"{}\",outcome=\"{outcome}\"}} {n}", label(source));
        }
    }
    family(&mut out, "meterhub_readings_total", "counter", "Readings per source by outcome.");
    for (source, c) in &sources {
        for (outcome, n) in
            [("new", c.readings_new), ("duplicate", c.readings_duplicate), ("conflict", c.readings_conflict)]
        {
            let _ = writeln!(out, "meterhub_readings_total{{source=\"{}\",outcome=\"{outcome}\"}} {n}", label(source));
        }
    }
    alarm_metrics(state, &mut out);
    let views = instances(state);
    family(&mut out, "meterhub_plugin_instance_state", "gauge", "1 for the state each plugin instance is in.");
    for v in &views {
        for s in [InstanceState::Running, InstanceState::Backoff, InstanceState::Quarantined, InstanceState::Stopped] {
            let _ = writeln!(
                out,
                "meterhub_plugin_instance_state{{instance=\"{}\",plugin=\"{}\",state=\"{}\"}} {}",
                label(&v.name),
                label(&v.plugin),
                s.as_str(),
                u8::from(v.status.state == s)
            );
        }
    }
    let per_instance: [(&str, &str, InstanceCounter); 2] = [
        ("meterhub_plugin_calls_total", "Calls that reached each plugin instance.", |s| s.calls),
        (
            "meterhub_plugin_failures_total",
            "Failed calls (traps, time limits, memory caps) per plugin instance; each renews a WASM instance.",
            |s| s.failures,
        ),
    ];
    for (name, help, value) in per_instance {
        family(&mut out, name, "counter", help);
        for v in &views {
            let _ = writeln!(
                out,
                "{name}{{instance=\"{}\",plugin=\"{}\"}} {}",
                label(&v.name),
                label(&v.plugin),
                value(&v.status)
            );
        }
    }
    let journal = state.journal.snapshot();
    histogram(
        &mut out,
        "meterhub_journal_commit_seconds",
        "Time of one group commit (write and fdatasync); every acknowledgement waits for one.",
        &journal.commits,
    );
    histogram(
        &mut out,
        "meterhub_mqtt_ack_seconds",
        "From an MQTT message's frames being durable to its acknowledgement (PUBACK) written to the broker.",
        &crate::transport::mqtt::ACK_LATENCY.snapshot(),
    );
    family(&mut out, "meterhub_journal_records_total", "counter", "Records committed to the journal.");
    let _ = writeln!(out, "meterhub_journal_records_total {}", journal.records);
    family(
        &mut out,
        "meterhub_pipeline_backlog_records",
        "gauge",
        "Committed records waiting for the pipeline (decode and archive).",
    );
    let _ = writeln!(out, "meterhub_pipeline_backlog_records {}", journal.backlog);
    family(
        &mut out,
        "meterhub_pipeline_backlog_bytes",
        "gauge",
        "Bytes of committed records waiting for the pipeline (bounded by host.pipeline_backlog_mib).",
    );
    let _ = writeln!(out, "meterhub_pipeline_backlog_bytes {}", state.journal.backlog_bytes());
    family(&mut out, "meterhub_plugins_refused", "gauge", "Plugins in the plugins folder that could not be loaded.");
    let _ = writeln!(out, "meterhub_plugins_refused {}", state.view().refused.len());
    family(&mut out, "meterhub_config_generation", "gauge", "Changes applied since start (the start is the first).");
    let _ = writeln!(out, "meterhub_config_generation {}", state.view().config.generation);
    family(
        &mut out,
        "meterhub_config_last_change_refused",
        "gauge",
        "1 when the last configuration or plugin change was refused.",
    );
    let _ = writeln!(out, "meterhub_config_last_change_refused {}", u8::from(state.view().config.last_error.is_some()));
    family(&mut out, "meterhub_archive_applied_seq", "gauge", "Last journal sequence number applied to the archive.");
    if let Ok(applied) = state.archive.applied_through() {
        let _ = writeln!(out, "meterhub_archive_applied_seq {applied}");
    }
    let problems = state.health.problems();
    family(
        &mut out,
        "meterhub_store_degraded",
        "gauge",
        "1 while writes of a store fail (disk_full: because the disk is full).",
    );
    for store in ["journal", "archive", "accounting"] {
        let problem = problems.iter().find(|p| p.store == store);
        let _ = writeln!(
            out,
            "meterhub_store_degraded{{store=\"{store}\",disk_full=\"{}\"}} {}",
            problem.is_some_and(|p| p.disk_full),
            u8::from(problem.is_some())
        );
    }
    family(&mut out, "meterhub_store_write_failures_total", "counter", "Failed writes per store since the start.");
    let failures = state.health.failures_total();
    for store in ["journal", "archive", "accounting"] {
        let _ = writeln!(
            out,
            "meterhub_store_write_failures_total{{store=\"{store}\"}} {}",
            failures.get(store).unwrap_or(&0)
        );
    }
    family(&mut out, "meterhub_data_free_bytes", "gauge", "Free bytes on the file system of the archive.");
    if let Some(free) = meterhub_storage::health::free_bytes(state.archive.location()) {
        let _ = writeln!(out, "meterhub_data_free_bytes {free}");
    }
    family(
        &mut out,
        "meterhub_inputs_not_stored_total",
        "counter",
        "Inputs per source refused because they could not be stored (their sender got an error, not an acknowledgement).",
    );
    for (source, n) in state.journal.not_stored() {
        let _ = writeln!(out, "meterhub_inputs_not_stored_total{{source=\"{}\"}} {n}", label(&source));
    }
    connection_metrics(&mut out, &state.gates);
    sink_metrics(&mut out, &state.sinks.snapshot());
    site_metrics(&mut out, &state.center.sites());
    let hub = &state.publisher;
    family(&mut out, "meterhub_streams_open", "gauge", "Live streams (SSE and WebSocket) open.");
    let _ = writeln!(out, "meterhub_streams_open {}", hub.len());
    family(&mut out, "meterhub_stream_readings_total", "counter", "Readings offered to the live streams.");
    let _ = writeln!(out, "meterhub_stream_readings_total {}", hub.readings.load(Ordering::Relaxed));
    family(
        &mut out,
        "meterhub_stream_packets_total",
        "counter",
        "Readings queued for a stream, by what the queue did (coalesced: replaced a queued reading of its signal).",
    );
    let pushed = hub.pushed.load(Ordering::Relaxed);
    let coalesced = hub.coalesced.load(Ordering::Relaxed);
    let _ = writeln!(out, "meterhub_stream_packets_total{{queue=\"appended\"}} {}", pushed - coalesced.min(pushed));
    let _ = writeln!(out, "meterhub_stream_packets_total{{queue=\"coalesced\"}} {coalesced}");
    family(&mut out, "meterhub_uptime_seconds", "gauge", "Seconds since the host started.");
    let _ = writeln!(out, "meterhub_uptime_seconds {}", state.started.elapsed().as_secs());
    Ok(meterhub_http::response(StatusCode::OK, "text/plain; version=0.0.4", out))
}

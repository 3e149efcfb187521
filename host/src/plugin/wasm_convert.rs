//! Conversions between the host's generated WIT types and the plugin-api
//! model. Values produced by a plugin are checked here (decimals parse).

use meterhub_plugin_api::{
    Action, Command, CommandDone, Commit, CommitFailed, Committed, Decoded, DeltaKey, DeltaPeriod, Event, Fetch,
    Fetched, FrameOut, HttpRequest, HttpResponse, Message, Migration, PluginInfo, RawFrame, Reading, ReadingKind,
    RegistryEntry, RejectedRecord, Role, SinkRecord, SqlBatch, SqlValue, Statement, Telemetry, Transport,
};

use super::wasm::bindings::exports::meterhub::plugin::{driver as wd, lifecycle as wl, sink as ws};
use super::wasm::bindings::meterhub::plugin::types as wt;

pub(super) fn info(i: wl::PluginInfo) -> PluginInfo {
    PluginInfo {
        id: i.id,
        version: i.version,
        roles: i
            .roles
            .into_iter()
            .map(|r| match r {
                wl::Role::Driver => Role::Driver,
                wl::Role::Codec => Role::Codec,
                wl::Role::Sink => Role::Sink,
            })
            .collect(),
    }
}

fn transport_to_wit(t: Transport) -> wt::Transport {
    match t {
        Transport::Tcp => wt::Transport::Tcp,
        Transport::Http => wt::Transport::Http,
        Transport::Websocket => wt::Transport::Websocket,
        Transport::Mqtt => wt::Transport::Mqtt,
        Transport::Fetch => wt::Transport::Fetch,
    }
}

pub(super) fn frame_to_wit(f: &RawFrame) -> wt::RawFrame {
    wt::RawFrame {
        seq: f.seq,
        source: f.source.clone(),
        peer: f.peer.clone(),
        received_at_ms: f.received_at_ms,
        transport: transport_to_wit(f.transport),
        content_type: f.content_type.clone(),
        meta: f.meta.clone(),
        payload: f.payload.clone(),
    }
}

fn reading_from_wit(r: wt::Reading) -> Result<Reading, String> {
    let value = r.value.parse().map_err(|e| {
        format!("codec returned reading {}/{} with value {:?}, not a decimal: {e}", r.device, r.channel, r.value)
    })?;
    Ok(Reading {
        device: r.device,
        channel: r.channel,
        ts_ms: r.ts_ms,
        value,
        unit: r.unit,
        kind: match r.kind {
            wt::ReadingKind::Cumulative => ReadingKind::Cumulative,
            wt::ReadingKind::Instantaneous => ReadingKind::Instantaneous,
            wt::ReadingKind::State => ReadingKind::State,
        },
    })
}

fn telemetry_from_wit(t: wt::Telemetry) -> Telemetry {
    Telemetry {
        module: t.module,
        ts_ms: t.ts_ms,
        battery_pct: t.battery_pct,
        rssi_dbm: t.rssi_dbm,
        snr_db: t.snr_db,
        frame_counter: t.frame_counter,
    }
}

pub(super) fn decoded_from_wit(d: wt::Decoded) -> Result<Decoded, String> {
    Ok(Decoded {
        readings: d.readings.into_iter().map(reading_from_wit).collect::<Result<_, _>>()?,
        telemetry: d.telemetry.into_iter().map(telemetry_from_wit).collect(),
        fields: d.fields,
    })
}

pub(super) fn event_to_wit(e: Event) -> wd::Event {
    match e {
        Event::Opened { transport, peer } => {
            wd::Event::Opened(wd::Opened { transport: transport_to_wit(transport), peer })
        }
        Event::Data(bytes) => wd::Event::Data(bytes),
        Event::Request(HttpRequest { method, target, headers, body }) => {
            wd::Event::Request(wd::HttpRequest { method, target, headers, body })
        }
        Event::Message(Message { topic, payload }) => wd::Event::Message(wd::Message { topic, payload }),
        Event::Committed(Committed { token, seq }) => wd::Event::Committed(wd::Committed { token, seq }),
        Event::CommitFailed(CommitFailed { token, reason }) => {
            wd::Event::CommitFailed(wd::CommitFailed { token, reason })
        }
        Event::Fetched(Fetched { id, response }) => wd::Event::Fetched(wd::Fetched {
            id,
            response: response.map(|HttpResponse { status, content_type, body }| wd::HttpResponse {
                status,
                content_type,
                body,
            }),
        }),
        Event::Commands(commands) => wd::Event::Commands(
            commands.into_iter().map(|Command { id, name, args }| wd::Command { id, name, args }).collect(),
        ),
        Event::Timer(id) => wd::Event::Timer(id),
        Event::Closed => wd::Event::Closed,
    }
}

pub(super) fn action_from_wit(a: wd::Action) -> Action {
    match a {
        wd::Action::Send(bytes) => Action::Send(bytes),
        wd::Action::Respond(wd::HttpResponse { status, content_type, body }) => {
            Action::Respond(HttpResponse { status, content_type, body })
        }
        wd::Action::Commit(wd::Commit { token, frame: wd::FrameOut { content_type, meta, payload } }) => {
            Action::Commit(Commit { token, frame: FrameOut { content_type, meta, payload } })
        }
        wd::Action::Reject(wd::Rejection { reason, input }) => Action::Reject { reason, input },
        wd::Action::Fetch(wd::Fetch { id, request: wd::HttpRequest { method, target, headers, body } }) => {
            Action::Fetch(Fetch { id, request: HttpRequest { method, target, headers, body } })
        }
        wd::Action::SetTimer(wd::SetTimer { id, after_ms }) => Action::SetTimer { id, after_ms },
        wd::Action::Identify(device) => Action::Identify(device),
        wd::Action::CommandDone(wd::CommandDone { id, outcome }) => Action::CommandDone(CommandDone { id, outcome }),
        wd::Action::Close(reason) => Action::Close(reason),
    }
}

fn reading_to_wit(r: &Reading) -> wt::Reading {
    wt::Reading {
        device: r.device.clone(),
        channel: r.channel.clone(),
        ts_ms: r.ts_ms,
        value: r.value.to_string(),
        unit: r.unit.clone(),
        kind: match r.kind {
            ReadingKind::Cumulative => wt::ReadingKind::Cumulative,
            ReadingKind::Instantaneous => wt::ReadingKind::Instantaneous,
            ReadingKind::State => wt::ReadingKind::State,
        },
    }
}

fn delta_key_to_wit(k: &DeltaKey) -> ws::DeltaKey {
    ws::DeltaKey {
        meter: k.meter.clone(),
        channel: k.channel.clone(),
        period: match k.period {
            DeltaPeriod::Day => ws::DeltaPeriod::Day,
            DeltaPeriod::Month => ws::DeltaPeriod::Month,
        },
        start_ms: k.start_ms,
    }
}

fn registry_to_wit(e: &RegistryEntry) -> ws::RegistryEntry {
    ws::RegistryEntry { id: e.id.clone(), json: e.json.clone() }
}

pub(super) fn sink_record_to_wit(r: &SinkRecord) -> ws::SinkRecord {
    match r {
        SinkRecord::Reading(a) => ws::SinkRecord::Reading(ws::ArchivedReading {
            seq: a.seq,
            source: a.source.clone(),
            reading: reading_to_wit(&a.reading),
            conflict: a.conflict,
            archived_at_ms: a.archived_at_ms,
        }),
        SinkRecord::Delta(d) => ws::SinkRecord::Delta(ws::DeltaRecord {
            key: delta_key_to_wit(&d.key),
            label: d.label.clone(),
            end_ms: d.end_ms,
            from_ms: d.from_ms,
            to_ms: d.to_ms,
            consumption: d.consumption.to_string(),
            start_value: d.start_value.to_string(),
            end_value: d.end_value.to_string(),
            unit: d.unit.clone(),
            flags: d.flags.clone(),
            readings: d.readings.clone(),
        }),
        SinkRecord::DeltaRemoved(k) => ws::SinkRecord::DeltaRemoved(delta_key_to_wit(k)),
        SinkRecord::Meter(e) => ws::SinkRecord::Meter(registry_to_wit(e)),
        SinkRecord::Module(e) => ws::SinkRecord::Module(registry_to_wit(e)),
    }
}

pub(super) fn migration_from_wit(m: ws::Migration) -> Migration {
    Migration { version: m.version, description: m.description, statements: m.statements }
}

pub(super) fn sql_batch_from_wit(b: ws::SqlBatch) -> SqlBatch {
    SqlBatch {
        statements: b
            .statements
            .into_iter()
            .map(|s| Statement {
                sql: s.sql,
                params: s
                    .params
                    .into_iter()
                    .map(|v| match v {
                        ws::SqlValue::Null => SqlValue::Null,
                        ws::SqlValue::Boolean(b) => SqlValue::Bool(b),
                        ws::SqlValue::Int(i) => SqlValue::Int(i),
                        ws::SqlValue::Text(t) => SqlValue::Text(t),
                        ws::SqlValue::Json(j) => SqlValue::Json(j),
                    })
                    .collect(),
            })
            .collect(),
        rejected: b.rejected.into_iter().map(|r| RejectedRecord { index: r.index, reason: r.reason }).collect(),
    }
}

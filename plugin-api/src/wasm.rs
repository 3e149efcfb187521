//! The WebAssembly side of the contract: guest bindings generated from
//! `wit/plugin.wit` and the glue that adapts a [`Plugin`] to them.
//! Used through [`crate::export_plugin!`]; not part of the public API.
#![allow(missing_docs, reason = "generated bindings and macro glue")]

use std::sync::Mutex;

use crate::driver::{
    Action, Command, CommandDone, Commit, CommitFailed, Committed, Event, Fetch, Fetched, FrameOut, HttpRequest,
    HttpResponse, Message,
};
use crate::model::{Decimal, DecodeError, Decoded, RawFrame, Reading, ReadingKind, Telemetry, Transport};
use crate::plugin::{Plugin, Role};
use crate::sink::{ArchivedReading, DeltaKey, DeltaPeriod, DeltaRecord, RegistryEntry, SinkRecord, SqlValue};

pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "wit",
        default_bindings_module: "meterhub_plugin_api::wasm::bindings",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
    });
}

use bindings::exports::meterhub::plugin::{driver as wd, lifecycle as wl, sink as ws};
use bindings::meterhub::plugin::types as wt;

/// The one instance of the plugin in this component.
pub type Slot<P> = Mutex<Option<P>>;

fn with<P: Plugin, R>(slot: &Slot<P>, f: impl FnOnce(&mut P) -> R) -> Result<R, String> {
    let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    match guard.as_mut() {
        Some(p) => Ok(f(p)),
        None => Err(format!("plugin {} called before init", P::IDENTITY.id)),
    }
}

pub fn info<P: Plugin>() -> wl::PluginInfo {
    let info = P::info();
    wl::PluginInfo {
        id: info.id,
        version: info.version,
        roles: info
            .roles
            .into_iter()
            .map(|r| match r {
                Role::Driver => wl::Role::Driver,
                Role::Codec => wl::Role::Codec,
                Role::Sink => wl::Role::Sink,
            })
            .collect(),
    }
}

pub fn init<P: Plugin>(slot: &Slot<P>, settings_json: &str) -> Result<(), String> {
    let plugin = P::init(settings_json)?;
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(plugin);
    Ok(())
}

pub fn handle<P: Plugin>(slot: &Slot<P>, session: u64, now_ms: i64, event: wd::Event) -> Vec<wd::Action> {
    let event = event_from_wit(event);
    match with(slot, |p| p.handle(session, now_ms, event)) {
        Ok(actions) => actions.into_iter().map(action_to_wit).collect(),
        Err(e) => vec![wd::Action::Close(e)],
    }
}

pub fn decode<P: Plugin>(slot: &Slot<P>, frame: wt::RawFrame) -> Result<wt::Decoded, wt::DecodeError> {
    let frame = frame_from_wit(frame);
    match with(slot, |p| p.decode(&frame)) {
        Ok(Ok(decoded)) => Ok(decoded_to_wit(decoded)),
        Ok(Err(DecodeError { reason })) | Err(reason) => Err(wt::DecodeError { reason }),
    }
}

pub fn migrations<P: Plugin>(slot: &Slot<P>) -> Result<Vec<ws::Migration>, String> {
    let migrations = with(slot, |p| p.migrations())??;
    Ok(migrations
        .into_iter()
        .map(|m| ws::Migration { version: m.version, description: m.description, statements: m.statements })
        .collect())
}

pub fn write<P: Plugin>(slot: &Slot<P>, batch: Vec<ws::SinkRecord>) -> Result<ws::SqlBatch, String> {
    let batch = batch.into_iter().map(sink_record_from_wit).collect::<Result<Vec<_>, String>>()?;
    let out = with(slot, |p| p.write(&batch))??;
    Ok(ws::SqlBatch {
        statements: out
            .statements
            .into_iter()
            .map(|s| ws::Statement { sql: s.sql, params: s.params.into_iter().map(sql_value_to_wit).collect() })
            .collect(),
        rejected: out.rejected.into_iter().map(|r| ws::RejectedRecord { index: r.index, reason: r.reason }).collect(),
    })
}

fn sql_value_to_wit(v: SqlValue) -> ws::SqlValue {
    match v {
        SqlValue::Null => ws::SqlValue::Null,
        SqlValue::Bool(b) => ws::SqlValue::Boolean(b),
        SqlValue::Int(i) => ws::SqlValue::Int(i),
        SqlValue::Text(t) => ws::SqlValue::Text(t),
        SqlValue::Json(j) => ws::SqlValue::Json(j),
    }
}

fn decimal_from_wit(what: &str, text: &str) -> Result<Decimal, String> {
    text.parse().map_err(|e| format!("{what} {text:?}: {e}"))
}

fn delta_key_from_wit(k: ws::DeltaKey) -> DeltaKey {
    DeltaKey {
        meter: k.meter,
        channel: k.channel,
        period: match k.period {
            ws::DeltaPeriod::Day => DeltaPeriod::Day,
            ws::DeltaPeriod::Month => DeltaPeriod::Month,
        },
        start_ms: k.start_ms,
    }
}

fn sink_record_from_wit(r: ws::SinkRecord) -> Result<SinkRecord, String> {
    Ok(match r {
        ws::SinkRecord::Reading(a) => SinkRecord::Reading(ArchivedReading {
            seq: a.seq,
            source: a.source,
            reading: reading_from_wit(a.reading)?,
            conflict: a.conflict,
            archived_at_ms: a.archived_at_ms,
        }),
        ws::SinkRecord::Delta(d) => SinkRecord::Delta(DeltaRecord {
            consumption: decimal_from_wit("consumption", &d.consumption)?,
            start_value: decimal_from_wit("start value", &d.start_value)?,
            end_value: decimal_from_wit("end value", &d.end_value)?,
            key: delta_key_from_wit(d.key),
            label: d.label,
            end_ms: d.end_ms,
            from_ms: d.from_ms,
            to_ms: d.to_ms,
            unit: d.unit,
            flags: d.flags,
            readings: d.readings,
        }),
        ws::SinkRecord::DeltaRemoved(k) => SinkRecord::DeltaRemoved(delta_key_from_wit(k)),
        ws::SinkRecord::Meter(e) => SinkRecord::Meter(RegistryEntry { id: e.id, json: e.json }),
        ws::SinkRecord::Module(e) => SinkRecord::Module(RegistryEntry { id: e.id, json: e.json }),
    })
}

fn transport_from_wit(t: wt::Transport) -> Transport {
    match t {
        wt::Transport::Tcp => Transport::Tcp,
        wt::Transport::Http => Transport::Http,
        wt::Transport::Websocket => Transport::Websocket,
        wt::Transport::Mqtt => Transport::Mqtt,
        wt::Transport::Fetch => Transport::Fetch,
    }
}

fn kind_to_wit(k: ReadingKind) -> wt::ReadingKind {
    match k {
        ReadingKind::Cumulative => wt::ReadingKind::Cumulative,
        ReadingKind::Instantaneous => wt::ReadingKind::Instantaneous,
        ReadingKind::State => wt::ReadingKind::State,
    }
}

fn reading_from_wit(r: wt::Reading) -> Result<Reading, String> {
    Ok(Reading {
        value: r.value.parse().map_err(|e| format!("reading {}/{}: value {:?}: {e}", r.device, r.channel, r.value))?,
        device: r.device,
        channel: r.channel,
        ts_ms: r.ts_ms,
        unit: r.unit,
        kind: match r.kind {
            wt::ReadingKind::Cumulative => ReadingKind::Cumulative,
            wt::ReadingKind::Instantaneous => ReadingKind::Instantaneous,
            wt::ReadingKind::State => ReadingKind::State,
        },
    })
}

fn reading_to_wit(r: Reading) -> wt::Reading {
    wt::Reading {
        device: r.device,
        channel: r.channel,
        ts_ms: r.ts_ms,
        value: r.value.to_string(),
        unit: r.unit,
        kind: kind_to_wit(r.kind),
    }
}

fn telemetry_to_wit(t: Telemetry) -> wt::Telemetry {
    wt::Telemetry {
        module: t.module,
        ts_ms: t.ts_ms,
        battery_pct: t.battery_pct,
        rssi_dbm: t.rssi_dbm,
        snr_db: t.snr_db,
        frame_counter: t.frame_counter,
    }
}

fn decoded_to_wit(d: Decoded) -> wt::Decoded {
    wt::Decoded {
        readings: d.readings.into_iter().map(reading_to_wit).collect(),
        telemetry: d.telemetry.into_iter().map(telemetry_to_wit).collect(),
        fields: d.fields,
    }
}

fn frame_from_wit(f: wt::RawFrame) -> RawFrame {
    RawFrame {
        seq: f.seq,
        source: f.source,
        peer: f.peer,
        received_at_ms: f.received_at_ms,
        transport: transport_from_wit(f.transport),
        content_type: f.content_type,
        meta: f.meta,
        payload: f.payload,
    }
}

fn event_from_wit(e: wd::Event) -> Event {
    match e {
        wd::Event::Opened(o) => Event::Opened { transport: transport_from_wit(o.transport), peer: o.peer },
        wd::Event::Data(bytes) => Event::Data(bytes),
        wd::Event::Request(r) => {
            Event::Request(HttpRequest { method: r.method, target: r.target, headers: r.headers, body: r.body })
        }
        wd::Event::Message(m) => Event::Message(Message { topic: m.topic, payload: m.payload }),
        wd::Event::Committed(c) => Event::Committed(Committed { token: c.token, seq: c.seq }),
        wd::Event::CommitFailed(c) => Event::CommitFailed(CommitFailed { token: c.token, reason: c.reason }),
        wd::Event::Fetched(f) => Event::Fetched(Fetched {
            id: f.id,
            response: f.response.map(|r| HttpResponse { status: r.status, content_type: r.content_type, body: r.body }),
        }),
        wd::Event::Commands(commands) => {
            Event::Commands(commands.into_iter().map(|c| Command { id: c.id, name: c.name, args: c.args }).collect())
        }
        wd::Event::Timer(id) => Event::Timer(id),
        wd::Event::Closed => Event::Closed,
    }
}

fn action_to_wit(a: Action) -> wd::Action {
    match a {
        Action::Send(bytes) => wd::Action::Send(bytes),
        Action::Respond(HttpResponse { status, content_type, body }) => {
            wd::Action::Respond(wd::HttpResponse { status, content_type, body })
        }
        Action::Commit(Commit { token, frame: FrameOut { content_type, meta, payload } }) => {
            wd::Action::Commit(wd::Commit { token, frame: wd::FrameOut { content_type, meta, payload } })
        }
        Action::Reject { reason, input } => wd::Action::Reject(wd::Rejection { reason, input }),
        Action::Fetch(Fetch { id, request: HttpRequest { method, target, headers, body } }) => {
            wd::Action::Fetch(wd::Fetch { id, request: wd::HttpRequest { method, target, headers, body } })
        }
        Action::SetTimer { id, after_ms } => wd::Action::SetTimer(wd::SetTimer { id, after_ms }),
        Action::Identify(device) => wd::Action::Identify(device),
        Action::CommandDone(CommandDone { id, outcome }) => wd::Action::CommandDone(wd::CommandDone { id, outcome }),
        Action::Close(reason) => wd::Action::Close(reason),
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_wasm_plugin {
    ($plugin:ty) => {
        const _: () = {
            use $crate::wasm::bindings::exports::meterhub::plugin as __w;
            use $crate::wasm::bindings::meterhub::plugin::types as __t;

            static INSTANCE: $crate::wasm::Slot<$plugin> = ::std::sync::Mutex::new(::std::option::Option::None);

            struct MeterhubGuest;

            impl __w::lifecycle::Guest for MeterhubGuest {
                fn info() -> __w::lifecycle::PluginInfo {
                    $crate::wasm::info::<$plugin>()
                }
                fn init(settings_json: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::wasm::init::<$plugin>(&INSTANCE, &settings_json)
                }
            }

            impl __w::driver::Guest for MeterhubGuest {
                fn handle(
                    session: u64,
                    now_ms: i64,
                    event: __w::driver::Event,
                ) -> ::std::vec::Vec<__w::driver::Action> {
                    $crate::wasm::handle::<$plugin>(&INSTANCE, session, now_ms, event)
                }
            }

            impl __w::codec::Guest for MeterhubGuest {
                fn decode(frame: __t::RawFrame) -> ::std::result::Result<__t::Decoded, __t::DecodeError> {
                    $crate::wasm::decode::<$plugin>(&INSTANCE, frame)
                }
            }

            impl __w::sink::Guest for MeterhubGuest {
                fn migrations() -> ::std::result::Result<::std::vec::Vec<__w::sink::Migration>, ::std::string::String> {
                    $crate::wasm::migrations::<$plugin>(&INSTANCE)
                }
                fn write(
                    batch: ::std::vec::Vec<__w::sink::SinkRecord>,
                ) -> ::std::result::Result<__w::sink::SqlBatch, ::std::string::String> {
                    $crate::wasm::write::<$plugin>(&INSTANCE, batch)
                }
            }

    $crate::wasm::bindings::__export_plugin_world!(MeterhubGuest with_types_in $crate::wasm::bindings);
        };
    };
}

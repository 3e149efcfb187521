//! The HTTP control API for tests, demos and benchmarks: counters, every
//! generated uplink, and faults. Answers are JSON; endpoints are listed in
//! the module documentation of [`super`] and by `GET /`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::packets::{Kind, Packet};
use super::payloads::Payload;
use super::state::{Event, Shared, add, lock};
use meterhub_http::{self, HttpResponse};

/// The most uplinks one `POST /generate` makes.
const MAX_GENERATE: usize = 1_000_000;

/// Serve the control API until the task is aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let gate = meterhub_http::Gates::unlimited().gate("vega-sim control", meterhub_http::Limits::API, true);
    meterhub_http::serve(Arc::new(listener), gate, None, std::future::pending(), move |req, _| {
        let shared = shared.clone();
        async move { handle(&shared, &req) }
    })
    .await;
}

/// The query parameters.
fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A numeric query parameter, `default` when absent; the complaint when malformed.
fn number<T: std::str::FromStr>(q: &HashMap<String, String>, name: &str, default: T) -> Result<T, String> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("{name}: not a number: {v:?}")),
    }
}

fn ok(extra: Value) -> HttpResponse {
    let mut body = json!({"ok": true});
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    meterhub_http::json(StatusCode::OK, &body)
}

fn handle(shared: &Shared, req: &Request<Incoming>) -> HttpResponse {
    let q = query(req);
    let answer = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Ok(meterhub_http::json(StatusCode::OK, &endpoints())),
        (&Method::GET, "/stats") => Ok(meterhub_http::json(StatusCode::OK, &shared.stats_json())),
        (&Method::GET, "/uplinks") => uplinks(shared, &q),
        (&Method::GET, "/devices") => Ok(devices(shared)),
        (&Method::POST, "/fault/drop") => {
            add(&shared.stats.drops, 1);
            shared.drop_all.send_modify(|n| *n += 1);
            Ok(ok(json!({})))
        }
        (&Method::POST, "/fault/stall") => number(&q, "ms", 1000u64).map(|ms| {
            add(&shared.stats.stalls, 1);
            shared.stall.send_replace(Some(tokio::time::Instant::now() + Duration::from_millis(ms)));
            ok(json!({"ms": ms}))
        }),
        (&Method::POST, "/fault/garbage") => {
            let sessions = shared.events.send(Event::Garbage).unwrap_or(0);
            Ok(ok(json!({"sessions": sessions})))
        }
        (&Method::POST, "/alter-user") => number(&q, "add_devices", 0u32).map(|k| {
            if k > 0 {
                shared.add_devices(k);
            }
            let sessions = shared.events.send(Event::AlterUser).unwrap_or(0);
            ok(json!({"added_devices": k, "sessions": sessions}))
        }),
        (&Method::POST, "/pause") => {
            shared.paused.store(true, Ordering::Relaxed);
            Ok(ok(json!({})))
        }
        (&Method::POST, "/resume") => {
            shared.paused.store(false, Ordering::Relaxed);
            Ok(ok(json!({})))
        }
        (&Method::POST, "/inject") => inject(shared, &q),
        (&Method::POST, "/generate") => number(&q, "count", 1usize).map(|count| {
            let count = count.min(MAX_GENERATE);
            shared.generate(count);
            ok(json!({"count": count}))
        }),
        _ => return meterhub_http::error(StatusCode::NOT_FOUND, "no such endpoint; GET / lists them"),
    };
    answer.unwrap_or_else(|e| meterhub_http::error(StatusCode::BAD_REQUEST, &e))
}

fn endpoints() -> Value {
    json!({
        "GET /stats": "counters, gauges and every downlink received",
        "GET /uplinks[?devEui=X][&since_ts=MS]": "every data and time uplink generated (no repeats), by ts",
        "GET /devices": "the simulated devices, their clocks and counters",
        "POST /fault/drop": "close every WebSocket connection abruptly (no close frame)",
        "POST /fault/stall?ms=N": "send nothing (rx, pings, answers) for N ms; connections stay open",
        "POST /fault/garbage": "send every session a set of malformed frames",
        "POST /alter-user[?add_devices=K]": "add K devices, then send alter_user_resp to every authenticated session",
        "POST /pause": "stop generating uplinks",
        "POST /resume": "start generating uplinks again",
        "POST /generate?count=N": "generate N (at most 1,000,000) data uplinks now (also while paused)",
        "POST /inject?devEui=X&port=N&data=HEX[&appEui=Y][&fcnt=N]": "send an rx of a device the emulator does not simulate (another vendor's meter behind the same server) to every user who sees all devices",
    })
}

/// An uplink of a device the emulator does not simulate: its `rx` goes to
/// every session whose user sees all devices (not kept in the history).
fn inject(shared: &Shared, q: &HashMap<String, String>) -> Result<HttpResponse, String> {
    let eui = |name: &str, default: Option<&str>| -> Result<String, String> {
        let text = q.get(name).map(String::as_str).or(default).ok_or(format!("{name}: missing"))?;
        match meterhub_plugin_api::lorawan::is_eui(text) {
            true => Ok(text.to_ascii_uppercase()),
            false => Err(format!("{name}: {text:?} is not 16 hex digits")),
        }
    };
    let dev_eui = eui("devEui", None)?;
    let app_eui = eui("appEui", Some("0000000000000000"))?;
    let data =
        meterhub_plugin_api::hex::decode(q.get("data").map_or("", String::as_str)).map_err(|e| format!("data: {e}"))?;
    let packet = Packet {
        ts: meterhub_storage::clock::now_ms(),
        fcnt: number(q, "fcnt", 0u32)?,
        device_time: 0,
        port: number(q, "port", 2u8)?,
        kind: Kind::UnconfUp,
        gateway: 0,
        freq: 0,
        dr: 0,
        rssi: -90,
        snr10: 55,
        pregenerated: false,
        data: Payload::EMPTY,
    };
    let text = packet.rx_text(&dev_eui, &app_eui, &data, false);
    let sessions = shared.events.send(Event::Rx { device: u32::MAX, text: text.into() }).unwrap_or(0);
    Ok(ok(json!({"devEui": dev_eui, "ts": packet.ts, "sessions": sessions})))
}

fn uplinks(shared: &Shared, q: &HashMap<String, String>) -> Result<HttpResponse, String> {
    let since: i64 = number(q, "since_ts", i64::MIN)?;
    let only = q.get("devEui").map(|e| e.to_ascii_uppercase());
    let world = lock(&shared.world);
    let mut list: Vec<(i64, Value)> = Vec::new();
    for (device, history) in world.devices.iter().zip(&world.history) {
        if only.as_ref().is_some_and(|e| *e != device.dev_eui) {
            continue;
        }
        let from = history.up.partition_point(|p| p.ts < since);
        for p in history.up.range(from..).filter(|p| p.kind.is_data_up()) {
            list.push((
                p.ts,
                json!({
                    "devEui": device.dev_eui,
                    "appEui": device.model.app_eui(),
                    "model": device.model.name(),
                    "fcnt": p.fcnt,
                    "port": p.port,
                    "data": super::payloads::hex(p.data.as_slice(), false),
                    "ts": p.ts,
                    "device_time": p.device_time,
                    "type": p.kind.type_name(),
                    "pregenerated": p.pregenerated,
                }),
            ));
        }
    }
    drop(world);
    list.sort_by_key(|(ts, _)| *ts);
    let list: Vec<Value> = list.into_iter().map(|(_, v)| v).collect();
    Ok(meterhub_http::json(StatusCode::OK, &list))
}

fn devices(shared: &Shared) -> HttpResponse {
    let world = lock(&shared.world);
    let list: Vec<Value> = world
        .devices
        .iter()
        .map(|d| {
            json!({
                "index": d.index,
                "devEui": d.dev_eui,
                "appEui": d.model.app_eui(),
                "model": d.model.name(),
                "devName": d.name(),
                "drift_s": d.drift_s,
                "clock_offset_s": d.clock_offset_s,
                "fcnt_up": d.fcnt_up,
                "fcnt_down": d.fcnt_down,
                "uplinks": d.uplinks,
            })
        })
        .collect();
    meterhub_http::json(StatusCode::OK, &list)
}

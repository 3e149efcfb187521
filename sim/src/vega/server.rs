//! The WebSocket side: accept connections on `/` and run one session per
//! connection — authentication state, request dispatch (PROTOCOLS.md §1.3–1.5),
//! the `rx` push filtered by the user's devices, WebSocket pings, the frame
//! mode, and the drop / stall / garbage faults.
//!
//! Requests may come several to a frame or split over frames; each answer
//! is `<name>_resp`. Before authentication only `auth_req`, `token_auth_req`,
//! `close_auth_req` and `ping_req` are served (others: `status` false,
//! `err_string` "not authorized"); a command whose right is not in the user's
//! `command_list` gets "permission denied". Objects without a `cmd` ending in
//! `_req` are ignored (counted as bad requests).
//!
//! Messages whose fields PROTOCOLS.md does not give are answered with:
//! `alter_user_resp` {status, login, device_access, command_list};
//! `server_info_resp` {status, version, time}; `get_gateways_resp` {status,
//! gateway_list [{gatewayId, gatewayName, active}]}; other catalogue commands
//! (`manage_*`, `delete_*`, ...) get `status` false "not supported by the emulator".
//!
//! Pushed events reach a session through a bounded queue (65,536 events): a
//! session that falls further behind (a slow client, a long stall at a high
//! rate) loses the oldest, counted in `rx_lagged`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Bytes, Message, Utf8Bytes};

use super::frames::{Framing, Reassembler, framing};
use super::history::{Downlink, Select};
use super::packets::{FREQS, GATEWAYS, Kind, Packet};
use super::payloads::{self, Payload};
use super::state::{Event, Shared, add, lock, now_ms, sub1};
use super::users::{RIGHTS, User};

type Ws = WebSocketStream<TcpStream>;
type WsResult = Result<(), tungstenite::Error>;

/// The longest a message is held for pairing in mixed frame mode.
const HOLD_MAX: Duration = Duration::from_millis(20);
/// Events sent in one batch before flushing.
const BATCH: usize = 512;

/// Accept WebSocket connections until the task is aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut number = 0u64;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("vega-sim: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        number += 1;
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, shared.clone(), number));
    }
}

/// Decrements a gauge when dropped.
struct Gauge<'a>(&'a AtomicU64);

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        sub1(self.0);
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>, number: u64) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
    add(&shared.stats.connections, 1);
    add(&shared.stats.connections_total, 1);
    let _open = Gauge(&shared.stats.connections);
    let mut session = Session {
        rng: StdRng::seed_from_u64(shared.options.seed.wrapping_mul(31).wrapping_add(number)),
        shared: shared.clone(),
        user: None,
        token: None,
        held: None,
        reassembler: Reassembler::default(),
    };
    session.run(ws).await;
}

/// One connection's state.
struct Session {
    shared: Arc<Shared>,
    user: Option<Arc<User>>,
    token: Option<String>,
    rng: StdRng,
    /// A message held for pairing (mixed frame mode) and when it must go alone.
    held: Option<(String, Instant)>,
    reassembler: Reassembler,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.user.is_some() {
            sub1(&self.shared.stats.sessions_authenticated);
        }
    }
}

/// A failed answer.
fn fail(cmd: &str, err: &str) -> Value {
    json!({"cmd": cmd, "status": false, "err_string": err})
}

/// A string field.
fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// The upper-case strings of an optional array field.
fn upper_list(v: Option<&Value>, name: &str) -> Option<Vec<String>> {
    let list = v?.get(name)?.as_array()?;
    Some(list.iter().filter_map(Value::as_str).map(str::to_ascii_uppercase).collect())
}

impl Session {
    async fn run(&mut self, mut ws: Ws) {
        let shared = self.shared.clone();
        let mut events = shared.events.subscribe();
        let mut drop_all = shared.drop_all.subscribe();
        let mut stall = shared.stall.subscribe();
        let period = Duration::from_millis(shared.options.ping_ms.max(1));
        let mut ping = tokio::time::interval_at(Instant::now() + period, period);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let pings = shared.options.ping_ms > 0;
        loop {
            let stalled_until = *stall.borrow_and_update();
            if let Some(until) = stalled_until
                && until > Instant::now()
            {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    _ = stall.changed() => {}
                    _ = drop_all.changed() => return,
                }
                continue;
            }
            let hold = self.held.as_ref().map(|(_, deadline)| *deadline);
            let result = tokio::select! {
                biased;
                _ = drop_all.changed() => return,
                _ = stall.changed() => Ok(()),
                message = ws.next() => match message {
                    None | Some(Err(_)) => return,
                    Some(Ok(Message::Text(t))) => self.incoming(&mut ws, t.as_str()).await,
                    Some(Ok(Message::Close(_))) => {
                        let _ = ws.flush().await;
                        return;
                    }
                    Some(Ok(Message::Binary(_))) => {
                        add(&shared.stats.bad_requests, 1);
                        Ok(())
                    }
                    // Pings are answered by tungstenite on the next flush.
                    Some(Ok(_)) => ws.flush().await,
                },
                event = events.recv() => self.events(&mut ws, event, &mut events).await,
                _ = ping.tick(), if pings => {
                    add(&shared.stats.pings_sent, 1);
                    ws.send(Message::Ping(Bytes::from_static(b"vega-sim"))).await
                }
                () = tokio::time::sleep_until(hold.unwrap_or_else(Instant::now)), if hold.is_some() => {
                    match self.held.take() {
                        Some((text, _)) => ws.send(Message::text(text)).await,
                        None => Ok(()),
                    }
                }
            };
            if result.is_err() {
                return;
            }
        }
    }

    /// Queue one message, framed as the frame mode says.
    async fn send(&mut self, ws: &mut Ws, text: Utf8Bytes) -> WsResult {
        if let Some((held, _)) = self.held.take() {
            let separator = if self.rng.random_bool(0.5) { "" } else { "\n" };
            return ws.feed(Message::text(format!("{held}{separator}{}", text.as_str()))).await;
        }
        match framing(self.shared.options.frame_mode, text.as_str(), &mut self.rng) {
            Framing::Whole => ws.feed(Message::Text(text)).await,
            Framing::Split(at) => {
                ws.feed(Message::text(&text.as_str()[..at])).await?;
                ws.feed(Message::text(&text.as_str()[at..])).await
            }
            Framing::Hold => {
                self.held = Some((text.as_str().to_string(), Instant::now() + HOLD_MAX));
                Ok(())
            }
        }
    }

    /// Handle the requests a text frame completes.
    async fn incoming(&mut self, ws: &mut Ws, frame: &str) -> WsResult {
        let objects = self.reassembler.push(frame);
        if objects.is_empty() && !self.reassembler.is_partial() {
            add(&self.shared.stats.bad_requests, 1);
        }
        for object in objects {
            let request: Value = match serde_json::from_str(&object) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    add(&self.shared.stats.bad_requests, 1);
                    continue;
                }
            };
            let Some(answer) = self.handle(&request) else {
                add(&self.shared.stats.bad_requests, 1);
                continue;
            };
            add(&self.shared.stats.requests, 1);
            self.send(ws, answer.to_string().into()).await?;
        }
        ws.flush().await
    }

    /// Send pushed events: this one and those already queued, then flush.
    async fn events(
        &mut self,
        ws: &mut Ws,
        first: Result<Event, RecvError>,
        events: &mut tokio::sync::broadcast::Receiver<Event>,
    ) -> WsResult {
        let stats = &self.shared.clone().stats;
        let mut next = Some(first);
        let (mut sent, mut handled) = (0u64, 0usize);
        while let Some(event) = next.take() {
            match event {
                Ok(Event::Rx { device, text }) => {
                    if self.user.as_ref().is_some_and(|u| u.sees(device)) {
                        self.send(ws, text).await?;
                        sent += 1;
                    }
                }
                Ok(Event::Garbage) => self.garbage(ws).await?,
                Ok(Event::AlterUser) => {
                    if let Some(user) = &self.user {
                        let notice = json!({
                            "cmd": "alter_user_resp",
                            "status": true,
                            "login": user.login,
                            "device_access": user.access(),
                            "command_list": user.rights,
                        });
                        self.send(ws, notice.to_string().into()).await?;
                    }
                }
                Err(RecvError::Lagged(n)) => add(&stats.rx_lagged, n),
                Err(RecvError::Closed) => return Err(tungstenite::Error::ConnectionClosed),
            }
            handled += 1;
            if handled < BATCH {
                next = match events.try_recv() {
                    Ok(e) => Some(Ok(e)),
                    Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                    Err(_) => None,
                };
            }
        }
        add(&stats.rx_sent, sent);
        ws.flush().await
    }

    /// The garbage set (`POST /fault/garbage`), each piece in its own frame.
    async fn garbage(&mut self, ws: &mut Ws) -> WsResult {
        if let Some((held, _)) = self.held.take() {
            ws.feed(Message::text(held)).await?;
        }
        let random: [u8; 16] = self.rng.random();
        let frames = [
            Message::text("this is not JSON"),
            Message::text(
                r#"{"cmd":"rx","devEui":"ZZZZZZZZZZZZZZZZ","appEui":"0000000000000000","ts":0,"gatewayId":"","ack":false,"fcnt":0,"port":2,"data":"xyz","macData":"","type":"UNCONF_UP"}"#,
            ),
            Message::text(r#"{"cmd":"surprise_resp","status":true,"note":"a command no client knows"}"#),
            Message::binary(random.to_vec()),
            Message::text("[1,2,3]"),
            Message::text("}"),
        ];
        add(&self.shared.stats.garbage_sent, frames.len() as u64);
        for frame in frames {
            ws.feed(frame).await?;
        }
        Ok(())
    }

    /// Become `user` (or nobody), keeping the authenticated-sessions gauge.
    fn set_user(&mut self, user: Option<Arc<User>>, token: Option<String>) {
        let gauge = &self.shared.stats.sessions_authenticated;
        match (self.user.is_some(), user.is_some()) {
            (false, true) => add(gauge, 1),
            (true, false) => sub1(gauge),
            _ => {}
        }
        self.user = user;
        self.token = token;
    }

    /// The answer to one request; `None` for objects that are not requests.
    fn handle(&mut self, request: &Value) -> Option<Value> {
        let cmd = request.get("cmd")?.as_str()?;
        let base = cmd.strip_suffix("_req")?;
        let resp = format!("{base}_resp");
        let stats = &self.shared.stats;
        let answer = match base {
            "auth" => {
                let login = lock(&self.shared.users).login(text(request, "login"), text(request, "password"));
                match login {
                    Some((user, token)) => {
                        add(&stats.auth_ok, 1);
                        let answer = user.auth_fields(&resp, &token);
                        self.set_user(Some(user), Some(token));
                        answer
                    }
                    None => {
                        add(&stats.auth_failed, 1);
                        fail(&resp, "wrong login or password")
                    }
                }
            }
            "token_auth" => {
                let token = text(request, "token");
                let user = lock(&self.shared.users).by_token(token);
                match user {
                    Some(user) => {
                        add(&stats.token_auth_ok, 1);
                        let answer = user.auth_fields(&resp, token);
                        self.set_user(Some(user), Some(token.to_string()));
                        answer
                    }
                    None => {
                        add(&stats.token_auth_failed, 1);
                        fail(&resp, "unknown token")
                    }
                }
            }
            "close_auth" => {
                let token = request.get("token").and_then(Value::as_str).map(str::to_string).or(self.token.clone());
                let known = token.as_deref().is_some_and(|t| lock(&self.shared.users).forget(t));
                if token.is_some() && token == self.token {
                    self.set_user(None, None);
                }
                if known { json!({"cmd": resp, "status": true}) } else { fail(&resp, "unknown token") }
            }
            "ping" => json!({"cmd": resp, "status": true}),
            _ => {
                let Some(user) = self.user.clone() else { return Some(fail(&resp, "not authorized")) };
                if !RIGHTS.contains(&base) {
                    return Some(fail(&resp, "unknown command"));
                }
                if !user.may(base) {
                    return Some(fail(&resp, "permission denied"));
                }
                match base {
                    "get_devices" => self.get_devices(&user, request),
                    "get_device_appdata" => self.get_device_appdata(&user),
                    "get_data" => {
                        add(&stats.get_data_requests, 1);
                        self.get_data(&user, request)
                    }
                    "send_data" => {
                        add(&stats.send_data_requests, 1);
                        self.send_data(&user, request)
                    }
                    "get_users" => self.get_users(request),
                    "server_info" => json!({
                        "cmd": resp,
                        "status": true,
                        "version": concat!("meterhub vega-sim ", env!("CARGO_PKG_VERSION")),
                        "time": now_ms(),
                    }),
                    "get_gateways" => json!({
                        "cmd": resp,
                        "status": true,
                        "gateway_list": GATEWAYS.iter().enumerate().map(|(i, g)| json!({
                            "gatewayId": g,
                            "gatewayName": format!("sim gateway {}", i + 1),
                            "active": true,
                        })).collect::<Vec<_>>(),
                    }),
                    _ => fail(&resp, "not supported by the emulator"),
                }
            }
        };
        Some(answer)
    }

    fn get_devices(&self, user: &User, request: &Value) -> Value {
        let select = request.get("select");
        let (euis, apps) = (upper_list(select, "devEui_list"), upper_list(select, "appEui_list"));
        let world = lock(&self.shared.world);
        let list: Vec<Value> = world
            .devices
            .iter()
            .filter(|d| user.sees(d.index))
            .filter(|d| euis.as_ref().is_none_or(|l| l.contains(&d.dev_eui)))
            .filter(|d| apps.as_ref().is_none_or(|l| l.iter().any(|a| a == d.model.app_eui())))
            .map(|d| {
                json!({
                    "devEui": d.dev_eui,
                    "devName": d.name(),
                    "ABP": {"devAddress": d.dev_addr, "appsKey": "", "nwksKey": ""},
                    "OTAA": {"appEui": d.model.app_eui(), "appKey": d.app_key, "last_join_ts": d.last_join_ts},
                    "class": "CLASS_A",
                    "fcnt_up": d.fcnt_up.saturating_sub(1),
                    "fcnt_down": d.fcnt_down,
                    "last_data_ts": d.last_data_ts,
                    "lastRssi": d.last_rssi,
                    "lastSnr": f64::from(d.last_snr10) / 10.0,
                    "adr": true,
                })
            })
            .collect();
        json!({"cmd": "get_devices_resp", "status": true, "devices_list": list})
    }

    fn get_device_appdata(&self, user: &User) -> Value {
        let world = lock(&self.shared.world);
        let list: Vec<Value> = world
            .devices
            .iter()
            .filter(|d| user.sees(d.index))
            .map(|d| {
                json!({
                    "devEui": d.dev_eui,
                    "devName": d.name(),
                    "appEui": d.model.app_eui(),
                    "fcnt_up": d.fcnt_up.saturating_sub(1),
                    "fcnt_down": d.fcnt_down,
                    "last_data_ts": d.last_data_ts,
                    "device_type": d.model.device_type(),
                    "version": "1",
                })
            })
            .collect();
        json!({"cmd": "get_device_appdata_resp", "status": true, "devices_list": list})
    }

    fn get_data(&mut self, user: &User, request: &Value) -> Value {
        const RESP: &str = "get_data_resp";
        let eui = text(request, "devEui").to_ascii_uppercase();
        let select = match Select::parse(request.get("select")) {
            Ok(s) => s,
            Err(e) => return fail(RESP, &e),
        };
        let upper = self.rng.random_bool(0.5);
        let world = lock(&self.shared.world);
        let Some(device) = world.devices.iter().find(|d| d.dev_eui == eui && user.sees(d.index)) else {
            return fail(RESP, "unknown devEui");
        };
        let (total, rows) = world.history[device.index as usize].select(&select, upper);
        json!({
            "cmd": RESP,
            "status": true,
            "devEui": device.dev_eui,
            "appEui": device.model.app_eui(),
            "direction": select.direction.name(),
            "totalNum": total,
            "data_list": rows,
        })
    }

    fn send_data(&mut self, user: &User, request: &Value) -> Value {
        const RESP: &str = "send_data_resp";
        let Some(items) = request.get("data_list").and_then(Value::as_array) else {
            return fail(RESP, "data_list missing");
        };
        let mut statuses = Vec::with_capacity(items.len());
        let mut events = Vec::new();
        let now = now_ms();
        {
            let mut world = lock(&self.shared.world);
            let world = &mut *world;
            for item in items {
                let eui = text(item, "devEui");
                let found =
                    world.devices.iter().position(|d| d.dev_eui.eq_ignore_ascii_case(eui) && user.sees(d.index));
                let data = payloads::unhex(text(item, "data"));
                let port = item.get("port").and_then(Value::as_u64).and_then(|p| u8::try_from(p).ok());
                let (Some(i), Some(data), Some(port @ 1..=223)) = (found, data, port) else {
                    statuses.push(json!({"devEui": eui, "status": false}));
                    continue;
                };
                let ack = item.get("ack").and_then(Value::as_bool).unwrap_or(false);
                let (device, history) = (&mut world.devices[i], &mut world.history[i]);
                let correction = if port == 4 { payloads::time_correction(&data) } else { None };
                if let Some(c) = correction {
                    device.clock_offset_s = device.clock_offset_s.saturating_add(c);
                }
                let ts = now.max(history.down.last().map_or(0, |d| d.packet.ts + 1));
                let packet = Packet {
                    ts,
                    fcnt: device.fcnt_down,
                    device_time: 0,
                    port,
                    kind: if ack { Kind::ConfDown } else { Kind::UnconfDown },
                    gateway: device.gateway,
                    freq: self.rng.random_range(0..FREQS.len() as u8),
                    dr: device.dr,
                    rssi: 0,
                    snr10: 0,
                    pregenerated: false,
                    data: Payload::EMPTY,
                };
                device.fcnt_down = device.fcnt_down.wrapping_add(1);
                let text = packet.rx_text(&device.dev_eui, device.model.app_eui(), &data, self.rng.random_bool(0.5));
                events.push(Event::Rx { device: device.index, text: text.into() });
                history.down.push(Downlink { packet, bytes: data, correction_s: correction });
                statuses.push(json!({"devEui": eui, "status": true}));
            }
        }
        for event in events {
            let _ = self.shared.events.send(event);
        }
        json!({"cmd": RESP, "status": true, "append_status": statuses})
    }

    fn get_users(&self, request: &Value) -> Value {
        let brief = request
            .get("keyword")
            .and_then(Value::as_array)
            .is_some_and(|k| k.iter().any(|w| w.as_str() == Some("no_command_and_devEui")));
        let world = lock(&self.shared.world);
        let users = lock(&self.shared.users);
        let list: Vec<Value> = users.all().iter().map(|u| u.describe(&world.devices, brief)).collect();
        json!({"cmd": "get_users_resp", "status": true, "user_list": list})
    }
}

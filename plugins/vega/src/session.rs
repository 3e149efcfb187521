//! One connection to the IOT Vega Server: log in, learn the devices, back-fill
//! each device's gap from its resume mark, commit live uplinks, answer time
//! packets, keep the link busy with pings.
//!
//! Architecture invariant: a frame carries a resume mark only when every
//! uplink of its device up to the mark is committed before it: live frames
//! of a device are marked once its back-fill in this session has completed,
//! and the back-fill marks only its newest packet, committed last. So a
//! mark never jumps over a gap, whatever order the server pages history in.

use std::collections::{BTreeMap, HashMap, VecDeque};

use meterhub_plugin_api::{Action, Commit, FrameOut, META_RESUME_KEY, META_RESUME_MARK, lorawan};

use crate::json_stream::{JsonStream, Piece};
use crate::protocol::{self, AuthResp, DataResp, DevicesResp, Envelope, Uplink, eui, request};
use crate::settings::VegaSettings;
use crate::time_correction;

/// Content type of the committed frames: one uplink object as the server wrote it.
pub const CONTENT_TYPE: &str = "application/vnd.vega.uplink+json";
/// The ping timer.
pub const PING_TIMER: u32 = 1;

/// What the driver instance keeps across connections.
#[derive(Debug, Default)]
pub struct Shared {
    /// The session token of the last login.
    pub token: Option<String>,
    /// The user's rights (`command_list`) as of the last login.
    pub rights: Option<Vec<String>>,
    /// Per DevEUI, the server time up to which every uplink is committed.
    pub marks: HashMap<String, i64>,
}

impl Shared {
    fn may(&self, right: &str) -> bool {
        self.rights.as_ref().is_some_and(|r| r.iter().any(|x| x == right))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    LoggingIn { by_token: bool },
    Running,
}

#[derive(Debug, Default)]
struct Device {
    app_eui: Option<String>,
    /// Back-filled in this session: live frames may carry marks.
    contiguous: bool,
    /// Queued or done in this session.
    scheduled: bool,
}

/// The back-fill in flight: one device, page by page.
#[derive(Debug)]
struct Backfill {
    dev_eui: String,
    date_from: i64,
    begin_index: u64,
    /// `totalNum` of the last page.
    total: Option<u64>,
    /// The newest packet so far, committed (with the mark) at the end.
    newest: Option<(i64, FrameOut)>,
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    stream: JsonStream,
    phase: Phase,
    devices: BTreeMap<String, Device>,
    queue: VecDeque<String>,
    backfill: Option<Backfill>,
    /// Commit token -> (DevEUI, mark it carries).
    pending: HashMap<u64, (String, Option<i64>)>,
    next_token: u64,
    now_ms: i64,
}

impl Session {
    /// A new connection: log in, by token when there is one to reuse.
    pub fn open(settings: &VegaSettings, shared: &Shared, now_ms: i64) -> (Session, Vec<Action>) {
        let reuse = settings.reuse_token.then(|| shared.token.clone()).flatten();
        let session = Session {
            stream: JsonStream::default(),
            phase: Phase::LoggingIn { by_token: reuse.is_some() },
            devices: BTreeMap::new(),
            queue: VecDeque::new(),
            backfill: None,
            pending: HashMap::new(),
            next_token: 1,
            now_ms,
        };
        let login = match reuse {
            Some(token) => request::token_auth(&token),
            None => request::auth(&settings.login, &settings.password),
        };
        (session, vec![Action::Send(login)])
    }

    /// Bytes of one WebSocket message.
    pub fn data(&mut self, bytes: &[u8], settings: &VegaSettings, shared: &mut Shared, now_ms: i64) -> Vec<Action> {
        self.now_ms = now_ms;
        let mut out = Vec::new();
        for piece in self.stream.push(bytes, settings.max_message_bytes) {
            match piece {
                Piece::Value(message) => self.message(&message, settings, shared, &mut out),
                Piece::Garbage { bytes, reason } => out.push(Action::Reject { reason, input: bytes }),
            }
        }
        out
    }

    /// A commit completed: the mark it carried holds now.
    pub fn committed(&mut self, token: u64, shared: &mut Shared) {
        if let Some((dev_eui, Some(mark))) = self.pending.remove(&token) {
            let entry = shared.marks.entry(dev_eui).or_insert(mark);
            *entry = (*entry).max(mark);
        }
    }

    /// The ping timer fired.
    pub fn ping(&mut self, settings: &VegaSettings) -> Vec<Action> {
        std::iter::once(Action::Send(request::ping())).chain(ping_timer(settings)).collect()
    }

    fn message(&mut self, message: &[u8], settings: &VegaSettings, shared: &mut Shared, out: &mut Vec<Action>) {
        let reject = |reason: String| Action::Reject { reason, input: message.to_vec() };
        let cmd = match protocol::object::<Envelope>(message) {
            Ok(envelope) => envelope.cmd,
            Err(e) => {
                return out.push(reject(format!("not an IOT Vega Server message (a JSON object with `cmd`): {e}")));
            }
        };
        let handled = match cmd.as_str() {
            "auth_resp" | "token_auth_resp" => parse(message, &cmd).map(|r| self.on_auth(r, settings, shared, out)),
            "rx" => parse(message, &cmd).map(|r| self.on_rx(r, message, settings, shared, out)),
            "get_devices_resp" | "get_device_appdata_resp" => {
                parse(message, &cmd).and_then(|r| self.on_devices(r, &cmd, settings, shared, out))
            }
            "get_data_resp" => parse(message, &cmd).and_then(|r| self.on_data(r, &cmd, settings, shared, out)),
            "alter_user_resp" => {
                // The user's rights or devices changed: learn the devices again.
                self.request_devices(shared, out);
                Ok(())
            }
            "ping_req" => {
                out.push(Action::Send(br#"{"cmd":"ping_resp"}"#.to_vec()));
                Ok(())
            }
            "ping_resp" | "send_data_resp" | "close_auth_resp" | "server_info_resp" => Ok(()),
            other => Err(format!("unknown IOT Vega Server command {other:?}")),
        };
        if let Err(reason) = handled {
            out.push(reject(reason));
        }
    }

    fn on_auth(&mut self, resp: AuthResp, settings: &VegaSettings, shared: &mut Shared, out: &mut Vec<Action>) {
        let by_token = matches!(self.phase, Phase::LoggingIn { by_token: true });
        if !resp.status {
            let why = resp.err_string.unwrap_or_else(|| "no reason given".into());
            shared.token = None;
            if by_token {
                // The server forgot the session: log in again.
                self.phase = Phase::LoggingIn { by_token: false };
                out.push(Action::Send(request::auth(&settings.login, &settings.password)));
            } else {
                out.push(Action::Close(format!(
                    "the IOT Vega Server refused the login of user {:?}: {why}",
                    settings.login
                )));
            }
            return;
        }
        if resp.token.is_some() {
            shared.token = resp.token;
        }
        if resp.command_list.is_some() {
            shared.rights = resp.command_list;
        }
        if self.phase != Phase::Running {
            self.phase = Phase::Running;
            out.extend(ping_timer(settings));
            self.request_devices(shared, out);
        }
    }

    fn request_devices(&mut self, shared: &Shared, out: &mut Vec<Action>) {
        if shared.may("get_devices") {
            out.push(Action::Send(request::devices()));
        } else if shared.may("get_device_appdata") {
            out.push(Action::Send(request::device_appdata()));
        }
    }

    fn on_devices(
        &mut self,
        resp: DevicesResp,
        cmd: &str,
        settings: &VegaSettings,
        shared: &Shared,
        out: &mut Vec<Action>,
    ) -> Result<(), String> {
        if !resp.status {
            let why = resp.err_string.unwrap_or_default();
            return Err(format!("{cmd}: the server refused the device list: {why}"));
        }
        for entry in resp.devices_list {
            let Ok(dev_eui) = eui(&entry.dev_eui) else { continue };
            let app_eui = entry.app_eui.or(entry.otaa.and_then(|o| o.app_eui)).and_then(|a| eui(&a).ok());
            let device = self.devices.entry(dev_eui.clone()).or_default();
            if app_eui.is_some() {
                device.app_eui = app_eui;
            }
            self.schedule(&dev_eui, shared);
        }
        self.pump(settings, shared, out);
        Ok(())
    }

    /// Queue the back-fill of a device (once per session).
    fn schedule(&mut self, dev_eui: &str, shared: &Shared) {
        let device = self.devices.entry(dev_eui.to_owned()).or_default();
        if device.scheduled || !shared.may("get_data") {
            return;
        }
        device.scheduled = true;
        self.queue.push_back(dev_eui.to_owned());
    }

    /// Start the next back-fill when none is in flight.
    fn pump(&mut self, settings: &VegaSettings, shared: &Shared, out: &mut Vec<Action>) {
        if self.backfill.is_some() {
            return;
        }
        let Some(dev_eui) = self.queue.pop_front() else { return };
        let date_from = match shared.marks.get(&dev_eui) {
            Some(mark) => mark + 1,
            None => self.now_ms - settings.backfill_initial_ms,
        };
        out.push(Action::Send(request::data(&dev_eui, date_from, 0, settings.backfill_page)));
        self.backfill = Some(Backfill { dev_eui, date_from, begin_index: 0, total: None, newest: None });
    }

    fn on_data(
        &mut self,
        resp: DataResp,
        cmd: &str,
        settings: &VegaSettings,
        shared: &Shared,
        out: &mut Vec<Action>,
    ) -> Result<(), String> {
        let Some(mut fill) = self.backfill.take() else {
            return Err(format!("{cmd} without a get_data_req in flight"));
        };
        if let Some(other) = resp.dev_eui.as_deref().and_then(|d| eui(d).ok()).filter(|d| *d != fill.dev_eui) {
            let reason = format!("{cmd} for device {other} while waiting for {}", fill.dev_eui);
            self.backfill = Some(fill);
            return Err(reason);
        }
        if !resp.status {
            let why = resp.err_string.unwrap_or_default();
            let reason = format!("{cmd}: the server refused the history of {}: {why}", fill.dev_eui);
            // The history is incomplete: what came is committed unmarked and
            // the device stays unmarked in this session (no mark over the gap).
            self.finish_backfill(fill, false, settings, shared, out);
            return Err(reason);
        }
        let app_eui = resp.app_eui.as_deref().and_then(|a| eui(a).ok());
        if let (Some(app), Some(device)) = (&app_eui, self.devices.get_mut(&fill.dev_eui)) {
            device.app_eui = Some(app.clone());
        }
        let page_len = resp.data_list.len() as u64;
        for item in resp.data_list {
            let raw = item.get().as_bytes();
            let uplink: Uplink = match protocol::object(raw) {
                Ok(u) => u,
                Err(e) => {
                    let reason = format!("{cmd} item of {}: {e}", fill.dev_eui);
                    out.push(Action::Reject { reason, input: raw.to_vec() });
                    continue;
                }
            };
            if !uplink.is_data() {
                continue;
            }
            let app = self.devices.get(&fill.dev_eui).and_then(|d| d.app_eui.clone());
            let frame = match frame(&uplink, raw, &fill.dev_eui, app.as_deref(), "history") {
                Ok(frame) => frame,
                Err(reason) => {
                    out.push(Action::Reject {
                        reason: format!("{cmd} item of {}: {reason}", fill.dev_eui),
                        input: raw.to_vec(),
                    });
                    continue;
                }
            };
            // Keep the newest back; commit the others now, unmarked.
            let older = match &fill.newest {
                Some((ts, _)) if *ts >= uplink.ts => Some(frame),
                _ => fill.newest.replace((uplink.ts, frame)).map(|(_, f)| f),
            };
            if let Some(older) = older {
                let commit = self.commit(&fill.dev_eui, older, None);
                out.push(commit);
            }
        }
        // Rows the server deleted since the last page (its storage period
        // ran out) shifted the later ones down, so this page began that many
        // rows late: read again from that many rows before it. Nothing is
        // skipped; rows read twice are duplicates downstream.
        let deleted = fill.total.map_or(0, |before| before.saturating_sub(resp.total_num));
        fill.total = Some(resp.total_num);
        fill.begin_index = match deleted {
            0 => fill.begin_index + page_len,
            _ => fill.begin_index.saturating_sub(deleted),
        };
        if (page_len == 0 && deleted == 0) || fill.begin_index >= resp.total_num {
            self.finish_backfill(fill, true, settings, shared, out);
        } else {
            out.push(Action::Send(request::data(
                &fill.dev_eui,
                fill.date_from,
                fill.begin_index,
                settings.backfill_page,
            )));
            self.backfill = Some(fill);
        }
        Ok(())
    }

    /// End a back-fill; only a `complete` one marks its newest packet and
    /// makes the device contiguous.
    fn finish_backfill(
        &mut self,
        fill: Backfill,
        complete: bool,
        settings: &VegaSettings,
        shared: &Shared,
        out: &mut Vec<Action>,
    ) {
        if let Some((ts, newest)) = fill.newest {
            let commit = self.commit(&fill.dev_eui, newest, complete.then_some(ts));
            out.push(commit);
        }
        if let Some(device) = self.devices.get_mut(&fill.dev_eui).filter(|_| complete) {
            device.contiguous = true;
        }
        self.pump(settings, shared, out);
    }

    fn on_rx(&mut self, rx: Uplink, raw: &[u8], settings: &VegaSettings, shared: &Shared, out: &mut Vec<Action>) {
        let reject = |reason: String| Action::Reject { reason, input: raw.to_vec() };
        let dev_eui = match rx.dev_eui.as_deref().map(eui) {
            Some(Ok(d)) => d,
            Some(Err(e)) => return out.push(reject(format!("rx: devEui {e}"))),
            None => return out.push(reject("rx: no devEui".into())),
        };
        if !rx.is_data() {
            return;
        }
        if let Some(app) = rx.app_eui.as_deref().and_then(|a| eui(a).ok()) {
            self.devices.entry(dev_eui.clone()).or_default().app_eui = Some(app);
        }
        let app = self.devices.get(&dev_eui).and_then(|d| d.app_eui.clone());
        let frame = match frame(&rx, raw, &dev_eui, app.as_deref(), "rx") {
            Ok(frame) => frame,
            Err(reason) => return out.push(reject(format!("rx of {dev_eui}: {reason}"))),
        };
        self.schedule(&dev_eui, shared);
        let contiguous = self.devices.get(&dev_eui).is_some_and(|d| d.contiguous);
        let commit = self.commit(&dev_eui, frame, contiguous.then_some(rx.ts));
        out.push(commit);
        self.correct_time(&rx, &dev_eui, settings, shared, out);
        self.pump(settings, shared, out);
    }

    fn correct_time(
        &self,
        rx: &Uplink,
        dev_eui: &str,
        settings: &VegaSettings,
        shared: &Shared,
        out: &mut Vec<Action>,
    ) {
        if !settings.time_correction || !shared.may("send_data") {
            return;
        }
        let (Some(port), Some(data)) = (rx.port, rx.data.as_deref()) else { return };
        let Some(device_s) = protocol::hex_bytes(data).ok().and_then(|p| time_correction::device_time(port, &p)) else {
            return;
        };
        if let Some(downlink) = time_correction::correction(device_s, rx.ts, settings.time_correction_threshold_s) {
            out.push(Action::Send(request::send_data(dev_eui, time_correction::PORT, &downlink)));
        }
    }

    fn commit(&mut self, dev_eui: &str, mut frame: FrameOut, mark: Option<i64>) -> Action {
        if let Some(mark) = mark {
            frame.meta.push((META_RESUME_KEY.into(), dev_eui.into()));
            frame.meta.push((META_RESUME_MARK.into(), mark.to_string()));
        }
        let token = self.next_token;
        self.next_token += 1;
        self.pending.insert(token, (dev_eui.to_owned(), mark));
        Action::Commit(Commit { token, frame })
    }
}

/// The frame of one uplink: the object as the server wrote it, with what
/// the envelope says in the metadata (`meterhub_plugin_api::lorawan`), so
/// the host hands the device's codec the neutral uplink. The payload must
/// be hex and the port present.
fn frame(uplink: &Uplink, raw: &[u8], dev_eui: &str, app_eui: Option<&str>, via: &str) -> Result<FrameOut, String> {
    let port = uplink.port.ok_or("no port")?;
    let frm = protocol::hex_bytes(uplink.data.as_deref().ok_or("no data")?)?;
    let mut meta = vec![
        (lorawan::EVENT.to_owned(), lorawan::EVENT_UP.to_owned()),
        (lorawan::SERVER.to_owned(), "vega".to_owned()),
        (lorawan::DEVEUI.to_owned(), dev_eui.to_owned()),
        (lorawan::FPORT.to_owned(), port.to_string()),
        (lorawan::FRM.to_owned(), meterhub_plugin_api::hex::encode(&frm)),
        (lorawan::TS.to_owned(), uplink.ts.to_string()),
        ("via".to_owned(), via.to_owned()),
    ];
    if let Some(app) = app_eui {
        meta.push((lorawan::JOINEUI.into(), app.into()));
    }
    if let Some(fcnt) = uplink.fcnt {
        meta.push((lorawan::FCNT.into(), fcnt.to_string()));
    }
    if let Some(rssi) = uplink.rssi {
        meta.push((lorawan::RSSI.into(), rssi.to_string()));
    }
    if let Some(snr) = uplink.snr {
        meta.push((lorawan::SNR.into(), snr.to_string()));
    }
    Ok(FrameOut { content_type: CONTENT_TYPE.into(), meta, payload: raw.to_vec() })
}

fn ping_timer(settings: &VegaSettings) -> Option<Action> {
    (settings.ping_interval_ms > 0).then_some(Action::SetTimer { id: PING_TIMER, after_ms: settings.ping_interval_ms })
}

/// Parse a whole message (already known to be an object) as `T`.
fn parse<'a, T: serde::Deserialize<'a>>(message: &'a [u8], cmd: &str) -> Result<T, String> {
    serde_json::from_slice(message).map_err(|e| format!("{cmd}: {e}"))
}

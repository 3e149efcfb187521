//! `meterhub sim vega`: an IOT Vega Server emulator. It serves the server's
//! WebSocket JSON API (PROTOCOLS.md §1) with simulated Vega devices whose
//! payloads follow §2.3, so that a Vega driver can be tested end to end,
//! demonstrated and benchmarked without a real server.
//!
//! # Command line
//!
//! ```text
//! meterhub sim vega [--listen 127.0.0.1:8002] [--control 127.0.0.1:8003]
//!     [--devices 12] [--models si11,si12,gm2,sgbm,shve,spbzip,td11,mbus2]
//!     [--interval-ms 5000] [--rate R] [--history-hours H] [--history-interval-min 60]
//!     [--history-limit N] [--user login:password[:rights[:devices]]]... [--ping-ms 30000]
//!     [--frame-mode single|mixed] [--seed 1] [--drift-every 4] [--paused]
//! ```
//!
//! - Port 0 picks a free port. Once listening it prints exactly two lines and
//!   flushes: `vega-sim websocket ws://ADDR/` and `vega-sim control http://ADDR/`.
//!   It runs until SIGINT or SIGTERM.
//! - `--devices` devices, models cycled over `--models`; DevEUIs depend only on
//!   `--seed`. Every `--drift-every`-th device (1-based; 0: none) has a clock
//!   600 s ahead.
//! - Every device sends one data uplink per `--interval-ms`, spread evenly;
//!   `--rate` instead sets the total data uplinks per second (benchmarks).
//!   `--paused` starts with generation paused (see `POST /resume`, `/generate`).
//! - `--history-hours` pre-generates that much history per device, one uplink
//!   per `--history-interval-min`, before serving; `--history-limit` keeps only
//!   the newest N uplinks per device (0: all).
//! - `--user` (repeatable; without it `root:123` with every right and FULL
//!   access): rights `all` (default) or a comma list of `command_list` names;
//!   devices `all` (FULL, default) or a comma list of indexes, index ranges
//!   `a-b` or DevEUIs (SELECTED). E.g. `--user reader:pw:get_data,get_devices:0-3`.
//! - WebSocket ping frames every `--ping-ms` (0: none).
//! - `--frame-mode mixed`: sometimes two JSON objects in one text frame,
//!   sometimes one object split over two frames (§1.2).
//!
//! # Control API (HTTP, JSON answers)
//!
//! | Endpoint | Effect |
//! |---|---|
//! | `GET /` | this list |
//! | `GET /stats` | `connections`, `sessions_authenticated`, `auth_ok`, `auth_failed`, `token_auth_ok`, `rx_sent`, `data_uplinks`, `get_data_requests`, `send_data_requests`, `pings_sent`, `garbage_sent`, ... and `downlinks` [{devEui, ts, fcnt, port, ack, data, correction_s}] |
//! | `GET /uplinks[?devEui=X][&since_ts=MS]` | every data (fPort 2) and time (fPort 4) uplink generated, pre-generated ones included, repeats excluded: [{devEui, appEui, model, fcnt, port, data, ts, device_time, type, pregenerated}] by ts |
//! | `GET /devices` | [{index, devEui, appEui, model, devName, drift_s, clock_offset_s, fcnt_up, fcnt_down, uplinks}] |
//! | `POST /fault/drop` | close every connection abruptly: the TCP stream is dropped, no close frame |
//! | `POST /fault/stall?ms=N` | send nothing (no rx, pings or answers) for N ms; connections stay open |
//! | `POST /fault/garbage` | send every session: a non-JSON text frame, an `rx` with an invalid devEui and hex, an unknown `cmd`, a binary frame, `[1,2,3]`, a bare `}` |
//! | `POST /alter-user[?add_devices=K]` | add K devices, then send `alter_user_resp` to every authenticated session |
//! | `POST /pause`, `POST /resume` | stop / restart uplink generation |
//! | `POST /generate?count=N` | generate N (≤ 1,000,000) data uplinks now, round robin (also while paused) |
//!
//! # Code map
//!
//! - [`server`]: WebSocket accept, per-connection session (auth, dispatch, rx push, faults);
//! - [`users`]: users, rights, tokens;
//! - [`devices`]: models, DevEUI/AppEUI, counters, clocks;
//! - [`payloads`]: the §2.3 byte layouts per model;
//! - [`packets`]: one packet's radio metadata, `type`, and its `rx` / `get_data_resp` renderings;
//! - [`history`]: every packet kept; `get_data_req` selection and paging;
//! - [`traffic`]: the generator (schedule, repeats, joins, time packets, rx fan-out);
//! - [`frames`]: JSON re-assembly of requests and the mixed frame mode;
//! - [`state`]: the shared state and counters;
//! - [`control`]: the HTTP control API.
//!
//! # Decisions where PROTOCOLS.md leaves room
//!
//! - `get_data_resp` rows are oldest first; the real order is undocumented.
//!   `date_from`/`date_to` are inclusive; `direction` defaults to `UPLINK`;
//!   `limit` defaults to and is capped at 1000; `withMacCommands` is ignored.
//! - A LoRaWAN repeat has the original's fcnt and data and type `REPEATUNCONF_UP`
//!   or `REPEATCONF_UP`; separately, an identical `rx` is sometimes pushed twice.
//! - `packetStatus` is empty and `dr` LORIOT-style (real values unknown).
//! - Hex case of `data` is random per message; DevEUIs and AppEUIs are upper case.
//! - `device_type` is the model name (Betar models say they have no AppEUI entry,
//!   and use AppEUI `0000000000000000`); every appdata attribute is sent with
//!   or without the `add_data_info` keyword.
//! - `alter_user_resp`, `server_info_resp` and `get_gateways_resp` fields are
//!   not documented; see [`server`].

pub mod control;
pub mod devices;
pub mod frames;
pub mod history;
pub mod packets;
pub mod payloads;
pub mod server;
pub mod state;
pub mod traffic;
pub mod users;

#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use devices::Model;
pub use frames::FrameMode;
pub use state::Shared;
pub use users::UserSpec;

/// Options of the emulator (the command line's flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// WebSocket address.
    pub listen: String,
    /// Control API address.
    pub control: String,
    /// Number of devices.
    pub devices: u32,
    /// Models, cycled over the devices.
    pub models: Vec<Model>,
    /// Every device sends once per this many milliseconds.
    pub interval_ms: u64,
    /// Data uplinks per second in total (overrides `interval_ms`).
    pub rate: Option<f64>,
    /// Hours of history generated before serving.
    pub history_hours: f64,
    /// Minutes between two pre-generated uplinks of a device.
    pub history_interval_min: u32,
    /// Uplinks kept per device (0: all).
    pub history_limit: usize,
    /// Users (none: `root:123` with every right).
    pub users: Vec<UserSpec>,
    /// WebSocket ping period, ms (0: none).
    pub ping_ms: u64,
    /// How messages are framed.
    pub frame_mode: FrameMode,
    /// Seed of every random choice but tokens.
    pub seed: u64,
    /// Every this-many-th device drifts (0: none).
    pub drift_every: u32,
    /// Start with uplink generation paused.
    pub start_paused: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: "127.0.0.1:8002".into(),
            control: "127.0.0.1:8003".into(),
            devices: 12,
            models: Model::ALL.to_vec(),
            interval_ms: 5000,
            rate: None,
            history_hours: 0.0,
            history_interval_min: 60,
            history_limit: 0,
            users: Vec::new(),
            ping_ms: 30_000,
            frame_mode: FrameMode::Single,
            seed: 1,
            drift_every: 4,
            start_paused: false,
        }
    }
}

/// A running emulator; dropping it stops it and closes its connections.
#[derive(Debug)]
pub struct Running {
    /// The WebSocket address.
    pub websocket: SocketAddr,
    /// The control API address.
    pub control: SocketAddr,
    /// The state (tests look inside).
    pub shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.drop_all.send_modify(|n| *n += 1);
    }
}

/// Build the devices (and their history), bind both addresses and start serving.
pub async fn start(options: Options) -> std::io::Result<Running> {
    let shared = tokio::task::spawn_blocking(move || Shared::new(options, state::now_ms()))
        .await
        .map_err(std::io::Error::other)?;
    let ws = TcpListener::bind(&shared.options.listen).await?;
    let control = TcpListener::bind(&shared.options.control).await?;
    let (websocket, control_addr) = (ws.local_addr()?, control.local_addr()?);
    let tasks = vec![
        tokio::spawn(server::serve(ws, shared.clone())),
        tokio::spawn(control::serve(control, shared.clone())),
        tokio::spawn(traffic::run(shared.clone())),
    ];
    Ok(Running { websocket, control: control_addr, shared, tasks })
}

/// Run the emulator until SIGINT or SIGTERM.
pub fn run(options: Options) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vega-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let running = match start(options).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("vega-sim: cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "vega-sim websocket ws://{}/", running.websocket);
        let _ = writeln!(out, "vega-sim control http://{}/", running.control);
        let _ = out.flush();
        drop(out);
        stopped().await;
        drop(running);
        ExitCode::SUCCESS
    })
}

/// Wait for SIGINT or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

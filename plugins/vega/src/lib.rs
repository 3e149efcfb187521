//! The `vega` plugin: a client of an IOT Vega Server (the LoRaWAN network
//! server by Vega-Absolute) over its WebSocket JSON API (PROTOCOLS.md §1).
//! The host connects and reconnects; this driver logs in, learns the
//! devices, back-fills each device's history from its durable resume mark,
//! commits every data uplink as one raw frame (the uplink object as the
//! server wrote it), and corrects device clocks. The frames are decoded by
//! the `vega-codec` plugin.
//!
//! Code map, in data-flow order:
//! - [`settings`]: login, back-fill, pings, time correction; the host's
//!   resume marks;
//! - [`json_stream`]: JSON objects cut out of WebSocket messages, whatever
//!   the frame borders;
//! - [`protocol`]: the server's messages and the driver's requests;
//! - [`session`]: one connection: login, devices, back-fill, live uplinks;
//! - [`time_correction`]: fPort 4 time packets and their correction downlink.
//!
//! Architecture invariant: "committed" is a per-device high-water mark in
//! server time, kept durably by the host from the frames' resume metadata;
//! every connection back-fills each device from its mark with `get_data_req`
//! pages, and the archive drops the overlap with live data as duplicates.

use std::collections::HashMap;

use meterhub_plugin_api::{Action, Event, Plugin, Transport};

pub mod json_stream;
pub mod protocol;
pub mod session;
pub mod settings;
pub mod time_correction;

use session::{PING_TIMER, Session, Shared};
use settings::VegaSettings;

/// One `vega` driver instance.
#[derive(Debug)]
pub struct Vega {
    settings: VegaSettings,
    shared: Shared,
    sessions: HashMap<u64, Session>,
}

impl Plugin for Vega {
    fn init(settings_json: &str) -> Result<Self, String> {
        let settings = VegaSettings::parse(settings_json)?;
        let mut marks = HashMap::new();
        for (dev_eui, mark) in &settings.resume {
            marks.insert(protocol::eui(dev_eui).map_err(|e| format!("vega settings: resume: {e}"))?, *mark);
        }
        Ok(Vega { settings, shared: Shared { marks, ..Shared::default() }, sessions: HashMap::new() })
    }

    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Vec<Action> {
        match event {
            Event::Opened { transport: Transport::Websocket, .. } => {
                let (state, actions) = Session::open(&self.settings, &self.shared, now_ms);
                self.sessions.insert(session, state);
                actions
            }
            Event::Opened { transport, .. } => {
                vec![Action::Close(format!(
                    "the vega driver runs on the websocket transport, not {}",
                    transport.as_str()
                ))]
            }
            Event::Closed => {
                self.sessions.remove(&session);
                Vec::new()
            }
            event => {
                let Some(state) = self.sessions.get_mut(&session) else { return Vec::new() };
                match event {
                    Event::Data(bytes) => state.data(&bytes, &self.settings, &mut self.shared, now_ms),
                    Event::Committed(c) => {
                        state.committed(c.token, &mut self.shared);
                        Vec::new()
                    }
                    Event::CommitFailed(f) => vec![Action::Close(format!(
                        "an uplink could not be committed ({}); reconnecting to fetch it again from the history",
                        f.reason
                    ))],
                    Event::Timer(PING_TIMER) => state.ping(&self.settings),
                    _ => Vec::new(),
                }
            }
        }
    }
}

meterhub_plugin_api::export_plugin!(Vega);

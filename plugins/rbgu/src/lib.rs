//! The `rbgu` plugin: a driver for meters and modems that open a TCP
//! connection to the utility's server and push (RBG-U gas meters and
//! others). Each connection is cut into frames by the instance's framing
//! profile; each frame is committed raw-first, with what the driver read
//! of it in metadata; DLMS pushes are identified by system title and
//! de-duplicated by invocation counter across connections. DLMS pushes
//! are not acknowledged; what the driver sends is an operator's queued
//! commands, as a DLMS client on the meter's own connection
//! (`docs/dlms-commands.md`), once a push has proven it comes from the
//! device (its authentication tag verifies under the device's keys).
//!
//! Code map, in data-flow order:
//! - [`settings`]: `framing` and its bytes, `max_frame_bytes`, `content`,
//!   the replay window;
//! - [`sessions`]: each event to its session, commit answers to the
//!   replay windows;
//! - [`session`]: one connection: framer, system title, commits and
//!   refusals, the device it identified to the host;
//! - [`framing`]: the framers, one per profile ([`framing::wrapper`],
//!   [`framing::hdlc`], [`framing::stuffed`]), and their refusals;
//! - [`dlms`]: the APDU's tag and `general-glo-ciphering` header;
//! - [`device`]: the device registry (the secrets file's system titles,
//!   LLS passwords and keys) and `unknown_devices`;
//! - [`commands`]: queued commands: the proof a push gives of its
//!   device's keys, their arguments, the APDUs, each session's exchange
//!   (AARQ, SETs, RLRQ) with its timer;
//! - [`replays`]: the replay windows per system title;
//! - [`frame`]: the frame to commit, its content type and metadata.
//!
//! Architecture invariant: a committed frame's payload is the frame's bytes
//! exactly as they came on the connection (for the wrapper, header and
//! APDU; for HDLC, flag to flag; stuffed frames still stuffed).
//!
//! Architecture invariant: every byte of a connection is in a committed
//! frame, in a `Reject` (up to its first 4096 bytes), in a meter's answer
//! the command exchange took, or is framing the profile drops by design
//! (HDLC flag fill, a stuffed profile's empty frames); nothing else is
//! dropped.
//!
//! Architecture invariant: what the driver holds is bounded: per session
//! one frame in progress (`max_frame_bytes` and the profile's envelope),
//! 4096 bytes of refused input and the commands the host handed it; per
//! instance the replay windows (`replay_titles`) and the commits they
//! follow (65 536).
//!
//! Architecture invariant: with `framing = "wrapper"` and `content =
//! "dlms"` (the instances that send commands), a meter's answer (AARE,
//! SET-RESPONSE, RLRE, exception-response, confirmed-service-error) is
//! never committed, and every other frame is, during an exchange too.
//!
//! Architecture invariant: a counter counts as seen only once a frame
//! carrying it is committed; a replay is never committed as new.

use meterhub_plugin_api::{Action, Event, Plugin};

pub mod commands;
pub mod device;
pub mod dlms;
pub mod frame;
pub mod framing;
pub mod replays;
pub mod session;
pub mod sessions;
pub mod settings;

use replays::Replays;
use sessions::Sessions;
use settings::RbguSettings;

/// One rbgu instance: its settings, its open sessions, the replay windows
/// its sessions share.
#[derive(Debug)]
pub struct Rbgu {
    settings: RbguSettings,
    sessions: Sessions,
    replays: Replays,
}

impl Rbgu {
    /// Its settings.
    pub fn settings(&self) -> &RbguSettings {
        &self.settings
    }

    /// How many sessions are open.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// How many bytes its open sessions hold.
    pub fn held_bytes(&self) -> usize {
        self.sessions.held()
    }

    /// Its replay windows.
    pub fn replays(&self) -> &Replays {
        &self.replays
    }
}

impl Plugin for Rbgu {
    fn init(settings_json: &str) -> Result<Self, String> {
        let settings = RbguSettings::parse(settings_json)?;
        let replays = Replays::new(settings.replays);
        Ok(Rbgu { settings, sessions: Sessions::default(), replays })
    }

    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Vec<Action> {
        self.sessions.handle(&self.settings, &mut self.replays, session, now_ms, event)
    }
}

meterhub_plugin_api::export_plugin!(Rbgu);

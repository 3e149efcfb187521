//! Queued commands: the driver as a DLMS client sending an operator's
//! commands to a meter on the meter's own connection, per the wire
//! contract `docs/dlms-commands.md` (bytes, defaults, answers and error
//! texts are its).
//!
//! Why here: the meters push over connections they open themselves, so
//! the host cannot reach a meter when an operator asks; it keeps the
//! command queued until the meter next connects. A session whose push
//! proves it comes from a known device (its tag verifies under the
//! device's keys, [`proof`]) identifies it to the host (`Action::Identify`,
//! see [`crate::session`]); the host hands over the commands queued for it
//! (`Event::Commands`); the [`exchange`] sends them (AARQ, one SET each,
//! RLRQ) and answers each with `Action::CommandDone`.
//!
//! - [`args`]: a command's JSON arguments, read strictly;
//! - [`clock`]: `set_clock`, the COSEM date-time;
//! - [`schedule`]: `set_push_period`, the push action schedule;
//! - [`apdu`]: the APDUs, written and read;
//! - [`exchange`]: one session's exchange, a state machine with a timer;
//! - [`proof`]: whether a push was made with its device's keys, before the
//!   device is identified (and sent its password).
//!
//! Commands work only with `framing = "wrapper"` and `content = "dlms"`;
//! elsewhere the session still identifies the device (so the operator
//! learns why) and every command fails saying so. Both commands are
//! setters: a meter that gets one twice (the host hands a command again
//! when a session ends before it is done) ends in the same state.

pub mod apdu;
pub mod args;
pub mod clock;
pub mod exchange;
pub mod proof;
pub mod schedule;

#[cfg(test)]
mod tests;

use apdu::Target;
use clock::SetClock;
use schedule::PushPeriod;

/// The commands the driver knows, as `plugin.toml`'s `[commands]` lists
/// them.
pub const NAMES: [&str; 2] = [clock::NAME, schedule::NAME];

/// The settings of queued commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSettings {
    /// The source wPort of the driver's frames (`command_client_sap`,
    /// default 32: the СПОДЭС reader association, LLS).
    pub client_sap: u16,
    /// Their destination wPort (`command_server_sap`, default 1: the
    /// management logical device).
    pub server_sap: u16,
    /// How long each answer is awaited, seconds (`command_timeout_s`,
    /// default 30).
    pub timeout_s: u32,
    /// The offset of the local time `set_clock` writes, minutes east of
    /// UTC (`utc_offset_minutes`, default 180: UTC+3).
    pub utc_offset_minutes: i32,
}

impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings { client_sap: 32, server_sap: 1, timeout_s: 30, utc_offset_minutes: 180 }
    }
}

/// One SET a command makes: where, what, and the answer when the meter
/// takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The attribute written.
    pub target: Target,
    /// The value, A-XDR with its type tag.
    pub data: Vec<u8>,
    /// The outcome on success (`clock set to ...`).
    pub answer: String,
}

/// A command the driver knows, its arguments read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setter {
    /// `set_clock`.
    Clock(SetClock),
    /// `set_push_period`.
    PushPeriod(PushPeriod),
}

impl Setter {
    /// The command `name` with arguments `args` (a JSON object text), or
    /// why it cannot be sent, naming the command and the problem.
    pub fn plan(name: &str, args: &str) -> Result<Setter, String> {
        match name {
            clock::NAME => clock::parse(args).map(Setter::Clock),
            schedule::NAME => schedule::parse(args).map(Setter::PushPeriod),
            _ => Err(format!("unknown command {name:?}; rbgu has {}", NAMES.join(", "))),
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Setter::Clock(_) => clock::NAME,
            Setter::PushPeriod(_) => schedule::NAME,
        }
    }

    /// Its SET, made at host clock `now_ms`.
    pub fn set(&self, now_ms: i64, settings: &CommandSettings) -> Result<Set, String> {
        match self {
            Setter::Clock(clock) => clock.set(now_ms, settings.utc_offset_minutes),
            Setter::PushPeriod(period) => Ok(period.set()),
        }
    }
}

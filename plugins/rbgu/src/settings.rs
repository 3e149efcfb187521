//! The rbgu settings: a strict JSON object (unknown or repeated settings are
//! errors), parsed then validated into a value that cannot be invalid.
//! Errors name the setting.
//!
//! ```json
//! {"framing": "wrapper", "max_frame_bytes": 65536, "replay": "mark", "replay_window": 64, "replay_titles": 65536}
//! ```
//!
//! `framing` is required. The `stuffed_*` settings belong to `framing`
//! `stuffed` only, the `replay*` settings to `content` `dlms` only, the
//! settings of queued commands (`command_client_sap`, `command_server_sap`,
//! `command_timeout_s`, `utc_offset_minutes`; see [`crate::commands`]) to
//! `framing` `wrapper` with `content` `dlms` only. The device registry and
//! its passwords come from the host's `secrets` (see [`crate::device`]).

use serde_json::value::RawValue;

use crate::commands::CommandSettings;
use crate::device::{Devices, Unknown};
use crate::framing::{FramingSettings, Profile, StuffedBytes};
use crate::replays::{ReplayPolicy, ReplaySettings};

/// What an instance's frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// DLMS/COSEM APDUs: their tag, system title and invocation counter
    /// are read, and replays detected.
    Dlms,
    /// Anything: frames are committed as they are.
    Opaque,
}

impl Content {
    /// Its name, the value of the `content` setting.
    pub fn name(self) -> &'static str {
        match self {
            Content::Dlms => "dlms",
            Content::Opaque => "opaque",
        }
    }
}

/// Validated settings of one rbgu instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbguSettings {
    /// `framing` (required: `wrapper`, `hdlc` or `stuffed`),
    /// `max_frame_bytes` (default 65 536, [`MIN_FRAME_BYTES`] to
    /// [`MAX_FRAME_BYTES`]) and the stuffed profile's bytes (`stuffed_end`
    /// 0xC0, `stuffed_escape` 0xDB, `stuffed_escaped_end` 0xDC,
    /// `stuffed_escaped_escape` 0xDD, and optionally `stuffed_start` with
    /// `stuffed_escaped_start`; integers 0 to 255).
    pub framing: FramingSettings,
    /// `content`: `dlms` (default for `wrapper` and `hdlc`) or `opaque`
    /// (default for `stuffed`).
    pub content: Content,
    /// `replay` (`mark`, default, or `reject`), `replay_window` (1 to 64,
    /// default 64), `replay_titles` (0 to [`MAX_REPLAY_TITLES`], default
    /// 65 536; 0 turns replay detection off).
    pub replays: ReplaySettings,
    /// `unknown_devices` (`accept`, default, `refuse` or `pending`; the
    /// last two only with `content` `dlms` and a secrets file) and the
    /// device registry of `secrets` (the host's: the secrets file).
    pub devices: Devices,
    /// `command_client_sap` (default 32) and `command_server_sap` (default
    /// 1), wPorts 1 to 65535; `command_timeout_s` (default 30, 1 to 3600);
    /// `utc_offset_minutes` (default 180, -720 to 840). Only with `framing`
    /// `wrapper` and `content` `dlms`.
    pub commands: CommandSettings,
}

/// Smallest `max_frame_bytes`.
pub const MIN_FRAME_BYTES: i64 = 16;
/// Largest `max_frame_bytes`: 16 MiB.
pub const MAX_FRAME_BYTES: i64 = 16 << 20;
/// Largest `replay_titles` (about 20 MiB of windows).
pub const MAX_REPLAY_TITLES: i64 = 1 << 18;

/// Names of the settings. `resume` is the host's (resume marks; this
/// driver sets none, and ignores it).
const NAMES: [&str; 19] = [
    "framing",
    "max_frame_bytes",
    "content",
    "replay",
    "replay_window",
    "replay_titles",
    "stuffed_start",
    "stuffed_end",
    "stuffed_escape",
    "stuffed_escaped_start",
    "stuffed_escaped_end",
    "stuffed_escaped_escape",
    "unknown_devices",
    "command_client_sap",
    "command_server_sap",
    "command_timeout_s",
    "utc_offset_minutes",
    SECRETS,
    meterhub_plugin_api::SETTINGS_RESUME,
];

/// The setting the host fills from the instance's secrets file.
const SECRETS: &str = "secrets";

/// The settings as given, by name.
struct Given<'a>([Option<&'a RawValue>; NAMES.len()]);

impl<'a> Given<'a> {
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        NAMES.iter().position(|n| *n == name).and_then(|i| self.0[i])
    }

    /// The first of `names` given, if any.
    fn any(&self, names: impl IntoIterator<Item = &'static str>) -> Option<&'static str> {
        names.into_iter().find(|n| self.get(n).is_some())
    }
}

impl RbguSettings {
    /// Parse and validate `settings_json`; the error names the setting.
    pub fn parse(settings_json: &str) -> Result<Self, String> {
        let raw: &RawValue = serde_json::from_str(settings_json).map_err(|e| format!("settings: invalid JSON: {e}"))?;
        let given = Given(members(raw)?);
        let profile = match given.get("framing") {
            Some(v) => choice(v, "framing", &["wrapper", "hdlc", "stuffed"], Profile::parse)?,
            None => return Err("setting \"framing\": required; one of \"wrapper\", \"hdlc\", \"stuffed\"".into()),
        };
        let max = match given.get("max_frame_bytes") {
            Some(v) => integer(v, "max_frame_bytes", MIN_FRAME_BYTES, MAX_FRAME_BYTES)?,
            None => 65_536,
        };
        let framing = FramingSettings {
            profile,
            max_frame_bytes: usize::try_from(max).unwrap_or(65_536),
            stuffed: stuffed(&given, profile)?,
        };
        let content = match (given.get("content"), profile) {
            (Some(v), _) => choice(v, "content", &["dlms", "opaque"], |c| match c {
                "dlms" => Some(Content::Dlms),
                "opaque" => Some(Content::Opaque),
                _ => None,
            })?,
            (None, Profile::Stuffed) => Content::Opaque,
            (None, _) => Content::Dlms,
        };
        let devices = devices(&given, content)?;
        let commands = commands(&given, profile, content)?;
        Ok(RbguSettings { framing, content, replays: replays(&given, content)?, devices, commands })
    }
}

/// The members of the settings object, each once and known.
fn members(raw: &RawValue) -> Result<[Option<&RawValue>; NAMES.len()], String> {
    let list = meterhub_plugin_api::json::members(raw)
        .map_err(|_| format!("settings: expected a JSON object, got {}", snippet(raw.get())))?;
    let mut slots = [None; NAMES.len()];
    for (name, value) in list {
        let Some(i) = NAMES.iter().position(|n| *n == name) else {
            return Err(format!("setting {name:?}: unknown; rbgu has {}", NAMES.join(", ")));
        };
        if slots[i].replace(value).is_some() {
            return Err(format!("setting {name:?}: given more than once"));
        }
    }
    Ok(slots)
}

/// The stuffed profile's bytes: the defaults, changed by the `stuffed_*`
/// settings (only for `framing` `stuffed`), checked to delimit unambiguously.
fn stuffed(given: &Given<'_>, profile: Profile) -> Result<StuffedBytes, String> {
    let names = ["stuffed_start", "stuffed_end", "stuffed_escape"];
    let codes = ["stuffed_escaped_start", "stuffed_escaped_end", "stuffed_escaped_escape"];
    if profile != Profile::Stuffed {
        if let Some(name) = given.any(names.into_iter().chain(codes)) {
            return Err(format!("setting {name:?}: only for framing \"stuffed\", not {:?}", profile.name()));
        }
        return Ok(StuffedBytes::default());
    }
    let byte = |name: &str| given.get(name).map(|v| integer(v, name, 0, 255).map(|n| n as u8)).transpose();
    let d = StuffedBytes::default();
    let (end, escape) = (byte("stuffed_end")?.unwrap_or(d.end), byte("stuffed_escape")?.unwrap_or(d.escape));
    let escaped_end = byte("stuffed_escaped_end")?.unwrap_or(d.escaped_end);
    let escaped_escape = byte("stuffed_escaped_escape")?.unwrap_or(d.escaped_escape);
    let start = match (byte("stuffed_start")?, byte("stuffed_escaped_start")?) {
        (Some(start), Some(code)) => Some((start, code)),
        (None, None) => None,
        (Some(_), None) => return Err("setting \"stuffed_escaped_start\": required with stuffed_start".into()),
        (None, Some(_)) => return Err("setting \"stuffed_escaped_start\": only with stuffed_start".into()),
    };
    let bytes = StuffedBytes { start, end, escape, escaped_end, escaped_escape };
    check_stuffed(&bytes)?;
    Ok(bytes)
}

/// The delimiters, the escape byte and the codes must not be confused.
fn check_stuffed(b: &StuffedBytes) -> Result<(), String> {
    let mut delimiters = vec![("stuffed_end", b.end)];
    let mut codes = vec![("stuffed_escaped_end", b.escaped_end), ("stuffed_escaped_escape", b.escaped_escape)];
    if let Some((start, code)) = b.start {
        delimiters.push(("stuffed_start", start));
        codes.push(("stuffed_escaped_start", code));
    }
    let mut special = delimiters.clone();
    special.push(("stuffed_escape", b.escape));
    for (i, (name, value)) in special.iter().enumerate() {
        if let Some((other, _)) = special[..i].iter().find(|(_, v)| v == value) {
            return Err(format!("setting {name:?}: 0x{value:02X} is {other} already"));
        }
    }
    for (i, (name, value)) in codes.iter().enumerate() {
        let clash = delimiters.iter().chain(&codes[..i]).find(|(_, v)| v == value);
        if let Some((other, _)) = clash {
            return Err(format!(
                "setting {name:?}: 0x{value:02X} is {other} already; an escape code must differ from the delimiters and the other codes"
            ));
        }
    }
    Ok(())
}

/// The device registry and `unknown_devices` (other than `accept` only
/// with `content` `dlms`: an opaque frame names no device).
fn devices(given: &Given<'_>, content: Content) -> Result<Devices, String> {
    let unknown = match given.get("unknown_devices") {
        Some(v) => choice(v, "unknown_devices", &["accept", "refuse", "pending"], Unknown::parse)?,
        None => Unknown::Accept,
    };
    if content == Content::Opaque && unknown != Unknown::Accept {
        return Err("setting \"unknown_devices\": only with content \"dlms\" (an opaque frame names no device)".into());
    }
    Devices::new(given.get(SECRETS), unknown)
}

/// The settings of queued commands (only for `framing` `wrapper` with
/// `content` `dlms`: the only instances that send them).
fn commands(given: &Given<'_>, profile: Profile, content: Content) -> Result<CommandSettings, String> {
    let names = ["command_client_sap", "command_server_sap", "command_timeout_s", "utc_offset_minutes"];
    if (profile != Profile::Wrapper || content != Content::Dlms)
        && let Some(name) = given.any(names)
    {
        return Err(format!(
            "setting {name:?}: only with framing \"wrapper\" and content \"dlms\" (commands need them)"
        ));
    }
    let d = CommandSettings::default();
    let get = |name: &str, min: i64, max: i64, default: i64| match given.get(name) {
        Some(v) => integer(v, name, min, max),
        None => Ok(default),
    };
    let sap = |name: &str, default: u16| get(name, 1, 65_535, i64::from(default)).map(|n| n as u16);
    Ok(CommandSettings {
        client_sap: sap("command_client_sap", d.client_sap)?,
        server_sap: sap("command_server_sap", d.server_sap)?,
        timeout_s: get("command_timeout_s", 1, 3600, i64::from(d.timeout_s))? as u32,
        utc_offset_minutes: get("utc_offset_minutes", -720, 840, i64::from(d.utc_offset_minutes))? as i32,
    })
}

/// The replay settings (only for `content` `dlms`).
fn replays(given: &Given<'_>, content: Content) -> Result<ReplaySettings, String> {
    let names = ["replay", "replay_window", "replay_titles"];
    if content == Content::Opaque
        && let Some(name) = given.any(names)
    {
        return Err(format!("setting {name:?}: only with content \"dlms\""));
    }
    let d = ReplaySettings::default();
    let policy = match given.get("replay") {
        Some(v) => choice(v, "replay", &["mark", "reject"], |p| match p {
            "mark" => Some(ReplayPolicy::Mark),
            "reject" => Some(ReplayPolicy::Reject),
            _ => None,
        })?,
        None => d.policy,
    };
    let window = match given.get("replay_window") {
        Some(v) => integer(v, "replay_window", 1, 64)? as u32,
        None => d.window,
    };
    let titles = match given.get("replay_titles") {
        Some(v) => usize::try_from(integer(v, "replay_titles", 0, MAX_REPLAY_TITLES)?).unwrap_or(d.titles),
        None => d.titles,
    };
    Ok(ReplaySettings { policy, window, titles })
}

/// One of `names`, as `pick` reads it.
fn choice<T>(v: &RawValue, name: &str, names: &[&str], pick: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    let text = serde_json::from_str::<String>(v.get()).ok();
    text.as_deref().and_then(pick).ok_or_else(|| {
        let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
        format!("setting {name:?}: expected one of {}, got {}", list.join(", "), snippet(v.get()))
    })
}

/// An integer JSON number within `min..=max`.
fn integer(v: &RawValue, name: &str, min: i64, max: i64) -> Result<i64, String> {
    let text = v.get().trim();
    let whole = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    match text.parse::<i64>() {
        Ok(n) if whole && (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("setting {name:?}: expected an integer from {min} to {max}, got {}", snippet(text))),
    }
}

/// At most 40 characters of `text`, for messages.
pub(crate) fn snippet(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_setting() {
        let s = RbguSettings::parse(r#"{"framing": "wrapper"}"#).unwrap();
        assert_eq!(
            s,
            RbguSettings {
                framing: FramingSettings {
                    profile: Profile::Wrapper,
                    max_frame_bytes: 65_536,
                    stuffed: StuffedBytes::default()
                },
                content: Content::Dlms,
                replays: ReplaySettings::default(),
                devices: Devices::default(),
                commands: CommandSettings { client_sap: 32, server_sap: 1, timeout_s: 30, utc_offset_minutes: 180 },
            }
        );
        let s = RbguSettings::parse(
            r#"{"framing": "wrapper", "command_client_sap": 16, "command_server_sap": 65535,
                "command_timeout_s": 3600, "utc_offset_minutes": -720}"#,
        )
        .unwrap();
        assert_eq!(
            s.commands,
            CommandSettings { client_sap: 16, server_sap: 65_535, timeout_s: 3600, utc_offset_minutes: -720 }
        );
        assert_eq!(RbguSettings::parse(r#"{"framing": "stuffed"}"#).unwrap().content, Content::Opaque);
        let s = RbguSettings::parse(
            r#"{"framing": "stuffed", "content": "dlms", "max_frame_bytes": 16, "replay": "reject",
                "replay_window": 1, "replay_titles": 0, "stuffed_start": 192, "stuffed_end": 194,
                "stuffed_escape": 219, "stuffed_escaped_start": 222, "stuffed_escaped_end": 220,
                "stuffed_escaped_escape": 221, "resume": {}}"#,
        )
        .unwrap();
        assert_eq!(s.framing.stuffed, StuffedBytes { start: Some((0xC0, 0xDE)), end: 0xC2, ..StuffedBytes::default() });
        assert_eq!(s.replays, ReplaySettings { policy: ReplayPolicy::Reject, window: 1, titles: 0 });
        assert_eq!((s.framing.max_frame_bytes, s.content), (16, Content::Dlms));
        let s = RbguSettings::parse(
            r#"{"framing": "hdlc", "unknown_devices": "pending", "secrets": {"devices": {"4D48420000000001": {"ek": "000102030405060708090a0b0c0d0e0f"}}}}"#,
        )
        .unwrap();
        assert_eq!(s.devices.admit(None), crate::device::Admission::Pending);
    }

    #[test]
    fn errors_name_the_setting() {
        let cases = [
            (
                r#"{"framing": "stuffed", "unknown_devices": "refuse"}"#,
                "setting \"unknown_devices\": only with content \"dlms\" (an opaque frame names no device)",
            ),
            (
                r#"{"framing": "wrapper", "unknown_devices": "deny"}"#,
                "setting \"unknown_devices\": expected one of \"accept\", \"refuse\", \"pending\", got \"deny\"",
            ),
            ("{}", r#"setting "framing": required; one of "wrapper", "hdlc", "stuffed""#),
            (
                r#"{"framing": "slip"}"#,
                r#"setting "framing": expected one of "wrapper", "hdlc", "stuffed", got "slip""#,
            ),
            (r#"{"framing": 1}"#, r#"setting "framing": expected one of "wrapper", "hdlc", "stuffed", got 1"#),
            (
                r#"{"framing": "hdlc", "max_frame_bytes": 15}"#,
                r#"setting "max_frame_bytes": expected an integer from 16 to 16777216, got 15"#,
            ),
            (
                r#"{"framing": "hdlc", "max_frame_bytes": 1e3}"#,
                r#"setting "max_frame_bytes": expected an integer from 16 to 16777216, got 1e3"#,
            ),
            (r#"{"framing": "hdlc", "framing": "hdlc"}"#, r#"setting "framing": given more than once"#),
            (
                r#"{"framing": "hdlc", "max_frame": 1}"#,
                r#"setting "max_frame": unknown; rbgu has framing, max_frame_bytes, content, replay, replay_window, replay_titles, stuffed_start, stuffed_end, stuffed_escape, stuffed_escaped_start, stuffed_escaped_end, stuffed_escaped_escape, unknown_devices, command_client_sap, command_server_sap, command_timeout_s, utc_offset_minutes, secrets, resume"#,
            ),
            (
                r#"{"framing": "hdlc", "stuffed_end": 192}"#,
                r#"setting "stuffed_end": only for framing "stuffed", not "hdlc""#,
            ),
            (r#"{"framing": "stuffed", "replay": "mark"}"#, r#"setting "replay": only with content "dlms""#),
            (
                r#"{"framing": "wrapper", "replay": "drop"}"#,
                r#"setting "replay": expected one of "mark", "reject", got "drop""#,
            ),
            (
                r#"{"framing": "wrapper", "replay_window": 65}"#,
                r#"setting "replay_window": expected an integer from 1 to 64, got 65"#,
            ),
            (
                r#"{"framing": "wrapper", "replay_titles": -1}"#,
                r#"setting "replay_titles": expected an integer from 0 to 262144, got -1"#,
            ),
            (
                r#"{"framing": "stuffed", "stuffed_end": 256}"#,
                r#"setting "stuffed_end": expected an integer from 0 to 255, got 256"#,
            ),
            (
                r#"{"framing": "stuffed", "stuffed_escape": 192}"#,
                r#"setting "stuffed_escape": 0xC0 is stuffed_end already"#,
            ),
            (
                r#"{"framing": "stuffed", "stuffed_escaped_end": 192}"#,
                r#"setting "stuffed_escaped_end": 0xC0 is stuffed_end already; an escape code must differ from the delimiters and the other codes"#,
            ),
            (
                r#"{"framing": "stuffed", "stuffed_escaped_escape": 220}"#,
                r#"setting "stuffed_escaped_escape": 0xDC is stuffed_escaped_end already; an escape code must differ from the delimiters and the other codes"#,
            ),
            (
                r#"{"framing": "stuffed", "stuffed_start": 194}"#,
                r#"setting "stuffed_escaped_start": required with stuffed_start"#,
            ),
            (
                r#"{"framing": "stuffed", "stuffed_escaped_start": 194}"#,
                r#"setting "stuffed_escaped_start": only with stuffed_start"#,
            ),
            (
                r#"{"framing": "stuffed", "stuffed_start": 192, "stuffed_escaped_start": 222}"#,
                r#"setting "stuffed_start": 0xC0 is stuffed_end already"#,
            ),
            (
                r#"{"framing": "hdlc", "command_timeout_s": 10}"#,
                r#"setting "command_timeout_s": only with framing "wrapper" and content "dlms" (commands need them)"#,
            ),
            (
                r#"{"framing": "wrapper", "content": "opaque", "utc_offset_minutes": 0}"#,
                r#"setting "utc_offset_minutes": only with framing "wrapper" and content "dlms" (commands need them)"#,
            ),
            (
                r#"{"framing": "wrapper", "command_client_sap": 0}"#,
                r#"setting "command_client_sap": expected an integer from 1 to 65535, got 0"#,
            ),
            (
                r#"{"framing": "wrapper", "command_server_sap": 65536}"#,
                r#"setting "command_server_sap": expected an integer from 1 to 65535, got 65536"#,
            ),
            (
                r#"{"framing": "wrapper", "command_timeout_s": 0}"#,
                r#"setting "command_timeout_s": expected an integer from 1 to 3600, got 0"#,
            ),
            (
                r#"{"framing": "wrapper", "command_timeout_s": 1.5}"#,
                r#"setting "command_timeout_s": expected an integer from 1 to 3600, got 1.5"#,
            ),
            (
                r#"{"framing": "wrapper", "utc_offset_minutes": 841}"#,
                r#"setting "utc_offset_minutes": expected an integer from -720 to 840, got 841"#,
            ),
            (
                r#"{"framing": "wrapper", "utc_offset_minutes": "+03:00"}"#,
                r#"setting "utc_offset_minutes": expected an integer from -720 to 840, got "+03:00""#,
            ),
            ("[]", "settings: expected a JSON object, got []"),
            ("{", "settings: invalid JSON: EOF while parsing an object at line 1 column 1"),
        ];
        for (json, want) in cases {
            assert_eq!(RbguSettings::parse(json).unwrap_err(), want, "{json}");
        }
    }
}

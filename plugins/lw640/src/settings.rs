//! The driver's settings: a strict JSON object (unknown settings are
//! refused by name), parsed then validated into a value that cannot be
//! invalid. Errors name the setting, its line and column.
//!
//! ```json
//! {"server": "auto", "auth_header": "Authorization", "auth_token": "Bearer s3cret",
//!  "repeat_window_s": 3600, "repeat_capacity": 65536,
//!  "backfill_applications": ["meters@ttn"], "backfill_interval_s": 300,
//!  "backfill_initial_s": 86400, "backfill_settle_s": 60, "backfill_page": 500}
//! ```
//!
//! The host adds `resume` (the back-fill's durable marks) when there are
//! any.

use std::collections::BTreeMap;

use crate::envelope::Server;
use crate::error::Refusal;
use crate::json::{self, Obj, Val};

/// Which server's bodies the instance reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerChoice {
    /// Tell from each body's shape (binary bodies: ChirpStack v4).
    Auto,
    /// Only this one.
    Fixed(Server),
}

/// A secret: compared, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The bytes to compare with.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Header `header` must hold exactly `token`.
    Token {
        /// The header's name as configured (for messages).
        header: String,
        /// The expected value.
        token: Secret,
    },
    /// Any request is taken (`allow_unauthenticated = true`).
    None,
    /// Neither is set: HTTP requests are refused, saying what to set; MQTT
    /// messages (authenticated by the broker) are taken.
    Unset {
        /// The header's name as configured (for messages).
        header: String,
    },
}

/// Validated settings of one lw640 instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lw640Settings {
    /// `server`: `"auto"` (default), `"chirpstack-v4"`, `"chirpstack-v3"`
    /// or `"tts-v3"`.
    pub server: ServerChoice,
    /// `auth_header` (default `Authorization`) and `auth_token` (the
    /// header's exact expected value), or `allow_unauthenticated = true`
    /// without a token. Without either, HTTP requests are refused (401,
    /// saying what to set). HTTP requests only: MQTT messages are not
    /// authenticated by the driver (the broker authenticates the host).
    pub auth: Auth,
    /// `repeat_window_s` (default 3600, at most [`MAX_REPEAT_WINDOW_S`]),
    /// in milliseconds: how long after an uplink's first arrival the same
    /// uplink counts as a repeat. 0 turns repeat detection off.
    pub repeat_window_ms: i64,
    /// `repeat_capacity` (default 65536, at most [`MAX_REPEAT_CAPACITY`]):
    /// how many uplinks are remembered for it, the oldest forgotten first.
    /// 0 turns repeat detection off.
    pub repeat_capacity: usize,
    /// Back-fill from The Things Stack's Storage Integration, when
    /// `backfill_applications` names any application.
    pub backfill: Option<BackfillSettings>,
    /// The host's resume marks (`resume`): per key, the time (ms) up to
    /// which everything is committed.
    pub resume: BTreeMap<String, i64>,
}

/// Back-fill settings (see [`crate::backfill`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillSettings {
    /// `backfill_applications`: The Things Stack application ids
    /// (`app` or, on The Things Stack Cloud, `app@tenant`).
    pub applications: Vec<String>,
    /// `backfill_interval_s` (default 300, from 10 to 86400): how often
    /// the stored uplinks are read, in milliseconds.
    pub interval_ms: i64,
    /// `backfill_initial_s` (default 86400, at most 30 days): how far back
    /// the first back-fill of an application reaches, in milliseconds.
    pub initial_ms: i64,
    /// `backfill_settle_s` (default 60, at most 3600): uplinks newer than
    /// this are left to the next round (the storage writes them a moment
    /// after they arrive), in milliseconds.
    pub settle_ms: i64,
    /// `backfill_page` (default 500, from 1 to 10000): stored uplinks
    /// asked for per request.
    pub page: u32,
}

/// Largest `repeat_window_s`: 30 days.
pub const MAX_REPEAT_WINDOW_S: i64 = 30 * 86_400;
/// Largest `repeat_capacity`.
pub const MAX_REPEAT_CAPACITY: i64 = 1 << 20;

/// Names of the settings.
const NAMES: [&str; 12] = [
    "server",
    "auth_header",
    "auth_token",
    "allow_unauthenticated",
    "repeat_window_s",
    "repeat_capacity",
    "backfill_applications",
    "backfill_interval_s",
    "backfill_initial_s",
    "backfill_settle_s",
    "backfill_page",
    meterhub_plugin_api::SETTINGS_RESUME,
];

impl Lw640Settings {
    /// Parse and validate `settings_json`; the error names the setting.
    pub fn parse(settings_json: &str) -> Result<Self, String> {
        Self::read(settings_json).map_err(|e| match e {
            Refusal::Field { path, at, problem } => format!("setting {path:?} at {at}: {problem}"),
            Refusal::NotObject { got } => format!("settings: expected a JSON object, got {got}"),
            other => format!("settings: {other}"),
        })
    }

    fn read(settings_json: &str) -> Result<Self, Refusal> {
        let top = json::parse_object(settings_json.as_bytes())?;
        if let Some(unknown) = top.keys().find(|k| !NAMES.contains(k)) {
            let path = unknown.to_owned();
            let problem = format!("unknown setting; lw640 has {}", NAMES.join(", "));
            return Err(top.require(unknown).map_or(
                Refusal::Field { path, at: crate::error::Position { line: 1, column: 1 }, problem: problem.clone() },
                |v| v.fail(problem.clone()),
            ));
        }
        let server = match top.read("server", Val::string)?.as_deref() {
            None | Some("auto") => ServerChoice::Auto,
            Some("chirpstack-v4") => ServerChoice::Fixed(Server::ChirpstackV4),
            Some("chirpstack-v3") => ServerChoice::Fixed(Server::ChirpstackV3),
            Some("tts-v3") => ServerChoice::Fixed(Server::TtsV3),
            Some(_) => {
                let v = top.require("server")?;
                return Err(v.fail("expected \"auto\", \"chirpstack-v4\", \"chirpstack-v3\" or \"tts-v3\""));
            }
        };
        let repeat_window_s = top.read("repeat_window_s", |v| v.integer(0, MAX_REPEAT_WINDOW_S))?.unwrap_or(3600);
        let repeat_capacity = top.read("repeat_capacity", |v| v.integer(0, MAX_REPEAT_CAPACITY))?.unwrap_or(65_536);
        Ok(Lw640Settings {
            server,
            auth: auth(&top)?,
            repeat_window_ms: repeat_window_s * 1000,
            repeat_capacity: usize::try_from(repeat_capacity).unwrap_or(0),
            backfill: backfill(&top)?,
            resume: resume(&top)?,
        })
    }
}

/// The back-fill settings, `None` without `backfill_applications`.
fn backfill(top: &Obj<'_>) -> Result<Option<BackfillSettings>, Refusal> {
    let Some(list) = top.get("backfill_applications") else {
        if let Some(key) = NAMES.iter().find(|k| k.starts_with("backfill_") && top.has(k)) {
            return Err(top.require(key)?.fail("needs backfill_applications (The Things Stack application ids)"));
        }
        return Ok(None);
    };
    let mut applications = Vec::new();
    for v in list.array()? {
        let id = v.string()?;
        if !is_application_id(&id) {
            return Err(v.fail(
                "expected a The Things Stack application id: lower-case letters, digits and dashes, and @tenant on The Things Stack Cloud",
            ));
        }
        if applications.contains(&id) {
            return Err(v.fail("named twice"));
        }
        applications.push(id);
    }
    if applications.is_empty() {
        return Err(list.fail("empty: name the applications to back-fill, or leave the setting out"));
    }
    let seconds = |name: &str, min: i64, max: i64, default: i64| -> Result<i64, Refusal> {
        Ok(top.read(name, |v| v.integer(min, max))?.unwrap_or(default) * 1000)
    };
    Ok(Some(BackfillSettings {
        applications,
        interval_ms: seconds("backfill_interval_s", 10, 86_400, 300)?,
        initial_ms: seconds("backfill_initial_s", 0, 30 * 86_400, 86_400)?,
        settle_ms: seconds("backfill_settle_s", 0, 3600, 60)?,
        page: u32::try_from(top.read("backfill_page", |v| v.integer(1, 10_000))?.unwrap_or(500)).unwrap_or(500),
    }))
}

/// Whether `id` is an application id of The Things Stack: 2 to 36
/// lower-case letters, digits and single dashes, neither first nor last,
/// then optionally `@` and a tenant id of the same form.
fn is_application_id(id: &str) -> bool {
    let part = |p: &str| {
        (2..=36).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !p.starts_with('-')
            && !p.ends_with('-')
            && !p.contains("--")
    };
    match id.split_once('@') {
        Some((app, tenant)) => part(app) && part(tenant),
        None => part(id),
    }
}

/// The host's resume marks: an object of integers.
fn resume(top: &Obj<'_>) -> Result<BTreeMap<String, i64>, Refusal> {
    let Some(marks) = top.read(meterhub_plugin_api::SETTINGS_RESUME, Val::object)? else { return Ok(BTreeMap::new()) };
    let mut out = BTreeMap::new();
    for key in marks.keys() {
        out.insert(key.to_owned(), marks.require(key)?.integer(i64::MIN, i64::MAX)?);
    }
    Ok(out)
}

/// The authentication settings, checked together.
fn auth(top: &Obj<'_>) -> Result<Auth, Refusal> {
    let header = match top.get("auth_header") {
        Some(v) => {
            let name = v.string()?;
            let token_chars = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(token_chars) {
                return Err(v.fail("expected an HTTP header name (letters, digits, and !#$%&'*+-.^_`|~)"));
            }
            name
        }
        None => "Authorization".to_owned(),
    };
    let allow = top.read("allow_unauthenticated", Val::boolean)?.unwrap_or(false);
    match (top.get("auth_token"), allow) {
        (Some(v), false) => {
            let token = v.string()?;
            if token.is_empty() {
                return Err(v.fail("empty; set the header's exact expected value"));
            }
            if token.chars().any(|c| c.is_control() && c != '\t') {
                return Err(v.fail("holds a control character, which no header value can"));
            }
            if token.trim() != token {
                return Err(v.fail("starts or ends with white space, which HTTP drops from header values"));
            }
            Ok(Auth::Token { header, token: Secret(token.into_bytes()) })
        }
        (Some(v), true) => Err(v.fail("given together with allow_unauthenticated = true; choose one")),
        (None, true) => Ok(Auth::None),
        (None, false) => Ok(Auth::Unset { header }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_setting() {
        let s = Lw640Settings::parse(r#"{"auth_token": "Bearer x"}"#).unwrap();
        assert_eq!(s.server, ServerChoice::Auto);
        assert_eq!(s.auth, Auth::Token { header: "Authorization".into(), token: Secret(b"Bearer x".to_vec()) });
        assert_eq!((s.repeat_window_ms, s.repeat_capacity), (3_600_000, 65_536));
        let s = Lw640Settings::parse(
            r#"{"server": "tts-v3", "auth_header": "X-Api-Key", "allow_unauthenticated": true, "repeat_window_s": 0, "repeat_capacity": 10}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            Lw640Settings {
                server: ServerChoice::Fixed(Server::TtsV3),
                auth: Auth::None,
                repeat_window_ms: 0,
                repeat_capacity: 10,
                backfill: None,
                resume: BTreeMap::new(),
            }
        );
        assert_eq!(format!("{:?}", Secret(b"s3cret".to_vec())), "Secret(..)");
    }

    #[test]
    fn errors_name_the_setting_never_the_token() {
        let cases = [
            (
                r#"{"auth_token": "t", "sever": "auto"}"#,
                r#"setting "sever" at line 1 column 30: unknown setting; lw640 has server, auth_header, auth_token, allow_unauthenticated, repeat_window_s, repeat_capacity, backfill_applications, backfill_interval_s, backfill_initial_s, backfill_settle_s, backfill_page, resume"#,
            ),
            (
                r#"{"auth_token": "t", "server": "ttn"}"#,
                r#"setting "server" at line 1 column 31: expected "auto", "chirpstack-v4", "chirpstack-v3" or "tts-v3""#,
            ),
            (
                r#"{"auth_token": "t", "repeat_window_s": -1}"#,
                r#"setting "repeat_window_s" at line 1 column 40: expected an integer from 0 to 2592000, got -1"#,
            ),
            (
                r#"{"auth_token": "t", "repeat_capacity": "many"}"#,
                r#"setting "repeat_capacity" at line 1 column 40: expected an integer from 0 to 1048576, got "many""#,
            ),
            (
                r#"{"auth_token": "t", "auth_header": "X Key"}"#,
                r#"setting "auth_header" at line 1 column 36: expected an HTTP header name (letters, digits, and !#$%&'*+-.^_`|~)"#,
            ),
            (
                r#"{"auth_token": ""}"#,
                r#"setting "auth_token" at line 1 column 16: empty; set the header's exact expected value"#,
            ),
            (
                r#"{"auth_token": " s3cret"}"#,
                r#"setting "auth_token" at line 1 column 16: starts or ends with white space, which HTTP drops from header values"#,
            ),
            (
                r#"{"auth_token": "s3cret", "allow_unauthenticated": true}"#,
                r#"setting "auth_token" at line 1 column 16: given together with allow_unauthenticated = true; choose one"#,
            ),
            ("[]", "settings: expected a JSON object, got []"),
            ("{", "settings: invalid JSON at line 1 column 1: EOF while parsing an object"),
        ];
        for (json, want) in cases {
            let e = Lw640Settings::parse(json).unwrap_err();
            assert_eq!(e, want, "{json}");
            assert!(!e.contains("s3cret"), "{e}");
        }
        let backfill = [
            (
                r#"{"backfill_page": 10}"#,
                r#"setting "backfill_page" at line 1 column 19: needs backfill_applications (The Things Stack application ids)"#,
            ),
            (
                r#"{"backfill_applications": []}"#,
                r#"setting "backfill_applications" at line 1 column 27: empty: name the applications to back-fill, or leave the setting out"#,
            ),
            (
                r#"{"backfill_applications": ["ok-app", "Bad_App"]}"#,
                r#"setting "backfill_applications[1]" at line 1 column 38: expected a The Things Stack application id: lower-case letters, digits and dashes, and @tenant on The Things Stack Cloud"#,
            ),
            (
                r#"{"backfill_applications": ["a1", "a1"]}"#,
                r#"setting "backfill_applications[1]" at line 1 column 34: named twice"#,
            ),
            (
                r#"{"backfill_applications": ["a1"], "backfill_interval_s": 5}"#,
                r#"setting "backfill_interval_s" at line 1 column 58: expected an integer from 10 to 86400, got 5"#,
            ),
        ];
        for (json, want) in backfill {
            assert_eq!(Lw640Settings::parse(json).unwrap_err(), want, "{json}");
        }
        let unset = Lw640Settings::parse(r#"{"auth_header": "X-Key"}"#).unwrap().auth;
        assert_eq!(unset, Auth::Unset { header: "X-Key".into() }, "an MQTT-only instance needs no token");
    }
}

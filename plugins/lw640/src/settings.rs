//! The driver's settings: a strict JSON object (unknown settings are
//! refused by name), parsed then validated into a value that cannot be
//! invalid. Errors name the setting, its line and column.
//!
//! ```json
//! {"server": "auto", "auth_header": "Authorization", "auth_token": "Bearer s3cret",
//!  "repeat_window_s": 3600, "repeat_capacity": 65536}
//! ```

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
}

/// Largest `repeat_window_s`: 30 days.
pub const MAX_REPEAT_WINDOW_S: i64 = 30 * 86_400;
/// Largest `repeat_capacity`.
pub const MAX_REPEAT_CAPACITY: i64 = 1 << 20;

/// Names of the settings.
const NAMES: [&str; 6] =
    ["server", "auth_header", "auth_token", "allow_unauthenticated", "repeat_window_s", "repeat_capacity"];

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
        })
    }
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
                repeat_capacity: 10
            }
        );
        assert_eq!(format!("{:?}", Secret(b"s3cret".to_vec())), "Secret(..)");
    }

    #[test]
    fn errors_name_the_setting_never_the_token() {
        let cases = [
            (
                r#"{"auth_token": "t", "sever": "auto"}"#,
                r#"setting "sever" at line 1 column 30: unknown setting; lw640 has server, auth_header, auth_token, allow_unauthenticated, repeat_window_s, repeat_capacity"#,
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
        let unset = Lw640Settings::parse(r#"{"auth_header": "X-Key"}"#).unwrap().auth;
        assert_eq!(unset, Auth::Unset { header: "X-Key".into() }, "an MQTT-only instance needs no token");
    }
}

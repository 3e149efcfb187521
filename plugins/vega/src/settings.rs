//! The driver's settings (a JSON object, strict: an unknown key is an error
//! naming it), and the resume marks the host adds under `resume`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Settings of one `vega` driver instance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VegaSettings {
    /// The IOT Vega Server user.
    pub login: String,
    /// Its password.
    #[serde(default)]
    pub password: String,
    /// Resume a session with `token_auth_req` on reconnect (falls back to
    /// `auth_req` when the server refuses the token).
    #[serde(default = "yes")]
    pub reuse_token: bool,
    /// Send `ping_req` this often, so that a quiet link still carries
    /// traffic (0: never), milliseconds.
    #[serde(default = "default_ping_interval_ms")]
    pub ping_interval_ms: u32,
    /// How far back to fetch the history of a device that has no resume
    /// mark yet (a device seen for the first time), milliseconds.
    #[serde(default = "default_backfill_initial_ms")]
    pub backfill_initial_ms: i64,
    /// Packets per `get_data_req` page (the server's `limit`, at most 1000).
    #[serde(default = "default_backfill_page")]
    pub backfill_page: u32,
    /// Answer a device's time packet (fPort 4) with a correction downlink.
    #[serde(default = "yes")]
    pub time_correction: bool,
    /// Smallest drift corrected, seconds.
    #[serde(default = "default_threshold_s")]
    pub time_correction_threshold_s: u32,
    /// Largest JSON message the driver waits to see completed, bytes.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Resume marks from the host: per DevEUI, the server time (ms) up to
    /// which every uplink of the device is committed.
    #[serde(default)]
    pub resume: BTreeMap<String, i64>,
}

fn yes() -> bool {
    true
}
fn default_ping_interval_ms() -> u32 {
    30_000
}
fn default_backfill_initial_ms() -> i64 {
    86_400_000
}
fn default_backfill_page() -> u32 {
    1000
}
fn default_threshold_s() -> u32 {
    5
}
fn default_max_message_bytes() -> usize {
    4 << 20
}

impl VegaSettings {
    /// Parse and check the settings object.
    pub fn parse(json: &str) -> Result<VegaSettings, String> {
        let s: VegaSettings = serde_json::from_str(json).map_err(|e| format!("vega settings: {e}"))?;
        if s.login.is_empty() {
            return Err("vega settings: `login` must not be empty".into());
        }
        if !(1..=1000).contains(&s.backfill_page) {
            return Err(format!("vega settings: `backfill_page` {} must be between 1 and 1000", s.backfill_page));
        }
        if s.backfill_initial_ms < 0 {
            return Err("vega settings: `backfill_initial_ms` must not be negative".into());
        }
        if s.max_message_bytes < 1024 {
            return Err("vega settings: `max_message_bytes` must be at least 1024".into());
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_defaults_apply() {
        let example = VegaSettings::parse(include_str!("../settings.example.json")).expect("example");
        assert_eq!(example.login, "root");
        let minimal = VegaSettings::parse(r#"{"login":"u","resume":{"3632333364374F18":1646809600123}}"#).expect("ok");
        assert!(minimal.reuse_token && minimal.time_correction);
        assert_eq!((minimal.ping_interval_ms, minimal.backfill_page), (30_000, 1000));
        assert_eq!(minimal.resume.get("3632333364374F18"), Some(&1_646_809_600_123));
    }

    #[test]
    fn mistakes_are_named() {
        for (json, expected) in [
            (r#"{"login":"u","pasword":"x"}"#, "unknown field `pasword`"),
            (r#"{"password":"x"}"#, "missing field `login`"),
            (r#"{"login":""}"#, "`login` must not be empty"),
            (r#"{"login":"u","backfill_page":0}"#, "`backfill_page` 0 must be between 1 and 1000"),
        ] {
            let e = VegaSettings::parse(json).expect_err(json);
            assert!(e.contains(expected), "{json}: {e}");
        }
    }
}

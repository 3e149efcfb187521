//! `secrets_file`: the per-device secrets (DLMS keys, passwords) of a
//! driver instance, in a TOML file of their own that the operator manages
//! apart from the main configuration. The file is read with the
//! configuration (so a change to it is applied, or refused, like one to
//! the configuration), must not be open to other users, and its values
//! never appear in an error: a message names the file, the line and the
//! column, and what is wrong, never what is written there.

use std::path::Path;

use toml::Spanned;

use super::Validator;
use crate::model::Secrets;
use crate::{Diagnostic, Pos};

/// Largest secrets file read: far more than any site's keys.
pub const MAX_SECRETS_BYTES: u64 = 4 << 20;

/// The settings key under which the plugins get the secrets.
pub const SETTINGS_SECRETS: &str = "secrets";

impl Validator<'_> {
    /// The secrets file named at `raw`, read and checked; `None` with the
    /// errors recorded.
    pub(super) fn secrets(&mut self, raw: &Spanned<String>) -> Option<Secrets> {
        let file = self.path(raw.get_ref());
        let refuse = |this: &mut Self, why: String| {
            this.error(raw, format!("secrets_file {}: {why}", file.display()));
            None
        };
        let meta = match std::fs::metadata(&file) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return refuse(self, "is not a file".into()),
            Err(e) => return refuse(self, format!("cannot be read: {e}")),
        };
        if let Some(why) = exposed(&meta) {
            return refuse(self, why);
        }
        if meta.len() > MAX_SECRETS_BYTES {
            return refuse(self, format!("is larger than {} MiB", MAX_SECRETS_BYTES >> 20));
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => return refuse(self, format!("cannot be read: {e}")),
        };
        match parse(&file, &text) {
            Ok(json) => Some(Secrets::new(file, self.pos(raw), json)),
            Err(d) => {
                self.diagnostics.push(d);
                None
            }
        }
    }
}

/// Why a file with these permissions is refused: writable by its group,
/// or open to every user. A group may read it (`640`, owned by root with
/// the service's group).
#[cfg(unix)]
fn exposed(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    (mode & 0o027 != 0).then(|| {
        format!("is open to other users (mode {mode:03o}); make it 600, or 640 with a group only meterhub's user is in")
    })
}

#[cfg(not(unix))]
fn exposed(_: &std::fs::Metadata) -> Option<String> {
    None
}

/// The file's tables as one JSON object text. A TOML error is reported at
/// its line and column with the parser's message only: the source line
/// is not quoted, it may hold a key.
fn parse(file: &Path, text: &str) -> Result<String, Diagnostic> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let pos = e.span().map_or(Pos { line: 1, col: 1 }, |s| Pos::of_offset(text, s.start));
        Diagnostic::new(file, pos, format!("secrets file: {}", e.message().trim_end()))
    })?;
    let json = serde_json::Value::Object(table.into_iter().map(|(k, v)| (k, to_json(v))).collect());
    Ok(json.to_string())
}

/// A TOML value as JSON: date-times as their RFC 3339 text.
fn to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(to_json).collect()),
        toml::Value::Table(t) => J::Object(t.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_become_one_json_object() {
        let text = "[devices.4D48420000000001]\nek = \"00\"\nak = \"11\"\n[devices.4D48420000000002]\nek = \"22\"\n";
        let json = parse(Path::new("/etc/s.toml"), text).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["devices"]["4D48420000000001"]["ak"], "11");
        assert_eq!(v["devices"]["4D48420000000002"]["ek"], "22");
    }

    /// A configuration in `dir` whose driver `meters` names `secrets.toml`
    /// (written with `mode`) and has `settings`.
    fn load(dir: &Path, secrets: &str, mode: u32, settings: &str) -> Result<crate::Config, Vec<String>> {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.join("secrets.toml");
        std::fs::write(&file, secrets).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let text = format!(
            "[host]\ndata_dir = 'data'\nplugins_dir = 'plugins'\n[drivers.meters]\nplugin = 'rbgu'\ncodec = 'dlms-codec'\n\
             transport = 'tcp'\nlisten = '127.0.0.1:0'\nsecrets_file = 'secrets.toml'\n{settings}"
        );
        crate::load::parse(&dir.join("m.toml"), &text)
            .map_err(|e| e.diagnostics.iter().map(ToString::to_string).collect())
    }

    const KEYS: &str = "[devices.4D48420000000001]\nek = '000102030405060708090A0B0C0D0E0F'\n";

    #[test]
    fn the_driver_and_its_codec_get_the_secrets_and_debug_never_shows_them() {
        let dir = tempfile::tempdir().unwrap();
        let c = load(dir.path(), KEYS, 0o600, "[drivers.meters.settings]\nframing = 'wrapper'\n").unwrap();
        let d = &c.drivers[0];
        let driver: serde_json::Value = serde_json::from_str(&d.driver_settings()).unwrap();
        assert_eq!(driver["framing"], "wrapper");
        assert_eq!(driver["secrets"]["devices"]["4D48420000000001"]["ek"], "000102030405060708090A0B0C0D0E0F");
        let codec: serde_json::Value = serde_json::from_str(&d.codec_settings()).unwrap();
        assert_eq!(codec, serde_json::json!({"secrets": driver["secrets"]}));
        assert_eq!(d.settings_json, r#"{"framing":"wrapper"}"#, "the settings as written stay without them");
        let shown = format!("{c:?}");
        assert!(shown.contains("secrets.toml") && !shown.contains("0A0B0C"), "{shown}");

        let changed = load(dir.path(), &KEYS.replace("0F'", "0E'"), 0o640, "").unwrap();
        assert!(!changed.drivers[0].same_driver(d) && !changed.drivers[0].same_codec(d), "a changed key is a change");
    }

    #[test]
    fn an_open_missing_or_broken_file_is_refused_at_secrets_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path(), KEYS, 0o644, "").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("m.toml:9:16: secrets_file ") && e[0].contains("is open to other users (mode 644)"),
            "{e:?}"
        );
        assert!(load(dir.path(), KEYS, 0o660, "").unwrap_err()[0].contains("mode 660"));
        let e = load(dir.path(), "[devices.A]\nek = 'SECRET\n", 0o600, "").unwrap_err();
        assert!(e[0].contains("secrets.toml:2:") && !e[0].contains("SECRET"), "{e:?}");
        let e = load(dir.path(), KEYS, 0o600, "[drivers.meters.codec_settings.secrets]\nek = '00'\n").unwrap_err();
        assert!(e[0].contains("`secrets` in codec_settings is the host's"), "{e:?}");
        std::fs::remove_file(dir.path().join("secrets.toml")).unwrap();
        let text = "[host]\ndata_dir = 'd'\nplugins_dir = 'p'\n[drivers.m]\nplugin = 'rbgu'\ntransport = 'tcp'\nlisten = '127.0.0.1:0'\nsecrets_file = 'gone.toml'\n";
        let e = crate::load::parse(&dir.path().join("m.toml"), text).unwrap_err().to_string();
        assert!(e.contains("secrets_file ") && e.contains("gone.toml: cannot be read"), "{e}");
    }

    #[test]
    fn a_syntax_error_names_the_place_and_never_the_value() {
        let text = "[devices.A]\nek = \"SECRET-VALUE-1234\nak = 1\n";
        let e = parse(Path::new("/etc/s.toml"), text).unwrap_err().to_string();
        assert!(e.starts_with("/etc/s.toml:2:"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
    }
}

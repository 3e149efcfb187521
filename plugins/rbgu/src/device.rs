//! The device behind a connection, checked against the instance's device
//! registry: the system titles of its secrets file (`secrets_file` in
//! `meterhub.toml`; the host hands the file to the driver as the setting
//! `secrets`, `{"devices": {"<title>": {...}}}`). What the driver does
//! with a device it does not know is the setting `unknown_devices`:
//!
//! - `accept` (the default): every device is taken, known or not;
//! - `refuse`: a frame of an unknown device, or one no system title names
//!   yet, is refused (a rejection naming the device) and the connection
//!   closed;
//! - `pending`: the frame is committed as any other, marked
//!   `device.pending = 1`; the codec holds it in quarantine until the
//!   device is in the secrets file (then `meterhub redecode --quarantined`
//!   decodes it). Nothing is lost while the operator decides.
//!
//! The registry also keeps each device's optional LLS `password` and its
//! keys `ek` and `ak`, for the queued commands ([`crate::commands`]): a
//! session whose push proves it was made with the device's keys
//! ([`crate::commands::proof`]) identifies the device to the host, which
//! hands over the commands queued for it; the driver sends them with this
//! password in its AARQ. A device without both keys is never identified.
//! The password is a [`Password`] and the keys are [`SecretKey`]s, whose
//! `Debug` shows nothing of them, and no error quotes them (nor any other
//! value of the secrets file).

use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::commands::proof::{KeyPair, SecretKey};
use crate::dlms::SystemTitle;

/// What the driver does with a device not in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unknown {
    /// Take it.
    #[default]
    Accept,
    /// Refuse its frames and close its connection.
    Refuse,
    /// Commit its frames marked pending.
    Pending,
}

impl Unknown {
    /// The policy named `name` in the settings.
    pub fn parse(name: &str) -> Option<Unknown> {
        match name {
            "accept" => Some(Unknown::Accept),
            "refuse" => Some(Unknown::Refuse),
            "pending" => Some(Unknown::Pending),
            _ => None,
        }
    }
}

/// A device's LLS password, the `password` of its table in the secrets
/// file: 1 to [`MAX_PASSWORD`] printable ASCII characters (the AARQ's
/// GraphicString). Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

/// The longest password taken, in bytes (the AARQ has one-byte lengths).
pub const MAX_PASSWORD: usize = 64;

impl Password {
    /// Its bytes, for the AARQ only.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// What the registry keeps of a device's table in the secrets file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Device {
    /// Its LLS password, if it has one.
    password: Option<Password>,
    /// Its `ek` and `ak`, if it has both.
    keys: Option<KeyPair>,
}

/// The device registry and what to do with a device not in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    /// The system titles of the secrets file, each with what the driver
    /// keeps of its table.
    known: HashMap<SystemTitle, Device>,
    /// What happens to the others.
    unknown: Unknown,
}

/// What becomes of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Committed.
    Admit,
    /// Committed, marked pending.
    Pending,
    /// Refused for this reason, the connection closed.
    Refuse(String),
}

impl Devices {
    /// The registry of `secrets` (the setting, if given) with policy
    /// `unknown`. The error names the setting; it never quotes a secret.
    pub fn new(secrets: Option<&RawValue>, unknown: Unknown) -> Result<Devices, String> {
        let known = match secrets {
            Some(raw) => titles(raw)?,
            None if unknown != Unknown::Accept => {
                return Err("setting \"unknown_devices\": needs the device registry: name the instance's secrets file (secrets_file in meterhub.toml)".into());
            }
            None => HashMap::new(),
        };
        Ok(Devices { known, unknown })
    }

    /// What becomes of a frame from the device with system title `title`,
    /// if known.
    pub fn admit(&self, title: Option<SystemTitle>) -> Admission {
        let known = title.is_some_and(|t| self.is_known(t));
        match (self.unknown, known) {
            (Unknown::Accept, _) | (_, true) => Admission::Admit,
            (Unknown::Pending, false) => Admission::Pending,
            (Unknown::Refuse, false) => Admission::Refuse(match title {
                Some(t) => format!("unknown device {t}: not in the instance's secrets file (unknown_devices = \"refuse\")"),
                None => "unidentified device: no system title on this connection yet (unknown_devices = \"refuse\" takes only known titles)".into(),
            }),
        }
    }

    /// Whether the device with system title `title` is in the registry.
    pub fn is_known(&self, title: SystemTitle) -> bool {
        self.known.contains_key(&title)
    }

    /// The LLS password of the device with system title `title`, if it is
    /// known and has one.
    pub fn password(&self, title: SystemTitle) -> Option<&Password> {
        self.known.get(&title).and_then(|d| d.password.as_ref())
    }

    /// The keys (`ek` and `ak`) of the device with system title `title`,
    /// if it is known and has both.
    pub fn keys(&self, title: SystemTitle) -> Option<&KeyPair> {
        self.known.get(&title).and_then(|d| d.keys.as_ref())
    }
}

/// The devices of `secrets`: `{"devices": {"<16 hex>": {...}}}`, each with
/// its `password`, `ek` and `ak` if it has them; what else a device's table
/// holds is the codec's.
fn titles(secrets: &RawValue) -> Result<HashMap<SystemTitle, Device>, String> {
    let shape = || "setting \"secrets\": expected the secrets file's tables, [devices.<system title>]".to_owned();
    let members = meterhub_plugin_api::json::members(secrets).map_err(|_| shape())?;
    let mut known = HashMap::new();
    for (name, devices) in members {
        if name != "devices" {
            continue;
        }
        for (title, table) in meterhub_plugin_api::json::members(devices).map_err(|_| shape())? {
            let bytes =
                meterhub_plugin_api::hex::decode(&title).ok().and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok());
            let Some(bytes) = bytes else {
                return Err(format!("setting \"secrets\".\"devices\".{title:?}: a system title is 16 hex digits"));
            };
            let device = device(&title, table)?;
            if known.insert(SystemTitle(bytes), device).is_some() {
                return Err(format!(
                    "setting \"secrets\".\"devices\".{title:?}: given more than once (in another case)"
                ));
            }
        }
    }
    Ok(known)
}

/// What the registry keeps of the device table `table` (of system title
/// `title`). Errors name the setting, never the value.
fn device(title: &str, table: &RawValue) -> Result<Device, String> {
    let members = meterhub_plugin_api::json::members(table)
        .map_err(|_| format!("setting \"secrets\".\"devices\".{title:?}: expected a table"))?;
    let member = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, raw)| *raw);
    let password = member("password").map(|raw| password(title, raw)).transpose()?;
    let ek = member("ek").map(|raw| key(title, "ek", raw)).transpose()?;
    let ak = member("ak").map(|raw| key(title, "ak", raw)).transpose()?;
    let keys = ek.zip(ak).map(|(ek, ak)| KeyPair { ek, ak });
    Ok(Device { password, keys })
}

/// The key `name` (`ek` or `ak`) of the device table of system title
/// `title`, `raw`: 32 hex digits. The error names the setting, never the
/// value.
fn key(title: &str, name: &str, raw: &RawValue) -> Result<SecretKey, String> {
    serde_json::from_str::<String>(raw.get()).ok().as_deref().and_then(SecretKey::from_hex).ok_or_else(|| {
        format!("setting \"secrets\".\"devices\".{title:?}.{name:?}: expected 32 hex digits (a 128-bit key)")
    })
}

/// The `password` `raw` of the device table of system title `title`. The
/// error names the setting, never the value.
fn password(title: &str, raw: &RawValue) -> Result<Password, String> {
    let text = serde_json::from_str::<String>(raw.get()).ok();
    match text {
        Some(p) if (1..=MAX_PASSWORD).contains(&p.len()) && p.bytes().all(|b| (0x20..=0x7E).contains(&b)) => {
            Ok(Password(p.into_bytes()))
        }
        _ => Err(format!(
            "setting \"secrets\".\"devices\".{title:?}.\"password\": expected a string of 1 to {MAX_PASSWORD} printable ASCII characters (an LLS password)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SystemTitle = SystemTitle([0x4d, 0x48, 0x42, 0, 0, 0, 0, 1]);
    const B: SystemTitle = SystemTitle([0x4d, 0x48, 0x42, 0, 0, 0, 0, 2]);

    fn devices(secrets: &str, unknown: Unknown) -> Result<Devices, String> {
        let raw: Box<RawValue> = serde_json::from_str(secrets).unwrap();
        Devices::new(Some(&raw), unknown)
    }

    #[test]
    fn each_policy_treats_a_known_and_an_unknown_device() {
        let secrets = r#"{"devices": {"4d48420000000001": {"ek": "000102030405060708090a0b0c0d0e0f"}}}"#;
        let accept = devices(secrets, Unknown::Accept).unwrap();
        assert_eq!([accept.admit(Some(A)), accept.admit(Some(B)), accept.admit(None)], [const { Admission::Admit }; 3]);
        let pending = devices(secrets, Unknown::Pending).unwrap();
        assert_eq!(
            [pending.admit(Some(A)), pending.admit(Some(B)), pending.admit(None)],
            [Admission::Admit, Admission::Pending, Admission::Pending]
        );
        let refuse = devices(secrets, Unknown::Refuse).unwrap();
        assert_eq!(refuse.admit(Some(A)), Admission::Admit);
        let Admission::Refuse(why) = refuse.admit(Some(B)) else { panic!("refused") };
        assert!(why.starts_with("unknown device 4D48420000000002: not in the instance's secrets file"), "{why}");
        let Admission::Refuse(why) = refuse.admit(None) else { panic!("refused") };
        assert!(why.starts_with("unidentified device"), "{why}");
    }

    #[test]
    fn the_registry_is_checked_and_required_by_refuse_and_pending() {
        assert!(Devices::new(None, Unknown::Refuse).unwrap_err().contains("secrets_file"));
        assert!(Devices::new(None, Unknown::Pending).is_err());
        assert_eq!(Devices::new(None, Unknown::Accept).unwrap(), Devices::default());
        assert_eq!(
            devices(r#"{"devices": {"4D4842": {}}}"#, Unknown::Refuse).unwrap_err(),
            "setting \"secrets\".\"devices\".\"4D4842\": a system title is 16 hex digits"
        );
        let twice = r#"{"devices": {"4D48420000000001": {}, "4d48420000000001": {}}}"#;
        assert!(devices(twice, Unknown::Refuse).unwrap_err().contains("more than once"));
        let e = devices(r#"{"devices": "SECRET"}"#, Unknown::Refuse).unwrap_err();
        assert!(!e.contains("SECRET"), "{e}");
        assert!(devices("{}", Unknown::Refuse).unwrap().admit(Some(A)) != Admission::Admit);
    }

    #[test]
    fn passwords_are_kept_and_never_shown() {
        let secrets = r#"{"devices": {"4D48420000000001": {"password": "S3cret-pw"}, "4D48420000000002": {}}}"#;
        let d = devices(secrets, Unknown::Accept).unwrap();
        assert_eq!(d.password(A).map(Password::bytes), Some(&b"S3cret-pw"[..]));
        assert_eq!((d.password(B), d.is_known(B)), (None, true));
        let unknown = SystemTitle([9; 8]);
        assert_eq!((d.password(unknown), d.is_known(unknown)), (None, false));
        let shown = format!("{d:?}");
        assert!(!shown.contains("S3cret") && shown.contains("Password(..)"), "{shown}");
        let bad = [
            r#"{"devices": {"4D48420000000001": {"password": 12345678}}}"#,
            r#"{"devices": {"4D48420000000001": {"password": ""}}}"#,
            r#"{"devices": {"4D48420000000001": {"password": "S3cret\u00e9"}}}"#,
            r#"{"devices": {"4D48420000000001": {"password": "S3cret\n"}}}"#,
        ];
        for secrets in bad {
            let e = devices(secrets, Unknown::Accept).unwrap_err();
            assert_eq!(
                e,
                "setting \"secrets\".\"devices\".\"4D48420000000001\".\"password\": expected a string of 1 to 64 printable ASCII characters (an LLS password)"
            );
        }
        let long = format!(r#"{{"devices": {{"4D48420000000001": {{"password": "{}"}}}}}}"#, "x".repeat(65));
        assert!(devices(&long, Unknown::Accept).is_err());
        let e = devices(r#"{"devices": {"4D48420000000001": "S3cret"}}"#, Unknown::Accept).unwrap_err();
        assert_eq!(e, "setting \"secrets\".\"devices\".\"4D48420000000001\": expected a table");
    }

    #[test]
    fn keys_are_kept_in_pairs_and_never_shown() {
        const EK: &str = "000102030405060708090A0B0C0D0E0F";
        const AK: &str = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf";
        let secrets = format!(
            r#"{{"devices": {{"4D48420000000001": {{"ek": "{EK}", "ak": "{AK}"}}, "4D48420000000002": {{"ek": "{EK}"}}}}}}"#
        );
        let d = devices(&secrets, Unknown::Accept).unwrap();
        let want = KeyPair { ek: SecretKey::from_hex(EK).unwrap(), ak: SecretKey::from_hex(AK).unwrap() };
        assert_eq!(d.keys(A), Some(&want));
        assert_eq!((d.keys(B), d.is_known(B)), (None, true), "ek without ak");
        assert_eq!(d.keys(SystemTitle([9; 8])), None);
        let shown = format!("{d:?}");
        assert!(!shown.to_lowercase().contains(&EK.to_lowercase()) && !shown.contains(AK), "{shown}");
        assert!(shown.contains("SecretKey(..)"), "{shown}");
        for (name, bad) in
            [("ek", "\"00\""), ("ak", "\"S3cretS3cretS3cretS3cretS3cret00\""), ("ek", "5"), ("ak", "null")]
        {
            let secrets = format!(r#"{{"devices": {{"4D48420000000001": {{"{name}": {bad}}}}}}}"#);
            let e = devices(&secrets, Unknown::Accept).unwrap_err();
            assert_eq!(
                e,
                format!(
                    "setting \"secrets\".\"devices\".\"4D48420000000001\".\"{name}\": expected 32 hex digits (a 128-bit key)"
                )
            );
        }
    }
}

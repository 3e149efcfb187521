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
//! Queued commands will plug in here too: bytes for the device
//! (`Action::Send`) once its push is committed (the host holds a `Send`
//! back until the commits issued before it are stored, so a command never
//! acknowledges an unstored push).

use std::collections::HashSet;

use serde_json::value::RawValue;

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

/// The device registry and what to do with a device not in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    /// The system titles of the secrets file.
    known: HashSet<SystemTitle>,
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
            None => HashSet::new(),
        };
        Ok(Devices { known, unknown })
    }

    /// What becomes of a frame from the device with system title `title`,
    /// if known.
    pub fn admit(&self, title: Option<SystemTitle>) -> Admission {
        let known = title.is_some_and(|t| self.known.contains(&t));
        match (self.unknown, known) {
            (Unknown::Accept, _) | (_, true) => Admission::Admit,
            (Unknown::Pending, false) => Admission::Pending,
            (Unknown::Refuse, false) => Admission::Refuse(match title {
                Some(t) => format!("unknown device {t}: not in the instance's secrets file (unknown_devices = \"refuse\")"),
                None => "unidentified device: no system title on this connection yet (unknown_devices = \"refuse\" takes only known titles)".into(),
            }),
        }
    }
}

/// The system titles of `secrets`: `{"devices": {"<16 hex>": {...}}}`;
/// what each device's table holds is the codec's.
fn titles(secrets: &RawValue) -> Result<HashSet<SystemTitle>, String> {
    let shape = || "setting \"secrets\": expected the secrets file's tables, [devices.<system title>]".to_owned();
    let members = meterhub_plugin_api::json::members(secrets).map_err(|_| shape())?;
    let mut known = HashSet::new();
    for (name, devices) in members {
        if name != "devices" {
            continue;
        }
        for (title, _) in meterhub_plugin_api::json::members(devices).map_err(|_| shape())? {
            let bytes =
                meterhub_plugin_api::hex::decode(&title).ok().and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok());
            let Some(bytes) = bytes else {
                return Err(format!("setting \"secrets\".\"devices\".{title:?}: a system title is 16 hex digits"));
            };
            if !known.insert(SystemTitle(bytes)) {
                return Err(format!(
                    "setting \"secrets\".\"devices\".{title:?}: given more than once (in another case)"
                ));
            }
        }
    }
    Ok(known)
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
        let secrets = r#"{"devices": {"4d48420000000001": {"ek": "00"}}}"#;
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
}

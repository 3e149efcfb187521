//! Users of the emulated server: login, password, rights (`command_list`),
//! device access (FULL or SELECTED devices), and the session tokens issued
//! by `auth_req`, which stay valid across connections until `close_auth_req`.
//!
//! A user is given on the command line as `login:password[:rights[:devices]]`:
//! `rights` is `all` (the default) or a comma-separated list of the names in
//! [`RIGHTS`] (empty: none); `devices` is `all` (FULL access, the default) or a
//! comma-separated list of device indexes (`3`), index ranges (`0-9`) or
//! DevEUIs (SELECTED access).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use rand::Rng;
use serde_json::{Value, json};

use super::devices::Device;

/// The permission names of `command_list` (PROTOCOLS.md §1.4).
pub const RIGHTS: [&str; 20] = [
    "get_users",
    "manage_users",
    "delete_users",
    "get_device_appdata",
    "get_data",
    "send_data",
    "manage_device_appdata",
    "delete_device_appdata",
    "get_gateways",
    "manage_gateways",
    "delete_gateways",
    "get_devices",
    "manage_devices",
    "delete_devices",
    "get_coverage_map",
    "get_device_downlink_queue",
    "manage_device_downlink_queue",
    "server_info",
    "send_email",
    "tx",
];

/// One item of a SELECTED device list, before the devices exist.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DeviceRef {
    /// Indexes `first..=last`.
    Range(u32, u32),
    /// A DevEUI (upper case).
    Eui(String),
}

/// A user as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// Login.
    pub login: String,
    /// Password.
    pub password: String,
    /// Rights.
    pub rights: Vec<String>,
    /// `None`: FULL access.
    devices: Option<Vec<DeviceRef>>,
}

impl UserSpec {
    /// `root:123` with every right and FULL access.
    pub fn root() -> UserSpec {
        UserSpec {
            login: "root".into(),
            password: "123".into(),
            rights: RIGHTS.iter().map(ToString::to_string).collect(),
            devices: None,
        }
    }
}

impl FromStr for UserSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(4, ':');
        let login = parts.next().unwrap_or_default().to_string();
        let password = parts.next().ok_or("expected login:password[:rights[:devices]]")?.to_string();
        if login.is_empty() {
            return Err("empty login".into());
        }
        let rights = match parts.next() {
            None | Some("all") | Some("*") => RIGHTS.iter().map(ToString::to_string).collect(),
            Some(list) => list
                .split(',')
                .filter(|r| !r.is_empty())
                .map(|r| if RIGHTS.contains(&r) { Ok(r.to_string()) } else { Err(format!("unknown right {r:?}")) })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let devices = match parts.next() {
            None | Some("all") | Some("*") => None,
            Some(list) => Some(
                list.split(',')
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        if d.len() == 16 && d.chars().all(|c| c.is_ascii_hexdigit()) {
                            return Ok(DeviceRef::Eui(d.to_ascii_uppercase()));
                        }
                        let (a, b) = d.split_once('-').unwrap_or((d, d));
                        match (a.parse(), b.parse()) {
                            (Ok(a), Ok(b)) if a <= b => Ok(DeviceRef::Range(a, b)),
                            _ => Err(format!("{d:?} is neither a device index, an index range nor a DevEUI")),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(UserSpec { login, password, rights, devices })
    }
}

/// A user of the running emulator.
#[derive(Debug)]
pub struct User {
    /// Login.
    pub login: String,
    password: String,
    /// Rights (`command_list`).
    pub rights: Vec<String>,
    /// `None`: FULL access; else the indexes of the devices the user sees.
    pub devices: Option<HashSet<u32>>,
}

impl User {
    /// Whether `command_list` holds `right`.
    pub fn may(&self, right: &str) -> bool {
        self.rights.iter().any(|r| r == right)
    }

    /// Whether the user sees device `index`.
    pub fn sees(&self, index: u32) -> bool {
        self.devices.as_ref().is_none_or(|d| d.contains(&index))
    }

    /// `device_access`.
    pub fn access(&self) -> &'static str {
        if self.devices.is_none() { "FULL" } else { "SELECTED" }
    }

    /// `consoleEnable`: users with every right.
    pub fn console(&self) -> bool {
        RIGHTS.iter().all(|r| self.may(r))
    }

    /// The fields `auth_resp` and `token_auth_resp` carry on success.
    pub fn auth_fields(&self, cmd: &str, token: &str) -> Value {
        json!({
            "cmd": cmd,
            "status": true,
            "token": token,
            "device_access": self.access(),
            "consoleEnable": self.console(),
            "command_list": self.rights,
            "rx_settings": {"unsolicited": true, "direction": "UPLINK", "withMacCommands": false},
        })
    }

    /// The `user_list` item of `get_users_resp` (`brief`: without
    /// `command_list` and `devEui_list`, the `no_command_and_devEui` keyword).
    pub fn describe(&self, devices: &[Device], brief: bool) -> Value {
        let mut v = json!({
            "login": self.login,
            "device_access": self.access(),
            "consoleEnable": self.console(),
            "rx_settings": {"unsolicited": true, "direction": "UPLINK", "withMacCommands": false},
        });
        if !brief {
            let euis: Vec<&str> = devices
                .iter()
                .filter(|d| self.devices.is_some() && self.sees(d.index))
                .map(|d| d.dev_eui.as_str())
                .collect();
            v["command_list"] = json!(self.rights);
            v["devEui_list"] = json!(euis);
        }
        v
    }
}

/// The users and the live tokens.
#[derive(Debug, Default)]
pub struct Users {
    users: Vec<Arc<User>>,
    tokens: HashMap<String, Arc<User>>,
}

impl Users {
    /// The users of `specs`, their device lists resolved against `devices`.
    pub fn new(specs: &[UserSpec], devices: &[Device]) -> Users {
        let users = specs
            .iter()
            .map(|s| {
                let selected = s.devices.as_ref().map(|refs| {
                    let mut set = HashSet::new();
                    for r in refs {
                        match r {
                            DeviceRef::Range(a, b) => set.extend((*a..=*b).filter(|i| (*i as usize) < devices.len())),
                            DeviceRef::Eui(e) => {
                                set.extend(devices.iter().filter(|d| d.dev_eui == *e).map(|d| d.index))
                            }
                        }
                    }
                    set
                });
                Arc::new(User {
                    login: s.login.clone(),
                    password: s.password.clone(),
                    rights: s.rights.clone(),
                    devices: selected,
                })
            })
            .collect();
        Users { users, tokens: HashMap::new() }
    }

    /// Every user.
    pub fn all(&self) -> &[Arc<User>] {
        &self.users
    }

    /// The user with these credentials and a new token for it.
    pub fn login(&mut self, login: &str, password: &str) -> Option<(Arc<User>, String)> {
        let user = self.users.iter().find(|u| u.login == login && u.password == password)?.clone();
        let mut token = String::with_capacity(32);
        super::payloads::push_hex(&mut token, &rand::rng().random::<[u8; 16]>(), false);
        self.tokens.insert(token.clone(), user.clone());
        Some((user, token))
    }

    /// The user a token was issued to.
    pub fn by_token(&self, token: &str) -> Option<Arc<User>> {
        self.tokens.get(token).cloned()
    }

    /// Forget a token; whether it was known.
    pub fn forget(&mut self, token: &str) -> bool {
        self.tokens.remove(token).is_some()
    }
}

//! The one trait a plugin author implements, and the identity
//! [`export_plugin!`](crate::export_plugin) gives it from the crate: `id`
//! and `roles` from `plugin.toml`, `version` from `Cargo.toml`.

use serde::{Deserialize, Serialize};

use crate::driver::{Action, Event};
use crate::model::{DecodeError, Decoded, RawFrame};
use crate::sink::{Migration, SinkRecord, SqlBatch};

/// A role a plugin can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Session state machine for a host transport.
    Driver,
    /// Raw frame to readings.
    Codec,
    /// Archived readings to an external store.
    Sink,
}

impl Role {
    /// The name used in `plugin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::Codec => "codec",
            Role::Sink => "sink",
        }
    }

    /// Parse the name used in `plugin.toml`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "driver" => Some(Role::Driver),
            "codec" => Some(Role::Codec),
            "sink" => Some(Role::Sink),
            _ => None,
        }
    }
}

/// The roles of a plugin, each at most once, in the order `plugin.toml`
/// lists them; usable in `const` (an [`Identity`] is built at compile time).
#[derive(Clone, Copy)]
pub struct Roles {
    list: [Role; 3],
    len: usize,
}

impl Roles {
    /// No role.
    pub const NONE: Roles = Roles { list: [Role::Driver; 3], len: 0 };

    /// These roles and `role` after them; `None` when `role` is one already.
    pub const fn with(self, role: Role) -> Option<Roles> {
        if self.contains(role) {
            return None;
        }
        let mut list = self.list;
        list[self.len] = role;
        Some(Roles { list, len: self.len + 1 })
    }

    /// Whether `role` is one of them.
    pub const fn contains(&self, role: Role) -> bool {
        let mut i = 0;
        while i < self.len {
            if self.list[i] as u8 == role as u8 {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Whether there is none.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The roles, in order.
    pub fn as_slice(&self) -> &[Role] {
        &self.list[..self.len]
    }
}

impl PartialEq for Roles {
    fn eq(&self, other: &Roles) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Roles {}

impl std::fmt::Debug for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Who a plugin is, as its crate states it once: `id` and `roles` from the
/// `plugin.toml` beside its `Cargo.toml`, `version` the crate's own
/// (`CARGO_PKG_VERSION`), which `plugin.toml` must repeat exactly (checked
/// when the plugin compiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Plugin id, equal to its folder name.
    pub id: &'static str,
    /// The version the plugin is built as (`CARGO_PKG_VERSION`).
    pub version: &'static str,
    /// The roles it plays.
    pub roles: Roles,
}

impl Identity {
    /// The identity of the plugin crate whose `plugin.toml` is
    /// `plugin_toml` and whose `CARGO_PKG_VERSION` is `built_version`.
    ///
    /// Meant for `const` (that is how [`export_plugin!`](crate::export_plugin)
    /// uses it), where a problem fails the build with
    /// `evaluation panicked: plugin.toml:<line>: <problem>`; see
    /// [`crate::manifest`] for what is read and how strictly.
    ///
    /// ```
    /// use meterhub_plugin_api::{Identity, Role};
    /// const ID: Identity = Identity::from_manifest("id = \"my-meter\"\nversion = \"0.2.0\"\nroles = [\"codec\"]\n", "0.2.0");
    /// assert_eq!((ID.id, ID.version, ID.roles.as_slice()), ("my-meter", "0.2.0", &[Role::Codec][..]));
    /// ```
    ///
    /// A `plugin.toml` whose version is not the crate's does not compile:
    ///
    /// ```compile_fail
    /// use meterhub_plugin_api::Identity;
    /// const ID: Identity = Identity::from_manifest("id = \"my-meter\"\nversion = \"0.2.0\"\nroles = [\"codec\"]\n", "0.1.0");
    /// let _ = ID;
    /// ```
    ///
    /// Nor does one without a role:
    ///
    /// ```compile_fail
    /// use meterhub_plugin_api::Identity;
    /// const ID: Identity = Identity::from_manifest("id = \"my-meter\"\nversion = \"0.1.0\"\nroles = []\n", "0.1.0");
    /// let _ = ID;
    /// ```
    ///
    /// # Panics
    ///
    /// When the head of `plugin_toml` is malformed or its `version` is not
    /// `built_version` (at compile time in `const`).
    pub const fn from_manifest(plugin_toml: &'static str, built_version: &'static str) -> Identity {
        match crate::manifest::check(plugin_toml, built_version) {
            Ok(head) => Identity { id: head.id, version: built_version, roles: head.roles },
            Err(e) => {
                let message = e.message();
                panic!("{}", message.as_str())
            }
        }
    }

    /// As the host sees it through either ABI.
    pub fn info(&self) -> PluginInfo {
        PluginInfo { id: self.id.to_owned(), version: self.version.to_owned(), roles: self.roles.as_slice().to_vec() }
    }
}

/// A plugin type's [`Identity`]. [`export_plugin!`](crate::export_plugin)
/// implements it from the crate's `plugin.toml` and version; a plugin
/// author does not.
pub trait Identified {
    /// The plugin's identity, evaluated at compile time.
    const IDENTITY: Identity;
}

/// What a plugin says about itself; the host checks it against `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Plugin id, equal to its folder name.
    pub id: String,
    /// The plugin's own version.
    pub version: String,
    /// The roles it plays.
    pub roles: Vec<Role>,
}

/// A meterhub plugin. Implement the methods of the roles the plugin plays;
/// the others answer that the role is not played.
///
/// One value of the type is one plugin instance: the host calls
/// [`Plugin::init`] with the instance's settings and then the role methods,
/// one call at a time.
///
/// Identity is not written here: [`export_plugin!`](crate::export_plugin)
/// reads it from the crate (see [`Identity`]), and [`Plugin::info`] answers
/// with it.
pub trait Plugin: Identified + Sized + Send + 'static {
    /// Identity and roles, as the host asks for them through either ABI:
    /// [`Identified::IDENTITY`] (`id` and `roles` from `plugin.toml`,
    /// `version` the crate's `CARGO_PKG_VERSION`). Not meant to be
    /// overridden; the testing kit's manifest check would catch a
    /// disagreement with `plugin.toml`.
    fn info() -> PluginInfo {
        Self::IDENTITY.info()
    }

    /// A new instance configured by `settings_json` (a JSON object, `{}`
    /// when the config gives none). An error names the offending setting.
    fn init(settings_json: &str) -> Result<Self, String>;

    /// Driver: handle `event` of `session` at host time `now_ms`.
    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Vec<Action> {
        let _ = (session, now_ms, event);
        vec![Action::Close(format!("plugin {} is not a driver", Self::IDENTITY.id))]
    }

    /// Codec: decode one committed frame.
    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let _ = frame;
        Err(DecodeError::new(format!("plugin {} is not a codec", Self::IDENTITY.id)))
    }

    /// Sink: the schema this instance writes into, as migrations the host
    /// runs once each, in version order.
    fn migrations(&mut self) -> Result<Vec<Migration>, String> {
        Err(format!("plugin {} is not a sink", Self::IDENTITY.id))
    }

    /// Sink: the statements writing `batch`, and the records it cannot
    /// write; an error rejects the whole batch.
    fn write(&mut self, batch: &[SinkRecord]) -> Result<SqlBatch, String> {
        let _ = batch;
        Err(format!("plugin {} is not a sink", Self::IDENTITY.id))
    }
}

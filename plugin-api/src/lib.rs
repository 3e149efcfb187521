//! The meterhub plugin contract.
//!
//! A plugin author implements [`Plugin`] and calls [`export_plugin!`] once;
//! the same source then builds as a WebAssembly component (target
//! `wasm32-wasip2`, bindings from `wit/plugin.wit`) or as a native library
//! (abi_stable root module, see [`native`]). Both kinds carry the same
//! semantics; the host cannot tell them apart by behaviour. The plugin's
//! identity is not written in code: the macro reads `id` and `roles` from
//! the crate's `plugin.toml` and the version from its `Cargo.toml`.
//!
//! - [`model`]: readings, module telemetry, raw frames, decode errors;
//! - [`driver`]: the sans-IO session events and actions of a driver;
//! - [`sink`]: batches and verdicts of a sink;
//! - [`plugin`]: the trait, the roles, the identity of a plugin;
//! - [`manifest`]: the head of `plugin.toml`, read at compile time;
//! - [`time`]: timestamp parsing helpers for plugins (no clock, no I/O);
//! - [`hex`]: hex text of bytes, both ways;
//! - [`json`]: an object's members in order, repeats kept;
//! - [`lorawan`]: the metadata a LoRaWAN driver writes and the neutral
//!   uplink frame a LoRaWAN device codec receives;
//! - `testing` (feature `testing`, not on WASM): what plugin tests share —
//!   a simulated host, a raw frame builder, fixture walking with a bless
//!   mode, the manifest check.

pub mod driver;
pub mod hex;
pub mod json;
pub mod lorawan;
pub mod manifest;
pub mod model;
pub mod plugin;
pub mod secret;
pub mod sink;
pub mod time;

#[cfg(not(target_family = "wasm"))]
pub mod native;
#[cfg(all(feature = "testing", not(target_family = "wasm")))]
pub mod testing;
#[cfg(target_family = "wasm")]
#[doc(hidden)]
pub mod wasm;

pub use driver::{
    Action, Command, CommandDone, Commit, CommitFailed, Committed, Event, Fetch, Fetched, FrameOut, HttpRequest,
    HttpResponse, META_RESUME_KEY, META_RESUME_MARK, META_RESUME_MARK_PREFIX, Message, SETTINGS_RESUME,
};
pub use model::{Decimal, DecodeError, Decoded, RawFrame, Reading, ReadingKind, Telemetry, Transport};
pub use plugin::{Identified, Identity, Plugin, PluginInfo, Role, Roles};
pub use sink::{
    ArchivedReading, DeltaKey, DeltaPeriod, DeltaRecord, Migration, RegistryEntry, RejectedRecord, SinkRecord,
    SqlBatch, SqlValue, Statement,
};

/// The contract version this crate implements: the WIT package version and
/// the version a `plugin.toml` declares in `api`.
pub const API_VERSION: (u16, u16) = (1, 4);

/// [`API_VERSION`] as text, `major.minor`.
pub const API_VERSION_TEXT: &str = "1.4";

/// The oldest minor version of [`API_VERSION`]'s major this crate still
/// serves. Minors add to the contract; 1.1 changed the shape of `decoded`
/// (its `fields`), 1.2 the sink's (records in, statements out), 1.3 the
/// driver's (the MQTT transport and message event) and 1.4 the driver's
/// again (device commands), so plugins built for an earlier minor must be
/// rebuilt.
pub const API_OLDEST_MINOR: u16 = 4;

/// Whether a plugin built for contract `major.minor` can be served.
pub fn api_supported(major: u16, minor: u16) -> bool {
    major == API_VERSION.0 && (API_OLDEST_MINOR..=API_VERSION.1).contains(&minor)
}

/// Export a [`Plugin`] implementation as this crate's plugin:
///
/// ```text
/// impl Plugin for MyMeter { /* init and the methods of its roles */ }
/// meterhub_plugin_api::export_plugin!(MyMeter);
/// ```
///
/// Call it once per plugin crate, in its `lib.rs`. It
///
/// - implements [`Identified`] for the type from the crate itself: `id`
///   and `roles` from the `plugin.toml` beside `Cargo.toml`, `version` from
///   `CARGO_PKG_VERSION`; a malformed `plugin.toml` head, or a `version`
///   there that is not the crate's, fails the build naming the line
///   ([`manifest`] says what is read);
/// - builds a WebAssembly component export when compiled for a `wasm`
///   target, and the abi_stable library header otherwise (see [`native`]:
///   the plugin crate needs no `abi_stable` dependency of its own).
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        $crate::__plugin_identity!($plugin);
        #[cfg(target_family = "wasm")]
        $crate::__export_wasm_plugin!($plugin);
        #[cfg(not(target_family = "wasm"))]
        $crate::__export_native_plugin!($plugin);
    };
}

/// The identity part of [`export_plugin!`]: implements [`Identified`] for
/// `$plugin` from the calling crate's `plugin.toml` and
/// `CARGO_PKG_VERSION`, and evaluates it at once so that a problem fails
/// the build (`cargo check` too). For a test fixture that exports its root
/// module by hand; plugins call [`export_plugin!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_identity {
    ($plugin:ty) => {
        impl $crate::Identified for $plugin {
            const IDENTITY: $crate::Identity = $crate::Identity::from_manifest(
                ::core::include_str!(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/plugin.toml")),
                ::core::env!("CARGO_PKG_VERSION"),
            );
        }
        const _: $crate::Identity = <$plugin as $crate::Identified>::IDENTITY;
    };
}

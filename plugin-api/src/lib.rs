//! The meterhub plugin contract.
//!
//! A plugin author implements [`Plugin`] and calls [`export_plugin!`] once;
//! the same source then builds as a WebAssembly component (target
//! `wasm32-wasip2`, bindings from `wit/plugin.wit`) or as a native library
//! (abi_stable root module, see [`native`]). Both kinds carry the same
//! semantics; the host cannot tell them apart by behaviour.
//!
//! - [`model`]: readings, module telemetry, raw frames, decode errors;
//! - [`driver`]: the sans-IO session events and actions of a driver;
//! - [`sink`]: batches and verdicts of a sink;
//! - [`plugin`]: the trait, the roles, the identity of a plugin;
//! - [`time`]: timestamp parsing helpers for plugins (no clock, no I/O);
//! - [`hex`]: hex text of bytes, both ways.

pub mod driver;
pub mod hex;
pub mod model;
pub mod plugin;
pub mod sink;
pub mod time;

#[cfg(not(target_family = "wasm"))]
pub mod native;
#[cfg(target_family = "wasm")]
#[doc(hidden)]
pub mod wasm;

pub use driver::{
    Action, Commit, CommitFailed, Committed, Event, FrameOut, HttpRequest, HttpResponse, META_RESUME_KEY,
    META_RESUME_MARK, SETTINGS_RESUME,
};
pub use model::{Decimal, DecodeError, Decoded, RawFrame, Reading, ReadingKind, Telemetry, Transport};
pub use plugin::{Plugin, PluginInfo, Role};
pub use sink::{ArchivedReading, SinkOutcome};

/// The contract version this crate implements: the WIT package version and
/// the version a `plugin.toml` declares in `api`.
pub const API_VERSION: (u16, u16) = (1, 1);

/// [`API_VERSION`] as text, `major.minor`.
pub const API_VERSION_TEXT: &str = "1.1";

/// The oldest minor version of [`API_VERSION`]'s major this crate still
/// serves. Minors add to the contract; 1.1 changed the shape of `decoded`
/// (its `fields`), so plugins built for 1.0 must be rebuilt.
pub const API_OLDEST_MINOR: u16 = 1;

/// Whether a plugin built for contract `major.minor` can be served.
pub fn api_supported(major: u16, minor: u16) -> bool {
    major == API_VERSION.0 && (API_OLDEST_MINOR..=API_VERSION.1).contains(&minor)
}

/// Export a [`Plugin`] implementation as this crate's plugin.
///
/// Builds a WebAssembly component export when compiled for a `wasm` target
/// and an abi_stable root module otherwise. Call it once per plugin crate.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_family = "wasm")]
        $crate::__export_wasm_plugin!($plugin);
        #[cfg(not(target_family = "wasm"))]
        $crate::__export_native_plugin!($plugin);
    };
}

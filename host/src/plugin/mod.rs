//! Plugins: manifests, discovery in the plugins folder, and the two
//! runtimes (WASM components on wasmtime, native libraries on abi_stable)
//! behind one [`PluginInstance`] interface.
//!
//! - [`manifest`]: `plugin.toml`, strict, with the API version check;
//! - [`catalog`]: scan the folder, load what is valid, report what is refused;
//! - [`wasm`]: the wasmtime engine, sandbox (memory cap, call time limit);
//! - [`compiled`]: the components' machine code kept between starts;
//! - [`wasm_convert`]: host bindings types <-> the plugin-api model;
//! - [`native`]: abi_stable loading with its layout check, and where a
//!   native plugin's instances run ([`Isolation`]);
//! - [`process`]: a native instance in a child process (the default), with
//!   the call time limit and crash reporting;
//! - [`runner`]: that child, `meterhub plugin-runner <library>`;
//! - [`wire`]: the framed protocol between the two;
//! - [`instance`]: the runtime-independent instance interface;
//! - [`supervisor`]: backoff and quarantine of failing instances;
//! - [`factory`]: the supervised instances of a codec or driver instance.

pub mod catalog;
pub mod compiled;
pub mod factory;
pub mod instance;
pub mod manifest;
pub mod native;
pub mod process;
pub mod runner;
pub mod supervisor;
pub mod wasm;
mod wasm_convert;
pub mod wire;

pub use catalog::{Catalog, LoadedPlugin, Refusal};
pub use instance::{PluginFault, PluginInstance};
pub use manifest::{Manifest, PluginKind};
pub use native::Isolation;

//! meterhub: the central server of an automated metering system.
//!
//! The code is laid out in data-flow order; see `ARCHITECTURE.md`.
//!
//! - [`config`]: the strict TOML configuration and its validation;
//! - [`plugin`]: plugin manifests, discovery, the WASM and native runtimes;
//! - [`transport`]: host-owned sockets (TCP server, HTTP ingress, WebSocket
//!   client) that run driver sessions;
//! - [`journal`]: the raw-first commit point (segment files, group commit, fdatasync);
//! - [`pipeline`]: journal -> codec -> archive, and the accounting counters;
//! - [`archive`]: the `Archive` trait and its sled implementation;
//! - [`accounting`]: the meter registry and consumption deltas (a consumer of
//!   the archive log);
//! - [`auth`]: users, sessions and rights of the API;
//! - [`api`]: the HTTP JSON API;
//! - [`app`]: assembling a host from a configuration;
//! - [`cli`]: the `meterhub` command line.

pub mod accounting;
pub mod api;
pub mod app;
pub mod archive;
pub mod auth;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod files;
pub mod http_server;
pub mod journal;
pub mod lifecycle;
pub mod memory;
pub mod pipeline;
pub mod plugin;
pub mod publish;
pub mod sim;
pub mod transport;
pub mod web;

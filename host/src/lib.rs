//! meterhub: the central server of an automated metering system; the host
//! crate, above `meterhub-storage` (journal, archive) and `meterhub-http`
//! (the HTTP server plumbing). See `ARCHITECTURE.md`.
//!
//! Its modules in data-flow order, from configuration to the browser (the
//! declarations below are alphabetical):
//!
//! - [`config`]: the strict TOML configuration and its validation (the
//!   `meterhub-config` crate);
//! - [`backoff`]: exponential backoff with jitter, for everything that retries;
//! - [`plugin`]: plugin manifests, discovery, the WASM and native runtimes,
//!   supervision and the supervised factories;
//! - [`transport`]: host-owned sockets (TCP server, HTTP ingress, WebSocket
//!   and MQTT clients, fetch sessions) that run driver sessions and commit to
//!   the journal;
//! - [`pipeline`]: journal -> codec -> archive, and the bus of new readings;
//! - [`accounting`]: the meter registry and consumption deltas (a consumer of
//!   the archive log);
//! - [`board`]: the state of every meter and module at a glance;
//! - [`auth`]: users, sessions and rights of the API;
//! - [`publish`]: live streams to the browser (bounded queues per stream);
//! - [`api`]: the HTTP JSON API, with the streams' HTTP side;
//! - [`web`]: the dispatcher UI, served from the binary;
//! - [`lifecycle`]: what runs, and changing it while it runs;
//! - [`memory`]: free heap returned to the OS after a plugin change;
//! - [`app`]: assembling a host from a configuration;
//! - [`cli`]: the `meterhub` command line.

pub mod accounting;
pub mod alarms;
pub mod api;
pub mod app;
pub mod auth;
pub mod board;
pub mod cli;
pub mod commands;
pub mod diagrams;
pub mod folder;
pub mod forms;
pub mod http_client;
pub mod lifecycle;
pub mod memory;
pub mod open_files;
pub mod pages;
pub mod pipeline;
pub mod plugin;
pub mod publish;
pub mod reports;
pub mod sink;
pub mod sync;
pub mod tls;
pub mod transport;
pub mod web;

/// The configuration (its own crate, so the loader is fuzzed without the host).
pub use meterhub_config as config;
/// Retry delays, shared by everything that retries.
pub use meterhub_config::backoff;

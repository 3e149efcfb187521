//! The HTTP JSON API (`/api/v1/...`), documented in `docs/api.md`.
//!
//! - [`state`]: what the handlers can see;
//! - [`table`]: the one route table: method + path -> endpoint and the
//!   access it needs (dispatch, the access check and 405s read it);
//! - [`routes`]: endpoint -> handler;
//! - [`auth`]: login, logout, session, users, audit (the access check
//!   itself is `crate::auth`, applied in `routes`);
//! - [`accounting`]: meters, their metadata and history, deltas, consumption;
//! - [`status`]: plugin instance status and Prometheus metrics;
//! - [`alarms`]: alarms (open, kept, acknowledged) and the event log;
//! - [`diagrams`]: the mimic diagrams, their errors and compiled forms;
//! - [`forms`]: saved forms, their values, manual readings and inspection notes;
//! - [`pages`]: personal start pages, and the pages published to roles;
//! - [`board`]: meters and modules per state, the summary strip;
//! - [`modules`]: communication modules' activity and states;
//! - [`rates`]: frames and readings per second per source;
//! - [`stream`]: the live streams (SSE, WebSocket) of `crate::publish`;
//! - [`visibility`]: the grant filter of the meter-data endpoints.

pub mod accounting;
pub mod alarms;
pub mod auth;
pub mod board;
pub mod commands;
pub mod diagrams;
pub mod forms;
pub mod modules;
pub mod pages;
pub mod rates;
pub mod reports;
pub mod routes;
pub mod sinks;
pub mod state;
pub mod status;
pub mod stream;
pub mod sync;
pub mod table;
pub mod visibility;

pub use routes::serve;
pub use state::ApiState;

//! The HTTP JSON API (`/api/v1/...`), documented in `docs/api.md`.
//!
//! - [`state`]: what the handlers can see;
//! - [`routes`]: method + path -> handler;
//! - [`query`]: query-string parsing;
//! - [`views`]: the JSON shapes of archive records.

pub mod query;
pub mod routes;
pub mod state;
pub mod views;

pub use routes::serve;
pub use state::{ApiState, DriverStatus};

//! End-to-end tests: each starts the real `meterhub` binary with the real
//! plugins (built by `scripts/build-plugins`) on a temporary directory and
//! port 0, sends traffic over real sockets and checks the archive through
//! the HTTP API. What they share is `meterhub-testkit` (`testkit/`).

mod accounting;
mod alarms;
mod auth;
mod backfill;
mod board;
mod cli;
mod conformance;
mod corruption;
mod crash;
mod diagrams;
mod disk_full;
mod dlms;
mod dropin;
mod edges;
mod forms;
mod ingest;
mod isolation;
mod load;
mod lorawan;
mod mqtt;
mod native_isolation;
mod pages;
mod plugins;
mod quarantine;
mod rbgu;
mod reload;
mod reports;
mod sinks;
mod stream;
mod sync;
mod ui;
mod ui_diagrams;
mod ui_forms;
mod ui_pages;
mod ui_reports;
mod vega;
mod websocket;

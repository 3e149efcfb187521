//! Simulators of the systems meterhub talks to, for demos, end-to-end tests
//! and benchmarks (`meterhub sim ...`; the clap wiring is in the host's `cli/sim.rs`, behind
//! its `sim` feature).
//!
//! - [`listener`]: meters sending JSON readings to a listener driver over TCP;
//! - [`vega`]: an IOT Vega Server emulator (the WebSocket JSON API a Vega
//!   driver connects to), with simulated Vega devices and a control API.

pub mod listener;
pub mod vega;

//! Simulators of the systems meterhub talks to, for demos, end-to-end tests
//! and benchmarks (`meterhub sim ...`; the clap wiring is in the host's `cli/sim.rs`, behind
//! its `sim` feature).
//!
//! - [`dlms`]: DLMS/COSEM electricity meters pushing СПОДЭС-like daily
//!   data-notifications (plain or AES-128-GCM ciphered, in the IEC
//!   62056-47 wrapper or HDLC) to an rbgu driver over TCP, with
//!   misbehaviours on demand and a JSON summary of the readings they must
//!   give;
//! - [`listener`]: meters sending JSON readings to a listener driver over TCP;
//! - [`vega`]: an IOT Vega Server emulator (the WebSocket JSON API a Vega
//!   driver connects to), with simulated Vega devices and a control API;
//! - [`lns`]: a LoRaWAN network-server emulator (ChirpStack v4 and v3, The
//!   Things Stack v3) pushing the events of simulated Vega SI-12 devices
//!   to an lw640 driver over HTTP or MQTT, with repeats, joins, status
//!   events and faults, and a JSON summary of what it sent and what came
//!   back.

pub mod dlms;
pub mod listener;
pub mod lns;
pub mod vega;

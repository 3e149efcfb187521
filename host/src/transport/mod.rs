//! Host-owned transports. Drivers own no socket: a transport accepts or
//! opens connections and runs each as a driver session.
//!
//! - [`driver`]: a running driver instance (plugin instance + journal);
//! - [`session`]: the session engine shared by every transport: events in,
//!   actions out, commits, timers, and the ordering rule for replies;
//! - [`tcp`]: TCP server, one session per connection;
//! - [`http`]: HTTP ingress, one session per request;
//! - [`websocket`]: WebSocket client, one session per connection, reconnecting;
//! - [`mqtt`]: MQTT client, one session per message, acknowledged once stored;
//! - [`fetch`]: an instance's fetch session: HTTP(S) requests to the
//!   upstream API it is configured with, made for the driver.
//!
//! Architecture invariant: bytes a driver sends (or an HTTP response it
//! gives) leave the host only after every frame the same session committed
//! before them is on stable storage.

pub mod driver;
pub mod fetch;
pub mod http;
pub mod mqtt;
pub mod session;
pub mod stream;
pub mod tcp;
pub mod websocket;

pub use driver::{DriverRuntime, RuntimeSlot};

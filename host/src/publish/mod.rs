//! The web publisher: live readings pushed to dispatchers' browsers over
//! Server-Sent Events and WebSocket (`docs/api.md`, "Live streams").
//!
//! Data flow: the pipeline's bus -> [`hub`] (one task: each new reading is
//! offered to every stream that selected it and may see it) -> each
//! [`client`]'s bounded [`queue`] -> its connection's [`stream`] (hello,
//! replay or snapshot, then live bursts) -> [`event`] rendered as SSE text
//! or WebSocket messages by `api::stream`.
//!
//! - [`selection`]: what a stream subscribed to;
//! - [`quality`]: the client's delivery-time arithmetic (T3, late).

pub mod client;
pub mod event;
pub mod hub;
pub mod quality;
pub mod queue;
pub mod selection;
pub mod stream;

#[cfg(test)]
mod tests;

pub use hub::{Hub, StreamSettings};

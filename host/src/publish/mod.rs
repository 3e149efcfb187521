//! The web publisher: live readings pushed to dispatchers' browsers.
//!
//! - [`queue`] is a client's bounded send queue, coalescing by signal past
//!   `L` so it never holds more than `L + M` packets.

pub mod queue;

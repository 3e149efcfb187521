//! The network servers' event bodies, one file per server and encoding,
//! each turning a body into an [`Envelope`](crate::envelope::Envelope):
//!
//! - [`detect`]: which reader a request goes to (settings `server`, the
//!   content type, the body's shape) and the `?event=` kinds each server
//!   sends;
//! - [`common`]: the field readers they share (EUIs, base64, times, the
//!   decoded payload);
//! - [`chirpstack_v4`]: ChirpStack v4, JSON;
//! - [`chirpstack_v4_proto`]: ChirpStack v4, binary Protobuf (the message
//!   declarations are in [`proto`]);
//! - [`chirpstack_v3`]: ChirpStack Application Server v3, "JSON v3" and
//!   Protobuf JSON;
//! - [`tts`]: The Things Stack v3 webhooks.

pub mod chirpstack_v3;
pub mod chirpstack_v4;
pub mod chirpstack_v4_proto;
pub mod common;
pub mod detect;
pub mod proto;
pub mod tts;

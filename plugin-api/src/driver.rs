//! The sans-IO driver contract: events the host hands a session, actions
//! the driver answers with. A driver owns no socket, clock or timer.

use serde::{Deserialize, Serialize};

use crate::model::Transport;

/// One HTTP request (HTTP ingress: one session per request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Method, upper case.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The whole body; the host enforces the size limit before the driver sees it.
    pub body: Vec<u8>,
}

/// The answer to an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Content type of the body.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// One MQTT message a broker delivered (MQTT subscription: one session per
/// message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The topic it was published on.
    pub topic: String,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// The answer to a [`Fetch`]: the upstream's response, or why there is
/// none (unreachable, no answer in time, too large, TLS refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// The id of the [`Fetch`].
    pub id: u32,
    /// The response, whatever its status, or why there is none.
    pub response: Result<HttpResponse, String>,
}

/// A command an operator queued for a device (`POST
/// /api/v1/drivers/{id}/commands`), handed to the session that identified
/// the device ([`Action::Identify`]); the driver answers it with
/// [`Action::CommandDone`] carrying the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The host's id of the command.
    pub id: u64,
    /// Its name, one the driver documents (e.g. `set_clock`).
    pub name: String,
    /// Its arguments, a JSON object text.
    pub args: String,
}

/// What became of a [`Command`]: the device's answer (`Ok`, a short text
/// for the operator), or why there is none or the device refused (`Err`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandDone {
    /// The id of the [`Command`].
    pub id: u64,
    /// The answer, or why it failed.
    pub outcome: Result<String, String>,
}

/// A frame reached stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// The token of the [`Commit`].
    pub token: u64,
    /// Its journal sequence number.
    pub seq: u64,
}

/// A frame could not be committed; nothing about it may be acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitFailed {
    /// The token of the [`Commit`].
    pub token: u64,
    /// Why.
    pub reason: String,
}

/// What happened on a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The session opened.
    Opened {
        /// How the peer is connected.
        transport: Transport,
        /// Who the peer is.
        peer: String,
    },
    /// Bytes from the peer: a chunk of a TCP stream, or one WebSocket message.
    Data(Vec<u8>),
    /// An HTTP request; the session ends with its response.
    Request(HttpRequest),
    /// An MQTT message. The host acknowledges it to the broker once every
    /// frame the driver committed for it is on stable storage (or at once
    /// when the driver committed nothing: rejected or ignored); a failed
    /// commit leaves it unacknowledged, for the broker to deliver again.
    Message(Message),
    /// A frame is on stable storage.
    Committed(Committed),
    /// A frame could not be committed.
    CommitFailed(CommitFailed),
    /// The answer to a [`Fetch`] of this session.
    Fetched(Fetched),
    /// The commands queued for the device the session identified, in the
    /// order they were queued (possibly none): the answer to
    /// [`Action::Identify`].
    Commands(Vec<Command>),
    /// Timer `id` fired.
    Timer(u32),
    /// The peer went away; of the actions returned for it only `Reject`
    /// is performed (e.g. a frame the peer tore off by leaving), the others
    /// are ignored.
    Closed,
}

/// Frame metadata naming a resume mark the frame advances once committed:
/// the host keeps, per driver instance and key, the highest
/// [`META_RESUME_MARK`] of its committed frames, durably, and hands the
/// marks to every new instance of the driver in its settings under
/// [`SETTINGS_RESUME`]. A driver uses them to resume an upstream from where
/// it was (e.g. per device, the time up to which every uplink is committed).
pub const META_RESUME_KEY: &str = "resume.key";
/// Frame metadata holding the new value of the resume mark, an integer.
pub const META_RESUME_MARK: &str = "resume.mark";
/// Frame metadata moving several marks at once: `resume.mark.<key>` holds
/// the new value of mark `<key>` (a center's sync frames move a site's
/// readings and accounting positions together).
pub const META_RESUME_MARK_PREFIX: &str = "resume.mark.";
/// The settings key under which a new driver instance gets its resume marks
/// (`{"<key>": <mark>, ...}`), present only when there are marks. The host
/// may hand out marks lower than the latest committed ones (never higher):
/// a driver must tolerate resuming a little early.
pub const SETTINGS_RESUME: &str = "resume";

/// A frame to commit, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameOut {
    /// Driver-defined content type.
    pub content_type: String,
    /// Driver-defined metadata.
    pub meta: Vec<(String, String)>,
    /// The bytes as received.
    pub payload: Vec<u8>,
}

/// Commit a frame; the host answers with [`Event::Committed`] or
/// [`Event::CommitFailed`] carrying the same token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Chosen by the driver, unique within the session.
    pub token: u64,
    /// The frame.
    pub frame: FrameOut,
}

/// A request the host makes for the driver to the upstream API configured
/// for the instance (`[drivers.<id>.fetch]`); the host answers with
/// [`Event::Fetched`] carrying the same id. Only the instance's fetch
/// session (transport [`Transport::Fetch`]) may fetch; elsewhere the
/// answer is an error. The host adds the configured authentication (the
/// driver never sees the secret), confines the request to the configured
/// URL (the request's `target` is appended to its path) and bounds the
/// time and the answer's size.
///
/// [`Transport::Fetch`]: crate::Transport::Fetch
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    /// Chosen by the driver, unique among its fetches in flight.
    pub id: u32,
    /// The request: method, target (path and query, starting with `/`),
    /// headers, body.
    pub request: HttpRequest,
}

/// What the host must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Bytes to the peer (one WebSocket message on WebSocket sessions).
    Send(Vec<u8>),
    /// The response of an HTTP session.
    Respond(HttpResponse),
    /// Commit a frame.
    Commit(Commit),
    /// Input refused by the driver: recorded and counted as rejected.
    Reject {
        /// Why, naming what and where.
        reason: String,
        /// The refused input (the host keeps a bounded prefix).
        input: Vec<u8>,
    },
    /// Make an HTTP request to the configured upstream API.
    Fetch(Fetch),
    /// Start (or restart) timer `id`, firing once after `after_ms`.
    SetTimer {
        /// Timer identity within the session.
        id: u32,
        /// Delay in milliseconds.
        after_ms: u32,
    },
    /// The session is with this device (named as the driver names it in
    /// its frames); the host answers with [`Event::Commands`]. A driver
    /// identifies a device once per session. A command handed over and not
    /// done when the session ends goes back to the queue (at least once:
    /// commands are setters a device may get twice).
    Identify(String),
    /// A command of this session is done: answered or failed.
    CommandDone(CommandDone),
    /// Close the session with a reason for the log.
    Close(String),
}

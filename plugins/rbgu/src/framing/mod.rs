//! The framing toolkit: one [`Framer`] per session cuts the session's byte
//! stream, in chunks split anywhere, into complete frames or refusals.
//! Which framer an instance uses is its `framing` setting, a [`Profile`]:
//!
//! - [`wrapper`]: IEC 62056-47 (DLMS over TCP), an 8-byte header and the APDU;
//! - [`hdlc`]: IEC 62056-46 HDLC frames between 0x7E flags, HCS and FCS
//!   checked, segmented messages reassembled;
//! - [`stuffed`]: a delimiter with byte stuffing (SLIP, RFC 1055, by
//!   default), its bytes set by the instance.
//!
//! A new profile is one more module implementing [`Framer`], one more
//! [`Profile`] and one line in [`framer`].
//!
//! Every framer keeps the same rules:
//!
//! - offsets count the session's bytes from 0, whatever the chunks;
//! - what a framer holds between chunks is at most one frame in progress:
//!   `max_frame_bytes` plus the profile's envelope (header, flags,
//!   delimiters), and at most [`KEEP_BYTES`] of input being refused;
//! - refused bytes form a span from the offset where the refused input
//!   starts to the profile's next sync point (the next frame it can trust);
//!   the span is reported once, as a [`Refusal`] naming the profile, that
//!   offset and what is wrong, when it ends, when it has grown to
//!   [`KEEP_BYTES`] (the rest of it is skipped unkept), or when the stream
//!   ends. The verdicts therefore do not depend on how the stream was cut;
//! - where a profile cannot find a next sync point it trusts, the refusal is
//!   [`Output::Fatal`] and the session is closed with its reason.

pub mod hdlc;
pub mod refusal;
pub mod stuffed;
pub mod wrapper;

pub use refusal::{Refusal, Span, What};
pub use stuffed::StuffedBytes;

/// The most bytes of a refused span kept as the input of its `Reject`
/// (the host keeps this much of a rejected input too).
pub const KEEP_BYTES: usize = 4096;

/// A framing profile: how an instance's sessions are cut into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// IEC 62056-47 wrapper frames.
    Wrapper,
    /// IEC 62056-46 HDLC frames.
    Hdlc,
    /// Byte-stuffed delimited frames.
    Stuffed,
}

impl Profile {
    /// Every profile, in the order the `framing` setting lists them.
    pub const ALL: [Profile; 3] = [Profile::Wrapper, Profile::Hdlc, Profile::Stuffed];

    /// Its name: the value of the `framing` setting and metadata key.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Wrapper => "wrapper",
            Profile::Hdlc => "hdlc",
            Profile::Stuffed => "stuffed",
        }
    }

    /// The profile named `name`.
    pub fn parse(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The content type of its committed frames.
    pub fn content_type(self) -> &'static str {
        match self {
            Profile::Wrapper => CONTENT_TYPE_WRAPPER,
            Profile::Hdlc => CONTENT_TYPE_HDLC,
            Profile::Stuffed => CONTENT_TYPE_STUFFED,
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Content type of a committed wrapper frame: the 8-byte header and the APDU.
pub const CONTENT_TYPE_WRAPPER: &str = "application/vnd.dlms.wrapper";
/// Content type of a committed HDLC frame: the frame from its opening to its
/// closing flag, or a segmented message's frames one after the other.
pub const CONTENT_TYPE_HDLC: &str = "application/vnd.dlms.hdlc";
/// Content type of a committed stuffed frame: the frame as it came, still
/// stuffed, with its delimiters (the `stuffed.*` metadata says how to undo
/// the stuffing).
pub const CONTENT_TYPE_STUFFED: &str = "application/vnd.meterhub.stuffed-frame";

/// A complete frame, as a framer extracted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Stream offset of its first byte.
    pub offset: u64,
    /// Its bytes exactly as they came: what is committed.
    pub wire: Vec<u8>,
    /// What it carries: the APDU (wrapper), the information field without
    /// its LLC header (HDLC I and UI frames, all segments; empty for other
    /// HDLC frames), the unstuffed content (stuffed).
    pub content: Vec<u8>,
    /// The profile's addressing and notes, as metadata pairs.
    pub meta: Vec<(String, String)>,
}

/// What a framer yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A complete frame.
    Frame(Frame),
    /// Refused input; the framer goes on from its next sync point.
    Refused(Refusal),
    /// Refused input after which the stream cannot be trusted: the session
    /// is closed with this reason, and the framer takes nothing more.
    Fatal(Refusal),
}

/// A session's framer.
pub trait Framer: Send + std::fmt::Debug {
    /// Take the next chunk of the stream; push what it completes to `out`.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Output>);

    /// The stream ended: push what is still open (a torn frame, a span being
    /// refused). The framer takes nothing more.
    fn finish(&mut self, out: &mut Vec<Output>);

    /// How many bytes it holds between chunks (for the memory bound).
    fn held(&self) -> usize;
}

/// The framing part of an instance's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingSettings {
    /// The profile.
    pub profile: Profile,
    /// The most bytes one frame may take on the wire besides its profile's
    /// envelope (the wrapper's header: the APDU; HDLC: every frame of a
    /// message between its flags; stuffed: the stuffed content between its
    /// delimiters).
    pub max_frame_bytes: usize,
    /// The stuffed profile's bytes.
    pub stuffed: StuffedBytes,
}

/// A new framer for one session.
pub fn framer(settings: &FramingSettings) -> Box<dyn Framer> {
    let max = settings.max_frame_bytes;
    match settings.profile {
        Profile::Wrapper => Box::new(wrapper::WrapperFramer::new(max)),
        Profile::Hdlc => Box::new(hdlc::HdlcFramer::new(max)),
        Profile::Stuffed => Box::new(stuffed::StuffedFramer::new(max, settings.stuffed.clone())),
    }
}

/// Upper-case hex of `bytes`, for metadata.
pub fn hex_upper(bytes: &[u8]) -> String {
    meterhub_plugin_api::hex::encode_upper(bytes)
}

#[cfg(test)]
pub mod testing;

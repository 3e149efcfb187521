//! [`FrameBuilder`]: a [`RawFrame`] (eight fields) from the few a test
//! cares about, the others defaulted.

use crate::model::{RawFrame, Transport};

/// Builds a [`RawFrame`]. Defaults: `seq` 1, `source` `"test"`, `peer`
/// `"192.0.2.1:1"` (a documentation address), `received_at_ms` 0,
/// `transport` TCP, `content_type` `"application/octet-stream"`, no
/// metadata, empty payload.
///
/// ```
/// use meterhub_plugin_api::{Transport, testing::FrameBuilder};
/// let frame = FrameBuilder::new(b"\x01\x02".to_vec())
///     .transport(Transport::Websocket)
///     .meta("fport", "2")
///     .received_at_ms(1_700_000_000_000)
///     .build();
/// assert_eq!((frame.meta("fport"), frame.seq), (Some("2"), 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameBuilder {
    frame: RawFrame,
}

impl Default for FrameBuilder {
    fn default() -> Self {
        FrameBuilder::new(Vec::new())
    }
}

impl FrameBuilder {
    /// A frame of `payload` with the defaults.
    pub fn new(payload: impl Into<Vec<u8>>) -> FrameBuilder {
        FrameBuilder {
            frame: RawFrame {
                seq: 1,
                source: "test".to_owned(),
                peer: "192.0.2.1:1".to_owned(),
                received_at_ms: 0,
                transport: Transport::Tcp,
                content_type: "application/octet-stream".to_owned(),
                meta: Vec::new(),
                payload: payload.into(),
            },
        }
    }

    /// The journal sequence number.
    pub fn seq(mut self, seq: u64) -> Self {
        self.frame.seq = seq;
        self
    }

    /// The driver instance that produced it.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.frame.source = source.into();
        self
    }

    /// The remote peer.
    pub fn peer(mut self, peer: impl Into<String>) -> Self {
        self.frame.peer = peer.into();
        self
    }

    /// When the host received it, ms since the epoch.
    pub fn received_at_ms(mut self, received_at_ms: i64) -> Self {
        self.frame.received_at_ms = received_at_ms;
        self
    }

    /// How it arrived.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.frame.transport = transport;
        self
    }

    /// The driver-defined content type.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.frame.content_type = content_type.into();
        self
    }

    /// One more metadata pair (after those given before).
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.frame.meta.push((key.into(), value.into()));
        self
    }

    /// More metadata pairs, in order.
    pub fn metas<K: Into<String>, V: Into<String>>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        self.frame.meta.extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The payload.
    pub fn payload(mut self, payload: impl Into<Vec<u8>>) -> Self {
        self.frame.payload = payload.into();
        self
    }

    /// The frame.
    pub fn build(self) -> RawFrame {
        self.frame
    }
}

impl From<FrameBuilder> for RawFrame {
    fn from(builder: FrameBuilder) -> RawFrame {
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_can_be_set() {
        let frame = FrameBuilder::new(b"x".to_vec())
            .seq(9)
            .source("s")
            .peer("p")
            .received_at_ms(-1)
            .transport(Transport::Http)
            .content_type("c")
            .meta("a", "1")
            .metas([("b", "2"), ("a", "3")])
            .payload(b"y".to_vec())
            .build();
        let want = RawFrame {
            seq: 9,
            source: "s".into(),
            peer: "p".into(),
            received_at_ms: -1,
            transport: Transport::Http,
            content_type: "c".into(),
            meta: vec![("a".into(), "1".into()), ("b".into(), "2".into()), ("a".into(), "3".into())],
            payload: b"y".to_vec(),
        };
        assert_eq!(frame, want);
        assert_eq!(RawFrame::from(FrameBuilder::default()).payload, Vec::<u8>::new());
    }
}

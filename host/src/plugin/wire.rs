//! The protocol between the host and a plugin runner (`meterhub
//! plugin-runner <library>`, the child process a native plugin runs in).
//!
//! Both directions carry frames: a 4-byte little-endian length, then that
//! many bytes of JSON. The runner speaks first with a [`Hello`]; then the host
//! sends one [`Request`] at a time and the runner answers each with one
//! [`Response`]. The runner is the host's own binary, so both ends are the
//! same build; [`PROTOCOL`] guards against a runner override that is not.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, Migration, PluginInfo, RawFrame, SinkRecord, SqlBatch};
use serde::{Deserialize, Serialize};

/// The protocol version; a runner that says another one is refused.
pub const PROTOCOL: u32 = 1;

/// The largest frame either side accepts, bytes. A frame carries at most one
/// raw frame or one driver event (bounded by the transports' limits) as JSON.
pub const MAX_FRAME: usize = 256 << 20;

/// The runner's first frame: whether the library loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Hello {
    /// Loaded and checked; ready for `Init`.
    Ready {
        /// [`PROTOCOL`] of the runner.
        protocol: u32,
        /// What the library says of itself.
        info: PluginInfo,
    },
    /// The library cannot be used (not a plugin, layout, contract version);
    /// the runner exits after saying so.
    Refused {
        /// Why, for the operator.
        cause: String,
    },
}

/// A call from the host. The host sends the frame of a `Decode` from a
/// borrow; the runner receives it owned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request<'a> {
    /// Identity and roles.
    Info,
    /// Configure the one instance this runner serves.
    Init {
        /// The instance's settings, a JSON object.
        settings_json: String,
    },
    /// Driver role: one session event.
    Handle {
        /// Session id.
        session: u64,
        /// Host time, ms since the epoch.
        now_ms: i64,
        /// The event.
        event: Event,
    },
    /// Codec role: one committed frame.
    Decode {
        /// The frame.
        frame: Cow<'a, RawFrame>,
    },
    /// Sink role: the migrations.
    Migrations,
    /// Sink role: one batch.
    Write {
        /// The records.
        batch: Cow<'a, [SinkRecord]>,
    },
}

/// The runner's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// To `Info`.
    Info(PluginInfo),
    /// To `Init`: the plugin's refusal of its settings, if any.
    Init(Result<(), String>),
    /// To `Handle`.
    Actions(Vec<Action>),
    /// To `Decode`.
    Decoded(Result<Decoded, DecodeError>),
    /// To `Migrations`.
    Migrations(Result<Vec<Migration>, String>),
    /// To `Write`.
    Written(Result<SqlBatch, String>),
    /// The call could not be made (a call before `Init`, or the plugin
    /// failed in a way the ABI glue reports).
    Fault(String),
}

/// Write `message` as one frame and flush.
pub fn write<T: Serialize>(out: &mut impl Write, message: &T) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {} bytes is over the limit of {MAX_FRAME}", body.len())));
    }
    let len = u32::try_from(body.len()).map_err(io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    out.write_all(&frame)?;
    out.flush()
}

/// Read one frame and decode it; `Ok(None)` at a clean end of stream.
pub fn read<T: for<'de> Deserialize<'de>>(input: &mut impl Read) -> io::Result<Option<T>> {
    read_frame(input)?.map(|body| decode(&body)).transpose()
}

/// Decode the body of one frame.
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> io::Result<T> {
    serde_json::from_slice(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Read the body of one frame; `Ok(None)` at a clean end of stream (before
/// a frame).
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match input.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a frame")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    let mut body = Vec::new();
    input.take(len as u64).read_to_end(&mut body)?;
    if body.len() < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a frame"));
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use meterhub_plugin_api::{Commit, FrameOut, Reading, ReadingKind, Role, Telemetry, Transport};

    fn frame() -> RawFrame {
        RawFrame {
            seq: u64::MAX,
            source: "tcp-in".into(),
            peer: "192.0.2.1:4000".into(),
            received_at_ms: -1,
            transport: Transport::Websocket,
            content_type: "application/json".into(),
            meta: vec![("k".into(), "v\n\"".into())],
            payload: (0..=255).collect(),
        }
    }

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(message: T) {
        let mut bytes = Vec::new();
        write(&mut bytes, &message).unwrap();
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 4);
        let mut input = &bytes[..];
        assert_eq!(read::<T>(&mut input).unwrap(), Some(message));
        assert_eq!(read::<T>(&mut input).unwrap(), None, "a clean end after the frame");
    }

    #[test]
    fn every_message_survives_the_wire_exactly() {
        round_trip(Hello::Ready {
            protocol: PROTOCOL,
            info: PluginInfo { id: "p".into(), version: "1".into(), roles: vec![Role::Driver, Role::Codec] },
        });
        round_trip(Hello::Refused { cause: "built for contract 0.9".into() });
        round_trip(Request::Init { settings_json: "{\"a\":[1,2]}".into() });
        round_trip(Request::Decode { frame: Cow::Owned(frame()) });
        for event in [
            Event::Opened { transport: Transport::Tcp, peer: "x".into() },
            Event::Data(vec![0, 10, 255]),
            Event::Timer(7),
            Event::Closed,
        ] {
            round_trip(Request::Handle { session: 3, now_ms: i64::MIN, event });
        }
        round_trip(Response::Actions(vec![
            Action::Commit(Commit {
                token: 9,
                frame: FrameOut { content_type: "c".into(), meta: vec![], payload: vec![1, 2] },
            }),
            Action::SetTimer { id: 1, after_ms: u32::MAX },
            Action::Close("bye".into()),
        ]));
        let reading = Reading {
            device: "m".into(),
            channel: "volume".into(),
            ts_ms: 1_763_719_200_000,
            value: "-0.000000000000000000000000001".parse().unwrap(),
            unit: "m3".into(),
            kind: ReadingKind::Cumulative,
        };
        let telemetry = Telemetry {
            module: "eui".into(),
            ts_ms: 1,
            battery_pct: Some(99),
            snr_db: Some(-7.25),
            ..Default::default()
        };
        round_trip(Response::Decoded(Ok(Decoded {
            readings: vec![reading],
            telemetry: vec![telemetry],
            fields: Some("{\"input1\":5}".into()),
        })));
        round_trip(Response::Decoded(Err(DecodeError::new("field \"ts\": missing"))));
        round_trip(Response::Init(Err("settings refused".into())));
    }

    #[test]
    fn truncated_oversized_and_garbage_frames_are_errors() {
        let mut bytes = Vec::new();
        write(&mut bytes, &Request::Info).unwrap();
        let cut = &bytes[..bytes.len() - 1];
        let e = read::<Request>(&mut &cut[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        let e = read::<Request>(&mut &bytes[..2]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        let huge = (MAX_FRAME as u32 + 1).to_le_bytes();
        let e = read::<Request>(&mut &huge[..]).unwrap_err();
        assert!(e.to_string().contains("over the limit"), "{e}");
        let mut garbage = 5u32.to_le_bytes().to_vec();
        garbage.extend_from_slice(b"hello");
        let e = read::<Request>(&mut &garbage[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }
}

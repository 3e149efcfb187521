//! Re-assembly of the server's JSON stream. The IOT Vega Server sends JSON
//! objects in WebSocket text frames, but a frame may hold several objects
//! or a part of one (PROTOCOLS.md §1.2), so the driver cuts complete
//! top-level values out of the bytes it gets, whatever the frame borders.
//! Bytes outside any value are garbage, given back to be rejected.

/// What the stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// The exact bytes of one complete top-level JSON object or array.
    Value(Vec<u8>),
    /// Bytes that cannot start a value (or a value over the size limit).
    Garbage {
        /// The bytes.
        bytes: Vec<u8>,
        /// Why they are not a value.
        reason: String,
    },
}

/// Bytes received and not yet cut.
#[derive(Debug, Default)]
pub struct JsonStream {
    buf: Vec<u8>,
}

impl JsonStream {
    /// Add `bytes` and cut every complete value and garbage run; an
    /// unfinished value waits for more bytes unless it exceeds `max_bytes`.
    pub fn push(&mut self, bytes: &[u8], max_bytes: usize) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if !self.buf.is_empty() && starts_a_message(bytes) {
            // What waits can never end (a stray `{` in a broken message):
            // the server's next message starts here.
            pieces.push(Piece::Garbage {
                bytes: std::mem::take(&mut self.buf),
                reason: "an unfinished JSON object, followed by a new message".into(),
            });
        }
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        while pos < self.buf.len() {
            let b = self.buf[pos];
            if b.is_ascii_whitespace() {
                pos += 1;
                continue;
            }
            if b != b'{' && b != b'[' {
                let end =
                    self.buf[pos..].iter().position(|&c| c == b'{' || c == b'[').map_or(self.buf.len(), |i| pos + i);
                pieces.push(Piece::Garbage {
                    bytes: self.buf[pos..end].to_vec(),
                    reason: "not JSON: bytes outside any JSON object".into(),
                });
                pos = end;
                continue;
            }
            match value_end(&self.buf[pos..]) {
                Some(len) => {
                    pieces.push(Piece::Value(self.buf[pos..pos + len].to_vec()));
                    pos += len;
                }
                None if self.buf.len() - pos > max_bytes => {
                    pieces.push(Piece::Garbage {
                        bytes: std::mem::take(&mut self.buf).split_off(pos),
                        reason: format!("a JSON message longer than max_message_bytes ({max_bytes}) never ended"),
                    });
                    return pieces;
                }
                None => break,
            }
        }
        self.buf.drain(..pos);
        pieces
    }

    /// Bytes waiting for the rest of their value.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Whether `bytes` begin a new server message (`{"cmd"`), which cannot be
/// the continuation of an object split over frames.
fn starts_a_message(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    bytes[start..].starts_with(br#"{"cmd""#)
}

/// The length of the value starting at `bytes[0]` (`{` or `[`), if it is
/// complete: brackets counted outside strings, escapes honoured.
fn value_end(bytes: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pieces: &[Piece]) -> Vec<String> {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Value(v) => String::from_utf8_lossy(v).into_owned(),
                Piece::Garbage { bytes, .. } => format!("GARBAGE({})", String::from_utf8_lossy(bytes)),
            })
            .collect()
    }

    #[test]
    fn several_objects_in_one_frame_and_one_object_over_frames() {
        let mut s = JsonStream::default();
        let two = s.push(br#"{"cmd":"a","s":"}{"} {"cmd":"b"}"#, 1 << 20);
        assert_eq!(values(&two), vec![r#"{"cmd":"a","s":"}{"}"#, r#"{"cmd":"b"}"#]);
        assert!(s.push(br#"{"cmd":"c","t":"\"}"#, 1 << 20).is_empty());
        assert!(s.pending() > 0);
        assert_eq!(
            values(&s.push(br#"","n":[1,{"x":2}]}"#, 1 << 20)),
            vec![r#"{"cmd":"c","t":"\"}","n":[1,{"x":2}]}"#]
        );
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn garbage_is_cut_out_and_the_stream_goes_on() {
        let mut s = JsonStream::default();
        let pieces = s.push(b"hello } [1,2,3] {\"cmd\":\"x\"}", 1 << 20);
        assert_eq!(values(&pieces), vec!["GARBAGE(hello } )", "[1,2,3]", r#"{"cmd":"x"}"#]);
    }

    #[test]
    fn a_stray_brace_does_not_swallow_the_next_message() {
        let mut s = JsonStream::default();
        assert!(s.push(b"error {", 1 << 20).iter().all(|p| matches!(p, Piece::Garbage { .. })));
        let pieces = s.push(br#"{"cmd":"rx","ts":1}"#, 1 << 20);
        assert_eq!(values(&pieces), vec!["GARBAGE({)", r#"{"cmd":"rx","ts":1}"#]);
        // A real continuation still joins its beginning.
        assert!(s.push(br#"{"cmd":"rx","data":"#, 1 << 20).is_empty());
        assert_eq!(values(&s.push(br#""00"}"#, 1 << 20)), vec![r#"{"cmd":"rx","data":"00"}"#]);
    }

    #[test]
    fn an_endless_value_is_given_up_at_the_limit() {
        let mut s = JsonStream::default();
        assert!(s.push(b"{\"a\":\"0123456789", 64).is_empty());
        let pieces = s.push(&[b'x'; 100], 64);
        assert!(matches!(&pieces[..], [Piece::Garbage { reason, .. }] if reason.contains("max_message_bytes (64)")));
        assert_eq!(s.pending(), 0);
        assert_eq!(values(&s.push(b"{}", 64)), vec!["{}"]);
    }
}

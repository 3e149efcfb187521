//! The answers hyper's HTTP/1 parser writes on its own, given the security
//! headers ([`crate::security`]) every other answer of the house carries.
//!
//! hyper answers a request head it cannot take before any service runs
//! (`Server::on_error` in hyper 1.x's `src/proto/h1/role.rs`, written by
//! `Conn::on_parse_error` in `src/proto/h1/conn.rs`): 400 for a bad method,
//! target, version or header, 414 for a target over 65,534 bytes, 431 for a
//! head over its read buffer (about 400 KiB) or of more than 100 headers.
//! There is no response to set headers on, only bytes, so [`ParserAnswers`]
//! wraps the connection's stream and puts the header lines into the head of
//! such an answer as it is written.
//!
//! Which bytes start such an answer is known from the service's side, not
//! guessed from the bytes: [`ServiceResponses`] counts the service's
//! responses whose body hyper has not finished, and hyper flushes the stream
//! only when its own write buffer is empty. So after a flush with no service
//! response open, the next byte written starts a message hyper made itself
//! (one of those answers, or a `100 Continue`). A write there that starts
//! `HTTP/1.1 400 `, `414 ` or `431 ` is collected up to the end of its head
//! (at most [`MAX_HEAD`] bytes, else it goes out unchanged), given the
//! header lines unless it has `x-content-type-options` already, and written.
//! Every other write goes through as it came, vectored ones as vectored
//! ones; after a `101 Switching Protocols` nothing more is looked at.
//!
//! What is missed: when hyper writes its answer behind bytes of a service
//! response still in its buffer (a client that sends more requests without
//! reading the answers, until the socket is full), the answer goes out
//! without the headers; never are bytes of anything else changed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use hyper::StatusCode;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest head of one of hyper's answers that is collected; hyper's are
/// about 120 bytes. A longer head goes out unchanged.
pub const MAX_HEAD: usize = 1024;

/// How the heads of hyper's own answers start: the statuses
/// `Server::on_error` writes, always as HTTP/1.1.
const ANSWER_STARTS: [&[u8]; 3] = [b"HTTP/1.1 400 ", b"HTTP/1.1 414 ", b"HTTP/1.1 431 "];

/// The header whose presence means the head has the security headers.
const MARKER: &[u8] = b"x-content-type-options";

/// The service's responses on one connection, as [`ParserAnswers`] needs to
/// know them: shared by the connection's service and its stream.
#[derive(Debug, Default)]
pub struct ServiceResponses {
    /// Responses the service made whose body hyper has not dropped yet
    /// (hyper drops a body once all of it is in its write buffer).
    open: AtomicUsize,
    /// The service switched protocols: the rest of the connection is not
    /// HTTP.
    upgraded: AtomicBool,
}

impl ServiceResponses {
    /// Notes a response of `status` the service made; it is open until the
    /// returned guard (held by its body, [`Tracked`]) is dropped.
    pub fn made(self: &Arc<Self>, status: StatusCode) -> OpenResponse {
        if status == StatusCode::SWITCHING_PROTOCOLS {
            self.upgraded.store(true, Ordering::Release);
        }
        self.open.fetch_add(1, Ordering::AcqRel);
        OpenResponse(self.clone())
    }

    /// No response of the service is open, and the connection is still
    /// HTTP.
    fn quiet(&self) -> bool {
        self.open.load(Ordering::Acquire) == 0 && !self.upgraded.load(Ordering::Acquire)
    }
}

/// A response of the service that hyper has not finished; dropping it
/// closes it.
#[derive(Debug)]
pub struct OpenResponse(Arc<ServiceResponses>);

impl Drop for OpenResponse {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its response open until hyper drops it.
#[derive(Debug)]
pub struct Tracked<B> {
    /// The service's body, polled as it is.
    body: B,
    /// Closed when the body is dropped.
    _open: OpenResponse,
}

impl<B> Tracked<B> {
    /// `body`, keeping `open` open while it lives.
    pub fn new(body: B, open: OpenResponse) -> Self {
        Tracked { body, _open: open }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Where the write side of a [`ParserAnswers`] is.
#[derive(Debug)]
enum Writing {
    /// The next byte written starts a message hyper made itself.
    AtStart,
    /// Collecting what may be the head of one of hyper's answers (already
    /// reported as written).
    Collecting(Vec<u8>),
    /// Writing out bytes already reported as written: a head with the
    /// header lines, or collected bytes that were not such a head.
    Owed {
        /// The bytes.
        bytes: Vec<u8>,
        /// How many of them are written.
        written: usize,
    },
    /// Inside anything else: passed through until the next flush with no
    /// service response open.
    Passing,
}

/// A connection's stream whose writes get the security headers into the
/// answers hyper's parser writes on its own (the module's doc says how they
/// are told apart); reads and every other write go through.
#[derive(Debug)]
pub struct ParserAnswers<S> {
    /// The connection's stream (TCP, or the plain side of TLS).
    inner: S,
    /// The connection's service, as far as it answered.
    service: Arc<ServiceResponses>,
    /// The security headers as head lines ([`crate::security::head_lines`]).
    lines: Arc<[u8]>,
    /// Where the write side is.
    writing: Writing,
}

impl<S> ParserAnswers<S> {
    /// `inner`, its writes watched for hyper's answers while `service`
    /// makes none; `lines` go into those answers' heads.
    pub fn new(inner: S, service: Arc<ServiceResponses>, lines: Arc<[u8]>) -> Self {
        ParserAnswers { inner, service, lines, writing: Writing::AtStart }
    }

    /// At the start of a message, decides from its first bytes whether it
    /// may be one of hyper's answers (collect it) or not (pass it).
    fn look_at(&mut self, first: &[u8]) {
        if matches!(self.writing, Writing::AtStart) && !first.is_empty() {
            let answer = self.service.quiet() && could_be_answer(first);
            self.writing = if answer { Writing::Collecting(Vec::new()) } else { Writing::Passing };
        }
    }

    /// Takes bytes of `buf` into the head being collected; returns how many
    /// (never those after the end of the head). Once the head is complete
    /// it is owed to the stream, with the header lines if it is one of
    /// hyper's answers; collected bytes that turn out not to start one, or
    /// reach [`MAX_HEAD`], are owed as they are.
    fn collect(&mut self, buf: &[u8]) -> usize {
        let Writing::Collecting(head) = &mut self.writing else { return 0 };
        let before = head.len();
        // Collecting stops at `MAX_HEAD`, so there is room for a byte.
        head.extend_from_slice(&buf[..buf.len().min(MAX_HEAD - before)]);
        // The end may straddle the bytes collected before.
        let from = before.saturating_sub(3);
        if let Some(at) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            // Not found before, so it ends in the new bytes: `end > before`.
            let end = from + at + 4;
            head.truncate(end);
            let head = std::mem::take(head);
            let answer = ANSWER_STARTS.iter().any(|start| head.starts_with(start));
            let bytes = if answer { with_lines(head, &self.lines) } else { head };
            self.writing = Writing::Owed { bytes, written: 0 };
            return end - before;
        }
        let taken = head.len() - before;
        if !could_be_answer(head) || head.len() == MAX_HEAD {
            self.give_up();
        }
        taken
    }

    /// Collected bytes that are still waiting for the end of a head are
    /// owed to the stream as they are.
    fn give_up(&mut self) {
        if let Writing::Collecting(head) = &mut self.writing {
            self.writing = Writing::Owed { bytes: std::mem::take(head), written: 0 };
        }
    }
}

impl<S: AsyncWrite + Unpin> ParserAnswers<S> {
    /// Writes out what is owed to the stream, if anything; then passes.
    fn poll_owed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Writing::Owed { bytes, written } = &mut self.writing {
            if *written == bytes.len() {
                self.writing = Writing::Passing;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Collects from `buf` and reports the bytes taken as written, starting
    /// to write out the head once it is complete.
    fn poll_collect(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let taken = self.collect(buf);
        // What is owed now goes on at the next write, flush or shutdown
        // when the stream cannot take it all at once.
        if let Poll::Ready(Err(e)) = self.poll_owed(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ParserAnswers<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ParserAnswers<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_owed(cx))?;
        this.look_at(buf);
        match this.writing {
            Writing::Collecting(_) => this.poll_collect(cx, buf),
            _ => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_owed(cx))?;
        let first = bufs.iter().find(|buf| !buf.is_empty());
        if let Some(first) = first {
            this.look_at(first);
            if let Writing::Collecting(_) = this.writing {
                // A partial write: the bytes of the first slice only.
                return this.poll_collect(cx, first);
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.give_up();
        ready!(this.poll_owed(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        // hyper flushes only with its write buffer empty: unless the
        // service has a response open, what comes next starts a message.
        if this.service.quiet() {
            this.writing = Writing::AtStart;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.give_up();
        ready!(this.poll_owed(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// `bytes` may start one of hyper's answers: they are a prefix of one of
/// [`ANSWER_STARTS`], or start with one.
fn could_be_answer(bytes: &[u8]) -> bool {
    ANSWER_STARTS.iter().any(|start| {
        let n = start.len().min(bytes.len());
        bytes[..n] == start[..n]
    })
}

/// The complete `head` (ending in an empty line) with `lines` before its
/// empty line, unless it has the security headers already.
fn with_lines(head: Vec<u8>, lines: &[u8]) -> Vec<u8> {
    let has_them = head.split(|&b| b == b'\n').any(|line| {
        line.len() > MARKER.len() && line[..MARKER.len()].eq_ignore_ascii_case(MARKER) && line[MARKER.len()] == b':'
    });
    if has_them {
        return head;
    }
    // The head ends in "\r\n\r\n": its empty line is the last two bytes.
    let empty_line = head.len() - 2;
    let mut out = Vec::with_capacity(head.len() + lines.len());
    out.extend_from_slice(&head[..empty_line]);
    out.extend_from_slice(lines);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::IoSlice;
    use std::task::Waker;

    /// The header lines the tests put in (with HSTS).
    fn lines() -> Arc<[u8]> {
        crate::security::head_lines(true).into()
    }

    /// hyper's own answers as it writes them.
    const ANSWERS: [&str; 3] = [
        "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
        "HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
        "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
    ];

    /// `answer` with the header lines before its empty line.
    fn with_headers(answer: &str) -> Vec<u8> {
        let head = answer.strip_suffix("\r\n").expect("a head");
        [head.as_bytes(), &lines(), b"\r\n"].concat()
    }

    /// A stream that takes at most `per_write` bytes a write and records
    /// them; with `stalls`, every other write is `Pending` first.
    #[derive(Default)]
    struct Recorder {
        written: Vec<u8>,
        per_write: usize,
        stalls: bool,
        stalled: bool,
        vectored_writes: usize,
    }

    impl Recorder {
        fn new(per_write: usize, stalls: bool) -> Self {
            Recorder { per_write, stalls, ..Recorder::default() }
        }

        /// `Pending` every other time when stalling.
        fn stall(&mut self, cx: &mut Context<'_>) -> bool {
            if self.stalls {
                self.stalled = !self.stalled;
                if self.stalled {
                    cx.waker().wake_by_ref();
                    return true;
                }
            }
            false
        }
    }

    impl AsyncRead for Recorder {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            if self.stall(cx) {
                return Poll::Pending;
            }
            let n = buf.len().min(self.per_write);
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            if self.stall(cx) {
                return Poll::Pending;
            }
            self.vectored_writes += 1;
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.per_write - n);
                self.written.extend_from_slice(&buf[..take]);
                n += take;
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A wrapped recorder and the service's side of it.
    fn wrapped(per_write: usize, stalls: bool) -> (ParserAnswers<Recorder>, Arc<ServiceResponses>) {
        let service = Arc::new(ServiceResponses::default());
        (ParserAnswers::new(Recorder::new(per_write, stalls), service.clone(), lines()), service)
    }

    /// Polls `poll` until it is ready (the recorder always wakes).
    fn ready<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>) -> T {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(result) = poll(&mut cx) {
                return result.expect("the recorder fails no write");
            }
        }
    }

    /// Writes each piece whole, as hyper does: again while some is left.
    fn write(io: &mut ParserAnswers<Recorder>, pieces: &[&[u8]]) {
        for piece in pieces {
            let mut left = *piece;
            while !left.is_empty() {
                let n = ready(|cx| Pin::new(&mut *io).poll_write(cx, left));
                assert!(n > 0, "a write took nothing");
                left = &left[n..];
            }
        }
    }

    /// Writes `slices` with vectored writes, as hyper's queued write buffer
    /// does: each write offers what is left of every slice.
    fn write_vectored(io: &mut ParserAnswers<Recorder>, slices: &[&[u8]]) {
        let mut left: Vec<&[u8]> = slices.to_vec();
        while left.iter().any(|slice| !slice.is_empty()) {
            let bufs: Vec<IoSlice<'_>> = left.iter().map(|slice| IoSlice::new(slice)).collect();
            let mut n = ready(|cx| Pin::new(&mut *io).poll_write_vectored(cx, &bufs));
            assert!(n > 0, "a write took nothing");
            for slice in &mut left {
                let take = slice.len().min(n);
                *slice = &slice[take..];
                n -= take;
            }
        }
    }

    /// Flushes, as hyper does once its buffer is empty.
    fn flush(io: &mut ParserAnswers<Recorder>) {
        ready(|cx| Pin::new(&mut *io).poll_flush(cx));
    }

    /// Every way the stream may take the bytes: some at a time, stalling.
    const STREAMS: [(usize, bool); 5] = [(usize::MAX, false), (usize::MAX, true), (1, false), (7, true), (64, false)];

    #[test]
    fn hyper_answers_get_the_headers_split_at_every_byte() {
        for answer in ANSWERS {
            let bytes = answer.as_bytes();
            for (per_write, stalls) in STREAMS {
                for at in 1..bytes.len() {
                    let (mut io, _) = wrapped(per_write, stalls);
                    write(&mut io, &[&bytes[..at], &bytes[at..]]);
                    flush(&mut io);
                    assert_eq!(io.inner.written, with_headers(answer), "{answer:?} split at {at}");
                }
                let (mut io, _) = wrapped(per_write, stalls);
                let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
                write(&mut io, &bytewise);
                flush(&mut io);
                assert_eq!(io.inner.written, with_headers(answer), "{answer:?} a byte at a time");
            }
        }
    }

    #[test]
    fn bytes_after_the_head_in_the_same_write_follow_it_unchanged() {
        let answer = ANSWERS[0];
        let (mut io, _) = wrapped(usize::MAX, false);
        write(&mut io, &[format!("{answer}after").as_bytes()]);
        flush(&mut io);
        assert_eq!(io.inner.written, [with_headers(answer), b"after".to_vec()].concat());
    }

    #[test]
    fn hyper_answers_get_the_headers_through_vectored_writes_split_at_every_byte() {
        for answer in ANSWERS {
            let bytes = answer.as_bytes();
            for (per_write, stalls) in STREAMS {
                for at in 0..=bytes.len() {
                    let (mut io, _) = wrapped(per_write, stalls);
                    write_vectored(&mut io, &[&bytes[..at], &bytes[at..]]);
                    flush(&mut io);
                    assert_eq!(io.inner.written, with_headers(answer), "{answer:?} split at {at}");
                }
            }
        }
    }

    #[test]
    fn a_service_response_goes_through_byte_for_byte_and_vectored() {
        // A service's own 400 that lacks the headers is still the service's.
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\n";
        for (per_write, stalls) in STREAMS {
            let (mut io, service) = wrapped(per_write, stalls);
            let open = service.made(StatusCode::BAD_REQUEST);
            write_vectored(&mut io, &[head, b"hello"]);
            assert_eq!(io.inner.written, [&head[..], b"hello"].concat());
            assert!(io.inner.vectored_writes > 0, "passed on as vectored writes");
            drop(open);
            flush(&mut io);
            // The next message on the connection is hyper's own answer.
            write(&mut io, &[ANSWERS[0].as_bytes()]);
            flush(&mut io);
            assert_eq!(io.inner.written, [&head[..], b"hello", &with_headers(ANSWERS[0])].concat());
        }
    }

    #[test]
    fn bytes_of_a_service_response_not_yet_flushed_are_never_taken_for_a_head() {
        let (mut io, service) = wrapped(usize::MAX, false);
        let open = service.made(StatusCode::OK);
        write(&mut io, &[b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n"]);
        drop(open);
        // The rest of its body, which reads like one of hyper's answers.
        let body = b"HTTP/1.1 400 x\r\n\r\n";
        write(&mut io, &[body]);
        flush(&mut io);
        assert_eq!(io.inner.written, [&b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n"[..], body].concat());
    }

    #[test]
    fn a_head_longer_than_the_bound_goes_out_unchanged() {
        let answer =
            format!("HTTP/1.1 431 Request Header Fields Too Large\r\nx-long: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let bytes = answer.as_bytes();
        for (per_write, stalls) in STREAMS {
            for at in [1, 13, MAX_HEAD - 1, MAX_HEAD, MAX_HEAD + 1, bytes.len() - 1] {
                let (mut io, _) = wrapped(per_write, stalls);
                write(&mut io, &[&bytes[..at], &bytes[at..]]);
                flush(&mut io);
                assert_eq!(io.inner.written, bytes, "split at {at}");
            }
        }
    }

    #[test]
    fn a_head_with_the_headers_already_and_other_messages_of_hyper_are_left_alone() {
        let has_them = "HTTP/1.1 400 Bad Request\r\nX-Content-Type-Options: nosniff\r\n\r\n";
        let not_an_answer = "HTTP/1.1 404 Not Found\r\n\r\n";
        let cut_short = "HTTP/1.1 4";
        for message in [has_them, "HTTP/1.1 100 Continue\r\n\r\n", not_an_answer, cut_short] {
            let (mut io, _) = wrapped(usize::MAX, false);
            let bytewise: Vec<&[u8]> = message.as_bytes().chunks(1).collect();
            write(&mut io, &bytewise);
            flush(&mut io);
            assert_eq!(io.inner.written, message.as_bytes(), "{message:?}");
        }
    }

    #[test]
    fn after_a_continue_the_service_answers_and_after_a_switch_of_protocols_nothing_is_looked_at() {
        let (mut io, service) = wrapped(usize::MAX, false);
        write(&mut io, &[b"HTTP/1.1 100 Continue\r\n\r\n"]);
        flush(&mut io);
        let open = service.made(StatusCode::SWITCHING_PROTOCOLS);
        write(&mut io, &[b"HTTP/1.1 101 Switching Protocols\r\n\r\n"]);
        drop(open);
        flush(&mut io);
        write(&mut io, &[ANSWERS[0].as_bytes()]);
        flush(&mut io);
        let expected =
            ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n", ANSWERS[0]].concat();
        assert_eq!(io.inner.written, expected.as_bytes());
    }
}

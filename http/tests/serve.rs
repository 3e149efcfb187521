//! The accept loop on a real socket: the answers hyper's parser makes on its
//! own (400, 414, 431) carry every security header and are counted on the
//! listener's gate, as the handler's answers are.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use meterhub_http::gate::GateStats;
use meterhub_http::security::{STRICT_TRANSPORT_SECURITY, security_headers};
use meterhub_http::{Gate, Gates, Limits, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};

/// hyper's largest read buffer, the most a request head may fill
/// (`DEFAULT_MAX_BUFFER_SIZE` in hyper 1.x's `src/proto/h1/io.rs`).
const HYPER_READ_BUFFER: usize = 8192 + 4096 * 100;

/// How long any one step may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1 whose handler answers 200 `{"ok": true}` (and 404
/// to `/missing`), and its gate.
async fn server(hsts: bool) -> (SocketAddr, Arc<Gate>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let gate = Gates::unlimited().gate("test", Limits::INGEST, false);
    let options = ServeOptions { tls: None, hsts };
    tokio::spawn(meterhub_http::serve_with(
        Arc::new(listener),
        gate.clone(),
        options,
        std::future::pending(),
        |req, _| async move {
            match req.uri().path() {
                "/missing" => meterhub_http::error(StatusCode::NOT_FOUND, "no such thing"),
                _ => meterhub_http::json(StatusCode::OK, &serde_json::json!({"ok": true})),
            }
        },
    ));
    (addr, gate)
}

/// Sends `request` and reads until the server closes the connection.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let deadline = Instant::now() + DEADLINE;
    let answer = timeout_at(deadline, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read");
        answer
    });
    let answer = answer.await.expect("an answer and a close within the deadline");
    String::from_utf8(answer).expect("ASCII answers")
}

/// The answers in `text`, each its head's lines (status line first).
fn heads(text: &str) -> Vec<Vec<&str>> {
    text.split("HTTP/1.1 ")
        .skip(1)
        .map(|answer| answer.split("\r\n\r\n").next().unwrap_or("").lines().collect())
        .collect()
}

/// Asserts `head` has `status` and each security header once (with
/// `Strict-Transport-Security` exactly when `hsts`).
fn assert_secured(head: &[&str], status: u16, hsts: bool) {
    assert!(head[0].starts_with(&format!("{status} ")), "status {status}: {head:?}");
    for (name, value) in security_headers(hsts) {
        let found = head.iter().filter(|line| **line == format!("{name}: {value}")).count();
        assert_eq!(found, 1, "{name} once in {head:?}");
    }
    let has_hsts = head.iter().any(|line| line.starts_with(STRICT_TRANSPORT_SECURITY.0));
    assert_eq!(has_hsts, hsts, "{head:?}");
}

/// Waits until the gate's counters satisfy `done`, or fails at the deadline.
async fn counted(gate: &Gate, done: impl Fn(&GateStats) -> bool) -> GateStats {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stats = gate.stats();
        if done(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "not counted within {DEADLINE:?}: {stats:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn the_parsers_own_answers_carry_the_security_headers_and_are_counted() {
    let (addr, gate) = server(true).await;

    let garbage = exchange(addr, b"HELLO THERE\r\n\r\n").await;
    // A target over hyper's 65,534 bytes.
    let uri = exchange(addr, format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "u".repeat(70_000)).as_bytes()).await;
    // A head that fills hyper's read buffer and is not over: its "message
    // head is too large". Exactly the buffer, so that no byte is left unread
    // (the close would be a reset).
    let start = "GET / HTTP/1.1\r\nHost: x\r\nx-big: ";
    let big = exchange(addr, format!("{start}{}", "b".repeat(HYPER_READ_BUFFER - start.len())).as_bytes()).await;
    // More headers than hyper's 100: the same answer.
    let many: String = (0..101).map(|i| format!("x-{i}: v\r\n")).collect();
    let many = exchange(addr, format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes()).await;

    for (answer, status) in [(&garbage, 400), (&uri, 414), (&big, 431), (&many, 431)] {
        let heads = heads(answer);
        assert_eq!(heads.len(), 1, "{answer}");
        assert_secured(&heads[0], status, true);
    }
    let stats = counted(&gate, |s| s.refusals.values().sum::<u64>() == 4).await;
    assert_eq!(stats.refusals.into_iter().collect::<Vec<_>>(), [(400, 1), (414, 1), (431, 2)]);
    assert_eq!(stats.dropped, 0);
}

#[tokio::test]
async fn after_the_services_answers_the_parsers_own_on_the_same_connection_has_them_too() {
    let (addr, gate) = server(false).await;
    let requests = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\nHELLO THERE\r\n\r\n";
    let answers = exchange(addr, requests.as_bytes()).await;
    let heads = heads(&answers);
    assert_eq!(heads.len(), 3, "{answers}");
    // The handler's answers get the headers it did not set, once each.
    assert_secured(&heads[0], 200, false);
    assert_secured(&heads[1], 404, false);
    assert_secured(&heads[2], 400, false);
    assert!(answers.contains("{\n  \"ok\": true\n}"), "the body is untouched: {answers}");
    let stats = counted(&gate, |s| s.refusals.values().sum::<u64>() == 2).await;
    assert_eq!(stats.refusals.into_iter().collect::<Vec<_>>(), [(400, 1), (404, 1)]);
}

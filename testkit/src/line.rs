//! A device on the listener's line protocol: JSON readings over TCP, one
//! answer line each.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// A TCP device connection speaking the listener's line protocol.
pub struct LineClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LineClient {
    /// Connect to `addr`.
    pub fn connect(addr: SocketAddr) -> LineClient {
        let writer = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        writer.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let reader = BufReader::new(writer.try_clone().expect("clone"));
        LineClient { writer, reader }
    }

    /// Send raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Read one answer line as JSON; `None` at end of stream.
    pub fn answer(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer {line:?} is not JSON: {e}"))),
        }
    }

    /// Close the sending side (the host still answers).
    pub fn finish(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Write);
    }
}

/// A reading line for the listener (unit m3, cumulative); `value` is JSON
/// as written (`"1.5"` with quotes for an exact decimal, or a number).
pub fn reading(device: &str, channel: &str, ts_ms: i64, value: &str) -> String {
    format!(
        "{{\"device\":\"{device}\",\"channel\":\"{channel}\",\"ts\":{ts_ms},\"value\":{value},\"unit\":\"m3\",\"kind\":\"cumulative\"}}\n"
    )
}

/// Send `lines` over one connection to `addr` and assert that every one
/// was acknowledged (`{"ok": true}`), in order.
pub fn send_acked(addr: SocketAddr, lines: &[String]) {
    let mut client = LineClient::connect(addr);
    client.send(lines.concat().as_bytes());
    client.finish();
    let answers: Vec<Value> = std::iter::from_fn(|| client.answer()).collect();
    assert_eq!(answers.len(), lines.len(), "one answer per line");
    assert!(answers.iter().all(|a| a["ok"] == true), "{answers:?}");
}

//! A blocking Server-Sent Events client over HTTP/1.1 (chunked), for the
//! live streams of the API (`docs/api.md`, "Live streams").

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::Response;

/// How long [`Sse::event`] waits for an event that should come at once.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(10);

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Event {
    /// The `event:` name.
    pub name: String,
    /// The `data:` as JSON.
    pub data: Value,
    /// The `id:`, when it has one.
    pub id: Option<u64>,
}

/// A blocking SSE client over HTTP/1.1 (chunked).
pub struct Sse {
    reader: BufReader<TcpStream>,
    /// Undecoded event text.
    text: String,
    /// The last `id:` seen.
    pub last_id: Option<u64>,
}

impl Sse {
    /// `GET path` with `headers`: the stream, or the refusal.
    pub fn open(api: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<Sse, Response> {
        let mut stream = TcpStream::connect(api).expect("connect");
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        let head = format!("GET {path} HTTP/1.1\r\nHost: {api}\r\nAccept: text/event-stream\r\n{extra}\r\n");
        stream.write_all(head.as_bytes()).expect("write");
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let mut sse = Sse { reader, text: String::new(), last_id: None };
        if status != 200 {
            let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok());
            let mut body = vec![0; length.unwrap_or(0)];
            sse.reader.get_ref().set_read_timeout(Some(EVENT_DEADLINE)).expect("timeout");
            sse.reader.read_exact(&mut body).expect("the refusal's body");
            return Err(Response { status, headers, body });
        }
        let content_type = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone());
        assert_eq!(content_type.as_deref(), Some("text/event-stream; charset=utf-8"));
        Ok(sse)
    }

    /// The next chunk of the chunked body; `None` at its end.
    fn chunk(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        self.reader.get_ref().set_read_timeout(Some(left)).expect("timeout");
        let mut size = String::new();
        self.reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return None;
        }
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).ok()?;
        data.truncate(size);
        Some(String::from_utf8(data).expect("UTF-8 events"))
    }

    /// The next event (comments skipped), or `None` when the stream ended or
    /// nothing came before `deadline`.
    pub fn next_before(&mut self, deadline: Instant) -> Option<Event> {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let (mut name, mut data, mut id) = (None, None, None);
                for line in block.lines() {
                    match line.split_once(": ") {
                        Some(("event", v)) => name = Some(v.to_owned()),
                        Some(("data", v)) => data = Some(serde_json::from_str(v).expect("data is JSON")),
                        Some(("id", v)) => id = Some(v.parse().expect("numeric id")),
                        _ => {}
                    }
                }
                if let Some(id) = id {
                    self.last_id = Some(id);
                }
                if let (Some(name), Some(data)) = (name, data) {
                    return Some(Event { name, data, id });
                }
                continue;
            }
            let chunk = self.chunk(deadline)?;
            self.text.push_str(&chunk);
        }
    }

    /// The next event, which must come.
    pub fn event(&mut self) -> Event {
        self.next_before(Instant::now() + EVENT_DEADLINE).expect("an event in time")
    }

    /// The next event named `name`, skipping others.
    pub fn next_named(&mut self, name: &str) -> Event {
        loop {
            let event = self.event();
            if event.name == name {
                return event;
            }
        }
    }
}

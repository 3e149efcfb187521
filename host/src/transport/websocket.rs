//! WebSocket client transport: the host connects to a server (e.g. an IOT
//! Vega Server), runs one driver session per connection, and reconnects with
//! exponential backoff and jitter when the connection ends or fails. A
//! connection that brings nothing (no message, no ping) for the idle timeout
//! is dead: it is dropped and reconnected.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use meterhub_plugin_api::Transport;
use tokio::net::TcpStream;
use tokio::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::stream::{self, Conn};
use super::{DriverRuntime, RuntimeSlot};
use crate::backoff::Backoff;

struct WsConn {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    idle_timeout: Duration,
    last_heard: Instant,
}

impl Conn for WsConn {
    async fn recv(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        loop {
            let heard = match tokio::time::timeout_at(self.last_heard + self.idle_timeout, self.ws.next()).await {
                Ok(heard) => heard?,
                Err(_) => {
                    let silent_ms = self.idle_timeout.as_millis();
                    return Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no message or ping for {silent_ms} ms (idle_timeout_ms): the link is dead"),
                    )));
                }
            };
            self.last_heard = Instant::now();
            match heard {
                Ok(Message::Text(text)) => return Some(Ok(text.as_bytes().to_vec())),
                Ok(Message::Binary(bytes)) => return Some(Ok(bytes.to_vec())),
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue, // ping/pong are answered by tungstenite
                Err(e) => return Some(Err(std::io::Error::other(e))),
            }
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        let message = match String::from_utf8(bytes) {
            Ok(text) => Message::text(text),
            Err(e) => Message::binary(e.into_bytes()),
        };
        self.ws.send(message).await.map_err(std::io::Error::other)
    }
}

/// Connect to `url` and keep a session running on the slot's current
/// runtime, until the slot's sender is dropped. A runtime replaced while
/// connected drains its session; the next connection uses the new one at once.
pub async fn run(mut slot: RuntimeSlot, url: String, backoff: Backoff, idle_timeout: Duration) {
    let mut failures = 0u32;
    loop {
        let rt: Arc<DriverRuntime> = slot.borrow_and_update().clone();
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => {
                tracing::info!(driver = %rt.id, %url, "websocket connected");
                let started = tokio::time::Instant::now();
                let conn = WsConn { ws, idle_timeout, last_heard: Instant::now() };
                let ended = stream::run(rt.clone(), conn, Transport::Websocket, url.clone()).await;
                if rt.is_draining() {
                    tracing::info!(driver = %rt.id, %url, "websocket session drained");
                    if slot.has_changed().is_err() {
                        return;
                    }
                    failures = 0;
                    continue;
                }
                let reason = ended.as_deref().unwrap_or("closed by the server");
                tracing::warn!(driver = %rt.id, %url, %reason, "websocket connection ended");
                // A connection that lived a while resets the backoff.
                failures = if started.elapsed() > backoff.max { 1 } else { failures + 1 };
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(driver = %rt.id, %url, error = %e, failures, "websocket connect failed");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.delay(failures)) => {}
            changed = slot.changed() => if changed.is_err() { return },
        }
    }
}

//! Stream sessions (TCP connections, WebSocket connections): read input,
//! feed the driver, write its released replies, until either side ends.

use std::sync::Arc;

use meterhub_plugin_api::Transport;

use super::DriverRuntime;
use super::session::Session;

/// A connection carrying chunks (TCP) or messages (WebSocket).
pub trait Conn: Send {
    /// The next chunk or message; `None` at end of input. Must be cancel-safe.
    fn recv(&mut self) -> impl Future<Output = Option<std::io::Result<Vec<u8>>>> + Send;
    /// Write one chunk or message.
    fn send(&mut self, bytes: Vec<u8>) -> impl Future<Output = std::io::Result<()>> + Send;
    /// End a drained session so that the peer reads every answer before the
    /// end (no reset from unread input). Input after this is not read.
    fn finish(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How long a drained session waits for its peer to close after the last answer.
pub const FINISH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Run one session on `conn` until the peer leaves, the driver closes it,
/// or its runtime drains (then it stops reading and answers what it read).
/// Returns why it ended when that was not the peer's or the drain's doing.
pub async fn run<C: Conn>(rt: Arc<DriverRuntime>, mut conn: C, transport: Transport, peer: String) -> Option<String> {
    let mut drained = std::pin::pin!(rt.drained());
    let mut session = Session::open(rt, transport, peer.clone());
    let source = session.source().to_owned();
    tracing::debug!(driver = %source, session = session.id, %peer, "session opened");
    let mut input_open = true;
    let mut draining = false;
    let outcome: Result<(), String> = async {
        loop {
            while let Some(bytes) = session.next_outgoing() {
                conn.send(bytes).await.map_err(|e| format!("write failed: {e}"))?;
            }
            if let Some(reason) = session.close_reason() {
                return Err(format!("closed by the driver: {reason}"));
            }
            if !input_open {
                // The peer finished sending; answer what it sent, then end.
                if !session.settle().await {
                    return Ok(());
                }
                continue;
            }
            let has_work = session.has_work();
            if !has_work && !session.wants_input() {
                return Ok(());
            }
            tokio::select! {
                _ = session.progress(), if has_work => {}
                read = conn.recv(), if session.wants_input() => match read {
                    Some(Ok(bytes)) => session.data(bytes),
                    Some(Err(e)) => return Err(format!("read failed: {e}")),
                    None => input_open = false,
                },
                () = &mut drained, if input_open => {
                    tracing::debug!(driver = %session.source(), session = session.id, "session draining");
                    input_open = false;
                    draining = true;
                }
            }
        }
    }
    .await;
    if draining {
        conn.finish().await;
    }
    match &outcome {
        Ok(()) => tracing::debug!(driver = %source, session = session.id, %peer, "session ended"),
        Err(reason) => tracing::debug!(driver = %source, session = session.id, %peer, %reason, "session ended"),
    }
    session.close().await;
    outcome.err()
}

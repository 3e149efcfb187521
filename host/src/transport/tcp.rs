//! TCP server transport: one driver session per accepted connection.

use std::net::SocketAddr;
use std::sync::Arc;

use meterhub_http::gate::{Admission, Gate, Timeout};
use meterhub_plugin_api::Transport;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Duration, Instant};

use super::RuntimeSlot;
use super::stream::{self, Conn};

/// Most bytes taken from a connection at once. The buffer lives on the
/// stack of the read only: an idle connection holds none (10,000 idle
/// modems would otherwise hold 160 MiB of empty buffers).
const READ_CHUNK: usize = 16 * 1024;

struct TcpConn {
    stream: TcpStream,
    /// Its place on the listener; freed when the connection is dropped.
    admission: Admission,
    /// The listener's idle timeout when the connection was admitted.
    idle: Duration,
    /// When the last bytes came in.
    last_input: Instant,
}

impl Conn for TcpConn {
    async fn recv(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        loop {
            match tokio::time::timeout_at(self.last_input + self.idle, self.stream.readable()).await {
                Err(_) => {
                    self.admission.gate().timed_out(Timeout::Idle);
                    let message = format!("nothing received for {} s (idle_timeout_ms)", self.idle.as_secs_f64());
                    return Some(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, message)));
                }
                Ok(Err(e)) => return Some(Err(e)),
                Ok(Ok(())) => {}
            }
            match read_ready(&self.stream) {
                Ok(Some(bytes)) if bytes.is_empty() => return None,
                Ok(Some(bytes)) => {
                    self.last_input = Instant::now();
                    return Some(Ok(bytes));
                }
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        self.stream.write_all(&bytes).await
    }

    async fn finish(&mut self) {
        // FIN after the last answer, then wait (briefly) for the peer's end:
        // closing with unread input would reset the connection and could
        // destroy answers the peer has not read yet.
        let _ = self.stream.shutdown().await;
        let _ = tokio::time::timeout(stream::FINISH_GRACE, async {
            while self.stream.readable().await.is_ok() {
                match read_ready(&self.stream) {
                    Ok(None) => {}
                    Ok(Some(bytes)) if !bytes.is_empty() => {}
                    _ => break,
                }
            }
        })
        .await;
    }
}

/// What `stream` has to read now: its bytes (empty at its end), or `None`
/// when it has none after all (a spurious readiness).
fn read_ready(stream: &TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; READ_CHUNK];
    match stream.try_read(&mut buf) {
        Ok(n) => Ok(Some(buf[..n].to_vec())),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Bind `listen`; the returned address is the one actually bound (port 0 resolved).
pub async fn bind(listen: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Accept connections through `gate` (a refused one is closed at once),
/// one session task each on the slot's current runtime, until the slot's
/// sender is dropped. A session silent for the gate's idle timeout is
/// closed.
pub async fn serve(mut slot: RuntimeSlot, listener: Arc<TcpListener>, gate: Arc<Gate>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            changed = slot.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        let rt = slot.borrow().clone();
        match accepted {
            Ok((stream, peer)) => {
                let Ok(admission) = gate.admit(peer.ip()) else { continue };
                let _ = stream.set_nodelay(true);
                let idle = gate.limits().idle_timeout;
                let conn = TcpConn { stream, admission, idle, last_input: Instant::now() };
                tokio::spawn(async move {
                    stream::run(rt, conn, Transport::Tcp, peer.to_string()).await;
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: say so, back off, go on.
                tracing::warn!(driver = %rt.id, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

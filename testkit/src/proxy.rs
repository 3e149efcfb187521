//! A TCP proxy a test controls, between a site and its center: it forwards
//! bytes both ways until told to cut every connection (and refuse new
//! ones), or to stall (hold every byte, connections open), and then to let
//! traffic through again. Blocking threads, loopback only.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a stalled or idle forwarding thread looks at the mode.
const POLL: Duration = Duration::from_millis(20);

const OPEN: u8 = 0;
const CUT: u8 = 1;
const STALLED: u8 = 2;

struct Shared {
    mode: AtomicU8,
    stop: AtomicBool,
    /// Every connection's two sockets, to reset them on a cut.
    open: Mutex<Vec<TcpStream>>,
    /// Connections accepted.
    accepted: AtomicU64,
    /// Connections reset by cuts.
    reset: AtomicU64,
}

/// A running proxy; stopped on drop.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        listener.set_nonblocking(true).expect("nonblocking");
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(OPEN),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
            reset: AtomicU64::new(0),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || accept(listener, target, accepting));
        Proxy { addr, shared }
    }

    /// Reset every open connection and refuse new ones until [`Proxy::heal`].
    pub fn cut(&self) {
        self.shared.mode.store(CUT, Ordering::SeqCst);
        self.reset_all();
    }

    /// Hold every byte (connections stay open) until [`Proxy::heal`].
    pub fn stall(&self) {
        self.shared.mode.store(STALLED, Ordering::SeqCst);
    }

    /// Reset every open connection once; new ones go through.
    pub fn reset_all(&self) {
        let mut open = self.shared.open.lock().unwrap_or_else(|e| e.into_inner());
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
            self.shared.reset.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Let traffic through again.
    pub fn heal(&self) {
        self.shared.mode.store(OPEN, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.reset_all();
    }
}

fn accept(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                if shared.mode.load(Ordering::SeqCst) == CUT {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else { continue };
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nonblocking(false);
                for s in [&client, &server] {
                    let _ = s.set_read_timeout(Some(POLL));
                    let _ = s.set_nodelay(true);
                }
                {
                    let mut open = shared.open.lock().unwrap_or_else(|e| e.into_inner());
                    open.extend([&client, &server].iter().filter_map(|s| s.try_clone().ok()));
                }
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => continue,
                };
                let (a, b) = (shared.clone(), shared.clone());
                std::thread::spawn(move || forward(client, server, a));
                std::thread::spawn(move || forward(s2, c2, b));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Copy `from` to `to` while the mode lets bytes through; end both when
/// either side ends.
fn forward(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        match shared.mode.load(Ordering::SeqCst) {
            STALLED => {
                std::thread::sleep(POLL);
                continue;
            }
            CUT => break,
            _ => {}
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Bytes read just as a stall began are held until it ends.
                while shared.mode.load(Ordering::SeqCst) == STALLED && !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(POLL);
                }
                if shared.mode.load(Ordering::SeqCst) == CUT || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

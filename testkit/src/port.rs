//! Fixed ports, for a host that keeps its port across restarts (a sync
//! center, a PostgreSQL cluster) or an address where nobody listens.
//!
//! A port bound with `:0` and closed again is only free *when asked*: the
//! host then spends seconds loading plugins before it listens, and in the
//! meantime the kernel may hand the same port to another test's `:0` bind
//! or outgoing connection ("Address already in use", seen in CI). The ports
//! here come from below the kernel's ephemeral range, which the kernel
//! never hands out by itself, and each is handed out once per process.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out here.
const FIRST: u32 = 10_000;

/// A port on 127.0.0.1 that nothing listens on and that no `:0` bind,
/// outgoing connection or other caller in this process will take.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = ephemeral_low().saturating_sub(FIRST).max(1);
    // Spread test processes running side by side over the range.
    let start = std::process::id() % span;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < span, "every port from {FIRST} below the ephemeral range was handed out");
        let port = u16::try_from(FIRST + (start + n) % span).expect("a port below 65536");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The first port of the kernel's ephemeral range (32768 when unknown).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_and_never_handed_out_twice() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        assert!(ports.iter().all(|&p| u32::from(p) >= FIRST && u32::from(p) < ephemeral_low()), "{ports:?}");
    }
}

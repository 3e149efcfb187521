//! Admission of connections, for every listener of the house (device TCP
//! ports, HTTP ingress, the API): a most number of connections per listener
//! and per peer address, a reserve of file descriptors that only priority
//! listeners (the API) may draw on, the timeouts a listener applies, and
//! counters of every connection refused, timed out, or answered with a
//! refusal.
//!
//! A refused connection is accepted and closed at once: its descriptor is
//! back before the next accept, so a flood of one port never starves the
//! others, and the API keeps answering from the reserve.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The limits and timeouts of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections from one peer address.
    pub max_per_peer: usize,
    /// A stream session (TCP, WebSocket) that brings no byte for this long
    /// is closed.
    pub idle_timeout: Duration,
    /// HTTP: the request head must arrive within this, counted from when
    /// the connection waits for it (so it is also the keep-alive idle time).
    pub header_timeout: Duration,
    /// HTTP: the request body must arrive within this.
    pub body_timeout: Duration,
}

impl Limits {
    /// Defaults for device ports and the HTTP ingress: many devices, some
    /// behind one carrier NAT address.
    pub const INGEST: Limits = Limits {
        max_connections: 10_000,
        max_per_peer: 1_000,
        idle_timeout: Duration::from_secs(600),
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
    };
    /// Defaults for the API: browsers and scripts, users behind one proxy.
    pub const API: Limits = Limits {
        max_connections: 4_096,
        max_per_peer: 512,
        idle_timeout: Duration::from_secs(600),
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
    };
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener holds [`Limits::max_connections`].
    Listener,
    /// The peer address holds [`Limits::max_per_peer`].
    Peer,
    /// Only the reserve of file descriptors is left, and the listener may
    /// not draw on it.
    FileDescriptors,
}

impl Refusal {
    /// Its name in counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Listener => "max_connections",
            Refusal::Peer => "max_per_peer",
            Refusal::FileDescriptors => "fd_reserve",
        }
    }
}

/// What ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// A stream session brought nothing for [`Limits::idle_timeout`].
    Idle,
    /// An HTTP request head did not arrive within [`Limits::header_timeout`].
    Header,
    /// An HTTP request body did not arrive within [`Limits::body_timeout`].
    Body,
}

impl Timeout {
    /// Its name in counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Timeout::Idle => "idle",
            Timeout::Header => "header",
            Timeout::Body => "body",
        }
    }
}

/// The file descriptors every listener draws from.
#[derive(Debug)]
pub struct FdBudget {
    /// The process's open-file limit.
    limit: usize,
    /// Descriptors ordinary listeners leave free.
    reserve: usize,
    /// Connections open on every listener.
    open: AtomicUsize,
}

impl FdBudget {
    /// A budget of `limit` descriptors (the soft open-file limit) of which
    /// ordinary listeners leave `reserve` free (for the stores, plugins,
    /// files, and the priority listeners).
    pub fn new(limit: usize, reserve: usize) -> Arc<FdBudget> {
        Arc::new(FdBudget { limit, reserve, open: AtomicUsize::new(0) })
    }

    /// Connections open on every listener.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The descriptor limit and the reserve.
    pub fn limits(&self) -> (usize, usize) {
        (self.limit, self.reserve)
    }
}

/// Counters of one listener, as read by [`Gate::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GateStats {
    /// Connections open now.
    pub open: u64,
    /// Connections admitted since the start.
    pub accepted: u64,
    /// Connections refused at accept, by [`Refusal::as_str`].
    pub refused: BTreeMap<&'static str, u64>,
    /// Connections closed because time ran out, by [`Timeout::as_str`].
    pub timed_out: BTreeMap<&'static str, u64>,
    /// Answers of status 400 and above the host made, by status: the
    /// handlers' and those of the HTTP parser itself (400, 414, 431).
    pub refusals: BTreeMap<u16, u64>,
    /// Connections the HTTP parser gave up on without an answer (a broken
    /// or cut request).
    pub dropped: u64,
}

/// One listener's admission and counters.
#[derive(Debug)]
pub struct Gate {
    /// The listener's name (`api`, a driver id), for logs.
    name: String,
    limits: Mutex<Limits>,
    /// May draw on the descriptor reserve (the API).
    priority: bool,
    budget: Arc<FdBudget>,
    peers: Mutex<HashMap<IpAddr, usize>>,
    open: AtomicUsize,
    accepted: AtomicU64,
    dropped: AtomicU64,
    refused: [AtomicU64; 3],
    timed_out: [AtomicU64; 3],
    refusals: Mutex<BTreeMap<u16, u64>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gate {
    /// The listener's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its limits now.
    pub fn limits(&self) -> Limits {
        *lock(&self.limits)
    }

    /// Admits a connection from `peer`, or counts why not. The connection
    /// counts as open until the [`Admission`] is dropped.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admission, Refusal> {
        let limits = self.limits();
        let refusal = {
            let mut peers = lock(&self.peers);
            let from_peer = peers.get(&peer).copied().unwrap_or(0);
            let budget = &self.budget;
            let ceiling = if self.priority { budget.limit } else { budget.limit.saturating_sub(budget.reserve) };
            if self.open.load(Ordering::Relaxed) >= limits.max_connections {
                Some(Refusal::Listener)
            } else if from_peer >= limits.max_per_peer {
                Some(Refusal::Peer)
            } else if budget.open.load(Ordering::Relaxed) >= ceiling {
                Some(Refusal::FileDescriptors)
            } else {
                *peers.entry(peer).or_default() += 1;
                self.open.fetch_add(1, Ordering::Relaxed);
                budget.open.fetch_add(1, Ordering::Relaxed);
                None
            }
        };
        match refusal {
            Some(refusal) => {
                self.refused[refusal as usize].fetch_add(1, Ordering::Relaxed);
                Err(refusal)
            }
            None => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(Admission { gate: self.clone(), peer })
            }
        }
    }

    /// Counts a connection closed because `what` ran out.
    pub fn timed_out(&self, what: Timeout) {
        self.timed_out[what as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an answer of `status` (only 400 and above are counted).
    pub fn answered(&self, status: u16) {
        if status >= 400 {
            *lock(&self.refusals).entry(status).or_default() += 1;
        }
    }

    /// Counts a connection the HTTP parser gave up on without an answer.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Its counters now.
    pub fn stats(&self) -> GateStats {
        let read = |counters: &[AtomicU64; 3], names: [&'static str; 3]| {
            names.into_iter().zip(counters).map(|(name, n)| (name, n.load(Ordering::Relaxed))).collect()
        };
        GateStats {
            open: self.open.load(Ordering::Relaxed) as u64,
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: read(
                &self.refused,
                [Refusal::Listener.as_str(), Refusal::Peer.as_str(), Refusal::FileDescriptors.as_str()],
            ),
            timed_out: read(
                &self.timed_out,
                [Timeout::Idle.as_str(), Timeout::Header.as_str(), Timeout::Body.as_str()],
            ),
            refusals: lock(&self.refusals).clone(),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// An admitted connection; dropping it closes its place.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<Gate>,
    peer: IpAddr,
}

impl Admission {
    /// The listener's gate.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut peers = lock(&self.gate.peers);
        if let Some(n) = peers.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                peers.remove(&self.peer);
            }
        }
        self.gate.open.fetch_sub(1, Ordering::Relaxed);
        self.gate.budget.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The gates of every listener, by name, sharing one [`FdBudget`]. A gate
/// outlives a listener's reload, so its counters run from the start.
#[derive(Debug)]
pub struct Gates {
    budget: Arc<FdBudget>,
    gates: Mutex<BTreeMap<String, Arc<Gate>>>,
}

impl Gates {
    /// No gate yet, drawing on `budget`.
    pub fn new(budget: Arc<FdBudget>) -> Arc<Gates> {
        Arc::new(Gates { budget, gates: Mutex::default() })
    }

    /// Gates for tests and tools: a budget no listener reaches.
    pub fn unlimited() -> Arc<Gates> {
        Gates::new(FdBudget::new(usize::MAX, 0))
    }

    /// The gate of listener `name` with `limits` (made, or updated to them);
    /// a `priority` gate may draw on the descriptor reserve.
    pub fn gate(&self, name: &str, limits: Limits, priority: bool) -> Arc<Gate> {
        let mut gates = lock(&self.gates);
        let gate = gates.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(Gate {
                name: name.to_owned(),
                limits: Mutex::new(limits),
                priority,
                budget: self.budget.clone(),
                peers: Mutex::default(),
                open: AtomicUsize::new(0),
                accepted: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                refused: Default::default(),
                timed_out: Default::default(),
                refusals: Mutex::default(),
            })
        });
        *lock(&gate.limits) = limits;
        gate.clone()
    }

    /// Every listener's counters, by name.
    pub fn stats(&self) -> BTreeMap<String, GateStats> {
        lock(&self.gates).iter().map(|(name, gate)| (name.clone(), gate.stats())).collect()
    }

    /// The shared descriptor budget.
    pub fn budget(&self) -> &FdBudget {
        &self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits { max_connections: 3, max_per_peer: 2, ..Limits::INGEST };

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn listener_and_peer_limits_refuse_and_count_and_a_closed_connection_frees_its_place() {
        let gates = Gates::unlimited();
        let gate = gates.gate("tcp-in", SMALL, false);
        let a1 = gate.admit(ip(1)).expect("first");
        let _a2 = gate.admit(ip(1)).expect("second");
        assert_eq!(gate.admit(ip(1)).unwrap_err(), Refusal::Peer);
        let _b1 = gate.admit(ip(2)).expect("another peer");
        assert_eq!(gate.admit(ip(3)).unwrap_err(), Refusal::Listener);
        drop(a1);
        let _a3 = gate.admit(ip(1)).expect("a place came free");
        let stats = gates.stats()["tcp-in"].clone();
        assert_eq!((stats.open, stats.accepted), (3, 4));
        assert_eq!((stats.refused["max_per_peer"], stats.refused["max_connections"]), (1, 1));
        assert_eq!(gates.budget().open(), 3);
    }

    #[test]
    fn only_priority_listeners_draw_on_the_descriptor_reserve() {
        let gates = Gates::new(FdBudget::new(4, 2));
        let ingest = gates.gate("http-in", Limits::INGEST, false);
        let api = gates.gate("api", Limits::API, true);
        let _held: Vec<Admission> = (0..2).map(|i| ingest.admit(ip(i)).expect("under the reserve")).collect();
        assert_eq!(ingest.admit(ip(9)).unwrap_err(), Refusal::FileDescriptors);
        let _api: Vec<Admission> = (0..2).map(|i| api.admit(ip(i)).expect("from the reserve")).collect();
        assert_eq!(api.admit(ip(9)).unwrap_err(), Refusal::FileDescriptors);
        assert_eq!(gates.stats()["http-in"].refused["fd_reserve"], 1);
    }

    #[test]
    fn a_gate_keeps_its_counters_when_its_listener_is_remade() {
        let gates = Gates::unlimited();
        gates.gate("x", SMALL, false).answered(413);
        gates.gate("x", SMALL, false).answered(200);
        let gate = gates.gate("x", Limits { max_connections: 1, ..SMALL }, false);
        assert_eq!(gate.limits().max_connections, 1);
        gate.timed_out(Timeout::Body);
        let stats = &gates.stats()["x"];
        assert_eq!(stats.refusals, BTreeMap::from([(413, 1)]));
        assert_eq!(stats.timed_out["body"], 1);
    }
}

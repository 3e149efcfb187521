//! A client's bounded send queue (the dissertation's rule): packets are
//! appended while the queue holds fewer than `L`; past that, a packet of a
//! signal that already has one queued replaces it in place instead of being
//! appended. A signal then occupies at most one place beyond the first `L`,
//! so the queue never holds more than `L + M` packets (`M`: the client's
//! distinct signals), queueing delay stays bounded, and the newest value of
//! every signal is always delivered. The signal's queued packet is found by
//! a direct table indexed by the client's signal number, not by a search.

use std::collections::VecDeque;

/// A client's number for one of its signals: an index into its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(pub u32);

/// What [`SendQueue::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Appended at the back.
    Appended,
    /// It replaced the queued packet of its signal (coalesced).
    Replaced,
}

/// The bounded, coalescing queue of one client.
#[derive(Debug)]
pub struct SendQueue<P> {
    limit: usize,
    packets: VecDeque<(Signal, P)>,
    /// The direct table: by signal number, the absolute position of its
    /// newest queued packet, or `None`.
    newest: Vec<Option<u64>>,
    /// Absolute position of `packets[0]`.
    head: u64,
    replaced: u64,
}

impl<P> SendQueue<P> {
    /// A queue coalescing past `limit` packets (`L`, at least 1).
    pub fn new(limit: usize) -> SendQueue<P> {
        SendQueue { limit: limit.max(1), packets: VecDeque::new(), newest: Vec::new(), head: 0, replaced: 0 }
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Packets replaced by a newer one of their signal so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Whether a packet of `signal` is queued.
    pub fn holds(&self, signal: Signal) -> bool {
        self.newest.get(signal.0 as usize).is_some_and(Option::is_some)
    }

    /// Queues `packet` of `signal` by the rule above.
    pub fn push(&mut self, signal: Signal, packet: P) -> Pushed {
        let index = signal.0 as usize;
        if index >= self.newest.len() {
            self.newest.resize(index + 1, None);
        }
        if self.packets.len() >= self.limit
            && let Some(at) = self.newest[index]
        {
            let offset = usize::try_from(at - self.head).unwrap_or(usize::MAX);
            if let Some(slot) = self.packets.get_mut(offset) {
                slot.1 = packet;
                self.replaced += 1;
                return Pushed::Replaced;
            }
        }
        self.newest[index] = Some(self.head + self.packets.len() as u64);
        self.packets.push_back((signal, packet));
        Pushed::Appended
    }

    /// The oldest packet, removed.
    pub fn pop(&mut self) -> Option<(Signal, P)> {
        let (signal, packet) = self.packets.pop_front()?;
        if let Some(slot) = self.newest.get_mut(signal.0 as usize)
            && *slot == Some(self.head)
        {
            *slot = None;
        }
        self.head += 1;
        Some((signal, packet))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn below_the_limit_everything_is_appended_in_order() {
        let mut q = SendQueue::new(4);
        for (i, s) in [0, 1, 0, 1].into_iter().enumerate() {
            assert_eq!(q.push(Signal(s), i), Pushed::Appended);
        }
        // Full: signal 0 replaces its newest packet (3rd), signal 2 is new.
        assert_eq!(q.push(Signal(0), 10), Pushed::Replaced);
        assert_eq!(q.push(Signal(2), 11), Pushed::Appended);
        assert_eq!(q.push(Signal(2), 12), Pushed::Replaced);
        let drained: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(s, p)| (s.0, p)).collect();
        assert_eq!(drained, [(0, 0), (1, 1), (0, 10), (1, 3), (2, 12)]);
        assert_eq!(q.replaced(), 2);
        assert!(!q.holds(Signal(0)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32),
        Pop,
    }

    fn ops() -> impl Strategy<Value = (usize, u32, Vec<Op>)> {
        (1usize..12, 1u32..20).prop_flat_map(|(limit, signals)| {
            let op = prop_oneof![3 => (0..signals).prop_map(Op::Push), 1 => Just(Op::Pop)];
            (Just(limit), Just(signals), proptest::collection::vec(op, 0..400))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(0x6d65_7465), ..ProptestConfig::default() })]

        /// Never more than L + M queued; each signal's packets leave in the
        /// order they came, skipping only replaced ones; the newest packet
        /// of every signal is delivered.
        #[test]
        fn bounded_by_l_plus_m_and_the_newest_of_each_signal_arrives((limit, signals, ops) in ops()) {
            let mut q = SendQueue::new(limit);
            let mut next = 0u64;
            let mut newest_pushed: HashMap<u32, u64> = HashMap::new();
            let mut last_delivered: HashMap<u32, u64> = HashMap::new();
            let deliver = |signal: Signal, packet: u64, last: &mut HashMap<u32, u64>| {
                if let Some(previous) = last.insert(signal.0, packet) {
                    prop_assert!(previous < packet, "signal {} delivered {packet} after {previous}", signal.0);
                }
                Ok(())
            };
            for op in ops {
                match op {
                    Op::Push(s) => {
                        q.push(Signal(s), next);
                        newest_pushed.insert(s, next);
                        next += 1;
                    }
                    Op::Pop => {
                        if let Some((signal, packet)) = q.pop() {
                            deliver(signal, packet, &mut last_delivered)?;
                        }
                    }
                }
                prop_assert!(q.len() <= limit + signals as usize, "{} > {limit} + {signals}", q.len());
            }
            while let Some((signal, packet)) = q.pop() {
                deliver(signal, packet, &mut last_delivered)?;
            }
            prop_assert_eq!(last_delivered, newest_pushed);
        }
    }
}

//! Where the misbehaviours go: each kind is put on that many distinct
//! pushes (slots: meter × push), picked by the seed alone, so a re-run
//! misbehaves at the same pushes. At a slot, in this order:
//!
//! 1. torn: the push's frame is cut in half, written, and the connection
//!    hung up; the push then goes whole on a new connection;
//! 2. wrong key: an extra push sealed with other keys (the next invocation
//!    counter) goes first;
//! 3. the push itself;
//! 4. bad tag: an extra frame, the push's data-notification with tag 0x55
//!    (bare, whatever the security);
//! 5. replay: the connection is hung up and the push's frame, byte for byte
//!    (the same invocation counter), sent again on a new one.

use std::collections::HashMap;

use super::options::Options;
use crate::lns::devices::mix;

/// The misbehaviours at one push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct At {
    /// Hang up in the middle of the frame first.
    pub torn: bool,
    /// An extra push under wrong keys first.
    pub wrong_key: bool,
    /// An extra frame with an unknown APDU tag after.
    pub bad_tag: bool,
    /// The push again, on a new connection, after.
    pub replay: bool,
}

/// Sets one kind of misbehaviour at a push.
type Mark = fn(&mut At);

/// The misbehaviours of a run, by slot (`meter * pushes + push`).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pushes: u64,
    slots: HashMap<u64, At>,
}

/// `n` distinct numbers below `total`, picked by `seed` (Floyd's
/// algorithm: `n` draws, whatever `total`). `n` is at most `total`.
fn pick(n: u64, total: u64, seed: u64) -> Vec<u64> {
    let mut chosen: Vec<u64> = Vec::new();
    let mut set = std::collections::HashSet::new();
    for j in total - n.min(total)..total {
        let r = mix(seed ^ mix(j)) % (j + 1);
        let v = if set.insert(r) { r } else { j };
        set.insert(v);
        chosen.push(v);
    }
    chosen
}

impl Faults {
    /// The misbehaviours `options` ask for (its checks passed).
    pub fn plan(options: &Options) -> Faults {
        let total = options.planned_pushes();
        let m = &options.misbehaviour;
        let mut slots: HashMap<u64, At> = HashMap::new();
        let kinds: [(u64, u64, Mark); 4] = [
            (m.torn.of(total), 0x746f_726e, |a| a.torn = true),
            (m.wrong_key.of(total), 0x6b65_7973, |a| a.wrong_key = true),
            (m.bad_tag.of(total), 0x7461_6773, |a| a.bad_tag = true),
            (m.replay.of(total), 0x7265_706c, |a| a.replay = true),
        ];
        for (n, salt, set) in kinds {
            for slot in pick(n, total, mix(options.seed ^ salt)) {
                set(slots.entry(slot).or_default());
            }
        }
        Faults { pushes: options.pushes, slots }
    }

    /// The misbehaviours at push `push` of meter `meter`.
    pub fn at(&self, meter: u32, push: u64) -> At {
        let slot = u64::from(meter) * self.pushes + push;
        self.slots.get(&slot).copied().unwrap_or_default()
    }

    /// How many slots have each kind: torn, wrong key, bad tag, replay.
    pub fn counts(&self) -> [u64; 4] {
        let count = |f: fn(&At) -> bool| self.slots.values().filter(|a| f(a)).count() as u64;
        [count(|a| a.torn), count(|a| a.wrong_key), count(|a| a.bad_tag), count(|a| a.replay)]
    }
}

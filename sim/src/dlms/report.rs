//! What the emulator did: [`Stats`] counts while it runs (shared by the
//! meters' tasks); [`Report`] is the final account, printed as one JSON
//! line, with the readings the good pushes must give so a test can compare
//! it with the host's archive, and what the meters did with the requests
//! clients sent them (associations, SETs, releases).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::server::Handled;

/// The final account (one JSON line on stdout from `meterhub sim dlms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `done` when every meter finished (all its pushes written, or gave
    /// up), `stopped` when a signal (or the caller) stopped it first.
    pub dlms_sim: String,
    /// The address connected to.
    pub target: String,
    /// `wrapper` or `hdlc`.
    pub framing: String,
    /// `plain`, `glo-clear` or `ciphered`.
    pub security: String,
    /// Meters simulated.
    pub meters: u32,
    /// The first meter's system title, 16 upper-case hex digits.
    pub first_title: String,
    /// The last meter's system title.
    pub last_title: String,
    /// Pushes planned (meters × pushes per meter).
    pub planned_pushes: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Good pushes written whole (misbehaviours not counted).
    pub pushes: u64,
    /// Connections hung up in the middle of a frame.
    pub torn: u64,
    /// Frames with an unknown APDU tag written.
    pub bad_tag: u64,
    /// Pushes written again on a new connection.
    pub replayed: u64,
    /// Pushes sealed with wrong keys written.
    pub wrong_key: u64,
    /// Every frame written whole (pushes, misbehaviours and answers to
    /// requests).
    pub frames: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Readings one push gives (its registers, by the `spodes-daily` layout).
    pub readings_per_push: u64,
    /// Readings the good pushes must give: `pushes × readings_per_push`
    /// (replays are the same readings again; torn, bad-tag and wrong-key
    /// frames give none). Plain pushes give them only where the codec
    /// learns the sender: the rbgu driver names no system title for a bare
    /// data-notification, so use `glo-clear` or `ciphered` with it.
    pub expected_readings: u64,
    /// The first push's time, RFC 3339 UTC.
    pub first_push_time: String,
    /// The last planned push's time, RFC 3339 UTC (as planned: a client
    /// that sets a meter's clock or push schedule moves that meter's).
    pub last_push_time: String,
    /// Connections open while held (`--hold`), when holding began.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub held: Option<u64>,
    /// Of those, connections the peer closed while held.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub held_closed_by_peer: Option<u64>,
    /// AARQs accepted (associations opened).
    pub associations_accepted: u64,
    /// Well-formed AARQs refused (a wrong or missing password, another
    /// mechanism or application context, an InitiateRequest refused).
    pub associations_refused: u64,
    /// SETs of the clock applied.
    pub sets_clock: u64,
    /// SETs of the push schedule applied.
    pub sets_push_schedule: u64,
    /// SETs refused (no association, another object, a wrong type, a
    /// schedule the spec does not allow).
    pub sets_refused: u64,
    /// GETs answered (whatever their result).
    pub gets: u64,
    /// RLRQs answered.
    pub releases: u64,
    /// Requests the meters could not read or do not serve: malformed
    /// AARQs (answered with diagnostic 1), other or cut-short APDUs
    /// (answered with an exception-response), frames for another wPort or
    /// of another wrapper version (dropped).
    pub unreadable_requests: u64,
    /// Meters that gave up (could not connect or write for the connect
    /// timeout); their remaining pushes were not written.
    pub failed_meters: u64,
    /// Failed connects and writes, in all.
    pub errors: u64,
    /// Failed connects and writes by reason (`connect 127.0.0.1:7010:
    /// Connection refused (os error 111)`).
    pub error_reasons: BTreeMap<String, u64>,
    /// The open-file limit the run was checked against, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub open_files_limit: Option<u64>,
    /// Wall time of the run, ms (until the last push, not the hold).
    pub elapsed_ms: u64,
}

impl Report {
    /// Whether every planned push was written.
    pub fn complete(&self) -> bool {
        self.pushes == self.planned_pushes
    }
}

/// What the report says that the counters do not know.
#[derive(Debug, Clone)]
pub struct Head {
    /// See [`Report::dlms_sim`].
    pub dlms_sim: &'static str,
    /// See [`Report::target`].
    pub target: String,
    /// See [`Report::framing`].
    pub framing: &'static str,
    /// See [`Report::security`].
    pub security: &'static str,
    /// See [`Report::meters`].
    pub meters: u32,
    /// See [`Report::first_title`].
    pub first_title: String,
    /// See [`Report::last_title`].
    pub last_title: String,
    /// See [`Report::planned_pushes`].
    pub planned_pushes: u64,
    /// See [`Report::first_push_time`].
    pub first_push_time: String,
    /// See [`Report::last_push_time`].
    pub last_push_time: String,
    /// Whether the run held its connections.
    pub hold: bool,
    /// See [`Report::open_files_limit`].
    pub open_files_limit: Option<u64>,
}

/// The counters while running.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    connections: AtomicU64,
    pushes: AtomicU64,
    torn: AtomicU64,
    bad_tag: AtomicU64,
    replayed: AtomicU64,
    wrong_key: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    finished: AtomicU64,
    failed_meters: AtomicU64,
    holding: AtomicU64,
    held_closed: AtomicU64,
    requests: Requests,
    errors: Mutex<BTreeMap<String, u64>>,
    elapsed_ms: AtomicU64,
    changed: Notify,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            connections: AtomicU64::new(0),
            pushes: AtomicU64::new(0),
            torn: AtomicU64::new(0),
            bad_tag: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            wrong_key: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            failed_meters: AtomicU64::new(0),
            holding: AtomicU64::new(0),
            held_closed: AtomicU64::new(0),
            requests: Requests::default(),
            errors: Mutex::default(),
            elapsed_ms: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }
}

/// What the meters did with requests, by [`Handled`].
#[derive(Debug, Default)]
struct Requests {
    associations_accepted: AtomicU64,
    associations_refused: AtomicU64,
    sets_clock: AtomicU64,
    sets_push_schedule: AtomicU64,
    sets_refused: AtomicU64,
    gets: AtomicU64,
    releases: AtomicU64,
    unreadable: AtomicU64,
}

impl Requests {
    fn counter(&self, handled: Handled) -> &AtomicU64 {
        match handled {
            Handled::AssociationAccepted => &self.associations_accepted,
            Handled::AssociationRefused => &self.associations_refused,
            Handled::ClockSet => &self.sets_clock,
            Handled::PushScheduleSet => &self.sets_push_schedule,
            Handled::SetRefused => &self.sets_refused,
            Handled::Get => &self.gets,
            Handled::Released => &self.releases,
            Handled::Unreadable => &self.unreadable,
        }
    }

    /// Requests handled in all.
    fn total(&self) -> u64 {
        let all = [
            &self.associations_accepted,
            &self.associations_refused,
            &self.sets_clock,
            &self.sets_push_schedule,
            &self.sets_refused,
            &self.gets,
            &self.releases,
            &self.unreadable,
        ];
        all.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// What a frame written was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A good push.
    Push,
    /// The first half of a frame, then a hang-up.
    Torn,
    /// A frame with an unknown APDU tag.
    BadTag,
    /// A push again.
    Replay,
    /// A push under wrong keys.
    WrongKey,
    /// An answer to a request (counted by [`Stats::request`]).
    Answer,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Stats {
    /// A connection was opened.
    pub fn connected(&self) {
        add(&self.connections, 1);
    }

    /// `bytes` of `what` were written.
    pub fn written(&self, what: Written, bytes: usize) {
        add(&self.bytes, bytes as u64);
        let counter = match what {
            Written::Push => &self.pushes,
            Written::Torn => &self.torn,
            Written::BadTag => &self.bad_tag,
            Written::Replay => &self.replayed,
            Written::WrongKey => &self.wrong_key,
            Written::Answer => {
                add(&self.frames, 1);
                return;
            }
        };
        add(counter, 1);
        if what != Written::Torn {
            add(&self.frames, 1);
        }
    }

    /// A meter handled a request (see [`Handled`]).
    pub fn request(&self, handled: Handled) {
        add(self.requests.counter(handled), 1);
    }

    /// How many requests of the kind `handled` the meters handled so far.
    pub fn requests(&self, handled: Handled) -> u64 {
        self.requests.counter(handled).load(Ordering::Relaxed)
    }

    /// A connect or a write failed for `reason`.
    pub fn error(&self, reason: String) {
        *self.errors.lock().unwrap_or_else(PoisonError::into_inner).entry(reason).or_default() += 1;
    }

    /// A meter is done pushing; `gave_up` when it could not go on, `held`
    /// when it keeps its connection open.
    pub fn meter_finished(&self, gave_up: bool, held: bool) {
        if gave_up {
            add(&self.failed_meters, 1);
        }
        if held {
            add(&self.holding, 1);
        }
        add(&self.finished, 1);
        self.changed.notify_waiters();
    }

    /// A held connection was closed by the peer.
    pub fn held_closed(&self) {
        add(&self.held_closed, 1);
    }

    /// Meters done pushing so far.
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// Wait until `meters` meters are done pushing.
    pub async fn wait_finished(&self, meters: u64) {
        loop {
            let changed = self.changed.notified();
            if self.finished() >= meters {
                return;
            }
            changed.await;
        }
    }

    /// Good pushes written so far.
    pub fn pushes(&self) -> u64 {
        self.pushes.load(Ordering::Relaxed)
    }

    /// Connections opened so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections held open, and of those closed by the peer, so far.
    pub fn holding(&self) -> (u64, u64) {
        (self.holding.load(Ordering::Relaxed), self.held_closed.load(Ordering::Relaxed))
    }

    /// Note the run's wall time now (the end of pushing).
    pub fn mark_elapsed(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.elapsed_ms.store(ms, Ordering::Relaxed);
    }

    /// A progress line for stderr.
    pub fn progress(&self, meters: u64) -> String {
        let errors: u64 = self.errors.lock().unwrap_or_else(PoisonError::into_inner).values().sum();
        let requests = match self.requests.total() {
            0 => String::new(),
            n => format!(", {n} requests answered"),
        };
        format!(
            "dlms-sim: {} of {meters} meters done, {} pushes on {} connections{requests}, {errors} errors",
            self.finished(),
            self.pushes(),
            self.connections()
        )
    }

    /// The final account; `head` gives what the counters do not know.
    pub fn report(&self, head: Head, readings_per_push: u64) -> Report {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let error_reasons = self.errors.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let pushes = get(&self.pushes);
        let mut elapsed_ms = get(&self.elapsed_ms);
        if elapsed_ms == 0 {
            elapsed_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        }
        Report {
            dlms_sim: head.dlms_sim.to_owned(),
            target: head.target,
            framing: head.framing.to_owned(),
            security: head.security.to_owned(),
            meters: head.meters,
            first_title: head.first_title,
            last_title: head.last_title,
            planned_pushes: head.planned_pushes,
            connections: get(&self.connections),
            pushes,
            torn: get(&self.torn),
            bad_tag: get(&self.bad_tag),
            replayed: get(&self.replayed),
            wrong_key: get(&self.wrong_key),
            frames: get(&self.frames),
            bytes: get(&self.bytes),
            readings_per_push,
            expected_readings: pushes * readings_per_push,
            first_push_time: head.first_push_time,
            last_push_time: head.last_push_time,
            held: head.hold.then(|| get(&self.holding)),
            held_closed_by_peer: head.hold.then(|| get(&self.held_closed)),
            associations_accepted: get(&self.requests.associations_accepted),
            associations_refused: get(&self.requests.associations_refused),
            sets_clock: get(&self.requests.sets_clock),
            sets_push_schedule: get(&self.requests.sets_push_schedule),
            sets_refused: get(&self.requests.sets_refused),
            gets: get(&self.requests.gets),
            releases: get(&self.requests.releases),
            unreadable_requests: get(&self.requests.unreadable),
            failed_meters: get(&self.failed_meters),
            errors: error_reasons.values().sum(),
            error_reasons,
            open_files_limit: head.open_files_limit,
            elapsed_ms,
        }
    }
}

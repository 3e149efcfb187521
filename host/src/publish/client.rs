//! One open stream as the hub sees it: who it is for, what it selected, and
//! its bounded send queue. The hub pushes into it; the stream's connection
//! drains it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::event::ReadingEvent;
use super::queue::{Pushed, SendQueue, Signal};
use super::selection::Selection;
use crate::auth::{MeterPath, Principal};

/// The signal number of control frames; readings' signals start at 1.
const CONTROL: Signal = Signal(0);

/// A packet in a client's queue.
#[derive(Debug, Clone)]
pub enum Packet {
    /// A reading.
    Reading(Arc<ReadingEvent>),
    /// A control frame echoing the client's `Ts`.
    Control(i64),
    /// An alarm as it is now (JSON), rendered once for every stream.
    Alarm(Arc<String>),
}

/// What a drain found.
#[derive(Debug, Default)]
pub struct Drained {
    /// Packets, in queue order.
    pub packets: Vec<Packet>,
    /// The highest reading sequence number pushed so far: with the queue
    /// now empty, every selected reading up to it was delivered or
    /// superseded.
    pub pushed_through: u64,
    /// Why the stream must close, once.
    pub closed: Option<String>,
}

/// Why [`Client::request_control`] did not queue a control frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlRefused {
    /// One is queued already.
    Pending,
    /// The stream is closing.
    Closed,
}

#[derive(Debug)]
struct Outbox {
    queue: SendQueue<Packet>,
    /// The direct table's numbering: signal (`device` NUL `channel`) ->
    /// this client's signal number.
    signals: HashMap<String, Signal>,
    pushed_through: u64,
    /// Readings up to this are not this queue's (replayed or in the
    /// snapshot).
    from: u64,
    closing: Option<String>,
    close_told: bool,
}

/// An open stream.
#[derive(Debug)]
pub struct Client {
    /// The hub's number for it.
    pub id: u64,
    /// The id the client names in control requests.
    pub stream: String,
    /// The session that opened it (none for the local admin token).
    pub session: Option<String>,
    /// What it selected.
    pub selection: Selection,
    principal: Mutex<Principal>,
    outbox: Mutex<Outbox>,
    wake: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// A stream of `principal` selecting `selection`, queueing up to
    /// `limit` packets before coalescing; readings up to `pushed_through`
    /// are not its business.
    pub fn new(id: u64, principal: Principal, selection: Selection, limit: usize, pushed_through: u64) -> Client {
        Client {
            id,
            stream: format!("s-{}", crate::auth::token::random_token()),
            session: principal.session_id().map(str::to_owned),
            selection,
            principal: Mutex::new(principal),
            outbox: Mutex::new(Outbox {
                queue: SendQueue::new(limit),
                signals: HashMap::new(),
                pushed_through,
                from: pushed_through,
                closing: None,
                close_told: false,
            }),
            wake: Notify::new(),
        }
    }

    /// The user it acts for.
    pub fn user(&self) -> String {
        lock(&self.principal).user.clone()
    }

    /// Its current rights.
    pub fn principal(&self) -> Principal {
        lock(&self.principal).clone()
    }

    /// New rights: readings from now on are filtered by them.
    pub fn set_principal(&self, principal: Principal) {
        *lock(&self.principal) = principal;
    }

    /// Whether it wants the reading of `device`'s `channel`, the meter at
    /// `path`, and may see it.
    pub fn wants(&self, device: &str, channel: &str, path: &MeterPath) -> bool {
        self.selection.wants(device, channel, path) && lock(&self.principal).may_see(path)
    }

    /// Queues `event` (the caller checked [`Client::wants`]): what the
    /// queue did, `None` when the stream is closing or the reading is the
    /// replay's.
    pub fn push(&self, event: &Arc<ReadingEvent>) -> Option<Pushed> {
        let pushed = {
            let mut outbox = lock(&self.outbox);
            if outbox.closing.is_some() || event.seq <= outbox.from {
                return None;
            }
            let next = Signal(outbox.signals.len() as u32 + 1);
            let signal = match outbox.signals.get(event.signal.as_str()) {
                Some(signal) => *signal,
                None => *outbox.signals.entry(event.signal.clone()).or_insert(next),
            };
            let pushed = outbox.queue.push(signal, Packet::Reading(event.clone()));
            outbox.pushed_through = outbox.pushed_through.max(event.seq);
            pushed
        };
        self.wake.notify_one();
        Some(pushed)
    }

    /// Queues alarm `id` as it is now (the caller checked the user may see
    /// it); a change of it still queued is replaced in place.
    pub fn push_alarm(&self, id: u64, json: &Arc<String>) {
        {
            let mut outbox = lock(&self.outbox);
            if outbox.closing.is_some() {
                return;
            }
            let name = format!("\u{1}alarm\0{id}");
            let next = Signal(outbox.signals.len() as u32 + 1);
            let signal = *outbox.signals.entry(name).or_insert(next);
            outbox.queue.push(signal, Packet::Alarm(json.clone()));
        }
        self.wake.notify_one();
    }

    /// Queues a control frame behind the data, unless one is queued.
    pub fn request_control(&self, ts: i64) -> Result<(), ControlRefused> {
        {
            let mut outbox = lock(&self.outbox);
            if outbox.closing.is_some() {
                return Err(ControlRefused::Closed);
            }
            if outbox.queue.holds(CONTROL) {
                return Err(ControlRefused::Pending);
            }
            outbox.queue.push(CONTROL, Packet::Control(ts));
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Ends the stream: what is queued is dropped, the connection says
    /// `reason` and closes.
    pub fn close(&self, reason: &str) {
        {
            let mut outbox = lock(&self.outbox);
            if outbox.closing.is_none() {
                outbox.closing = Some(reason.to_owned());
                while outbox.queue.pop().is_some() {}
            }
        }
        self.wake.notify_one();
    }

    /// Whether it was told to close.
    pub fn is_closing(&self) -> bool {
        lock(&self.outbox).closing.is_some()
    }

    /// Everything queued, taken.
    pub fn drain(&self) -> Drained {
        let mut outbox = lock(&self.outbox);
        let closed = match (&outbox.closing, outbox.close_told) {
            (Some(reason), false) => Some(reason.clone()),
            _ => None,
        };
        if closed.is_some() {
            outbox.close_told = true;
        }
        let packets = std::iter::from_fn(|| outbox.queue.pop()).map(|(_, p)| p).collect();
        Drained { packets, pushed_through: outbox.pushed_through, closed }
    }

    /// Packets queued now, and replaced so far.
    pub fn queue_stats(&self) -> (usize, u64) {
        let outbox = lock(&self.outbox);
        (outbox.queue.len(), outbox.queue.replaced())
    }

    /// Waits until something may have been queued or the stream closes.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::GrantPattern;
    use meterhub_plugin_api::{Decimal, Reading, ReadingKind};
    use meterhub_storage::archive::StoredReading;

    fn event(seq: u64, device: &str) -> Arc<ReadingEvent> {
        Arc::new(ReadingEvent::of(
            &StoredReading {
                seq,
                frame_seq: seq,
                source: "tcp".into(),
                reading: Reading {
                    device: device.into(),
                    channel: "volume".into(),
                    ts_ms: seq as i64,
                    value: Decimal::from(seq),
                    unit: "m3".into(),
                    kind: ReadingKind::Cumulative,
                },
                conflict: false,
                archived_at_ms: 0,
            },
            meterhub_storage::archive::DEVICE_CLOCK_TOLERANCE_MS,
        ))
    }

    fn client(limit: usize) -> Client {
        let selection = Selection::from_query(&[]).unwrap();
        Client::new(1, Principal::local_admin(), selection, limit, 0)
    }

    fn seqs(drained: &Drained) -> Vec<i64> {
        drained
            .packets
            .iter()
            .map(|p| match p {
                Packet::Reading(e) => e.seq as i64,
                Packet::Control(ts) => -ts,
                Packet::Alarm(_) => 0,
            })
            .collect()
    }

    #[test]
    fn control_frames_queue_behind_the_data_one_at_a_time() {
        let c = client(2);
        c.push(&event(1, "a"));
        c.push(&event(2, "b"));
        assert_eq!(c.request_control(100), Ok(()));
        assert_eq!(c.request_control(200), Err(ControlRefused::Pending));
        c.push(&event(3, "a"));
        c.push(&event(4, "b"));
        let drained = c.drain();
        // Past L = 2 the newer readings of a and b replaced theirs in place;
        // the control frame keeps its place behind the data of its time.
        assert_eq!(seqs(&drained), [3, 4, -100]);
        assert_eq!(drained.pushed_through, 4);
        assert_eq!(c.request_control(300), Ok(()), "answered: a new request is taken");
    }

    #[test]
    fn a_closed_client_says_why_once_and_takes_nothing_more() {
        let c = client(8);
        c.push(&event(1, "a"));
        c.close("logged out");
        c.push(&event(2, "a"));
        assert_eq!(c.request_control(1), Err(ControlRefused::Closed));
        let first = c.drain();
        assert!(first.packets.is_empty(), "what was queued is dropped");
        assert_eq!(first.closed.as_deref(), Some("logged out"));
        assert_eq!(c.drain().closed, None);
    }

    #[test]
    fn rights_filter_what_it_wants() {
        let c = client(8);
        let path = MeterPath { resource: Some("gas".into()), ..MeterPath::default() };
        assert!(c.wants("a", "volume", &path), "admin");
        let mut viewer = Principal::local_admin();
        viewer.role = crate::auth::Role::Viewer;
        viewer.grants = vec![GrantPattern::parse("heat").unwrap()];
        c.set_principal(viewer);
        assert!(!c.wants("a", "volume", &path));
    }
}

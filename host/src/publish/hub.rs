//! The hub: every open stream, and the one task that fans new readings out
//! to them and applies rights changes.
//!
//! It follows the pipeline's bus (new readings, in sequence order). A
//! sequence number it did not see there (the bus lagged, or a redecode
//! archived readings) is read from the archive log, so no stream misses a
//! reading because the hub was slow.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast::{self, error::RecvError};

use super::client::Client;
use super::event::ReadingEvent;
use super::queue::Pushed;
use super::selection::Selection;
use crate::accounting::Accounting;
use crate::auth::{Auth, MeterPath, Principal, UserChange};
use meterhub_storage::archive::{Archive, ReadingBlock, StoredReading};

/// Readings read from the archive log per step when the hub catches up.
const CATCH_UP_BATCH: usize = 1024;
/// How often the sessions of open streams are checked for expiry (a
/// logout or revocation closes them at once, announced).
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Stream settings (`[web]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// `L` of each stream's send queue.
    pub queue_limit: usize,
    /// `Tc`, milliseconds.
    pub control_ms: u64,
    /// Most archived readings a reconnecting stream scans to replay.
    pub replay_limit: u64,
}

impl StreamSettings {
    /// The settings of `[web]`.
    pub fn of(web: &crate::config::WebConfig) -> StreamSettings {
        StreamSettings {
            queue_limit: web.stream_queue_limit as usize,
            control_ms: u64::from(web.stream_control_seconds) * 1000,
            replay_limit: u64::from(web.stream_replay_limit),
        }
    }
}

/// Why a subscription is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A named device the user may not see.
    Hidden(String),
}

#[derive(Debug, Default)]
struct Clients {
    all: HashMap<u64, Arc<Client>>,
    /// Clients selecting devices only, by device.
    by_device: HashMap<String, Vec<u64>>,
    /// Clients selecting subtrees (they look at every reading).
    trees: HashSet<u64>,
    /// Clients by stream id (control requests name it).
    by_stream: HashMap<String, u64>,
    /// The highest sequence number offered to the clients registered.
    fanned_through: u64,
    next_id: u64,
}

/// Every open stream.
pub struct Hub {
    archive: Arc<dyn Archive>,
    accounting: Arc<Accounting>,
    auth: Arc<Auth>,
    settings: StreamSettings,
    clients: Mutex<Clients>,
    /// Readings offered to the streams so far.
    pub readings: AtomicU64,
    /// Readings queued for a stream so far.
    pub pushed: AtomicU64,
    /// Of those, how many replaced a queued reading of their signal (a
    /// stream behind by more than `L`).
    pub coalesced: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub starting at the archive's log head.
    pub fn new(
        archive: Arc<dyn Archive>,
        accounting: Arc<Accounting>,
        auth: Arc<Auth>,
        settings: StreamSettings,
    ) -> Result<Hub, meterhub_storage::archive::ArchiveError> {
        let fanned_through = archive.log_head()?;
        Ok(Hub {
            archive,
            accounting,
            auth,
            settings,
            clients: Mutex::new(Clients { fanned_through, ..Clients::default() }),
            readings: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
        })
    }

    fn clients(&self) -> MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings.
    pub fn settings(&self) -> StreamSettings {
        self.settings
    }

    /// The archive.
    pub fn archive(&self) -> &Arc<dyn Archive> {
        &self.archive
    }

    /// Where `device` sits in the registry (just its id when the registry
    /// does not know it yet).
    pub fn path_of(&self, device: &str) -> MeterPath {
        self.accounting.meter_path(device)
    }

    /// Opens a stream of `principal` selecting `selection`: refused when it
    /// names a device the user may not see. Answers the client and the
    /// sequence number from which the hub pushes readings to it (readings
    /// up to it are the replay's or the snapshot's).
    pub fn subscribe(&self, principal: Principal, selection: Selection) -> Result<(Arc<Client>, u64), Refused> {
        if let Some(hidden) = selection.first_hidden(&principal, |d| self.path_of(d)) {
            return Err(Refused::Hidden(hidden.to_owned()));
        }
        let mut clients = self.clients();
        clients.next_id += 1;
        let id = clients.next_id;
        // Everything archived by now is the replay's or the snapshot's, even
        // what the hub has yet to fan out (the client skips those).
        let head = self.archive.log_head().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "streams: cannot read the archive log head");
            0
        });
        let from = clients.fanned_through.max(head);
        let client = Arc::new(Client::new(id, principal, selection, self.settings.queue_limit, from));
        if client.selection.has_trees() {
            clients.trees.insert(id);
        } else {
            for device in client.selection.devices() {
                clients.by_device.entry(device.to_owned()).or_default().push(id);
            }
        }
        clients.by_stream.insert(client.stream.clone(), id);
        clients.all.insert(id, client.clone());
        Ok((client, from))
    }

    /// Forgets a stream (its connection ended).
    pub fn unsubscribe(&self, client: &Client) {
        let mut clients = self.clients();
        clients.all.remove(&client.id);
        clients.trees.remove(&client.id);
        clients.by_stream.remove(&client.stream);
        for device in client.selection.devices() {
            if let Some(ids) = clients.by_device.get_mut(device) {
                ids.retain(|id| *id != client.id);
                if ids.is_empty() {
                    clients.by_device.remove(device);
                }
            }
        }
    }

    /// The open stream with id `stream`.
    pub fn stream(&self, stream: &str) -> Option<Arc<Client>> {
        let clients = self.clients();
        clients.by_stream.get(stream).and_then(|id| clients.all.get(id)).cloned()
    }

    /// Open streams.
    pub fn len(&self) -> usize {
        self.clients().all.len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offers `reading` to every stream that selected it and may see it.
    fn fan_out(&self, reading: &StoredReading) {
        if self.is_empty() {
            // Nobody to offer it to: no registry read, no rendering.
            let mut clients = self.clients();
            clients.fanned_through = clients.fanned_through.max(reading.seq);
            return;
        }
        let path = self.path_of(&reading.reading.device);
        let event = Arc::new(ReadingEvent::of(reading, self.archive.device_clock_tolerance_ms()));
        let mut clients = self.clients();
        let (mut pushed, mut coalesced) = (0, 0);
        let by_device = clients.by_device.get(&event.device).map(Vec::as_slice).unwrap_or_default();
        for id in by_device.iter().chain(clients.trees.iter()) {
            if let Some(client) = clients.all.get(id)
                && client.wants(&event.device, &event.channel, &path)
            {
                match client.push(&event) {
                    Some(Pushed::Appended) => pushed += 1,
                    Some(Pushed::Replaced) => (pushed, coalesced) = (pushed + 1, coalesced + 1),
                    None => {}
                }
            }
        }
        clients.fanned_through = clients.fanned_through.max(event.seq);
        drop(clients);
        self.readings.fetch_add(1, Ordering::Relaxed);
        self.pushed.fetch_add(pushed, Ordering::Relaxed);
        self.coalesced.fetch_add(coalesced, Ordering::Relaxed);
    }

    /// Offers alarm `id` as it is now (`json`) to every stream whose user
    /// `may_see` it, whatever the stream selected.
    pub fn push_alarm(&self, id: u64, json: Arc<String>, may_see: impl Fn(&Principal) -> bool) {
        let clients: Vec<Arc<Client>> = self.clients().all.values().cloned().collect();
        for client in clients {
            if may_see(&client.principal()) {
                client.push_alarm(id, &json);
            }
        }
    }

    fn fanned_through(&self) -> u64 {
        self.clients().fanned_through
    }

    /// Offers the archived readings after what was fanned out, up to
    /// `through` (the whole log when `None`), read from the archive.
    fn catch_up(&self, through: Option<u64>) {
        if self.is_empty() {
            // Nobody to offer them to (as in `fan_out`): move past them
            // without reading the log.
            match self.archive.log_head() {
                Ok(head) => {
                    let mut clients = self.clients();
                    clients.fanned_through = clients.fanned_through.max(head.min(through.unwrap_or(u64::MAX)));
                }
                Err(e) => tracing::error!(error = %e, "streams: cannot read the archive log's head"),
            }
            return;
        }
        loop {
            let after = self.fanned_through();
            if through.is_some_and(|t| after >= t) {
                return;
            }
            let entries = match self.archive.log_after(after, CATCH_UP_BATCH) {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::error!(error = %e, after, "streams: cannot read the archive log; readings may be missed");
                    return;
                }
            };
            let Some(last) = entries.last_seq() else { return };
            for entry in entries.iter() {
                match entry {
                    Ok(reading) if through.is_none_or(|t| reading.seq <= t) => self.fan_out(reading),
                    Ok(_) => return,
                    Err(unreadable) => {
                        tracing::warn!(seq = unreadable.seq, error = %unreadable.error, "streams: an archived reading cannot be read; not sent");
                    }
                }
            }
            let mut clients = self.clients();
            clients.fanned_through = clients.fanned_through.max(last.min(through.unwrap_or(u64::MAX)));
        }
    }

    /// Applies a change of users' rights or sessions to their streams.
    fn apply_change(&self, change: &UserChange) {
        let clients: Vec<Arc<Client>> = self.clients().all.values().cloned().collect();
        for client in clients {
            match change {
                UserChange::LoggedOut { session, .. } if client.session.as_deref() == Some(session) => {
                    client.close("logged out");
                }
                UserChange::SessionsRevoked { user } if client.session.is_some() && client.user() == *user => {
                    client.close("the user's sessions were ended");
                }
                UserChange::RightsChanged { user } if client.user() == *user => self.recheck(&client),
                _ => {}
            }
        }
    }

    /// Re-reads the rights of `client`'s user: the stream goes on with them,
    /// or closes when its user is gone or a named device is now hidden.
    fn recheck(&self, client: &Client) {
        let current = client.principal();
        match self.auth.principal_of(&current.user, current.credential.clone()) {
            Ok(Some(principal)) => match client.selection.first_hidden(&principal, |d| self.path_of(d)) {
                Some(hidden) => client.close(&format!("rights changed: {hidden} is no longer visible")),
                None => client.set_principal(principal),
            },
            Ok(None) => client.close("the user was disabled or removed"),
            Err(e) => {
                tracing::error!(user = %current.user, error = %e, "streams: cannot read the user's rights; closing");
                client.close("the user's rights cannot be read");
            }
        }
    }

    /// Closes the streams whose session has ended (expired, logged out).
    fn close_ended_sessions(&self) {
        let clients: Vec<Arc<Client>> = self.clients().all.values().cloned().collect();
        for client in clients {
            if let Some(session) = &client.session
                && !client.is_closing()
                && !self.auth.session_open(session)
            {
                client.close("the session has ended; log in again");
            }
        }
    }

    /// Rechecks every stream (rights changes were missed).
    fn recheck_all(&self) {
        self.close_ended_sessions();
        let clients: Vec<Arc<Client>> = self.clients().all.values().cloned().collect();
        for client in clients.iter().filter(|c| !c.is_closing()) {
            self.recheck(client);
        }
    }

    /// The hub's task: new readings from `bus`, rights changes from
    /// `changes`, until the bus closes.
    pub async fn run(
        self: Arc<Self>,
        mut bus: broadcast::Receiver<ReadingBlock>,
        mut changes: broadcast::Receiver<UserChange>,
    ) {
        let mut changes_open = true;
        let mut sessions = tokio::time::interval(SESSION_CHECK);
        sessions.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                _ = sessions.tick() => self.close_ended_sessions(),
                change = changes.recv(), if changes_open => match change {
                    Ok(change) => self.apply_change(&change),
                    Err(RecvError::Lagged(_)) => self.recheck_all(),
                    Err(RecvError::Closed) => changes_open = false,
                },
                block = bus.recv() => match block {
                    Ok(block) => {
                        for reading in block.iter() {
                            let seq = reading.seq;
                            if seq <= self.fanned_through() {
                                continue;
                            }
                            if seq > self.fanned_through() + 1 {
                                tokio::task::block_in_place(|| self.catch_up(Some(seq - 1)));
                            }
                            self.fan_out(reading);
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "streams: the hub fell behind the bus; reading the archive log");
                        tokio::task::block_in_place(|| self.catch_up(None));
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}

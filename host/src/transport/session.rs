//! The session engine: feed a driver its events, perform its actions.
//!
//! Commits go to the journal; the driver hears `committed` only with a
//! journal receipt. Outgoing bytes are held back until every commit the
//! session issued before them has completed, so no reply can acknowledge a
//! frame that is not yet durable, whatever the driver does.
//!
//! A driver that identifies the session's device gets the commands queued
//! for it ([`crate::commands`]); those it has not done when the session
//! ends go back to the queue.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use meterhub_plugin_api::{Action, CommitFailed, Committed, Event, Fetched, HttpResponse, RawFrame, Transport};
use tokio::time::Instant;

use super::DriverRuntime;
use super::fetch::Fetcher;
use meterhub_storage::journal::{Entry, Rejection};

/// Longest prefix of a rejected input the journal keeps.
pub const REJECTED_INPUT_KEEP_BYTES: usize = 4096;

/// A journal append in flight: its index, the event for the driver (a
/// commit's outcome), and why it failed, if it did.
type Pending = Pin<Box<dyn Future<Output = (u64, Option<Event>, Option<String>)> + Send>>;

/// A fetch in flight: its answer for the driver.
type Fetching = Pin<Box<dyn Future<Output = Event> + Send>>;

/// The state of one session, independent of its transport.
pub struct Session {
    rt: Arc<DriverRuntime>,
    /// Session id.
    pub id: u64,
    transport: Transport,
    peer: String,
    received_at_ms: i64,
    pending: FuturesUnordered<Pending>,
    /// Indices of journal appends not yet completed.
    outstanding: BTreeSet<u64>,
    next_index: u64,
    /// Outgoing bytes, each with the number of appends issued before it.
    outbox: VecDeque<(u64, Vec<u8>)>,
    response: Option<(u64, HttpResponse)>,
    timers: BTreeMap<u32, Instant>,
    closed: Option<String>,
    /// The first journal append (frame or rejection) that failed.
    failure: Option<String>,
    /// The upstream API, on the instance's fetch session only.
    fetcher: Option<Arc<Fetcher>>,
    /// Fetches under way; made at the first (most sessions never fetch,
    /// and an idle connection should cost little).
    fetches: Option<FuturesUnordered<Fetching>>,
    /// Events for the driver that its own actions caused (the commands
    /// answering an `Identify`), handed over after those actions.
    followups: VecDeque<Event>,
    /// The commands handed to this session and not done yet.
    handed: Vec<u64>,
}

impl Session {
    /// Open a session and hand the driver its `opened` event.
    pub fn open(rt: Arc<DriverRuntime>, transport: Transport, peer: String) -> Session {
        Session::start(rt, transport, peer, None)
    }

    /// Open the instance's fetch session, whose fetches `fetcher` makes.
    pub fn open_fetching(rt: Arc<DriverRuntime>, fetcher: Arc<Fetcher>) -> Session {
        let peer = fetcher.url().to_owned();
        Session::start(rt, Transport::Fetch, peer, Some(fetcher))
    }

    fn start(rt: Arc<DriverRuntime>, transport: Transport, peer: String, fetcher: Option<Arc<Fetcher>>) -> Session {
        let id = rt.new_session();
        let mut session = Session {
            rt,
            id,
            transport,
            peer: peer.clone(),
            received_at_ms: meterhub_storage::clock::now_ms(),
            pending: FuturesUnordered::new(),
            outstanding: BTreeSet::new(),
            next_index: 0,
            outbox: VecDeque::new(),
            response: None,
            timers: BTreeMap::new(),
            closed: None,
            failure: None,
            fetcher,
            fetches: None,
            followups: VecDeque::new(),
            handed: Vec::new(),
        };
        session.deliver(Event::Opened { transport, peer });
        session
    }

    /// The driver instance id.
    pub fn source(&self) -> &str {
        &self.rt.id
    }

    /// Bytes (or a message) from the peer.
    pub fn data(&mut self, bytes: Vec<u8>) {
        self.received_at_ms = meterhub_storage::clock::now_ms();
        self.deliver(Event::Data(bytes));
    }

    /// Hand the driver an event and perform what it answers.
    pub fn deliver(&mut self, event: Event) {
        let mut next = Some(event);
        while let Some(event) = next.take().or_else(|| self.followups.pop_front()) {
            if self.closed.is_some() {
                return;
            }
            let actions = self.rt.call(self.id, event);
            for action in actions {
                self.perform(action);
            }
        }
    }

    /// Record an input the host itself refused (e.g. an oversized body).
    pub fn reject_by_host(&mut self, reason: String, input: &[u8]) {
        // Debug only: a flood of refused inputs must not flood the log too;
        // each is journaled and listed by /api/v1/rejections.
        tracing::debug!(driver = %self.rt.id, session = self.id, peer = %self.peer, %reason, "input rejected by the host");
        self.append(Entry::Rejected(self.rejection(reason, input)), None);
    }

    fn rejection(&self, reason: String, input: &[u8]) -> Rejection {
        Rejection {
            source: self.rt.id.clone(),
            peer: self.peer.clone(),
            received_at_ms: self.received_at_ms,
            transport: self.transport,
            reason,
            input: input[..input.len().min(REJECTED_INPUT_KEEP_BYTES)].to_vec(),
        }
    }

    fn append(&mut self, entry: Entry, token: Option<u64>) {
        let index = self.next_index;
        self.next_index += 1;
        self.outstanding.insert(index);
        let journal = self.rt.journal.clone();
        self.pending.push(Box::pin(async move {
            let result = journal.append(entry).await;
            let failed = result.as_ref().err().map(ToString::to_string);
            let event = token.map(|token| match result {
                Ok(receipt) => Event::Committed(Committed { token, seq: receipt.seq() }),
                Err(e) => Event::CommitFailed(CommitFailed { token, reason: e.to_string() }),
            });
            (index, event, failed)
        }));
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Send(bytes) => self.outbox.push_back((self.next_index, bytes)),
            Action::Respond(response) => {
                if self.response.is_none() {
                    self.response = Some((self.next_index, response));
                }
            }
            Action::Commit(commit) => {
                let frame = RawFrame {
                    seq: 0,
                    source: self.rt.id.clone(),
                    peer: self.peer.clone(),
                    received_at_ms: self.received_at_ms,
                    transport: self.transport,
                    content_type: commit.frame.content_type,
                    meta: commit.frame.meta,
                    payload: commit.frame.payload,
                };
                self.append(Entry::Frame(frame), Some(commit.token));
            }
            Action::Reject { reason, input } => {
                tracing::debug!(driver = %self.rt.id, session = self.id, peer = %self.peer, %reason, "input rejected");
                self.append(Entry::Rejected(self.rejection(reason, &input)), None);
            }
            Action::Fetch(fetch) => {
                let id = fetch.id;
                let answer: Fetching = match &self.fetcher {
                    Some(fetcher) => {
                        let fetcher = fetcher.clone();
                        Box::pin(
                            async move { Event::Fetched(Fetched { id, response: fetcher.fetch(fetch.request).await }) },
                        )
                    }
                    None => {
                        let reason = format!(
                            "a {} session cannot fetch: only the fetch session of an instance with [drivers.{}.fetch] can",
                            self.transport.as_str(),
                            self.rt.id
                        );
                        Box::pin(std::future::ready(Event::Fetched(Fetched { id, response: Err(reason) })))
                    }
                };
                self.fetches.get_or_insert_with(FuturesUnordered::new).push(answer);
            }
            Action::SetTimer { id, after_ms } => {
                self.timers.insert(id, Instant::now() + Duration::from_millis(u64::from(after_ms)));
            }
            Action::Identify(device) => self.identify(&device),
            Action::CommandDone(done) => self.command_done(done),
            Action::Close(reason) => {
                tracing::debug!(driver = %self.rt.id, session = self.id, %reason, "driver closed the session");
                self.closed = Some(reason);
            }
        }
    }

    /// The session is with `device`: hand the driver its queued commands.
    fn identify(&mut self, device: &str) {
        let now = meterhub_storage::clock::now_ms();
        let commands = match self.rt.commands.hand_out(&self.rt.id, device, now) {
            Ok(commands) => commands,
            Err(e) => {
                tracing::error!(driver = %self.rt.id, device, error = %e, "cannot hand out the device's commands");
                Vec::new()
            }
        };
        if !commands.is_empty() {
            tracing::info!(driver = %self.rt.id, session = self.id, device, commands = commands.len(), "commands handed to the device's session");
        }
        self.handed.extend(commands.iter().map(|c| c.id));
        self.followups.push_back(Event::Commands(commands));
    }

    /// The driver says what became of a command of this session.
    fn command_done(&mut self, done: meterhub_plugin_api::CommandDone) {
        let Some(at) = self.handed.iter().position(|id| *id == done.id) else {
            tracing::warn!(driver = %self.rt.id, session = self.id, command = done.id, "the driver reported a command this session was not handed; ignored");
            return;
        };
        self.handed.swap_remove(at);
        let now = meterhub_storage::clock::now_ms();
        match self.rt.commands.done(&self.rt.id, done, now) {
            Ok(Some(record)) => {
                tracing::info!(driver = %self.rt.id, device = %record.device, command = record.id, name = %record.name, state = record.state.as_str(), "command done")
            }
            Ok(None) => {}
            Err(e) => tracing::error!(driver = %self.rt.id, error = %e, "cannot record a command's outcome"),
        }
    }

    /// The commands handed to this session and not done go back to the
    /// queue.
    fn give_back_commands(&mut self) {
        if self.handed.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.handed);
        let why = "the connection ended before the device answered";
        if let Err(e) = self.rt.commands.take_back(&ids, why, meterhub_storage::clock::now_ms()) {
            tracing::error!(driver = %self.rt.id, error = %e, "cannot queue the session's unanswered commands again");
        }
    }

    fn released(&self, issued_before: u64) -> bool {
        self.outstanding.first().is_none_or(|&oldest| oldest >= issued_before)
    }

    /// The next outgoing bytes whose commits are all durable.
    pub fn next_outgoing(&mut self) -> Option<Vec<u8>> {
        match self.outbox.front() {
            Some(&(issued_before, _)) if self.released(issued_before) => self.outbox.pop_front().map(|(_, b)| b),
            _ => None,
        }
    }

    /// The HTTP response, once the commits before it are durable.
    pub fn take_response(&mut self) -> Option<HttpResponse> {
        match &self.response {
            Some((issued_before, _)) if self.released(*issued_before) => self.response.take().map(|(_, r)| r),
            _ => None,
        }
    }

    /// How many journal appends (frames and rejections) the session issued.
    pub fn appends(&self) -> u64 {
        self.next_index
    }

    /// Why the first failed journal append failed, if one did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    fn settled(&mut self, index: u64, event: Option<Event>, failed: Option<String>) {
        self.outstanding.remove(&index);
        if let Some(reason) = failed {
            self.failure.get_or_insert(reason);
        }
        if let Some(event) = event {
            self.deliver(event);
        }
    }

    /// Whether the driver asked to close.
    pub fn close_reason(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    /// Journal appends not yet completed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether a commit, a fetch or a timer is outstanding.
    pub fn has_work(&self) -> bool {
        !self.pending.is_empty() || !self.timers.is_empty() || self.fetching()
    }

    /// Whether a fetch is under way.
    fn fetching(&self) -> bool {
        self.fetches.as_ref().is_some_and(|f| !f.is_empty())
    }

    /// Whether the transport may read more input.
    pub fn wants_input(&self) -> bool {
        self.closed.is_none() && self.pending.len() < self.rt.max_pending
    }

    /// Wait for the next completed commit, fetch or timer and hand it to
    /// the driver. Returns `false` when there is nothing to wait for.
    pub async fn progress(&mut self) -> bool {
        let next_timer = self.timers.iter().min_by_key(|(_, at)| **at).map(|(id, at)| (*id, *at));
        let fetching = self.fetching();
        if self.pending.is_empty() && next_timer.is_none() && !fetching {
            return false;
        }
        let timer = async {
            match next_timer {
                Some((id, at)) => {
                    tokio::time::sleep_until(at).await;
                    id
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some((index, event, failed)) = self.pending.next(), if !self.pending.is_empty() => {
                self.settled(index, event, failed);
            }
            Some(answer) = next_answer(&mut self.fetches), if fetching => {
                // What the answer brings arrived now.
                self.received_at_ms = meterhub_storage::clock::now_ms();
                self.deliver(answer);
            }
            id = timer => {
                self.timers.remove(&id);
                self.deliver(Event::Timer(id));
            }
        }
        true
    }

    /// Finish: wait for every outstanding append, then tell the driver;
    /// what it refuses at the end (a frame the peer tore off by leaving) is
    /// journaled too, its other actions are moot.
    pub async fn close(mut self) {
        while let Some((index, _, _)) = self.pending.next().await {
            self.outstanding.remove(&index);
        }
        if self.closed.is_none() {
            for action in self.rt.call(self.id, Event::Closed) {
                if let Action::Reject { reason, input } = action {
                    self.append(Entry::Rejected(self.rejection(reason, &input)), None);
                }
            }
            while let Some((index, _, _)) = self.pending.next().await {
                self.outstanding.remove(&index);
            }
        }
    }

    /// Wait for outstanding appends only (timers ignored), delivering their
    /// events; used when the peer has gone quiet but may still read replies.
    pub async fn settle(&mut self) -> bool {
        match self.pending.next().await {
            Some((index, event, failed)) => {
                self.settled(index, event, failed);
                true
            }
            None => false,
        }
    }
}

impl Drop for Session {
    /// However the session ends (closed, or its task stopped), its
    /// unanswered commands go back to the queue.
    fn drop(&mut self) {
        self.give_back_commands();
    }
}

/// The next answer of the fetches under way, if any.
async fn next_answer(fetches: &mut Option<FuturesUnordered<Fetching>>) -> Option<Event> {
    fetches.as_mut()?.next().await
}

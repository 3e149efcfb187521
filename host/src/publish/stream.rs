//! One connection's stream, whatever carries it (SSE or WebSocket): the
//! hello, then the replay from the client's last event id or the snapshot
//! of latest values, then the live bursts from its queue, until it closes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::client::{Client, Packet};
use super::event::{Burst, Frame, ReadingEvent};
use super::hub::{Hub, Refused};
use super::selection::Selection;
use crate::auth::{MeterPath, Principal};
use meterhub_storage::archive::StoredReading;

/// Archived readings read per replay burst.
const REPLAY_BATCH: usize = 512;
/// A burst without anything to send after this long: a keepalive.
pub const KEEPALIVE_AFTER: Duration = Duration::from_secs(15);

/// Where the stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Live readings only.
    Live,
    /// The latest reading of every selected channel first.
    Snapshot,
    /// The selected readings archived after this event id first.
    After(u64),
}

#[derive(Debug)]
enum Phase {
    Hello,
    Replay { after: u64 },
    Snapshot,
    Live,
    Ended,
}

/// An open stream: call [`Stream::next`] for each burst to send.
#[derive(Debug)]
pub struct Stream {
    hub: Arc<Hub>,
    client: Arc<Client>,
    /// Readings up to this are the replay's or the snapshot's; the queue
    /// has those after it.
    from: u64,
    phase: Phase,
    start: Start,
    paths: HashMap<String, MeterPath>,
}

impl Stream {
    /// Opens a stream of `principal` for `selection`, starting at `start`.
    pub fn open(hub: Arc<Hub>, principal: Principal, selection: Selection, start: Start) -> Result<Stream, Refused> {
        let (client, from) = hub.subscribe(principal, selection)?;
        Ok(Stream { hub, client, from, phase: Phase::Hello, start, paths: HashMap::new() })
    }

    /// Its client (control requests go there).
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// The next burst to send; an empty one is a keepalive; `None` when the
    /// stream has ended (after its `closed` frame).
    pub async fn next(&mut self) -> Option<Burst> {
        match self.phase {
            Phase::Hello => Some(self.hello()),
            Phase::Replay { after } => Some(self.replay(after).await),
            Phase::Snapshot => Some(self.snapshot().await),
            Phase::Live => self.live().await,
            Phase::Ended => None,
        }
    }

    fn hello(&mut self) -> Burst {
        let settings = self.hub.settings();
        let mut frames = vec![Frame::Hello {
            stream: self.client.stream.clone(),
            control_ms: settings.control_ms,
            queue_limit: settings.queue_limit,
            user: self.client.user(),
        }];
        let mut resume = None;
        match self.start {
            Start::After(after) if after > self.from || self.from - after > settings.replay_limit => {
                // Beyond the log (another archive) or too much: reload.
                frames.push(Frame::Gap { after, through: self.from });
                frames.push(Frame::Live { resume: self.from });
                resume = Some(self.from);
                self.phase = Phase::Live;
            }
            Start::After(after) => self.phase = Phase::Replay { after },
            Start::Snapshot => self.phase = Phase::Snapshot,
            Start::Live => {
                frames.push(Frame::Live { resume: self.from });
                resume = Some(self.from);
                self.phase = Phase::Live;
            }
        }
        Burst { frames, resume }
    }

    fn path(&mut self, device: &str) -> &MeterPath {
        if !self.paths.contains_key(device) {
            let path = self.hub.path_of(device);
            self.paths.insert(device.to_owned(), path);
        }
        &self.paths[device]
    }

    /// The reading's frame when the stream selected it and may see it
    /// (rendered only then).
    fn selected(&mut self, reading: &StoredReading) -> Option<Frame> {
        let path = self.path(&reading.reading.device).clone();
        self.client.wants(&reading.reading.device, &reading.reading.channel, &path).then(|| {
            Frame::Reading(Arc::new(ReadingEvent::of(reading, self.hub.archive().device_clock_tolerance_ms())))
        })
    }

    /// One burst of the replay: up to [`REPLAY_BATCH`] archived readings
    /// after `after`, those selected and visible; `live` at the end.
    async fn replay(&mut self, after: u64) -> Burst {
        if self.client.is_closing() {
            self.phase = Phase::Live;
            return self.live().await.unwrap_or_default();
        }
        let archive = self.hub.archive().clone();
        let limit = REPLAY_BATCH.min(usize::try_from(self.from - after).unwrap_or(REPLAY_BATCH));
        let entries = match tokio::task::spawn_blocking(move || archive.log_after(after, limit)).await {
            Ok(Ok(entries)) => entries,
            Ok(Err(e)) => return self.fail(&e.to_string()),
            Err(e) => return self.fail(&e.to_string()),
        };
        let mut frames = Vec::new();
        let mut through = after;
        for entry in entries.iter() {
            let seq = entry.map_or_else(|u| u.seq, |r| r.seq);
            if seq > self.from {
                break;
            }
            through = seq;
            if let Ok(reading) = entry
                && let Some(frame) = self.selected(reading)
            {
                frames.push(frame);
            }
        }
        if through >= self.from || limit == 0 || through == after {
            through = self.from;
            frames.push(Frame::Live { resume: through });
            self.phase = Phase::Live;
        } else {
            self.phase = Phase::Replay { after: through };
        }
        Burst { frames, resume: Some(through) }
    }

    /// The latest reading of every selected channel the user may see.
    async fn snapshot(&mut self) -> Burst {
        let archive = self.hub.archive().clone();
        let read = tokio::task::spawn_blocking(move || -> Result<Vec<StoredReading>, String> {
            let mut latest = Vec::new();
            for device in archive.devices().map_err(|e| e.to_string())? {
                latest.extend(archive.latest(&device.device).map_err(|e| e.to_string())?);
            }
            Ok(latest)
        })
        .await;
        let readings = match read {
            Ok(Ok(readings)) => readings,
            Ok(Err(why)) => {
                tracing::error!(error = %why, "stream snapshot cannot read the archive");
                Vec::new()
            }
            Err(e) => {
                tracing::error!(error = %e, "stream snapshot failed");
                Vec::new()
            }
        };
        let mut frames: Vec<Frame> = readings.iter().filter_map(|r| self.selected(r)).collect();
        frames.push(Frame::Live { resume: self.from });
        self.phase = Phase::Live;
        Burst { frames, resume: Some(self.from) }
    }

    /// The replay cannot go on: the stream closes, saying so.
    fn fail(&mut self, why: &str) -> Burst {
        tracing::error!(error = %why, "stream replay cannot read the archive log");
        self.client.close("the archive cannot be read; reconnect later");
        self.phase = Phase::Live;
        Burst::default()
    }

    /// What the queue holds, waiting for it (a keepalive after a quiet
    /// [`KEEPALIVE_AFTER`]); `closed` then the end when the stream closes.
    async fn live(&mut self) -> Option<Burst> {
        let deadline = tokio::time::Instant::now() + KEEPALIVE_AFTER;
        loop {
            let drained = self.client.drain();
            if let Some(reason) = drained.closed {
                self.phase = Phase::Ended;
                return Some(Burst { frames: vec![Frame::Closed { reason }], resume: None });
            }
            if !drained.packets.is_empty() {
                let frames = drained
                    .packets
                    .into_iter()
                    .map(|packet| match packet {
                        Packet::Reading(event) => Frame::Reading(event),
                        Packet::Control(ts) => Frame::Control { ts },
                        Packet::Alarm(json) => Frame::Alarm(json),
                    })
                    .collect();
                return Some(Burst { frames, resume: Some(drained.pushed_through) });
            }
            if tokio::time::timeout_at(deadline, self.client.woken()).await.is_err() {
                return Some(Burst::default());
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.client);
    }
}

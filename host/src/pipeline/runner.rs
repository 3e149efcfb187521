//! The pipeline task: follows the journal's committed records, decodes and
//! applies them in batches, tells the journal what may be released, and
//! serves re-decode requests between batches.
//!
//! When the archive cannot write (a full disk), the task reports it in the
//! store health, reopens the archive every [`HEAL_EVERY`] and applies again
//! the records it applied since the last flush (the reopened archive has
//! lost them; the journal still holds them, unreleased), then goes on. No
//! record is taken from the journal meanwhile, so the journal's backlog
//! limit slows acknowledgements instead of memory growing.

use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use meterhub_storage::archive::{ApplySummary, ReadingBlock};
use meterhub_storage::journal::{JournalHandle, JournalRecord};

use super::codecs::{CodecSlot, Routes};
use super::stage::DecodedBatch;
use super::{RedecodeReport, RedecodeSelection, Stage};

/// Most records decoded and applied in one archive batch. A batch costs the
/// archive per device and per series it touches (a device's summary read
/// and written, its series' heads), so at one reading per HTTP request a
/// batch of 2,048 records wrote each of 1,000 devices' summaries once per
/// two readings; at 8,192 that cost is a quarter (26.5 k requests/s became
/// 29.7 k). [`MAX_BATCH_BYTES`] bounds its memory either way.
const MAX_BATCH: usize = 8192;
/// Most bytes of records (what [`JournalRecord::backlog_bytes`] counts) in
/// one archive batch: a POST of 100 readings is one record, so the count
/// alone would let one transaction hold 800,000 readings.
const MAX_BATCH_BYTES: u64 = 2 << 20;
/// How often the archive is flushed and the journal released. Nothing
/// waits on it (the journal is the durability point; a crash re-applies at
/// most this much), and each flush costs sled a forced write and the real
/// fsync: at 200 ms, batched ingest ran at 75 k readings/s, at 1 s 126 k.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long records gather after a batch smaller than [`GATHER_BELOW`]
/// (the archive has caught up) before the next is taken. A batch costs the
/// archive per device and per series it touches, whatever the readings, so
/// at one reading per request a live load applied as it came wrote each
/// device's summary and series head once per reading; a dispatcher does not
/// see 50 ms.
const LINGER: Duration = Duration::from_millis(50);
/// Batches decoded ahead of the one being applied.
const DECODED_AHEAD: usize = 1;
/// A batch of fewer records than this says the archive has caught up (and
/// the next waits [`LINGER`]).
const GATHER_BELOW: usize = 1024;
/// How often a failing archive is reopened.
const HEAL_EVERY: Duration = Duration::from_millis(500);
/// The archive's name in the store health.
const STORE: &str = "archive";

/// Log blocks the live bus holds for a hub that falls behind (then it
/// reads the log instead). Each is at most 4,096 readings.
const BUS_BLOCKS: usize = 64;

/// Where the pipeline says what it archived.
struct Announce {
    bus: broadcast::Sender<ReadingBlock>,
    archived: watch::Sender<u64>,
    /// The journal seq applied through, for the decoder's gathering.
    applied: watch::Sender<u64>,
}

impl Announce {
    /// After an apply: its new readings to the hub, the log's new head to
    /// the followers.
    fn archived(&self, blocks: Vec<ReadingBlock>) {
        let Some(head) = blocks.last().and_then(|block| block.last()).map(|r| r.seq) else { return };
        for block in blocks {
            let _ = self.bus.send(block);
        }
        self.head(head);
    }

    /// The log's head moved to `head`.
    fn head(&self, head: u64) {
        self.archived.send_if_modified(|at| std::mem::replace(at, head) != head);
    }
}

/// A request to the running pipeline.
pub enum PipelineCommand {
    /// Decode stored frames again.
    Redecode(RedecodeSelection, oneshot::Sender<Result<RedecodeReport, String>>),
    /// Replace the codec of a source; frames decoded after the reply use it.
    SetCodec(String, CodecSlot, oneshot::Sender<()>),
    /// Replace the device routes of a source (and their codecs).
    SetRoutes(String, Option<Routes>, oneshot::Sender<()>),
}

/// Talk to the running pipeline.
#[derive(Clone)]
pub struct PipelineHandle {
    commands: mpsc::Sender<PipelineCommand>,
    /// Newly archived readings as their log blocks, for the live streams'
    /// hub.
    pub bus: broadcast::Sender<ReadingBlock>,
    /// The archive log's head after each apply: the followers that read the
    /// log by their own cursor wait on it.
    pub archived: watch::Receiver<u64>,
}

impl PipelineHandle {
    /// Re-decode `selection` and report.
    pub async fn redecode(&self, selection: RedecodeSelection) -> Result<RedecodeReport, String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(PipelineCommand::Redecode(selection, tx))
            .await
            .map_err(|_| "the pipeline has stopped".to_owned())?;
        rx.await.map_err(|_| "the pipeline has stopped".to_owned())?
    }

    /// Replace the codec of `source`; returns once the pipeline uses it.
    pub async fn set_codec(&self, source: &str, slot: CodecSlot) -> Result<(), String> {
        self.command(|tx| PipelineCommand::SetCodec(source.to_owned(), slot, tx)).await
    }

    /// Replace the device routes of `source`; returns once the pipeline uses them.
    pub async fn set_routes(&self, source: &str, routes: Option<Routes>) -> Result<(), String> {
        self.command(|tx| PipelineCommand::SetRoutes(source.to_owned(), routes, tx)).await
    }

    async fn command(&self, command: impl FnOnce(oneshot::Sender<()>) -> PipelineCommand) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(command(tx)).await.map_err(|_| "the pipeline has stopped".to_owned())?;
        rx.await.map_err(|_| "the pipeline has stopped".to_owned())
    }
}

/// Start the pipeline on the current runtime: a task that decodes batches
/// of records and one that applies them, one batch behind, so decoding and
/// applying run on both cores at once. The handle is the applying task's.
pub fn spawn(
    stage: Stage,
    records: mpsc::Receiver<JournalRecord>,
    journal: JournalHandle,
) -> (PipelineHandle, tokio::task::JoinHandle<()>) {
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let (bus, _) = broadcast::channel(BUS_BLOCKS);
    let (archived_tx, archived) = watch::channel(stage.archive().log_head().unwrap_or(0));
    let handle = PipelineHandle { commands: commands_tx, bus: bus.clone(), archived };
    let (decoded_tx, decoded) = mpsc::channel(DECODED_AHEAD);
    let (applied_tx, applied) = watch::channel(0);
    tokio::spawn(decode(stage.clone(), records, journal.clone(), decoded_tx, applied));
    let announce = Announce { bus, archived: archived_tx, applied: applied_tx };
    let task = tokio::spawn(run(stage, decoded, commands_rx, journal, announce));
    (handle, task)
}

/// Takes the committed records in batches and decodes them, until the
/// journal stops.
async fn decode(
    stage: Stage,
    mut records: mpsc::Receiver<JournalRecord>,
    journal: JournalHandle,
    decoded: mpsc::Sender<DecodedBatch>,
    mut applied: watch::Receiver<u64>,
) {
    loop {
        let Some(first) = records.recv().await else { return };
        let mut bytes = first.backlog_bytes();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match records.try_recv() {
                Ok(r) => {
                    bytes += r.backlog_bytes();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        journal.stats().record_taken(batch.len());
        journal.stats().record_taken_bytes(bytes);
        let small = batch.len() < GATHER_BELOW && bytes < MAX_BATCH_BYTES / 2;
        let last = batch.last().map_or(0, |r| r.seq);
        let batch = tokio::task::block_in_place(|| stage.decode(batch));
        if decoded.send(batch).await.is_err() {
            return;
        }
        if small {
            // The archive has caught up: records gather from the end of
            // this batch's apply on, as they did when one task did both.
            if applied.wait_for(|&through| through >= last).await.is_err() {
                return;
            }
            tokio::time::sleep(LINGER).await;
        }
    }
}

async fn run(
    stage: Stage,
    mut decoded: mpsc::Receiver<DecodedBatch>,
    mut commands: mpsc::Receiver<PipelineCommand>,
    journal: JournalHandle,
    announce: Announce,
) {
    let mut last_flush = Instant::now();
    // Applied since the last flush: what a reopened archive may have lost.
    let mut unflushed: Vec<JournalRecord> = Vec::new();
    loop {
        let flush_in = FLUSH_EVERY.saturating_sub(last_flush.elapsed());
        tokio::select! {
            batch = decoded.recv() => {
                let Some(batch) = batch else { break };
                let Some((summary, records)) = apply(&stage, batch, &unflushed, &journal, &decoded).await else { break };
                announce.applied.send_replace(records.last().map_or(0, |r| r.seq));
                unflushed.extend(records);
                announce.archived(summary.new_readings);
            }
            Some(command) = commands.recv() => match command {
                PipelineCommand::Redecode(selection, reply) => {
                    let report = tokio::task::block_in_place(|| stage.redecode(&selection)).map_err(|e| e.to_string());
                    // Decoded readings were appended to the log.
                    if let Ok(head) = stage.archive().log_head() {
                        announce.head(head);
                    }
                    let _ = reply.send(report);
                }
                PipelineCommand::SetCodec(source, slot, reply) => {
                    tokio::task::block_in_place(|| stage.change_codecs(|codecs| codecs.set(&source, slot)));
                    let _ = reply.send(());
                }
                PipelineCommand::SetRoutes(source, routes, reply) => {
                    tokio::task::block_in_place(|| stage.change_codecs(|codecs| codecs.set_routes(&source, routes)));
                    let _ = reply.send(());
                }
            },
            _ = tokio::time::sleep(flush_in), if !unflushed.is_empty() => {}
        }
        if !unflushed.is_empty() && last_flush.elapsed() >= FLUSH_EVERY {
            match tokio::task::block_in_place(|| stage.archive().flush()) {
                Ok(()) => {
                    journal.health().succeeded(STORE);
                    journal.release_through(unflushed.last().map_or(0, |r| r.seq));
                    unflushed.clear();
                }
                Err(e) => {
                    journal.health().failed(STORE, stage.archive().location(), &e, e.is_disk_full());
                    if !heal(&stage, &unflushed, &journal, &decoded).await {
                        break;
                    }
                    continue;
                }
            }
            last_flush = Instant::now();
        }
    }
    if let Err(e) = stage.archive().flush() {
        // The journal keeps what was not flushed; the next start applies it.
        tracing::error!(error = %e, "archive flush at shutdown failed");
    }
}

/// Applies a decoded batch; `None` when the host stops first. A batch
/// decoded before the codecs changed is decoded again. Nothing is skipped:
/// while the archive fails, it heals and the same records are applied
/// again.
async fn apply(
    stage: &Stage,
    batch: DecodedBatch,
    unflushed: &[JournalRecord],
    journal: &JournalHandle,
    decoded: &mpsc::Receiver<DecodedBatch>,
) -> Option<(ApplySummary, Vec<JournalRecord>)> {
    let DecodedBatch { records, items, .. } = tokio::task::block_in_place(|| stage.up_to_date(batch));
    let mut applied = tokio::task::block_in_place(|| stage.archive().apply(items));
    loop {
        match applied {
            Ok(summary) => return Some((summary, records)),
            Err(e) => {
                journal.health().failed(STORE, stage.archive().location(), &e, e.is_disk_full());
                if !heal(stage, unflushed, journal, decoded).await {
                    return None;
                }
                applied = tokio::task::block_in_place(|| stage.apply(records.clone()));
            }
        }
    }
}

/// Reopens the archive until it takes again what was applied since the last
/// flush, and flushes it. `false` when the host is stopping (the journal
/// keeps those records for the next start).
async fn heal(
    stage: &Stage,
    unflushed: &[JournalRecord],
    journal: &JournalHandle,
    decoded: &mpsc::Receiver<DecodedBatch>,
) -> bool {
    loop {
        // Stopping: the decoder may be waiting for this very batch's turn.
        if decoded.is_closed() || journal.stats().stopping() {
            return false;
        }
        tokio::time::sleep(HEAL_EVERY).await;
        let healed = tokio::task::block_in_place(|| {
            stage.archive().recover()?;
            for chunk in unflushed.chunks(MAX_BATCH) {
                stage.apply(chunk.to_vec())?;
            }
            stage.archive().flush()
        });
        match healed {
            Ok(()) => {
                journal.health().succeeded(STORE);
                return true;
            }
            Err(e) => journal.health().failed(STORE, stage.archive().location(), &e, e.is_disk_full()),
        }
    }
}

//! Decode and apply: journal records in, archive batches out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use meterhub_storage::archive::{ApplyItem, ApplySummary, Archive, ArchiveError, RedecodeOutcome, Verdict};
use meterhub_storage::journal::{Entry, JournalRecord};

use super::Codecs;

/// Which stored frames to decode again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedecodeSelection {
    /// Every quarantined frame.
    Quarantined,
    /// The quarantined frames of one source (done by the host when that
    /// source's codec is replaced).
    QuarantinedFrom {
        /// The source (driver instance id).
        source: String,
    },
    /// Every frame received in `[from_ms, to_ms)`.
    Received {
        /// Start, milliseconds since the epoch.
        from_ms: i64,
        /// End (exclusive).
        to_ms: i64,
    },
}

/// What a re-decode did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RedecodeReport {
    /// Frames looked at.
    pub frames: u64,
    /// Frames that decoded (including formerly quarantined ones).
    pub decoded: u64,
    /// Frames that still fail, each with its reason.
    pub still_quarantined: u64,
    /// Readings archived for the first time.
    pub readings_new: u64,
    /// Readings already in the archive.
    pub readings_duplicate: u64,
    /// Readings that contradict the archive (kept, flagged).
    pub readings_conflict: u64,
}

/// The decode-and-apply stage. Clones share the archive and the codecs, so
/// one can decode a batch while another applies the one before.
#[derive(Clone)]
pub struct Stage {
    archive: Arc<dyn Archive>,
    codecs: Arc<Mutex<Codecs>>,
    /// How many times the codecs were changed; read without their lock, so
    /// the apply never waits for a batch being decoded to learn it.
    version: Arc<AtomicU64>,
}

/// Records decoded, not yet applied.
pub struct DecodedBatch {
    /// The records, kept until the archive holding them is flushed.
    pub records: Vec<JournalRecord>,
    /// The records with their codecs' verdicts.
    pub items: Vec<ApplyItem>,
    /// How many times the codecs had been changed when they were decoded.
    pub codecs_version: u64,
}

impl Stage {
    /// A stage writing to `archive` with `codecs`.
    pub fn new(archive: Arc<dyn Archive>, codecs: Codecs) -> Self {
        Stage { archive, codecs: Arc::new(Mutex::new(codecs)), version: Arc::default() }
    }

    fn codecs(&self) -> MutexGuard<'_, Codecs> {
        // A codec call that panicked left the instances as its supervisor
        // does after any failure: the next call restarts them.
        self.codecs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The archive it writes to.
    pub fn archive(&self) -> &Arc<dyn Archive> {
        &self.archive
    }

    /// Changes the codec instances live (replaces one, or a source's
    /// routes); frames decoded after it returns use the change.
    pub fn change_codecs(&self, change: impl FnOnce(&mut Codecs)) {
        let mut codecs = self.codecs();
        change(&mut codecs);
        // Under the lock: a decode stamps its batch with the version of the
        // codecs it holds.
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// `batch` as the codecs now decode it: decoded again when they were
    /// changed after it was decoded (a batch decoded ahead must not carry
    /// an old codec's verdicts past a change and the re-decode that follows
    /// it).
    pub fn up_to_date(&self, batch: DecodedBatch) -> DecodedBatch {
        if batch.codecs_version == self.version.load(Ordering::Acquire) { batch } else { self.decode(batch.records) }
    }

    /// Decodes `records` (kept in the batch, copied into its items).
    pub fn decode(&self, records: Vec<JournalRecord>) -> DecodedBatch {
        let mut codecs = self.codecs();
        let codecs_version = self.version.load(Ordering::Acquire);
        let items = verdicts(&mut codecs, records.iter().cloned());
        DecodedBatch { records, items, codecs_version }
    }

    /// Decode `records` and apply them to the archive in one batch.
    pub fn apply(&self, records: Vec<JournalRecord>) -> Result<ApplySummary, ArchiveError> {
        let items = verdicts(&mut self.codecs(), records.into_iter());
        self.archive.apply(items)
    }

    /// Decode stored frames again (after a codec fix) and apply the result.
    pub fn redecode(&self, selection: &RedecodeSelection) -> Result<RedecodeReport, ArchiveError> {
        let frames = match selection {
            RedecodeSelection::Quarantined => {
                self.archive.quarantine(usize::MAX)?.into_iter().map(|q| q.frame).collect()
            }
            RedecodeSelection::QuarantinedFrom { source } => self
                .archive
                .quarantine(usize::MAX)?
                .into_iter()
                .map(|q| q.frame)
                .filter(|f| f.source == *source)
                .collect(),
            RedecodeSelection::Received { from_ms, to_ms } => self.archive.frames_received_between(*from_ms, *to_ms)?,
        };
        let mut report = RedecodeReport::default();
        for frame in frames {
            report.frames += 1;
            let verdict = match self.codecs().decode(&frame) {
                Ok(decoded) => Verdict::Decoded(decoded),
                Err(reason) => Verdict::Quarantined(reason),
            };
            match self.archive.redecode(frame.seq, verdict)? {
                RedecodeOutcome::StillQuarantined(_) => report.still_quarantined += 1,
                RedecodeOutcome::Decoded { new, duplicate, conflict } => {
                    report.decoded += 1;
                    report.readings_new += new as u64;
                    report.readings_duplicate += duplicate as u64;
                    report.readings_conflict += conflict as u64;
                }
            }
        }
        self.archive.flush()?;
        tracing::info!(?selection, ?report, "re-decode finished");
        Ok(report)
    }
}

/// `records` with their codecs' verdicts.
fn verdicts(codecs: &mut Codecs, records: impl Iterator<Item = JournalRecord>) -> Vec<ApplyItem> {
    records
        .map(|record| {
            let verdict = match &record.entry {
                Entry::Frame(frame) => Some(match codecs.decode(frame) {
                    Ok(decoded) => Verdict::Decoded(decoded),
                    Err(reason) => {
                        tracing::info!(source = %frame.source, seq = record.seq, %reason, "frame quarantined");
                        Verdict::Quarantined(reason)
                    }
                }),
                Entry::Rejected(_) => None,
            };
            ApplyItem { record, verdict }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, RawFrame, Reading, ReadingKind, Transport};
    use meterhub_storage::archive::SledArchive;

    use super::*;
    use crate::pipeline::CodecSlot;
    use crate::plugin::PluginFault;
    use crate::plugin::instance::PluginInstance;

    /// Decodes every frame into one reading whose unit is its name.
    struct Named(&'static str);

    impl PluginInstance for Named {
        fn handle(&mut self, _: u64, _: i64, _: Event) -> Result<Vec<Action>, PluginFault> {
            Ok(Vec::new())
        }

        fn decode(&mut self, frame: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
            let reading = Reading {
                device: "m1".into(),
                channel: "volume".into(),
                ts_ms: frame.seq as i64,
                value: 1.into(),
                unit: self.0.into(),
                kind: ReadingKind::Cumulative,
            };
            Ok(Ok(Decoded { readings: vec![reading], ..Decoded::default() }))
        }
    }

    fn record(seq: u64) -> JournalRecord {
        let frame = RawFrame {
            seq,
            source: "s".into(),
            peer: "p".into(),
            received_at_ms: 0,
            transport: Transport::Tcp,
            content_type: "x".into(),
            meta: Vec::new(),
            payload: vec![1],
        };
        JournalRecord { seq, entry: Entry::Frame(frame) }
    }

    fn units(batch: &DecodedBatch) -> Vec<String> {
        batch
            .items
            .iter()
            .map(|item| match &item.verdict {
                Some(Verdict::Decoded(decoded)) => decoded.readings[0].unit.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_batch_decoded_before_a_codec_change_is_decoded_again_with_the_new_codec() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive: Arc<dyn Archive> = Arc::new(SledArchive::open(dir.path()).expect("archive"));
        let mut codecs = Codecs::default();
        codecs.insert("s", Box::new(Named("old")));
        let stage = Stage::new(archive, codecs);
        let ahead = stage.decode(vec![record(1), record(2)]);
        assert_eq!(units(&ahead), ["old", "old"]);
        // Unchanged codecs: the batch is taken as it is.
        let same = stage.up_to_date(ahead);
        assert_eq!(units(&same), ["old", "old"]);

        stage.change_codecs(|codecs| codecs.set("s", CodecSlot::Ready(Box::new(Named("new")))));
        let again = stage.up_to_date(same);
        assert_eq!(units(&again), ["new", "new"]);
        assert_eq!(again.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
        let summary = stage.archive().apply(again.items).expect("apply");
        assert!(summary.readings().all(|r| r.reading.unit == "new"));
    }
}

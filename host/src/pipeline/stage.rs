//! Decode and apply: journal records in, archive batches out.

use std::sync::Arc;

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

/// The decode-and-apply stage.
pub struct Stage {
    archive: Arc<dyn Archive>,
    codecs: Codecs,
}

impl Stage {
    /// A stage writing to `archive` with `codecs`.
    pub fn new(archive: Arc<dyn Archive>, codecs: Codecs) -> Self {
        Stage { archive, codecs }
    }

    /// The archive it writes to.
    pub fn archive(&self) -> &Arc<dyn Archive> {
        &self.archive
    }

    /// The codec instances, to replace one live.
    pub fn codecs_mut(&mut self) -> &mut Codecs {
        &mut self.codecs
    }

    /// Decode `records` and apply them to the archive in one batch.
    pub fn apply(&mut self, records: Vec<JournalRecord>) -> Result<ApplySummary, ArchiveError> {
        let items = records
            .into_iter()
            .map(|record| {
                let verdict = match &record.entry {
                    Entry::Frame(frame) => Some(match self.codecs.decode(frame) {
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
            .collect();
        self.archive.apply(items)
    }

    /// Decode stored frames again (after a codec fix) and apply the result.
    pub fn redecode(&mut self, selection: &RedecodeSelection) -> Result<RedecodeReport, ArchiveError> {
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
            let verdict = match self.codecs.decode(&frame) {
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

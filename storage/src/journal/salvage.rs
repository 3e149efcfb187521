//! Repairing the journal when it opens: damage in a segment never stops the
//! host and never passes unreported.
//!
//! Every segment that may hold records the archive has not applied (and the
//! active one) is read record by record. At a damaged record the reading
//! steps to the next record whose checksum holds, so a flipped byte costs
//! the records it touched, never the rest of the segment. A damaged segment
//! is copied as found into [`DAMAGED_DIR`] inside the journal directory,
//! then rewritten with its intact records only, and reported as
//! [`Damage`]: the file, the byte offsets, the sequence numbers that cannot
//! be read, and which of them the archive did not hold yet (those are lost).
//!
//! Damage at the very end of the active segment with no intact record after
//! it is what a crash in the middle of a group write leaves; its records
//! were never acknowledged, so it is cut off with a warning. Two cases are
//! told apart: a last record that is whole (its length reaches the end of
//! the file) but fails its checksum is damage, reported like any other. A
//! segment cut short by something other than a crash, or a last record
//! whose header is damaged, looks like a torn write: there is no telling
//! them apart without a second durable mark per group.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::codec::{RECORD_HEADER_BYTES, RecordHeader};
use super::error::JournalError;
use super::segment::{self, ScannedRecord, SegmentFile, SeqBounds, check_record_at, find_intact_record};
use crate::integrity::{Damage, Found};

/// The directory, inside the journal directory, where damaged segments are
/// copied as found.
pub const DAMAGED_DIR: &str = "damaged";

/// A stretch of a segment that holds no intact record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hole {
    /// Byte offset where the damage starts (where a record was expected).
    pub offset: u64,
    /// Byte offset of the next intact record, or the end of the file.
    pub end: u64,
    /// Sequence number of the last intact record before the hole (or the
    /// one before the segment's first).
    pub after_seq: u64,
    /// Sequence number of the first intact record after the hole (or the
    /// next segment's first).
    pub before_seq: u64,
    /// What is wrong with the record at `offset`.
    pub reason: String,
}

/// What [`salvage`] found in a segment.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Salvaged {
    /// The intact records, in file order.
    pub records: Vec<ScannedRecord>,
    /// Damaged stretches followed by an intact record or, in a segment that
    /// is not the last, by the end of the file.
    pub holes: Vec<Hole>,
    /// Damage at the end of the last segment with nothing intact after it:
    /// its offset and what is wrong.
    pub torn_tail: Option<(u64, String)>,
}

/// Reads `data`, a segment whose records lie within `bounds`, keeping every
/// intact record and stepping over damage. `bounds.before` is `None` only
/// for the last segment.
pub fn salvage(data: &[u8], bounds: SeqBounds) -> Salvaged {
    let mut found = Salvaged::default();
    let mut pos = 0usize;
    let mut last_seq = bounds.after;
    while pos < data.len() {
        match check_record_at(data, pos, last_seq, bounds.before) {
            Ok((seq, len)) => {
                let start = pos + RECORD_HEADER_BYTES;
                found.records.push(ScannedRecord { offset: pos as u64, seq, payload: start..start + len });
                pos = start + len;
                last_seq = seq;
            }
            Err(reason) => {
                let next = find_intact_record(data, pos + 1, last_seq, bounds.before);
                let before_seq = next
                    .and_then(|at| RecordHeader::parse(&data[at..]))
                    .map(|h| h.seq)
                    .or(bounds.before)
                    .or_else(|| whole_record_at_the_end(data, pos, last_seq).map(|seq| seq + 1));
                match before_seq {
                    Some(before_seq) => found.holes.push(Hole {
                        offset: pos as u64,
                        end: next.unwrap_or(data.len()) as u64,
                        after_seq: last_seq,
                        before_seq,
                        reason,
                    }),
                    None => found.torn_tail = Some((pos as u64, reason)),
                }
                match next {
                    Some(at) => pos = at,
                    None => break,
                }
            }
        }
    }
    found
}

/// The sequence number of the record at `pos` if it is whole (the next
/// sequence number, its length reaching exactly the end of the file) and
/// only its checksum fails: bytes damaged in place, not a write torn by a
/// crash, which leaves the file cut short.
fn whole_record_at_the_end(data: &[u8], pos: usize, last_seq: u64) -> Option<u64> {
    let header = RecordHeader::parse(&data[pos..])?;
    (header.seq == last_seq + 1 && pos + RECORD_HEADER_BYTES + header.len == data.len()).then_some(header.seq)
}

/// What [`repair`] leaves for the journal to open with.
#[derive(Debug)]
pub(super) struct Repaired {
    /// Length of the active (last) segment after repair.
    pub active_len: u64,
    /// The sequence number after the last record of the active segment,
    /// intact or lost (a lost sequence number is never given again).
    pub active_next_seq: Option<u64>,
    /// The damaged segments, each kept as found.
    pub damage: Vec<Damage>,
}

/// Reads and repairs the segments of `dir` that may hold records at or
/// above `floor` (the archive's applied-through plus one) and the last one.
pub(super) fn repair(dir: &Path, segments: &[SegmentFile], floor: u64) -> Result<Repaired, JournalError> {
    let mut repaired = Repaired { active_len: 0, active_next_seq: None, damage: Vec::new() };
    for (i, seg) in segments.iter().enumerate() {
        let before = segments.get(i + 1).map(|next| next.first_seq);
        if before.is_some_and(|before| before <= floor) {
            continue; // every record is below the floor: the archive holds them
        }
        let data = segment::read_segment(&seg.path)?;
        let found = salvage(&data, SeqBounds { after: seg.first_seq.saturating_sub(1), before });
        let len = if !found.holes.is_empty() {
            let kept_at = keep_as_found(dir, &seg.path, &data)?;
            let len = rewrite_intact(dir, &seg.path, &data, &found.records)?;
            let files: Vec<String> = found.holes.iter().map(|hole| describe(hole, floor)).collect();
            tracing::error!(
                file = %seg.path.display(), kept = %kept_at.display(),
                "journal: damaged records: {}; the segment is rewritten with its intact records", files.join("; ")
            );
            repaired.damage.push(Damage { path: seg.path.clone(), files, kept_at, found: Found::UnreadableRecords });
            len
        } else if let Some((offset, reason)) = &found.torn_tail {
            tracing::warn!(
                file = %seg.path.display(),
                offset,
                dropped_bytes = data.len() as u64 - offset,
                reason = %reason,
                "journal: truncating a torn record at the tail of the last segment (crash mid-write)"
            );
            let file = OpenOptions::new().write(true).open(&seg.path).map_err(JournalError::io(&seg.path, "open"))?;
            file.set_len(*offset).map_err(JournalError::io(&seg.path, "truncate"))?;
            file.sync_all().map_err(JournalError::io(&seg.path, "fsync"))?;
            *offset
        } else {
            data.len() as u64
        };
        if before.is_none() {
            repaired.active_len = len;
            let after_records = found.records.last().map(|r| r.seq + 1);
            repaired.active_next_seq = after_records.max(found.holes.last().map(|hole| hole.before_seq));
        }
    }
    Ok(repaired)
}

/// One line of [`Damage::files`] for `hole`.
fn describe(hole: &Hole, floor: u64) -> String {
    let at = format!("bytes {} to {}: {}", hole.offset, hole.end, hole.reason);
    let (first, last) = (hole.after_seq + 1, hole.before_seq.saturating_sub(1));
    if first > last {
        return format!("{at}; no record lost (seq {} is followed by {})", hole.after_seq, hole.before_seq);
    }
    let unarchived = first.max(floor);
    if unarchived > last {
        format!("seq {first} to {last} unreadable at {at}; the archive already holds them, nothing is lost")
    } else {
        let lost = last - unarchived + 1;
        format!(
            "seq {first} to {last} unreadable at {at}; {lost} not yet archived are lost (seq {unarchived} to {last})"
        )
    }
}

/// Copies the damaged segment `path` into [`DAMAGED_DIR`] as found,
/// durably, and returns where.
fn keep_as_found(dir: &Path, path: &Path, data: &[u8]) -> Result<PathBuf, JournalError> {
    let damaged = dir.join(DAMAGED_DIR);
    std::fs::create_dir_all(&damaged).map_err(JournalError::io(&damaged, "create directory"))?;
    let name = path.file_name().map_or_else(|| "segment".into(), |n| n.to_string_lossy().into_owned());
    let kept = damaged.join(format!("{name}.{}", crate::clock::now_ms()));
    write_durably(&kept, data)?;
    segment::sync_dir(&damaged)?;
    Ok(kept)
}

/// Replaces segment `path` by its intact `records` (through a temporary file
/// renamed over it) and returns its new length.
fn rewrite_intact(dir: &Path, path: &Path, data: &[u8], records: &[ScannedRecord]) -> Result<u64, JournalError> {
    let intact: Vec<u8> = records
        .iter()
        .flat_map(|r| &data[usize::try_from(r.offset).unwrap_or(usize::MAX)..r.payload.end])
        .copied()
        .collect();
    let temporary = path.with_extension("repair");
    write_durably(&temporary, &intact)?;
    std::fs::rename(&temporary, path).map_err(JournalError::io(path, "replace"))?;
    segment::sync_dir(dir)?;
    Ok(intact.len() as u64)
}

fn write_durably(path: &Path, data: &[u8]) -> Result<(), JournalError> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).map_err(JournalError::io(path, "create"))?;
    file.write_all(data).map_err(JournalError::io(path, "write"))?;
    file.sync_all().map_err(JournalError::io(path, "fsync"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::segment::tests::records;

    const LAST: SeqBounds = SeqBounds { after: 0, before: None };

    fn seqs(found: &Salvaged) -> Vec<u64> {
        found.records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn a_damaged_record_costs_itself_only() {
        let mut data = records(&[1, 2, 3, 4]);
        let size = records(&[1]).len();
        data[size + RECORD_HEADER_BYTES + 2] ^= 0xFF; // the payload of seq 2
        let found = salvage(&data, LAST);
        assert_eq!(seqs(&found), vec![1, 3, 4]);
        assert_eq!(found.torn_tail, None);
        let hole = &found.holes[..];
        assert_eq!(hole.len(), 1);
        assert_eq!((hole[0].offset, hole[0].end), (size as u64, 2 * size as u64));
        assert_eq!((hole[0].after_seq, hole[0].before_seq), (1, 3));
        assert!(hole[0].reason.contains("checksum"), "{}", hole[0].reason);
        assert!(
            describe(&hole[0], 1).ends_with("1 not yet archived are lost (seq 2 to 2)"),
            "{}",
            describe(&hole[0], 1)
        );
        assert!(describe(&hole[0], 3).ends_with("the archive already holds them, nothing is lost"));
    }

    #[test]
    fn damage_at_the_end_is_a_torn_tail_in_the_last_segment_and_a_hole_in_any_other() {
        let mut data = records(&[5, 6, 7]);
        let size = records(&[1]).len();
        data[2 * size + 3] ^= 0x10; // the header of seq 7
        let found = salvage(&data, SeqBounds { after: 4, before: None });
        assert_eq!(seqs(&found), vec![5, 6]);
        assert!(found.holes.is_empty());
        assert_eq!(found.torn_tail.as_ref().map(|t| t.0), Some(2 * size as u64));

        let found = salvage(&data, SeqBounds { after: 4, before: Some(9) });
        assert_eq!(found.torn_tail, None);
        assert_eq!((found.holes[0].after_seq, found.holes[0].before_seq), (6, 9));
        assert!(describe(&found.holes[0], 0).contains("seq 7 to 8 unreadable"));

        // A whole last record with a bad checksum is damage, not a torn write.
        let mut data = records(&[5, 6, 7]);
        let last = data.len() - 1;
        data[last] ^= 0x01;
        let found = salvage(&data, SeqBounds { after: 4, before: None });
        assert_eq!((found.torn_tail.clone(), seqs(&found)), (None, vec![5, 6]));
        assert_eq!((found.holes[0].after_seq, found.holes[0].before_seq), (6, 8));
        // Cut short, it is a torn write.
        let found = salvage(&data[..last], SeqBounds { after: 4, before: None });
        assert!(found.holes.is_empty() && found.torn_tail.is_some(), "{found:?}");
    }

    #[test]
    fn a_truncated_segment_that_is_not_the_last_loses_only_its_tail() {
        let data = records(&[1, 2, 3]);
        let size = records(&[1]).len();
        let found = salvage(&data[..2 * size + 5], SeqBounds { after: 0, before: Some(4) });
        assert_eq!(seqs(&found), vec![1, 2]);
        assert_eq!(found.holes[0].offset, 2 * size as u64);
        assert!(found.holes[0].reason.contains("cut short") || found.holes[0].reason.contains("short"), "{:?}", found);
    }
}

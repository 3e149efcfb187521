//! Segment files: naming, listing, and scanning record by record.
//!
//! A segment is named after the sequence number of the first record written
//! to it (`<first_seq:020>.seg`); every record in a segment has a sequence
//! number at least its name and below the name of the next segment.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::codec::{MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES, RecordHeader, record_crc};
use super::error::JournalError;

/// File name extension of segment files.
pub const SEGMENT_EXTENSION: &str = "seg";

/// One segment file of the journal directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// Sequence number of its first record (from its name).
    pub first_seq: u64,
    /// Its path.
    pub path: PathBuf,
}

impl SegmentFile {
    /// The segment in `dir` whose first record has `first_seq`.
    pub fn new(dir: &Path, first_seq: u64) -> SegmentFile {
        SegmentFile { first_seq, path: dir.join(format!("{first_seq:020}.{SEGMENT_EXTENSION}")) }
    }
}

/// The segment files in `dir`, ordered by first sequence number. Files that
/// do not look like segments are ignored with a warning.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, JournalError> {
    let mut segments = Vec::new();
    for dirent in std::fs::read_dir(dir).map_err(JournalError::io(dir, "list directory"))? {
        let dirent = dirent.map_err(JournalError::io(dir, "list directory"))?;
        let path = dirent.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXTENSION) {
            continue;
        }
        let first_seq = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .filter(|stem| stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|stem| stem.parse::<u64>().ok());
        match first_seq {
            Some(first_seq) => segments.push(SegmentFile { first_seq, path }),
            None => {
                tracing::warn!(file = %path.display(), "journal: ignoring a .seg file whose name is not a sequence number")
            }
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

/// Reads a whole segment file.
pub fn read_segment(path: &Path) -> Result<Vec<u8>, JournalError> {
    let mut file = File::open(path).map_err(JournalError::io(path, "open"))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(JournalError::io(path, "read"))?;
    Ok(data)
}

/// One record found by [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedRecord {
    /// Byte offset of the record header in the file.
    pub offset: u64,
    /// Its sequence number.
    pub seq: u64,
    /// Where its payload lies in the scanned bytes.
    pub payload: Range<usize>,
}

/// Which sequence numbers the records of a segment may carry.
#[derive(Debug, Clone, Copy)]
pub struct SeqBounds {
    /// Records must have a sequence number above this.
    pub after: u64,
    /// Records must have a sequence number below this (the next segment's name).
    pub before: Option<u64>,
}

/// Scans `data`, the contents of segment `path`, whole: sequence numbers
/// must increase and stay within `bounds`, and any damage is
/// [`JournalError::Corrupt`] naming the file and byte offset. (Damage found
/// when the journal opens is repaired by [`super::salvage`] first.)
pub fn scan(path: &Path, data: &[u8], bounds: SeqBounds) -> Result<Vec<ScannedRecord>, JournalError> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    let mut last_seq = bounds.after;
    while pos < data.len() {
        let (seq, len) = check_record_at(data, pos, last_seq, bounds.before)
            .map_err(|reason| JournalError::Corrupt { path: path.to_path_buf(), offset: pos as u64, reason })?;
        let payload = pos + RECORD_HEADER_BYTES..pos + RECORD_HEADER_BYTES + len;
        records.push(ScannedRecord { offset: pos as u64, seq, payload: payload.clone() });
        last_seq = seq;
        pos = payload.end;
    }
    Ok(records)
}

/// Checks the record at `pos`: returns its sequence number and payload length.
pub(super) fn check_record_at(
    data: &[u8],
    pos: usize,
    last_seq: u64,
    before: Option<u64>,
) -> Result<(u64, usize), String> {
    let rest = &data[pos..];
    let header = RecordHeader::parse(rest)
        .ok_or_else(|| format!("short record header: {} bytes where {RECORD_HEADER_BYTES} are needed", rest.len()))?;
    if header.len > MAX_PAYLOAD_BYTES {
        return Err(format!("record length {} exceeds the maximum of {MAX_PAYLOAD_BYTES}", header.len));
    }
    let available = rest.len() - RECORD_HEADER_BYTES;
    if header.len > available {
        return Err(format!("record of {} payload bytes is cut short: only {available} bytes remain", header.len));
    }
    let computed = record_crc(&header.seq.to_le_bytes(), &rest[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + header.len]);
    if computed != header.crc {
        return Err(format!("checksum mismatch: stored {:#010x}, computed {computed:#010x}", header.crc));
    }
    if header.seq <= last_seq {
        return Err(format!("sequence number {} does not follow {last_seq}", header.seq));
    }
    if let Some(before) = before.filter(|&before| header.seq >= before) {
        return Err(format!("sequence number {} is not below the next segment's first {before}", header.seq));
    }
    Ok((header.seq, header.len))
}

/// The offset of the first intact record at or after `from`, if any. Used
/// only on the recovery path, to step over damage.
pub(super) fn find_intact_record(data: &[u8], from: usize, last_seq: u64, before: Option<u64>) -> Option<usize> {
    let last_start = data.len().checked_sub(RECORD_HEADER_BYTES)?;
    (from..=last_start).find(|&pos| {
        // Cheap plausibility checks before the checksum.
        RecordHeader::parse(&data[pos..]).is_some_and(|h| {
            h.seq > last_seq
                && before.is_none_or(|b| h.seq < b)
                && h.len <= data.len() - pos - RECORD_HEADER_BYTES
                && check_record_at(data, pos, last_seq, before).is_ok()
        })
    })
}

/// Makes a directory entry change (created or removed file) durable.
pub fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(JournalError::io(dir, "fsync directory"))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::journal::codec::encode_record;
    use crate::journal::entry::{Entry, Rejection};
    use meterhub_plugin_api::Transport;

    /// The bytes of a segment holding one small record per seq.
    pub(in crate::journal) fn records(seqs: &[u64]) -> Vec<u8> {
        let mut buf = Vec::new();
        for &seq in seqs {
            let entry = Entry::Rejected(Rejection {
                source: "s".into(),
                peer: "p".into(),
                received_at_ms: 1,
                transport: Transport::Tcp,
                reason: format!("r{seq}"),
                input: vec![seq as u8; 10],
            });
            encode_record(seq, &entry, &mut buf).expect("fits");
        }
        buf
    }

    const OPEN: SeqBounds = SeqBounds { after: 0, before: None };

    #[test]
    fn clean_segment_scans_fully() {
        let data = records(&[1, 2, 3]);
        let scanned = scan(Path::new("x.seg"), &data, OPEN).expect("clean");
        assert_eq!(scanned.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(scanned.last().map(|r| r.payload.end), Some(data.len()));
    }

    #[test]
    fn any_damage_is_corruption_naming_the_offset() {
        let mut data = records(&[1, 2, 3]);
        let second = records(&[1]).len();
        data[second + RECORD_HEADER_BYTES + 2] ^= 0xFF;
        let err = scan(Path::new("last.seg"), &data, OPEN).unwrap_err();
        let JournalError::Corrupt { offset, reason, .. } = &err else { panic!("{err}") };
        assert_eq!(*offset, second as u64);
        assert!(reason.contains("checksum"), "{reason}");
    }

    #[test]
    fn sequence_numbers_must_increase_and_stay_in_bounds() {
        let data = records(&[1, 3, 2]);
        assert!(matches!(scan(Path::new("a.seg"), &data, OPEN), Err(JournalError::Corrupt { .. })));
        let data = records(&[5, 6]);
        let bounds = SeqBounds { after: 0, before: Some(6) };
        let err = scan(Path::new("a.seg"), &data, bounds).unwrap_err();
        assert!(err.to_string().contains("next segment"), "{err}");
    }

    #[test]
    fn segment_names_sort_numerically() {
        let dir = tempfile::tempdir().expect("tempdir");
        for seq in [100u64, 2, 30] {
            std::fs::write(SegmentFile::new(dir.path(), seq).path, b"").expect("write");
        }
        std::fs::write(dir.path().join("notes.seg"), b"").expect("write");
        std::fs::write(dir.path().join("LOCK"), b"").expect("write");
        let seqs: Vec<u64> = list_segments(dir.path()).expect("list").iter().map(|s| s.first_seq).collect();
        assert_eq!(seqs, vec![2, 30, 100]);
    }
}

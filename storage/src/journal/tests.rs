//! Journal scenarios: durability across reopen, sequence continuity, torn
//! tails, corruption, segment release, concurrency, failed writes.

use std::path::Path;
use std::sync::atomic::Ordering;

use meterhub_plugin_api::{RawFrame, Transport};

use super::segment::list_segments;
use super::*;

fn frame(n: u64) -> Entry {
    Entry::Frame(RawFrame {
        seq: 999_999, // ignored on append
        source: "vega-tcp".into(),
        peer: format!("10.0.0.{}:4001", n % 250),
        received_at_ms: 1_763_719_200_000 + n as i64,
        transport: Transport::Tcp,
        content_type: "vega/packet".into(),
        meta: vec![("n".into(), n.to_string())],
        payload: n.to_le_bytes().repeat(4),
    })
}

fn rejection(n: u64) -> Entry {
    Entry::Rejected(Rejection {
        source: "lora-http".into(),
        peer: "192.0.2.1".into(),
        received_at_ms: n as i64,
        transport: Transport::Http,
        reason: format!("bad input {n}"),
        input: vec![b'?'; 20],
    })
}

fn config(dir: &Path) -> JournalConfig {
    JournalConfig::new(dir)
}

/// Appends `entries` one after the other and returns their seqs.
async fn append_all(handle: &JournalHandle, entries: impl IntoIterator<Item = Entry>) -> Vec<u64> {
    let mut seqs = Vec::new();
    for entry in entries {
        seqs.push(handle.append(entry).await.expect("append").seq());
    }
    seqs
}

fn seqs(records: &[JournalRecord]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

fn with_seq(entry: Entry, seq: u64) -> Entry {
    let mut entry = entry;
    entry.set_seq(seq);
    entry
}

#[tokio::test]
async fn appended_records_replay_after_reopen_with_their_seqs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(config(dir.path()), 0).expect("open");
    assert!(journal.replay(0).expect("replay").is_empty());
    let (handle, mut committed) = journal.start();
    let assigned = append_all(&handle, [frame(1), rejection(2), frame(3)]).await;
    assert_eq!(assigned, vec![1, 2, 3]);
    for (seq, entry) in [(1, frame(1)), (2, rejection(2)), (3, frame(3))] {
        let record = committed.recv().await.expect("committed");
        assert_eq!(record, JournalRecord { seq, entry: with_seq(entry, seq) });
    }
    handle.shutdown().await;

    let journal = Journal::open(config(dir.path()), 0).expect("reopen");
    let records = journal.replay(0).expect("replay");
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].entry, with_seq(frame(1), 1));
    assert_eq!(records[1].entry, rejection(2));
    assert_eq!(records[2].entry, with_seq(frame(3), 3));
    assert_eq!(seqs(&journal.replay(2).expect("replay after 2")), vec![3]);
    assert!(journal.replay(3).expect("replay after 3").is_empty());
}

#[tokio::test]
async fn seqs_continue_across_restarts_and_respect_the_floor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (handle, _rx) = Journal::open(config(dir.path()), 0).expect("open").start();
    assert_eq!(append_all(&handle, [frame(1), frame(2)]).await, vec![1, 2]);
    handle.shutdown().await;

    // A floor below the segments' end does not matter.
    let journal = Journal::open(config(dir.path()), 2).expect("reopen");
    assert_eq!(journal.next_seq(), 3);
    let (handle, _rx) = journal.start();
    assert_eq!(append_all(&handle, [frame(3)]).await, vec![3]);
    handle.shutdown().await;

    // The archive is ahead (e.g. the journal directory was replaced): the floor wins.
    let journal = Journal::open(config(dir.path()), 101).expect("reopen with floor");
    assert_eq!(journal.next_seq(), 101);
    let (handle, _rx) = journal.start();
    assert_eq!(append_all(&handle, [frame(4), frame(5)]).await, vec![101, 102]);
    handle.shutdown().await;

    let journal = Journal::open(config(dir.path()), 0).expect("reopen");
    assert_eq!(journal.next_seq(), 103);
    assert_eq!(seqs(&journal.replay(0).expect("replay")), vec![1, 2, 3, 101, 102]);

    // A fresh directory starts at the floor, or at 1.
    let fresh = tempfile::tempdir().expect("tempdir");
    assert_eq!(Journal::open(config(fresh.path()), 0).expect("open").next_seq(), 1);
    let fresh = tempfile::tempdir().expect("tempdir");
    assert_eq!(Journal::open(config(fresh.path()), 50).expect("open").next_seq(), 50);
}

#[tokio::test]
async fn torn_tail_is_truncated_and_appending_continues_after_the_intact_prefix() {
    // Record sizes, to know which records a cut leaves intact.
    let sizes: Vec<u64> = (1..=3)
        .map(|n| {
            let mut buf = Vec::new();
            codec::encode_record(n, &frame(n), &mut buf).expect("fits");
            buf.len() as u64
        })
        .collect();
    let total: u64 = sizes.iter().sum();
    for chop in [1u64, 2, 7, 15, 16, 17, sizes[2] - 1, sizes[2], sizes[2] + 3, total - 1] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (handle, _rx) = Journal::open(config(dir.path()), 0).expect("open").start();
        append_all(&handle, [frame(1), frame(2), frame(3)]).await;
        handle.shutdown().await;

        let segment = list_segments(dir.path()).expect("list").remove(0).path;
        let len = std::fs::metadata(&segment).expect("stat").len();
        assert_eq!(len, total);
        let file = std::fs::OpenOptions::new().write(true).open(&segment).expect("open segment");
        file.set_len(len - chop).expect("chop");
        drop(file);

        let remaining = len - chop;
        let mut intact = 0;
        let mut end = 0;
        while intact < 3 && end + sizes[intact] <= remaining {
            end += sizes[intact];
            intact += 1;
        }
        let journal = Journal::open(config(dir.path()), 0).expect("open a torn journal");
        let expected: Vec<u64> = (1..=intact as u64).collect();
        assert_eq!(seqs(&journal.replay(0).expect("replay")), expected, "chop {chop}");
        assert_eq!(std::fs::metadata(&segment).expect("stat").len(), end, "chop {chop}: truncated to the prefix");

        let (handle, _rx) = journal.start();
        let next = append_all(&handle, [frame(9)]).await;
        assert_eq!(next, vec![intact as u64 + 1], "chop {chop}");
        handle.shutdown().await;
        let journal = Journal::open(config(dir.path()), 0).expect("reopen");
        let mut expected = expected;
        expected.push(intact as u64 + 1);
        assert_eq!(seqs(&journal.replay(0).expect("replay")), expected, "chop {chop}");
    }
}

#[tokio::test]
async fn garbage_appended_after_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (handle, _rx) = Journal::open(config(dir.path()), 0).expect("open").start();
    append_all(&handle, [frame(1), frame(2)]).await;
    handle.shutdown().await;
    let segment = list_segments(dir.path()).expect("list").remove(0).path;
    let len = std::fs::metadata(&segment).expect("stat").len();
    // A crash after the file grew but before the data reached it: zeros.
    let file = std::fs::OpenOptions::new().write(true).open(&segment).expect("open");
    file.set_len(len + 4096).expect("grow");
    drop(file);
    let journal = Journal::open(config(dir.path()), 0).expect("open");
    assert_eq!(seqs(&journal.replay(0).expect("replay")), vec![1, 2]);
    assert_eq!(std::fs::metadata(&segment).expect("stat").len(), len);
}

/// A journal with three segments of records 1-2, 3-4 and 5-6.
async fn three_segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let config = JournalConfig { segment_max_bytes: 1, ..config(dir) };
    let (handle, _rx) = Journal::open(config, 0).expect("open").start();
    for pair in [[1, 2], [3, 4], [5, 6]] {
        // Both appends sent before the writer wakes usually share a group;
        // the test only relies on seqs, not on group boundaries.
        let (a, b) = tokio::join!(handle.append(frame(pair[0])), handle.append(frame(pair[1])));
        a.expect("append");
        b.expect("append");
    }
    handle.shutdown().await;
    list_segments(dir).expect("list").into_iter().map(|s| s.path).collect()
}

#[tokio::test]
async fn a_corrupt_record_is_reported_kept_and_cut_out_and_the_rest_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut one = Vec::new();
    codec::encode_record(1, &frame(1), &mut one).expect("fits");
    // Sequential appends, three records per segment: 1-3 and 4-6.
    let three = JournalConfig { segment_max_bytes: 3 * one.len() as u64 - 1, ..config(dir.path()) };
    let (handle, _rx) = Journal::open(three, 0).expect("open").start();
    append_all(&handle, (1..=6).map(frame)).await;
    handle.shutdown().await;
    let segments = list_segments(dir.path()).expect("list");
    assert_eq!(segments.iter().map(|s| s.first_seq).collect::<Vec<_>>(), vec![1, 4]);
    let victim = &segments[0].path;
    let all: Vec<u64> = (1..=6).collect();
    let mut data = std::fs::read(victim).expect("read");
    let (offset, lost) = (one.len(), 2);
    data[offset + 20] ^= 0x55; // inside the payload of seq 2

    for (floor, nothing_lost) in [(3, true), (0, false)] {
        let mut damaged = data.clone();
        std::fs::write(victim, &damaged).expect("write");
        let journal = Journal::open(config(dir.path()), floor).expect("damage never stops the open");
        let damage = journal.damage();
        assert_eq!(damage.len(), 1, "{damage:?}");
        assert_eq!(&damage[0].path, victim);
        let line = &damage[0].files[0];
        assert!(line.contains(&format!("seq {lost} to {lost} unreadable at bytes {offset} to ")), "{line}");
        assert!(line.contains("checksum"), "{line}");
        assert_eq!(line.ends_with("nothing is lost"), nothing_lost, "{line}");
        if !nothing_lost {
            assert!(line.ends_with(&format!("1 not yet archived are lost (seq {lost} to {lost})")), "{line}");
        }
        assert!(damage[0].to_string().contains("has unreadable records"), "{}", damage[0]);
        // Kept as found, the segment rewritten without the damaged record.
        assert_eq!(std::fs::read(&damage[0].kept_at).expect("kept"), damaged);
        damaged.drain(offset..offset + one.len());
        assert_eq!(std::fs::read(victim).expect("rewritten"), damaged);
        let replayed = seqs(&journal.replay(0).expect("replay"));
        assert_eq!(replayed, all.iter().copied().filter(|&s| s != lost).collect::<Vec<_>>());
        drop(journal);
        // Repaired: the next open finds nothing.
        assert!(Journal::open(config(dir.path()), floor).expect("reopen").damage().is_empty());
    }
}

#[tokio::test]
async fn a_truncated_segment_loses_only_its_cut_records_and_segments_the_archive_holds_are_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segments = three_segments(dir.path()).await;
    let all = seqs(&Journal::open(config(dir.path()), 0).expect("open").replay(0).expect("replay"));
    let victim = &segments[0];
    let second = list_segments(dir.path()).expect("list")[1].first_seq;
    let len = std::fs::metadata(victim).expect("stat").len();
    std::fs::OpenOptions::new().write(true).open(victim).expect("open").set_len(len - 3).expect("cut");

    // The archive holds everything in the first segment: it is not even read.
    let journal = Journal::open(config(dir.path()), second).expect("open");
    assert!(journal.damage().is_empty());
    drop(journal);

    let journal = Journal::open(config(dir.path()), 0).expect("open");
    let line = &journal.damage()[0].files[0];
    assert!(line.contains(&format!("to {} unreadable", second - 1)), "{line}");
    assert!(line.contains("cut short") || line.contains("short record header"), "{line}");
    let replayed = seqs(&journal.replay(0).expect("replay"));
    assert_eq!(replayed, all.iter().copied().filter(|&s| s != second - 1).collect::<Vec<_>>());
}

#[tokio::test]
async fn release_deletes_only_fully_applied_non_active_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = JournalConfig { segment_max_bytes: 1, ..config(dir.path()) };
    let (handle, _rx) = Journal::open(config.clone(), 0).expect("open").start();
    // Sequential appends: one record per group, so one record per segment.
    append_all(&handle, (1..=4).map(frame)).await;
    let firsts = || -> Vec<u64> { list_segments(dir.path()).expect("list").iter().map(|s| s.first_seq).collect() };
    assert_eq!(firsts(), vec![1, 2, 3, 4]);

    handle.release_through(0);
    append_all(&handle, [frame(5)]).await; // requests are served in order: the release is done
    assert_eq!(firsts(), vec![1, 2, 3, 4, 5]);

    handle.release_through(2);
    append_all(&handle, [frame(6)]).await;
    assert_eq!(firsts(), vec![3, 4, 5, 6]);

    // Everything applied: all but the active segment go.
    handle.release_through(100);
    handle.shutdown().await;
    assert_eq!(firsts(), vec![6]);

    let journal = Journal::open(config, 0).expect("reopen");
    assert_eq!(journal.next_seq(), 7);
    assert_eq!(seqs(&journal.replay(0).expect("replay")), vec![6]);
}

#[tokio::test]
async fn replay_after_a_seq_skips_whole_segments_and_crosses_boundaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_segments(dir.path()).await;
    let journal = Journal::open(config(dir.path()), 0).expect("open");
    assert_eq!(seqs(&journal.replay(0).expect("replay")), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(seqs(&journal.replay(3).expect("replay")), vec![4, 5, 6]);
    assert_eq!(seqs(&journal.replay(5).expect("replay")), vec![6]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_get_distinct_increasing_seqs_and_all_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = JournalConfig { segment_max_bytes: 4096, group_max_records: 16, ..config(dir.path()) };
    let (handle, mut committed) = Journal::open(config.clone(), 0).expect("open").start();
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let handle = handle.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..25u64 {
                let n = task * 1000 + i;
                let receipt = handle.append(frame(n)).await.expect("append");
                got.push((receipt.seq(), n));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let got = task.await.expect("task");
        // Each task's own appends are sequential, so its seqs increase.
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
        all.extend(got);
    }
    all.sort();
    assert_eq!(all.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (1..=800).collect::<Vec<u64>>());

    // The committed channel saw every record, in seq order.
    for expected in 1..=800u64 {
        assert_eq!(committed.recv().await.expect("committed").seq, expected);
    }
    handle.shutdown().await;
    assert!(list_segments(dir.path()).expect("list").len() > 1, "rotated");

    let replayed = Journal::open(config, 0).expect("reopen").replay(0).expect("replay");
    assert_eq!(replayed.len(), 800);
    for (record, (seq, n)) in replayed.iter().zip(&all) {
        assert_eq!(record.seq, *seq);
        assert_eq!(record.entry, with_seq(frame(*n), *seq));
    }
}

#[tokio::test]
async fn failed_group_write_is_not_acknowledged_and_leaves_no_half_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(config(dir.path()), 0).expect("open");
    let faults = journal.injected_write_faults.clone();
    let (handle, mut committed) = journal.start();
    append_all(&handle, [frame(1)]).await;
    faults.store(1, Ordering::SeqCst);
    let err = handle.append(frame(2)).await.unwrap_err();
    assert!(matches!(err, JournalError::CommitFailed { .. }), "{err}");
    assert!(err.to_string().contains("injected"), "{err}");
    // The failure is the journal's state until a write succeeds, and the
    // refused append is counted for its source.
    let problems = handle.health().problems();
    assert_eq!((problems.len(), problems[0].store, problems[0].failures), (1, "journal", 1), "{problems:?}");
    assert_eq!(handle.stats().not_stored().values().sum::<u64>(), 1);
    // The next group recovers: the failed seq is given out again.
    assert_eq!(append_all(&handle, [frame(3)]).await, vec![2]);
    assert!(handle.health().problems().is_empty());
    handle.shutdown().await;
    assert_eq!(committed.recv().await.expect("1").seq, 1);
    assert_eq!(committed.recv().await.expect("2").entry, with_seq(frame(3), 2));

    let journal = Journal::open(config(dir.path()), 0).expect("reopen");
    let records = journal.replay(0).expect("replay: no damage in the middle");
    assert_eq!(seqs(&records), vec![1, 2]);
    assert_eq!(records[1].entry, with_seq(frame(3), 2));
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused_until_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (handle, _rx) = Journal::open(config(dir.path()), 0).expect("open").start();
    let err = Journal::open(config(dir.path()), 0).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    let other = handle.clone();
    handle.shutdown().await;
    assert!(matches!(other.append(frame(1)).await, Err(JournalError::WriterStopped)));
    Journal::open(config(dir.path()), 0).expect("unlocked after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pipeline_backlog_holds_back_receipts_until_the_pipeline_takes_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = JournalConfig { pipeline_backlog_records: 4, ..config(dir.path()) };
    let journal = Journal::open(config, 1).expect("open");
    let (handle, mut committed) = journal.start();
    assert_eq!(append_all(&handle, (0..4).map(frame)).await, vec![1, 2, 3, 4]);

    // The backlog is full: the fifth record is written, but its receipt waits.
    let fifth = tokio::spawn({
        let handle = handle.clone();
        async move { handle.append(frame(5)).await.expect("append").seq() }
    });
    let mut fifth = std::pin::pin!(fifth);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), &mut fifth).await.is_err(),
        "a receipt was given while the pipeline was {} records behind",
        4
    );

    // The pipeline takes one record: the receipt follows.
    assert_eq!(committed.recv().await.expect("a committed record").seq, 1);
    let seq =
        tokio::time::timeout(std::time::Duration::from_secs(10), fifth).await.expect("receipt in time").expect("task");
    assert_eq!(seq, 5);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_backlog_full_in_bytes_holds_back_receipts_until_the_pipeline_takes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let weight = JournalRecord { seq: 1, entry: frame(0) }.backlog_bytes();
    let config = JournalConfig { pipeline_backlog_bytes: 3 * weight, ..config(dir.path()) };
    let journal = Journal::open(config, 1).expect("open");
    let (handle, mut committed) = journal.start();
    assert_eq!(append_all(&handle, (0..3).map(frame)).await, vec![1, 2, 3]);
    assert_eq!(handle.stats().backlog_bytes(), 3 * weight);

    let fourth = tokio::spawn({
        let handle = handle.clone();
        async move { handle.append(frame(3)).await.expect("append").seq() }
    });
    let mut fourth = std::pin::pin!(fourth);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), &mut fourth).await.is_err(),
        "a receipt was given while the pipeline's backlog was full in bytes"
    );
    // The pipeline takes one record and says what it weighed: the receipt follows.
    let taken = committed.recv().await.expect("a committed record");
    handle.stats().record_taken_bytes(taken.backlog_bytes());
    let seq =
        tokio::time::timeout(std::time::Duration::from_secs(10), fourth).await.expect("receipt in time").expect("task");
    assert_eq!(seq, 4);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_writer_waiting_for_a_pipeline_that_takes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let weight = JournalRecord { seq: 1, entry: frame(0) }.backlog_bytes();
    for (records, bytes) in [(2, u64::MAX), (1024, 2 * weight)] {
        let config =
            JournalConfig { pipeline_backlog_records: records, pipeline_backlog_bytes: bytes, ..config(dir.path()) };
        let journal = Journal::open(config, 1).expect("open");
        let first = journal.next_seq();
        let (handle, committed) = journal.start();
        assert_eq!(append_all(&handle, (0..2).map(frame)).await, vec![first, first + 1]);
        // The backlog is full and nobody takes: the third waits for room.
        let third = tokio::spawn({
            let handle = handle.clone();
            async move { handle.append(frame(2)).await.expect("append").seq() }
        });
        // Once it is written (and so waiting), the host stops.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while handle.stats().snapshot().records < 3 {
            assert!(std::time::Instant::now() < deadline, "the third record was never written");
            tokio::task::yield_now().await;
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), handle.shutdown()).await.expect("shutdown in time");
        // Its receipt came: it is durable, and the next start has it.
        assert_eq!(third.await.expect("task"), first + 2);
        drop(committed);
        let journal = Journal::open(self::config(dir.path()), 1).expect("reopen");
        assert_eq!(seqs(&journal.replay(first + 1).expect("replay")), vec![first + 2]);
    }
}

#[tokio::test]
async fn a_clean_stop_discards_what_the_archive_holds_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let small = JournalConfig { segment_max_bytes: 200, ..config(dir.path()) };
    let (handle, _committed) = Journal::open(small.clone(), 1).expect("open").start();
    assert_eq!(append_all(&handle, (0..10).map(frame)).await, (1..=10).collect::<Vec<_>>());
    handle.shutdown().await;
    assert!(list_segments(dir.path()).expect("list").len() > 2, "the test needs several segments");

    // Applied through 6: segments holding 7..10 stay.
    let removed = Journal::open(small.clone(), 7).expect("open").discard_applied(6).expect("discard");
    assert!(removed > 0);
    let journal = Journal::open(small.clone(), 7).expect("open");
    assert_eq!(seqs(&journal.replay(6).expect("replay")), vec![7, 8, 9, 10]);
    // Applied through 10: nothing is left, and the sequence goes on.
    journal.discard_applied(10).expect("discard all");
    assert!(list_segments(dir.path()).expect("list").is_empty());
    let (handle, _committed) = Journal::open(small, 11).expect("reopen").start();
    assert_eq!(append_all(&handle, [frame(11)]).await, vec![11]);
    handle.shutdown().await;
}

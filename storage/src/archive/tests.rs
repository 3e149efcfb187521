//! Archive scenarios: natural-key dedup, conflicts, idempotent replay, the
//! accounting invariant, re-decode, queries, the global log and cursors,
//! corruption and open failures.

use meterhub_plugin_api::{Decimal, Decoded, Reading, ReadingKind, Telemetry, Transport};

use super::*;
use crate::journal::{Entry, JournalRecord, Rejection};
use crate::testing::{T0, decoded, raw, reading};

fn quarantined(seq: u64, source: &str, reason: &str) -> ApplyItem {
    ApplyItem {
        record: JournalRecord { seq, entry: Entry::Frame(raw(seq, source)) },
        verdict: Some(Verdict::Quarantined(reason.into())),
    }
}

fn rejected(seq: u64, source: &str) -> ApplyItem {
    let rejection = Rejection {
        source: source.into(),
        peer: "192.0.2.1".into(),
        received_at_ms: T0,
        transport: Transport::Http,
        reason: format!("bad {seq}"),
        input: b"junk".to_vec(),
    };
    ApplyItem { record: JournalRecord { seq, entry: Entry::Rejected(rejection) }, verdict: None }
}

fn open(dir: &tempfile::TempDir) -> SledArchive {
    SledArchive::open(&dir.path().join("archive")).expect("open archive")
}

fn all(device: Option<&str>) -> ReadingQuery {
    ReadingQuery { device: device.map(str::to_string), channel: None, from_ms: None, to_ms: None, limit: usize::MAX }
}

fn values(readings: &[StoredReading]) -> Vec<(String, i64, String, bool)> {
    readings
        .iter()
        .map(|s| (s.reading.channel.clone(), s.reading.ts_ms, s.reading.value.to_string(), s.conflict))
        .collect()
}

fn counters_of(archive: &SledArchive, source: &str) -> SourceCounters {
    archive.counters().expect("counters").remove(source).unwrap_or_default()
}

#[test]
fn a_repeated_reading_is_a_duplicate_and_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let first = archive
        .apply(vec![decoded(1, "s", vec![reading("m1", "vol", T0, "1.5"), reading("m1", "vol", T0 + 1, "1.6")])])
        .expect("apply");
    assert_eq!(first.applied_through, 1);
    assert_eq!(first.readings().map(|s| s.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(first.readings().all(|s| s.frame_seq == 1 && s.source == "s" && !s.conflict));

    // Same key and value (1.50 is numerically 1.5): duplicate, frame counts as duplicate.
    let again = archive.apply(vec![decoded(2, "s", vec![reading("m1", "vol", T0, "1.50")])]).expect("apply");
    assert!(again.readings().next().is_none());
    // One repeat and one new reading: the frame is archived.
    let mixed = archive
        .apply(vec![decoded(3, "s", vec![reading("m1", "vol", T0, "1.5"), reading("m1", "vol", T0 + 2, "1.7")])])
        .expect("apply");
    assert_eq!(mixed.readings().count(), 1);
    assert_eq!(mixed.readings().next().expect("a new reading").seq, 3);

    let stored = archive.readings(&all(Some("m1"))).expect("readings");
    assert_eq!(stored.len(), 3);
    let c = counters_of(&archive, "s");
    assert_eq!((c.received, c.archived, c.duplicate), (3, 2, 1));
    assert_eq!((c.readings_new, c.readings_duplicate, c.readings_conflict), (3, 2, 0));
    assert!(c.balanced());
    let device = archive.device("m1").expect("device").expect("known");
    assert_eq!((device.readings, device.first_ts_ms, device.last_ts_ms), (3, T0, T0 + 2));
    assert_eq!(device.last_received_at_ms, raw(3, "s").received_at_ms);
}

#[test]
fn a_conflicting_value_is_kept_flagged_and_the_original_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    archive.apply(vec![decoded(1, "a", vec![reading("m1", "vol", T0, "10")])]).expect("apply");
    let conflict = archive.apply(vec![decoded(2, "b", vec![reading("m1", "vol", T0, "11")])]).expect("apply");
    assert_eq!(conflict.readings().count(), 1);
    assert!(conflict.readings().next().expect("a new reading").conflict);
    assert_eq!(conflict.readings().next().expect("a new reading").seq, 2);
    // The same conflicting value again is a duplicate; a third value is another conflict.
    archive.apply(vec![decoded(3, "b", vec![reading("m1", "vol", T0, "11")])]).expect("apply");
    archive.apply(vec![decoded(4, "b", vec![reading("m1", "vol", T0, "12")])]).expect("apply");

    let stored = archive.readings(&all(Some("m1"))).expect("readings");
    assert_eq!(
        values(&stored),
        vec![
            ("vol".into(), T0, "10".into(), false),
            ("vol".into(), T0, "11".into(), true),
            ("vol".into(), T0, "12".into(), true)
        ]
    );
    assert_eq!(stored[0].source, "a");
    assert_eq!(archive.latest("m1").expect("latest")[0].reading.value, Decimal::from(10));
    let b = counters_of(&archive, "b");
    assert_eq!((b.received, b.archived, b.duplicate), (3, 2, 1));
    assert_eq!((b.readings_conflict, b.readings_duplicate, b.readings_new), (2, 1, 0));
    // A conflict is not another distinct reading of the device.
    assert_eq!(archive.device("m1").expect("device").expect("known").readings, 1);

    // A different unit or kind under the same key is a conflict too.
    let other_unit = Reading { unit: "l".into(), ..reading("m1", "vol", T0, "10") };
    let other_kind = Reading { kind: ReadingKind::Instantaneous, ..reading("m1", "vol", T0, "10") };
    let result = archive.apply(vec![decoded(5, "a", vec![other_unit, other_kind])]).expect("apply");
    assert_eq!(result.readings().filter(|s| s.conflict).count(), 2);

    // Versions of one key within one apply, across its frames: each compared with all before it.
    let key = |value: &str| reading("m2", "vol", T0, value);
    let result = archive
        .apply(vec![
            decoded(6, "c", vec![key("20"), key("21"), key("20")]),
            decoded(7, "c", vec![key("22"), key("21"), key("20")]),
        ])
        .expect("apply");
    let got: Vec<(String, bool)> = result.readings().map(|s| (s.reading.value.to_string(), s.conflict)).collect();
    assert_eq!(got, [("20".into(), false), ("21".into(), true), ("22".into(), true)]);
    let c = counters_of(&archive, "c");
    assert_eq!((c.readings_new, c.readings_conflict, c.readings_duplicate), (1, 2, 3));
    // And against what the apply before stored.
    let result = archive.apply(vec![decoded(8, "c", vec![key("22"), key("23")])]).expect("apply");
    assert_eq!(result.readings().map(|s| s.reading.value.to_string()).collect::<Vec<_>>(), ["23"]);
}

#[test]
fn reapplying_the_same_journal_seqs_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive");
    let batch = || {
        vec![
            decoded(1, "s", vec![reading("m1", "vol", T0, "1")]),
            quarantined(2, "s", "bad crc"),
            rejected(3, "s"),
            decoded(4, "s", vec![reading("m1", "vol", T0 + 1, "2")]),
        ]
    };
    {
        let archive = SledArchive::open(&path).expect("open");
        assert_eq!(archive.applied_through().expect("applied"), 0);
        assert_eq!(archive.apply(batch()).expect("apply").applied_through, 4);
        archive.flush().expect("flush");
    }
    // After a crash the journal replays records the archive already holds.
    let archive = SledArchive::open(&path).expect("reopen");
    assert_eq!(archive.applied_through().expect("applied"), 4);
    let before = archive.counters().expect("counters");
    let replay = archive.apply(batch()).expect("replay");
    assert_eq!(replay.applied_through, 4);
    assert!(replay.readings().next().is_none());
    assert_eq!(archive.counters().expect("counters"), before);
    assert_eq!(archive.readings(&all(None)).expect("readings").len(), 2);

    // A batch overlapping the applied prefix applies only its new part.
    let mut overlap = batch();
    overlap.push(decoded(5, "s", vec![reading("m1", "vol", T0 + 2, "3")]));
    let result = archive.apply(overlap).expect("apply");
    assert_eq!((result.applied_through, result.readings().count()), (5, 1));
    assert_eq!(result.readings().next().expect("a new reading").seq, 3);
    assert_eq!(counters_of(&archive, "s").received, 5);
    // An empty batch changes nothing.
    assert_eq!(archive.apply(vec![]).expect("apply").applied_through, 5);
}

#[test]
fn counters_balance_after_a_mix_of_every_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let no_verdict = ApplyItem { record: JournalRecord { seq: 6, entry: Entry::Frame(raw(6, "lora")) }, verdict: None };
    let telemetry = ApplyItem {
        record: JournalRecord { seq: 7, entry: Entry::Frame(raw(7, "lora")) },
        verdict: Some(Verdict::Decoded(Decoded {
            readings: vec![],
            telemetry: vec![Telemetry {
                module: "eui-1".into(),
                ts_ms: T0,
                battery_pct: Some(90),
                ..Default::default()
            }],
            fields: None,
        })),
    };
    let summary = archive
        .apply(vec![
            decoded(1, "lora", vec![reading("m1", "vol", T0, "1"), reading("m2", "vol", T0, "5")]),
            decoded(2, "lora", vec![reading("m1", "vol", T0, "1")]), // duplicate
            decoded(3, "vega", vec![reading("m1", "vol", T0, "2")]), // conflict
            quarantined(4, "lora", "unknown packet type 0x7F"),
            rejected(5, "lora"),
            no_verdict,
            telemetry,
            decoded(8, "vega", vec![reading("m\0", "vol", T0, "1")]), // unkeyable: quarantined
            rejected(9, "http"),
        ])
        .expect("apply");
    assert_eq!(summary.applied_through, 9);

    let counters = archive.counters().expect("counters");
    for (source, c) in &counters {
        assert!(c.balanced(), "{source}: {c:?}");
    }
    let lora = &counters["lora"];
    assert_eq!(
        (lora.received, lora.archived, lora.duplicate, lora.quarantined, lora.rejected, lora.telemetry),
        (6, 2, 1, 2, 1, 1)
    );
    let vega = &counters["vega"];
    assert_eq!((vega.received, vega.archived, vega.quarantined, vega.readings_conflict), (2, 1, 1, 1));
    assert_eq!((counters["http"].received, counters["http"].rejected), (1, 1));

    let reasons: Vec<String> = archive.quarantine(10).expect("quarantine").into_iter().map(|q| q.reason).collect();
    assert_eq!(reasons.len(), 3);
    assert_eq!(reasons[0], "unknown packet type 0x7F");
    assert!(reasons[1].contains("no codec verdict"));
    assert!(reasons[2].contains("NUL"), "{}", reasons[2]);
    assert_eq!(archive.quarantine(1).expect("quarantine")[0].frame, raw(4, "lora"));
    assert_eq!(archive.module("eui-1").expect("module").expect("stored").latest.battery_pct, Some(90));
    let rejections = archive.rejections("lora", 10).expect("rejections");
    assert_eq!(rejections.len(), 1);
    assert_eq!((rejections[0].seq, rejections[0].rejection.reason.as_str()), (5, "bad 5"));
}

#[test]
fn redecode_moves_frames_out_of_quarantine_and_keeps_the_invariant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    archive
        .apply(vec![
            decoded(1, "s", vec![reading("m1", "vol", T0, "1")]),
            quarantined(2, "s", "codec v1 bug"),
            quarantined(3, "s", "codec v1 bug"),
            quarantined(4, "s", "truly garbage"),
        ])
        .expect("apply");
    let fixed = |readings| Verdict::Decoded(Decoded { readings, ..Decoded::default() });

    // Frame 2 now decodes to a new reading: quarantined -> archived.
    let outcome = archive.redecode(2, fixed(vec![reading("m1", "vol", T0 + 1, "2")])).expect("redecode");
    assert_eq!(outcome, RedecodeOutcome::Decoded { new: 1, duplicate: 0, conflict: 0 });
    // Frame 3 decodes to a reading already archived: quarantined -> duplicate.
    let outcome = archive.redecode(3, fixed(vec![reading("m1", "vol", T0, "1")])).expect("redecode");
    assert_eq!(outcome, RedecodeOutcome::Decoded { new: 0, duplicate: 1, conflict: 0 });
    // Frame 4 still fails: stays, with the new reason.
    let outcome = archive.redecode(4, Verdict::Quarantined("still garbage".into())).expect("redecode");
    assert_eq!(outcome, RedecodeOutcome::StillQuarantined("still garbage".into()));

    let c = counters_of(&archive, "s");
    assert!(c.balanced(), "{c:?}");
    assert_eq!((c.received, c.archived, c.duplicate, c.quarantined, c.redecoded), (4, 2, 1, 1, 2));
    let left = archive.quarantine(10).expect("quarantine");
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].frame.seq, left[0].reason.as_str()), (4, "still garbage"));

    // Re-decoding an archived frame applies readings, frame counters unchanged.
    let outcome = archive
        .redecode(1, fixed(vec![reading("m1", "vol", T0, "1"), reading("m1", "energy", T0, "7")]))
        .expect("redecode");
    assert_eq!(outcome, RedecodeOutcome::Decoded { new: 1, duplicate: 1, conflict: 0 });
    let after = counters_of(&archive, "s");
    assert_eq!((after.received, after.archived, after.duplicate, after.quarantined), (4, 2, 1, 1));
    assert_eq!(after.readings_new, c.readings_new + 1);
    // A failing re-decode of an archived frame does not quarantine it.
    archive.redecode(1, Verdict::Quarantined("nope".into())).expect("redecode");
    assert_eq!(archive.quarantine(10).expect("quarantine").len(), 1);

    assert!(matches!(archive.redecode(99, fixed(vec![])), Err(ArchiveError::UnknownFrame { seq: 99 })));
}

#[test]
fn queries_by_device_channel_and_time_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let mut readings = Vec::new();
    for device in ["m1", "m10", "m2"] {
        for channel in ["energy", "vol"] {
            for ts in [-2_000i64, -1, 0, 1_000, 2_000] {
                readings.push(reading(device, channel, ts, &ts.to_string()));
            }
        }
    }
    archive.apply(vec![decoded(1, "s", readings)]).expect("apply");

    let q = |device: Option<&str>, channel: Option<&str>, from_ms, to_ms, limit| ReadingQuery {
        device: device.map(str::to_string),
        channel: channel.map(str::to_string),
        from_ms,
        to_ms,
        limit,
    };
    let got = archive.readings(&q(Some("m1"), Some("vol"), Some(-1), Some(1_000), 100)).expect("readings");
    assert_eq!(values(&got).iter().map(|v| v.1).collect::<Vec<_>>(), vec![-1, 0]);
    assert!(got.iter().all(|s| s.reading.device == "m1" && s.reading.channel == "vol"));

    // Device only: both channels, ordered by channel then time; "m1" does not include "m10".
    let got = archive.readings(&q(Some("m1"), None, Some(0), None, 100)).expect("readings");
    let expected: Vec<(String, i64)> =
        [("energy", 0), ("energy", 1_000), ("energy", 2_000), ("vol", 0), ("vol", 1_000), ("vol", 2_000)]
            .into_iter()
            .map(|(c, t)| (c.to_string(), t))
            .collect();
    assert_eq!(values(&got).into_iter().map(|v| (v.0, v.1)).collect::<Vec<_>>(), expected);

    // Channel across devices, with a limit.
    let got = archive.readings(&q(None, Some("energy"), None, Some(0), 100)).expect("readings");
    assert_eq!(
        got.iter().map(|s| (s.reading.device.as_str(), s.reading.ts_ms)).collect::<Vec<_>>(),
        vec![("m1", -2_000), ("m1", -1), ("m10", -2_000), ("m10", -1), ("m2", -2_000), ("m2", -1)]
    );
    assert_eq!(archive.readings(&q(None, None, None, None, 7)).expect("readings").len(), 7);
    assert_eq!(archive.readings(&q(None, None, None, None, usize::MAX)).expect("readings").len(), 30);
    // Empty and impossible ranges.
    assert!(archive.readings(&q(Some("m1"), Some("vol"), Some(5), Some(5), 10)).expect("readings").is_empty());
    assert!(archive.readings(&q(Some("nobody"), None, None, None, 10)).expect("readings").is_empty());
    assert!(archive.readings(&q(Some("m\0"), None, None, None, 10)).expect("readings").is_empty());
    assert!(archive.readings(&q(Some("m1"), None, None, None, 0)).expect("readings").is_empty());

    let devices: Vec<String> = archive.devices().expect("devices").into_iter().map(|d| d.device).collect();
    assert_eq!(devices, vec!["m1", "m10", "m2"]);
    let m2 = archive.device("m2").expect("device").expect("known");
    assert_eq!((m2.first_ts_ms, m2.last_ts_ms, m2.readings), (-2_000, 2_000, 10));
    assert_eq!(m2.channels, vec!["energy", "vol"]);
}

#[test]
fn latest_is_per_channel_by_device_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    archive
        .apply(vec![
            decoded(1, "s", vec![reading("m1", "vol", T0 + 5_000, "5"), reading("m1", "energy", T0, "100")]),
            // Backfill arrives later but is older by device time.
            decoded(2, "s", vec![reading("m1", "vol", T0, "1"), reading("m1", "energy", T0 + 9_000, "109")]),
            decoded(3, "s", vec![reading("m2", "vol", T0, "42")]),
        ])
        .expect("apply");
    let latest = archive.latest("m1").expect("latest");
    assert_eq!(
        values(&latest),
        vec![("energy".into(), T0 + 9_000, "109".into(), false), ("vol".into(), T0 + 5_000, "5".into(), false)]
    );
    assert!(archive.latest("unknown").expect("latest").is_empty());
}

#[test]
fn a_reading_from_a_clock_ahead_never_hides_the_newer_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let now = crate::clock::now_ms();
    let ten_minutes = 600_000;
    archive
        .apply(vec![
            decoded(1, "s", vec![reading("m1", "vol", now - 60_000, "1")]),
            // The device's clock ran ten minutes ahead for one frame.
            decoded(2, "s", vec![reading("m1", "vol", now + ten_minutes, "5")]),
            decoded(3, "s", vec![reading("m1", "vol", now - 30_000, "2"), reading("m1", "vol", now, "3")]),
            // A meter only ever heard ahead has no trustworthy latest value.
            decoded(4, "s", vec![reading("m2", "vol", now + ten_minutes, "7")]),
        ])
        .expect("apply");
    let latest = archive.latest("m1").expect("latest");
    assert_eq!(values(&latest), vec![("vol".into(), now, "3".into(), false)]);
    assert!(archive.latest("m2").expect("latest").is_empty());
    let m1 = archive.device("m1").expect("device").expect("known");
    assert_eq!(m1.last_ts_ms, now, "the summary's latest time is a trustworthy one");
    // Kept and shown, flagged.
    let tolerance = archive.device_clock_tolerance_ms();
    let stored = archive.readings(&all(Some("m1"))).expect("readings");
    let flags: Vec<bool> = stored.iter().map(|r| r.stamped_ahead(tolerance)).collect();
    assert_eq!(flags, [false, false, false, true]);
    let view = view::ReadingView::new(stored[3].clone(), tolerance);
    assert!(view.clock_ahead);
    // Sealed into chunks, the same holds.
    archive.seal().expect("seal");
    assert_eq!(values(&archive.latest("m1").expect("latest")), vec![("vol".into(), now, "3".into(), false)]);
}

#[test]
fn the_global_log_is_ordered_and_cursors_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive");
    {
        let archive = SledArchive::open(&path).expect("open");
        archive
            .apply(vec![
                decoded(1, "s", vec![reading("m2", "vol", T0, "1"), reading("m1", "vol", T0, "1")]),
                decoded(2, "s", vec![reading("m1", "vol", T0, "2")]), // conflict: in the log too
                decoded(3, "s", vec![reading("m1", "vol", T0 - 1, "0")]),
            ])
            .expect("apply");
        let log: Vec<StoredReading> = crate::testing::readable_log(&archive, 0, 100);
        assert_eq!(log.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(log.iter().map(|s| s.reading.device.as_str()).collect::<Vec<_>>(), vec!["m2", "m1", "m1", "m1"]);
        assert!(log[2].conflict);
        let seqs: Vec<u64> = crate::testing::readable_log(&archive, 1, 2).iter().map(|s| s.seq).collect();
        assert_eq!(seqs, vec![2, 3]);
        assert!(archive.log_after(4, 10).expect("log").is_empty());
        assert!(archive.log_after(u64::MAX, 10).expect("log").is_empty());

        assert_eq!(archive.cursor("postgres").expect("cursor"), None);
        archive.set_cursor("postgres", 3).expect("set");
        archive.set_cursor("accounting", 4).expect("set");
        archive.set_cursor("postgres", 2).expect("set");
        archive.flush().expect("flush");
    }
    let archive = SledArchive::open(&path).expect("reopen");
    assert_eq!(archive.cursor("postgres").expect("cursor"), Some(2));
    assert_eq!(archive.cursor("accounting").expect("cursor"), Some(4));
    // The sequence continues after a reopen.
    let next = archive.apply(vec![decoded(4, "s", vec![reading("m3", "vol", T0, "1")])]).expect("apply");
    assert_eq!(next.readings().next().expect("a new reading").seq, 5);
}

#[test]
fn frames_are_stored_and_found_by_receive_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    archive
        .apply(vec![decoded(1, "s", vec![]), quarantined(2, "s", "x"), decoded(3, "s", vec![]), rejected(4, "s")])
        .expect("apply");
    assert_eq!(archive.frame(2).expect("frame"), Some(raw(2, "s")));
    assert_eq!(archive.frame(4).expect("frame"), None);
    let between = archive.frames_received_between(T0 + 2_000, T0 + 3_000).expect("frames");
    assert_eq!(between, vec![raw(2, "s")]);
    assert_eq!(archive.frames_received_between(T0, T0 + 10_000).expect("frames").len(), 3);
    assert!(archive.frames_received_between(T0 + 3_000, T0 + 3_000).expect("frames").is_empty());
    // Many at once, across blocks; those not held are absent.
    archive.apply(vec![decoded(5, "s", vec![]), decoded(6, "t", vec![])]).expect("apply");
    let many = archive.frames(&[1, 3, 4, 6, 9]).expect("frames");
    assert_eq!(many.into_values().collect::<Vec<_>>(), vec![raw(1, "s"), raw(3, "s"), raw(6, "t")]);
}

#[test]
fn module_activity_keeps_the_latest_telemetry_counts_lost_uplinks_and_links_meters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let frame = |seq, ts_ms, battery, counter, meters: &[&str]| ApplyItem {
        record: JournalRecord { seq, entry: Entry::Frame(raw(seq, "s")) },
        verdict: Some(Verdict::Decoded(Decoded {
            readings: meters.iter().map(|m| reading(m, "pulses", ts_ms, "1")).collect(),
            telemetry: vec![Telemetry {
                module: "eui".into(),
                ts_ms,
                battery_pct: Some(battery),
                frame_counter: Some(counter),
                ..Default::default()
            }],
            fields: None,
        })),
    };
    // Counter 3 never came; 2 came twice; the older frame 4 does not replace the latest.
    archive
        .apply(vec![
            frame(1, T0 + 10, 80, 1, &["eui.1", "eui.2"]),
            frame(2, T0 + 20, 79, 2, &["eui.1"]),
            frame(3, T0 + 20, 79, 2, &["eui.1"]),
        ])
        .expect("apply");
    archive.apply(vec![frame(4, T0 + 40, 77, 4, &[]), frame(5, T0, 99, 0, &[])]).expect("apply");
    let activity = archive.module("eui").expect("module").expect("stored");
    assert_eq!((activity.latest.battery_pct, activity.latest.ts_ms), (Some(77), T0 + 40));
    assert_eq!((activity.frames, activity.counter.lost()), (5, 1), "{activity:?}");
    assert_eq!((activity.first_received_at_ms, activity.last_received_at_ms), (T0 + 1000, T0 + 5000));
    assert_eq!(activity.source, "s");
    assert_eq!(archive.module("other").expect("module"), None);
    assert_eq!(archive.modules().expect("modules").len(), 1);
    let module_of = |d: &str| archive.device(d).expect("device").expect("stored").module;
    assert_eq!((module_of("eui.1"), module_of("eui.2")), (Some("eui".into()), Some("eui".into())));
}

#[test]
fn a_model_in_the_decoded_fields_is_kept_with_the_meters_of_the_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let frame = |seq: u64, fields: Option<&str>| ApplyItem {
        record: JournalRecord { seq, entry: Entry::Frame(raw(seq, "s")) },
        verdict: Some(Verdict::Decoded(Decoded {
            readings: vec![reading("m1", "volume", T0 + seq as i64, "1")],
            telemetry: vec![],
            fields: fields.map(str::to_owned),
        })),
    };
    let model = |archive: &SledArchive| archive.device("m1").expect("device").expect("stored").model;
    archive.apply(vec![frame(1, None)]).expect("apply");
    assert_eq!(model(&archive), None);
    archive.apply(vec![frame(2, Some(r#"{"model":"SI-12","pulses":4}"#))]).expect("apply");
    assert_eq!(model(&archive).as_deref(), Some("SI-12"));
    // Fields without one, or with something else there, keep what is known.
    let long = format!(r#"{{"model":"{}"}}"#, "x".repeat(65));
    for (seq, fields) in [(3, r#"{"pulses":5}"#), (4, r#"{"model":7}"#), (5, "not json"), (6, long.as_str())] {
        archive.apply(vec![frame(seq, Some(fields))]).expect("apply");
    }
    assert_eq!(model(&archive).as_deref(), Some("SI-12"));
    archive.apply(vec![frame(7, Some(r#"{"model":" SI-13 "}"#))]).expect("apply");
    assert_eq!(model(&archive).as_deref(), Some("SI-13"));
}

#[test]
fn only_the_newest_rejections_are_kept_per_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let total = REJECTIONS_KEPT_PER_SOURCE as u64 + 5;
    archive.apply((1..=total - 2).map(|seq| rejected(seq, "flood")).collect()).expect("apply");
    archive.apply(vec![rejected(total - 1, "flood"), rejected(total, "flood")]).expect("apply");
    let kept = archive.rejections("flood", usize::MAX).expect("rejections");
    assert_eq!(kept.len(), REJECTIONS_KEPT_PER_SOURCE);
    assert_eq!(kept[0].seq, total);
    assert_eq!(kept.last().map(|r| r.seq), Some(6));
    assert_eq!(counters_of(&archive, "flood").rejected, total);
}

#[test]
fn a_damaged_chunk_is_reported_with_its_key_and_a_damaged_log_block_is_rebuilt_from_the_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut archive = open(&dir);
    archive
        .apply(vec![decoded(1, "s", vec![reading("m1", "vol", T0, "1"), reading("m2", "vol", T0, "2")])])
        .expect("apply");
    archive.seal().expect("seal");
    let intact = archive.log_after(0, 10).expect("log").into_entries();

    // A damaged log block whose readings are in intact chunks reads as before.
    let block = crate::testing::log_block_key(&archive, 1);
    crate::testing::damage(&archive, &block);
    archive.flush().expect("flush");
    drop(archive);
    archive = open(&dir);
    let rebuilt = archive.log_after(0, 10).expect("log").into_entries();
    assert_eq!(format!("{rebuilt:?}"), format!("{intact:?}"));

    // A damaged chunk: queries name it, and the log names what it lost.
    crate::testing::damage(&archive, &crate::testing::chunk_key(&archive, "m1", "vol", T0));
    let err = archive.readings(&all(Some("m1"))).unwrap_err();
    assert!(matches!(err, ArchiveError::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("Cm1\\x00vol\\x00") && message.contains("checksum"), "{message}");
    assert_eq!(archive.readings(&all(Some("m2"))).expect("the other meter reads").len(), 1);
    let log = archive.log_after(0, 10).expect("log").into_entries();
    let unreadable = log[0].as_ref().unwrap_err();
    assert_eq!(unreadable.seq, 1);
    assert!(matches!(unreadable.error, ArchiveError::Corrupt { .. }));
    assert_eq!(log[1].as_ref().expect("m2 is found in its chunk").reading.device, "m2");
    // The next apply touching the series rebuilds the chunk from the log;
    // with its log block damaged too, that reading is lost, so the same
    // reading coming again is archived anew (never dropped as a repeat of
    // something the archive no longer has).
    let again = archive.apply(vec![decoded(2, "s", vec![reading("m1", "vol", T0, "1")])]).expect("apply");
    assert_eq!(again.readings().count(), 1);
    assert_eq!(archive.readings(&all(Some("m1"))).expect("readable again").len(), 1);
    assert_eq!(archive.tree().scan_prefix(b"X").count(), 1, "the damaged bytes are kept");

    // A damaged marker is caught when opening.
    archive.tree().insert(super::keys::APPLIED_THROUGH, vec![0u8; 12]).expect("insert");
    assert!(matches!(archive.applied_through(), Err(ArchiveError::Corrupt { .. })));
}

#[test]
fn a_damaged_chunk_is_rebuilt_from_the_log_by_the_next_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    for seq in 1..=20u64 {
        let ts = T0 + seq as i64 * 60_000;
        archive.apply(vec![decoded(seq, "s", vec![reading("m1", "vol", ts, &seq.to_string())])]).expect("apply");
    }
    archive.seal().expect("seal");
    let before = archive.readings(&all(Some("m1"))).expect("readings");
    let key = crate::testing::chunk_key(&archive, "m1", "vol", T0 + 60_000);
    crate::testing::damage(&archive, &key);
    assert!(matches!(archive.readings(&all(Some("m1"))), Err(ArchiveError::Corrupt { .. })));
    // A repeat of a reading the damaged chunk held: still a duplicate.
    let again = archive.apply(vec![decoded(21, "s", vec![reading("m1", "vol", T0 + 5 * 60_000, "5")])]).expect("apply");
    assert!(again.readings().next().is_none());
    assert_eq!(counters_of(&archive, "s").readings_duplicate, 1);
    assert_eq!(archive.readings(&all(Some("m1"))).expect("rebuilt"), before);
    let kept: Vec<_> = archive.tree().scan_prefix(b"X").keys().map(|k| k.expect("key").to_vec()).collect();
    assert_eq!(kept, vec![[b"X".as_slice(), &key].concat()]);
    // A seal over a damaged chunk rebuilds it too.
    archive.apply(vec![decoded(22, "s", vec![reading("m1", "vol", T0 + 30 * 60_000, "30")])]).expect("apply");
    crate::testing::damage(&archive, &crate::testing::chunk_key(&archive, "m1", "vol", T0 + 60_000));
    archive.seal().expect("seal");
    assert_eq!(archive.readings(&all(Some("m1"))).expect("rebuilt").len(), 21);
}

/// A small deterministic generator for the scenario tests.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Applies a random mix of in-order, late, repeated and conflicting readings
/// of a few meters, with the heads sealed every few readings, and checks
/// every query against a plain model of what must be stored.
#[test]
fn sealing_into_chunks_changes_no_query() {
    for seed in 1..=6u64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("archive");
        let options = ArchiveOptions { head_readings: 1 + seed as usize * 7, ..ArchiveOptions::default() };
        let mut archive = SledArchive::open_with(&path, options, super::sled_archive::LOCK_WAIT).expect("open");
        let mut rng = Lcg(seed);
        // The model: natural key -> values in archive order.
        let mut model: std::collections::BTreeMap<(String, String, i64), Vec<String>> = Default::default();
        let mut seq = 0;
        for step in 0..120u64 {
            let mut readings = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let device = format!("m{}", rng.below(3));
                let channel = ["vol", "t"][rng.below(2) as usize];
                let ts = T0 + rng.below(60) as i64 * 60_000;
                let value = rng.below(3).to_string();
                readings.push(reading(&device, channel, ts, &value));
                let versions = model.entry((device, channel.to_owned(), ts)).or_default();
                if !versions.contains(&value) {
                    versions.push(value);
                }
            }
            seq += 1;
            archive.apply(vec![decoded(seq, "s", readings)]).expect("apply");
            if step % 40 == 39 {
                // Reopening rebuilds the heads from the log.
                archive.flush().expect("flush");
                drop(archive);
                archive = SledArchive::open_with(&path, options, super::sled_archive::LOCK_WAIT).expect("reopen");
            }
        }
        let stored = archive.readings(&all(None)).expect("readings");
        let got: Vec<(String, String, i64, String, bool)> = stored
            .iter()
            .map(|s| {
                (
                    s.reading.device.clone(),
                    s.reading.channel.clone(),
                    s.reading.ts_ms,
                    s.reading.value.to_string(),
                    s.conflict,
                )
            })
            .collect();
        let want: Vec<(String, String, i64, String, bool)> = model
            .iter()
            .flat_map(|((d, c, ts), values)| {
                values.iter().enumerate().map(move |(i, v)| (d.clone(), c.clone(), *ts, v.clone(), i > 0))
            })
            .collect();
        assert_eq!(got, want, "seed {seed}");
        // The log holds each stored record once, in seq order.
        let log = crate::testing::readable_log(&archive, 0, usize::MAX);
        assert_eq!(log.len(), want.len(), "seed {seed}");
        assert!(log.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
        let mut by_seq = stored.clone();
        by_seq.sort_by_key(|s| s.seq);
        assert_eq!(log, by_seq, "seed {seed}");
        // A time range and a limit cut the same list.
        let q = ReadingQuery {
            device: Some("m1".into()),
            channel: Some("vol".into()),
            from_ms: Some(T0 + 10 * 60_000),
            to_ms: Some(T0 + 30 * 60_000),
            limit: 5,
        };
        let want_range: Vec<&StoredReading> = stored
            .iter()
            .filter(|s| s.reading.device == "m1" && s.reading.channel == "vol")
            .filter(|s| (T0 + 10 * 60_000..T0 + 30 * 60_000).contains(&s.reading.ts_ms))
            .take(5)
            .collect();
        let got_range = archive.readings(&q).expect("range");
        assert_eq!(got_range.iter().collect::<Vec<_>>(), want_range, "seed {seed}");
        // Latest: the original at each channel's newest timestamp.
        for device in ["m0", "m1", "m2"] {
            let latest = archive.latest(device).expect("latest");
            for l in &latest {
                let newest =
                    model.keys().filter(|(d, c, _)| d == device && *c == l.reading.channel).map(|(_, _, ts)| *ts).max();
                assert_eq!(Some(l.reading.ts_ms), newest, "seed {seed}");
                assert!(!l.conflict);
            }
        }
    }
}

#[test]
fn heads_are_sealed_when_full_and_a_reopen_finds_every_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive");
    let options = ArchiveOptions { head_readings: 100, ..ArchiveOptions::default() };
    {
        let archive = SledArchive::open_with(&path, options, super::sled_archive::LOCK_WAIT).expect("open");
        for seq in 1..=250u64 {
            let ts = T0 + seq as i64 * 3_600_000;
            archive.apply(vec![decoded(seq, "s", vec![reading("m1", "vol", ts, &seq.to_string())])]).expect("apply");
            assert!(archive.head_readings() < 100);
        }
        assert_eq!(archive.head_readings(), 250 - 200);
        archive.flush().expect("flush");
    }
    let archive = SledArchive::open_with(&path, options, super::sled_archive::LOCK_WAIT).expect("reopen");
    assert_eq!(archive.head_readings(), 50, "the unsealed readings are back in the heads");
    assert_eq!(archive.readings(&all(Some("m1"))).expect("readings").len(), 250);
    // A repeat of a sealed reading and of a head reading are both duplicates.
    let again = archive
        .apply(vec![decoded(
            251,
            "s",
            vec![reading("m1", "vol", T0 + 3_600_000, "1"), reading("m1", "vol", T0 + 250 * 3_600_000, "250")],
        )])
        .expect("apply");
    assert!(again.readings().next().is_none());
    assert_eq!(counters_of(&archive, "s").readings_duplicate, 2);
}

#[test]
fn a_database_that_cannot_be_opened_is_an_error_naming_path_and_remedy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive");
    let first = SledArchive::open(&path).expect("open");
    let err = SledArchive::open_waiting(&path, std::time::Duration::ZERO).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("another process"), "{message}");
    drop(first);

    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"hello").expect("write");
    let err = SledArchive::open(&file).unwrap_err();
    assert!(err.to_string().contains(&file.display().to_string()), "{err}");
}

fn marked(seq: u64, source: &str, key: &str, mark: &str, verdict: Option<Verdict>) -> ApplyItem {
    let mut frame = raw(seq, source);
    frame.meta = vec![("resume.key".into(), key.into()), ("resume.mark".into(), mark.into())];
    ApplyItem { record: JournalRecord { seq, entry: Entry::Frame(frame) }, verdict }
}

#[test]
fn resume_marks_only_move_up_per_source_and_key_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quarantine = || Some(Verdict::Quarantined("no codec".into()));
    {
        let archive = open(&dir);
        archive
            .apply(vec![
                marked(1, "vega", "DEV-A", "1000", quarantine()),
                marked(2, "vega", "DEV-A", "3000", quarantine()),
                marked(3, "vega", "DEV-A", "2000", quarantine()), // an older mark never moves it back
                marked(4, "vega", "DEV-B", "500", Some(Verdict::Decoded(Decoded::default()))),
                marked(5, "other", "DEV-A", "9000", quarantine()),
                marked(6, "vega", "DEV-C", "not a number", quarantine()),
                marked(7, "vega", "", "7000", quarantine()),
            ])
            .expect("apply");
        archive.flush().expect("flush");
    }
    let archive = open(&dir);
    let marks = archive.resume_marks("vega").expect("marks");
    assert_eq!(marks.into_iter().collect::<Vec<_>>(), vec![("DEV-A".to_owned(), 3000), ("DEV-B".to_owned(), 500)]);
    assert_eq!(archive.resume_marks("other").expect("marks").get("DEV-A"), Some(&9000));
    assert!(archive.resume_marks("vegas").expect("marks").is_empty(), "a source prefix is not the source");
}

#[test]
fn a_frame_moves_several_marks_at_once_and_never_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let item = |seq: u64, readings: &str, accounting: &str| {
        let mut frame = raw(seq, "sync:north");
        frame.meta = vec![
            ("resume.mark.readings".into(), readings.into()),
            ("resume.mark.accounting".into(), accounting.into()),
            ("resume.mark.".into(), "5".into()),
        ];
        ApplyItem { record: JournalRecord { seq, entry: Entry::Frame(frame) }, verdict: None }
    };
    archive.apply(vec![item(1, "200", "7"), item(2, "100", "9")]).expect("apply");
    let marks = archive.resume_marks("sync:north").expect("marks");
    assert_eq!(marks.into_iter().collect::<Vec<_>>(), vec![("accounting".to_owned(), 9), ("readings".to_owned(), 200)]);
}

#[test]
fn recover_reopens_the_database_and_the_records_applied_since_the_last_flush_go_in_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = ArchiveOptions { head_readings: 1000, ..ArchiveOptions::default() };
    let archive =
        SledArchive::open_with(&dir.path().join("archive"), options, super::sled_archive::LOCK_WAIT).expect("open");
    let item = |seq: u64| decoded(seq, "s", vec![reading("m1", "vol", T0 + seq as i64 * 1000, &seq.to_string())]);
    archive.apply((1..=50).map(item).collect()).expect("apply");
    archive.flush().expect("flush");
    archive.apply((51..=60).map(item).collect()).expect("apply");
    archive.recover().expect("recover");
    // Whatever the reopened database kept, applying again is harmless.
    archive.apply((51..=60).map(item).collect()).expect("apply again");
    let stored = archive.readings(&all(Some("m1"))).expect("readings");
    assert_eq!(stored.len(), 60);
    let log: Vec<u64> = crate::testing::readable_log(&archive, 0, 100).iter().map(|s| s.seq).collect();
    assert_eq!(log, (1..=60).collect::<Vec<_>>());
    assert_eq!(counters_of(&archive, "s").received, 60);
    assert_eq!(archive.location(), dir.path().join("archive"));
}

#[test]
fn a_large_apply_is_cut_into_bounded_blocks_that_read_as_one_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let n = super::blocks::LOG_BLOCK_READINGS + 904;
    let readings: Vec<Reading> = (0..n).map(|i| reading(&format!("m{}", i % 7), "vol", T0 + i as i64, "1")).collect();
    let mut big = decoded(1, "s", readings);
    if let Entry::Frame(frame) = &mut big.record.entry {
        frame.payload = vec![b'x'; super::blocks::FRAME_BLOCK_BYTES + 1];
    }
    archive.apply(vec![big, decoded(2, "s", vec![reading("m0", "vol", T0 - 1, "1")])]).expect("apply");
    assert_eq!(archive.tree().scan_prefix([super::keys::LOG_BLOCK]).count(), 2);
    assert_eq!(
        archive.tree().scan_prefix([super::keys::FRAME_INDEX]).count(),
        2,
        "the large frame is a block of its own"
    );
    let seqs: Vec<u64> = crate::testing::readable_log(&archive, 0, usize::MAX).iter().map(|s| s.seq).collect();
    assert_eq!(seqs, (1..=n as u64 + 1).collect::<Vec<_>>());
    let across: Vec<u64> = crate::testing::readable_log(&archive, 4095, 3).iter().map(|s| s.seq).collect();
    assert_eq!(across, vec![4096, 4097, 4098]);
    assert_eq!(archive.frame(1).expect("frame").map(|f| f.payload.len()), Some(super::blocks::FRAME_BLOCK_BYTES + 1));
    assert_eq!(archive.frame(2).expect("frame"), Some(raw(2, "s")));
}

#[test]
fn followers_read_the_newest_blocks_from_the_cache_and_older_ones_from_the_database_as_one_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = open(&dir);
    let per_apply = super::blocks::LOG_BLOCK_READINGS + 100;
    let mut seq = 0;
    for apply in 0..5 {
        let readings: Vec<Reading> = (0..per_apply)
            .map(|i| reading(&format!("m{}", i % 5), "vol", T0 + (apply * per_apply + i) as i64, "1"))
            .collect();
        seq += 1;
        archive.apply(vec![decoded(seq, "s", readings)]).expect("apply");
    }
    let n = 5 * per_apply as u64;
    let seqs = |after: u64, limit: usize| -> Vec<u64> {
        archive.log_after(after, limit).expect("log").readings().map(|r| r.seq).collect()
    };
    // The first blocks left the cache: read from the database, then the
    // cached ones, in one run with no gap and no repeat.
    assert_eq!(seqs(0, usize::MAX), (1..=n).collect::<Vec<_>>());
    assert_eq!(seqs(4090, 10), (4091..=4100).collect::<Vec<_>>());
    assert_eq!(seqs(n - 5, 100), (n - 4..=n).collect::<Vec<_>>());
    assert!(seqs(n, 100).is_empty());
    let tail = archive.log_after(n - 2 * per_apply as u64, usize::MAX).expect("log");
    assert_eq!((tail.len(), tail.last_seq()), (2 * per_apply, Some(n)));
    // Reopened, with nothing cached, the log reads the same.
    drop(tail);
    drop(archive);
    let archive = open(&dir);
    let again: Vec<u64> = archive.log_after(0, usize::MAX).expect("log").readings().map(|r| r.seq).collect();
    assert_eq!(again, (1..=n).collect::<Vec<_>>());
}

//! The rules and the engine as data: readings (or the board) in, alarms
//! out.

use std::collections::HashSet;

use meterhub_plugin_api::{Decimal, Reading, ReadingKind, Telemetry};

use super::engine::{AckRefused, Engine};
use super::model::{Ack, Alarm, Subject};
use super::rules::{self, LostSeen, Registers, Verdict};
use crate::board::{Board, Heard, ModuleOnBoard, State};
use crate::config::alarms::{AlarmKind, AlarmRule, Severity, shipped};
use meterhub_storage::archive::{DEVICE_CLOCK_TOLERANCE_MS, ModuleActivity, StoredReading};

const NOW: i64 = 1_765_000_000_000;
const MINUTE: i64 = 60_000;

fn stored(seq: u64, device: &str, channel: &str, ts_ms: i64, value: &str, kind: ReadingKind) -> StoredReading {
    StoredReading {
        seq,
        frame_seq: seq,
        source: "tcp-in".into(),
        reading: Reading {
            device: device.into(),
            channel: channel.into(),
            ts_ms,
            value: Decimal::from_str_exact(value).unwrap(),
            unit: if kind == ReadingKind::State { String::new() } else { "m3".into() },
            kind,
        },
        conflict: false,
        archived_at_ms: ts_ms + 1000,
    }
}

/// `reading` stamped ten minutes after it was archived: a clock ahead.
fn from_a_clock_ahead(mut reading: StoredReading) -> StoredReading {
    reading.archived_at_ms = reading.reading.ts_ms - 10 * MINUTE;
    reading
}

fn state(seq: u64, channel: &str, ts_ms: i64, value: &str) -> StoredReading {
    stored(seq, "gas-1", channel, ts_ms, value, ReadingKind::State)
}

/// Judges `readings` one at a time (each at its archive time) with
/// `rules`; answers the alarms as they are at the end, by id.
struct Run {
    rules: Vec<AlarmRule>,
    registers: Registers,
    engine: Engine,
    /// Every change, in order: (id, active, open).
    changes: Vec<(u64, bool, bool)>,
}

impl Run {
    fn new(rules: Vec<AlarmRule>) -> Run {
        Run { rules, registers: Registers::default(), engine: Engine::default(), changes: Vec::new() }
    }

    fn feed(&mut self, reading: StoredReading) -> Vec<Alarm> {
        let at = reading.archived_at_ms;
        let findings = rules::on_reading(&self.rules, &reading, DEVICE_CLOCK_TOLERANCE_MS, &mut self.registers);
        let changed = self.engine.apply(findings, at);
        self.changes.extend(changed.iter().map(|a| (a.id, a.active(), a.open())));
        changed
    }

    fn open(&self) -> Vec<Alarm> {
        self.engine.open().cloned().collect()
    }
}

fn ack(by: &str) -> Ack {
    Ack { by: by.into(), at_ms: NOW + 500_000, comment: "checked on site".into() }
}

#[test]
fn a_state_channel_raises_keeps_ends_and_raises_again() {
    let mut run = Run::new(shipped());
    let raised = run.feed(state(1, "magnet", NOW, "1"));
    assert_eq!(raised.len(), 1);
    let first = &raised[0];
    assert_eq!((first.rule.as_str(), first.kind.as_str(), first.severity.as_str()), ("magnet", "state", "critical"));
    assert_eq!(first.subject, Subject::Meter("gas-1".into()));
    assert_eq!((first.channel.as_deref(), first.value.as_deref()), (Some("magnet"), Some("1")));
    assert_eq!(first.reading.as_ref().map(|r| r.seq), Some(1), "the reading that raised it");
    assert_eq!(first.meters, ["gas-1"]);
    assert!(first.active() && first.open());

    // Kept while it holds: no change, no second alarm.
    assert!(run.feed(state(2, "magnet", NOW + MINUTE, "1")).is_empty());
    // Another channel of the meter is another condition.
    assert_eq!(run.feed(state(3, "case-open", NOW + MINUTE, "1")).len(), 1);

    // Ends when the state returns; open until acknowledged.
    let ended = run.feed(state(4, "magnet", NOW + 2 * MINUTE, "0"));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, first.id);
    assert_eq!(ended[0].ended_at_ms, Some(NOW + 2 * MINUTE + 1000), "when the host judged it");
    assert_eq!((ended[0].end_value.as_deref(), ended[0].end_reading.as_ref().map(|r| r.seq)), (Some("0"), Some(4)));
    assert!(!ended[0].active() && ended[0].open());

    // Raised again: a new alarm, the first still waiting for its acknowledgement.
    let again = run.feed(state(5, "magnet", NOW + 3 * MINUTE, "1"));
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, first.id);
    assert_eq!(run.open().len(), 3);

    // Acknowledged after it ended: closed, gone from the open ones.
    let closed = run.engine.acknowledge(first.id, ack("dina")).unwrap();
    assert!(!closed.open());
    assert_eq!(run.open().len(), 2);
    assert_eq!(run.engine.acknowledge(first.id, ack("dina")), Err(AckRefused::NotOpen(first.id)));

    // Acknowledged while active: stays open until it ends, then closes.
    let id = again[0].id;
    run.engine.acknowledge(id, ack("dina")).unwrap();
    assert!(matches!(run.engine.acknowledge(id, ack("oleg")), Err(AckRefused::Already(a)) if a.by == "dina"));
    assert!(run.engine.get(id).is_some_and(Alarm::open));
    let ended = run.feed(state(6, "magnet", NOW + 4 * MINUTE, "0"));
    assert!(ended.iter().any(|a| a.id == id && !a.open()));
    assert!(run.engine.get(id).is_none());
}

#[test]
fn history_arriving_late_raises_nothing_and_a_clock_ahead_frame_is_judged_but_never_the_newest() {
    let mut run = Run::new(shipped());
    assert!(run.feed(state(1, "magnet", NOW, "0")).is_empty(), "normal: nothing to end");
    // A back-filled frame from an hour ago: the state then is history.
    assert!(run.feed(state(2, "magnet", NOW - 60 * MINUTE, "1")).is_empty());
    assert!(run.open().is_empty());

    // A frame stamped ten minutes ahead of the host's clock: its state is
    // real and raises...
    let ahead = from_a_clock_ahead(state(3, "magnet", NOW + 10 * MINUTE, "1"));
    assert!(ahead.stamped_ahead(DEVICE_CLOCK_TOLERANCE_MS));
    assert_eq!(run.feed(ahead).len(), 1);
    // ...but its time is not taken as the register's newest: the next
    // frame stamped right (earlier than the one ahead) still counts and
    // ends the alarm.
    let ended = run.feed(state(4, "magnet", NOW + MINUTE, "0"));
    assert_eq!(ended.len(), 1);
    assert!(!ended[0].active());
}

#[test]
fn a_decrease_is_momentary_counts_its_repeats_and_starts_anew_after_an_acknowledgement() {
    let mut run = Run::new(shipped());
    let volume = |seq, ts, value| stored(seq, "gas-1", "volume", ts, value, ReadingKind::Cumulative);
    assert!(run.feed(volume(1, NOW, "120.5")).is_empty());
    let raised = run.feed(volume(2, NOW + MINUTE, "100"));
    assert_eq!(raised.len(), 1);
    let alarm = &raised[0];
    assert_eq!(
        (alarm.rule.as_str(), alarm.limit.as_deref(), alarm.value.as_deref()),
        ("decrease", Some("120.5"), Some("100"))
    );
    assert!(!alarm.active() && alarm.open(), "ended as raised, waiting for a dispatcher");

    // Growing again is normal; a second decrease before the acknowledgement repeats it.
    assert!(run.feed(volume(3, NOW + 2 * MINUTE, "101")).is_empty());
    let repeated = run.feed(volume(4, NOW + 3 * MINUTE, "90"));
    assert_eq!((repeated[0].id, repeated[0].repeats), (alarm.id, 1));

    // A reading from a clock ahead is no register's newest: no decrease after it.
    assert!(run.feed(from_a_clock_ahead(volume(5, NOW + 20 * MINUTE, "5000"))).is_empty());
    assert!(run.feed(volume(6, NOW + 4 * MINUTE, "91")).is_empty());

    run.engine.acknowledge(alarm.id, ack("dina")).unwrap();
    let next = run.feed(volume(7, NOW + 5 * MINUTE, "80"));
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].id, alarm.id, "a new occurrence after the acknowledgement");
}

#[test]
fn thresholds_on_any_reading_with_exact_limits() {
    let rule = AlarmRule {
        id: "too-hot".into(),
        kind: AlarmKind::Threshold {
            above: Some(Decimal::from_str_exact("90").unwrap()),
            below: Some(Decimal::from_str_exact("-5.5").unwrap()),
        },
        severity: Severity::Warning,
        channels: vec!["temperature".into()],
    };
    let mut run = Run::new(vec![rule]);
    let temp = |seq, ts, value| stored(seq, "heat-1", "temperature", ts, value, ReadingKind::Instantaneous);
    assert!(run.feed(temp(1, NOW, "90")).is_empty(), "at the limit is within it");
    let hot = run.feed(temp(2, NOW + MINUTE, "90.01"));
    assert_eq!((hot[0].limit.as_deref(), hot[0].text.as_str()), (Some("90"), "temperature 90.01 above 90"));
    assert!(run.feed(temp(3, NOW + 2 * MINUTE, "95")).is_empty(), "kept");
    assert!(!run.feed(temp(4, NOW + 3 * MINUTE, "20"))[0].active());
    let cold = run.feed(temp(5, NOW + 4 * MINUTE, "-6"));
    assert_eq!(cold[0].limit.as_deref(), Some("-5.5"));
    assert!(run.feed(stored(6, "heat-1", "volume", NOW, "1", ReadingKind::Cumulative)).is_empty(), "not its channel");
}

fn module(id: &str, battery: Option<u8>, rssi: Option<i32>, state: State, lost_before: u64) -> ModuleOnBoard {
    let telemetry = Telemetry {
        module: id.into(),
        ts_ms: NOW,
        battery_pct: battery,
        rssi_dbm: rssi,
        snr_db: None,
        frame_counter: None,
    };
    let mut activity = ModuleActivity::new(&telemetry, "vega", NOW);
    activity.counter.lost_before = lost_before;
    ModuleOnBoard { activity, expected_period_ms: None, heard: Heard::default(), state }
}

fn board(modules: Vec<ModuleOnBoard>) -> Board {
    Board {
        modules: modules.into_iter().map(|m| (m.activity.latest.module.clone(), m)).collect(),
        now_ms: NOW,
        ..Board::default()
    }
}

/// One look at `board` with the shipped rules, the way the task does it.
fn look(engine: &mut Engine, board: &Board, lost: &mut LostSeen, now: i64) -> Vec<Alarm> {
    let rules = shipped();
    let findings = rules::on_board(&rules, board, &[], lost);
    let held: HashSet<String> = findings.iter().filter(|f| f.verdict == Verdict::Holds).map(|f| f.key()).collect();
    let ids: HashSet<String> = rules.iter().map(|r| r.id.clone()).collect();
    let board_rules: HashSet<String> = rules.iter().filter(|r| !r.kind.on_readings()).map(|r| r.id.clone()).collect();
    let mut changed = engine.apply(findings, now);
    changed.extend(engine.end_unheld(&ids, &board_rules, &held, now));
    changed
}

#[test]
fn the_board_raises_silence_battery_signal_and_lost_uplinks_and_ends_them_when_they_pass() {
    let (mut engine, mut lost) = (Engine::default(), LostSeen::default());
    let first = board(vec![
        module("A1", Some(5), Some(-120), State::Silent, 0),
        module("B2", Some(80), Some(-90), State::Fresh, 0),
    ]);
    let raised = look(&mut engine, &first, &mut lost, NOW);
    let mut rules: Vec<(&str, &str)> = raised.iter().map(|a| (a.rule.as_str(), a.subject.id())).collect();
    rules.sort();
    assert_eq!(rules, [("battery-low", "A1"), ("module-silent", "A1"), ("signal-weak", "A1")]);
    let battery = raised.iter().find(|a| a.rule == "battery-low").unwrap();
    assert_eq!(
        (battery.value.as_deref(), battery.unit.as_deref(), battery.limit.as_deref()),
        (Some("5"), Some("%"), Some("10"))
    );

    // The same board: kept, nothing changes. B2 loses 7 uplinks: momentary.
    let same = board(vec![
        module("A1", Some(5), Some(-120), State::Silent, 0),
        module("B2", Some(80), Some(-90), State::Fresh, 7),
    ]);
    let changed = look(&mut engine, &same, &mut lost, NOW + 2000);
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!((changed[0].rule.as_str(), changed[0].value.as_deref()), ("lost-uplinks", Some("7")));

    // A1 heard again with a new battery: its three alarms end.
    let back = board(vec![
        module("A1", Some(100), Some(-100), State::Fresh, 0),
        module("B2", Some(80), Some(-90), State::Fresh, 7),
    ]);
    let ended = look(&mut engine, &back, &mut lost, NOW + 4000);
    assert_eq!(ended.len(), 3);
    assert!(ended.iter().all(|a| !a.active() && a.ended_at_ms == Some(NOW + 4000)));
}

#[test]
fn an_alarm_whose_rule_is_removed_ends_saying_why() {
    let mut run = Run::new(shipped());
    let id = run.feed(state(1, "magnet", NOW, "1"))[0].id;
    let rules: HashSet<String> = shipped().into_iter().filter(|r| r.id != "magnet").map(|r| r.id).collect();
    let ended = run.engine.end_unheld(&rules, &HashSet::new(), &HashSet::new(), NOW + 1);
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, id);
    assert_eq!(ended[0].end_reason.as_deref(), Some("its rule was removed from the configuration"));
}

#[test]
fn the_engine_starts_again_from_the_open_alarms_kept() {
    let mut run = Run::new(shipped());
    run.feed(state(1, "magnet", NOW, "1"));
    let volume = |seq, ts, value| stored(seq, "gas-1", "volume", ts, value, ReadingKind::Cumulative);
    run.feed(volume(2, NOW, "10"));
    run.feed(volume(3, NOW + MINUTE, "9"));
    let kept = run.open();
    assert_eq!(kept.len(), 2);
    let last_id = run.engine.last_id();

    // After a restart: the active alarm is kept (not raised again), the
    // momentary one counts its repeats, new alarms number on.
    let mut restarted = Run { engine: Engine::new(kept, last_id), ..Run::new(shipped()) };
    restarted.registers.seed("gas-1", "volume", NOW + MINUTE, Decimal::from(9));
    assert!(restarted.feed(state(4, "magnet", NOW + 2 * MINUTE, "1")).is_empty());
    assert_eq!(restarted.feed(volume(5, NOW + 2 * MINUTE, "8"))[0].repeats, 1);
    let new = restarted.feed(state(6, "case-open", NOW + 3 * MINUTE, "1"));
    assert_eq!(new[0].id, last_id + 1);
}

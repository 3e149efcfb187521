//! The store and the consumer over a real `SledArchive` in a temporary
//! directory: readings in order, late readings, a conflict, a metadata
//! change that recomputes; after every step the stored deltas equal a
//! computation from scratch over everything archived.

use std::str::FromStr;
use std::sync::Arc;

use meterhub_accounting::{Decimal, MeterSpec, Period, deltas};
use meterhub_plugin_api::{Decoded, RawFrame, Reading, ReadingKind, Telemetry, Transport};
use serde_json::{Map, Value, json};

use super::consumer::Consumer;
use super::store::AccountingStore;
use super::{AccountingError, edit};
use meterhub_storage::archive::{ApplyItem, Archive, ReadingQuery, SledArchive, Verdict};
use meterhub_storage::journal::{Entry, JournalRecord};
use meterhub_storage::testing::reading;

/// 2026-03-01T00:00:00Z.
const T0: i64 = 1_772_323_200_000;
const HOUR: i64 = 3_600_000;

struct World {
    _dir: tempfile::TempDir,
    archive: Arc<SledArchive>,
    store: Arc<AccountingStore>,
    consumer: Consumer,
    journal_seq: u64,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = Arc::new(SledArchive::open(&dir.path().join("archive")).expect("archive"));
        let store = Arc::new(AccountingStore::open(&dir.path().join("accounting")).expect("store"));
        let consumer = Consumer::new(archive.clone(), store.clone(), "UTC");
        World { _dir: dir, archive, store, consumer, journal_seq: 0 }
    }

    /// One frame with `readings` (and telemetry of `module`), applied.
    fn send(&mut self, readings: Vec<Reading>, module: Option<&str>) {
        self.journal_seq += 1;
        let seq = self.journal_seq;
        let frame = RawFrame {
            seq,
            source: "test".into(),
            peer: "10.0.0.5:4001".into(),
            received_at_ms: T0,
            transport: Transport::Tcp,
            content_type: "test".into(),
            meta: vec![],
            payload: vec![seq as u8],
        };
        let telemetry =
            module.map(|m| vec![Telemetry { module: m.into(), ts_ms: T0, ..Telemetry::default() }]).unwrap_or_default();
        let item = ApplyItem {
            record: JournalRecord { seq, entry: Entry::Frame(frame) },
            verdict: Some(Verdict::Decoded(Decoded { readings, telemetry, ..Decoded::default() })),
        };
        self.archive.apply(vec![item]).expect("apply");
    }

    fn run(&self) {
        while !self.consumer.step().expect("step").idle() {}
    }

    /// Stored deltas equal a computation from scratch over every archived
    /// reading of the register.
    fn assert_as_from_scratch(&self, meter: &str, channel: &str, spec: &MeterSpec, scale: Decimal) {
        let q = ReadingQuery {
            device: Some(meter.into()),
            channel: Some(channel.into()),
            from_ms: None,
            to_ms: None,
            limit: usize::MAX,
        };
        let all = self.archive.readings(&q).expect("readings");
        let series = meterhub_accounting::Series::new(all.iter().map(super::tail::reading));
        for period in [Period::Day, Period::Month] {
            let mut expected = deltas(&series, spec, period, i64::MIN / 2, i64::MAX / 2);
            for d in &mut expected {
                d.consumption *= scale;
                d.start_value *= scale;
                d.end_value *= scale;
            }
            let stored: Vec<_> = self
                .store
                .deltas(meter, Some(channel), period, i64::MIN, i64::MAX)
                .expect("deltas")
                .into_iter()
                .map(|(_, d)| d)
                .collect();
            assert_eq!(stored, expected, "{meter} {channel} {period:?}");
        }
    }
}

fn utc() -> MeterSpec {
    MeterSpec::new("UTC", None, vec![]).expect("spec")
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

#[test]
fn readings_in_order_register_the_meter_and_give_daily_deltas() {
    let mut w = World::new();
    for h in 0..=50 {
        let mut readings = vec![reading("m1", "volume", T0 + h * HOUR, &(100 + h).to_string())];
        readings
            .push(Reading { kind: ReadingKind::Instantaneous, ..reading("m1", "temperature", T0 + h * HOUR, "20") });
        w.send(readings, Some("mod-1"));
        if h % 7 == 0 {
            w.run();
            w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
        }
    }
    w.run();
    w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
    let days = w.store.deltas("m1", None, Period::Day, i64::MIN, i64::MAX).expect("deltas");
    let summary: Vec<_> =
        days.iter().map(|(c, d)| (c.as_str(), d.start.as_str(), d.consumption.to_string(), d.in_progress)).collect();
    assert_eq!(
        summary,
        [
            ("volume", "2026-03-01", "24".to_owned(), false),
            ("volume", "2026-03-02", "24".to_owned(), false),
            ("volume", "2026-03-03", "2".to_owned(), true)
        ]
    );
    let meter = w.store.meter("m1").expect("read").expect("registered");
    assert_eq!(meter.module.as_deref(), Some("mod-1"));
    assert_eq!(meter.channels.keys().collect::<Vec<_>>(), ["temperature", "volume"]);
    assert_eq!((meter.first_seen_ms, meter.last_seen_ms), (T0, T0 + 50 * HOUR));
    let modules = w.store.modules().expect("modules");
    assert_eq!(modules.len(), 1);
    assert!(modules[0].meters.contains("m1"));
    assert_eq!(w.store.cursor().expect("cursor"), w.archive.log_after(0, usize::MAX).expect("log").len() as u64);
}

#[test]
fn late_and_back_filled_readings_recompute_what_they_touch() {
    let mut w = World::new();
    // Every third hour first, for four days; then the gaps, newest first, in
    // frames of a few; then a reading a month earlier.
    for h in (0..96).step_by(3) {
        w.send(vec![reading("m1", "volume", T0 + h * HOUR, &(h * 2).to_string())], None);
    }
    w.run();
    w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
    let late: Vec<i64> = (0..96).rev().filter(|h| h % 3 != 0).collect();
    for chunk in late.chunks(5) {
        w.send(chunk.iter().map(|h| reading("m1", "volume", T0 + h * HOUR, &(h * 2).to_string())).collect(), None);
        w.run();
        w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
    }
    w.send(vec![reading("m1", "volume", T0 - 31 * 24 * HOUR, "-100")], None);
    w.run();
    w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
    let days = w.store.deltas("m1", Some("volume"), Period::Day, T0, T0 + 24 * HOUR).expect("deltas");
    assert_eq!(days[0].1.consumption, Decimal::from(48));
}

#[test]
fn a_conflicting_value_flags_the_deltas_resting_on_it() {
    let mut w = World::new();
    for h in 0..48 {
        w.send(vec![reading("m1", "volume", T0 + h * HOUR, &h.to_string())], None);
    }
    w.run();
    w.send(vec![reading("m1", "volume", T0 + 30 * HOUR, "999")], None);
    w.run();
    w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
    let days = w.store.deltas("m1", Some("volume"), Period::Day, i64::MIN, i64::MAX).expect("deltas");
    assert!(!days[0].1.conflict, "day 1 does not rest on hour 30");
    assert!(days[1].1.conflict, "day 2 does");
    assert_eq!(days[1].1.consumption, Decimal::from(23), "the first archived value is used");
}

#[test]
fn a_metadata_change_recomputes_the_meter_in_full() {
    let mut w = World::new();
    for h in 0..72 {
        let value = (h * 10) % 500; // wraps at 500
        w.send(vec![reading("m1", "pulses", T0 + h * HOUR, &value.to_string())], None);
    }
    w.run();
    w.assert_as_from_scratch("m1", "pulses", &utc(), Decimal::ONE);
    let patch = object(
        json!({"time_zone": "Europe/Moscow", "register_capacity": "500", "pulse_weight": "0.01", "site": "north",
               "model": "SGK-4"}),
    );
    w.store.change_meter("m1", "alice", |m| edit::apply_patch(m, &patch)).expect("patch");
    assert_eq!(w.store.pending().expect("pending").len(), 1);
    w.run();
    assert!(w.store.pending().expect("pending").is_empty());
    let spec = MeterSpec::new("Europe/Moscow", Some(Decimal::from(500)), vec![]).expect("spec");
    w.assert_as_from_scratch("m1", "pulses", &spec, Decimal::from_str("0.01").expect("decimal"));
    let days = w.store.deltas("m1", Some("pulses"), Period::Day, i64::MIN, i64::MAX).expect("deltas");
    assert!(days.iter().all(|(_, d)| !d.unexplained_decrease), "rollovers, not decreases");
    assert!(days.iter().any(|(_, d)| d.rollovers > 0));
    assert_eq!(days[1].1.start, "2026-03-02");
    assert_eq!(days[1].1.consumption, Decimal::from_str("2.4").expect("decimal"), "240 pulses of 0.01");

    // An event recomputes too, and every change is in the history.
    let event = edit::parse_event(&object(json!({"kind": "reset", "at": T0 + 40 * HOUR + 1, "value_after": "0"})))
        .expect("event");
    w.store.change_meter("m1", "bob", |m| Ok(edit::add_event(m, event))).expect("event");
    w.run();
    let spec = MeterSpec::new("Europe/Moscow", Some(Decimal::from(500)), w.store.meter("m1").unwrap().unwrap().events)
        .unwrap();
    w.assert_as_from_scratch("m1", "pulses", &spec, Decimal::from_str("0.01").expect("decimal"));
    let history = w.store.history("m1").expect("history");
    let fields: Vec<_> = history.iter().map(|e| (e.seq, e.actor.as_str(), e.field.as_str())).collect();
    assert_eq!(
        fields,
        [
            (1, "alice", "model"),
            (2, "alice", "pulse_weight"),
            (3, "alice", "register_capacity"),
            (4, "alice", "site"),
            (5, "alice", "time_zone"),
            (6, "bob", "event")
        ]
    );
    assert_eq!(history[4].old, Value::Null);
    assert_eq!(history[4].new, json!("Europe/Moscow"));
    assert_eq!(w.store.meter("m1").unwrap().unwrap().metadata.model.as_deref(), Some("SGK-4"));
}

#[test]
fn metadata_errors_name_the_field() {
    let mut w = World::new();
    w.send(vec![reading("m1", "volume", T0, "1")], None);
    w.run();
    let cases = [
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"register_capacity": "-5"}), "register_capacity"),
        (json!({"pulse_weight": "abc"}), "pulse_weight"),
        (json!({"resource": "steam"}), "resource"),
        (json!({"colour": "red"}), "colour"),
        (json!({"name": 5}), "name"),
    ];
    for (patch, field) in cases {
        let err = w.store.change_meter("m1", "t", |m| edit::apply_patch(m, &object(patch.clone()))).unwrap_err();
        assert!(matches!(&err, AccountingError::Invalid { field: f, .. } if f == field), "{patch}: {err}");
    }
    assert!(w.store.history("m1").expect("history").is_empty(), "a refused change writes nothing");
    let unknown = w.store.change_meter("nope", "t", |m| edit::apply_patch(m, &Map::new())).unwrap_err();
    assert!(matches!(unknown, AccountingError::UnknownMeter(_)));
    for (event, field) in [
        (json!({"kind": "swap", "at": 1}), "kind"),
        (json!({"kind": "reset", "value_after": "1"}), "at"),
        (json!({"kind": "replacement", "at": "2026-03-01T00:00:00Z", "old_final": "1"}), "new_initial"),
        (json!({"kind": "reset", "at": 1, "value_after": "1", "extra": 1}), "extra"),
    ] {
        let err = edit::parse_event(&object(event.clone())).unwrap_err();
        assert!(matches!(&err, AccountingError::Invalid { field: f, .. } if f == field), "{event}: {err}");
    }
}

#[test]
fn a_reopened_store_continues_from_its_cursor() {
    let mut w = World::new();
    for h in 0..30 {
        w.send(vec![reading("m1", "volume", T0 + h * HOUR, &h.to_string())], None);
    }
    w.run();
    let cursor = w.store.cursor().expect("cursor");
    w.store.flush().expect("flush");
    let path = w._dir.path().join("accounting");
    // Drop every handle of the store, then open it again (sled's threads may
    // hold its lock a moment after the last handle goes).
    let placeholder = Arc::new(AccountingStore::open(&w._dir.path().join("other")).expect("other store"));
    w.consumer = Consumer::new(w.archive.clone(), placeholder.clone(), "UTC");
    w.store = placeholder;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let reopened = loop {
        match AccountingStore::open(&path) {
            Ok(store) => break Arc::new(store),
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("reopen: {e}"),
        }
    };
    assert_eq!(reopened.cursor().expect("cursor"), cursor);
    w.store = reopened.clone();
    w.consumer = Consumer::new(w.archive.clone(), reopened, "UTC");
    for h in 30..60 {
        w.send(vec![reading("m1", "volume", T0 + h * HOUR, &h.to_string())], None);
    }
    w.run();
    w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
}

#[test]
fn live_registers_kept_in_memory_agree_with_the_archive_across_months_and_late_data() {
    let mut w = World::new();
    // Three meters over 70 days: hourly live readings, a repeated reading,
    // a conflicting one, and every fifth day a late reading of the day
    // before and one of the month before; checked against a computation
    // from scratch every few days.
    let value = |m: i64, h: i64| (1000 * m + 3 * h + (h * 7 + m) % 5).to_string();
    for h in 0..70 * 24 {
        let readings = (0..3).map(|m| reading(&format!("m{m}"), "volume", T0 + h * HOUR, &value(m, h))).collect();
        w.send(readings, None);
        if h % 24 == 23 {
            w.run();
        }
        if h % 120 == 119 {
            let late_day = T0 + (h - 30) * HOUR + HOUR / 2;
            let late_month = T0 + (h - 40 * 24).max(0) * HOUR + HOUR / 3;
            w.send(vec![reading("m1", "volume", late_day, &value(1, h - 30))], None);
            w.send(vec![reading("m2", "volume", late_month, &value(2, (h - 40 * 24).max(0)))], None);
            w.send(vec![reading("m0", "volume", T0 + (h - 2) * HOUR, &value(0, h - 2))], None);
            w.send(vec![reading("m0", "volume", T0 + (h - 3) * HOUR, "5")], None);
            w.run();
            for m in 0..3 {
                w.assert_as_from_scratch(&format!("m{m}"), "volume", &utc(), Decimal::ONE);
            }
        }
    }
    w.run();
    for m in 0..3 {
        w.assert_as_from_scratch(&format!("m{m}"), "volume", &utc(), Decimal::ONE);
    }
    // m2's late reading into the month before was computed from a window
    // that ends in that month, so it is carried again from its next live
    // reading on; then every register is, and no tail is kept for them.
    assert_eq!(w.consumer.carried_registers(), 2);
    for h in 70 * 24..72 * 24 {
        let readings = (0..3).map(|m| reading(&format!("m{m}"), "volume", T0 + h * HOUR, &value(m, h))).collect();
        w.send(readings, None);
        w.run();
    }
    for m in 0..3 {
        w.assert_as_from_scratch(&format!("m{m}"), "volume", &utc(), Decimal::ONE);
    }
    assert_eq!(w.consumer.carried_registers(), 3);
    let held = w.consumer.tail_readings();
    assert!(held <= 3 * (31 + 2) * 24, "{held} readings in memory");
}

#[test]
fn live_readings_a_little_out_of_order_are_carried_without_loading_windows() {
    let mut w = World::new();
    // One meter, hourly, each batch of four hours sent in a shuffled order
    // with one reading held back to the next batch, as concurrent
    // connections deliver them; the first step computes a window, every
    // later one carries.
    let value = |h: i64| (500 + 2 * h + h % 3).to_string();
    let mut held_back: Option<i64> = None;
    let mut carried = 0;
    let mut windows = 0;
    for batch in 0..60 {
        let mut hours: Vec<i64> = (batch * 4..batch * 4 + 4).collect();
        hours.swap(0, 2);
        let late = hours.pop();
        for h in held_back.take().into_iter().chain(hours) {
            w.send(vec![reading("m1", "volume", T0 + h * HOUR, &value(h))], None);
        }
        held_back = late;
        let report = w.consumer.step().expect("step");
        carried += report.carried;
        windows += report.windows;
    }
    w.run();
    w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
    assert_eq!((windows, carried), (1, 59), "registers computed from a window, carried");
    // A reading older than those kept sends it back to a window once.
    w.send(vec![reading("m1", "volume", T0 + 5 * HOUR + HOUR / 2, &value(5))], None);
    let report = w.consumer.step().expect("step");
    assert_eq!((report.windows, report.carried), (1, 0));
    w.send(vec![reading("m1", "volume", T0 + 300 * HOUR, &value(300))], None);
    let report = w.consumer.step().expect("step");
    assert_eq!((report.windows, report.carried), (0, 1));
    w.assert_as_from_scratch("m1", "volume", &utc(), Decimal::ONE);
}

#[test]
fn the_installation_reading_books_consumption_from_installation_to_the_first_reading() {
    let mut w = World::new();
    for h in 36..60 {
        w.send(vec![reading("m1", "volume", T0 + h * HOUR, &(100 + h).to_string())], None);
    }
    w.run();
    let patch = object(json!({"initial_value": "40", "installed_at": "2026-03-01T00:00:00Z"}));
    w.store.change_meter("m1", "alice", |m| edit::apply_patch(m, &patch)).expect("patch");
    w.run();
    let days = w.store.deltas("m1", Some("volume"), Period::Day, i64::MIN, i64::MAX).expect("deltas");
    // 40 at 03-01 00:00, 136 at 03-02 12:00: 96 over 36 h, 64 on day 1.
    assert_eq!(days[0].1.start, "2026-03-01");
    assert!(!days[0].1.partial_start);
    assert_eq!(days[0].1.consumption, Decimal::from(64));
    assert_eq!(days[0].1.readings[0], 0, "the installation reading is sequence 0");
    // Live readings after that keep it.
    w.send(vec![reading("m1", "volume", T0 + 60 * HOUR, "160")], None);
    w.run();
    let month = w.store.deltas("m1", Some("volume"), Period::Month, i64::MIN, i64::MAX).expect("deltas");
    assert_eq!(month[0].1.consumption, Decimal::from(120));
    let err =
        w.store.change_meter("m1", "t", |m| edit::apply_patch(m, &object(json!({"installed_at": null})))).unwrap_err();
    assert!(matches!(&err, AccountingError::Invalid { field, .. } if field == "installed_at"), "{err}");
}

#[test]
fn a_damaged_reading_holds_its_meter_and_the_others_go_on() {
    let mut w = World::new();
    for h in 0..30 {
        let readings = vec![
            reading("bad", "volume", T0 + h * HOUR, &h.to_string()),
            reading("good", "volume", T0 + h * HOUR, "1"),
        ];
        w.send(readings, None);
    }
    // The damaged reading's chunk: every reading of "bad" up to it.
    w.archive.seal().expect("seal");
    let key = meterhub_storage::testing::chunk_key(&w.archive, "bad", "volume", T0 + 29 * HOUR);
    meterhub_storage::testing::damage(&w.archive, &key);
    w.run();
    let hold = w.store.hold("bad").expect("hold").expect("the damaged meter is held");
    assert!(hold.reason.contains("corrupt"), "{}", hold.reason);
    assert!(w.store.hold("good").expect("hold").is_none());
    for h in 30..40 {
        let readings = vec![
            reading("bad", "volume", T0 + h * HOUR, &h.to_string()),
            reading("good", "volume", T0 + h * HOUR, &h.to_string()),
        ];
        w.send(readings, None);
    }
    w.run();
    w.assert_as_from_scratch("good", "volume", &utc(), Decimal::ONE);
    assert_eq!(w.store.cursor().expect("cursor"), 80, "the consumer went past the damaged record");
    // The new readings of "bad" made the archive rebuild its damaged chunk
    // from the log; a recomputation asked for now lifts the hold.
    w.store.change_meter("bad", "op", |_| Ok((vec![edit::recompute_entry()], true))).expect("recompute");
    w.run();
    assert!(w.store.hold("bad").expect("hold").is_none());
    w.assert_as_from_scratch("bad", "volume", &utc(), Decimal::ONE);
}

#[test]
fn a_new_default_zone_recomputes_the_meters_without_their_own() {
    let mut w = World::new();
    for h in 0..48 {
        let readings = vec![
            reading("plain", "volume", T0 + h * HOUR, &h.to_string()),
            reading("zoned", "volume", T0 + h * HOUR, &h.to_string()),
        ];
        w.send(readings, None);
    }
    w.run();
    let patch = object(json!({"time_zone": "Asia/Tokyo"}));
    w.store.change_meter("zoned", "t", |m| edit::apply_patch(m, &patch)).expect("patch");
    w.run();
    w.consumer = Consumer::new(w.archive.clone(), w.store.clone(), "Europe/Berlin");
    w.run();
    let berlin = MeterSpec::new("Europe/Berlin", None, vec![]).expect("spec");
    w.assert_as_from_scratch("plain", "volume", &berlin, Decimal::ONE);
    let tokyo = MeterSpec::new("Asia/Tokyo", None, vec![]).expect("spec");
    w.assert_as_from_scratch("zoned", "volume", &tokyo, Decimal::ONE);
}

/// Every item of the change index after revision `after`, in order.
fn changes(store: &AccountingStore, after: u64) -> Vec<(u64, super::store::Changed)> {
    store.changes_after(after, usize::MAX).expect("changes")
}

#[test]
fn the_change_index_holds_each_changed_item_once_at_its_latest_revision() {
    use super::store::Changed;
    let mut w = World::new();
    w.store.track_changes().expect("track");
    for h in 0..30 {
        w.send(vec![reading("m1", "volume", T0 + h * HOUR, &(100 + h).to_string())], Some("mod-1"));
    }
    w.run();
    let first = changes(&w.store, 0);
    let deltas = |list: &[(u64, Changed)]| list.iter().filter(|(_, c)| matches!(c, Changed::Delta { .. })).count();
    // Two days and one month of m1, the meter and its module: each once.
    assert_eq!(deltas(&first), 3, "{first:?}");
    assert!(first.iter().any(|(_, c)| *c == Changed::Meter("m1".into())), "{first:?}");
    assert!(first.iter().any(|(_, c)| *c == Changed::Module("mod-1".into())), "{first:?}");
    assert_eq!(first.len(), 5, "{first:?}");
    let head = w.store.revision().expect("revision");
    assert_eq!(first.last().map(|(rev, _)| *rev), Some(head));

    // A reading that only extends the day in progress: that day and the
    // month change (their rows move to new revisions), the finished day
    // and the registry do not (last seen times are not news).
    w.send(vec![reading("m1", "volume", T0 + 30 * HOUR, "130")], Some("mod-1"));
    w.run();
    let later = changes(&w.store, head);
    assert_eq!(later.len(), 2, "{later:?}");
    assert!(
        later.iter().all(
            |(_, c)| matches!(c, Changed::Delta { start_ms, .. } if *start_ms == T0 + 24 * HOUR || *start_ms == T0)
        )
    );
    // Compacted: the whole index still holds each item once.
    let all = changes(&w.store, 0);
    assert_eq!(all.len(), 5, "{all:?}");

    // A metadata change of the meter is news.
    let before = w.store.revision().expect("revision");
    w.store.change_meter("m1", "test", |_| Ok((Vec::new(), false))).expect("change");
    assert_eq!(changes(&w.store, before), [(before + 1, Changed::Meter("m1".into()))]);
}

#[test]
fn changes_made_while_the_index_is_not_kept_are_indexed_whole_when_it_is() {
    let mut w = World::new();
    for h in 0..30 {
        w.send(vec![reading("m1", "volume", T0 + h * HOUR, &(100 + h).to_string())], None);
    }
    // No sink yet: nothing is indexed, the consumer pays nothing for it.
    w.run();
    assert!(changes(&w.store, 0).is_empty());
    assert_eq!(w.store.revision().expect("revision"), 0);
    // A sink arrives: the whole state is indexed once.
    w.store.track_changes().expect("track");
    let indexed = changes(&w.store, 0);
    assert_eq!(indexed.len(), 4, "two days, a month, the meter: {indexed:?}");
    let head = w.store.revision().expect("revision");
    // Kept from now on; a restart keeps the complete index as it is.
    w.send(vec![reading("m1", "volume", T0 + 30 * HOUR, "130")], None);
    w.run();
    assert_eq!(changes(&w.store, head).len(), 2);
    let path = w.store.path().to_path_buf();
    let head = w.store.revision().expect("revision");
    w.store.close();
    drop(w.consumer);
    drop(Arc::try_unwrap(w.store).expect("the only handle"));
    let reopened = AccountingStore::open(&path).expect("reopen");
    reopened.track_changes().expect("track");
    assert_eq!(reopened.revision().expect("revision"), head, "a complete index is not built again");
}

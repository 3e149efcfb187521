//! The hub over a real `SledArchive`: readings the bus never carried are
//! read from the archive log in order; a slow stream's queue coalesces and
//! stays bounded while another stream gets everything; a stream opened
//! after readings were archived starts past them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::client::{Client, Packet};
use super::hub::{Hub, StreamSettings};
use super::selection::Selection;
use crate::accounting::{Accounting, AccountingStore};
use crate::auth::{Auth, AuthSettings, Principal};
use meterhub_storage::archive::{Archive, SledArchive, StoredReading};
use meterhub_storage::testing::{decoded, reading};

struct World {
    _dir: tempfile::TempDir,
    archive: Arc<SledArchive>,
    hub: Arc<Hub>,
    journal_seq: u64,
}

impl World {
    fn new(queue_limit: usize) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = Arc::new(SledArchive::open(&dir.path().join("archive")).expect("archive"));
        let store = Arc::new(AccountingStore::open(&dir.path().join("accounting")).expect("store"));
        let accounting = Arc::new(Accounting { store, default_zone: "UTC".into(), wake: Default::default() });
        let web = crate::config::WebConfig::default();
        let auth = Arc::new(Auth::open(dir.path(), AuthSettings::of(&web), None).expect("auth"));
        let settings = StreamSettings { queue_limit, control_ms: 5000, replay_limit: 1000 };
        let hub = Arc::new(Hub::new(archive.clone(), accounting, auth, settings).expect("hub"));
        World { _dir: dir, archive, hub, journal_seq: 0 }
    }

    /// Archives one reading of `device` per value; answers them as stored.
    fn archive(&mut self, device: &str, values: &[u32]) -> Vec<StoredReading> {
        let before = self.archive.log_head().expect("head");
        for value in values {
            self.journal_seq += 1;
            let r = reading(device, "volume", i64::from(*value) * 1000, &value.to_string());
            self.archive.apply(vec![decoded(self.journal_seq, "test", vec![r])]).expect("apply");
        }
        let log = self.archive.log_after(before, values.len()).expect("log");
        log.iter().map(|entry| entry.expect("readable").clone()).collect()
    }

    fn subscribe(&self, query: &str) -> Arc<Client> {
        let pairs = meterhub_http::query::pairs(Some(query)).expect("query");
        let selection = Selection::from_query(&pairs).expect("selection");
        self.hub.subscribe(Principal::local_admin(), selection).expect("subscribed").0
    }
}

/// Drains `client` until it has `n` readings (waiting for the hub).
async fn readings(client: &Client, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        for packet in client.drain().packets {
            if let Packet::Reading(event) = packet {
                seqs.push(event.seq);
            }
        }
        if seqs.len() < n {
            tokio::time::timeout(Duration::from_secs(10), client.woken()).await.expect("readings in time");
        }
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_the_bus_did_not_carry_are_read_from_the_log_in_order() {
    let mut world = World::new(64);
    let client = world.subscribe("tree=*");
    let (bus, rx) = broadcast::channel(16);
    let (_changes_tx, changes) = broadcast::channel(4);
    tokio::spawn(world.hub.clone().run(rx, changes));
    let stored = world.archive("m1", &[1, 2, 3]);
    // Only the last reaches the bus (a redecode, or a lagging receiver).
    bus.send(stored[2..].into()).expect("send");
    assert_eq!(readings(&client, 3).await, [1, 2, 3]);
    // A repeat of what was fanned out is not sent twice, nor the part of a
    // block that was.
    bus.send(stored[1..].into()).expect("send");
    let more = world.archive("m1", &[4]);
    bus.send(stored.iter().chain(&more).cloned().collect()).expect("send");
    assert_eq!(readings(&client, 1).await, [4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_stream_coalesces_within_l_plus_m_and_another_gets_everything() {
    let mut world = World::new(4);
    let slow = world.subscribe("tree=*");
    let fast = world.subscribe("device=m1&device=m2");
    let (bus, rx) = broadcast::channel(1024);
    let (_changes_tx, changes) = broadcast::channel(4);
    tokio::spawn(world.hub.clone().run(rx, changes));
    let mut sent = Vec::new();
    let mut fast_got = Vec::new();
    for round in 0..50 {
        for device in ["m1", "m2", "m3"] {
            let stored = world.archive(device, &[round]);
            bus.send(stored[..].into()).expect("send");
            sent.push(stored[0].seq);
        }
        // The fast one keeps up: m1's and m2's readings of every round.
        fast_got.extend(readings(&fast, 2).await);
    }
    let expected: Vec<u64> = sent.iter().copied().filter(|s| s % 3 != 0).collect();
    assert_eq!(fast_got, expected, "m1 and m2 are seq 3k+1 and 3k+2");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while world.hub.readings.load(std::sync::atomic::Ordering::Relaxed) < 150 {
        assert!(tokio::time::Instant::now() < deadline, "the hub fans out every reading in time");
        tokio::task::yield_now().await;
    }
    // The slow one never drained: at most L + M = 4 + 3 queued, the newest
    // of each signal among them.
    let (queued, replaced) = slow.queue_stats();
    assert!(queued <= 4 + 3, "{queued} queued");
    assert_eq!(replaced, 150 - queued as u64);
    let last = readings(&slow, queued).await;
    for newest in &sent[sent.len() - 3..] {
        assert!(last.contains(newest), "{newest} in {last:?}");
    }
}

#[test]
fn a_stream_opened_later_starts_past_what_is_archived() {
    let mut world = World::new(8);
    world.archive("m1", &[1, 2]);
    let (client, from) =
        world.hub.subscribe(Principal::local_admin(), Selection::from_query(&[]).expect("all")).expect("subscribed");
    assert_eq!(from, 2, "the log head: those are the replay's");
    assert_eq!(world.archive.log_head().expect("head"), 2);
    assert!(client.drain().packets.is_empty());
    assert_eq!(world.hub.len(), 1);
    world.hub.unsubscribe(&client);
    assert!(world.hub.is_empty());
}

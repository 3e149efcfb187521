//! A device that keeps sending readings over TCP through reloads and plugin
//! swaps: when the host closes its connection (a drained session) it
//! reconnects and sends again what was not acknowledged. Then the check
//! that what it saw acknowledged is stored, once each.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use meterhub_testkit::{Host, LineClient, poll, reading, wait_for};

/// First timestamp of the readings.
pub const TS: i64 = 1_763_719_200_000;

/// What a writer saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Timestamps acknowledged by the host.
    pub acked: BTreeSet<i64>,
    /// Connection attempts the host refused (a listener that stopped accepting).
    pub refused: u64,
    /// Connections the host ended (drained sessions).
    pub reconnects: u64,
    /// Lines sent again on a new connection because they had no answer.
    pub resent: u64,
}

/// A running writer.
pub struct Writer {
    stop: Arc<AtomicBool>,
    outcome: Arc<Mutex<Outcome>>,
    handle: JoinHandle<()>,
}

impl Writer {
    /// Start writing readings of `device` to `addr`.
    pub fn spawn(addr: SocketAddr, device: &str) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let (s, o, device) = (stop.clone(), outcome.clone(), device.to_owned());
        let handle = std::thread::spawn(move || write(addr, &device, &s, &o));
        Writer { stop, outcome, handle }
    }

    /// Readings acknowledged so far.
    pub fn acked(&self) -> usize {
        self.outcome.lock().unwrap().acked.len()
    }

    /// Stop and report.
    pub fn stop(self) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("writer thread");
        std::mem::take(&mut *self.outcome.lock().unwrap())
    }
}

fn write(addr: SocketAddr, device: &str, stop: &AtomicBool, outcome: &Mutex<Outcome>) {
    let mut next: i64 = 0;
    let mut unacked: VecDeque<i64> = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        if std::net::TcpStream::connect(addr).map(drop).is_err() {
            outcome.lock().unwrap().refused += 1;
            std::thread::yield_now();
            continue;
        }
        let Ok(mut client) = std::panic::catch_unwind(|| LineClient::connect(addr)) else {
            outcome.lock().unwrap().refused += 1;
            continue;
        };
        // One connection: bursts of lines, each answered by its line number.
        let mut offset = 0usize;
        'connection: while !stop.load(Ordering::Relaxed) {
            let mut burst: Vec<i64> = Vec::new();
            outcome.lock().unwrap().resent += unacked.len() as u64;
            burst.extend(unacked.drain(..));
            while burst.len() < 8 {
                burst.push(TS + next * 1000);
                next += 1;
            }
            let lines: String = burst.iter().map(|ts| reading(device, "volume", *ts, &ts.to_string())).collect();
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.send(lines.as_bytes()))).is_err() {
                unacked.extend(burst);
                break 'connection;
            }
            let mut answered = BTreeSet::new();
            for _ in 0..burst.len() {
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.answer()));
                let Ok(Some(answer)) = answer else { break };
                assert_eq!(answer["ok"], true, "{answer}");
                let line = answer["line"].as_u64().expect("line number") as usize;
                answered.insert(line);
            }
            let mut o = outcome.lock().unwrap();
            for (i, ts) in burst.iter().enumerate() {
                if answered.contains(&(offset + i + 1)) {
                    o.acked.insert(*ts);
                } else {
                    unacked.push_back(*ts);
                }
            }
            offset += burst.len();
            if !unacked.is_empty() {
                o.reconnects += 1;
                break 'connection;
            }
        }
    }
}

/// Every reading of `device` in the archive, by timestamp, page by page
/// (the API answers at most 100,000 readings at a time).
fn archived(host: &Host, device: &str) -> Vec<i64> {
    const PAGE: usize = 100_000;
    let mut all: Vec<i64> = Vec::new();
    loop {
        // Again from the last timestamp seen, so a repeat of it on the next
        // page is still seen (and counted).
        let last = all.last().copied();
        let from = last.map_or(String::new(), |ts| format!("&from={ts}"));
        all.retain(|ts| Some(*ts) != last);
        let page = host.get_ok(&format!("/api/v1/readings?device={device}&limit={PAGE}{from}"));
        let page = page.as_array().unwrap();
        all.extend(page.iter().map(|r| r["ts_ms"].as_i64().unwrap()));
        if page.len() < PAGE {
            return all;
        }
    }
}

/// Every acknowledged reading is in the archive, none twice, the counters
/// balance and no frame of `source` was a duplicate.
pub fn assert_every_acked_reading_stored_once(host: &Host, source: &str, device: &str, acked: &BTreeSet<i64>) {
    let stored = poll(Duration::from_secs(30), || {
        let stored = archived(host, device);
        let unique: BTreeSet<i64> = stored.iter().copied().collect();
        acked.is_subset(&unique).then_some(stored)
    });
    let Some(stored) = stored else {
        let unique: BTreeSet<i64> = archived(host, device).into_iter().collect();
        let missing: Vec<i64> = acked.difference(&unique).copied().collect();
        let log = host.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "after 30 s, {} of {} acknowledged readings are not in the archive ({} stored); first missing {:?}\nlog tail:\n{}",
            missing.len(),
            acked.len(),
            unique.len(),
            &missing[..missing.len().min(10)],
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    };
    let unique: BTreeSet<i64> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "no reading is stored twice");
    let stats = wait_for("balanced counters", Duration::from_secs(20), || {
        let stats = host.get_ok("/api/v1/stats");
        (stats["balanced"] == true).then_some(stats)
    });
    let s = &stats["sources"][source];
    assert_eq!((s["duplicate"].as_u64(), s["quarantined"].as_u64()), (Some(0), Some(0)), "{stats}");
}

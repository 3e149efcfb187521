//! SIGKILL at random moments during ingest: every acknowledged reading is
//! in the archive exactly once after a restart.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::Value;

use meterhub_testkit::{APPLY_DEADLINE, Host, LineClient, http, reading, wait_for};

const TRIALS: usize = 10;
const TS: i64 = 1_763_719_200_000;

/// Send readings from `writer` until the connection breaks or `stop`;
/// record the (device, ts) of each acknowledged one.
fn tcp_writer(
    host_addr: std::net::SocketAddr,
    writer: usize,
    trial: usize,
    acked: Arc<Mutex<BTreeSet<(String, i64)>>>,
    stop: Arc<AtomicBool>,
) {
    let Ok(stream) = std::net::TcpStream::connect(host_addr) else { return };
    drop(stream);
    let mut client = LineClient::connect(host_addr);
    let device = format!("t{trial}-w{writer}");
    let mut sent = Vec::new();
    let mut i: i64 = 0;
    while !stop.load(Ordering::Relaxed) {
        // Pipelined: a burst of lines, then their answers.
        let burst = 1 + (i % 17);
        let mut lines = String::new();
        for _ in 0..burst {
            lines.push_str(&reading(&device, "volume", TS + i * 1000, &format!("{i}")));
            sent.push(TS + i * 1000);
            i += 1;
        }
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.send(lines.as_bytes()))).is_err() {
            return;
        }
        for _ in 0..burst {
            let Ok(Some(answer)) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.answer())) else {
                return;
            };
            assert_eq!(answer["ok"], true, "{answer}");
            let line = answer["line"].as_u64().unwrap() as usize;
            acked.lock().unwrap().insert((device.clone(), sent[line - 1]));
        }
    }
}

fn http_writer(
    addr: std::net::SocketAddr,
    trial: usize,
    acked: Arc<Mutex<BTreeSet<(String, i64)>>>,
    stop: Arc<AtomicBool>,
) {
    let device = format!("t{trial}-http");
    let mut i: i64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<i64> = (0..5).map(|k| TS + (i + k) * 1000).collect();
        let body = format!(
            "[{}]",
            batch.iter().map(|ts| reading(&device, "volume", *ts, "1").trim().to_owned()).collect::<Vec<_>>().join(",")
        );
        i += 5;
        let result = std::panic::catch_unwind(|| http(addr, "POST", "/", body.as_bytes()));
        match result {
            Ok((200, _)) => acked.lock().unwrap().extend(batch.iter().map(|ts| (device.clone(), *ts))),
            _ => return,
        }
    }
}

#[test]
fn sigkill_during_ingest_loses_no_acknowledged_reading_and_duplicates_none() {
    let mut host = Host::start();
    let acked: Arc<Mutex<BTreeSet<(String, i64)>>> = Arc::default();
    let mut rng = rand::rng();
    for trial in 0..TRIALS {
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..3 {
            let (addr, acked, stop) = (host.driver("tcp-in"), acked.clone(), stop.clone());
            writers.push(std::thread::spawn(move || tcp_writer(addr, w, trial, acked, stop)));
        }
        let (addr, acked2, stop2) = (host.driver("http-in"), acked.clone(), stop.clone());
        writers.push(std::thread::spawn(move || http_writer(addr, trial, acked2, stop2)));
        // Let some traffic flow, then kill at a random moment.
        let before = acked.lock().unwrap().len();
        wait_for("some acknowledged readings", Duration::from_secs(30), || {
            (acked.lock().unwrap().len() > before).then_some(())
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        host.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.join();
        }
        host.restart();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 100, "too little traffic to mean anything: {}", acked.len());

    // Every acknowledged reading is there, once.
    let stored: Vec<Value> = wait_for("every acknowledged reading in the archive", APPLY_DEADLINE, || {
        let rows = host.get_ok("/api/v1/readings?limit=100000");
        let rows = rows.as_array().unwrap().clone();
        assert!(rows.len() < 100_000, "a full page: the check would miss readings; page through them");
        let keys: BTreeSet<(String, i64)> =
            rows.iter().map(|r| (r["device"].as_str().unwrap().to_owned(), r["ts_ms"].as_i64().unwrap())).collect();
        acked.is_subset(&keys).then_some(rows)
    });
    let mut seen = BTreeSet::new();
    for r in &stored {
        let key = (
            r["device"].as_str().unwrap().to_owned(),
            r["channel"].as_str().unwrap().to_owned(),
            r["ts_ms"].as_i64().unwrap(),
        );
        assert!(seen.insert(key.clone()), "reading {key:?} is stored twice");
        assert_eq!(r["conflict"], false, "{r}");
    }
    let stats = host.get_ok("/api/v1/stats");
    assert_eq!(stats["balanced"], true, "{stats}");
    assert_eq!(stats["total"]["quarantined"], 0, "{stats}");
    eprintln!("crash test: {TRIALS} kills, {} acknowledged readings, {} stored", acked.len(), stored.len());
}

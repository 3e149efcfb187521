//! A full disk, on a small tmpfs holding the host's data: acknowledgements
//! stop, `/health` says why, the refusals are counted; when space returns,
//! ingest resumes by itself (no restart), with every acknowledged reading
//! archived once; and SIGTERM ends the host while the disk is full.
//!
//! The tmpfs needs root (CAP_SYS_ADMIN), as the test machine and CI have.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use meterhub_testkit::{APPLY_DEADLINE, Host, default_config, http, plugins_dir, reading, wait_for};

const TS: i64 = 1_763_719_200_000;

/// A tmpfs mounted for the test, unmounted when dropped.
pub(crate) struct Tmpfs {
    pub(crate) path: PathBuf,
}

impl Tmpfs {
    pub(crate) fn mount(size_mib: u32) -> Tmpfs {
        let path = tempfile::tempdir().expect("temp dir").keep();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(status.success(), "the disk-full test mounts a tmpfs at {} and needs root", path.display());
        Tmpfs { path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Fills the file system of `dir` with one file, to the last block.
pub(crate) fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create filler");
    for chunk in [1 << 20, 4096, 1] {
        let block = vec![0u8; chunk];
        while file.write_all(&block).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

/// POSTs readings `from..from + n` of `device` to the listener's HTTP ingress.
fn post(addr: std::net::SocketAddr, device: &str, from: i64, n: i64) -> (u16, Vec<(String, i64)>) {
    let (status, keys, _) = post_answer(addr, device, from, n);
    (status, keys)
}

fn post_answer(addr: std::net::SocketAddr, device: &str, from: i64, n: i64) -> (u16, Vec<(String, i64)>, String) {
    let keys: Vec<(String, i64)> = (from..from + n).map(|i| (device.to_owned(), TS + i * 1000)).collect();
    let body = keys.iter().map(|(d, ts)| reading(d, "volume", *ts, "1").trim().to_owned()).collect::<Vec<_>>();
    let (status, answer) = http(addr, "POST", "/", format!("[{}]", body.join(",")).as_bytes());
    (status, keys, String::from_utf8_lossy(&answer).into_owned())
}

/// Sends until a POST is refused; returns what was acknowledged on the way.
fn send_until_refused(host: &Host, device: &str, next: &mut i64) -> Vec<(String, i64)> {
    let addr = host.driver("http-in");
    let mut acked = Vec::new();
    let (status, answer) = wait_for("a POST refused on the full disk", Duration::from_secs(30), || {
        let (status, keys, answer) = post_answer(addr, device, *next, 5);
        *next += 5;
        match status {
            200 => {
                acked.extend(keys);
                None
            }
            _ => Some((status, answer)),
        }
    });
    assert!(answer.contains("No space left on device"), "refused with {status}: {answer}; log:\n{}", host.log());
    acked
}

fn health(host: &Host) -> (u16, Value) {
    host.get("/api/v1/health")
}

#[test]
fn a_full_disk_stops_acknowledgements_and_ingest_resumes_by_itself_when_space_returns() {
    let fs = Tmpfs::mount(64);
    // Data and log on the same small file system, as on a server with one
    // disk: a log line that cannot be written must not take anything down.
    let mut host = Host::start_in(&fs.path.join("host"), &default_config(&plugins_dir("wasm")), false);
    let addr = host.driver("http-in");
    let mut acked: BTreeSet<(String, i64)> = BTreeSet::new();
    let mut next = 0;
    for _ in 0..10 {
        let (status, keys) = post(addr, "m1", next, 5);
        next += 5;
        assert_eq!(status, 200);
        acked.extend(keys);
    }
    assert_eq!(health(&host).0, 200);

    let filler = fill(&fs.path);
    acked.extend(send_until_refused(&host, "m1", &mut next));
    let (status, body) = wait_for("/health to say the disk is full", Duration::from_secs(10), || {
        let (status, body) = health(&host);
        (status == 503).then_some((status, body))
    });
    assert_eq!(body["status"], "degraded", "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("degraded: disk full at ") && error.contains(" bytes free"), "{body}");
    assert_eq!(status, 503);
    let metrics = String::from_utf8(http(host.api, "GET", "/metrics", b"").1).expect("utf-8");
    let not_stored = metrics
        .lines()
        .find(|l| l.starts_with("meterhub_inputs_not_stored_total{source=\"http-in\"}"))
        .unwrap_or_else(|| panic!("no not-stored count:\n{metrics}"));
    assert!(!not_stored.ends_with(" 0"), "{not_stored}");
    assert!(metrics.contains("meterhub_store_degraded{store=\"journal\",disk_full=\"true\"} 1"), "{metrics}");

    // Space comes back: ingest resumes without a restart.
    std::fs::remove_file(&filler).expect("remove filler");
    let freed = Instant::now();
    wait_for("a POST acknowledged again", Duration::from_secs(30), || {
        let (status, keys) = post(addr, "m1", next, 5);
        next += 5;
        (status == 200).then(|| acked.extend(keys))
    });
    eprintln!("disk full: acknowledged again {} ms after space returned", freed.elapsed().as_millis());
    wait_for("/health ok again", Duration::from_secs(30), || (health(&host).0 == 200).then_some(()));
    for _ in 0..10 {
        let (status, keys) = post(addr, "m1", next, 5);
        next += 5;
        assert_eq!(status, 200);
        acked.extend(keys);
    }
    check_archive(&host, &acked);

    // SIGTERM while the disk is full ends the host; what it acknowledged stays.
    let filler = fill(&fs.path);
    acked.extend(send_until_refused(&host, "m2", &mut next));
    let stopping = Instant::now();
    host.stop();
    let stopped_in = stopping.elapsed();
    assert!(stopped_in < Duration::from_secs(10), "SIGTERM took {stopped_in:?} on a full disk");
    std::fs::remove_file(&filler).expect("remove filler");
    host.restart();
    check_archive(&host, &acked);
}

/// Every acknowledged reading is archived once; the counters balance.
fn check_archive(host: &Host, acked: &BTreeSet<(String, i64)>) {
    let rows: Vec<Value> = wait_for("every acknowledged reading in the archive", APPLY_DEADLINE, || {
        let rows = host.get_ok("/api/v1/readings?limit=100000");
        let rows = rows.as_array().expect("array").clone();
        let keys: BTreeSet<(String, i64)> =
            rows.iter().map(|r| (r["device"].as_str().unwrap().to_owned(), r["ts_ms"].as_i64().unwrap())).collect();
        acked.is_subset(&keys).then_some(rows)
    });
    let mut seen = BTreeSet::new();
    for r in &rows {
        let key = (r["device"].as_str().unwrap().to_owned(), r["ts_ms"].as_i64().unwrap());
        assert!(seen.insert(key.clone()), "reading {key:?} is stored twice");
    }
    let stats = host.get_ok("/api/v1/stats");
    assert_eq!(stats["balanced"], true, "{stats}");
}

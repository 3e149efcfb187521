//! Bytes flipped in the databases of a stopped host (archive, accounting,
//! users) and in the journal of a killed one, over several seeds: never a
//! panic, never a silently wrong or empty store. The damaged store is named
//! in `/health` (its files as found kept beside it), a user database that
//! lost its users is never taken for a first run, and an acknowledged
//! reading is either stored with its value or named lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use meterhub_testkit::{APPLY_DEADLINE, Host, http, reading, wait_for};

const TS: i64 = 1_763_719_200_000;

/// Flips `flips` bits of `file` at places drawn from `seed`, in its bytes
/// from `from` on.
fn flip(file: &Path, seed: u64, flips: usize, from: usize) {
    let mut bytes = std::fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..flips {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = from + (x % (bytes.len() - from) as u64) as usize;
        bytes[at] ^= 1 << (x % 8);
    }
    std::fs::write(file, &bytes).expect("write");
}

#[test]
fn flipped_bytes_in_a_stopped_hosts_databases_are_found_named_and_kept() {
    let mut host = Host::start();
    let added =
        host.cli_with_stdin(&["user", "add", "ann", "--role", "admin", "--password-stdin"], "a long password\n");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let body = (0..50).map(|i| reading("m1", "volume", TS + i * 60_000, "1").trim().to_owned()).collect::<Vec<_>>();
    let (status, _) = http(host.driver("http-in"), "POST", "/", format!("[{}]", body.join(",")).as_bytes());
    assert_eq!(status, 200);
    wait_for("the readings archived", APPLY_DEADLINE, || {
        let rows = host.get_ok("/api/v1/readings?device=m1&limit=1000");
        (rows.as_array().map(Vec::len) == Some(50)).then_some(())
    });

    for (seed, store) in [(1, "archive"), (2, "accounting"), (3, "users"), (4, "archive"), (5, "users")] {
        host.stop();
        let data = host.data_dir();
        assert!(data.join(format!("{store}.seal")).exists(), "{store} was not sealed at the clean stop");
        flip(&data.join(store).join("db"), seed, 3, 0);
        match host.restart_allowing_failure() && host.running() {
            true => {
                let (status, health) = host.get("/api/v1/health");
                eprintln!("seed {seed}, {store}: started degraded: {}", health["error"]);
                assert_eq!(status, 503, "seed {seed}, {store}: {health}");
                let error = health["error"].as_str().unwrap_or_default().to_owned();
                assert!(error.contains("damaged: ") && error.contains(&format!("{store} changed")), "{health}");
                let kept = health["stores"][0]["error"].as_str().unwrap_or_default().to_owned();
                assert!(kept.contains(".damaged-"), "{health}");
                if store == "users" {
                    let users = host.cli(&["user", "list", "--json"]);
                    let listed = String::from_utf8_lossy(&users.stdout).into_owned();
                    assert!(listed.contains("ann"), "seed {seed}: a damaged user database started with {listed}");
                }
            }
            false => {
                eprintln!("seed {seed}, {store}: refused to start");
                // Refusing to start is allowed only with the store and the remedy named.
                let log = host.log();
                assert!(log.contains("damaged"), "seed {seed}, {store}: {log}");
                assert!(!log.contains("panicked"), "seed {seed}, {store}: {log}");
                assert_eq!(store, "users", "seed {seed}: only a user database without users may refuse: {log}");
                assert!(log.contains("holds no users") && log.contains("meterhub user add"), "{log}");
                // The operator moves the damaged copies away and starts without users.
                for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
                    if entry.file_name().to_string_lossy().starts_with("users.damaged-") {
                        std::fs::remove_dir_all(entry.path()).expect("remove the damaged copy");
                    }
                }
                host.restart();
                let added = host.cli_with_stdin(
                    &["user", "add", "ann", "--role", "admin", "--password-stdin"],
                    "a long password\n",
                );
                assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
            }
        }
        // Never a panic, whatever was damaged.
        assert!(!host.log().contains("panicked"), "{}", host.log());
    }
    // A clean stop and start after all that is not damage.
    host.stop();
    host.restart();
    wait_for("health ok after a clean restart", Duration::from_secs(20), || {
        (host.get("/api/v1/health").0 == 200).then_some(())
    });
}

/// The journal segment holding the newest records.
fn active_segment(journal: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(journal)
        .expect("journal dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    segments.pop().expect("a segment")
}

/// The sequence numbers `/health` names lost: every "(seq A to B)".
fn named_lost(health: &serde_json::Value) -> Vec<(u64, u64)> {
    let text = health.to_string();
    text.split("are lost (seq ")
        .skip(1)
        .map(|rest| {
            let range = &rest[..rest.find(')').expect("closing parenthesis")];
            let (a, b) = range.split_once(" to ").expect("A to B");
            (a.parse().expect("seq"), b.parse().expect("seq"))
        })
        .collect()
}

#[test]
fn flipped_bytes_in_a_killed_hosts_journal_cost_only_the_named_records() {
    let mut host = Host::start();
    // Acknowledged readings, by timestamp: (value, seq).
    let mut acked: BTreeMap<i64, (String, u64)> = BTreeMap::new();
    let mut lost: Vec<(u64, u64)> = Vec::new();
    let mut damage_seen = 0;
    for seed in 1..=4u64 {
        // One reading per POST: one journal record each, acknowledged only
        // once durable. Killed at once, so the archive may not hold them.
        for _ in 0..30 {
            let ts = TS + acked.len() as i64 * 60_000;
            let value = format!("{}.5", acked.len());
            let (status, answer) =
                http(host.driver("http-in"), "POST", "/", reading("m1", "volume", ts, &value).as_bytes());
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
            let answer: serde_json::Value = serde_json::from_slice(&answer).expect("json answer");
            acked.insert(ts, (value, answer["seq"].as_u64().expect("seq")));
        }
        host.kill();
        let segment = active_segment(&host.data_dir().join("journal"));
        let len = std::fs::metadata(&segment).expect("segment").len() as usize;
        // In the newest records, where the archive is least likely to hold them.
        flip(&segment, seed, seed as usize, len / 2);
        host.restart();
        assert!(host.running(), "seed {seed}: the host must start on a damaged journal: {}", host.log());

        let (status, health) = host.get("/api/v1/health");
        let named = named_lost(&health);
        eprintln!("seed {seed}: health {status}, named lost {named:?}: {}", health["error"]);
        if status == 503 {
            damage_seen += 1;
            let error = health["error"].as_str().unwrap_or_default();
            let name = segment.file_name().expect("name").to_string_lossy().into_owned();
            assert!(error.contains(&name) && error.contains("has unreadable records"), "seed {seed}: {health}");
            let kept = std::fs::read_dir(host.data_dir().join("journal").join("damaged")).expect("kept copies");
            assert!(kept.flatten().any(|e| e.file_name().to_string_lossy().starts_with(&name)), "seed {seed}");
        }
        lost.extend(named);
        let is_lost = |seq: u64| lost.iter().any(|&(a, b)| (a..=b).contains(&seq));

        // Every acknowledged reading is stored with its value, or named lost.
        let expected: BTreeMap<i64, &str> =
            acked.iter().filter(|(_, (_, seq))| !is_lost(*seq)).map(|(ts, (value, _))| (*ts, value.as_str())).collect();
        let stored = wait_for("the acknowledged readings stored", APPLY_DEADLINE, || {
            let rows = host.get_ok("/api/v1/readings?device=m1&limit=10000");
            let stored: BTreeMap<i64, String> = rows
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| (r["ts_ms"].as_i64().expect("ts"), r["value"].as_str().expect("value").to_owned()))
                .collect();
            expected.keys().all(|ts| stored.contains_key(ts)).then_some(stored)
        });
        for (ts, value) in &stored {
            let (sent, seq) = &acked[ts];
            assert_eq!(value, sent, "seed {seed}: the reading at {ts} (seq {seq}) came back wrong");
        }
        let missing: Vec<u64> =
            acked.iter().filter(|(ts, _)| !stored.contains_key(ts)).map(|(_, (_, seq))| *seq).collect();
        assert!(missing.iter().all(|&seq| is_lost(seq)), "seed {seed}: missing {missing:?}, named lost {lost:?}");
        assert!(!host.log().contains("panicked"), "{}", host.log());
    }
    assert!(damage_seen > 0, "no flip was ever found: the test did not test anything");
}

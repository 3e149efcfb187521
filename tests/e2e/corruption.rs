//! Bytes flipped in the databases of a stopped host (archive, accounting,
//! users), over several seeds: never a panic, never a silently wrong or
//! empty store. The damaged store is named in `/health` (its files as found
//! kept beside it), and a user database that lost its users is never taken
//! for a first run.

use std::path::Path;
use std::time::Duration;

use meterhub_testkit::{APPLY_DEADLINE, Host, http, reading, wait_for};

const TS: i64 = 1_763_719_200_000;

/// Flips `flips` bits of `file` at places drawn from `seed`.
fn flip(file: &Path, seed: u64, flips: usize) {
    let mut bytes = std::fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..flips {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = (x % bytes.len() as u64) as usize;
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
        flip(&data.join(store).join("db"), seed, 3);
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

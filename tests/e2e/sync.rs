//! Sync to a monitoring center end to end: real `meterhub` processes, sites
//! and a center, on loopback; the link through a proxy the test controls.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use meterhub_testkit::{APPLY_DEADLINE, Host, Proxy, default_config, free_port, plugins_dir, reading, wait_for};

const TS: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z
/// How long a link may take to catch up after a fault.
const CATCH_UP: Duration = Duration::from_secs(60);

/// A site's token (each site its own).
fn token(site: &str) -> String {
    format!("token-of-{site}-0123456789abcdef")
}

/// A center taking data from `sites`, its API on `port`; the token files
/// are written into its directory once it exists (they are read at start).
pub(crate) fn center_config(port: u16, sites: &[&str], dir: &std::path::Path) -> String {
    let mut text = default_config(&plugins_dir("wasm")).replacen(
        "[api]\nlisten = \"127.0.0.1:0\"",
        &format!("[api]\nlisten = \"127.0.0.1:{port}\""),
        1,
    );
    text.push_str("\n[center]\nalarm_silence_seconds = 60\n");
    for site in sites {
        let file = dir.join(format!("{site}.token"));
        std::fs::write(&file, token(site)).unwrap();
        text.push_str(&format!("[center.sites.{site}]\ntoken_file = \"{}\"\n", file.display()));
    }
    text
}

/// A site sending to the center at `center` as `site`.
pub(crate) fn site_config(site: &str, center: SocketAddr, dir: &std::path::Path) -> String {
    site_config_with(site, &format!("http://{center}"), dir, "")
}

/// A site sending to the center at `url` as `site`, with `extra` keys.
fn site_config_with(site: &str, url: &str, dir: &std::path::Path, extra: &str) -> String {
    let file = dir.join(format!("{site}.site-token"));
    std::fs::write(&file, token(site)).unwrap();
    default_config(&plugins_dir("wasm"))
        + &format!(
            "\n[sinks.center]\nkind = \"sync-center\"\nurl = \"{url}\"\nsite = \"{site}\"\ntoken_file = \"{}\"\nlinger_ms = 20\nbatch_records = 500\nretry_min_ms = 50\nretry_max_ms = 500\n{extra}",
            file.display()
        )
}

/// Token files live outside the hosts' directories (which are made at start).
pub(crate) fn tokens_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Send `lines` over TCP, every one acknowledged.
pub(crate) fn send_lines(host: &Host, lines: &[String]) {
    meterhub_testkit::line::send_acked(host.driver("tcp-in"), lines);
}

/// `count` readings of meters `m0..m4` from `first`.
pub(crate) fn lines(first: i64, count: i64) -> Vec<String> {
    (first..first + count)
        .map(|i| reading(&format!("m{}", i % 5), "volume", TS + i * 60_000, &format!("{}.{}", 1000 + i, i % 10)))
        .collect()
}

/// Every reading of `host` whose meter starts with `prefix`, as
/// (meter without the prefix, channel, ts) -> value, with how often each
/// key was seen.
fn readings(host: &Host, prefix: &str) -> BTreeMap<(String, String, i64), (String, usize)> {
    let mut out: BTreeMap<(String, String, i64), (String, usize)> = BTreeMap::new();
    for device in host.get_ok("/api/v1/devices").as_array().unwrap() {
        let device = device["device"].as_str().unwrap();
        let Some(meter) = device.strip_prefix(prefix) else { continue };
        let rows = host.get_ok(&format!("/api/v1/readings?device={}&limit=100000", device.replace('/', "%2F")));
        for r in rows.as_array().unwrap() {
            let key = (meter.to_owned(), r["channel"].as_str().unwrap().to_owned(), r["ts_ms"].as_i64().unwrap());
            let value = r["value"].as_str().unwrap().to_owned();
            out.entry(key).and_modify(|(_, n)| *n += 1).or_insert((value, 1));
        }
    }
    out
}

/// The site's consistency check with its center over the readings' month.
fn check(site: &Host) -> Value {
    let path = "/api/v1/sync/check?from=2025-11-30T00:00:00Z&to=2026-01-01T00:00:00Z";
    let (status, report) = meterhub_testkit::http(site.api, "POST", path, b"");
    let report: Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(status, 200, "{report}");
    report
}

/// The center's view of `site`.
fn center_site(center: &Host, site: &str) -> Option<Value> {
    let sync = center.get_ok("/api/v1/sync");
    sync["sites"].as_array()?.iter().find(|s| s["site"] == site).cloned()
}

/// Wait (for `what`) until the site's link names `text` in its last error; the link.
fn wait_link_error(site: &Host, what: &str, text: &str) -> Value {
    wait_for(what, APPLY_DEADLINE, || {
        let link = site_link(site)?;
        let error = link["sink"]["last_error"]["message"].as_str()?.to_owned();
        error.contains(text).then_some(link)
    })
}

/// The site's view of its link.
fn site_link(site: &Host) -> Option<Value> {
    let sync = site.get_ok("/api/v1/sync");
    sync["links"].as_array()?.first().cloned()
}

/// Wait until `site` has archived the `sent` lines it acknowledged, all of
/// them are at the center, both ends say the link is in sync, and the
/// center's archive has applied them (in sync means journaled there).
fn wait_in_sync(center: &Host, site: &Host, name: &str, sent: i64, deadline: Duration) {
    let stats = site.settled_stats(sent as u64);
    let head = stats["total"]["readings_new"].as_u64().unwrap() + stats["total"]["readings_conflict"].as_u64().unwrap();
    wait_for(&format!("site {name} to be in sync at both ends through seq {head}"), deadline, || {
        let link = site_link(site)?;
        let at_center = center_site(center, name)?;
        // The archive answers 503 while it is reopened after a full disk.
        let (status, stats) = meterhub_testkit::http(center.api, "GET", "/api/v1/stats", b"");
        let stats: Value = serde_json::from_slice(&stats).ok().filter(|_| status == 200)?;
        let source = &stats["sources"][format!("sync:{name}")];
        let applied: u64 = ["readings_new", "readings_conflict", "readings_duplicate"]
            .iter()
            .filter_map(|counter| source[*counter].as_u64())
            .sum();
        (at_center["position"]["readings"] == head
            && link["state"] == "in_sync"
            && at_center["state"] == "in_sync"
            && at_center["lag_records"] == 0
            && applied >= head)
            .then_some(())
    });
}

/// Every reading the site holds is at the center once, under the site's
/// name, with the same value.
fn assert_replicated(center: &Host, site: &Host, name: &str) -> usize {
    let here = readings(site, "");
    let there = readings(center, &format!("{name}/"));
    assert_eq!(
        here.len(),
        there.len(),
        "site {name} holds {} readings, the center {}: {} {}",
        here.len(),
        there.len(),
        center.get_ok("/api/v1/devices"),
        center.get_ok("/api/v1/stats")
    );
    for (key, (value, _)) in &here {
        let Some((v, n)) = there.get(key) else { panic!("{key:?} of site {name} is not at the center") };
        assert_eq!(*n, 1, "{key:?} is at the center {n} times");
        assert_eq!(v.parse::<f64>().unwrap(), value.parse::<f64>().unwrap(), "{key:?}: the center holds another value");
    }
    here.len()
}

#[test]
fn two_sites_replicate_to_one_center_exactly_once_and_stay_apart() {
    let tokens = tokens_dir();
    let port = free_port();
    let center = Host::start_with(&center_config(port, &["north", "south"], tokens.path()));
    let at: SocketAddr = ([127, 0, 0, 1], port).into();
    let north = Host::start_with(&site_config("north", at, tokens.path()));
    let south = Host::start_with(&site_config("south", at, tokens.path()));
    // The same meter ids at both sites, other values.
    send_lines(&north, &lines(0, 300));
    send_lines(&south, &lines(1000, 200));
    wait_in_sync(&center, &north, "north", 300, APPLY_DEADLINE);
    wait_in_sync(&center, &south, "south", 200, APPLY_DEADLINE);
    assert_eq!(assert_replicated(&center, &north, "north"), 300);
    assert_eq!(assert_replicated(&center, &south, "south"), 200);
    let devices = center.get_ok("/api/v1/devices");
    let names: Vec<&str> = devices.as_array().unwrap().iter().map(|d| d["device"].as_str().unwrap()).collect();
    assert!(names.contains(&"north/m0") && names.contains(&"south/m0"), "{names:?}");

    let status = center_site(&center, "north").unwrap();
    assert_eq!(status["readings"], 300, "{status}");
    assert_eq!(status["site_counters"]["tcp-in"]["received"], 300, "the site's own counters: {status}");
    assert!(status["bytes"].as_u64().unwrap() > 0, "{status}");
    let link = site_link(&north).unwrap();
    assert_eq!(link["sink"]["plugin"], "sync-center", "{link}");
    // Both ends print their links in `meterhub status`.
    let printed = String::from_utf8_lossy(&center.cli(&["status"]).stdout).into_owned();
    let row = printed.lines().find(|l| l.starts_with("north ")).unwrap_or_else(|| panic!("{printed}"));
    assert!(row.contains("in_sync"), "{printed}");
    let printed = String::from_utf8_lossy(&north.cli(&["status"]).stdout).into_owned();
    assert!(printed.contains("SYNC LINK") && printed.contains("as site north"), "{printed}");

    // A meter's metadata edited at the site reaches the center's registry,
    // under the site's name, with its history naming the site.
    let body = r#"{"actor":"e2e","name":"Котельная №1","time_zone":"Asia/Yekaterinburg"}"#;
    let (status, _) = meterhub_testkit::http(north.api, "PATCH", "/api/v1/meters/m0", body.as_bytes());
    assert_eq!(status, 200);
    let meter = wait_for("the site's meter metadata at the center", APPLY_DEADLINE, || {
        let (status, meter) = center.get("/api/v1/meters/north%2Fm0");
        (status == 200 && meter["metadata"]["name"] == "Котельная №1").then_some(meter)
    });
    assert_eq!(meter["metadata"]["time_zone"], "Asia/Yekaterinburg", "{meter}");
    let (_, south_m0) = center.get("/api/v1/meters/south%2Fm0");
    assert_ne!(south_m0["metadata"]["name"], "Котельная №1", "the other site's m0 is another meter");

    // A site's token is good for its own namespace only.
    let batches = |site: &str| format!("/api/v1/sync/sites/{site}/batches");
    let north_token = format!("Bearer {}", token("north"));
    let answer =
        meterhub_testkit::request(at, "POST", &batches("south"), &[("Authorization", north_token.as_str())], b"x");
    assert_eq!(answer.status, 403, "{}", String::from_utf8_lossy(&answer.body));
    assert!(String::from_utf8_lossy(&answer.body).contains("the token of site north cannot write into site south"));
    let answer = meterhub_testkit::request(at, "POST", &batches("north"), &[("Authorization", "Bearer wrong")], b"x");
    assert_eq!(answer.status, 401, "{}", String::from_utf8_lossy(&answer.body));
    let answer = meterhub_testkit::request(at, "POST", &batches("north"), &[], b"x");
    assert_eq!(answer.status, 401);
    // A corrupt batch with the right token is refused, naming the site.
    let answer = meterhub_testkit::request(
        at,
        "POST",
        &batches("north"),
        &[("Authorization", north_token.as_str())],
        b"garbage",
    );
    assert_eq!(answer.status, 400);
    assert!(String::from_utf8_lossy(&answer.body).contains("site north: the batch: it is not zstd data"));
    // Nothing of that reached the archive: still exactly what the sites sent.
    assert_eq!(assert_replicated(&center, &north, "north"), 300);

    // The consistency check: clean over every meter and day...
    let report = check(&north);
    assert_eq!((report["different"].as_u64(), report["readings"].as_u64()), (Some(0), Some(300)), "{report}");
    assert!(report["days"].as_u64().unwrap() >= 5, "{report}");
    // ... and a reading the center got from elsewhere into north's
    // namespace is found, on its meter and day.
    send_lines(&center, &[reading("north/m1", "volume", TS + 30_000, "7")]);
    wait_for("the center to archive it", APPLY_DEADLINE, || (readings(&center, "north/").len() == 301).then_some(()));
    let report = check(&north);
    assert_eq!(report["different"], 1, "{report}");
    let difference = &report["differences"][0];
    assert_eq!(
        (difference["meter"].as_str(), difference["day"].as_str()),
        (Some("m1"), Some("2025-12-01")),
        "{report}"
    );
    assert_eq!(difference["center"]["count"].as_u64(), difference["site"]["count"].as_u64().map(|n| n + 1));
    let at_center = center_site(&center, "north").unwrap();
    assert_eq!(at_center["last_check"]["different"], 1, "the center shows the check too: {at_center}");

    // A second installation sending as north (re-installed, or a copied
    // configuration) is refused by name: its readings never mix into
    // north's, and none of them is skipped as "already held".
    let impostor = Host::start_with(&site_config("north", at, tokens.path()));
    send_lines(&impostor, &lines(5000, 20));
    let link = wait_link_error(&impostor, "the second installation to be refused", "another installation");
    assert_eq!(link["state"], "stalled", "{link}");
    assert_eq!(readings(&center, "north/").len(), 301, "nothing of the second installation is at the center");
}

#[test]
fn nothing_is_lost_or_doubled_through_cuts_stalls_and_kills_at_both_ends() {
    let tokens = tokens_dir();
    let port = free_port();
    let mut center = Host::start_with(&center_config(port, &["north"], tokens.path()));
    let proxy = Proxy::start(([127, 0, 0, 1], port).into());
    let mut site = Host::start_with(&site_config("north", proxy.addr, tokens.path()));
    let mut next = 0i64;
    let send = |site: &Host, next: &mut i64, count: i64| {
        send_lines(site, &lines(*next, count));
        *next += count;
    };
    send(&site, &mut next, 200);
    wait_in_sync(&center, &site, "north", next, APPLY_DEADLINE);

    // A stalled link shows as stalled at the site within seconds.
    proxy.stall();
    send(&site, &mut next, 100);
    wait_for("the site to show its link stalled", Duration::from_secs(15), || {
        (site_link(&site)?["state"] == "stalled").then_some(())
    });
    proxy.heal();
    wait_in_sync(&center, &site, "north", next, CATCH_UP);

    // Cut for a minute while the site ingests; the site shows it down and
    // keeps taking readings; the center shows the site down.
    proxy.cut();
    let cut_at = std::time::Instant::now();
    while cut_at.elapsed() < Duration::from_secs(61) {
        send(&site, &mut next, 50);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(site_link(&site).unwrap()["state"], "down");
    assert_eq!(center_site(&center, "north").unwrap()["state"], "down");
    proxy.heal();
    wait_in_sync(&center, &site, "north", next, CATCH_UP);

    // Resets mid-batch, and SIGKILLs of the site and of the center.
    for trial in 0..10 {
        send(&site, &mut next, 300);
        proxy.reset_all();
        site.kill();
        site.restart();
        send(&site, &mut next, 300);
        center.kill();
        center.restart();
        if trial % 3 == 0 {
            wait_in_sync(&center, &site, "north", next, CATCH_UP);
        }
    }
    wait_in_sync(&center, &site, "north", next, CATCH_UP);
    let total = assert_replicated(&center, &site, "north");
    let report = check(&site);
    assert_eq!((report["different"].as_u64(), report["readings"].as_u64()), (Some(0), Some(next as u64)), "{report}");
    assert_eq!(total as i64, next, "every reading the site acknowledged");
    // Effectively once at rest: every reading new once, none in conflict.
    // (At least once on the wire: a batch sent again is recognised by its
    // position before the journal; `readings_duplicate` counts any that
    // reached the archive again and were dropped there.)
    let stats = center.get_ok("/api/v1/stats");
    let source = &stats["sources"]["sync:north"];
    assert_eq!(source["readings_conflict"], 0, "{source}");
    assert_eq!(source["readings_new"].as_u64(), Some(next as u64), "{source}");
    assert!(proxy.accepted() > 10, "the link was opened again after faults");
}

#[test]
fn a_site_replicates_over_https_trusting_its_ca_file_and_names_a_certificate_it_cannot_trust() {
    let tokens = tokens_dir();
    meterhub_testkit::tls::certificates(tokens.path());
    let (port, tls_port) = (free_port(), free_port());
    let https = format!(
        "listen = \"127.0.0.1:{port}\"\ntls_listen = \"127.0.0.1:{tls_port}\"\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        tokens.path().join("server.pem").display(),
        tokens.path().join("server.key").display()
    );
    let config = center_config(port, &["north", "south"], tokens.path()).replacen(
        &format!("listen = \"127.0.0.1:{port}\""),
        &https,
        1,
    );
    let center = Host::start_with(&config);
    let url = format!("https://127.0.0.1:{tls_port}");
    let ca = format!("ca_file = \"{}\"\n", tokens.path().join("ca.pem").display());
    let north = Host::start_with(&site_config_with("north", &url, tokens.path(), &ca));
    send_lines(&north, &lines(0, 120));
    wait_in_sync(&center, &north, "north", 120, APPLY_DEADLINE);
    assert_eq!(assert_replicated(&center, &north, "north"), 120);

    // Without the CA, the site does not trust the center: it says so, and
    // keeps its readings.
    let south = Host::start_with(&site_config_with("south", &url, tokens.path(), ""));
    send_lines(&south, &lines(0, 10));
    let link =
        wait_link_error(&south, "the untrusting site to name the certificate", "refused the server's certificate");
    assert_eq!(link["state"], "stalled", "{link}");
    assert!(link["sink"]["last_error"]["message"].as_str().unwrap().contains("site south"), "{link}");
    // The readings are acknowledged when journaled; the archive applies them
    // on its own time, so wait for it rather than read the counters once.
    meterhub_testkit::bench::wait_archived(&south, "tcp-in", 10);
}

#[test]
fn a_center_with_a_full_disk_says_so_and_takes_everything_once_space_returns() {
    let tokens = tokens_dir();
    let fs = crate::disk_full::Tmpfs::mount(48);
    let port = free_port();
    let data = fs.path.join("center");
    let config = center_config(port, &["north"], tokens.path()).replacen(
        "data_dir = \"data\"",
        &format!("data_dir = \"{}\"", data.display()),
        1,
    );
    let center = Host::start_with(&config);
    let site = Host::start_with(&site_config("north", ([127, 0, 0, 1], port).into(), tokens.path()));
    send_lines(&site, &lines(0, 100));
    wait_in_sync(&center, &site, "north", 100, APPLY_DEADLINE);

    let filler = crate::disk_full::fill(&fs.path);
    // A batch can still fit in the part-filled last page of the center's
    // journal segment, so the site goes on taking readings until the center
    // refuses one.
    let mut sent = 100;
    let link = wait_for("the site to name the center's full disk", APPLY_DEADLINE, || {
        let link = site_link(&site)?;
        let error = link["sink"]["last_error"]["message"].as_str().unwrap_or_default();
        if error.contains("the center cannot store the batch") {
            return Some(link);
        }
        send_lines(&site, &lines(sent, 20));
        sent += 20;
        None
    });
    let error = link["sink"]["last_error"]["message"].as_str().unwrap();
    assert!(error.contains("site north") && error.contains("507"), "{link}");
    assert_eq!(link["state"], "stalled", "{link}");
    // The site goes on taking readings.
    send_lines(&site, &lines(sent, 50));
    sent += 50;

    std::fs::remove_file(&filler).unwrap();
    wait_in_sync(&center, &site, "north", sent, CATCH_UP);
    assert_eq!(assert_replicated(&center, &site, "north"), sent as usize);
    let stats = center.get_ok("/api/v1/stats");
    assert_eq!(stats["sources"]["sync:north"]["readings_duplicate"], 0, "{stats}");
}

#[test]
fn a_site_restored_from_a_backup_stops_before_its_new_readings_are_taken_for_old_ones() {
    let tokens = tokens_dir();
    let port = free_port();
    let center = Host::start_with(&center_config(port, &["north"], tokens.path()));
    let mut site = Host::start_with(&site_config("north", ([127, 0, 0, 1], port).into(), tokens.path()));
    send_lines(&site, &lines(0, 50));
    wait_in_sync(&center, &site, "north", 50, APPLY_DEADLINE);
    // A backup taken now...
    site.stop();
    let backup = tokens.path().join("backup");
    let copied = std::process::Command::new("cp").arg("-a").arg(site.data_dir()).arg(&backup).status().unwrap();
    assert!(copied.success());
    site.restart();
    send_lines(&site, &lines(50, 50));
    wait_in_sync(&center, &site, "north", 100, APPLY_DEADLINE);
    // ... restored after the center took more.
    site.stop();
    std::fs::remove_dir_all(site.data_dir()).unwrap();
    let restored = std::process::Command::new("cp").arg("-a").arg(&backup).arg(site.data_dir()).status().unwrap();
    assert!(restored.success());
    site.restart();
    send_lines(&site, &lines(100, 10));
    let link = wait_link_error(&site, "the restored site to stop and say why", "restored from a backup");
    assert_eq!(link["state"], "stalled", "{link}");
    assert_eq!(readings(&center, "north/").len(), 100, "none of the restored site's new readings was taken as held");
}

//! Back-fill from The Things Stack's Storage Integration: uplinks the
//! webhook never delivered (meterhub was away) are read from the server's
//! storage by the `lw640` driver's fetch session, archived exactly once,
//! and a restart resumes from the durable mark instead of reading again.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use meterhub_testkit::{APPLY_DEADLINE, Host, host_tables, plugins_dir, wait_for};
use serde_json::Value;

const KEY: &str = "NNSXS.SIMULATED.STORAGE-KEY";
const TOKEN: &str = "Bearer s3cret";

/// `meterhub sim lns` emulating The Things Stack with its Storage
/// Integration and no webhook (every uplink only lands in storage); it
/// keeps serving the storage until dropped.
struct Storage {
    child: Child,
    summary: Value,
}

impl Storage {
    fn start(args: &[&str]) -> Storage {
        let mut child = Command::new(meterhub_testkit::binary())
            .args(["sim", "lns", "--server", "tts-v3", "--fast", "--joins", "--repeat-every", "5"])
            .args(["--storage", "127.0.0.1:0", "--storage-key", KEY, "--hold"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("its summary");
        let summary: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("summary {line:?}: {e}"));
        Storage { child, summary }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `lns` instance's fetch counters in `/api/v1/drivers`.
fn fetch_status(host: &Host) -> Value {
    let drivers = host.get_ok("/api/v1/drivers").as_array().cloned().unwrap_or_default();
    drivers.into_iter().find(|d| d["id"] == "lns").map(|d| d["fetch"].clone()).unwrap_or(Value::Null)
}

/// The query parameter `name` of the newest fetch.
fn last_param(fetch: &Value, name: &str) -> Option<String> {
    let target = fetch["last"]["target"].as_str()?;
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).map(str::to_owned)
}

fn source(host: &Host) -> Value {
    host.get_ok("/api/v1/stats")["sources"]["lns"].clone()
}

#[test]
fn stored_uplinks_the_webhook_missed_are_archived_once_and_a_restart_resumes_from_the_mark() {
    let storage = Storage::start(&["--devices", "6", "--rounds", "4", "--seed", "21"]);
    let uplinks = storage.summary["uplinks"].as_u64().expect("uplinks");
    let url = storage.summary["storage_url"].as_str().expect("storage_url").to_owned();
    assert_eq!(storage.summary["storage_stored"].as_u64(), Some(uplinks), "{:#}", storage.summary);
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("tts.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let config = host_tables(&plugins_dir("wasm"))
        + &format!(
            "\n[drivers.lns]\nplugin = \"lw640\"\ntransport = \"http\"\nlisten = \"127.0.0.1:0\"\n\
             [drivers.lns.settings]\nserver = \"tts-v3\"\nauth_token = \"{TOKEN}\"\n\
             backfill_applications = [\"meterhub-sim\"]\nbackfill_settle_s = 0\n\
             [drivers.lns.fetch]\nurl = \"{url}\"\ntoken_file = \"{}\"\n\
             [[drivers.lns.devices]]\nprofile = \"vega-absolute/SI-12\"\ncodec = \"vega-codec\"\nmodel = \"SI-12\"\n",
            key_file.display()
        );
    let mut host = Host::start_with(&config);

    // The first round reads a day back and archives every stored uplink once.
    let s = wait_for("every stored uplink archived", APPLY_DEADLINE, || {
        let s = source(&host);
        (s["archived"].as_u64() == Some(uplinks)).then_some(s)
    });
    assert_eq!((s["received"].as_u64(), s["duplicate"].as_u64()), (Some(uplinks), Some(0)), "{s:#}");
    assert_eq!((s["quarantined"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(0)), "{s:#}");
    let modules = host.get_ok("/api/v1/modules");
    assert_eq!(modules["modules"].as_array().map(Vec::len), Some(6), "{modules:#}");
    let fetch = fetch_status(&host);
    assert_eq!((fetch["url"].as_str(), fetch["failed"].as_u64()), (Some(url.as_str()), Some(0)), "{fetch:#}");
    assert_eq!(fetch["last"]["status"], 200, "{fetch:#}");
    let first_after = last_param(&fetch, "after").expect("after");
    assert!(!fetch.to_string().contains(KEY), "the key is never shown: {fetch:#}");

    // After a restart the fetch starts from the newest uplink committed.
    host.stop();
    host.restart();
    let fetch = wait_for("a fetch from the mark", APPLY_DEADLINE, || {
        let f = fetch_status(&host);
        (f["answered"].as_u64() >= Some(1)).then_some(f)
    });
    let after = last_param(&fetch, "after").expect("after");
    let ms = |text: &str| meterhub_plugin_api::time::parse_rfc3339_ms(text).unwrap();
    let newest_slot = storage.summary["last_uplink_ms"].as_i64().unwrap();
    assert!(ms(&first_after) < storage.summary["first_uplink_ms"].as_i64().unwrap(), "{first_after}");
    assert!(
        (newest_slot..newest_slot + 1000).contains(&ms(&after)),
        "resumed from the newest uplink's time ({newest_slot}), not {after}: {fetch:#}"
    );
    // At most that newest uplink comes again, and it is a duplicate.
    let again = wait_for("the archive to apply what came again", APPLY_DEADLINE, || {
        let stats = host.get_ok("/api/v1/stats");
        (stats["balanced"] == true).then(|| stats["sources"]["lns"].clone())
    });
    assert!(again["received"].as_u64() <= Some(uplinks + 1), "{again:#}");
    assert_eq!(again["archived"].as_u64(), Some(uplinks), "{again:#}");
    host.stop();
}

#[test]
fn a_fetch_section_for_a_plugin_without_the_capability_is_refused_at_its_url() {
    let base = host_tables(&plugins_dir("wasm"))
        + "\n[drivers.devices]\nplugin = \"listener\"\ntransport = \"http\"\nlisten = \"127.0.0.1:0\"\n";
    let host = Host::start_with(&base);
    let since = meterhub_testkit::now_ms();
    let with_fetch = format!("{base}[drivers.devices.fetch]\nurl = \"http://127.0.0.1:9/api\"\n");
    std::fs::write(&host.config, &with_fetch).unwrap();
    let errors = host.wait_refusal(since);
    let line = with_fetch.lines().position(|l| l.starts_with("url = \"http://127.0.0.1:9")).unwrap() + 1;
    assert!(
        errors.iter().any(|e| e.contains(&format!("meterhub.toml:{line}:7:"))
            && e.contains("plugin \"listener\" does not declare capability `fetch`")),
        "{errors:?}"
    );
    let drivers = host.get_ok("/api/v1/drivers");
    assert!(drivers[0].get("fetch").is_none(), "no fetch session: {drivers:#}");
}

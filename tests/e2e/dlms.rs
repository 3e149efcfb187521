//! DLMS/COSEM meters pushing over TCP (`meterhub sim dlms`) to the `rbgu`
//! driver and the `dlms-codec` codec, with the keys in a secrets file:
//! readings arrive exactly once across reconnects and a host SIGKILL;
//! replayed pushes are duplicates; a wrong key, an unknown device and a
//! pending one are each named, and the pending one decodes once the
//! operator lists it; no key ever shows in the API or the log.

use std::net::TcpListener;

use meterhub_sim::dlms::{self, Amount, Keys, Misbehaviour, Options, Report, Security};
use meterhub_testkit::{APPLY_DEADLINE, Host, host_tables, plugins_dir, wait_for};
use serde_json::Value;

use crate::rbgu::Secrets;

/// The keys every simulated meter uses (the Green Book's examples).
const EK: &str = "000102030405060708090A0B0C0D0E0F";
const AK: &str = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF";

/// System title of the simulated meter with serial `n`.
fn title(n: u64) -> String {
    meterhub_plugin_api::hex::encode_upper(&dlms::system_title(n))
}

/// A secrets file's entries for the meters with serials `serials`.
fn keys(serials: &[u64]) -> String {
    dlms::secrets_toml(serials.iter().copied(), &Keys::example())
}

/// A driver instance `id` of rbgu on `listen` decoded by dlms-codec, with
/// `secrets` and `unknown_devices`.
fn instance(id: &str, listen: &str, secrets: &Secrets, unknown: &str) -> String {
    format!(
        "\n[drivers.{id}]\nplugin = \"rbgu\"\ncodec = \"dlms-codec\"\ntransport = \"tcp\"\nlisten = \"{listen}\"\n\
         secrets_file = {:?}\n[drivers.{id}.settings]\nframing = \"wrapper\"\nunknown_devices = \"{unknown}\"\n\
         [drivers.{id}.codec_settings]\n{}",
        secrets.path(),
        dlms::CODEC_SETTINGS_TOML
    )
}

/// A free port on loopback, to keep across restarts.
fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Emulator options: `meters` meters pushing `pushes` ciphered pushes each
/// to `connect`.
fn sim(connect: &str, meters: u32, pushes: u64) -> Options {
    Options {
        connect: connect.to_owned(),
        meters,
        security: Security::Ciphered,
        pushes,
        interval_ms: 0,
        connect_timeout_ms: 60_000,
        ..Options::default()
    }
}

/// How many readings the archive holds for `device`.
fn readings_of(host: &Host, device: &str) -> usize {
    let rows = host.get_ok(&format!("/api/v1/readings?device={device}&limit=100000"));
    rows.as_array().map_or(0, Vec::len)
}

fn source(host: &Host, id: &str) -> Value {
    host.get_ok("/api/v1/stats")["sources"][id].clone()
}

/// The reasons of the quarantined frames of `source`.
fn quarantined(host: &Host, source: &str) -> Vec<String> {
    let q = host.get_ok("/api/v1/quarantine");
    q.as_array()
        .map(|a| {
            a.iter().filter(|f| f["source"] == source).filter_map(|f| f["reason"].as_str().map(str::to_owned)).collect()
        })
        .unwrap_or_default()
}

#[test]
fn ciphered_pushes_arrive_exactly_once_across_reconnects_and_a_host_sigkill() {
    let address = free_address();
    let secrets = Secrets::new(&keys(&[1, 2, 3]));
    let config = host_tables(&plugins_dir("wasm")) + &instance("meters", &address, &secrets, "refuse");
    let mut host = Host::start_with(&config);
    // Three meters, 40 pushes each, 4 per connection, a push every 25 ms.
    let options = Options { interval_ms: 25, per_connection: Some(4), ..sim(&address, 3, 40) };
    let first = std::thread::spawn({
        let options = options.clone();
        move || dlms::run(options).expect("the emulator runs")
    });
    wait_for("some pushes archived", APPLY_DEADLINE, || {
        (source(&host, "meters")["archived"].as_u64() >= Some(10)).then_some(())
    });
    host.kill();
    host.restart();
    let report: Report = first.join().expect("the emulator finished");
    assert!(report.complete(), "every push written, reconnecting while the host was down: {report:?}");
    assert!(report.connections >= 30, "{report:?}");
    // Pushes written into a socket the killed host never read are lost
    // (DLMS pushes are not acknowledged): the meters push everything
    // again, as a meter re-pushing its profile does. Already stored ones
    // are duplicates; the lost ones fill in.
    let again = dlms::run(Options { interval_ms: 0, ..options }).expect("the emulator runs");
    assert!(again.complete(), "{again:?}");
    let per_meter = usize::try_from(40 * report.readings_per_push).unwrap();
    let counts = wait_for("every reading archived once", APPLY_DEADLINE, || {
        let counts: Vec<usize> = (1..=3).map(|n| readings_of(&host, &title(n))).collect();
        counts.iter().all(|c| *c == per_meter).then_some(counts)
    });
    assert_eq!(counts, [per_meter; 3]);
    let s = wait_for("the second pass settled", APPLY_DEADLINE, || {
        let s = source(&host, "meters");
        (s["duplicate"].as_u64() >= Some(60)).then_some(s)
    });
    assert_eq!(s["quarantined"], 0, "{s:#}");
    host.stop();
}

#[test]
fn a_wrong_key_an_unknown_and_a_pending_device_are_named_and_the_pending_one_decodes_once_listed() {
    let (pending_at, refuse_at) = (free_address(), free_address());
    let secrets = Secrets::new(&keys(&[1]));
    let config = host_tables(&plugins_dir("wasm"))
        + &instance("pending", &pending_at, &secrets, "pending")
        + &instance("refusing", &refuse_at, &secrets, "refuse");
    let mut host = Host::start_with(&config);

    // Meters 1 (known) and 2 (not), 3 pushes each, and one push of meter 1 or 2 under wrong keys.
    let wrong = Misbehaviour { wrong_key: Amount::Count(1), ..Misbehaviour::default() };
    let report = dlms::run(Options { misbehaviour: wrong, ..sim(&pending_at, 2, 3) }).expect("the emulator runs");
    assert!(report.complete() && report.wrong_key == 1, "{report:?}");
    let per_meter = usize::try_from(3 * report.readings_per_push).unwrap();
    wait_for("meter 1 archived", APPLY_DEADLINE, || (readings_of(&host, &title(1)) == per_meter).then_some(()));
    // Meter 2's pushes wait; the wrong-key push is refused by the codec
    // (or waits too, if the seed gave it to meter 2).
    let reasons = wait_for("meter 2 pending, the wrong key named", APPLY_DEADLINE, || {
        let r = quarantined(&host, "pending");
        (r.len() == 4).then_some(r)
    });
    let pending = format!("pending: device {} is not in the instance's secrets file", title(2));
    let waiting = reasons.iter().filter(|r| r.starts_with(&pending)).count();
    let failed = reasons.iter().filter(|r| r.contains("authentication failed")).count();
    assert!(waiting + failed == 4 && waiting >= 3, "{reasons:#?}");
    assert_eq!(readings_of(&host, &title(2)), 0);

    // Refused at the other port: the unknown meter is named, nothing of it committed.
    let refused = dlms::run(Options { connect_timeout_ms: 1000, ..sim(&refuse_at, 2, 1) }).expect("the emulator runs");
    assert!(refused.pushes >= 1, "{refused:?}");
    let rejections = wait_for("meter 2 refused", APPLY_DEADLINE, || {
        let r = host.get_ok("/api/v1/rejections?source=refusing");
        let reasons: Vec<String> =
            r.as_array().into_iter().flatten().filter_map(|x| x["reason"].as_str().map(str::to_owned)).collect();
        (!reasons.is_empty()).then_some(reasons)
    });
    assert!(rejections.iter().all(|r| r.contains(&format!("unknown device {}", title(2)))), "{rejections:#?}");

    // The operator lists meter 2: the host reloads, the pending frames decode.
    let generation = host.config_status()["generation"].as_u64().unwrap();
    secrets.write(&keys(&[1, 2]));
    host.wait_generation(generation + 1);
    let out = host.cli(&["redecode", "--quarantined"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("meter 2 archived", APPLY_DEADLINE, || (readings_of(&host, &title(2)) == per_meter).then_some(()));
    let left = quarantined(&host, "pending");
    assert!(left.len() == 1 && left[0].contains("authentication failed"), "the wrong-key push stays: {left:#?}");

    // No key anywhere the operator or an attacker looks.
    for path in ["/api/v1/config", "/api/v1/drivers", "/api/v1/status", "/api/v1/quarantine", "/api/v1/plugins"] {
        let body = host.get_ok(path).to_string().to_ascii_uppercase();
        assert!(!body.contains(EK) && !body.contains(AK), "{path} shows a key");
    }
    let log = host.log().to_ascii_uppercase();
    assert!(!log.contains(EK) && !log.contains(AK), "the log shows a key");
    host.stop();
}

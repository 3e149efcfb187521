//! DLMS/COSEM meters pushing over TCP (`meterhub sim dlms`) to the `rbgu`
//! driver and the `dlms-codec` codec, with the keys in a secrets file:
//! readings arrive exactly once across reconnects and a host SIGKILL;
//! replayed pushes are duplicates; a wrong key, an unknown device and a
//! pending one are each named, and the pending one decodes once the
//! operator lists it; no key ever shows in the API or the log. Commands
//! queued for meters wait through a host SIGKILL, reach each meter on its
//! next connection, and their answers (or the meter's refusal) are
//! recorded; no password shows.

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

/// POST `body` to the commands of driver `driver` as the local admin
/// acting for `actor`; the status and the answer.
fn queue_command(host: &Host, driver: &str, body: &Value) -> (u16, Value) {
    let path = format!("/api/v1/drivers/{driver}/commands");
    let (status, answer) = meterhub_testkit::http::http(host.api, "POST", &path, body.to_string().as_bytes());
    (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
}

/// Command `id` of driver `meters`.
fn command(host: &Host, id: &Value) -> Value {
    host.get_ok(&format!("/api/v1/drivers/meters/commands/{id}"))
}

/// The distinct times of `device`'s readings, ms.
fn reading_times(host: &Host, device: &str) -> Vec<i64> {
    let rows = host.get_ok(&format!("/api/v1/readings?device={device}&limit=100000"));
    let mut times: Vec<i64> = rows.as_array().into_iter().flatten().filter_map(|r| r["ts_ms"].as_i64()).collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// The emulator on a thread of its own, until `stop` is sent.
fn sim_until(options: Options) -> (tokio::sync::oneshot::Sender<()>, std::thread::JoinHandle<Report>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let dlms = dlms::Dlms::new(options).expect("the emulator's options");
        runtime
            .block_on(dlms.run_until(async {
                let _ = stopped.await;
            }))
            .expect("the emulator runs")
    });
    (stop, run)
}

#[test]
fn commands_wait_for_their_meter_through_a_host_sigkill_and_its_answers_are_recorded() {
    let address = free_address();
    // Meters 1 and 2 with their keys and password; meter 3's password in
    // the secrets file is not the one the meter has.
    let wrong_password = Keys { password: "87654321".to_owned(), ..Keys::example() };
    let secrets = Secrets::new(&(keys(&[1, 2]) + &dlms::secrets_toml([3], &wrong_password)));
    let config = host_tables(&plugins_dir("wasm")) + &instance("meters", &address, &secrets, "refuse");
    let mut host = Host::start_with(&config);

    // The plugin says which commands it takes; others are refused, naming them.
    let plugins = host.get_ok("/api/v1/plugins");
    let rbgu = plugins["loaded"].as_array().unwrap().iter().find(|p| p["id"] == "rbgu").unwrap().clone();
    assert!(rbgu["commands"]["set_clock"].is_string() && rbgu["commands"]["set_push_period"].is_string(), "{rbgu:#}");
    let (status, refused) =
        queue_command(&host, "meters", &serde_json::json!({"device": title(1), "name": "reboot", "actor": "olga"}));
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "name: \"reboot\" is not a command of rbgu (it takes set_clock, set_push_period)");
    let (status, _) =
        queue_command(&host, "nowhere", &serde_json::json!({"device": title(1), "name": "set_clock", "actor": "olga"}));
    assert_eq!(status, 404);
    let (status, refused) = queue_command(
        &host,
        "meters",
        &serde_json::json!({"device": title(1), "name": "set_clock", "arg": {}, "actor": "olga"}),
    );
    assert_eq!((status, refused["error"].as_str().unwrap_or("").starts_with("arg: not a field")), (400, true));

    // Queued while every meter is away: meter 1 a new push period and its
    // clock, meter 3 its clock, meter 2 one the operator takes back.
    let clock = "2026-03-01T12:00:00+03:00";
    let queue = |device: u64, name: &str, args: Value| {
        let body = serde_json::json!({"device": title(device), "name": name, "args": args, "actor": "olga"});
        let (status, answer) = queue_command(&host, "meters", &body);
        assert_eq!((status, answer["state"].as_str()), (201, Some("queued")), "{answer}");
        answer["id"].clone()
    };
    let period = queue(1, "set_push_period", serde_json::json!({"minutes": 30}));
    let set_clock = queue(1, "set_clock", serde_json::json!({"time": clock}));
    let refused_clock = queue(3, "set_clock", serde_json::json!({}));
    let cancelled = queue(2, "set_push_period", serde_json::json!({"minutes": 15}));
    let path = format!("/api/v1/drivers/meters/commands/{cancelled}");
    let headers = [("Authorization", format!("Bearer {}", meterhub_testkit::http::local_token(host.api)))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let with_actor = [headers.clone(), vec![("X-Meterhub-Actor", "ivan")]].concat();
    let answer = meterhub_testkit::http::request(host.api, "DELETE", &path, &with_actor, b"");
    assert_eq!((answer.status, answer.json()["state"].as_str()), (200, Some("cancelled")));
    assert_eq!(meterhub_testkit::http::request(host.api, "DELETE", &path, &with_actor, b"").status, 409);

    // Queued means durable: a SIGKILL loses none of them.
    host.kill();
    host.restart();
    let listed = host.get_ok("/api/v1/drivers/meters/commands?state=queued");
    assert_eq!(listed["commands"].as_array().map(Vec::len), Some(3), "{listed:#}");

    // The meters connect and push; each gets its commands on its connection.
    let options = Options { interval_ms: 200, ..sim(&address, 3, 1_000_000) };
    let (stop, run) = sim_until(options);
    let done = wait_for("the commands done", APPLY_DEADLINE, || {
        let all = [&period, &set_clock, &refused_clock].map(|id| command(&host, id));
        all.iter().all(|c| c["state"] == "answered" || c["state"] == "failed").then_some(all)
    });
    assert_eq!((done[0]["state"].as_str(), done[0]["answer"].as_str()), (Some("answered"), Some("push every 30 min")));
    let clock_set = format!("clock set to {clock}");
    assert_eq!((done[1]["state"].as_str(), done[1]["answer"].as_str()), (Some("answered"), Some(clock_set.as_str())));
    assert_eq!(done[1]["queued_by"], "olga");
    assert_eq!(done[1]["attempts"], 1);
    assert_eq!(done[2]["state"], "failed");
    assert_eq!(
        done[2]["error"],
        "the meter refused the association: rejected-permanent (1), authentication-failure (13)"
    );

    // The meter took them: its pushes from then on carry the clock written
    // (12:00 at UTC+3) and come 30 minutes apart.
    let written = meterhub_plugin_api::time::parse_rfc3339_ms(clock).unwrap();
    let times = wait_for("meter 1's pushes at the new clock and period", APPLY_DEADLINE, || {
        let times = reading_times(&host, &title(1));
        times.contains(&(written + 2 * 1_800_000)).then_some(times)
    });
    assert!(times.contains(&written) && times.contains(&(written + 1_800_000)), "{times:?}");
    stop.send(()).expect("the emulator is running");
    let report = run.join().expect("the emulator finished");
    assert_eq!((report.associations_accepted, report.associations_refused), (1, 1), "{report:?}");
    assert_eq!((report.sets_clock, report.sets_push_schedule, report.sets_refused), (1, 1, 0), "{report:?}");
    assert_eq!(command(&host, &cancelled)["state"], "cancelled", "a cancelled command is never sent");

    // The password is on the meter's wire, never in the API or the log.
    for path in
        ["/api/v1/config", "/api/v1/drivers", "/api/v1/drivers/meters/commands", "/api/v1/rejections?source=meters"]
    {
        let body = host.get_ok(path).to_string();
        assert!(!body.contains("12345678") && !body.contains("87654321"), "{path} shows a password");
    }
    let log = host.log();
    assert!(!log.contains("12345678") && !log.contains("87654321"), "the log shows a password");
    host.stop();
}

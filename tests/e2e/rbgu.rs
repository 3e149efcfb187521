//! Meters that open a TCP connection and push (`rbgu`): DLMS pushes in the
//! IEC 62056-47 wrapper are committed raw-first with the system title and
//! invocation counter read, a push seen again on another connection is a
//! replay, and a frame the meter tears off by hanging up is a rejection
//! naming it, not silence.

use std::io::Write;
use std::net::TcpStream;

use meterhub_testkit::{APPLY_DEADLINE, Host, host_tables, plugins_dir, wait_for};
use serde_json::Value;

/// The public ciphered push of `shared/protocols/vectors/dlms_wrapper_vectors.txt`
/// (u9n/dlms-cosem, MIT): wrapper header, then a 70-byte general-glo-ciphering
/// APDU of system title 2F19229199164103, invocation counter 0x1E5.
const PUSH: &str = "00 01 00 01 00 01 00 46 db 08 2f 19 22 91 99 16 41 03 3b 30 00 00 01 e5 02 5c e9 d2 27 1f d7 8b \
                    e8 c2 04 21 1a 91 6a 9d 7f 58 7e 0a 7a 81 4c ad ea 89 e9 59 3f 01 f9 2e a8 c0 87 b5 bd fd ef ea \
                    b6 be cf 28 2d fe 49 c0 8f 5b e6 dc 84 00";

fn push() -> Vec<u8> {
    meterhub_plugin_api::hex::decode(&PUSH.replace(' ', "")).unwrap()
}

/// Open a connection, write `bytes` in two pieces, hang up.
fn dial(host: &Host, bytes: &[u8]) {
    let mut stream = TcpStream::connect(host.driver("meters")).expect("connect");
    let (a, b) = bytes.split_at(bytes.len() / 3);
    stream.write_all(a).unwrap();
    stream.flush().unwrap();
    stream.write_all(b).unwrap();
}

fn source(host: &Host) -> Value {
    host.get_ok("/api/v1/stats")["sources"]["meters"].clone()
}

#[test]
fn pushes_are_committed_with_their_identity_replays_marked_and_a_torn_frame_named() {
    let config = host_tables(&plugins_dir("wasm"))
        + "\n[drivers.meters]\nplugin = \"rbgu\"\ntransport = \"tcp\"\nlisten = \"127.0.0.1:0\"\n\
           [drivers.meters.settings]\nframing = \"wrapper\"\n";
    let mut host = Host::start_with(&config);

    dial(&host, &push());
    // No codec decodes them yet: each push waits in quarantine, as committed.
    let q = wait_for("the push committed", APPLY_DEADLINE, || {
        let q = host.get_ok("/api/v1/quarantine");
        (q.as_array().map(Vec::len) == Some(1)).then_some(q)
    });
    let frame = &q[0];
    assert_eq!(frame["payload_hex"].as_str(), Some(PUSH.replace(' ', "").as_str()), "{frame:#}");
    assert_eq!(frame["content_type"], "application/vnd.dlms.wrapper");
    assert_eq!(meta(frame, "dlms.system_title").as_deref(), Some("2F19229199164103"), "{frame:#}");
    assert_eq!(meta(frame, "dlms.invocation_counter").as_deref(), Some("485"), "{frame:#}");
    assert_eq!(meta(frame, "dlms.replay"), None);

    // The same push on another connection, then 30 bytes of one and a hang-up.
    let mut again = push();
    again.extend_from_slice(&push()[..30]);
    dial(&host, &again);
    let refused = wait_for("the torn frame named", APPLY_DEADLINE, || {
        let r = host.get_ok("/api/v1/rejections?source=meters");
        let reasons: Vec<String> = r
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["reason"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        (!reasons.is_empty()).then_some(reasons)
    });
    assert!(refused[0].contains("torn") && refused[0].contains("30 bytes"), "{refused:?}");
    let q = wait_for("the replay committed", APPLY_DEADLINE, || {
        let q = host.get_ok("/api/v1/quarantine");
        (q.as_array().map(Vec::len) == Some(2)).then_some(q)
    });
    let replays = q.as_array().unwrap().iter().filter(|f| meta(f, "dlms.replay").as_deref() == Some("1")).count();
    assert_eq!(replays, 1, "the second copy is marked a replay: {q:#}");
    let s = source(&host);
    assert_eq!((s["received"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(1)), "{s:#}");
    host.stop();
}

/// The value of metadata `key` of a quarantined frame.
fn meta(frame: &Value, key: &str) -> Option<String> {
    let pairs = frame["meta"].as_array()?;
    pairs.iter().find(|kv| kv[0] == key).and_then(|kv| kv[1].as_str().map(str::to_owned))
}

/// A real Kaifa MA309 push (`plugins/dlms-codec/fixtures/vectors/tirol-kaifa-ma309.hex`:
/// general-glo-ciphering, security suite 1, system title 4B464D1010000023),
/// whose key its publisher printed.
const KAIFA: &str = include_str!("../../plugins/dlms-codec/fixtures/vectors/tirol-kaifa-ma309.hex");
const KAIFA_KEY: &str = "101112131415161718191A1B1C1D1E1F";

/// A secrets file (mode 600) in a folder of its own, removed on drop.
pub struct Secrets(tempfile::TempDir);

impl Secrets {
    /// A secrets file holding `text`.
    pub fn new(text: &str) -> Secrets {
        let dir = tempfile::tempdir().unwrap();
        let s = Secrets(dir);
        s.write(text);
        s
    }

    /// Replace its content with `text` (written aside, then renamed over it).
    pub fn write(&self, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let aside = self.0.path().join("secrets.toml.new");
        std::fs::write(&aside, text).unwrap();
        std::fs::set_permissions(&aside, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::rename(&aside, self.path()).unwrap();
    }

    /// The file, as a string for the configuration.
    pub fn path(&self) -> String {
        self.0.path().join("secrets.toml").display().to_string()
    }
}

/// `apdu` in an IEC 62056-47 wrapper (version 1, wPorts 1 and 1).
fn wrapped(apdu: &[u8]) -> Vec<u8> {
    let mut frame = vec![0, 1, 0, 1, 0, 1];
    frame.extend_from_slice(&u16::try_from(apdu.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(apdu);
    frame
}

#[test]
fn a_ciphered_push_over_tcp_decodes_to_exact_readings_with_the_operators_key() {
    let hex: String =
        KAIFA.lines().filter(|l| !l.trim_start().starts_with('#')).flat_map(|l| l.split_whitespace()).collect();
    let apdu = meterhub_plugin_api::hex::decode(&hex).unwrap();
    let secrets = Secrets::new(&format!("[devices.4B464D1010000023]\nek = \"{KAIFA_KEY}\"\n"));
    let config = host_tables(&plugins_dir("wasm"))
        + &format!(
            "\n[drivers.meters]\nplugin = \"rbgu\"\ncodec = \"dlms-codec\"\ntransport = \"tcp\"\nlisten = \"127.0.0.1:0\"\n\
             secrets_file = {:?}\n[drivers.meters.settings]\nframing = \"wrapper\"\n",
            secrets.path()
        );
    let mut host = Host::start_with(&config);
    dial(&host, &wrapped(&apdu));
    let s = wait_for("the push archived", APPLY_DEADLINE, || {
        let s = source(&host);
        (s["archived"] == 1).then_some(s)
    });
    assert_eq!((s["quarantined"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(0)), "{s:#}");
    let latest = host.get_ok("/api/v1/devices/4B464D1010000023/latest");
    let value = |channel: &str| {
        latest["readings"]
            .as_array()
            .and_then(|r| r.iter().find(|x| x["channel"] == channel))
            .map(|x| x["value"].clone())
    };
    assert_eq!(value("voltage-l1"), Some(Value::from("230.8")), "{latest:#}");
    assert_eq!(value("energy-import"), Some(Value::from("9.108")), "{latest:#}");
    assert_eq!(value("reactive-energy-import"), Some(Value::from("0.096")), "{latest:#}");

    // The same push again (a meter retrying): a replay, no new reading.
    dial(&host, &wrapped(&apdu));
    let s = wait_for("the replay settled", APPLY_DEADLINE, || {
        let s = source(&host);
        (s["received"] == 2 && s["archived"].as_u64().unwrap_or(0) + s["duplicate"].as_u64().unwrap_or(0) == 2)
            .then_some(s)
    });
    assert_eq!(s["duplicate"], 1, "{s:#}");
    host.stop();
}

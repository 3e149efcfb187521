//! The host's MQTT client transport against the machine's Mosquitto
//! (127.0.0.1:1883): QoS 1 subscriptions in a persistent session, each
//! message acknowledged only once what it carried is durable. The listener
//! plugin reads each message as one reading (a POST body); the LoRaWAN
//! driver's use of it is in `lorawan.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use meterhub_testkit::{APPLY_DEADLINE, Host, default_config, plugins_dir, reading};
use rumqttc::{Client, Connection, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::Value;

const BROKER: (&str, u16) = ("127.0.0.1", 1883);
const TS: i64 = 1_764_547_200_000;

/// Names no other test (or earlier run) uses on the shared broker.
pub(crate) struct Names {
    pub(crate) root: String,
    pub(crate) client_id: String,
}

impl Names {
    pub(crate) fn new(test: &str) -> Names {
        let unique = format!("{}-{}-{}", test, std::process::id(), meterhub_testkit::now_ms());
        Names { root: format!("meterhub-test/{unique}"), client_id: format!("meterhub-{unique}") }
    }

    fn topic(&self, meter: &str) -> String {
        format!("{}/{meter}/readings", self.root)
    }

    /// Make the host's persistent session at the broker before the host
    /// runs, so what is published from now on waits for it.
    pub(crate) fn open_session_on(&self, filter: &str) {
        let (client, connection) = connect(&self.client_id, false);
        client.subscribe(filter, QoS::AtLeastOnce).unwrap();
        wait_packets(connection, |p| matches!(p, Packet::SubAck(_)));
        let _ = client.disconnect();
    }

    fn open_session(&self) {
        self.open_session_on(&format!("{}/+/readings", self.root));
    }

    /// Remove the session from the broker (it persists across broker runs).
    pub(crate) fn close_session(&self) {
        let (client, connection) = connect(&self.client_id, true);
        let _ = client.disconnect();
        drop(connection);
    }
}

fn connect(client_id: &str, clean: bool) -> (Client, Connection) {
    let mut options = MqttOptions::new(client_id, BROKER.0, BROKER.1);
    options.set_clean_session(clean).set_keep_alive(Duration::from_secs(10));
    Client::new(options, 4096)
}

/// Drive `connection` until a packet satisfies `done`.
fn wait_packets(mut connection: Connection, mut done: impl FnMut(&Packet) -> bool) {
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(packet)) if done(&packet) => return,
            Ok(_) => {}
            Err(e) => panic!("MQTT test client: {e}"),
        }
    }
}

/// A publisher whose connection runs on its own thread; `acked` counts the
/// broker's PUBACKs.
pub(crate) struct Publisher {
    client: Client,
    acked: Arc<AtomicU64>,
}

impl Publisher {
    pub(crate) fn connect(names: &Names) -> Publisher {
        let (client, mut connection) = connect(&format!("{}-pub", names.client_id), true);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        Publisher { client, acked }
    }

    pub(crate) fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload.into()).unwrap();
    }

    /// Publish readings `range` of meters m0..m4, one message each.
    fn readings(&self, names: &Names, range: std::ops::Range<i64>) {
        for i in range {
            let meter = format!("m{}", i % 5);
            let line = reading(&meter, "volume", TS + i * 60_000, &format!("{}.{}", 100 + i, i % 10));
            self.publish(&names.topic(&meter), line.trim_end());
        }
    }

    /// Wait until the broker has acknowledged `count` messages in all.
    pub(crate) fn wait_acked(&self, count: u64) {
        meterhub_testkit::wait_for("the broker's acknowledgements", APPLY_DEADLINE, || {
            (self.acked.load(Ordering::SeqCst) >= count).then_some(())
        });
    }
}

fn config(names: &Names) -> String {
    default_config(&plugins_dir("wasm"))
        + &format!(
            "\n[drivers.mqtt-in]\nplugin = \"listener\"\ntransport = \"mqtt\"\nurl = \"mqtt://{}:{}\"\n\
             topics = [\"{}/+/readings\"]\nclient_id = \"{}\"\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n",
            BROKER.0, BROKER.1, names.root, names.client_id
        )
}

fn source(host: &Host) -> Value {
    host.get_ok("/api/v1/stats")["sources"]["mqtt-in"].clone()
}

/// Wait until the host has written `count` PUBACKs in all
/// (`meterhub_mqtt_ack_seconds_count`): a message stored but not yet
/// acknowledged when the host stops is delivered again after the restart.
pub(crate) fn wait_host_acked(host: &Host, count: u64) {
    meterhub_testkit::wait_for("the host's acknowledgements", APPLY_DEADLINE, || {
        let (_, metrics) = meterhub_testkit::http(host.api, "GET", "/metrics", b"");
        let metrics = String::from_utf8_lossy(&metrics).into_owned();
        let acked = metrics.lines().find_map(|l| l.strip_prefix("meterhub_mqtt_ack_seconds_count "))?;
        (acked.trim().parse::<u64>().ok()? >= count).then_some(())
    });
}

fn wait_readings(host: &Host, what: &str, readings: u64) -> Value {
    let deadline = std::time::Instant::now() + APPLY_DEADLINE * 3;
    loop {
        let s = source(host);
        if s["readings_new"].as_u64() >= Some(readings) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "waiting for {what}: {s:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn messages_at_qos1_are_archived_once_and_a_bad_one_is_refused_and_not_delivered_again() {
    let names = Names::new("once");
    names.open_session();
    let publisher = Publisher::connect(&names);
    // Published before the host runs: the session keeps them.
    publisher.readings(&names, 0..100);
    publisher.publish(&names.topic("m0"), "not a reading");
    publisher.wait_acked(101);

    let mut host = Host::start_with(&config(&names));
    publisher.readings(&names, 100..200);
    wait_readings(&host, "200 readings", 200);
    let s = meterhub_testkit::wait_for("the refusal counted", APPLY_DEADLINE, || {
        let s = source(&host);
        (s["rejected"] == 1).then_some(s)
    });
    assert_eq!((s["readings_new"].as_u64(), s["quarantined"].as_u64()), (Some(200), Some(0)), "{s:#}");
    let rejections = host.get_ok("/api/v1/rejections?source=mqtt-in");
    assert_eq!(rejections.as_array().map(Vec::len), Some(1), "{rejections:#}");
    assert_eq!(
        (rejections[0]["peer"].as_str(), rejections[0]["input_text"].as_str()),
        (Some("mqtt://127.0.0.1:1883"), Some("not a reading"))
    );
    assert!(rejections[0]["reason"].as_str().unwrap().contains("invalid JSON"), "{rejections:#}");
    assert_eq!(host.get_ok("/api/v1/readings?device=m3").as_array().map(Vec::len), Some(40));

    // New settings make a new driver instance: the subscription goes on,
    // the next message goes to the new instance.
    let generation = host.config_status()["generation"].as_u64().unwrap();
    let changed = config(&names) + "[drivers.mqtt-in.settings]\nmax_future_ms = 600000\n";
    std::fs::write(&host.config, changed).unwrap();
    host.wait_generation(generation + 1);
    publisher.readings(&names, 200..201);
    wait_readings(&host, "the reading after the reload", 201);
    // 201 readings and the refused message, 101 of them before the start
    // (the count starts with the host).
    wait_host_acked(&host, 202);

    // Every message was acknowledged: after a restart the broker has nothing
    // to deliver again, and a new message comes through alone.
    host.stop();
    host.restart();
    publisher.readings(&names, 201..202);
    let after = wait_readings(&host, "the reading after the restart", 202);
    assert_eq!((after["duplicate"].as_u64(), after["rejected"].as_u64()), (Some(0), Some(1)), "{after:#}");
    assert_eq!(host.drivers["mqtt-in"], "mqtt://127.0.0.1:1883");
    host.stop();
    names.close_session();
}

#[test]
fn a_sigkill_during_mqtt_ingest_loses_nothing_the_broker_handed_over_and_duplicates_nothing() {
    let names = Names::new("sigkill");
    names.open_session();
    let publisher = Publisher::connect(&names);
    let mut host = Host::start_with(&config(&names));

    // Mosquitto keeps at most 1000 messages for a session (its default
    // max_queued_messages): the volumes stay under it.
    publisher.readings(&names, 0..300);
    wait_readings(&host, "a third in", 100);
    host.kill();
    // Published while the host is down: the broker keeps them for the session.
    publisher.readings(&names, 300..600);
    publisher.wait_acked(600);
    host.restart();
    publisher.readings(&names, 600..900);
    let s = wait_readings(&host, "every reading", 900);
    assert_eq!(s["readings_new"].as_u64(), Some(900), "{s:#}");
    assert_eq!((s["readings_conflict"].as_u64(), s["quarantined"].as_u64()), (Some(0), Some(0)), "{s:#}");
    for meter in ["m0", "m4"] {
        let readings = host.get_ok(&format!("/api/v1/readings?device={meter}&limit=1000"));
        assert_eq!(readings.as_array().map(Vec::len), Some(180), "{meter}");
    }
    host.stop();
    names.close_session();
}

/// A Mosquitto of the test's own: a TLS listener with passwords (the
/// host's) and a plain one (the test's publisher), on free ports; killed
/// on drop.
struct TlsBroker {
    child: std::process::Child,
    tls_port: u16,
    plain_port: u16,
    dir: tempfile::TempDir,
}

impl TlsBroker {
    fn start() -> TlsBroker {
        let dir = tempfile::tempdir().unwrap();
        meterhub_testkit::tls::certificates(dir.path());
        let passwd = dir.path().join("passwd");
        let status = std::process::Command::new(binary_of("mosquitto_passwd"))
            .args(["-b", "-c"])
            .arg(&passwd)
            .args(["meterhub", "s3cret"])
            .status()
            .expect("mosquitto_passwd");
        assert!(status.success(), "mosquitto_passwd");
        let (tls_port, plain_port) = (meterhub_testkit::free_port(), meterhub_testkit::free_port());
        let d = dir.path().display();
        let user = std::env::var("USER").unwrap_or_else(|_| "root".to_owned());
        let conf = format!(
            // `user`: as root, mosquitto would drop to its own user and not
            // read the test's private files (it is ignored for other users).
            "user {user}\nper_listener_settings true\npersistence false\n\
             listener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n\
             allow_anonymous false\npassword_file {d}/passwd\n\
             listener {plain_port} 127.0.0.1\nallow_anonymous true\n"
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let child = std::process::Command::new(binary_of("mosquitto"))
            .arg("-c")
            .arg(dir.path().join("mosquitto.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start mosquitto");
        for port in [tls_port, plain_port] {
            meterhub_testkit::wait_for("the test broker listening", APPLY_DEADLINE, || {
                std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
            });
        }
        TlsBroker { child, tls_port, plain_port, dir }
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` on the PATH, or in /usr/sbin (where Debian puts mosquitto).
fn binary_of(name: &str) -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.exists()))
        .unwrap_or_default();
    on_path.unwrap_or_else(|| std::path::Path::new("/usr/sbin").join(name))
}

#[test]
fn a_broker_over_tls_with_a_password_is_subscribed_and_a_wrong_password_is_named() {
    let broker = TlsBroker::start();
    let names = Names::new("tls");
    let topic = format!("{}/m1/readings", names.root);
    std::fs::write(broker.dir.path().join("mqtt.password"), "s3cret\n").unwrap();
    let d = broker.dir.path().display();
    let config = |password_file: &str| {
        default_config(&plugins_dir("wasm"))
            + &format!(
                "\n[drivers.mqtt-in]\nplugin = \"listener\"\ntransport = \"mqtt\"\nurl = \"mqtts://127.0.0.1:{}\"\n\
                 topics = [\"{}/+/readings\"]\nclient_id = \"{}\"\nusername = \"meterhub\"\n\
                 password_file = \"{d}/{password_file}\"\nca_file = \"{d}/ca.pem\"\n\
                 reconnect_min_ms = 100\nreconnect_max_ms = 500\n",
                broker.tls_port, names.root, names.client_id
            )
    };
    let host = Host::start_with(&config("mqtt.password"));
    meterhub_testkit::wait_for("the host's session over TLS", APPLY_DEADLINE, || {
        host.log().contains("MQTT connected").then_some(())
    });
    // Publish on the plain listener until the host's subscription takes them.
    let mut options = MqttOptions::new(format!("{}-pub", names.client_id), "127.0.0.1", broker.plain_port);
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut connection) = Client::new(options, 64);
    std::thread::spawn(move || for _ in connection.iter() {});
    let mut sent = 0i64;
    meterhub_testkit::wait_for("a reading through the TLS session", APPLY_DEADLINE, || {
        sent += 1;
        let line = reading("m1", "volume", TS + sent * 60_000, "1.5");
        client.publish(&topic, QoS::AtLeastOnce, false, line.trim_end().as_bytes().to_vec()).ok()?;
        (source(&host)["readings_new"].as_u64()? >= 1).then_some(())
    });
    drop(host);

    // A wrong password: the host says the broker refused it, and keeps trying.
    std::fs::write(broker.dir.path().join("wrong.password"), "guess\n").unwrap();
    let host = Host::start_with(&config("wrong.password"));
    meterhub_testkit::wait_for("the refusal in the log", APPLY_DEADLINE, || {
        let log = host.log();
        (log.matches("the broker refused the connection").count() >= 2).then_some(())
    });
}

//! Both transports end to end against receivers in the test: an HTTP
//! endpoint that answers as lw640 does (401 without the token, 400 for
//! what it cannot read, 200 otherwise) and an MQTT broker that speaks
//! just enough MQTT 3.1.1 (CONNACK, PUBACK, PINGRESP) to count what it is
//! given.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::StatusCode;
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::options;
use crate::lns::bodies::chirpstack_v4_proto::{JoinEvent, StatusEvent, UplinkEvent};
use crate::lns::{Encoding, Lns, LnsError, Options, Server, Summary, Target};

/// One request the endpoint received: target, content type, body.
type Request = (String, String, Vec<u8>);

/// Whether the endpoint would store `body` posted to `target` (lw640's
/// rules, in short).
fn readable(target: &str, content_type: &str, body: &[u8]) -> Result<(), String> {
    let event = target.split_once("event=").map(|(_, e)| e);
    if content_type == "application/octet-stream" {
        let decoded = match event {
            Some("up") => UplinkEvent::decode(body).map(drop),
            Some("join") => JoinEvent::decode(body).map(drop),
            Some("status") => StatusEvent::decode(body).map(drop),
            other => return Err(format!("unknown event {other:?}")),
        };
        return decoded.map_err(|e| e.to_string());
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let data = if let Some(ids) = json.get("end_device_ids") {
        let _ = ids;
        let keys: Vec<&str> = json.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        if keys.contains(&"join_accept") {
            return Ok(());
        }
        if !keys.contains(&"uplink_message") {
            return Err(format!("no known message key in {keys:?}"));
        }
        json["uplink_message"]["frm_payload"].clone()
    } else {
        match event {
            Some("up") => json["data"].clone(),
            Some("join" | "status") => return Ok(()),
            other => return Err(format!("unknown event {other:?}")),
        }
    };
    let data = data.as_str().ok_or("no payload")?;
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).map(drop).map_err(|e| e.to_string())
}

/// An endpoint taking `token`; what it received.
async fn endpoint(token: &'static str) -> (SocketAddr, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let gate = meterhub_http::Gates::unlimited().gate("lns test", meterhub_http::Limits::API, true);
    let record = seen.clone();
    tokio::spawn(meterhub_http::serve(Arc::new(listener), gate, None, std::future::pending(), move |req, _| {
        let record = record.clone();
        async move {
            let target = req.uri().to_string();
            let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let (content_type, auth) = (header("content-type"), header("authorization"));
            let body = meterhub_http::read_body(req, 1 << 20).await.unwrap_or_default().to_vec();
            let answer = if auth != token {
                meterhub_http::error(StatusCode::UNAUTHORIZED, "header Authorization: not the expected value")
            } else {
                match readable(&target, &content_type, &body) {
                    Ok(()) => meterhub_http::json(StatusCode::OK, &serde_json::json!({"ok": true})),
                    Err(e) => meterhub_http::error(StatusCode::BAD_REQUEST, &e),
                }
            };
            record.lock().unwrap().push((target, content_type, body));
            answer
        }
    }));
    (address, seen)
}

fn http(url: String, auth: Option<&str>) -> Target {
    Target::Http { url, auth: auth.map(str::to_owned), auth_header: "Authorization".into(), connections: 2 }
}

/// Every behaviour on: 4 devices, 3 rounds of simulated minutes sent at once.
fn busy(server: Server, target: Target) -> Options {
    Options {
        target,
        devices: 4,
        interval_ms: 60_000,
        rounds: Some(3),
        fast: true,
        repeat_every: 2,
        status_every: if server == Server::TtsV3 { 0 } else { 3 },
        faults_every: 4,
        ..options(server)
    }
}

#[tokio::test]
async fn http_pushes_are_answered_and_counted() {
    for (server, encoding) in [
        (Server::ChirpstackV4, Encoding::Json),
        (Server::ChirpstackV4, Encoding::Protobuf),
        (Server::ChirpstackV3, Encoding::Json),
        (Server::TtsV3, Encoding::Json),
    ] {
        let (address, seen) = endpoint("Bearer t").await;
        let options =
            Options { encoding, ..busy(server, http(format!("http://{address}/lw?site=1"), Some("Bearer t"))) };
        let summary = Lns::new(options).unwrap().run().await.unwrap();
        let case = format!("{server:?} {encoding:?}: {summary:?}");
        assert_eq!((summary.lns_sim.as_str(), summary.rounds, summary.uplinks), ("done", 3, 12), "{case}");
        let s = &summary.sent;
        let status = if server == Server::TtsV3 { 0 } else { 4 };
        assert_eq!((s.up, s.repeat, s.join, s.status), (12, 6, 4, status), "{case}");
        assert_eq!((s.malformed, s.unknown_event, s.bad_base64), (1, 1, 1), "{case}");
        let statuses = summary.http_status.clone().unwrap();
        assert_eq!(statuses.get("200"), Some(&(12 + 6 + 4 + status)), "{case}");
        assert_eq!(statuses.get("400"), Some(&3), "{case}");
        assert_eq!((summary.unexpected, summary.http_failed), (0, Some(0)), "{case}");
        assert_eq!(summary.events, seen.lock().unwrap().len() as u64);
        let seen = seen.lock().unwrap();
        let targets: Vec<&str> = seen.iter().map(|(t, _, _)| t.as_str()).collect();
        if server == Server::TtsV3 {
            assert!(targets.iter().all(|t| *t == "/lw?site=1"), "{targets:?}");
        } else {
            assert!(targets.contains(&"/lw?site=1&event=up") && targets.contains(&"/lw?site=1&event=join"));
            assert!(targets.contains(&"/lw?site=1&event=rx"), "the unknown-event fault");
        }
        let first = summary.first_uplink_ms.unwrap();
        let last = summary.last_uplink_ms.unwrap();
        assert_eq!(last - first, 2 * 60_000 + 3 * 15_000, "simulated minutes, the devices spread over each");
        let line = serde_json::to_string(&summary).unwrap();
        let back: Summary = serde_json::from_str(&line).unwrap();
        assert_eq!(back.sent, summary.sent, "the JSON line reads back");
    }
}

#[tokio::test]
async fn a_wrong_token_is_counted_as_refused() {
    let (address, _) = endpoint("Bearer t").await;
    let options = Options {
        target: http(format!("http://{address}/"), Some("Bearer wrong")),
        rounds: Some(1),
        interval_ms: 0,
        ..options(Server::ChirpstackV4)
    };
    let summary = Lns::new(options).unwrap().run().await.unwrap();
    assert_eq!(summary.http_status.unwrap().get("401"), Some(&6), "3 joins, 3 uplinks");
    assert_eq!(summary.unexpected, 6);
    let refusal = &summary.refusals.unwrap()["401"];
    assert!(refusal.contains("not the expected value"), "{refusal}");
}

#[tokio::test]
async fn an_unreachable_url_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{address}/");
    let options = Options { target: http(url.clone(), None), connect_timeout_ms: 300, ..options(Server::ChirpstackV4) };
    let e = Lns::new(options).unwrap().run().await.unwrap_err();
    assert!(matches!(e, LnsError::HttpUnreachable { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.starts_with(&format!("cannot reach {url} (TCP {address}), tried for ")), "{e}");
}

/// One published message: topic, payload, QoS.
type Publish = (String, Vec<u8>, u8);

async fn packet(stream: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let header = stream.read_u8().await?;
    let (mut length, mut shift) = (0usize, 0);
    loop {
        let byte = stream.read_u8().await?;
        length |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok((header, body))
}

async fn session(mut stream: TcpStream, refuse: Option<u8>, seen: Arc<Mutex<Vec<Publish>>>) -> std::io::Result<()> {
    loop {
        let (header, body) = packet(&mut stream).await?;
        match header >> 4 {
            1 => {
                stream.write_all(&[0x20, 0x02, 0x00, refuse.unwrap_or(0)]).await?;
                if refuse.is_some() {
                    return Ok(());
                }
            }
            3 => {
                let qos = (header >> 1) & 3;
                let length = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let topic = String::from_utf8_lossy(&body[2..2 + length]).into_owned();
                let mut at = 2 + length;
                let id = (qos > 0).then(|| [body[at], body[at + 1]]);
                if qos > 0 {
                    at += 2;
                }
                seen.lock().unwrap().push((topic, body[at..].to_vec(), qos));
                if let Some([high, low]) = id {
                    stream.write_all(&[0x40, 0x02, high, low]).await?;
                }
            }
            12 => stream.write_all(&[0xd0, 0x00]).await?,
            14 => return Ok(()),
            _ => {}
        }
    }
}

/// A broker (refusing every connection with CONNACK code `refuse`, if
/// given); what it was published.
async fn broker(refuse: Option<u8>) -> (String, Arc<Mutex<Vec<Publish>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Publish>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, refuse, record.clone()));
        }
    });
    (url, seen)
}

fn mqtt(url: String, prefix: Option<&str>) -> Target {
    Target::Mqtt { url, topic_prefix: prefix.map(str::to_owned), username: None, password: None }
}

#[tokio::test]
async fn mqtt_publishes_at_qos_1_on_the_servers_topics() {
    for (server, encoding, prefix) in [
        (Server::TtsV3, Encoding::Json, None),
        (Server::ChirpstackV4, Encoding::Protobuf, Some("eu868")),
        (Server::ChirpstackV3, Encoding::Json, None),
    ] {
        let (url, seen) = broker(None).await;
        let options = Options { encoding, ..busy(server, mqtt(url.clone(), prefix)) };
        let lns = Lns::new(options).unwrap();
        let devices: Vec<String> = lns.traffic().devices().iter().map(|d| d.dev_eui_lower()).collect();
        let summary = lns.run().await.unwrap();
        let case = format!("{server:?}: {summary:?}");
        assert_eq!((summary.transport.as_str(), summary.target.as_str()), ("mqtt", url.as_str()));
        assert_eq!(summary.mqtt_published, Some(summary.events), "{case}");
        assert_eq!(summary.mqtt_acknowledged, Some(summary.events), "{case}");
        assert_eq!(summary.unexpected, 0, "{case}");
        assert!(summary.http_status.is_none());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len() as u64, summary.events);
        assert!(seen.iter().all(|(_, _, qos)| *qos == 1));
        let topics: Vec<&str> = seen.iter().map(|(t, _, _)| t.as_str()).collect();
        match server {
            Server::TtsV3 => {
                assert!(topics.contains(&format!("v3/meterhub-sim@ttn/devices/eui-{}/join", devices[0]).as_str()));
                assert!(topics.contains(&format!("v3/meterhub-sim@ttn/devices/eui-{}/up", devices[3]).as_str()));
                assert!(seen.iter().all(|(_, p, _)| p.first() == Some(&b'{')), "JSON payloads");
            }
            _ => {
                let prefix = prefix.map(|p| format!("{p}/")).unwrap_or_default();
                let up = format!("/device/{}/event/up", devices[1]);
                assert!(topics.iter().all(|t| t.starts_with(&format!("{prefix}application/"))), "{topics:?}");
                assert!(topics.iter().any(|t| t.ends_with(&up)), "{topics:?}");
                assert!(topics.iter().any(|t| t.ends_with("/event/status")));
            }
        }
        if encoding == Encoding::Protobuf {
            let (_, payload, _) = seen.iter().find(|(t, _, _)| t.ends_with("/event/join")).unwrap();
            assert!(JoinEvent::decode(payload.as_slice()).is_ok());
        }
    }
}

#[tokio::test]
async fn a_refusing_broker_is_named() {
    let (url, _) = broker(Some(5)).await;
    let options = Options { target: mqtt(url.clone(), None), ..options(Server::ChirpstackV4) };
    let e = Lns::new(options).unwrap().run().await.unwrap_err().to_string();
    assert_eq!(e, format!("MQTT broker {url} refused the connection: not authorized (CONNACK return code 5)"));
}

#[tokio::test]
async fn an_unreachable_broker_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    drop(listener);
    let options = Options { target: mqtt(url.clone(), None), connect_timeout_ms: 300, ..options(Server::ChirpstackV4) };
    let e = Lns::new(options).unwrap().run().await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("cannot reach MQTT broker {url}, tried for ")), "{e}");
}

#[tokio::test]
async fn a_stop_ends_a_run_without_an_end() {
    let (address, _) = endpoint("Bearer t").await;
    let options = Options {
        target: http(format!("http://{address}/"), Some("Bearer t")),
        interval_ms: 30,
        ..options(Server::ChirpstackV4)
    };
    let lns = Lns::new(options).unwrap();
    let stats = lns.stats();
    let stop = async move {
        while stats.sent_counts().up < 4 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let run = tokio::time::timeout(std::time::Duration::from_secs(60), lns.run_until(stop));
    let summary = run.await.expect("the stop ends the run").unwrap();
    assert_eq!(summary.lns_sim, "stopped");
    assert!(summary.uplinks >= 4 && summary.rounds >= 1, "{summary:?}");
    assert_eq!(summary.http_status.unwrap().get("200"), Some(&summary.events), "every event answered before the end");
    assert_eq!(summary.unexpected, 0);
}

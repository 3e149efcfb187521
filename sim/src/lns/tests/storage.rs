//! The Things Stack's Storage Integration, emulated, over real HTTP on
//! loopback: every uplink comes back, byte for byte as its webhook,
//! once; `after`, `before`, `limit`, `order`, `last` and the device route
//! select; refusals are The Things Stack's; with storage a push that
//! cannot be delivered is counted and the run goes on, and pushes work
//! again once the receiver is up.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use super::{json, options, unbase64};
use crate::lns::bodies::tts;
use crate::lns::clock::Stamp;
use crate::lns::storage::query::go_duration_ns;
use crate::lns::{Lns, Options, Server, StorageApi, StorageOptions, Summary, Target};

const KEY: &str = "NNSXS.SIMULATED.STORAGEKEY";

/// The Things Stack, 3 devices, `count` uplinks a simulated minute apart
/// per device sent at once, storage on a free port, pushed nowhere.
fn stored(count: u64) -> Options {
    Options {
        target: Target::Off,
        interval_ms: 60_000,
        count: Some(count),
        fast: true,
        storage: Some(StorageOptions { listen: "127.0.0.1:0".into(), key: KEY.into() }),
        ..options(Server::TtsV3)
    }
}

/// Run `options` with its storage bound first; the summary and the API
/// (serving on after the run).
async fn run(options: Options) -> (Summary, StorageApi) {
    let mut lns = Lns::new(options).unwrap();
    let api = lns.bind_storage().await.unwrap().expect("storage is on");
    let summary = lns.run().await.unwrap();
    (summary, api)
}

/// An answer: status, content type, JSON of the body (when it is one), body.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        json(&self.body)
    }

    /// The webhook bodies in a 200's lines (each `{"result":...}`).
    fn results(&self) -> Vec<Vec<u8>> {
        assert_eq!((self.status, self.content_type.as_str()), (StatusCode::OK, "text/event-stream"), "{self:?}");
        let text = std::str::from_utf8(&self.body).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "every line ends with a newline: {text:?}");
        text.lines()
            .map(|line| {
                let inner = line.strip_prefix("{\"result\":").and_then(|l| l.strip_suffix('}'));
                inner.unwrap_or_else(|| panic!("not a result line: {line}")).as_bytes().to_vec()
            })
            .collect()
    }

    /// The error of a refusal: The Things Stack's server wraps it as a
    /// streamed call's (`{"error":{...}}`), its gateway does not.
    fn error(&self, streamed: bool) -> (u64, String) {
        assert_eq!(self.content_type, "application/json");
        let body = self.json();
        let error = if streamed { body["error"].clone() } else { body.clone() };
        assert_eq!(error["details"], serde_json::json!([]), "{body}");
        (error["code"].as_u64().unwrap(), error["message"].as_str().unwrap().to_owned())
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.status, self.content_type, String::from_utf8_lossy(&self.body))
    }
}

/// `method` on `url` (`http://host:port/path?query`) with `Bearer {key}`
/// if given, as a client of The Things Stack asks.
async fn request(method: Method, url: &str, key: Option<&str>) -> Answer {
    let uri: Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().as_str().to_owned();
    let stream = TcpStream::connect(&authority).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let target = uri.path_and_query().unwrap().as_str();
    let mut request = Request::builder().method(method).uri(target).header(HOST, &authority);
    request = request.header(ACCEPT, "text/event-stream");
    if let Some(key) = key {
        request = request.header(AUTHORIZATION, format!("Bearer {key}"));
    }
    let response = sender.send_request(request.body(Empty::<Bytes>::new()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, content_type, body }
}

/// GET the application's uplinks with `query`.
async fn uplinks(api: &StorageApi, query: &str) -> Answer {
    let url = format!("{}/as/applications/meterhub-sim/packages/storage/uplink_message?{query}", api.url());
    request(Method::GET, &url, Some(KEY)).await
}

/// The `received_at` of a webhook body.
fn received_at(body: &[u8]) -> String {
    json(body)["received_at"].as_str().unwrap().to_owned()
}

/// An HTTP receiver on `address` taking everything (200); the bodies posted.
async fn receiver(address: SocketAddr) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let listener = TcpListener::bind(address).await.unwrap();
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let record = seen.clone();
    let gate = meterhub_http::Gates::unlimited().gate("storage test", meterhub_http::Limits::API, true);
    tokio::spawn(meterhub_http::serve(Arc::new(listener), gate, None, std::future::pending(), move |req, _| {
        let record = record.clone();
        async move {
            let body = meterhub_http::read_body(req, 1 << 20).await.unwrap_or_default().to_vec();
            record.lock().unwrap().push(body);
            meterhub_http::json(StatusCode::OK, &serde_json::json!({}))
        }
    }));
    seen
}

/// A loopback address nothing listens on (yet).
async fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Wait until `done` holds (at most 30 s).
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn every_uplink_comes_back_byte_for_byte_as_its_webhook() {
    let address = free_address().await;
    let pushed = receiver(address).await;
    let options = Options {
        target: Target::Http {
            url: format!("http://{address}/tts"),
            auth: None,
            auth_header: "Authorization".into(),
            connections: 1,
        },
        ..stored(10)
    };
    let (summary, api) = run(options).await;
    assert_eq!(api.address().ip().to_string(), "127.0.0.1");
    assert_ne!(api.address().port(), 0, "the bound port");
    assert_eq!(summary.storage_url.as_deref(), Some(api.url().as_str()));
    assert_eq!((summary.uplinks, summary.storage_stored, api.stored()), (10, Some(10), 10), "{summary:?}");
    assert_eq!((summary.http_failed, summary.unexpected), (Some(0), 0), "{summary:?}");
    let webhooks: Vec<Vec<u8>> = {
        let pushed = pushed.lock().unwrap();
        assert_eq!(pushed.len() as u64, summary.events, "3 joins and 10 uplinks pushed");
        pushed.iter().filter(|b| json(b).get("uplink_message").is_some()).cloned().collect()
    };
    assert_eq!(webhooks.len(), 10);
    let answer = uplinks(&api, "").await;
    assert_eq!(answer.results(), webhooks, "in order, byte for byte the webhook bodies");
}

#[tokio::test]
async fn an_uplink_is_stored_once_and_faults_and_joins_not_at_all() {
    let (summary, api) = run(Options { repeat_every: 2, faults_every: 3, ..stored(12) }).await;
    let s = &summary.sent;
    assert_eq!((s.up, s.repeat, s.join), (12, 6, 3), "{summary:?}");
    assert_eq!(s.malformed + s.unknown_event + s.bad_base64, 4);
    assert_eq!((summary.transport.as_str(), summary.target.as_str()), ("none", ""));
    assert!(summary.http_status.is_none() && summary.mqtt_published.is_none());
    let bodies = uplinks(&api, "").await.results();
    assert_eq!((bodies.len(), summary.storage_stored), (12, Some(12)));
    let mut times = Vec::new();
    for body in &bodies {
        let up = json(body);
        assert!(up.get("join_accept").is_none() && up.get("rx").is_none(), "{up}");
        assert_eq!(unbase64(&up["uplink_message"]["frm_payload"]).first(), Some(&0x01), "an SI-12 packet");
        times.push(Stamp::parse_rfc3339(up["received_at"].as_str().unwrap()).unwrap());
    }
    assert!(times.windows(2).all(|w| w[0] < w[1]), "by received_at, each once: {times:?}");
}

#[tokio::test]
async fn queries_select_by_time_order_limit_and_device() {
    let (summary, api) = run(stored(10)).await;
    let all = uplinks(&api, "").await.results();
    assert_eq!(all.len(), 10);
    let times: Vec<String> = all.iter().map(|b| received_at(b)).collect();

    let mut newest_first = all.clone();
    newest_first.reverse();
    assert_eq!(uplinks(&api, "order=-received_at").await.results(), newest_first);
    assert_eq!(uplinks(&api, "order=received_at&f_port=2&field_mask=up.uplink_message").await.results(), all);
    assert_eq!(uplinks(&api, "limit=2&order=-received_at").await.results(), newest_first[..2]);

    let mut paged = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let page = uplinks(&api, &query).await.results();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        query = format!("limit=3&after={}", received_at(last));
        paged.extend(page);
    }
    assert_eq!(paged, all, "paging with limit and after gives everything once");

    let window = uplinks(&api, &format!("after={}&before={}", times[2], times[6])).await.results();
    assert_eq!(window, all[3..6], "strictly after and before");
    let nanos = Stamp::parse_rfc3339(&times[4]).unwrap();
    let just_before = nanos.plus_nanos(-1).go();
    let window = uplinks(&api, &format!("after={just_before}&before={}", nanos.plus_nanos(1).go())).await.results();
    assert_eq!(window, all[4..5], "to the nanosecond");
    let offset = format!("after={}", urlencoded(&as_offset(&times[7])));
    assert_eq!(uplinks(&api, &offset).await.results(), all[8..], "an offset other than Z");
    assert!(uplinks(&api, "after=2100-01-01T00:00:00Z").await.results().is_empty());

    assert_eq!(uplinks(&api, "last=1h").await.results(), all, "the run's simulated time ends now");
    assert!(uplinks(&api, "last=30s").await.results().is_empty(), "the last uplink is a simulated minute old");

    let device = tts::device_id(&Lns::new(stored(1)).unwrap().traffic().devices()[1]);
    let base = api.url();
    let url = format!("{base}/as/applications/meterhub-sim%40ttn/devices/{device}/packages/storage/uplink_message");
    let mine = request(Method::GET, &url, Some(KEY)).await.results();
    assert_eq!(mine.len(), 3, "device 1 of 3 sent uplinks 2, 5 and 8");
    assert!(mine.iter().all(|b| json(b)["end_device_ids"]["device_id"] == device.as_str()));
    assert_eq!(mine, [all[1].clone(), all[4].clone(), all[7].clone()]);
    assert_eq!(summary.storage_status, Some(Default::default()), "nothing asked during the run");
}

/// An RFC 3339 time written with `+03:00` instead of `Z`.
fn as_offset(time: &str) -> String {
    let at = Stamp::parse_rfc3339(time).unwrap();
    let shifted = at.plus_ms(3 * 3_600_000).go();
    format!("{}+03:00", shifted.trim_end_matches('Z'))
}

fn urlencoded(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn refusals_are_the_things_stacks() {
    let mut lns = Lns::new(stored(3)).unwrap();
    let stats = lns.stats();
    let api = lns.bind_storage().await.unwrap().unwrap();
    lns.run().await.unwrap();
    let base = api.url();
    let app = format!("{base}/as/applications/meterhub-sim/packages/storage/uplink_message");

    let wrong = request(Method::GET, &app, Some("NNSXS.WRONG")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let (code, message) = wrong.error(true);
    assert_eq!((code, message.as_str()), (16, "error:pkg/identityserver:api_key_not_found (API key not found)"));
    let missing = request(Method::GET, &app, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error(true).0, 16);
    assert!(missing.error(true).1.starts_with("error:pkg/rpcmetadata:unauthenticated ("));

    let other = format!("{base}/as/applications/someone-else/packages/storage/uplink_message");
    let unknown = request(Method::GET, &other, Some(KEY)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let (code, message) = unknown.error(true);
    assert_eq!(code, 5);
    assert!(message.starts_with("error:pkg/identityserver/store:application_not_found ("), "{message}");
    let tenant = format!("{base}/as/applications/meterhub-sim@other/packages/storage/uplink_message");
    assert_eq!(request(Method::GET, &tenant, Some(KEY)).await.status, StatusCode::NOT_FOUND);
    let device = format!("{base}/as/applications/meterhub-sim/devices/eui-0/packages/storage/uplink_message");
    let unknown = request(Method::GET, &device, Some(KEY)).await;
    assert_eq!((unknown.status, unknown.error(true).0), (StatusCode::NOT_FOUND, 5));
    assert!(unknown.error(true).1.contains("end_device_not_found"));

    for (query, streamed) in [
        ("last=1h&after=2020-08-20T00:00:00Z", true),
        ("last=1h&before=2020-08-20T00:00:00Z", true),
        ("limit=0", true),
        ("order=f_port", true),
        ("last=-5m", true),
        ("limit=ten", false),
        ("limit=-1", false),
        ("after=yesterday", false),
        ("before=2020-02-30T00:00:00Z", false),
        ("last=1d", false),
        ("last=90", false),
        ("limit=1&limit=2", false),
        ("after=%zz", false),
    ] {
        let answer = uplinks(&api, query).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}: {answer:?}");
        let (code, message) = answer.error(streamed);
        assert_eq!(code, 3, "{query}: {message}");
        assert_eq!(message.starts_with("error:pkg/"), streamed, "{query}: {message}");
    }

    let elsewhere = request(Method::GET, &format!("{base}/as/applications/meterhub-sim/devices"), Some(KEY)).await;
    assert_eq!((elsewhere.status, elsewhere.error(false)), (StatusCode::NOT_FOUND, (5, "Not Found".to_owned())));
    let posted = request(Method::POST, &app, Some(KEY)).await;
    let refused = (StatusCode::METHOD_NOT_ALLOWED, (12, "Method Not Allowed".to_owned()));
    assert_eq!((posted.status, posted.error(false)), refused);
    assert_eq!(uplinks(&api, "").await.results().len(), 3);

    let (stored, requests, served) = stats.storage_counts();
    assert_eq!((stored, requests, served), (3, 21, 3), "every answer counted, the messages served");
}

#[tokio::test]
async fn undeliverable_pushes_are_counted_and_the_storage_keeps_every_uplink() {
    let address = free_address().await;
    let options = Options {
        target: Target::Http {
            url: format!("http://{address}/"),
            auth: None,
            auth_header: "Authorization".into(),
            connections: 2,
        },
        joins: false,
        ..stored(9)
    };
    let (summary, api) = run(options).await;
    assert_eq!(summary.lns_sim, "done");
    assert_eq!((summary.events, summary.http_failed, summary.unexpected), (9, Some(9), 9), "{summary:?}");
    assert_eq!(summary.http_status, Some(Default::default()));
    assert_eq!(uplinks(&api, "").await.results().len(), 9);
}

#[tokio::test]
async fn pushes_work_again_once_the_receiver_is_up() {
    let address = free_address().await;
    let options = Options {
        target: Target::Http {
            url: format!("http://{address}/"),
            auth: None,
            auth_header: "Authorization".into(),
            connections: 1,
        },
        devices: 1,
        interval_ms: 10,
        count: None,
        fast: false,
        joins: false,
        ..stored(0)
    };
    let lns = Lns::new(options).unwrap();
    let stats = lns.stats();
    let (seen, watch) = (Arc::new(Mutex::new(None)), stats.clone());
    let record = seen.clone();
    let stop = async move {
        until("two failed pushes", || watch.http_counts().1 >= 2).await;
        let pushed = receiver(address).await;
        *record.lock().unwrap() = Some(pushed.clone());
        until("two pushes received", || pushed.lock().unwrap().len() >= 2).await;
    };
    let summary = tokio::time::timeout(Duration::from_secs(60), lns.run_until(stop)).await.unwrap().unwrap();
    assert_eq!(summary.lns_sim, "stopped");
    let statuses = summary.http_status.clone().unwrap();
    assert!(summary.http_failed.unwrap() >= 2 && statuses.get("200").is_some_and(|n| *n >= 2), "{summary:?}");
    assert_eq!(summary.storage_stored, Some(summary.uplinks), "every uplink stored, pushed or not");
    assert!(seen.lock().unwrap().is_some());
}

#[test]
fn storage_options_are_checked_by_name() {
    let refused = |options: Options| Lns::new(options).unwrap_err().to_string();
    let e = refused(Options { server: Server::ChirpstackV4, ..stored(1) });
    assert!(e.starts_with("option --storage: only The Things Stack keeps uplinks"), "{e}");
    assert!(e.ends_with("chirpstack-v4 keeps no uplink history"), "{e}");
    let e = refused(Options { storage: None, ..stored(1) });
    assert!(e.starts_with("option --http: nowhere to send"), "{e}");
    let e = refused(Options { hold: true, storage: None, ..stored(1) });
    assert_eq!(e, "option --hold: keeps serving the storage API: needs --storage");
    let key = |key: &str| Some(StorageOptions { listen: "127.0.0.1:0".into(), key: key.into() });
    let e = refused(Options { storage: key(""), ..stored(1) });
    assert!(e.starts_with("option --storage-key: is empty"), "{e}");
    let e = refused(Options { storage: Some(StorageOptions { listen: "7011".into(), key: KEY.into() }), ..stored(1) });
    assert_eq!(e, "option --storage: \"7011\" is not an address host:port");
    assert!(Lns::new(Options { storage: key(KEY), hold: true, ..stored(1) }).is_ok());
}

#[tokio::test]
async fn an_address_in_use_is_named() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let options = Options { storage: Some(StorageOptions { listen: address.clone(), key: KEY.into() }), ..stored(1) };
    let e = Lns::new(options).unwrap().run().await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("storage API (--storage {address}): cannot listen: ")), "{e}");
}

#[test]
fn go_durations_and_rfc_3339_times_read_as_go_reads_them() {
    let s = 1_000_000_000i64;
    for (text, ns) in [
        ("30m", 1800 * s),
        ("1h", 3600 * s),
        ("90s", 90 * s),
        ("1h30m", 5400 * s),
        ("1.5h", 5400 * s),
        (".5s", s / 2),
        ("2.s", 2 * s),
        ("250ms", s / 4),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("7ns", 7),
        ("0", 0),
        ("+5s", 5 * s),
        ("-5s", -5 * s),
        ("2562047h47m16.854775807s", i64::MAX),
    ] {
        assert_eq!(go_duration_ns(text), Ok(ns), "{text}");
    }
    for text in ["", "5", "1d", "h", ".s", "1h-5m", "2562047h47m16.854775808s", "5 s"] {
        assert!(go_duration_ns(text).is_err(), "{text:?}");
    }
    let at = Stamp::parse_rfc3339("2020-08-24T10:08:44.868680817Z").unwrap();
    assert_eq!((at.go(), at.subsec_nanos()), ("2020-08-24T10:08:44.868680817Z".to_owned(), 868_680_817));
    let same = Stamp::parse_rfc3339("2020-08-24T13:08:44.8686808171234+03:00").unwrap();
    assert_eq!(same, at, "an offset, digits past the ninth dropped");
    assert_eq!(Stamp::parse_rfc3339("2020-08-20t00:00:00z").unwrap().secs(), 1_597_881_600);
    assert_eq!(Stamp::parse_rfc3339("2020-08-20T00:00:00-01:30").unwrap().secs(), 1_597_881_600 + 5400);
    for text in
        ["2020-08-20", "2020-02-30T00:00:00Z", "2020-08-20T24:00:00Z", "2020-08-20T00:00:00", "2020-08-20T00:00:00.Z"]
    {
        assert!(Stamp::parse_rfc3339(text).is_err(), "{text}");
    }
    for t in [0i64, 1_658_136_855_775, 951_782_400_123] {
        let stamp = Stamp::from_ms(t).plus_nanos(456_789);
        assert_eq!(Stamp::parse_rfc3339(&stamp.go()), Ok(stamp));
        assert_eq!(Stamp::parse_rfc3339(&stamp.chirpstack_v4()), Ok(stamp));
    }
}

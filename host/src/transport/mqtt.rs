//! MQTT client transport: one persistent session at a broker (clean
//! session off, so what is published while the host is away waits at the
//! broker), the configured topic filters subscribed at QoS 1, and one driver
//! session per message.
//!
//! Architecture invariant: a message is acknowledged (PUBACK) only once
//! every frame its session committed is on stable storage, or once the
//! driver refused it (the refusal is journaled first), and acknowledgements
//! leave in the order the messages arrived. A message whose frame could not
//! be stored is never acknowledged: the connection is dropped and made
//! again, and the broker delivers it again. Each connection has its own
//! client, so an acknowledgement meant for a message of an earlier
//! connection can never be sent on a later one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meterhub_plugin_api::{Event, Message, Transport};
use rumqttc::{AsyncClient, ConnectionError, MqttOptions, Packet, Publish, QoS, TlsConfiguration};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use meterhub_storage::histogram::LatencyHistogram;

use super::session::Session;
use super::{DriverRuntime, RuntimeSlot};
use crate::backoff::Backoff;
use crate::config::MqttTransport;

/// Messages taken from the broker whose acknowledgement is still due.
const IN_FLIGHT: usize = 1024;

/// From a message's frames being durable to its PUBACK written to the
/// broker, every instance together (`/metrics`: `meterhub_mqtt_ack_seconds`).
pub static ACK_LATENCY: LatencyHistogram = LatencyHistogram::new();

/// When each acknowledged message (by packet id) became durable, until its
/// PUBACK is written.
type Durable = Arc<std::sync::Mutex<std::collections::HashMap<u16, Instant>>>;

/// What became of one message.
#[derive(Debug)]
enum Outcome {
    /// Its frames (or its refusal) are on stable storage since then:
    /// acknowledge it.
    Stored(Instant),
    /// Not stored, for this reason: leave it to the broker.
    NotStored(String),
}

/// Keep the subscription of `config` for the slot's current runtime until
/// the slot's sender is dropped.
pub async fn run(slot: RuntimeSlot, config: MqttTransport) {
    let backoff = Backoff {
        min: Duration::from_millis(u64::from(config.reconnect_min_ms)),
        max: Duration::from_millis(u64::from(config.reconnect_max_ms)),
    };
    // A new runtime in the slot (new settings, a new plugin version) takes
    // the next message; only the sender's end going away stops the transport.
    let mut watch = slot.clone();
    let stopped = async move { while watch.changed().await.is_ok() {} };
    tokio::pin!(stopped);
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let ended = match options(&config) {
            Ok(options) => {
                tokio::select! {
                    ended = connection(&slot, &config, options) => ended,
                    () = &mut stopped => return,
                }
            }
            Err(reason) => reason,
        };
        let id = slot.borrow().id.clone();
        tracing::warn!(driver = %id, broker = %config.url, reason = %ended, "MQTT connection ended; reconnecting");
        // A connection that lived a while resets the backoff.
        failures = if started.elapsed() > backoff.max { 1 } else { failures + 1 };
        tokio::select! {
            () = tokio::time::sleep(backoff.delay(failures)) => {}
            () = &mut stopped => return,
        }
    }
}

/// The client options of one connection; the password file is read anew
/// each time, so a changed password needs no restart.
fn options(config: &MqttTransport) -> Result<MqttOptions, String> {
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(u64::from(config.keep_alive_s)))
        .set_max_packet_size(16 << 20, 1 << 20);
    if let Some(user) = &config.username {
        let password = match &config.password_file {
            Some(file) => std::fs::read_to_string(file)
                .map_err(|e| format!("password_file {}: {e}", file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => String::new(),
        };
        options.set_credentials(user, password);
    }
    if config.tls {
        let tls = crate::tls::client_config(config.ca_file.as_deref())?;
        options.set_transport(rumqttc::Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls))));
    }
    Ok(options)
}

/// One connection, until it fails (the reason is returned).
async fn connection(slot: &RuntimeSlot, config: &MqttTransport, options: MqttOptions) -> String {
    let (client, mut events) = AsyncClient::new(options, 64);
    let (due, acks) = mpsc::channel::<(Publish, JoinHandle<Outcome>)>(IN_FLIGHT);
    let (lost_tx, mut lost) = oneshot::channel::<String>();
    let durable = Durable::default();
    let acknowledger = tokio::spawn(acknowledge(client.clone(), acks, lost_tx, durable.clone()));
    let ended = loop {
        let event = tokio::select! {
            event = events.poll() => event,
            reason = &mut lost => break reason.unwrap_or_else(|_| "the acknowledgements stopped".to_owned()),
        };
        match event {
            Ok(rumqttc::Event::Incoming(Packet::ConnAck(ack))) => {
                let id = slot.borrow().id.clone();
                let resumed = ack.session_present;
                tracing::info!(driver = %id, broker = %config.url, client_id = %config.client_id, resumed, "MQTT connected");
                // Subscribing again is harmless when the broker kept the session.
                let subscribed = config.topics.iter().try_for_each(|t| client.try_subscribe(t, QoS::AtLeastOnce));
                if let Err(e) = subscribed {
                    break format!("cannot subscribe: {e}");
                }
            }
            Ok(rumqttc::Event::Incoming(Packet::SubAck(ack))) => {
                let refused = ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure));
                if refused {
                    break format!("the broker refused a subscription to {:?}", config.topics);
                }
            }
            Ok(rumqttc::Event::Incoming(Packet::Publish(publish))) => {
                let rt = slot.borrow().clone();
                let work = tokio::spawn(take(rt, publish.topic.clone(), publish.payload.to_vec(), config.url.clone()));
                if due.send((publish, work)).await.is_err() {
                    break "the acknowledgements stopped".to_owned();
                }
            }
            Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::PubAck(pkid))) => {
                let since = durable.lock().unwrap_or_else(|e| e.into_inner()).remove(&pkid);
                if let Some(since) = since {
                    ACK_LATENCY.record(since.elapsed());
                }
            }
            Ok(_) => {}
            Err(e) => break describe(&e),
        }
    };
    drop(due);
    acknowledger.abort();
    ended
}

/// Acknowledge each message, in arrival order, once it is stored; at the
/// first that is not, stop and say why (the connection is then dropped).
async fn acknowledge(
    client: AsyncClient,
    mut due: mpsc::Receiver<(Publish, JoinHandle<Outcome>)>,
    lost: oneshot::Sender<String>,
    durable: Durable,
) {
    while let Some((publish, work)) = due.recv().await {
        let outcome = work.await.unwrap_or_else(|e| Outcome::NotStored(format!("the message's task failed: {e}")));
        match outcome {
            Outcome::Stored(_) if publish.qos == QoS::AtMostOnce => {}
            Outcome::Stored(at) => {
                durable.lock().unwrap_or_else(|e| e.into_inner()).insert(publish.pkid, at);
                if client.ack(&publish).await.is_err() {
                    return;
                }
            }
            Outcome::NotStored(reason) => {
                let _ = lost
                    .send(format!("a message on {:?} was not stored ({reason}); the broker keeps it", publish.topic));
                return;
            }
        }
    }
}

/// Run one message as a driver session and wait until what it committed or
/// refused is on stable storage.
async fn take(rt: Arc<DriverRuntime>, topic: String, payload: Vec<u8>, broker: String) -> Outcome {
    let mut session = Session::open(rt, Transport::Mqtt, broker);
    session.deliver(Event::Message(Message { topic: topic.clone(), payload: payload.clone() }));
    if session.appends() == 0
        && let Some(reason) = session.close_reason()
    {
        // The driver failed on it without a word: keep the message as a
        // refusal rather than have the broker hand it over forever.
        let reason = format!("{topic}: the driver closed the session: {reason}");
        session.reject_by_host(reason, &payload);
    }
    while session.settle().await {}
    let outcome = match session.failure() {
        None => Outcome::Stored(Instant::now()),
        Some(reason) => Outcome::NotStored(reason.to_owned()),
    };
    session.close().await;
    outcome
}

fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => format!("the broker refused the connection: {code:?}"),
        other => other.to_string(),
    }
}

//! The MQTT transport: each event published at QoS 1 on its server's
//! topic ([`super::topics`]), not retained, over one clean session
//! (client id `meterhub-sim-lns-{seed}-{pid}`). The broker's PUBACKs are
//! counted; at the end the simulator waits for the missing ones (up to
//! the connect timeout, at least 10 s) and counts what never came as
//! unexpected.
//!
//! The run stops with an error naming the broker when it cannot be
//! reached within the connect timeout, refuses the connection (its
//! CONNACK code, e.g. not authorized), or drops it while publishing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Outgoing as Sent, Packet, QoS,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::bodies::Outgoing;
use super::error::LnsError;
use super::report::Stats;

/// Requests queued for the event loop before publishing waits.
const QUEUE: usize = 256;

/// A broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    url: String,
    host: String,
    port: u16,
}

impl Broker {
    /// The broker of `url`: `mqtt://host[:port][/]` (or `tcp://`), port
    /// 1883 by default.
    pub fn parse(url: &str) -> Result<Broker, LnsError> {
        let fail = |problem: &str| LnsError::MqttUrl { url: url.to_owned(), problem: problem.to_owned() };
        let rest = match url.split_once("://") {
            Some(("mqtt" | "tcp", rest)) => rest,
            Some(("mqtts" | "ssl", _)) => return Err(fail("TLS is not supported by the simulator; use mqtt://")),
            Some(_) => return Err(fail("expected mqtt://host[:port]")),
            None => return Err(fail("no scheme: expected mqtt://host[:port]")),
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains(['/', '?', '@']) {
            return Err(fail("expected mqtt://host[:port] (no path, query or credentials in the URL)"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => {
                (host, port.parse::<u16>().map_err(|_| fail("the port is not a number from 0 to 65535"))?)
            }
            _ => (authority, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(fail("no host"));
        }
        Ok(Broker { url: url.to_owned(), host: host.to_owned(), port })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A CONNACK refusal in words.
fn refusal(code: ConnectReturnCode) -> String {
    let words = match code {
        ConnectReturnCode::Success => "accepted",
        ConnectReturnCode::RefusedProtocolVersion => "unacceptable protocol version",
        ConnectReturnCode::BadClientId => "client identifier rejected",
        ConnectReturnCode::ServiceUnavailable => "server unavailable",
        ConnectReturnCode::BadUserNamePassword => "bad user name or password",
        ConnectReturnCode::NotAuthorized => "not authorized",
    };
    format!("{words} (CONNACK return code {})", code as u8)
}

/// Poll `events` until the broker accepts the connection.
async fn connected(broker: &Broker, events: &mut EventLoop, timeout: Duration) -> Result<(), LnsError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut last = "no CONNACK".to_owned();
    let unreachable = |error: String| LnsError::BrokerUnreachable {
        url: broker.url.clone(),
        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error,
    };
    loop {
        match tokio::time::timeout_at(deadline, events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) if ack.code == ConnectReturnCode::Success => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(ConnectionError::ConnectionRefused(code))) => {
                return Err(LnsError::BrokerRefused { url: broker.url.clone(), reason: refusal(code) });
            }
            Ok(Err(e)) => {
                last = e.to_string();
                let pause = Duration::from_millis(100);
                if Instant::now() + pause >= deadline {
                    return Err(unreachable(last));
                }
                tokio::time::sleep(pause).await;
            }
            Err(_) => return Err(unreachable(last)),
        }
    }
}

/// The MQTT transport while running.
#[derive(Debug)]
pub struct MqttSender {
    url: String,
    client: AsyncClient,
    events: JoinHandle<Result<(), String>>,
    stats: Arc<Stats>,
    disconnecting: Arc<AtomicBool>,
    timeout: Duration,
}

impl MqttSender {
    /// Connect to `broker` (within `timeout`), with credentials if given.
    pub async fn start(
        broker: &Broker,
        client_id: String,
        credentials: Option<(String, String)>,
        stats: Arc<Stats>,
        timeout: Duration,
    ) -> Result<MqttSender, LnsError> {
        let mut options = MqttOptions::new(client_id, broker.host.clone(), broker.port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_clean_session(true);
        options.set_max_packet_size(1 << 20, 1 << 20);
        if let Some((user, password)) = credentials {
            options.set_credentials(user, password);
        }
        let (client, mut events) = AsyncClient::new(options, QUEUE);
        events.network_options.set_connection_timeout(timeout.as_secs().max(1));
        connected(broker, &mut events, timeout).await?;
        let disconnecting = Arc::new(AtomicBool::new(false));
        let task = {
            let (stats, disconnecting) = (stats.clone(), disconnecting.clone());
            tokio::spawn(async move {
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => stats.acknowledged(),
                        Ok(Event::Outgoing(Sent::Disconnect)) => return Ok(()),
                        Ok(_) => {}
                        Err(_) if disconnecting.load(Ordering::Relaxed) => return Ok(()),
                        Err(e) => return Err(e.to_string()),
                    }
                }
            })
        };
        Ok(MqttSender { url: broker.url.clone(), client, events: task, stats, disconnecting, timeout })
    }

    async fn lost(&mut self) -> LnsError {
        let error = match (&mut self.events).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => "the connection closed".to_owned(),
            Err(e) => format!("the event loop failed: {e}"),
        };
        LnsError::BrokerLost { url: self.url.clone(), published: self.stats.mqtt().0, error }
    }

    /// Publish `event` at QoS 1 on its topic.
    pub async fn send(&mut self, event: Outgoing) -> Result<(), LnsError> {
        if self.events.is_finished() {
            return Err(self.lost().await);
        }
        if self.client.publish(event.topic, QoS::AtLeastOnce, false, event.body).await.is_err() {
            return Err(self.lost().await);
        }
        self.stats.published();
        Ok(())
    }

    /// Wait for the broker's acknowledgements of everything published
    /// (publishes never acknowledged count as unexpected), then disconnect.
    pub async fn finish(mut self) -> Result<(), LnsError> {
        let deadline = Instant::now() + self.timeout.max(Duration::from_secs(10));
        loop {
            let (published, acknowledged) = self.stats.mqtt();
            if acknowledged >= published {
                break;
            }
            if self.events.is_finished() {
                return Err(self.lost().await);
            }
            if Instant::now() >= deadline {
                self.stats.unacknowledged(published - acknowledged);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.disconnecting.store(true, Ordering::Relaxed);
        let _ = self.client.disconnect().await;
        if tokio::time::timeout(Duration::from_secs(2), &mut self.events).await.is_err() {
            self.events.abort();
        }
        Ok(())
    }
}

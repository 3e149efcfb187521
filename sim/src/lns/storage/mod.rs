//! The Things Stack's Storage Integration, emulated (`--storage ADDR
//! --storage-key KEY`, The Things Stack only): every uplink the simulator
//! generates (an `uplink_message` event; a repeat is the same uplink and
//! is not stored again; joins and faults are not stored) is kept in
//! memory when it is generated, pushed or not, its body byte for byte as
//! the webhook's, in the order of its `received_at` (nanoseconds kept);
//! and served over HTTP/1.1 as The Things Stack's storage API serves it
//! ([`api`]: routes, answers, errors; [`query`]: `limit`, `after`,
//! `before`, `order`, `last`).
//!
//! [`Storage`] is the simulator's part (the store, and the server once
//! bound); [`StorageApi`] is the server's handle: it serves while a
//! clone of it lives.

pub mod api;
pub mod query;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hyper::body::Bytes;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::bodies::tts;
use super::clock::Stamp;
use super::error::LnsError;
use super::options::StorageOptions;
use super::report::Stats;
use super::traffic::Traffic;
use query::Order;

/// The start of a body an error quotes.
const QUOTED: usize = 120;

/// One stored uplink.
#[derive(Debug, Clone)]
struct Message {
    received_at: Stamp,
    device_id: String,
    body: Bytes,
}

/// What the store reads of a body.
#[derive(Deserialize)]
struct Envelope {
    end_device_ids: DeviceIds,
    received_at: String,
}

#[derive(Deserialize)]
struct DeviceIds {
    device_id: String,
}

/// The stored uplinks, in the order of their `received_at`.
#[derive(Debug, Default)]
pub struct Store {
    messages: Mutex<Vec<Message>>,
}

impl Store {
    fn messages(&self) -> MutexGuard<'_, Vec<Message>> {
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keep `body`, an `uplink_message` webhook body, under its
    /// `received_at` and `end_device_ids.device_id` (after the messages
    /// received at the same time). The error says what it lacks.
    pub fn keep(&self, body: &[u8]) -> Result<(), String> {
        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|e| format!("not an uplink of The Things Stack: {e}"))?;
        let received_at = Stamp::parse_rfc3339(&envelope.received_at).map_err(|e| format!("received_at: {e}"))?;
        let message =
            Message { received_at, device_id: envelope.end_device_ids.device_id, body: Bytes::copy_from_slice(body) };
        let mut messages = self.messages();
        let at = messages.partition_point(|m| m.received_at <= received_at);
        messages.insert(at, message);
        Ok(())
    }

    /// Messages stored.
    pub fn len(&self) -> usize {
        self.messages().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bodies of the messages of `device` (all devices: `None`)
    /// received strictly after `after` and before `before`, in `order`,
    /// at most `limit` (the first ones in that order).
    pub fn select(
        &self,
        device: Option<&str>,
        after: Option<Stamp>,
        before: Option<Stamp>,
        order: Order,
        limit: Option<usize>,
    ) -> Vec<Bytes> {
        let messages = self.messages();
        let wanted = |m: &&Message| {
            device.is_none_or(|d| m.device_id == d)
                && after.is_none_or(|a| m.received_at > a)
                && before.is_none_or(|b| m.received_at < b)
        };
        let limit = limit.unwrap_or(usize::MAX);
        match order {
            Order::Ascending => messages.iter().filter(wanted).take(limit).map(|m| m.body.clone()).collect(),
            Order::Descending => messages.iter().rev().filter(wanted).take(limit).map(|m| m.body.clone()).collect(),
        }
    }
}

/// The storage API while it serves: its address, and the store it
/// serves. It serves while a clone of it lives.
#[derive(Debug, Clone)]
pub struct StorageApi {
    serving: Arc<Serving>,
}

#[derive(Debug)]
struct Serving {
    address: SocketAddr,
    store: Arc<Store>,
    /// Dropped with the last handle: the server stops accepting.
    _stop: oneshot::Sender<()>,
}

impl StorageApi {
    /// The address bound (port 0 resolved).
    pub fn address(&self) -> SocketAddr {
        self.serving.address
    }

    /// The API's base URL, `http://{address}/api/v3` (what a client of
    /// The Things Stack is given; the routes are under it, see [`api`]).
    pub fn url(&self) -> String {
        format!("http://{}/api/v3", self.serving.address)
    }

    /// Uplinks stored so far.
    pub fn stored(&self) -> usize {
        self.serving.store.len()
    }
}

/// The simulator's storage: the store, the API's settings, and its
/// server once bound.
#[derive(Debug)]
pub struct Storage {
    listen: String,
    store: Arc<Store>,
    api: Arc<api::Api>,
    stats: Arc<Stats>,
    serving: Option<StorageApi>,
}

impl Storage {
    /// The storage of `options` for the application and devices of
    /// `traffic`, counting on `stats`.
    pub fn new(options: &StorageOptions, traffic: &Traffic, stats: Arc<Stats>) -> Storage {
        let store = Arc::new(Store::default());
        let network = traffic.network();
        let api = api::Api::new(
            store.clone(),
            options.key.clone(),
            network.application_id.clone(),
            network.tts_tenant.clone(),
            traffic.devices().iter().map(tts::device_id),
        );
        Storage { listen: options.listen.clone(), store, api: Arc::new(api), stats, serving: None }
    }

    /// Listen on the address and serve, once: later calls give the same
    /// handle. The error names the address.
    pub async fn bind(&mut self) -> Result<StorageApi, LnsError> {
        if let Some(serving) = &self.serving {
            return Ok(serving.clone());
        }
        let failed = |e: std::io::Error| LnsError::StorageListen { address: self.listen.clone(), error: e.to_string() };
        let listener = TcpListener::bind(self.listen.as_str()).await.map_err(failed)?;
        let address = listener.local_addr().map_err(failed)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let gate = meterhub_http::Gates::unlimited().gate("lns-sim storage", meterhub_http::Limits::API, true);
        let (api, stats) = (self.api.clone(), self.stats.clone());
        let until = async move {
            let _ = stopped.await;
        };
        tokio::spawn(meterhub_http::serve(Arc::new(listener), gate, None, until, move |req, _| {
            let (api, stats) = (api.clone(), stats.clone());
            async move {
                let (response, messages) = match meterhub_http::oversized(&req) {
                    Some(refused) => (refused, 0),
                    None => {
                        let authorization = req.headers().get(hyper::header::AUTHORIZATION).map(|v| v.as_bytes());
                        let uri = req.uri();
                        api.answer(req.method(), uri.path(), uri.query(), authorization, Stamp::now()).response()
                    }
                };
                stats.storage_answered(response.status().as_u16(), messages);
                response
            }
        }));
        let serving = StorageApi { serving: Arc::new(Serving { address, store: self.store.clone(), _stop: stop }) };
        self.serving = Some(serving.clone());
        Ok(serving)
    }

    /// The API's base URL once bound.
    pub fn url(&self) -> Option<String> {
        self.serving.as_ref().map(StorageApi::url)
    }

    /// Keep the uplink of `body` (see [`Store::keep`]).
    pub fn keep(&self, body: &[u8]) -> Result<(), LnsError> {
        self.store.keep(body).map_err(|problem| LnsError::StorageBody {
            body: String::from_utf8_lossy(body).chars().take(QUOTED).collect(),
            problem,
        })?;
        self.stats.stored();
        Ok(())
    }
}

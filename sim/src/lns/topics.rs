//! Where each server publishes an event over MQTT, and how its HTTP
//! integration names the event in the request.
//!
//! | server | MQTT topic | HTTP |
//! |---|---|---|
//! | ChirpStack v4 | `application/{application_id}/device/{dev_eui}/event/{event}` (the UUID, lower-case hex) | `POST {url}?event={event}` |
//! | ChirpStack v3 | `application/{application_id}/device/{dev_eui}/event/{event}` (the number, lower-case hex) | `POST {url}?event={event}` |
//! | The Things Stack v3 | `v3/{application_id}@{tenant_id}/devices/{device_id}/{kind}` (`up`, `join`) | `POST {url}` (the body's message key says the kind) |
//!
//! Sources: ChirpStack v4's default `event_topic` and v3's
//! `event_topic_template` (`docs/lorawan.md` and lw640's README name the
//! commits), The Things Stack's `pkg/applicationserver/io/mqtt/topics/v3.go`.
//! A ChirpStack operator may change the template; `--topic-prefix` puts
//! levels before it (`{prefix}/application/...`), which meterhub still
//! reads (it matches ChirpStack topics by their last four levels).

use super::bodies::{Network, tts};
use super::devices::Device;
use super::options::Server;

/// The topic `net`'s server publishes event `event` of `device` on.
pub fn topic(net: &Network, device: &Device, event: &str) -> String {
    let prefix = net.topic_prefix.as_deref().map(|p| format!("{}/", p.trim_matches('/'))).unwrap_or_default();
    match net.server {
        Server::ChirpstackV4 | Server::ChirpstackV3 => {
            format!("{prefix}application/{}/device/{}/event/{event}", net.application_id, device.dev_eui_lower())
        }
        Server::TtsV3 => {
            format!("{prefix}v3/{}@{}/devices/{}/{event}", net.application_id, net.tts_tenant, tts::device_id(device))
        }
    }
}

/// The request target (path and query) of an event named `event`, for an
/// endpoint whose URL has `path` and `query`: ChirpStack appends
/// `event={event}` to the query; The Things Stack posts to the URL as it is.
pub fn http_target(server: Server, path: &str, query: Option<&str>, event: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    match (server, query) {
        (Server::TtsV3, None) => path.to_owned(),
        (Server::TtsV3, Some(query)) => format!("{path}?{query}"),
        (_, None | Some("")) => format!("{path}?event={event}"),
        (_, Some(query)) => format!("{path}?{query}&event={event}"),
    }
}

//! The validated configuration: every value here has been checked.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::Pos;

/// Everything the host runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from.
    pub file: PathBuf,
    /// Archive and journal directory (absolute or relative to the working directory).
    pub data_dir: PathBuf,
    /// Plugins directory.
    pub plugins_dir: PathBuf,
    /// Memory cap of one WASM plugin instance, bytes.
    pub wasm_memory_bytes: usize,
    /// Time limit of one WASM plugin call, milliseconds.
    pub wasm_call_timeout_ms: u32,
    /// Backoff and quarantine of failing plugin instances.
    pub supervision: crate::plugin::supervisor::SupervisionPolicy,
    /// The HTTP API.
    pub api: ApiConfig,
    /// Logging.
    pub log: LogConfig,
    /// Driver instances, by id order.
    pub drivers: Vec<DriverConfig>,
}

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Listen address.
    pub listen: SocketAddr,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per event.
    Json,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// tracing filter directive.
    pub level: String,
}

/// One driver instance.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverConfig {
    /// Instance id: the `source` of every frame it produces.
    pub id: String,
    /// Driver plugin id.
    pub plugin: String,
    /// Where `plugin` is written.
    pub plugin_pos: Pos,
    /// Codec plugin id.
    pub codec: String,
    /// Where the codec is named (the plugin's position when implied).
    pub codec_pos: Pos,
    /// The transport the host runs for it.
    pub transport: TransportConfig,
    /// Plugin settings as a JSON object text.
    pub settings_json: String,
    /// Where the settings are written (the instance's position when absent).
    pub settings_pos: Pos,
    /// Most frames of one session waiting for their commit.
    pub max_pending: usize,
}

/// A host-owned transport and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// TCP server; one session per connection.
    Tcp {
        /// Listen address.
        listen: SocketAddr,
    },
    /// HTTP ingress; one session per request.
    Http {
        /// Listen address.
        listen: SocketAddr,
        /// Largest body; larger requests get 413.
        max_body_bytes: u64,
        /// Longest wait for the driver's response.
        request_timeout_ms: u32,
    },
    /// WebSocket client; one session per connection, reconnecting.
    Websocket {
        /// `ws://` URL.
        url: String,
        /// Shortest reconnect delay.
        reconnect_min_ms: u32,
        /// Longest reconnect delay.
        reconnect_max_ms: u32,
    },
}

impl TransportConfig {
    /// The transport's name in configs and logs.
    pub fn name(&self) -> &'static str {
        match self {
            TransportConfig::Tcp { .. } => "tcp",
            TransportConfig::Http { .. } => "http",
            TransportConfig::Websocket { .. } => "websocket",
        }
    }

    /// The listen address, for server transports.
    pub fn listen(&self) -> Option<SocketAddr> {
        match self {
            TransportConfig::Tcp { listen } | TransportConfig::Http { listen, .. } => Some(*listen),
            TransportConfig::Websocket { .. } => None,
        }
    }
}

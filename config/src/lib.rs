//! Configuration: one strict TOML file, parsed then validated into types
//! that cannot be invalid. Every error names `file:line:col` and the cause.
//!
//! - [`raw`]: the file as written (serde, `deny_unknown_fields`, spans);
//! - [`model`]: the validated configuration the host runs on;
//! - [`load`]: read, parse, validate;
//! - [`error`]: positioned diagnostics;
//! - [`alarms`]: the alarm rules as data, and the shipped ones;
//! - [`backoff`]: the retry delays the configuration sets (and everything
//!   that retries uses).
//!
//! The host re-exports this crate as `meterhub::config` (and `backoff` as
//! `meterhub::backoff`).

pub mod alarms;
pub mod backoff;
pub mod error;
pub mod load;
pub mod model;
pub mod raw;
pub mod reports;

pub use error::{ConfigError, Diagnostic, Pos};
pub use load::load;
pub use model::{
    AccountingConfig, ApiConfig, CenterConfig, CenterLink, CenterSite, Config, DeviceMatch, DeviceRoute, DriverConfig,
    FetchConfig, LogConfig, LogFormat, MANUAL_SOURCE, MqttTransport, PasswordSource, PluginSink, PostgresTarget,
    SYNC_CENTER, SinkConfig, SinkKind, SupervisionPolicy, TransportConfig, UpstreamChannel, WebConfig,
};

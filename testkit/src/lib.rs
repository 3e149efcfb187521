//! The test kit of meterhub's end-to-end tests (`tests/e2e`) and benches
//! (`host/benches`): one copy of what starts the real `meterhub` binary and
//! talks to it as devices, browsers and operators do.
//!
//! - [`wait`]: polling a condition until a deadline (never a sleep for timing);
//! - [`paths`]: the workspace, the binary under test, the built plugins;
//! - [`host`]: a running `meterhub` on its own directory ([`Host`]);
//! - [`http`]: blocking HTTP/1.1 requests, the API as the local admin or as
//!   a browser with a session;
//! - [`line`]: a device on the listener's TCP line protocol;
//! - [`sse`]: a blocking Server-Sent Events client;
//! - [`port`]: fixed ports no one else takes while a host starts;
//! - [`proxy`]: a TCP proxy that cuts, stalls and resets connections;
//! - [`tls`]: a test CA and a server certificate for 127.0.0.1;
//! - [`bench`]: bench options, percentiles and CPU time;
//! - [`feeder`]: the benches' device load on the listener's TCP line
//!   protocol, paced (readings/s, acks timed) or pipelined.

pub mod alloc;
pub mod bench;
pub mod browser;
pub mod feeder;
pub mod host;
pub mod http;
pub mod line;
pub mod paths;
pub mod port;
pub mod postgres;
pub mod proxy;
pub mod sse;
pub mod tls;
pub mod wait;

pub use host::{APPLY_DEADLINE, Host, START_DEADLINE, default_config, host_tables, shared_compiled_plugins_line};
pub use http::{
    Response, Session, add_user, browser, get_json, http, local_token, login, login_ok, origin, request, request_json,
    request_json_as,
};
pub use line::{LineClient, reading};
pub use paths::{binary, copy_plugin, plugins_dir, test_plugins_dir, workspace};
pub use port::free_port;
pub use proxy::Proxy;
pub use sse::{Event, Sse};
pub use wait::{poll, wait_for};

/// Milliseconds since the Unix epoch, from the host clock.
pub use meterhub_storage::clock::now_ms;

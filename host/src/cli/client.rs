//! Talking to a running host from the command line: find it through its
//! `run.json`, and make one HTTP request to its API with the host's local
//! admin token (`<data_dir>/local-admin.token`, readable only by who runs
//! the host).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Mutex;

use crate::app::{self, RunInfo};
use crate::config::Config;

/// The local admin tokens of the hosts [`running_host`] found, by API
/// address: [`request`] sends the one of the host it talks to.
static TOKENS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The running host of `config`, if its process is alive. Its local admin
/// token is read too, for [`request`].
pub fn running_host(config: &Config) -> Option<RunInfo> {
    let text = std::fs::read(app::run_file(config)).ok()?;
    let info: RunInfo = serde_json::from_slice(&text).ok()?;
    let pid = libc::pid_t::try_from(info.pid).ok()?;
    // Signal 0 only checks that the process exists.
    #[allow(unsafe_code, reason = "kill(pid, 0) has no effect beyond the existence check")]
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    if alive && let Some(token) = crate::auth::local_token::read(&config.data_dir) {
        TOKENS.lock().unwrap_or_else(|e| e.into_inner()).insert(info.api.clone(), token);
    }
    alive.then_some(info)
}

/// A path segment or query value, percent-encoded.
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One request to the API at `api`; the status code and the body.
pub fn request(api: &str, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let authorization = TOKENS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(api)
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(api).map_err(|e| format!("cannot reach the host at {api}: {e}"))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| format!("request to {api} failed: {e}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("response from {api} unreadable: {e}"))?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("{api} did not answer HTTP"))?;
    Ok((status, body.to_owned()))
}

//! Blocking HTTP/1.1 for tests: one request per connection
//! (`Connection: close`), as the local admin (the token of a host the kit
//! started), with exactly the headers given, or as a browser with a session.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::host::Host;

/// Longest wait for one HTTP answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The local admin token of each running host, by API address: [`http`]
/// sends it, so tests act as the built-in admin unless they ask otherwise
/// ([`request`]).
static TOKENS: Mutex<BTreeMap<SocketAddr, String>> = Mutex::new(BTreeMap::new());

/// Remember `token` as the local admin token of the API at `api`.
pub(crate) fn remember_token(api: SocketAddr, token: &str) {
    TOKENS.lock().unwrap_or_else(|e| e.into_inner()).insert(api, token.to_owned());
}

/// The local admin token of the host whose API is at `addr`.
pub fn local_token(addr: SocketAddr) -> String {
    TOKENS.lock().unwrap_or_else(|e| e.into_inner()).get(&addr).cloned().expect("a host started by the test kit")
}

/// One HTTP/1.1 request; returns status and body. A host's API started by
/// the kit gets its local admin token.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let token = TOKENS.lock().unwrap_or_else(|e| e.into_inner()).get(&addr).cloned();
    let authorization = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
    let response = request(addr, method, path, &headers, body);
    (response.status, response.body)
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request with exactly `headers` (no token added).
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).expect("timeout");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut body = response[split + 4..].to_vec();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// `method` of `path` at `addr` without a body; the answer must be 200 with
/// JSON.
pub fn request_json(addr: SocketAddr, method: &str, path: &str) -> Value {
    request_json_as(addr, method, path, None)
}

/// [`request_json`] with `Authorization: Bearer <token>` when given.
pub fn request_json_as(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Value {
    let authorization = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
    let r = request(addr, method, path, &headers, b"");
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, 200, "{method} {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method} {path} is not JSON ({e}): {body}"))
}

/// GET `path` at `addr` as JSON (200 only).
pub fn get_json(addr: SocketAddr, path: &str) -> Value {
    request_json(addr, "GET", path)
}

/// A browser's session: the cookie and the CSRF token from the login.
pub struct Session {
    /// `name=value` of the session cookie.
    pub cookie: String,
    /// The CSRF token.
    pub csrf: String,
}

/// The Origin a browser on the host's API sends.
pub fn origin(api: SocketAddr) -> String {
    format!("http://{api}")
}

/// `POST /api/v1/login` as a browser.
pub fn login(api: SocketAddr, user: &str, password: &str) -> Response {
    let body = json!({ "user": user, "password": password }).to_string();
    request(api, "POST", "/api/v1/login", &[("Origin", &origin(api))], body.as_bytes())
}

/// A browser's login that must succeed.
pub fn login_ok(api: SocketAddr, user: &str, password: &str) -> Session {
    let r = login(api, user, password);
    assert_eq!(r.status, 200, "login {user}: {}", r.json());
    let set_cookie = r.header("set-cookie").expect("a Set-Cookie header");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    Session { cookie, csrf: r.json()["csrf"].as_str().expect("a csrf token").to_owned() }
}

/// A request as a browser with `session` makes it: the cookie, the host's
/// Origin, and the CSRF token when `csrf`.
pub fn browser(api: SocketAddr, session: &Session, method: &str, path: &str, csrf: bool, body: &str) -> Response {
    let origin = origin(api);
    let mut headers = vec![("Cookie", session.cookie.as_str()), ("Origin", origin.as_str())];
    if csrf {
        headers.push(("X-CSRF-Token", session.csrf.as_str()));
    }
    request(api, method, path, &headers, body.as_bytes())
}

/// `meterhub user add ARGS --password-stdin` through the running host.
pub fn add_user(host: &Host, args: &[&str], password: &str) {
    let mut all = vec!["user", "add"];
    all.extend_from_slice(args);
    all.push("--password-stdin");
    let out = host.cli_with_stdin(&all, &format!("{password}\n"));
    assert!(out.status.success(), "user add {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

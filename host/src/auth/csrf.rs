//! Cross-site request checks: the `X-CSRF-Token` header of state-changing
//! requests made with a session cookie, and the `Origin` header (the host's
//! own origin only) for those and for stream / WebSocket handshakes.

use hyper::header::{HOST, ORIGIN};
use hyper::{HeaderMap, Method, Request};

use super::principal::{Credential, Principal};
use super::token;

/// The header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether `method` changes state (and so needs the CSRF token).
pub fn changes_state(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

/// Whether the request's `Origin`, when present, is the host's own
/// (`http://<Host>` or `https://<Host>`). For the stream and WebSocket
/// handshakes, which browsers make cross-site without asking.
pub fn origin_allowed<B>(req: &Request<B>) -> bool {
    origin_matches_host(req.headers())
}

/// [`origin_allowed`] on headers.
pub fn origin_matches_host(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let (Ok(origin), Some(host)) = (origin.to_str(), headers.get(HOST).and_then(|h| h.to_str().ok())) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Refuses a cross-site state change: a cookie-authenticated POST, PUT,
/// PATCH or DELETE needs the session's CSRF token in `X-CSRF-Token`, and any
/// request its `Origin` (when present) to be the host's own. The error is the
/// message for a 403.
pub fn check(method: &Method, headers: &HeaderMap, principal: &Principal) -> Result<(), String> {
    if !origin_matches_host(headers) {
        let origin = headers.get(ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or("?");
        return Err(format!("cross-origin request refused: Origin {origin} is not this host"));
    }
    let Credential::Session { csrf, .. } = &principal.credential else { return Ok(()) };
    if !changes_state(method) {
        return Ok(());
    }
    match headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        Some(sent) if token::same(sent, csrf) => Ok(()),
        Some(_) => Err("the X-CSRF-Token header does not match this session (log in again)".to_owned()),
        None => Err(format!(
            "{method} needs the X-CSRF-Token header: the csrf value from POST /api/v1/login or GET /api/v1/session"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn session_user() -> Principal {
        Principal {
            user: "ann".into(),
            role: Role::Operator,
            grants: vec![],
            credential: Credential::Session { id: "id".into(), csrf: "secret-csrf".into() },
        }
    }

    #[test]
    fn cookie_requests_that_change_state_need_the_csrf_token() {
        let ann = session_user();
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(check(&Method::GET, &headers(&[host]), &ann), Ok(()));
        let missing = check(&Method::PATCH, &headers(&[host]), &ann).unwrap_err();
        assert!(missing.starts_with("PATCH needs the X-CSRF-Token header"), "{missing}");
        let wrong = check(&Method::POST, &headers(&[host, ("x-csrf-token", "guess")]), &ann).unwrap_err();
        assert!(wrong.contains("does not match"), "{wrong}");
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(check(&method, &headers(&[host, ("x-csrf-token", "secret-csrf")]), &ann), Ok(()));
        }
        // The local admin token is not ambient: no CSRF token needed.
        assert_eq!(check(&Method::DELETE, &headers(&[host]), &Principal::local_admin()), Ok(()));
    }

    #[test]
    fn only_the_hosts_own_origin_passes() {
        let ann = session_user();
        let ok = [("host", "127.0.0.1:8080"), ("x-csrf-token", "secret-csrf")];
        for origin in ["http://127.0.0.1:8080", "https://127.0.0.1:8080"] {
            let mut h = headers(&ok);
            h.insert(ORIGIN, origin.parse().unwrap());
            assert_eq!(check(&Method::POST, &h, &ann), Ok(()), "{origin}");
            assert!(origin_matches_host(&h));
        }
        for origin in ["http://evil.example", "http://127.0.0.1:8081", "null", "127.0.0.1:8080"] {
            let mut h = headers(&ok);
            h.insert(ORIGIN, origin.parse().unwrap());
            let e = check(&Method::GET, &h, &Principal::local_admin()).unwrap_err();
            assert!(e.starts_with("cross-origin request refused"), "{origin}: {e}");
            assert!(!origin_matches_host(&h), "{origin}");
        }
        let mut no_host = HeaderMap::new();
        no_host.insert(ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(!origin_matches_host(&no_host));
        assert!(
            origin_allowed(&Request::builder().header("host", "h:1").body(()).unwrap()),
            "no Origin: not a browser"
        );
    }
}

//! Security headers on every response of the API server.

use hyper::header::{HeaderName, HeaderValue};

use meterhub_http::HttpResponse;

/// The Content-Security-Policy: this host's own scripts, styles and
/// connections only; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Adds the security headers to `response`; `Strict-Transport-Security`
/// only when cookies are `Secure` (the host is reached over HTTPS).
pub fn add(response: &mut HttpResponse, hsts: bool) {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    };
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "no-referrer");
    set("content-security-policy", CONTENT_SECURITY_POLICY);
    set("cache-control", "no-store");
    if hsts {
        set("strict-transport-security", "max-age=31536000");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_set_and_hsts_only_when_secure() {
        let mut r = meterhub_http::error(hyper::StatusCode::NOT_FOUND, "x");
        add(&mut r, false);
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert!(!r.headers().contains_key("strict-transport-security"));
        add(&mut r, true);
        assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    }
}

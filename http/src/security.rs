//! The security headers every answer of the house carries, kept in this one
//! list: the API sets them on its answers (`host/src/auth/headers.rs`), the
//! accept loop fills them into every other handler's answer, and
//! [`crate::parser_answers`] writes them into the answers hyper's parser
//! makes on its own.

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};

/// The Content-Security-Policy: this host's own scripts, styles and
/// connections only; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The headers on every answer, lower-case name and value.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("cache-control", "no-store"),
];

/// `Strict-Transport-Security`, on the answers of a host reached over HTTPS
/// (its cookies are `Secure`).
pub const STRICT_TRANSPORT_SECURITY: (&str, &str) = ("strict-transport-security", "max-age=31536000");

/// The headers an answer carries: [`SECURITY_HEADERS`], and
/// [`STRICT_TRANSPORT_SECURITY`] when `hsts`.
pub fn security_headers(hsts: bool) -> impl Iterator<Item = (&'static str, &'static str)> {
    SECURITY_HEADERS.into_iter().chain(hsts.then_some(STRICT_TRANSPORT_SECURITY))
}

/// Sets the security headers on `headers`, replacing what was there.
pub fn set(headers: &mut HeaderMap, hsts: bool) {
    for (name, value) in security_headers(hsts) {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
}

/// Sets each security header `headers` does not have yet; those a handler
/// set stay as they are.
pub fn fill(headers: &mut HeaderMap, hsts: bool) {
    for (name, value) in security_headers(hsts) {
        headers.entry(HeaderName::from_static(name)).or_insert(HeaderValue::from_static(value));
    }
}

/// The security headers as the lines of an HTTP/1 head, each
/// `name: value\r\n`.
pub fn head_lines(hsts: bool) -> Vec<u8> {
    let mut lines = Vec::new();
    for (name, value) in security_headers(hsts) {
        lines.extend_from_slice(name.as_bytes());
        lines.extend_from_slice(b": ");
        lines.extend_from_slice(value.as_bytes());
        lines.extend_from_slice(b"\r\n");
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_fill_keeps_and_hsts_only_when_asked() {
        let mut headers = HeaderMap::new();
        headers.insert("cache-control", HeaderValue::from_static("max-age=60"));
        fill(&mut headers, false);
        assert_eq!(headers["cache-control"], "max-age=60");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(!headers.contains_key("strict-transport-security"));
        set(&mut headers, true);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["strict-transport-security"], "max-age=31536000");
        assert_eq!(headers.len(), 6);
    }

    #[test]
    fn head_lines_are_the_same_list() {
        let lines = String::from_utf8(head_lines(true)).expect("ASCII");
        let expected: String = security_headers(true).map(|(name, value)| format!("{name}: {value}\r\n")).collect();
        assert_eq!(lines, expected);
        assert_eq!(lines.lines().count(), 6);
        assert!(lines.contains("content-security-policy: default-src 'self';"));
    }
}

//! Security headers on every response of the API server: the one list in
//! [`meterhub_http::security`], which the accept loop also writes into the
//! answers hyper's parser makes on its own.

use meterhub_http::HttpResponse;

/// Sets the security headers on `response`; `Strict-Transport-Security`
/// only when cookies are `Secure` (the host is reached over HTTPS).
pub fn add(response: &mut HttpResponse, hsts: bool) {
    meterhub_http::security::set(response.headers_mut(), hsts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use meterhub_http::security::CONTENT_SECURITY_POLICY;

    #[test]
    fn every_header_is_set_and_hsts_only_when_secure() {
        let mut r = meterhub_http::error(hyper::StatusCode::NOT_FOUND, "x");
        add(&mut r, false);
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["content-security-policy"], CONTENT_SECURITY_POLICY);
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(!r.headers().contains_key("strict-transport-security"));
        add(&mut r, true);
        assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    }
}

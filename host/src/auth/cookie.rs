//! The session cookie: `__Host-meterhub_session` with `Secure; HttpOnly;
//! SameSite=Strict; Path=/`, or, with `[web] cookie_secure = false` (plain
//! HTTP on a LAN), `meterhub_session` without `Secure` (the `__Host-` prefix
//! requires it).

use hyper::HeaderMap;
use hyper::header::COOKIE;

/// How the session cookie is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `Secure` and the `__Host-` prefix.
    pub secure: bool,
    /// `Max-Age`, seconds (the absolute session lifetime).
    pub max_age_s: i64,
}

impl CookiePolicy {
    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure { "__Host-meterhub_session" } else { "meterhub_session" }
    }

    /// `Set-Cookie` for a new session with `token`.
    pub fn set(&self, token: &str) -> String {
        self.with_attributes(token, self.max_age_s)
    }

    /// `Set-Cookie` that removes the cookie.
    pub fn clear(&self) -> String {
        self.with_attributes("", 0)
    }

    fn with_attributes(&self, value: &str, max_age_s: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{}={value}; Max-Age={max_age_s}; Path=/; HttpOnly; SameSite=Strict{secure}", self.name())
    }

    /// The session token in the request's `Cookie` headers, if any.
    pub fn token(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.name();
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_host_prefixed_secure_httponly_strict() {
        let policy = CookiePolicy { secure: true, max_age_s: 604_800 };
        assert_eq!(
            policy.set("tok"),
            "__Host-meterhub_session=tok; Max-Age=604800; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(policy.clear(), "__Host-meterhub_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict; Secure");
        let lan = CookiePolicy { secure: false, max_age_s: 60 };
        assert_eq!(lan.set("tok"), "meterhub_session=tok; Max-Age=60; Path=/; HttpOnly; SameSite=Strict");

        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "theme=dark; __Host-meterhub_session=abc".parse().unwrap());
        assert_eq!(policy.token(&headers).as_deref(), Some("abc"));
        assert_eq!(lan.token(&headers), None, "the other name");
        headers.clear();
        headers.append(COOKIE, "__Host-meterhub_session=".parse().unwrap());
        assert_eq!(policy.token(&headers), None);
    }
}

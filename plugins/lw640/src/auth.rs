//! Request authentication: the configured header must be there once and
//! hold exactly the configured token, compared in constant time. A refusal
//! names the header, never the token.

use crate::error::Refusal;
use crate::settings::Auth;

/// Check `headers` (names lower-case, as the host gives them) against
/// `auth`.
pub fn check(auth: &Auth, headers: &[(String, String)]) -> Result<(), Refusal> {
    let (header, token) = match auth {
        Auth::Token { header, token } => (header, token),
        Auth::None => return Ok(()),
        Auth::Unset { header } => return Err(Refusal::AuthUnset { header: header.clone() }),
    };
    let mut values = headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case(header)).map(|(_, v)| v);
    let value = match (values.next(), values.clone().count()) {
        (None, _) => return Err(Refusal::AuthMissing { header: header.clone() }),
        (Some(value), 0) => value,
        (Some(_), more) => return Err(Refusal::AuthRepeated { header: header.clone(), count: more + 1 }),
    };
    match constant_time_eq(token.bytes(), value.as_bytes()) {
        true => Ok(()),
        false => Err(Refusal::AuthWrong { header: header.clone() }),
    }
}

/// Whether `given` equals `expected`, in a time that depends only on
/// `expected`'s length: every byte of it is compared, whatever differs.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Lw640Settings;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_header_must_hold_the_token_exactly_once() {
        let auth = Lw640Settings::parse(r#"{"auth_header": "X-Api-Key", "auth_token": "s3cret"}"#).unwrap().auth;
        assert_eq!(check(&auth, &headers(&[("x-api-key", "s3cret")])), Ok(()));
        for wrong in ["s3cre", "s3cret!", "S3cret", "", "s3cret\0"] {
            let e = check(&auth, &headers(&[("x-api-key", wrong)])).unwrap_err();
            assert_eq!(e.to_string(), "header X-Api-Key: not the expected value");
        }
        let e = check(&auth, &headers(&[("authorization", "s3cret")])).unwrap_err();
        assert_eq!(e.to_string(), "header X-Api-Key: missing; the driver expects the configured token in it");
        let e = check(&auth, &headers(&[("x-api-key", "s3cret"), ("x-api-key", "s3cret")])).unwrap_err();
        assert_eq!(e.to_string(), "header X-Api-Key: given 2 times; send it once");
        assert_eq!(check(&Auth::None, &[]), Ok(()));
        let e =
            check(&Auth::Unset { header: "Authorization".into() }, &headers(&[("authorization", "x")])).unwrap_err();
        assert!(e.to_string().contains("settings.auth_token is not set"), "{e}");
        assert_eq!(e.status(), 401);
    }

    #[test]
    fn constant_time_comparison_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab") && !constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}

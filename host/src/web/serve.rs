//! [`asset`]: the answer to `GET /` and `GET /ui/...` (HEAD too: hyper
//! leaves the body out).

use hyper::StatusCode;

use super::files;
use meterhub_http::{self, HttpResponse};

/// The UI file at request path `path` with its `Content-Type`, or a 404
/// naming the path. (The router adds the security headers afterwards,
/// among them `Cache-Control: no-store`: the files are small, and a new
/// binary's UI is never mixed with a cached old one.)
pub fn asset(path: &str) -> HttpResponse {
    match files::find(path) {
        Some(file) => meterhub_http::response(StatusCode::OK, file.content_type, file.body),
        None if path.starts_with("/ui/vendor/") => meterhub_http::error(
            StatusCode::NOT_FOUND,
            &format!("no UI file at {path}: the charting library was not built (run scripts/build-ui)"),
        ),
        None => meterhub_http::error(StatusCode::NOT_FOUND, &format!("no UI file at {path}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_come_with_their_content_type_and_unknown_paths_are_404() {
        let index = asset("/");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
        let missing = asset("/ui/nothing.css");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let vendor = asset("/ui/vendor/not-there.js");
        assert_eq!(vendor.status(), StatusCode::NOT_FOUND);
    }
}

//! The dispatcher UI's files, served by the host (`GET /`, `GET /ui/...`).

use hyper::StatusCode;

use crate::http_server::{self, HttpResponse};

/// The file at request path `path`.
pub fn asset(path: &str) -> HttpResponse {
    http_server::error(StatusCode::NOT_FOUND, &format!("no UI file at {path}"))
}

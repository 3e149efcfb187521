//! One HTTP request, from its method to the frame to commit: method,
//! authentication, the server's reader, then [`frame::build`]. Either a
//! frame whose payload is exactly the request body, or a [`Refusal`].

use meterhub_plugin_api::HttpRequest;

use crate::auth;
use crate::error::{Refusal, snippet};
use crate::frame::{self, Accepted};
use crate::repeats::Repeats;
use crate::servers::detect::{self, Incoming};
use crate::settings::Lw640Settings;

/// Take `request` arriving at host time `now_ms`, or refuse it.
pub fn accept(
    settings: &Lw640Settings,
    repeats: &mut Repeats,
    now_ms: i64,
    request: &HttpRequest,
) -> Result<Accepted, Refusal> {
    if request.method != "POST" {
        return Err(Refusal::Method { method: snippet(&request.method) });
    }
    auth::check(&settings.auth, &request.headers)?;
    let content_type = request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v);
    let incoming =
        Incoming { target: &request.target, content_type: content_type.map(String::as_str), body: &request.body };
    let envelope = detect::read(settings.server, incoming)?;
    Ok(frame::build(&envelope, &request.body, repeats, now_ms, Vec::new()))
}

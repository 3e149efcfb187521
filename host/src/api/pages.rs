//! Personal pages (`docs/api.md`, "Personal pages"; `crate::pages`):
//!
//! - `GET /api/v1/page`: the user's start page: their own, else the one an
//!   admin published to their role, else the built-in one (`origin`);
//! - `PUT /api/v1/page` `{"widgets": [...]}`: kept as the user's own;
//! - `DELETE /api/v1/page`: their own forgotten (back to the role's);
//! - `GET`, `PUT`, `DELETE /api/v1/pages/roles/{role}` (admins): a role's
//!   published page.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use super::state::ApiState;
use crate::auth::{Principal, Role};
use crate::forms::{PageOwner, SavedPage};
use crate::pages::Page;
use meterhub_http::HttpResponse;

/// The endpoints of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagesEndpoint {
    /// `GET /api/v1/page`.
    Mine,
    /// `PUT /api/v1/page`.
    Save,
    /// `DELETE /api/v1/page`.
    Reset,
    /// `GET /api/v1/pages/roles/{role}`.
    Role,
    /// `PUT /api/v1/pages/roles/{role}`.
    Publish,
    /// `DELETE /api/v1/pages/roles/{role}`.
    Unpublish,
}

fn failed(e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "forms database (pages)");
    meterhub_http::coded_error(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", &e.to_string())
}

/// Serve `endpoint` for `principal`; `segments` are the path's.
pub async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    endpoint: PagesEndpoint,
    segments: &[&str],
    principal: Principal,
) -> HttpResponse {
    let store = &state.forms.store;
    let role = match endpoint {
        PagesEndpoint::Role | PagesEndpoint::Publish | PagesEndpoint::Unpublish => {
            match Role::parse(segments.get(4).copied().unwrap_or_default()) {
                Ok(role) => Some(role),
                Err(e) => return meterhub_http::coded_error(StatusCode::NOT_FOUND, "no_role", &e),
            }
        }
        _ => None,
    };
    let owner = match role {
        Some(role) => PageOwner::Role(role.as_str()),
        None => PageOwner::User(&principal.user),
    };
    let written = match endpoint {
        PagesEndpoint::Mine | PagesEndpoint::Role => Ok(()),
        PagesEndpoint::Reset | PagesEndpoint::Unpublish => tokio::task::block_in_place(|| store.set_page(owner, None)),
        PagesEndpoint::Save | PagesEndpoint::Publish => {
            let body = match meterhub_http::api_body(req).await {
                Ok(bytes) => bytes,
                Err(response) => return response,
            };
            let page = match Page::parse(&body) {
                Ok(page) => page,
                Err(e) => return meterhub_http::coded_error(StatusCode::BAD_REQUEST, "bad_page", &e),
            };
            let saved =
                SavedPage { page, saved_at_ms: meterhub_storage::clock::now_ms(), saved_by: principal.user.clone() };
            if let Some(role) = role {
                tracing::info!(%role, by = %principal.user, widgets = saved.page.widgets.len(), "page published to a role");
            }
            tokio::task::block_in_place(|| store.set_page(owner, Some(&saved)))
        }
    };
    if let Err(e) = written {
        return failed(&e);
    }
    let answer = tokio::task::block_in_place(|| match role {
        Some(role) => store.page(PageOwner::Role(role.as_str())).map(|saved| json!({ "role": role, "saved": saved })),
        None => start_page(store, &principal),
    });
    answer.map_or_else(|e| failed(&e), |answer| meterhub_http::json(StatusCode::OK, &answer))
}

/// The user's start page and where it comes from.
fn start_page(
    store: &crate::forms::FormStore,
    principal: &Principal,
) -> Result<serde_json::Value, crate::forms::FormError> {
    let (origin, saved) = match store.page(PageOwner::User(&principal.user))? {
        Some(saved) => ("user", Some(saved)),
        None => match store.page(PageOwner::Role(principal.role.as_str()))? {
            Some(saved) => ("role", Some(saved)),
            None => ("built-in", None),
        },
    };
    let page = saved.as_ref().map_or_else(Page::built_in, |s| s.page.clone());
    Ok(json!({
        "page": page,
        "origin": origin,
        "role": principal.role,
        "saved_at_ms": saved.as_ref().map(|s| s.saved_at_ms),
        "saved_by": saved.as_ref().map(|s| &s.saved_by),
    }))
}

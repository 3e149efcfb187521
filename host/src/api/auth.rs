//! `/api/v1/login`, `/logout`, `/session`, `/users`, `/audit`: sessions and
//! user administration over [`crate::auth::Auth`]. Who may call them is
//! decided before, in `routes` (the one access check); the slow and the
//! disk-bound work runs on a blocking thread.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, RETRY_AFTER, SET_COOKIE};
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::state::ApiState;
use super::table::AuthEndpoint;
use crate::auth::{Actor, Auth, AuthError, Credential, Language, LoginError, Principal, Refusal, Role};
use meterhub_http::{self, HttpResponse};

/// Most audit entries one request returns.
const MAX_AUDIT_LIMIT: usize = 10_000;

/// The answer to a refused access check: 401 (with `first_run`), 403 or 500.
pub fn refusal(refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::LogIn { message, first_run } => meterhub_http::json(
            StatusCode::UNAUTHORIZED,
            &json!({ "ok": false, "error": message, "first_run": first_run }),
        ),
        Refusal::Forbidden(message) => meterhub_http::error(StatusCode::FORBIDDEN, &message),
        Refusal::Failed(message) => {
            tracing::error!(error = %message, "the access check failed");
            meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &message)
        }
    }
}

fn failed(e: &AuthError) -> HttpResponse {
    let status = match e {
        AuthError::UnknownUser(_) => StatusCode::NOT_FOUND,
        AuthError::UserExists(_) => StatusCode::CONFLICT,
        AuthError::Invalid(_) => StatusCode::BAD_REQUEST,
        AuthError::Open { .. } | AuthError::Storage { .. } | AuthError::Corrupt(_) => {
            tracing::error!(error = %e, "user database failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    meterhub_http::error(status, &e.to_string())
}

/// Runs `f` on a blocking thread (argon2, fsync).
async fn blocking<T: Send + 'static>(
    auth: &Arc<Auth>,
    f: impl FnOnce(&Auth) -> T + Send + 'static,
) -> Result<T, HttpResponse> {
    let auth = auth.clone();
    tokio::task::spawn_blocking(move || f(&auth))
        .await
        .map_err(|e| meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the task failed: {e}")))
}

/// A JSON body of type `T`, or a 400 saying what was expected.
async fn body<T: serde::de::DeserializeOwned>(req: Request<Incoming>, expected: &str) -> Result<T, HttpResponse> {
    let bytes = meterhub_http::api_body(req).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| meterhub_http::error(StatusCode::BAD_REQUEST, &format!("expected {expected}: {e}")))
}

fn user_result(result: Result<crate::auth::UserView, AuthError>, ok: StatusCode) -> HttpResponse {
    match result {
        Ok(view) => meterhub_http::json(ok, &view),
        Err(e) => failed(&e),
    }
}

/// Serves the session and user endpoints; `principal` is who the access
/// check let through (`None` only for the open login).
pub async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    endpoint: AuthEndpoint,
    segments: &[&str],
    params: &HashMap<String, String>,
    principal: Option<Principal>,
    peer: SocketAddr,
) -> HttpResponse {
    let principal = match (endpoint, principal) {
        (AuthEndpoint::Login, _) => return login(state, req, peer).await,
        (_, Some(principal)) => principal,
        (_, None) => {
            return refusal(Refusal::LogIn { message: "log in first (POST /api/v1/login)".into(), first_run: false });
        }
    };
    let client = state.auth.client_address(peer.ip(), req.headers());
    let actor = Actor { name: principal.user.clone(), address: Some(client.to_string()) };
    let auth = &state.auth;
    let name = |raw: &str| meterhub_http::query::percent_decode(raw);
    let bad_name = || meterhub_http::error(StatusCode::BAD_REQUEST, "user name is not valid percent-encoding");
    // The name in `/api/v1/users/<name>...`.
    let raw = segments.get(3).copied().unwrap_or_default();
    let answer = match endpoint {
        AuthEndpoint::Logout => {
            let address = actor.address.clone();
            let p = principal.clone();
            let done = blocking(auth, move |auth| auth.logout(&p, address)).await;
            match done {
                Ok(Ok(())) => {
                    let mut r = meterhub_http::json(StatusCode::OK, &json!({ "ok": true }));
                    if let Ok(v) = HeaderValue::from_str(&auth.settings().cookie.clear()) {
                        r.headers_mut().insert(SET_COOKIE, v);
                    }
                    Ok(r)
                }
                Ok(Err(e)) => Ok(failed(&e)),
                Err(r) => Ok(r),
            }
        }
        AuthEndpoint::Session => Ok(session(&principal, auth.language(&principal))),
        AuthEndpoint::SessionPatch => match body::<SessionPatch>(req, SESSION_PATCH).await {
            Ok(patch) => {
                blocking(auth, move |auth| {
                    let language = auth.set_language(&principal, patch.language);
                    session(&principal, language)
                })
                .await
            }
            Err(r) => Ok(r),
        },
        AuthEndpoint::Users => {
            blocking(auth, |auth| match auth.users() {
                Ok(users) => meterhub_http::json(StatusCode::OK, &users),
                Err(e) => failed(&e),
            })
            .await
        }
        AuthEndpoint::UserAdd => match body::<NewUser>(req, NEW_USER).await {
            Ok(new) => {
                blocking(auth, move |auth| {
                    user_result(
                        auth.add_user(&actor, &new.name, new.role, &new.password, &new.grants),
                        StatusCode::CREATED,
                    )
                })
                .await
            }
            Err(r) => Ok(r),
        },
        AuthEndpoint::UserPatch => match (name(raw), body::<UserPatch>(req, USER_PATCH).await) {
            (Some(name), Ok(patch)) => {
                blocking(auth, move |auth| user_result(patch.apply(auth, &actor, &name), StatusCode::OK)).await
            }
            (None, _) => Ok(bad_name()),
            (_, Err(r)) => Ok(r),
        },
        AuthEndpoint::UserRemove => match name(raw) {
            Some(name) => {
                blocking(auth, move |auth| match auth.remove_user(&actor, &name) {
                    Ok(()) => meterhub_http::json(StatusCode::OK, &json!({ "ok": true, "removed": name })),
                    Err(e) => failed(&e),
                })
                .await
            }
            None => Ok(bad_name()),
        },
        AuthEndpoint::GrantAdd => {
            match (name(raw), body::<GrantBody>(req, "{\"pattern\": \"resource/site/module/meter\"}").await) {
                (Some(name), Ok(grant)) => {
                    blocking(auth, move |auth| user_result(auth.grant(&actor, &name, &grant.pattern), StatusCode::OK))
                        .await
                }
                (None, _) => Ok(bad_name()),
                (_, Err(r)) => Ok(r),
            }
        }
        AuthEndpoint::GrantRemove => match (name(raw), params.get("pattern")) {
            (Some(name), Some(pattern)) => {
                let pattern = pattern.clone();
                blocking(auth, move |auth| user_result(auth.revoke(&actor, &name, &pattern), StatusCode::OK)).await
            }
            (None, _) => Ok(bad_name()),
            (_, None) => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "query parameter pattern is required")),
        },
        AuthEndpoint::Audit => match audit_query(params) {
            Ok((limit, before)) => {
                blocking(auth, move |auth| match auth.audit_log(limit, before) {
                    Ok(entries) => {
                        let entries: Vec<_> = entries
                            .into_iter()
                            .map(|e| {
                                let mut v = serde_json::to_value(&e).unwrap_or_default();
                                v["at"] = json!(meterhub_plugin_api::time::format_rfc3339_ms(e.at_ms));
                                v
                            })
                            .collect();
                        meterhub_http::json(StatusCode::OK, &entries)
                    }
                    Err(e) => failed(&e),
                })
                .await
            }
            Err(e) => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, &e)),
        },
        // Answered above, before anyone is asked to log in.
        AuthEndpoint::Login => return login(state, req, peer).await,
    };
    answer.unwrap_or_else(|r| r)
}

const NEW_USER: &str =
    "{\"name\": .., \"role\": \"admin|operator|dispatcher|viewer\", \"password\": .., \"grants\": [..]}";
const USER_PATCH: &str = "{\"role\": .., \"password\": .., \"disabled\": true|false} (any of them)";

/// `POST /api/v1/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: Role,
    password: String,
    #[serde(default)]
    grants: Vec<String>,
}

/// `PATCH /api/v1/users/{name}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

impl UserPatch {
    fn apply(self, auth: &Auth, actor: &Actor, name: &str) -> Result<crate::auth::UserView, AuthError> {
        if self.role.is_none() && self.password.is_none() && self.disabled.is_none() {
            return Err(AuthError::Invalid(format!("nothing to change: expected {USER_PATCH}")));
        }
        // The password first: it is the one that can be refused for its value.
        if let Some(password) = &self.password {
            auth.set_password(actor, name, password)?;
        }
        if let Some(role) = self.role {
            auth.set_role(actor, name, role)?;
        }
        if let Some(disabled) = self.disabled {
            auth.set_disabled(actor, name, disabled)?;
        }
        auth.user(name)
    }
}

const SESSION_PATCH: &str = "{\"language\": \"ru|en\"}";

/// `PATCH /api/v1/session`: the logged-in user's own preferences.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionPatch {
    language: Language,
}

/// `POST /api/v1/users/{name}/grants`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    pattern: String,
}

/// `POST /api/v1/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
    password: String,
}

async fn login(state: &ApiState, req: Request<Incoming>, peer: SocketAddr) -> HttpResponse {
    let client = state.auth.client_address(peer.ip(), req.headers());
    let credentials = match body::<LoginBody>(req, "{\"user\": .., \"password\": ..}").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let cookie = state.auth.settings().cookie;
    let result = blocking(&state.auth, move |auth| {
        auth.login(&credentials.user, &credentials.password, client).and_then(|logged_in| {
            let language = auth.language(&logged_in.principal)?;
            Ok((logged_in, language))
        })
    })
    .await;
    match result {
        Err(r) => r,
        Ok(Ok((logged_in, language))) => {
            let mut r = meterhub_http::json(StatusCode::OK, &session_json(&logged_in.principal, language));
            if let Ok(v) = HeaderValue::from_str(&cookie.set(&logged_in.token)) {
                r.headers_mut().insert(SET_COOKIE, v);
            }
            r
        }
        Ok(Err(LoginError::Throttled(wait_s))) => {
            let mut r = meterhub_http::error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("too many failed logins; try again in {wait_s} s"),
            );
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(wait_s));
            r
        }
        Ok(Err(LoginError::Refused)) => meterhub_http::error(StatusCode::UNAUTHORIZED, "wrong user name or password"),
        Ok(Err(LoginError::Store(e))) => failed(&e),
    }
}

fn session_json(principal: &Principal, language: Language) -> serde_json::Value {
    let (via, csrf) = match &principal.credential {
        Credential::Session { csrf, .. } => ("session", Some(csrf.as_str())),
        Credential::LocalToken => ("local-admin-token", None),
    };
    json!({ "user": principal.user, "role": principal.role, "grants": principal.grants, "csrf": csrf, "via": via,
            "language": language })
}

/// The session answer (`GET` and `PATCH /api/v1/session`), or why the
/// user's language could not be read or kept.
fn session(principal: &Principal, language: Result<Language, AuthError>) -> HttpResponse {
    match language {
        Ok(language) => meterhub_http::json(StatusCode::OK, &session_json(principal, language)),
        Err(e) => failed(&e),
    }
}

fn audit_query(params: &HashMap<String, String>) -> Result<(usize, Option<u64>), String> {
    for key in params.keys() {
        if !["limit", "before"].contains(&key.as_str()) {
            return Err(format!("unknown query parameter {key:?} (known: limit, before)"));
        }
    }
    let limit = match params.get("limit") {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_AUDIT_LIMIT).contains(&n) => n,
            _ => return Err(format!("query parameter limit: expected 1..={MAX_AUDIT_LIMIT}, got {l:?}")),
        },
    };
    let before = match params.get("before") {
        None => None,
        Some(b) => Some(
            b.parse::<u64>().map_err(|_| format!("query parameter before: expected a sequence number, got {b:?}"))?,
        ),
    };
    Ok((limit, before))
}

//! `GET /api/v1/sinks` (every sink's status), `GET
//! /api/v1/sinks/{id}/dead-letters` and `POST
//! /api/v1/sinks/{id}/dead-letters/resend`. The dead letters live in the
//! sink's database, beside its position; the sink's worker reads and resends
//! them on its own connection.

use std::time::Duration;

use hyper::StatusCode;
use meterhub_http::HttpResponse;
use tokio::sync::oneshot;

use super::state::ApiState;
use crate::sink::status::Command;

/// How long the API waits for a sink's worker (it may be between batches).
const WORKER_DEADLINE: Duration = Duration::from_secs(30);
/// Dead letters listed unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 1000;

/// `GET /api/v1/sinks`.
pub fn list(state: &ApiState) -> HttpResponse {
    meterhub_http::json(StatusCode::OK, &state.sinks.snapshot())
}

/// Ask sink `id`'s worker, waiting for its answer.
pub async fn ask<T: serde::Serialize>(
    state: &ApiState,
    id: &str,
    command: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
) -> HttpResponse {
    let Some(entry) = state.sinks.get(id) else {
        return meterhub_http::error(StatusCode::NOT_FOUND, &format!("no sink {id:?} is configured"));
    };
    let Some(commands) = entry.commands else {
        return meterhub_http::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("sink {id:?} does not run (its plugin is missing); see its last_error in /api/v1/sinks"),
        );
    };
    let (reply, answer) = oneshot::channel();
    if commands.send(command(reply)).await.is_err() {
        return meterhub_http::error(StatusCode::SERVICE_UNAVAILABLE, &format!("sink {id:?} is stopping"));
    }
    match tokio::time::timeout(WORKER_DEADLINE, answer).await {
        Ok(Ok(Ok(value))) => meterhub_http::json(StatusCode::OK, &value),
        Ok(Ok(Err(e))) => meterhub_http::error(StatusCode::SERVICE_UNAVAILABLE, &e),
        Ok(Err(_)) => meterhub_http::error(StatusCode::SERVICE_UNAVAILABLE, &format!("sink {id:?} stopped")),
        Err(_) => meterhub_http::error(
            StatusCode::GATEWAY_TIMEOUT,
            &format!(
                "sink {id:?} did not answer within {} s (a long batch or a slow database)",
                WORKER_DEADLINE.as_secs()
            ),
        ),
    }
}

/// `GET /api/v1/sinks/{id}/dead-letters?limit=N`.
pub async fn dead_letters(
    state: &ApiState,
    id: &str,
    params: &std::collections::HashMap<String, String>,
) -> HttpResponse {
    if let Some(key) = params.keys().find(|k| k.as_str() != "limit") {
        return meterhub_http::error(
            StatusCode::BAD_REQUEST,
            &format!("unknown query parameter {key:?} (known: limit)"),
        );
    }
    let limit = match params.get("limit").map(|l| l.parse::<i64>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=100_000).contains(&n) => n,
        Some(_) => return meterhub_http::error(StatusCode::BAD_REQUEST, "query parameter limit: expected 1..=100000"),
    };
    ask(state, id, |reply| Command::DeadLetters(limit, reply)).await
}

/// `POST /api/v1/sinks/{id}/dead-letters/resend`.
pub async fn resend(state: &ApiState, id: &str) -> HttpResponse {
    ask(state, id, Command::Resend).await
}

//! The HTTP control API: stats, the received log, faults, MO, reset.
//!
//! | route | what |
//! |---|---|
//! | `GET /personas` | name, address, system_ids, active binds and faults of each persona |
//! | `GET /personas/{name}/stats` | [`PersonaStats`](super::PersonaStats) |
//! | `GET /personas/{name}/received?limit=N` | the last N received messages (default 100) |
//! | `POST /personas/{name}/faults` | a [`Fault`] as JSON |
//! | `POST /personas/{name}/mo` | an [`Mo`] as JSON |
//! | `POST /reset` | every persona back to its starting state |
//!
//! Errors are `{"error": "..."}` with a 4xx status.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Fault, Mo, SimError, SimHandle};

/// The control API over a running simulator.
pub fn router(handle: SimHandle) -> Router {
    Router::new()
        .route("/personas", get(personas))
        .route("/personas/{name}/stats", get(stats))
        .route("/personas/{name}/received", get(received))
        .route("/personas/{name}/faults", post(fault))
        .route("/personas/{name}/mo", post(mo))
        .route("/reset", post(reset))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError(StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into())
        })
        .with_state(handle)
}

/// Every error of the API, rendered as JSON.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> ApiError {
        let status = match e {
            SimError::UnknownPersona(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, e.to_string())
    }
}

fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

async fn personas(State(h): State<SimHandle>) -> Response {
    Json(h.personas()).into_response()
}

async fn stats(State(h): State<SimHandle>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(h.stats(&name)?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceivedQuery {
    limit: Option<usize>,
}

async fn received(
    State(h): State<SimHandle>,
    Path(name): Path<String>,
    query: Result<Query<ReceivedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    Ok(Json(h.received_last(&name, q.limit.unwrap_or(100))?).into_response())
}

async fn fault(
    State(h): State<SimHandle>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let fault: Fault = json_body(&body)?;
    h.fault(&name, fault)?;
    Ok(Json(serde_json::json!({ "ok": true })).into_response())
}

async fn mo(
    State(h): State<SimHandle>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mo: Mo = json_body(&body)?;
    h.inject_mo(&name, mo)?;
    Ok(Json(serde_json::json!({ "ok": true })).into_response())
}

async fn reset(State(h): State<SimHandle>) -> Response {
    h.reset();
    Json(serde_json::json!({ "ok": true })).into_response()
}

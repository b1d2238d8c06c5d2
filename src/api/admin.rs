//! Operator endpoints: `POST /v1/routes/reload`, for clients with `admin: true`.

use std::future::Future;
use std::pin::Pin;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;

/// Reloads the routing table from its file; the service fills it in.
pub trait RouteReloader: Send + Sync + 'static {
    /// The number of routes now in use, or why the file was refused (the running table
    /// stays).
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send>>;
}

/// For an API with no routing behind it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReloader;

impl RouteReloader for NoReloader {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send>> {
        Box::pin(async { Err("this API has no routing table to reload".to_string()) })
    }
}

pub(super) async fn reload_routes(
    State(state): State<ApiState>,
    Caller(client): Caller,
) -> Result<Json<Value>, ApiError> {
    if !client.admin {
        return Err(ApiError::Forbidden {
            message: "reloading routes needs a client with `admin: true`",
        });
    }
    match state.reloader().reload().await {
        Ok(routes) => Ok(Json(json!({ "reloaded": true, "routes": routes }))),
        Err(message) => Err(ApiError::Unprocessable {
            code: "routes_refused",
            message: format!("routing table refused; the running table stays: {message}"),
        }),
    }
}

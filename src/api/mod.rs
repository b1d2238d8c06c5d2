//! The HTTP API: the accept side of the gateway.
//!
//! [`router`] builds an axum [`Router`] from an [`ApiState`], so tests drive it with
//! `tower::ServiceExt::oneshot` and the service serves it on its listener. Every route is in
//! [`routes`], which is also what the OpenAPI test (docs/openapi.yaml) checks.
//!
//! What it does: authenticates the client (`Authorization: Bearer`, keys stored hashed),
//! applies its rate limit, validates a message (number, sender, text, class, validity),
//! computes its encoding and segments, writes it durably to the [`Store`] and only then
//! answers 202 with our id; then hands it to the delivery side through [`Dispatch`].
//!
//! What it is not: a router. Whether a number is admitted (a landline with a voice fallback,
//! a DLT requirement) is asked of the [`Admission`] hook the service installs; which carrier
//! sends it is decided after the answer.
//!
//! # Layout
//! - [`accept`](mod@accept): `POST /v1/messages` and `/v1/messages/batch`.
//! - [`status`](mod@status): `GET /v1/messages/{id}`.
//! - [`request`]: JSON bodies to typed fields, errors naming the field.
//! - [`error`]: the one error type and body.
//! - [`auth`]: API keys and per-client token buckets.
//! - [`admission`], [`dispatch`]: the hooks the service fills in.
//! - [`config`]: the `api:` and `clients:` sections of gateway.yaml.
//! - [`clock`]: injected time.
//! - [`telemetry`]: `/metrics`, request latency.

pub mod accept;
pub mod admin;
pub mod admission;
pub mod auth;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod request;
pub mod status;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

pub use accept::REPLAYED_HEADER;
pub use admin::{NoReloader, RouteReloader};
pub use admission::{Admission, AdmissionRequest, Admitted, Refusal, SmsOnly};
pub use auth::{Caller, Client, Clients, hash_api_key};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ApiConfig, ApiSettings, ClientConfig, ClientSettings, Rate, validate_clients};
pub use dispatch::{ChannelDispatch, Dispatch, NoDispatch, RecordingDispatch};
pub use error::{ApiError, FieldError};

use crate::store::Store;

/// How long `/readyz` waits for the store's writer to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: ApiSettings,
    clients: Clients,
    clock: Arc<dyn Clock>,
    admission: Arc<dyn Admission>,
    dispatch: Arc<dyn Dispatch>,
    reloader: Arc<dyn RouteReloader>,
    metrics: Option<PrometheusHandle>,
}

impl ApiState {
    /// A state with the system clock, [`SmsOnly`] admission, [`NoDispatch`] and no metrics
    /// handle; change them with the builder's methods. The service passes
    /// [`telemetry::prometheus()`] to [`ApiStateBuilder::metrics`], which installs the
    /// process-wide recorder: installing it is the binary's choice, not a side effect here.
    pub fn builder(
        store: Store,
        settings: ApiSettings,
        clients: Vec<ClientSettings>,
    ) -> ApiStateBuilder {
        ApiStateBuilder {
            store,
            settings,
            clients,
            clock: Arc::new(SystemClock::new()),
            admission: Arc::new(SmsOnly),
            dispatch: Arc::new(NoDispatch),
            reloader: Arc::new(NoReloader),
            metrics: None,
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn settings(&self) -> &ApiSettings {
        &self.inner.settings
    }

    pub fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    pub fn admission(&self) -> &dyn Admission {
        &*self.inner.admission
    }

    pub fn dispatcher(&self) -> &dyn Dispatch {
        &*self.inner.dispatch
    }

    pub fn reloader(&self) -> &dyn RouteReloader {
        &*self.inner.reloader
    }
}

/// See [`ApiState::builder`].
pub struct ApiStateBuilder {
    store: Store,
    settings: ApiSettings,
    clients: Vec<ClientSettings>,
    clock: Arc<dyn Clock>,
    admission: Arc<dyn Admission>,
    dispatch: Arc<dyn Dispatch>,
    reloader: Arc<dyn RouteReloader>,
    metrics: Option<PrometheusHandle>,
}

impl ApiStateBuilder {
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    #[must_use]
    pub fn admission(mut self, admission: Arc<dyn Admission>) -> Self {
        self.admission = admission;
        self
    }

    #[must_use]
    pub fn dispatch(mut self, dispatch: Arc<dyn Dispatch>) -> Self {
        self.dispatch = dispatch;
        self
    }

    /// What `POST /v1/routes/reload` calls.
    #[must_use]
    pub fn reloader(mut self, reloader: Arc<dyn RouteReloader>) -> Self {
        self.reloader = reloader;
        self
    }

    /// Where `/metrics` renders from; `None` answers 503 there.
    #[must_use]
    pub fn metrics(mut self, handle: Option<PrometheusHandle>) -> Self {
        self.metrics = handle;
        self
    }

    pub fn build(self) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                store: self.store,
                settings: self.settings,
                clients: Clients::new(self.clients),
                clock: self.clock,
                admission: self.admission,
                dispatch: self.dispatch,
                reloader: self.reloader,
                metrics: self.metrics,
            }),
        }
    }
}

/// Every route: method, path (axum and OpenAPI share the `{param}` syntax), handler.
fn route_table() -> Vec<(Method, &'static str, MethodRouter<ApiState>)> {
    vec![
        (Method::POST, "/v1/messages", post(accept::post_message)),
        (Method::POST, "/v1/messages/batch", post(accept::post_batch)),
        (Method::GET, "/v1/messages/{id}", get(status::get_message)),
        (
            Method::POST,
            "/v1/routes/reload",
            post(admin::reload_routes),
        ),
        (Method::GET, "/healthz", get(healthz)),
        (Method::GET, "/readyz", get(readyz)),
        (Method::GET, "/metrics", get(telemetry::render)),
    ]
}

/// The method and path of every route [`router`] serves.
pub fn routes() -> Vec<(Method, &'static str)> {
    route_table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The API as a router, built from [`routes`]' table.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.settings().body_limit;
    let mut by_path: Vec<(&'static str, MethodRouter<ApiState>)> = Vec::new();
    for (_, path, handler) in route_table() {
        let handler = handler.layer(axum::middleware::from_fn_with_state(path, telemetry::track));
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(handler);
                *existing = merged;
            }
            None => by_path.push((path, handler)),
        }
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    router
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
}

/// Ready when the store's writer answers and its last commit succeeded: a gateway that
/// cannot make a message durable must not be sent messages.
async fn readyz(State(state): State<ApiState>) -> Result<Response, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.store().ping()).await {
        Ok(Ok(())) => {
            Ok((StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response())
        }
        Ok(Err(e)) => Err(ApiError::Unavailable(e.to_string())),
        Err(_) => Err(ApiError::Unavailable(
            "the store's writer did not answer in time".into(),
        )),
    }
}

async fn route_not_found() -> ApiError {
    ApiError::NotFound {
        code: "route_not_found",
        message: "no such endpoint".into(),
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

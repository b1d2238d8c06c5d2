//! Prometheus metrics: the recorder, `/metrics`, and the request latency histogram.
//!
//! The counters and histograms are recorded through the `metrics` facade, so the store, the
//! API and the delivery side all land in the one recorder installed here.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::ApiState;
use super::error::ApiError;
use crate::carrier::SUBMIT_DELAY_SECONDS;

pub const REQUEST_SECONDS: &str = "gannet_api_request_duration_seconds";

/// Buckets for request latency: an accept is dominated by the group commit's fsync, from
/// well under a millisecond on a fast SSD to tens of milliseconds on a cloud volume. Also
/// for request → submit_sm, whose targets (5 and 10 ms) are bucket bounds.
const LATENCY_BUCKETS: [f64; 19] = [
    0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2,
    0.5, 1.0, 2.0, 5.0, 10.0,
];

const COMMIT_ITEMS_BUCKETS: [f64; 10] =
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// The process-wide Prometheus recorder, installed on first use. `None` when another
/// recorder was installed first (the facade allows one per process).
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("gannet_store_commit_seconds".into()),
                        &LATENCY_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(SUBMIT_DELAY_SECONDS.into()),
                        &LATENCY_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("gannet_store_commit_items".into()),
                        &COMMIT_ITEMS_BUCKETS,
                    )
                })
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "gannet_api_accepted_total",
        "Messages accepted (durable and answered), by class"
    );
    metrics::describe_counter!(
        "gannet_api_rejected_total",
        "Requests and batch items refused, by reason"
    );
    metrics::describe_counter!(
        "gannet_api_idempotent_replays_total",
        "Requests answered with the first answer of their idempotency key"
    );
    metrics::describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "HTTP request latency, by route, method and status"
    );
    metrics::describe_histogram!(
        SUBMIT_DELAY_SECONDS,
        metrics::Unit::Seconds,
        "Request at the API to the message's first submit_sm written to a carrier, by carrier"
    );
    metrics::describe_counter!("gannet_store_commits_total", "Store group commits");
    metrics::describe_histogram!(
        "gannet_store_commit_items",
        "Messages and writes per group commit"
    );
    metrics::describe_histogram!(
        "gannet_store_commit_seconds",
        metrics::Unit::Seconds,
        "Time to apply and persist one group commit"
    );
}

/// Records the latency of a routed request; `route` is the path pattern of the route the
/// layer was put on (the label must be the pattern, not the path, or every message id
/// would become a time series).
pub(super) async fn track(State(route): State<&'static str>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    metrics::histogram!(
        REQUEST_SECONDS,
        "route" => route,
        "method" => method,
        "status" => response.status().as_str().to_owned(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics` in the Prometheus text format.
pub(super) async fn render(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let handle = state
        .inner
        .metrics
        .as_ref()
        .ok_or(ApiError::MetricsUnavailable)?;
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

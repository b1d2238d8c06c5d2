//! The one error type of the API and the one body every error has:
//! `{ "error": { "code": "...", "field": "...", "reason": "...", "message": "..." } }`.
//!
//! `code` says what class of problem it is and is stable for clients to switch on; `field`
//! (when a field is at fault) is a path into the request such as `to` or `messages[2].text`;
//! `reason` refines a field error (`fixed_line`, `too_long`, `unknown_field`, ...);
//! `message` is for people.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::store::{MessageId, StoreError};

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path of the field in the request body (`to`, `dlt.entity_id`, `messages[1].to`).
    pub field: String,
    /// Machine-readable cause within `invalid_field`.
    pub reason: &'static str,
    pub message: String,
    /// Extra data for the cause (e.g. `segments` and `max_segments` for a text that is too
    /// long). Boxed: most errors have none, and errors travel in every `Result` of the
    /// validation path.
    pub detail: Option<Box<Map<String, Value>>>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason,
            message: message.into(),
            detail: None,
        }
    }

    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail
            .get_or_insert_default()
            .insert(key.to_owned(), value.into());
        self
    }

    /// The error object as it appears in a body (also in batch item results).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("code".into(), "invalid_field".into());
        obj.insert("field".into(), self.field.clone().into());
        obj.insert("reason".into(), self.reason.into());
        obj.insert("message".into(), self.message.clone().into());
        for (k, v) in self.detail.iter().flat_map(|d| d.iter()) {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: a field is missing, of the wrong type, unknown, or has a refused value.
    #[error("{}: {}", .0.field, .0.message)]
    Field(FieldError),
    /// 400: the body is not JSON.
    #[error("body is not valid JSON: {message}")]
    InvalidJson { message: String },
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 413: the body or the batch is larger than allowed.
    #[error("{message}")]
    TooLarge {
        code: &'static str,
        field: Option<String>,
        message: String,
    },
    /// 401: no key, or a key that no client has.
    #[error("{message}")]
    Unauthorized {
        code: &'static str,
        message: &'static str,
    },
    /// 429: the client's rate limit; retry after this many seconds.
    #[error("rate limit exceeded; retry after {retry_after}s")]
    RateLimited { retry_after: u64 },
    /// 403: a valid key without the right (operator endpoints need `admin: true`).
    #[error("{message}")]
    Forbidden { message: &'static str },
    /// 422: an operator request that could not be done (a routing table refused on reload).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 404.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 405.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// 409: an idempotency key reused with a different request.
    #[error("{message}")]
    Conflict {
        field: String,
        message: String,
        id: MessageId,
    },
    /// 503: the store cannot take writes.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// 503: no metrics recorder is installed in this process.
    #[error("no metrics recorder is installed")]
    MetricsUnavailable,
    /// 400: a batch in which no message was accepted; the per-item results say why.
    #[error("no message of the batch was accepted")]
    BatchRejected { results: Vec<Value> },
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Field(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Field(_) | ApiError::InvalidJson { .. } | ApiError::BatchRejected { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable(_) | ApiError::MetricsUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The `code` of the body, also the `reason` label of the rejection counter.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Field(_) => "invalid_field",
            ApiError::InvalidJson { .. } => "invalid_json",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::TooLarge { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Unprocessable { code, .. } => code,
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { .. } => "idempotency_conflict",
            ApiError::Unavailable(_) => "store_unavailable",
            ApiError::MetricsUnavailable => "metrics_unavailable",
            ApiError::BatchRejected { .. } => "batch_rejected",
        }
    }

    /// The error object (`{"code": ..., ...}`).
    pub fn to_json(&self) -> Value {
        let message = self.to_string();
        match self {
            ApiError::Field(f) => f.to_json(),
            ApiError::TooLarge {
                field: Some(field), ..
            } => json!({ "code": self.code(), "field": field, "message": message }),
            ApiError::Conflict { field, id, .. } => json!({
                "code": self.code(), "field": field, "message": message, "id": id,
            }),
            ApiError::RateLimited { retry_after } => json!({
                "code": self.code(), "message": message, "retry_after": retry_after,
            }),
            _ => json!({ "code": self.code(), "message": message }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), self.to_json());
        let status = self.status();
        let mut extra: Option<(header::HeaderName, HeaderValue)> = None;
        match &self {
            ApiError::BatchRejected { results } => {
                body.insert("accepted".into(), 0.into());
                body.insert("rejected".into(), results.len().into());
                body.insert("results".into(), Value::Array(results.clone()));
            }
            ApiError::RateLimited { retry_after } => {
                extra = Some((header::RETRY_AFTER, HeaderValue::from(*retry_after)));
            }
            ApiError::Unauthorized { .. } => {
                extra = Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            // The store recovers only by an operator's hand or a restart; a second is
            // enough to stop clients from spinning.
            ApiError::Unavailable(_) => {
                extra = Some((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        let reason = match &self {
            ApiError::Field(f) => f.reason,
            _ => self.code(),
        };
        metrics::counter!("gannet_api_rejected_total", "reason" => reason).increment(1);
        let mut response = (status, axum::Json(Value::Object(body))).into_response();
        if let Some((name, value)) = extra {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

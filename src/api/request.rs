//! Request bodies: from bytes to typed fields, every error naming its field.
//!
//! The body is first parsed as JSON (syntax errors carry serde_json's message with line and
//! column), then each field is deserialized on its own. Going field by field is what lets an
//! error say `messages[3].class` rather than "invalid type at line 1 column 812", and lets one
//! bad item of a batch be refused while the others are accepted.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{ApiError, FieldError};
use crate::routes::MessageClass;
use crate::store::Dlt;

/// The fields of one message, as the client sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub to: String,
    pub from: String,
    pub text: String,
    pub class: MessageClass,
    pub validity: Option<String>,
    pub callback_url: Option<String>,
    pub client_ref: Option<String>,
    pub idempotency_key: Option<String>,
    pub transliterate: bool,
    pub receipt: bool,
    pub dlt: Option<Dlt>,
}

const FIELDS: [&str; 11] = [
    "to",
    "from",
    "text",
    "class",
    "validity",
    "callback_url",
    "client_ref",
    "idempotency_key",
    "transliterate",
    "receipt",
    "dlt",
];

/// A JSON body: `Content-Type: application/json` (or `+json`), within the body limit,
/// syntactically valid. Every failure is an [`ApiError`] with the API's error body, never
/// axum's plain-text rejection.
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.len() > 5
                        && mime.starts_with("application/")
                        && mime[mime.len() - 5..].eq_ignore_ascii_case("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be JSON, sent with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge {
                    code: "body_too_large",
                    field: None,
                    message: "the request body is larger than the configured limit".into(),
                }
            } else {
                ApiError::InvalidJson {
                    message: r.body_text(),
                }
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::InvalidJson {
                message: e.to_string(),
            })
    }
}

/// The object at `path` (`""` for the body itself).
pub fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, FieldError> {
    value.as_object().ok_or_else(|| {
        let field = if path.is_empty() { "(body)" } else { path };
        FieldError::new(
            field,
            "invalid_type",
            format!("expected a JSON object, found {}", kind(value)),
        )
    })
}

/// Decodes one message object. `prefix` is prepended to field names in errors
/// (`""`, or `messages[2].` in a batch).
pub fn decode_message(value: &Value, prefix: &str) -> Result<RawMessage, FieldError> {
    let at = |name: &str| format!("{prefix}{name}");
    let obj = object(value, prefix.trim_end_matches('.'))?;
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(FieldError::new(
            at(unknown),
            "unknown_field",
            format!(
                "unknown field `{unknown}`, expected one of {}",
                FIELDS.map(|f| format!("`{f}`")).join(", ")
            ),
        ));
    }
    Ok(RawMessage {
        to: required(obj, "to", prefix)?,
        from: required(obj, "from", prefix)?,
        text: required(obj, "text", prefix)?,
        class: required(obj, "class", prefix)?,
        validity: optional(obj, "validity", prefix)?,
        callback_url: optional(obj, "callback_url", prefix)?,
        client_ref: optional(obj, "client_ref", prefix)?,
        idempotency_key: optional(obj, "idempotency_key", prefix)?,
        transliterate: optional(obj, "transliterate", prefix)?.unwrap_or(false),
        receipt: optional(obj, "receipt", prefix)?.unwrap_or(true),
        dlt: optional::<DltFields>(obj, "dlt", prefix)?.map(|d| Dlt {
            entity_id: d.entity_id,
            template_id: d.template_id,
        }),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DltFields {
    entity_id: String,
    template_id: String,
}

fn required<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    name: &str,
    prefix: &str,
) -> Result<T, FieldError> {
    optional(obj, name, prefix)?.ok_or_else(|| {
        FieldError::new(
            format!("{prefix}{name}"),
            "missing_field",
            format!("`{name}` is required"),
        )
    })
}

/// `null` counts as absent.
fn optional<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    name: &str,
    prefix: &str,
) -> Result<Option<T>, FieldError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => T::deserialize(v).map(Some).map_err(|e| {
            // A string where a string is expected that still fails is a bad value (an
            // unknown class); anything else is the wrong JSON type.
            let reason = if v.is_string() || v.is_object() {
                "invalid_value"
            } else {
                "invalid_type"
            };
            FieldError::new(format!("{prefix}{name}"), reason, e.to_string())
        }),
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_every_field() {
        let m = decode_message(
            &json!({
                "to": "+447700900123", "from": "Shop", "text": "hi", "class": "otp",
                "validity": "5m", "callback_url": "https://x.test/cb", "client_ref": "r1",
                "idempotency_key": "k", "transliterate": true,
                "dlt": { "entity_id": "1", "template_id": "2" }
            }),
            "",
        )
        .unwrap();
        assert_eq!(m.class, MessageClass::Otp);
        assert_eq!(m.validity.as_deref(), Some("5m"));
        assert!(m.transliterate);
        assert_eq!(m.dlt.unwrap().template_id, "2");
    }

    #[test]
    fn errors_name_the_field_with_prefix() {
        let e = decode_message(
            &json!({"to": 447700900123u64, "from": "a", "text": "b", "class": "otp"}),
            "messages[2].",
        )
        .unwrap_err();
        assert_eq!(e.field, "messages[2].to");
        assert_eq!(e.reason, "invalid_type");
        assert!(e.message.contains("expected a string"), "{}", e.message);

        let e = decode_message(
            &json!({"to": "1", "from": "a", "text": "b", "clas": "otp"}),
            "",
        )
        .unwrap_err();
        assert_eq!((e.field.as_str(), e.reason), ("clas", "unknown_field"));

        let e = decode_message(&json!({"to": "1", "text": "b", "class": "otp"}), "").unwrap_err();
        assert_eq!((e.field.as_str(), e.reason), ("from", "missing_field"));

        let e = decode_message(
            &json!({"to": "1", "from": "a", "text": "b", "class": "promo"}),
            "",
        )
        .unwrap_err();
        assert_eq!((e.field.as_str(), e.reason), ("class", "invalid_value"));
        assert!(e.message.contains("otp"), "{}", e.message);

        let e = decode_message(
            &json!({"to": "1", "from": "a", "text": "b", "class": "otp", "dlt": {"entity_id": "1"}}),
            "",
        )
        .unwrap_err();
        assert_eq!(e.field, "dlt");
        assert!(e.message.contains("template_id"), "{}", e.message);

        let e = decode_message(&json!([1]), "messages[0].").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.reason),
            ("messages[0]", "invalid_type")
        );
    }
}

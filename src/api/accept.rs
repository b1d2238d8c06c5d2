//! `POST /v1/messages` and `POST /v1/messages/batch`: validate, compute, store durably,
//! answer, dispatch.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::io::Write as _;
use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::admission::AdmissionRequest;
use super::auth::{Caller, Client};
use super::clock::rfc3339;
use super::error::{ApiError, FieldError};
use super::request::{JsonBody, RawMessage, decode_message, kind, object};
use crate::config::duration;
use crate::number::{NumberParser, ParseOptions};
use crate::store::{Accepted, Message, MessageId, MessageState, NewMessage, Replay};
use crate::text::{self, TextOptions, Transliterate};

/// The header that marks an answer as the replay of an earlier one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

const MAX_KEY_LEN: usize = 255;
const MAX_CLIENT_REF_LEN: usize = 128;
const MAX_URL_LEN: usize = 2048;
/// Texts longer than this are refused before any analysis: 255 UCS-2 segments of 67
/// characters is the protocol's ceiling, far below it.
const MAX_TEXT_CHARS: usize = 255 * 153;

/// A message ready for the store, and the answer it gets.
struct Prepared {
    new: NewMessage,
    /// The answer, a JSON object, serialized once: the body of a single accept, an item of a
    /// batch answer, and what an idempotent replay sends again.
    answer: Vec<u8>,
}

/// The answer to an accepted message (docs/api.md). Written straight to bytes, in this field
/// order, with no intermediate `Value`.
#[derive(serde::Serialize)]
struct AcceptAnswer<'a> {
    id: MessageId,
    status: &'static str,
    to: &'a str,
    number_type: crate::number::NumberType,
    country: Option<&'a str>,
    route_class: crate::routes::MessageClass,
    channel: crate::store::Channel,
    encoding: text::Encoding,
    segments: usize,
    non_gsm_characters: &'a [char],
    transliterated: Vec<Transliteration>,
    valid_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ref: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct Transliteration {
    from: char,
    to: &'static str,
}

/// One item of a batch answer: a rejection as a value, or an accepted item's answer bytes
/// with its index (and `"replayed": true`) spliced in.
enum Item {
    Value(Value),
    Raw(Vec<u8>),
}

impl Item {
    /// `{"index":i,` + the fields of `answer` (a JSON object) + `,"replayed":true` if so.
    fn accepted(index: usize, answer: &[u8], replayed: bool) -> Item {
        let inner = answer
            .strip_prefix(b"{")
            .and_then(|a| a.strip_suffix(b"}"))
            .unwrap_or_default();
        let mut out = Vec::with_capacity(answer.len() + 32);
        // Writing into a `Vec` cannot fail.
        let _ = write!(out, "{{\"index\":{index}");
        if !inner.is_empty() {
            out.push(b',');
            out.extend_from_slice(inner);
        }
        if replayed {
            out.extend_from_slice(b",\"replayed\":true");
        }
        out.push(b'}');
        Item::Raw(out)
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Item::Raw(b) => out.extend_from_slice(b),
            Item::Value(v) => {
                // Writing a `Value` into a `Vec` cannot fail.
                let _ = serde_json::to_writer(&mut *out, v);
            }
        }
    }
}

fn json_response(body: Vec<u8>) -> Response {
    let mut response = (StatusCode::ACCEPTED, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(super) async fn post_message(
    State(state): State<ApiState>,
    Caller(client): Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let received = Instant::now();
    let header_key = idempotency_header(&headers)?;
    let mut raw = decode_message(&body, "")?;
    raw.idempotency_key = match (raw.idempotency_key.take(), header_key) {
        (Some(b), Some(h)) if b != h => {
            return Err(FieldError::new(
                "idempotency_key",
                "mismatch",
                "`idempotency_key` and the Idempotency-Key header differ; send one of them",
            )
            .into());
        }
        (b, h) => b.or(h),
    };
    let prepared = prepare(&state, &client, raw, "")?;
    let message = prepared.new.message.clone();
    match state.store().accept(prepared.new).await? {
        Accepted::New => {
            metrics::counter!("gannet_api_accepted_total", "class" => message.class.as_str())
                .increment(1);
            state.dispatcher().dispatch(message, received);
            Ok(json_response(prepared.answer))
        }
        Accepted::Replayed { answer, .. } => Ok(replayed(answer)),
        Accepted::Conflict { id } => Err(conflict("idempotency_key", id)),
    }
}

pub(super) async fn post_batch(
    State(state): State<ApiState>,
    Caller(client): Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let received = Instant::now();
    let header_key = idempotency_header(&headers)?;
    let obj = object(&body, "")?;
    if let Some(unknown) = obj.keys().find(|k| k.as_str() != "messages") {
        return Err(FieldError::new(
            unknown.as_str(),
            "unknown_field",
            format!("unknown field `{unknown}`, expected `messages`"),
        )
        .into());
    }
    let items = match obj.get("messages") {
        None | Some(Value::Null) => {
            return Err(
                FieldError::new("messages", "missing_field", "`messages` is required").into(),
            );
        }
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(FieldError::new(
                "messages",
                "invalid_type",
                format!("expected an array of messages, found {}", kind(other)),
            )
            .into());
        }
    };
    if items.is_empty() {
        return Err(FieldError::new("messages", "empty", "the batch has no messages").into());
    }
    let max = state.settings().max_batch;
    if items.len() > max {
        return Err(ApiError::TooLarge {
            code: "batch_too_large",
            field: Some("messages".into()),
            message: format!(
                "the batch has {} messages; at most {max} are accepted per request",
                items.len()
            ),
        });
    }

    let mut results: Vec<Item> = (0..items.len()).map(|_| Item::Value(Value::Null)).collect();
    let mut valid: Vec<(usize, Vec<u8>, Message)> = Vec::with_capacity(items.len());
    let mut batch = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("messages[{i}].");
        let prepared = decode_message(item, &prefix).and_then(|mut raw| {
            // A batch-wide key becomes one key per position, so replaying the whole batch
            // replays every item.
            if raw.idempotency_key.is_none() {
                raw.idempotency_key = header_key.as_ref().map(|k| format!("{k}#{i}"));
            }
            prepare(&state, &client, raw, &prefix)
        });
        match prepared {
            Ok(p) => {
                valid.push((i, p.answer, p.new.message.clone()));
                batch.push(p.new);
            }
            Err(e) => {
                metrics::counter!("gannet_api_rejected_total", "reason" => e.reason).increment(1);
                results[i] =
                    Item::Value(json!({ "index": i, "status": "rejected", "error": e.to_json() }));
            }
        }
    }

    let outcomes = if batch.is_empty() {
        Vec::new()
    } else {
        state.store().accept_many(batch).await?
    };
    let mut accepted = 0usize;
    for ((i, answer, message), outcome) in valid.into_iter().zip(outcomes) {
        results[i] = match outcome {
            Accepted::New => {
                accepted += 1;
                metrics::counter!("gannet_api_accepted_total", "class" => message.class.as_str())
                    .increment(1);
                state.dispatcher().dispatch(message, received);
                Item::accepted(i, &answer, false)
            }
            Accepted::Replayed { answer, .. } => {
                accepted += 1;
                metrics::counter!("gannet_api_idempotent_replays_total").increment(1);
                Item::accepted(i, &answer, true)
            }
            Accepted::Conflict { id } => {
                let field = format!("messages[{i}].idempotency_key");
                metrics::counter!("gannet_api_rejected_total", "reason" => "idempotency_conflict")
                    .increment(1);
                Item::Value(
                    json!({ "index": i, "status": "rejected", "error": conflict(&field, id).to_json() }),
                )
            }
        };
    }
    if accepted == 0 {
        // Nothing accepted: every item is a rejection value.
        let results = results
            .into_iter()
            .filter_map(|r| match r {
                Item::Value(v) => Some(v),
                Item::Raw(_) => None,
            })
            .collect();
        return Err(ApiError::BatchRejected { results });
    }
    let rejected = results.len() - accepted;
    let mut body = Vec::with_capacity(64 + results.len() * 400);
    let _ = write!(
        body,
        "{{\"accepted\":{accepted},\"rejected\":{rejected},\"results\":["
    );
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        r.write(&mut body);
    }
    body.extend_from_slice(b"]}");
    Ok(json_response(body))
}

fn replayed(answer: Vec<u8>) -> Response {
    metrics::counter!("gannet_api_idempotent_replays_total").increment(1);
    let mut response = json_response(answer);
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

fn conflict(field: &str, id: MessageId) -> ApiError {
    ApiError::Conflict {
        field: field.to_owned(),
        message: format!(
            "this idempotency key was already used for a different request (message {id})"
        ),
        id,
    }
}

fn idempotency_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().map_err(|_| {
        FieldError::new(
            "Idempotency-Key",
            "invalid_value",
            "the Idempotency-Key header must be visible ASCII",
        )
    })?;
    check_key(key, "Idempotency-Key")?;
    Ok(Some(key.to_owned()))
}

fn check_key(key: &str, field: &str) -> Result<(), FieldError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(
            field,
            "invalid_value",
            format!("an idempotency key is 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// Validates one message and computes everything the answer and the store need. Field
/// names in errors are prefixed with `prefix`.
fn prepare(
    state: &ApiState,
    client: &Client,
    raw: RawMessage,
    prefix: &str,
) -> Result<Prepared, FieldError> {
    let at = |name: &str| format!("{prefix}{name}");
    let settings = state.settings();

    // Sender.
    let from = raw.from.trim();
    check_sender(from).map_err(|m| FieldError::new(at("from"), "invalid_sender", m))?;

    // Recipient: premium rate is let through the parser so the admission hook decides (and
    // names it), instead of a generic parse error.
    let parser = NumberParser::new(ParseOptions::default().allow_premium_rate(true));
    let number = parser
        .parse(&raw.to, settings.default_region.as_deref())
        .map_err(|e| {
            let cause = serde_json::to_value(&e)
                .ok()
                .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned));
            let mut err = FieldError::new(at("to"), "invalid_number", e.to_string());
            if let Some(cause) = cause {
                err = err.with("cause", cause);
            }
            err
        })?;
    let admitted = state
        .admission()
        .admit(&AdmissionRequest {
            client: &client.name,
            number: &number,
            class: raw.class,
            dlt: raw.dlt.as_ref(),
        })
        .map_err(|r| {
            FieldError::new(at(r.field), r.reason, r.message)
                .with("number_type", number.number_type().as_str())
        })?;

    // Text.
    if raw.text.trim().is_empty() {
        return Err(FieldError::new(at("text"), "empty", "the text is empty"));
    }
    let max_segments = usize::from(settings.max_segments);
    if raw.text.chars().count() > MAX_TEXT_CHARS {
        return Err(
            FieldError::new(at("text"), "too_long", "the text is too long for an SMS")
                .with("max_segments", max_segments),
        );
    }
    let options = TextOptions {
        transliterate: if raw.transliterate {
            Transliterate::Always
        } else {
            Transliterate::Off
        },
        ..TextOptions::default()
    };
    let analysis = text::analyze(&raw.text, &options);
    if analysis.segments > max_segments {
        return Err(FieldError::new(
            at("text"),
            "too_long",
            format!(
                "the text needs {} segments as {:?}; at most {max_segments} are allowed",
                analysis.segments, analysis.encoding
            ),
        )
        .with("segments", analysis.segments)
        .with("max_segments", max_segments)
        .with("encoding", json!(analysis.encoding)));
    }

    // Validity.
    let validity = match &raw.validity {
        Some(v) => {
            let d = duration::parse(v)
                .map_err(|m| FieldError::new(at("validity"), "invalid_value", m))?;
            if d.is_zero() || d > settings.max_validity {
                return Err(FieldError::new(
                    at("validity"),
                    "out_of_range",
                    format!(
                        "validity must be more than 0 and at most {}s",
                        settings.max_validity.as_secs()
                    ),
                ));
            }
            d
        }
        None => admitted
            .default_validity
            .unwrap_or(settings.default_validity[raw.class])
            .min(settings.max_validity),
    };

    // The rest.
    if let Some(url) = &raw.callback_url {
        check_url(url).map_err(|m| FieldError::new(at("callback_url"), "invalid_url", m))?;
    }
    if let Some(r) = &raw.client_ref
        && r.chars().count() > MAX_CLIENT_REF_LEN
    {
        return Err(FieldError::new(
            at("client_ref"),
            "too_long",
            format!("client_ref is at most {MAX_CLIENT_REF_LEN} characters"),
        ));
    }
    if let Some(k) = &raw.idempotency_key {
        check_key(k, &at("idempotency_key"))?;
    }
    if let Some(dlt) = &raw.dlt {
        for (name, v) in [
            ("dlt.entity_id", &dlt.entity_id),
            ("dlt.template_id", &dlt.template_id),
        ] {
            if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::new(
                    at(name),
                    "invalid_value",
                    "DLT ids are 1 to 32 digits",
                ));
            }
        }
    }

    let now = state.clock().unix_ms();
    let valid_until_ms = now.saturating_add(u64::try_from(validity.as_millis()).unwrap_or(0));
    let id = MessageId::new_v7();
    let segments = u16::try_from(analysis.segments).unwrap_or(u16::MAX);
    let answer = serde_json::to_vec(&AcceptAnswer {
        id,
        status: "accepted",
        to: number.e164(),
        number_type: number.number_type(),
        country: number.region(),
        route_class: raw.class,
        channel: admitted.channel,
        encoding: analysis.encoding,
        segments: analysis.segments,
        non_gsm_characters: &analysis.non_gsm,
        transliterated: analysis
            .transliterated
            .iter()
            .map(|&(from, to)| Transliteration { from, to })
            .collect(),
        valid_until: rfc3339(valid_until_ms),
        client_ref: raw.client_ref.as_deref(),
    })
    // Strings, numbers and enums only: this cannot fail, but a failure is an error answer,
    // never an empty body.
    .map_err(|e| FieldError::new(at("text"), "invalid_value", e.to_string()))?;
    // Only a message with an idempotency key is ever compared with another.
    let replay = raw.idempotency_key.as_ref().map(|_| Replay {
        fingerprint: fingerprint(&raw, number.e164()),
        answer: answer.clone(),
    });
    let message = Message {
        id,
        client: client.name.to_string(),
        to: number.e164().to_owned(),
        from: from.to_owned(),
        text: raw.text,
        class: raw.class,
        valid_until_ms,
        callback_url: raw.callback_url,
        client_ref: raw.client_ref,
        idempotency_key: raw.idempotency_key,
        dlt: raw.dlt,
        transliterate: raw.transliterate,
        receipt: raw.receipt,
        number_type: number.number_type(),
        channel: admitted.channel,
        encoding: analysis.encoding,
        segments,
        state: MessageState::Accepted,
        accepted_at_ms: now,
        updated_at_ms: now,
        error: None,
    };
    Ok(Prepared {
        new: NewMessage { message, replay },
        answer,
    })
}

/// What makes two requests "the same" for idempotency: every field as the client meant it
/// (the number normalised, so `+44 7700…` and `+447700…` agree), except the key itself.
fn fingerprint(raw: &RawMessage, e164: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |tag: u8, v: Option<&str>| {
        h.update([tag]);
        match v {
            None => h.update([0]),
            Some(s) => {
                h.update([1]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        }
    };
    field(1, Some(e164));
    field(2, Some(raw.from.trim()));
    field(3, Some(&raw.text));
    field(4, Some(raw.class.as_str()));
    field(5, raw.validity.as_deref());
    field(6, raw.callback_url.as_deref());
    field(7, raw.client_ref.as_deref());
    field(8, Some(if raw.transliterate { "1" } else { "0" }));
    field(9, raw.dlt.as_ref().map(|d| d.entity_id.as_str()));
    field(10, raw.dlt.as_ref().map(|d| d.template_id.as_str()));
    field(11, Some(if raw.receipt { "1" } else { "0" }));
    h.finalize().into()
}

/// A sender id is either a number (3 to 15 digits, optional `+`: short codes and long
/// numbers) or an alphanumeric name of at most 11 characters (the GSM 03.40 limit for an
/// alphanumeric originating address) with at least one letter.
fn check_sender(from: &str) -> Result<(), String> {
    let digits = from.strip_prefix('+').unwrap_or(from);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return if (3..=15).contains(&digits.len()) {
            Ok(())
        } else {
            Err(format!(
                "a numeric sender has 3 to 15 digits, not {}",
                digits.len()
            ))
        };
    }
    if from.is_empty() {
        return Err("the sender is empty".into());
    }
    if from.chars().count() > 11 {
        return Err(format!(
            "an alphanumeric sender is at most 11 characters, `{from}` has {}",
            from.chars().count()
        ));
    }
    if !from
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" -._".contains(&b))
    {
        return Err(
            "an alphanumeric sender has only letters, digits, spaces, `-`, `.` and `_`".into(),
        );
    }
    if !from.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err("an alphanumeric sender needs at least one letter".into());
    }
    Ok(())
}

/// An absolute http(s) URL with a host, no whitespace.
fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("the URL is longer than {MAX_URL_LEN} characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("the callback URL must start with https:// or http://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("the callback URL has no host".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the callback URL contains whitespace or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders() {
        for ok in ["Shop", "MyBank 24", "12345", "+447700900123", "A-B.C_D"] {
            assert_eq!(check_sender(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "TwelveChars1",
            "12",
            "1234567890123456",
            "Shöp",
            "___",
            "a@b",
        ] {
            assert!(check_sender(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(check_url("https://example.com/cb?x=1"), Ok(()));
        assert_eq!(check_url("http://10.0.0.1:8080"), Ok(()));
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("https:///path").is_err());
        assert!(check_url("https://exa mple.com").is_err());
    }
}

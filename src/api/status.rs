//! `GET /v1/messages/{id}`: a message's state and every attempt.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::clock::rfc3339;
use super::error::ApiError;
use crate::store::{Attempt, Message, MessageId, MessageState};

pub(super) async fn get_message(
    State(state): State<ApiState>,
    Caller(client): Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound {
        code: "message_not_found",
        message: "no message with this id".into(),
    };
    let Path(id) = id.map_err(|_| not_found())?;
    let id: MessageId = id.parse().map_err(|_| not_found())?;
    let store = state.store();
    // Another client's message is answered exactly like a missing one, so ids cannot be
    // probed across clients.
    let message = store
        .get(id)?
        .filter(|m| *m.client == *client.name)
        .ok_or_else(not_found)?;
    let attempts = store.attempts(id)?;
    Ok(Json(render(&message, &attempts)))
}

/// The state to show: a message whose latest attempt the carrier accepted is `submitted`
/// (the engine records that on the attempt, not as a state write of its own).
fn shown_state(m: &Message, attempts: &[Attempt]) -> MessageState {
    let accepted_by_carrier = attempts
        .last()
        .is_some_and(|a| a.outcome == crate::store::AttemptOutcome::Submitted);
    match m.state {
        MessageState::Accepted | MessageState::Queued if accepted_by_carrier => {
            MessageState::Submitted
        }
        s => s,
    }
}

/// The status body. The text is left out on purpose: it is usually a one-time code, and
/// the client already has it.
fn render(m: &Message, attempts: &[Attempt]) -> Value {
    json!({
        "id": m.id,
        "status": shown_state(m, attempts),
        "to": m.to,
        "from": m.from,
        "route_class": m.class,
        "channel": m.channel,
        "number_type": m.number_type,
        "encoding": m.encoding,
        "segments": m.segments,
        "client_ref": m.client_ref,
        "accepted_at": rfc3339(m.accepted_at_ms),
        "updated_at": rfc3339(m.updated_at_ms),
        "valid_until": rfc3339(m.valid_until_ms),
        "error": m.error,
        "attempts": attempts.iter().map(render_attempt).collect::<Vec<_>>(),
    })
}

fn render_attempt(a: &Attempt) -> Value {
    json!({
        "n": a.n,
        "carrier": a.carrier,
        "route": a.route,
        "carrier_message_ids": a.carrier_ids,
        "submitted_at": a.submitted_at_ms.map(rfc3339),
        // SMPP command_status values are read in hex everywhere (SMPP 3.4 §5.1.3).
        "resp_status": a.resp_status.map(|s| format!("0x{s:08X}")),
        "receipt_status": a.receipt_status,
        "receipt_at": a.receipt_at_ms.map(rfc3339),
        "error_code": a.error_code,
        "outcome": a.outcome,
    })
}

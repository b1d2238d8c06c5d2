//! The hand-off from the API to the delivery side.
//!
//! Called after a message is durable and answered. A dispatch lost to a crash (the process
//! dies between the answer and the hand-off) costs nothing: the message is in the store's
//! pending index and the restarted gateway resumes it from [`Store::pending`]. So dispatch
//! must not block and need not be reliable; it must only never be called for a message
//! that is not durable, and never twice for one acceptance (idempotent replays dispatch
//! nothing).
//!
//! [`Store::pending`]: crate::store::Store::pending

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::store::{Message, MessageId};

pub trait Dispatch: Send + Sync + 'static {
    /// Hands a newly accepted, durable message to the delivery side. Must not block.
    /// `received`: when its request reached the API, for the request → submit_sm latency.
    fn dispatch(&self, message: Message, received: Instant);
}

/// Dispatches nothing: for an API that only accepts (the delivery side reads the pending
/// index), and for tests of the accept side alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDispatch;

impl Dispatch for NoDispatch {
    fn dispatch(&self, _message: Message, _received: Instant) {}
}

/// Sends every message down an unbounded channel. Unbounded because the API must not wait
/// on the delivery side, and the number of messages in it is bounded by what was accepted,
/// which the store holds anyway.
#[derive(Debug, Clone)]
pub struct ChannelDispatch {
    tx: mpsc::UnboundedSender<(Message, Instant)>,
}

impl ChannelDispatch {
    #[must_use]
    pub fn new() -> (ChannelDispatch, mpsc::UnboundedReceiver<(Message, Instant)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ChannelDispatch { tx }, rx)
    }
}

impl Dispatch for ChannelDispatch {
    fn dispatch(&self, message: Message, received: Instant) {
        // A closed receiver means the delivery side is shutting down; the message stays
        // pending in the store for the next start.
        if self.tx.send((message, received)).is_err() {
            tracing::debug!("dispatch: receiver closed; message left pending");
        }
    }
}

/// Records the ids it is given, in order: for tests.
#[derive(Debug, Clone, Default)]
pub struct RecordingDispatch {
    ids: Arc<Mutex<Vec<MessageId>>>,
}

impl RecordingDispatch {
    #[must_use]
    pub fn ids(&self) -> Vec<MessageId> {
        self.ids.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Dispatch for RecordingDispatch {
    fn dispatch(&self, message: Message, _received: Instant) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.push(message.id);
        }
    }
}

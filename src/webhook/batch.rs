//! Batch mode: events for one URL with one event name gathered into one request whose body
//! is the JSON array of their bodies, `[b1,b2,...]`.
//!
//! A batch is sent when it holds `max` events or `linger` after its first event, whichever
//! comes first. It is then one delivery: one id, one signature over the whole array, retried
//! as a whole. Owned by the dispatcher task, so no locking.

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use reqwest::Url;
use reqwest::header::HeaderValue;
use tokio::time::Instant;

use super::config::BatchSettings;
use super::queue::Job;

/// What batches are kept apart by.
pub(crate) type Key = (Url, &'static str);

struct Open {
    event_value: HeaderValue,
    parts: Vec<Bytes>,
    /// Bytes of the parts, for sizing the array.
    len: usize,
    generation: u64,
}

/// A batch just opened: its linger timer must be set.
pub(crate) struct Linger {
    pub(crate) due: Instant,
    pub(crate) key: Key,
    pub(crate) generation: u64,
}

/// What [`Batches::add`] did.
pub(crate) struct Added {
    pub(crate) opened: Option<Linger>,
    /// The batch reached `max` and is ready to send.
    pub(crate) full: Option<Job>,
}

pub(crate) struct Batches {
    settings: BatchSettings,
    open: HashMap<Key, Open>,
    next_generation: u64,
}

impl Batches {
    pub(crate) fn new(settings: BatchSettings) -> Batches {
        Batches {
            settings,
            open: HashMap::new(),
            next_generation: 0,
        }
    }

    pub(crate) fn add(
        &mut self,
        url: Url,
        event: &'static str,
        event_value: HeaderValue,
        body: Bytes,
        now: Instant,
    ) -> Added {
        let key = (url, event);
        let mut opened = None;
        if !self.open.contains_key(&key) {
            self.next_generation += 1;
            let generation = self.next_generation;
            opened = Some(Linger {
                due: now + self.settings.linger,
                key: key.clone(),
                generation,
            });
            self.open.insert(
                key.clone(),
                Open {
                    event_value,
                    parts: Vec::with_capacity(self.settings.max.min(1024)),
                    len: 0,
                    generation,
                },
            );
        }
        let Some(batch) = self.open.get_mut(&key) else {
            // Inserted just above when absent.
            return Added { opened, full: None };
        };
        batch.len += body.len();
        batch.parts.push(body);
        let full = if batch.parts.len() >= self.settings.max {
            self.open.remove(&key).map(|b| seal(key, b))
        } else {
            None
        };
        Added { opened, full }
    }

    /// The batch of `key` if it is still the one opened as `generation` (its linger ran out).
    pub(crate) fn seal(&mut self, key: &Key, generation: u64) -> Option<Job> {
        if self.open.get(key)?.generation != generation {
            return None;
        }
        let batch = self.open.remove(key)?;
        Some(seal(key.clone(), batch))
    }

    /// Every open batch, now.
    pub(crate) fn seal_all(&mut self) -> Vec<Job> {
        self.open.drain().map(|(key, b)| seal(key, b)).collect()
    }
}

fn seal((url, event): Key, batch: Open) -> Job {
    let n = batch.parts.len();
    let mut body = BytesMut::with_capacity(batch.len + n + 2);
    body.put_u8(b'[');
    for (i, part) in batch.parts.iter().enumerate() {
        if i > 0 {
            body.put_u8(b',');
        }
        body.put_slice(part);
    }
    body.put_u8(b']');
    let count = u32::try_from(n).unwrap_or(u32::MAX);
    Job::new(url, event, batch.event_value, body.freeze(), count, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn add(b: &mut Batches, u: &str, event: &'static str, body: &'static str) -> Added {
        b.add(
            url(u),
            event,
            HeaderValue::from_static(event),
            Bytes::from_static(body.as_bytes()),
            Instant::now(),
        )
    }

    #[test]
    fn fills_up_to_max_then_sends() {
        let mut b = Batches::new(BatchSettings {
            max: 3,
            linger: Duration::from_millis(20),
        });
        let first = add(&mut b, "http://a.example/", "message.status", r#"{"n":1}"#);
        assert!(first.opened.is_some() && first.full.is_none());
        let second = add(&mut b, "http://a.example/", "message.status", r#"{"n":2}"#);
        assert!(second.opened.is_none() && second.full.is_none());
        // Another URL and another event each have their own batch.
        assert!(
            add(&mut b, "http://b.example/", "message.status", "{}")
                .opened
                .is_some()
        );
        assert!(
            add(&mut b, "http://a.example/", "voice.call", "{}")
                .opened
                .is_some()
        );
        let third = add(&mut b, "http://a.example/", "message.status", r#"{"n":3}"#);
        let job = third.full.expect("full at 3");
        assert_eq!(job.count, 3);
        assert_eq!(&job.body[..], br#"[{"n":1},{"n":2},{"n":3}]"#);
        assert_eq!(job.event, "message.status");
        // The linger of the batch already sent finds nothing.
        let linger = first.opened.expect("opened");
        assert!(b.seal(&linger.key, linger.generation).is_none());
        // A new batch for the same key has a new generation: the old linger cannot seal it.
        let again = add(&mut b, "http://a.example/", "message.status", r#"{"n":4}"#);
        assert!(b.seal(&linger.key, linger.generation).is_none());
        let l2 = again.opened.expect("opened again");
        let job = b
            .seal(&l2.key, l2.generation)
            .expect("sealed by its linger");
        assert_eq!(&job.body[..], br#"[{"n":4}]"#);
        assert_eq!(job.count, 1);
        let rest = b.seal_all();
        assert_eq!(rest.len(), 2);
        assert!(b.seal_all().is_empty());
    }
}

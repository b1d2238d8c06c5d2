//! The deadline queue: parts by the time the tracker must look at them again.
//!
//! Deadlines are "now + the class's deadline", so they arrive almost in order: a binary heap
//! would pay a logarithmic sift with a cache miss per level on every pop. Here items go into
//! buckets of [`BUCKET_MS`] by due time (a push is an append to the newest bucket, nearly
//! always), and a poll takes whole buckets off the front and sorts the batch. Items due later
//! in the bucket that holds `now` stay where they are.

use std::collections::BTreeMap;

use super::Key;

/// Bucket width: the queue's granularity before the final sort.
pub(super) const BUCKET_MS: u64 = 64;

#[derive(Debug, Default)]
pub(super) struct DeadlineQueue {
    buckets: BTreeMap<u64, Vec<(u64, Key)>>,
}

impl DeadlineQueue {
    pub fn push(&mut self, due_ms: u64, key: Key) {
        let b = due_ms / BUCKET_MS;
        // The newest bucket is the usual target: check it before searching the tree.
        if let Some(mut last) = self.buckets.last_entry()
            && *last.key() == b
        {
            last.get_mut().push((due_ms, key));
            return;
        }
        self.buckets.entry(b).or_default().push((due_ms, key));
    }

    /// Moves every item due at or before `now_ms` into `out` (unordered).
    pub fn drain_due(&mut self, now_ms: u64, out: &mut Vec<(u64, Key)>) {
        let now_bucket = now_ms / BUCKET_MS;
        while let Some(first) = self.buckets.first_entry() {
            let b = *first.key();
            if b < now_bucket {
                out.extend(first.remove());
            } else if b == now_bucket {
                let items = first.into_mut();
                out.extend(items.iter().filter(|(t, _)| *t <= now_ms));
                items.retain(|(t, _)| *t > now_ms);
                if items.is_empty() {
                    self.buckets.remove(&b);
                }
                break;
            } else {
                break;
            }
        }
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<u64> {
        self.buckets
            .first_key_value()
            .and_then(|(_, items)| items.iter().map(|(t, _)| *t).min())
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        // A B-tree node per 11 buckets at most; the bucket vectors dominate.
        self.buckets.len() * (size_of::<(u64, Vec<(u64, Key)>)>() + 8)
            + self
                .buckets
                .values()
                .map(|v| v.capacity() * size_of::<(u64, Key)>())
                .sum::<usize>()
    }
}

//! The durable store: crash safety across `kill -9`, idempotency across restarts, the
//! attempt log, the pending index, and group commit under concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};

use gannet::number::NumberType;
use gannet::routes::MessageClass;
use gannet::store::{
    Accepted, Attempt, AttemptOutcome, Channel, Message, MessageId, MessageState, NewMessage,
    Replay, Store, StoreOptions, Write, WriteOutcome,
};
use gannet::text::Encoding;

const T0: u64 = 1_790_000_000_000;

fn message(seq: u64, client: &str) -> Message {
    Message {
        id: MessageId::new_v7(),
        client: client.into(),
        to: format!("+4477009{:05}", seq % 100_000),
        from: "Gannet".into(),
        text: format!("Your code is {seq:06}"),
        class: MessageClass::Otp,
        valid_until_ms: T0 + 600_000,
        callback_url: None,
        client_ref: Some(format!("ref-{seq}")),
        idempotency_key: None,
        dlt: None,
        transliterate: false,
        receipt: true,
        number_type: NumberType::Mobile,
        channel: Channel::Sms,
        encoding: Encoding::Gsm7,
        segments: 1,
        state: MessageState::Accepted,
        accepted_at_ms: T0 + seq,
        updated_at_ms: T0 + seq,
        error: None,
    }
}

fn new(m: Message) -> NewMessage {
    NewMessage {
        message: m,
        replay: None,
    }
}

fn state(id: MessageId, state: MessageState, at_ms: u64) -> Write {
    Write::State {
        id,
        state,
        at_ms,
        error: None,
    }
}

/// The child half of the crash test: accepts messages from 32 concurrent tasks into the
/// directory it is given and prints `ack <id> <seq>` for each one the store acknowledged,
/// `final <id>` for each message it then moved to a final state (awaited). It never stops
/// by itself before the parent kills it (the bound is only a safety net).
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("GANNET_STORE_CRASH_DIR") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Store::open(&dir).unwrap();
        let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
        let mut tasks = Vec::new();
        for task in 0..32u64 {
            let store = store.clone();
            let out = out.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..5_000u64 {
                    let seq = task * 1_000_000 + i;
                    let m = message(seq, "crash");
                    let id = m.id;
                    assert_eq!(store.accept(new(m)).await.unwrap(), Accepted::New);
                    {
                        let mut o = out.lock().unwrap();
                        writeln!(o, "ack {id} {seq}").unwrap();
                        o.flush().unwrap();
                    }
                    // A progress mark nobody waits for, as the submit path does.
                    store
                        .write_nowait(state(id, MessageState::Submitted, T0 + seq + 1))
                        .unwrap();
                    if seq % 4 == 0 {
                        let done = store
                            .write(state(id, MessageState::Delivered, T0 + seq + 2))
                            .await
                            .unwrap();
                        assert_eq!(done, WriteOutcome::Applied);
                        let mut o = out.lock().unwrap();
                        writeln!(o, "final {id}").unwrap();
                        o.flush().unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// kill -9 in the middle of concurrent accepts: every acknowledged message is there after
/// a restart, with its data, and in the pending index unless it was made final.
#[test]
fn nothing_acknowledged_is_lost_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("GANNET_STORE_CRASH_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: HashMap<MessageId, u64> = HashMap::new();
    let mut finals: Vec<MessageId> = Vec::new();
    let read = |line: String, acked: &mut HashMap<MessageId, u64>, finals: &mut Vec<_>| {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("ack") => {
                let id: MessageId = parts.next().unwrap().parse().unwrap();
                let seq: u64 = parts.next().unwrap().parse().unwrap();
                acked.insert(id, seq);
            }
            Some("final") => finals.push(parts.next().unwrap().parse().unwrap()),
            _ => {}
        }
    };
    // Kill once a good number of messages are acknowledged, while 32 tasks keep writing.
    while acked.len() < 3_000 {
        let line = lines
            .next()
            .expect("child ended early")
            .expect("child output");
        read(line, &mut acked, &mut finals);
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no clean shutdown
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child was killed mid-run, not finished"
    );
    // Lines printed before the kill are acknowledgements too.
    for line in lines {
        let Ok(line) = line else { break };
        read(line, &mut acked, &mut finals);
    }
    assert!(acked.len() >= 3_000);

    let store = Store::open(dir.path()).unwrap();
    let pending: HashMap<MessageId, Message> = store
        .pending()
        .map(|m| {
            let m = m.unwrap();
            (m.id, m)
        })
        .collect();
    let finals: std::collections::HashSet<_> = finals.into_iter().collect();
    for (&id, &seq) in &acked {
        let m = store
            .get(id)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {id} lost"));
        assert_eq!(m.text, format!("Your code is {seq:06}"));
        assert_eq!(m.client_ref, Some(format!("ref-{seq}")));
        assert_eq!(m.accepted_at_ms, T0 + seq);
        if finals.contains(&id) {
            assert_eq!(m.state, MessageState::Delivered, "{id}");
            assert!(!pending.contains_key(&id), "final {id} still pending");
        } else if !m.state.is_final() {
            assert!(pending.contains_key(&id), "non-final {id} not pending");
            assert!(
                matches!(m.state, MessageState::Accepted | MessageState::Submitted),
                "{id}: {:?}",
                m.state
            );
        }
    }
    // Nothing in the pending index is final.
    assert!(pending.values().all(|m| !m.state.is_final()));
}

#[tokio::test]
async fn idempotency_index_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = message(1, "shop");
    first.idempotency_key = Some("order-77".into());
    let id = first.id;
    let replay = Replay {
        fingerprint: [7; 32],
        answer: br#"{"id":"first"}"#.to_vec(),
    };
    {
        let store = Store::open(dir.path()).unwrap();
        let got = store
            .accept(NewMessage {
                message: first.clone(),
                replay: Some(replay.clone()),
            })
            .await
            .unwrap();
        assert_eq!(got, Accepted::New);
        store.shutdown().await;
    }
    let store = Store::open(dir.path()).unwrap();
    let rec = store.idempotency("shop", "order-77").unwrap().unwrap();
    assert_eq!(rec.id, id);
    assert_eq!(rec.answer, replay.answer);

    // Same key, same fingerprint: the first answer, and nothing new written.
    let mut again = message(2, "shop");
    again.idempotency_key = Some("order-77".into());
    let again_id = again.id;
    let got = store
        .accept(NewMessage {
            message: again,
            replay: Some(replay.clone()),
        })
        .await
        .unwrap();
    assert_eq!(
        got,
        Accepted::Replayed {
            id,
            answer: replay.answer.clone()
        }
    );
    assert_eq!(store.get(again_id).unwrap(), None);

    // Same key, another request: a conflict naming the first message.
    let mut other = message(3, "shop");
    other.idempotency_key = Some("order-77".into());
    let got = store
        .accept(NewMessage {
            message: other,
            replay: Some(Replay {
                fingerprint: [8; 32],
                answer: Vec::new(),
            }),
        })
        .await
        .unwrap();
    assert_eq!(got, Accepted::Conflict { id });

    // The same key from another client is another key.
    let mut elsewhere = message(4, "bank");
    elsewhere.idempotency_key = Some("order-77".into());
    let got = store
        .accept(NewMessage {
            message: elsewhere,
            replay: Some(replay),
        })
        .await
        .unwrap();
    assert_eq!(got, Accepted::New);
    assert_eq!(store.pending_count().unwrap(), 2);
}

#[tokio::test]
async fn duplicate_keys_in_one_commit_behave_as_in_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut a = message(1, "shop");
    a.idempotency_key = Some("k".into());
    let mut b = message(2, "shop");
    b.idempotency_key = Some("k".into());
    let r = Replay {
        fingerprint: [1; 32],
        answer: b"first".to_vec(),
    };
    let a_id = a.id;
    let got = store
        .accept_many(vec![
            NewMessage {
                message: a,
                replay: Some(r.clone()),
            },
            NewMessage {
                message: b,
                replay: Some(r),
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![
            Accepted::New,
            Accepted::Replayed {
                id: a_id,
                answer: b"first".to_vec()
            }
        ]
    );
    assert_eq!(store.pending_count().unwrap(), 1);
}

#[tokio::test]
async fn attempt_log_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let m = message(1, "shop");
    let id = m.id;
    {
        let store = Store::open(dir.path()).unwrap();
        store.accept(new(m)).await.unwrap();
        let first = Attempt {
            n: 1,
            carrier: "mno-a".into(),
            route: "4477".into(),
            carrier_ids: Vec::new(),
            outcome: AttemptOutcome::Pending,
            ..Attempt::default()
        };
        let outcomes = store
            .write_all(vec![
                Write::Attempt { id, attempt: first },
                Write::SegmentResp {
                    id,
                    n: 1,
                    segment: 1,
                    carrier_id: "0A1B".into(),
                    status: 0,
                    at_ms: T0 + 10,
                },
                Write::SegmentResp {
                    id,
                    n: 1,
                    segment: 0,
                    carrier_id: "0A1A".into(),
                    status: 0,
                    at_ms: T0 + 11,
                },
                state(id, MessageState::Submitted, T0 + 11),
                Write::Receipt {
                    id,
                    n: 1,
                    status: "UNDELIV".into(),
                    error_code: Some("001".into()),
                    at_ms: T0 + 900,
                    outcome: AttemptOutcome::Failed,
                },
                Write::Attempt {
                    id,
                    attempt: Attempt {
                        n: 2,
                        carrier: "agg-c".into(),
                        route: "44".into(),
                        carrier_ids: vec!["77".into()],
                        submitted_at_ms: Some(T0 + 1000),
                        resp_status: Some(0x58),
                        outcome: AttemptOutcome::Refused,
                        ..Attempt::default()
                    },
                },
                // No attempt 9: nothing to attach a receipt to.
                Write::Receipt {
                    id,
                    n: 9,
                    status: "DELIVRD".into(),
                    error_code: None,
                    at_ms: T0,
                    outcome: AttemptOutcome::Delivered,
                },
            ])
            .await
            .unwrap();
        assert_eq!(outcomes[..6], [WriteOutcome::Applied; 6]);
        assert_eq!(outcomes[6], WriteOutcome::NotFound);
        store.shutdown().await;
    }
    let store = Store::open(dir.path()).unwrap();
    let attempts = store.attempts(id).unwrap();
    assert_eq!(attempts.len(), 2);
    let a1 = &attempts[0];
    assert_eq!(a1.n, 1);
    assert_eq!(a1.carrier, "mno-a");
    assert_eq!(a1.carrier_ids, vec!["0A1A".to_owned(), "0A1B".to_owned()]);
    // The first segment response fixes the submit time.
    assert_eq!(a1.submitted_at_ms, Some(T0 + 10));
    assert_eq!(a1.resp_status, Some(0));
    assert_eq!(a1.receipt_status.as_deref(), Some("UNDELIV"));
    assert_eq!(a1.error_code.as_deref(), Some("001"));
    assert_eq!(a1.receipt_at_ms, Some(T0 + 900));
    assert_eq!(a1.outcome, AttemptOutcome::Failed);
    let a2 = &attempts[1];
    assert_eq!((a2.n, a2.carrier.as_str()), (2, "agg-c"));
    assert_eq!(a2.resp_status, Some(0x58));
    assert_eq!(a2.outcome, AttemptOutcome::Refused);
    assert_eq!(
        store.get(id).unwrap().unwrap().state,
        MessageState::Submitted
    );
    // Attempts of other messages are not mixed in.
    assert!(store.attempts(MessageId::new_v7()).unwrap().is_empty());
}

#[tokio::test]
async fn pending_excludes_final_states_and_final_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut ids = Vec::new();
    for seq in 0..6 {
        let m = message(seq, "shop");
        ids.push(m.id);
        store.accept(new(m)).await.unwrap();
    }
    let end = [
        MessageState::Queued,
        MessageState::Submitted,
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Expired,
        MessageState::Rejected,
    ];
    let writes = ids
        .iter()
        .zip(end)
        .map(|(&id, s)| state(id, s, T0 + 50))
        .collect();
    assert_eq!(
        store.write_all(writes).await.unwrap(),
        vec![WriteOutcome::Applied; 6]
    );
    let pending: Vec<MessageId> = store.pending().map(|m| m.unwrap().id).collect();
    // Oldest first: v7 ids are time-ordered.
    assert_eq!(pending, ids[..2].to_vec());

    // A late state after a final one is ignored: the first final state stands.
    let late = store
        .write(state(ids[2], MessageState::Failed, T0 + 60))
        .await
        .unwrap();
    assert_eq!(
        late,
        WriteOutcome::Ignored {
            current: MessageState::Delivered
        }
    );
    let back = store
        .write(state(ids[3], MessageState::Submitted, T0 + 60))
        .await
        .unwrap();
    assert_eq!(
        back,
        WriteOutcome::Ignored {
            current: MessageState::Failed
        }
    );
    assert_eq!(
        store
            .write(state(MessageId::new_v7(), MessageState::Queued, T0))
            .await
            .unwrap(),
        WriteOutcome::NotFound
    );
    let m = store.get(ids[2]).unwrap().unwrap();
    assert_eq!(
        (m.state, m.updated_at_ms),
        (MessageState::Delivered, T0 + 50)
    );
    assert_eq!(store.pending_count().unwrap(), 2);
}

#[tokio::test]
async fn unawaited_writes_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let m = message(1, "shop");
    let id = m.id;
    store.accept(new(m)).await.unwrap();
    store
        .write_nowait(state(id, MessageState::Queued, T0 + 1))
        .unwrap();
    store
        .write_nowait(state(id, MessageState::Submitted, T0 + 2))
        .unwrap();
    // An awaited write returns after every write queued before it has committed.
    store
        .write(Write::State {
            id,
            state: MessageState::Failed,
            at_ms: T0 + 3,
            error: Some("no route".into()),
        })
        .await
        .unwrap();
    let m = store.get(id).unwrap().unwrap();
    assert_eq!(m.state, MessageState::Failed);
    assert_eq!(m.updated_at_ms, T0 + 3);
    assert_eq!(m.error.as_deref(), Some("no route"));
}

/// Many concurrent accepts share commits: with 64 writers, far fewer commits than messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        StoreOptions {
            max_batch: 256,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let mut tasks = Vec::new();
    for t in 0..64u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..20 {
                let m = message(t * 100 + i, "shop");
                ids.push(m.id);
                assert_eq!(store.accept(new(m)).await.unwrap(), Accepted::New);
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 1280);
    for id in &all {
        assert!(store.get(*id).unwrap().is_some());
    }
    assert_eq!(store.pending_count().unwrap(), 1280);
    let stats = store.stats();
    assert_eq!(stats.items, 1280);
    // 64 callers waiting on fsyncs: each commit carries several of them.
    assert!(stats.commits < 1280, "{stats:?}");
    store.shutdown().await;
    assert!(!store.is_healthy());
    let err = store
        .accept(new(message(9, "shop")))
        .await
        .expect_err("closed store refuses writes");
    assert!(matches!(err, gannet::store::StoreError::Closed), "{err}");
    // Reads still work after shutdown.
    assert!(store.get(all[0]).unwrap().is_some());
}

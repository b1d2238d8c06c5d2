//! The delivery engine end to end: the real simulator on 127.0.0.1, the real carrier pool,
//! the real store on disk, the real router and receipt tracker. Each test builds a small
//! world (a direct operator `mno` and an aggregator `agg` for +44), sends messages through
//! the engine and waits for their final states from the status notifications.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gannet::api::{ManualClock, SystemClock};
use gannet::carrier::{CarrierPool, CarrierSettings};
use gannet::dlr::DlrTracker;
use gannet::engine::{self, EngineHandle, EngineParts, EngineSettings, Notifier, SharedTable};
use gannet::number::NumberType;
use gannet::routes::{MessageClass, RouteTable};
use gannet::sim::{Fault, Sim, SimConfig, SimHandle, Status};
use gannet::store::{AttemptOutcome, Channel, Message, MessageId, MessageState, NewMessage, Store};
use gannet::text::Encoding;
use gannet_smpp::CommandStatus;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Status notifications, as (url, body), and voice calls.
struct Recorder {
    tx: mpsc::UnboundedSender<Value>,
    voice_ok: bool,
}

impl Notifier for Recorder {
    fn status(&self, _url: &str, body: Bytes) {
        let v: Value = serde_json::from_slice(&body).unwrap();
        let _ = self.tx.send(v);
    }

    fn voice(&self, body: Bytes) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        let v: Value = serde_json::from_slice(&body).unwrap();
        let _ = self.tx.send(serde_json::json!({ "voice": v }));
        let ok = self.voice_ok;
        Box::pin(async move {
            if ok {
                Ok(())
            } else {
                Err("voice provider down".into())
            }
        })
    }
}

struct World {
    sim: SimHandle,
    store: Store,
    pool: CarrierPool,
    engine: EngineHandle,
    notes: mpsc::UnboundedReceiver<Value>,
    _dir: tempfile::TempDir,
}

struct Setup<'a> {
    mno: &'a str,
    agg: &'a str,
    routes_extra: &'a str,
    policy: &'a str,
    response_timeout: Duration,
    settings: EngineSettings,
    /// The engine's clock; `None`: the system's.
    clock: Option<Arc<ManualClock>>,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            mno: "",
            agg: "",
            routes_extra: "",
            policy: "exploration: 0",
            response_timeout: Duration::from_secs(5),
            settings: EngineSettings::default(),
            clock: None,
        }
    }
}

/// Health plays no part: the table's order decides every time (for tests of one trigger).
const STATIC: &str = "exploration: 0, health_floor: 0, health_tolerance: 1";

const DELIVER_FAST: &str = "    outcomes: [{ prefix: \"\", delivered: 1, delay: 20ms }]\n";

fn persona(name: &str, extra: &str) -> String {
    let extra = if extra.contains("outcomes:") {
        extra.to_string()
    } else {
        format!("{extra}{DELIVER_FAST}")
    };
    format!(
        "  - name: {name}\n    listen: 127.0.0.1:0\n    accounts: [{{ system_id: gw, password: pw }}]\n{extra}"
    )
}

async fn world(setup: Setup<'_>) -> World {
    let sim_yaml = format!(
        "seed: 11\npersonas:\n{}{}",
        persona("mno", setup.mno),
        persona("agg", setup.agg)
    );
    let sim = Sim::start(SimConfig::parse(Path::new("sim-test.yaml"), &sim_yaml).unwrap())
        .await
        .unwrap();
    let routes = format!(
        r#"
policy: {{ {} }}
defaults:
  receipt_deadline: {{ otp: 10s, transactional: 10s, marketing: 10s }}
carriers:
  mno:
    kind: direct
    reaches: ["44"]
    cost: {{ "44": 0.03 }}
    features: [unicode, concatenation]
  agg:
    kind: intermediary
    reaches: ["44"]
    cost: {{ "44": 0.04 }}
    features: [unicode, concatenation]
routes:
  - prefix: "44"
    candidates: {{ default: [mno, agg] }}
{}
"#,
        setup.policy, setup.routes_extra
    );
    let table = Arc::new(RouteTable::parse(Path::new("routes-test.yaml"), &routes).unwrap());
    let carriers = ["mno", "agg"]
        .iter()
        .map(|name| {
            let addr = sim.persona_addr(name);
            let mut s = CarrierSettings::new(name, "127.0.0.1", addr.port(), "gw", "pw");
            s.window = 64;
            s.response_timeout = setup.response_timeout;
            s.reconnect.initial = Duration::from_millis(50);
            s.reconnect.max = Duration::from_millis(200);
            s.shutdown_grace = Duration::from_millis(200);
            s
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let (ev_tx, ev_rx) = mpsc::channel(4096);
    let pool = CarrierPool::start(carriers, ev_tx, CancellationToken::new()).unwrap();
    let (tx, notes) = mpsc::unbounded_channel();
    let engine = engine::start(EngineParts {
        store: store.clone(),
        pool: pool.clone(),
        pool_events: ev_rx,
        table: SharedTable::new(table),
        tracker: Arc::new(DlrTracker::default()),
        notifier: Arc::new(Recorder { tx, voice_ok: true }),
        clock: match setup.clock {
            Some(c) => c,
            None => Arc::new(SystemClock::new()),
        },
        settings: setup.settings,
        resume: true,
    });
    World {
        sim,
        store,
        pool,
        engine,
        notes,
        _dir: dir,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn message(seq: u32, class: MessageClass, validity: Duration) -> Message {
    let now = now_ms();
    Message {
        id: MessageId::new_v7(),
        client: "c".into(),
        to: format!("+4477009{seq:05}"),
        from: "Gannet".into(),
        text: format!("Your code is {seq:06}"),
        class,
        valid_until_ms: now + validity.as_millis() as u64,
        callback_url: Some("http://127.0.0.1:9/hook".into()),
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
        accepted_at_ms: now,
        updated_at_ms: now,
        error: None,
    }
}

impl World {
    async fn send(&self, m: Message) -> MessageId {
        let id = m.id;
        self.store
            .accept(NewMessage {
                message: m.clone(),
                replay: None,
            })
            .await
            .unwrap();
        use gannet::api::Dispatch;
        self.engine
            .dispatcher()
            .dispatch(m, std::time::Instant::now());
        id
    }

    /// Waits for `n` final notifications; returns them by message id.
    async fn finals(&mut self, n: usize, within: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        while out.len() < n {
            let v = tokio::time::timeout_at(deadline, self.notes.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "only {} of {n} final states in {within:?}: {out:?}",
                        out.len()
                    )
                })
                .unwrap();
            let s = v["status"].as_str().unwrap_or("");
            if matches!(s, "delivered" | "failed" | "expired" | "rejected" | "sent") {
                out.push(v);
            }
        }
        out
    }

    async fn stop(self) {
        self.pool.shutdown().await;
        self.engine.stopped().await;
        self.store.shutdown().await;
        self.sim.shutdown().await;
    }
}

fn id_of(v: &Value) -> MessageId {
    v["id"].as_str().unwrap().parse().unwrap()
}

/// How a final notification says the message ended: status and carrier.
fn ended(f: &Value) -> (Option<&str>, Option<&str>) {
    (f["status"].as_str(), f["carrier"].as_str())
}

#[tokio::test]
async fn direct_route_first_and_every_attempt_recorded() {
    let mut w = world(Setup::default()).await;
    for i in 0..20 {
        w.send(message(i, MessageClass::Otp, Duration::from_secs(60)))
            .await;
    }
    let finals = w.finals(20, Duration::from_secs(20)).await;
    for f in &finals {
        assert_eq!(f["status"], "delivered", "{f}");
        assert_eq!(f["carrier"], "mno");
        assert_eq!(f["attempt"], 1);
        let id = id_of(f);
        let m = w.store.get(id).unwrap().unwrap();
        assert_eq!(m.state, MessageState::Delivered);
        let a = w.store.attempts(id).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].carrier, "mno");
        assert_eq!(a[0].route, "44");
        assert_eq!(a[0].outcome, AttemptOutcome::Delivered);
        assert_eq!(a[0].receipt_status.as_deref(), Some("DELIVRD"));
        assert_eq!(a[0].carrier_ids.len(), 1);
        assert!(a[0].receipt_at_ms.is_some());
    }
    assert_eq!(w.sim.stats("mno").unwrap().submits, 20);
    assert_eq!(w.sim.stats("agg").unwrap().submits, 0);
    let s = w.engine.stats();
    assert_eq!((s.delivered, s.failovers, s.in_flight), (20, 0, 0));
    assert_eq!(w.store.pending_count().unwrap(), 0);
    w.stop().await;
}

#[tokio::test]
async fn negative_receipt_fails_over_to_the_next_route() {
    let mut w = world(Setup {
        mno: "    outcomes: [{ prefix: \"\", undeliverable: 1, err: { undeliverable: 34 }, delay: 20ms }]\n",
        policy: STATIC,
        ..Setup::default()
    })
    .await;
    for i in 0..10 {
        w.send(message(i, MessageClass::Otp, Duration::from_secs(60)))
            .await;
    }
    for f in w.finals(10, Duration::from_secs(20)).await {
        assert_eq!(ended(&f), (Some("delivered"), Some("agg")));
        assert_eq!(f["attempt"], 2);
        let a = w.store.attempts(id_of(&f)).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].carrier.as_str(), a[0].outcome),
            ("mno", AttemptOutcome::Failed)
        );
        assert_eq!(a[0].receipt_status.as_deref(), Some("UNDELIV"));
        assert_eq!(a[0].error_code.as_deref(), Some("34"));
        assert_eq!(
            (a[1].carrier.as_str(), a[1].outcome),
            ("agg", AttemptOutcome::Delivered)
        );
    }
    assert_eq!(w.engine.stats().failovers, 10);
    w.stop().await;
}

#[tokio::test]
async fn permanent_submit_error_fails_over() {
    let mut w = world(Setup {
        policy: STATIC,
        ..Setup::default()
    })
    .await;
    w.sim
        .fault(
            "mno",
            Fault::RejectSubmits {
                status: Some(Status(CommandStatus::ESME_RINVDSTADR)),
            },
        )
        .unwrap();
    for i in 0..5 {
        w.send(message(
            i,
            MessageClass::Transactional,
            Duration::from_secs(60),
        ))
        .await;
    }
    for f in w.finals(5, Duration::from_secs(20)).await {
        assert_eq!(ended(&f), (Some("delivered"), Some("agg")));
        let a = w.store.attempts(id_of(&f)).unwrap();
        assert_eq!(a[0].outcome, AttemptOutcome::Refused);
        assert_eq!(a[0].resp_status, Some(CommandStatus::ESME_RINVDSTADR.0));
    }
    w.stop().await;
}

#[tokio::test]
async fn missing_receipt_by_the_deadline_fails_over() {
    let mut w = world(Setup {
        mno: "    outcomes: [{ prefix: \"\", no_receipt: 1 }]\n",
        routes_extra: "    receipt_deadline: { otp: 300ms }\n",
        policy: STATIC,
        ..Setup::default()
    })
    .await;
    for i in 0..5 {
        w.send(message(i, MessageClass::Otp, Duration::from_secs(60)))
            .await;
    }
    for f in w.finals(5, Duration::from_secs(20)).await {
        assert_eq!(ended(&f), (Some("delivered"), Some("agg")));
        let a = w.store.attempts(id_of(&f)).unwrap();
        assert_eq!(a[0].outcome, AttemptOutcome::TimedOut);
        assert!(
            a[0].error_code.as_deref().unwrap().contains("no receipt"),
            "{:?}",
            a[0]
        );
    }
    w.stop().await;
}

#[tokio::test]
async fn no_failover_past_validity() {
    let mut w = world(Setup {
        mno: "    outcomes: [{ prefix: \"\", no_receipt: 1 }]\n",
        routes_extra: "    receipt_deadline: { otp: 400ms }\n",
        ..Setup::default()
    })
    .await;
    // Valid for less than the receipt deadline: when the deadline passes, the OTP is
    // worthless and must not go out again.
    w.send(message(1, MessageClass::Otp, Duration::from_millis(300)))
        .await;
    let f = w.finals(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(f["status"], "expired");
    let a = w.store.attempts(id_of(&f)).unwrap();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].outcome, AttemptOutcome::TimedOut);
    assert_eq!(w.sim.stats("agg").unwrap().submits, 0);
    w.stop().await;
}

#[tokio::test]
async fn unanswered_submit_is_ambiguous_otp_resent_marketing_not() {
    let mut w = world(Setup {
        response_timeout: Duration::from_millis(300),
        policy: STATIC,
        ..Setup::default()
    })
    .await;
    w.sim
        .fault("mno", Fault::DropResponses { ratio: 1.0 })
        .unwrap();
    w.send(message(1, MessageClass::Otp, Duration::from_secs(60)))
        .await;
    w.send(message(2, MessageClass::Marketing, Duration::from_secs(60)))
        .await;
    let finals = w.finals(2, Duration::from_secs(20)).await;
    for f in finals {
        let a = w.store.attempts(id_of(&f)).unwrap();
        assert_eq!(a[0].outcome, AttemptOutcome::Ambiguous, "{f}");
        if f["client_ref"] == "ref-1" {
            assert_eq!(ended(&f), (Some("delivered"), Some("agg")));
        } else {
            assert_eq!(f["status"], "failed", "{a:?}");
            assert_eq!(a.len(), 1);
        }
    }
    assert!(w.engine.stats().possible_duplicates >= 1);
    w.stop().await;
}

#[tokio::test]
async fn receipt_before_response_is_matched() {
    let mut w = world(Setup::default()).await;
    w.sim
        .fault("mno", Fault::ReceiptBeforeResponse { enabled: true })
        .unwrap();
    for i in 0..10 {
        w.send(message(i, MessageClass::Otp, Duration::from_secs(60)))
            .await;
    }
    for f in w.finals(10, Duration::from_secs(20)).await {
        assert_eq!(ended(&f), (Some("delivered"), Some("mno")));
    }
    assert_eq!(w.engine.tracker().stats().matched_early, 10);
    w.stop().await;
}

#[tokio::test]
async fn every_receipt_id_style_is_matched() {
    let styles = [
        "{ format: { style: decimal } }",
        "{ format: { style: hex, case: lower } }",
        "{ format: { style: hex, width: 12, case: upper } }",
        "{ format: { style: uuid } }",
        "{ format: { style: hex, width: 10, case: upper }, receipt_format: { style: decimal } }",
        "{ format: { style: decimal }, receipt_format: { style: hex } }",
        "{ format: { style: hex, case: lower }, receipt_format: { style: decimal, width: 20 } }",
    ];
    for (k, style) in styles.iter().enumerate() {
        let mno = format!(
            "    message_ids: {style}\n    receipts: {{ format: {} }}\n",
            ["text", "tlv", "both"][k % 3]
        );
        let mut w = world(Setup {
            mno: &mno,
            ..Setup::default()
        })
        .await;
        for i in 0..5 {
            w.send(message(i, MessageClass::Otp, Duration::from_secs(60)))
                .await;
        }
        for f in w.finals(5, Duration::from_secs(20)).await {
            assert_eq!(
                ended(&f),
                (Some("delivered"), Some("mno")),
                "style {style}: {f}"
            );
        }
        assert_eq!(w.engine.stats().unmatched_receipts, 0, "style {style}");
        w.stop().await;
    }
}

#[tokio::test]
async fn carrier_down_sends_queued_messages_elsewhere() {
    let mut w = world(Setup::default()).await;
    // Let the first message find the binds up, then take the operator away for good.
    w.send(message(0, MessageClass::Otp, Duration::from_secs(60)))
        .await;
    assert_eq!(
        w.finals(1, Duration::from_secs(10)).await[0]["carrier"],
        "mno"
    );
    w.sim
        .fault(
            "mno",
            Fault::RefuseBinds {
                duration: Duration::from_secs(600),
                status: None,
            },
        )
        .unwrap();
    w.sim.fault("mno", Fault::Reset).unwrap();
    for i in 1..=20 {
        w.send(message(i, MessageClass::Otp, Duration::from_secs(60)))
            .await;
    }
    for f in w.finals(20, Duration::from_secs(20)).await {
        assert_eq!(ended(&f), (Some("delivered"), Some("agg")), "{f}");
    }
    w.stop().await;
}

#[tokio::test]
async fn traffic_moves_off_a_failing_route_and_back_when_it_recovers() {
    // mno fails every message to +447700900xxx and delivers every other; the first batch
    // goes to the failing range, the second to the good one.
    // Health ages on the engine's clock, which the test moves 20 ms per message: how far the
    // failures have faded does not depend on how fast this machine runs the test.
    let mut settings = EngineSettings::default();
    settings.health.half_life = Duration::from_millis(500);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let clock = Arc::new(ManualClock::new(now));
    let mut w = world(Setup {
        mno: "    outcomes:\n      - { prefix: \"447700900\", undeliverable: 1, delay: 10ms }\n      - { prefix: \"\", delivered: 1, delay: 10ms }\n",
        policy: "exploration: 0.3",
        settings,
        clock: Some(clock.clone()),
        ..Setup::default()
    })
    .await;
    let step = Duration::from_millis(20);
    let to = |prefix: &str, i: u32| {
        let mut m = message(i, MessageClass::Otp, Duration::from_secs(60));
        m.to = format!("+{prefix}{i:03}");
        m
    };
    let bad = |i| to("447700900", i);
    let good = |i| to("447711200", i);
    for i in 0..30 {
        w.send(bad(i)).await;
        w.finals(1, Duration::from_secs(10)).await;
        clock.advance(step);
    }
    // mno's receipts all failed: its health is below the floor, so first attempts go to agg.
    let before = w.sim.stats("agg").unwrap().submits;
    for i in 0..10 {
        w.send(good(i)).await;
        w.finals(1, Duration::from_secs(10)).await;
        clock.advance(step);
    }
    let firsts_on_agg = w.sim.stats("agg").unwrap().submits - before;
    assert!(
        firsts_on_agg >= 5,
        "only {firsts_on_agg} of 10 moved to agg"
    );
    // Exploration keeps measuring mno, its receipts are good again, and it wins back.
    let mut last = Vec::new();
    for i in 0..60 {
        w.send(good(100 + i)).await;
        let f = w.finals(1, Duration::from_secs(10)).await.remove(0);
        clock.advance(step);
        last.push(f["carrier"].as_str().unwrap().to_string());
    }
    let tail = &last[last.len() - 10..];
    let on_mno = tail.iter().filter(|c| *c == "mno").count();
    assert!(on_mno >= 6, "mno did not win back traffic: {last:?}");
    w.stop().await;
}

#[tokio::test]
async fn voice_after_sms_is_exhausted() {
    let mut w = world(Setup {
        mno: "    outcomes: [{ prefix: \"\", undeliverable: 1, delay: 10ms }]\n",
        agg: "    outcomes: [{ prefix: \"\", undeliverable: 1, delay: 10ms }]\n",
        routes_extra: "    fallback: { channel: voice, classes: [otp] }\n",
        ..Setup::default()
    })
    .await;
    let id = w
        .send(message(7, MessageClass::Otp, Duration::from_secs(60)))
        .await;
    let f = w.finals(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(f["status"], "delivered");
    assert_eq!(f["carrier"], "voice");
    let a = w.store.attempts(id).unwrap();
    let carriers: Vec<_> = a.iter().map(|a| (a.carrier.as_str(), a.outcome)).collect();
    assert_eq!(
        carriers,
        vec![
            ("mno", AttemptOutcome::Failed),
            ("agg", AttemptOutcome::Failed),
            ("voice", AttemptOutcome::Voice)
        ]
    );
    assert_eq!(w.engine.stats().voice, 1);
    w.stop().await;
}

#[tokio::test]
async fn no_receipt_asked_ends_sent_at_the_carriers_acceptance() {
    let mut w = world(Setup {
        mno: "    outcomes: [{ prefix: \"\", undeliverable: 1, delay: 10ms }]\n",
        ..Setup::default()
    })
    .await;
    let mut m = message(9, MessageClass::Marketing, Duration::from_secs(60));
    m.receipt = false;
    let id = w.send(m).await;
    let f = w.finals(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(ended(&f), (Some("sent"), Some("mno")));
    let a = w.store.attempts(id).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].outcome, AttemptOutcome::Submitted);
    assert_eq!(w.store.get(id).unwrap().unwrap().state, MessageState::Sent);
    // Asked for none: the carrier's failure report is not sent, so nothing fails over.
    let received = w.sim.received("mno").unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(w.engine.stats().sent, 1);
    w.stop().await;
}

#[tokio::test]
async fn unanswered_submits_of_a_carrier_that_goes_away_are_rerouted() {
    let mut w = world(Setup {
        policy: STATIC,
        response_timeout: Duration::from_secs(30),
        ..Setup::default()
    })
    .await;
    // mno takes the submits and never answers; then it goes away for good.
    w.sim
        .fault("mno", Fault::DropResponses { ratio: 1.0 })
        .unwrap();
    for i in 0..5 {
        w.send(message(i, MessageClass::Otp, Duration::from_secs(60)))
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.sim.stats("mno").unwrap().submits < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "submits never reached mno"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w.sim
        .fault(
            "mno",
            Fault::RefuseBinds {
                duration: Duration::from_secs(600),
                status: None,
            },
        )
        .unwrap();
    w.sim.fault("mno", Fault::Reset).unwrap();
    // Long before the 30 s response timeout: the link's death hands them back, and with
    // every bind down they go to agg (a possible duplicate each: mno may have them).
    for f in w.finals(5, Duration::from_secs(10)).await {
        assert_eq!(ended(&f), (Some("delivered"), Some("agg")), "{f}");
        let a = w.store.attempts(id_of(&f)).unwrap();
        assert_eq!(a[0].outcome, AttemptOutcome::Ambiguous);
    }
    assert!(w.engine.stats().possible_duplicates >= 5);
    w.stop().await;
}

//! The HTTP API through `tower::ServiceExt::oneshot` on `router(state)`, with the real store
//! in a temporary directory and the clock injected; one test over a real TCP port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use gannet::api::admission::refusal;
use gannet::api::{
    self, Admission, AdmissionRequest, Admitted, ApiConfig, ApiSettings, ApiState, ClientConfig,
    ClientSettings, ManualClock, Rate, RecordingDispatch, Refusal, hash_api_key,
};
use gannet::number::{NumberType, SmsReachability};
use gannet::store::{
    Attempt, AttemptOutcome, Channel, MessageId, MessageState, Store, StoreConfig, Write,
};

const KEY: &str = "shop-test-key-1";
const OTHER_KEY: &str = "bank-test-key-2";
/// 2026-09-21T10:00:00Z
const T0: u64 = 1_789_984_800_000;

const MOBILE_GB: &str = "+447400123456";
const LANDLINE_GB: &str = "+442079460958";
const PREMIUM_GB: &str = "+449098790000";

struct Harness {
    router: Router,
    store: Store,
    dispatch: RecordingDispatch,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn client(name: &str, key: &str, rate: Rate) -> ClientSettings {
    ClientSettings::with_key(name, key, rate)
}

const GENEROUS: Rate = Rate {
    per_second: 1000.0,
    burst: 1000,
};

fn settings() -> ApiSettings {
    ApiSettings {
        default_region: Some("GB".into()),
        max_batch: 5,
        ..ApiSettings::default()
    }
}

fn harness() -> Harness {
    harness_with(settings(), GENEROUS, None)
}

fn harness_with(
    settings: ApiSettings,
    rate: Rate,
    admission: Option<Arc<dyn Admission>>,
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let dispatch = RecordingDispatch::default();
    let clock = Arc::new(ManualClock::new(T0));
    let mut builder = ApiState::builder(
        store.clone(),
        settings,
        vec![
            client("shop", KEY, rate),
            client("bank", OTHER_KEY, GENEROUS),
        ],
    )
    .clock(clock.clone())
    .dispatch(Arc::new(dispatch.clone()))
    .metrics(api::telemetry::prometheus());
    if let Some(a) = admission {
        builder = builder.admission(a);
    }
    Harness {
        router: api::router(builder.build()),
        store,
        dispatch,
        clock,
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let raw = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(post(path, KEY, body)).await
    }

    async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }
}

fn post(path: &str, key: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn otp(to: &str) -> Value {
    json!({ "to": to, "from": "Gannet", "text": "Your code is 481516", "class": "otp" })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn id_of(v: &Value) -> MessageId {
    v["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn accept_one_answers_with_computed_fields_and_stores_it() {
    let h = harness();
    let body = with(otp("07400 123456"), "client_ref", json!("order-1"));
    let r = h.post("/v1/messages", &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["status"], "accepted");
    assert_eq!(b["to"], MOBILE_GB);
    assert_eq!(b["number_type"], "mobile");
    assert_eq!(b["country"], "GB");
    assert_eq!(b["route_class"], "otp");
    assert_eq!(b["channel"], "sms");
    assert_eq!(b["encoding"], "gsm7");
    assert_eq!(b["segments"], 1);
    assert_eq!(b["non_gsm_characters"], json!([]));
    assert_eq!(b["transliterated"], json!([]));
    // Default OTP validity: 10 minutes after T0.
    assert_eq!(b["valid_until"], "2026-09-21T10:10:00.000Z");
    assert_eq!(b["client_ref"], "order-1");

    let id = id_of(b);
    let m = h.store.get(id).unwrap().expect("stored before the answer");
    assert_eq!(m.to, MOBILE_GB);
    assert_eq!(m.from, "Gannet");
    assert_eq!(m.text, "Your code is 481516");
    assert_eq!(m.client, "shop");
    assert_eq!(m.state, MessageState::Accepted);
    assert_eq!(m.number_type, NumberType::Mobile);
    assert_eq!(m.accepted_at_ms, T0);
    assert_eq!(m.valid_until_ms, T0 + 600_000);
    assert_eq!(m.segments, 1);
    let pending: Vec<MessageId> = h.store.pending().map(|m| m.unwrap().id).collect();
    assert_eq!(pending, vec![id]);
    assert_eq!(h.dispatch.ids(), vec![id]);
}

#[tokio::test]
async fn answer_names_what_forced_ucs2_and_what_was_transliterated() {
    let h = harness();
    let r = h
        .post(
            "/v1/messages",
            &with(otp(MOBILE_GB), "text", json!("Kod 1234 ✓ Łódź")),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["encoding"], "ucs2");
    assert_eq!(r.body["non_gsm_characters"], json!(["✓", "Ł", "ó", "ź"]));

    let body = json!({
        "to": MOBILE_GB, "from": "Gannet", "text": "Kod 1234 Łódź", "class": "transactional",
        "transliterate": true, "validity": "2h",
    });
    let r = h.post("/v1/messages", &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["encoding"], "gsm7");
    assert_eq!(
        r.body["transliterated"],
        json!([{ "from": "Ł", "to": "L" }, { "from": "ó", "to": "o" }, { "from": "ź", "to": "z" }])
    );
    assert_eq!(r.body["route_class"], "transactional");
    assert_eq!(r.body["valid_until"], "2026-09-21T12:00:00.000Z");
    let m = h.store.get(id_of(&r.body)).unwrap().unwrap();
    assert!(m.transliterate);
    // The text is kept as written; transliteration is redone at submit time per carrier.
    assert_eq!(m.text, "Kod 1234 Łódź");
}

#[tokio::test]
async fn batch_gives_per_item_results() {
    let h = harness();
    let body = json!({ "messages": [
        otp(MOBILE_GB),
        otp("+44 12"),
        with(otp("+919876543210"), "class", json!("marketing")),
    ]});
    let r = h.post("/v1/messages/batch", &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["accepted"], 2);
    assert_eq!(r.body["rejected"], 1);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["index"], 0);
    assert_eq!(results[0]["status"], "accepted");
    assert_eq!(results[0]["to"], MOBILE_GB);
    assert_eq!(results[1]["index"], 1);
    assert_eq!(results[1]["status"], "rejected");
    assert_eq!(results[1]["error"]["code"], "invalid_field");
    assert_eq!(results[1]["error"]["field"], "messages[1].to");
    assert_eq!(results[1]["error"]["reason"], "invalid_number");
    assert_eq!(results[2]["to"], "+919876543210");
    assert_eq!(results[2]["route_class"], "marketing");

    let ids = [id_of(&results[0]), id_of(&results[2])];
    for id in ids {
        assert!(h.store.get(id).unwrap().is_some());
    }
    assert_eq!(h.dispatch.ids(), ids.to_vec());

    // Nothing accepted: 400 with the same per-item results.
    let r = h
        .post(
            "/v1/messages/batch",
            &json!({ "messages": [otp(LANDLINE_GB), with(otp(MOBILE_GB), "text", json!(""))] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "batch_rejected");
    assert_eq!(r.body["results"][0]["error"]["reason"], "fixed_line");
    assert_eq!(r.body["results"][1]["error"]["field"], "messages[1].text");
}

/// Every validation error names its field.
#[tokio::test]
async fn validation_errors_name_their_field() {
    let h = harness();
    let long_text = "x".repeat(153 * 10 + 1); // 11 concatenated GSM segments; the limit is 10
    let cases: Vec<(Value, &str, &str)> = vec![
        (otp("+44 12"), "to", "invalid_number"),
        (otp("not a number"), "to", "invalid_number"),
        (otp(LANDLINE_GB), "to", "fixed_line"),
        (otp(PREMIUM_GB), "to", "premium_rate"),
        (with(otp(MOBILE_GB), "text", json!("")), "text", "empty"),
        (with(otp(MOBILE_GB), "text", json!("   ")), "text", "empty"),
        (
            with(otp(MOBILE_GB), "text", json!(long_text)),
            "text",
            "too_long",
        ),
        (
            with(otp(MOBILE_GB), "class", json!("promo")),
            "class",
            "invalid_value",
        ),
        (
            with(otp(MOBILE_GB), "validity", json!("5 parsecs")),
            "validity",
            "invalid_value",
        ),
        (
            with(otp(MOBILE_GB), "validity", json!("4d")),
            "validity",
            "out_of_range",
        ),
        (
            with(otp(MOBILE_GB), "validity", json!("0s")),
            "validity",
            "out_of_range",
        ),
        (
            with(otp(MOBILE_GB), "colour", json!("red")),
            "colour",
            "unknown_field",
        ),
        (
            with(otp(MOBILE_GB), "to", json!(447400123456u64)),
            "to",
            "invalid_type",
        ),
        (
            with(otp(MOBILE_GB), "transliterate", json!("yes")),
            "transliterate",
            "invalid_value",
        ),
        (
            with(otp(MOBILE_GB), "from", json!("TwelveLetter")),
            "from",
            "invalid_sender",
        ),
        (
            with(otp(MOBILE_GB), "from", json!("12")),
            "from",
            "invalid_sender",
        ),
        (
            with(otp(MOBILE_GB), "callback_url", json!("ftp://x")),
            "callback_url",
            "invalid_url",
        ),
        (
            with(
                otp(MOBILE_GB),
                "dlt",
                json!({ "entity_id": "12a", "template_id": "1" }),
            ),
            "dlt.entity_id",
            "invalid_value",
        ),
        (
            with(
                otp(MOBILE_GB),
                "dlt",
                json!({ "entity_id": "1", "templ": "1" }),
            ),
            "dlt",
            "invalid_value",
        ),
        (
            json!({ "to": MOBILE_GB, "from": "Gannet", "text": "hi" }),
            "class",
            "missing_field",
        ),
    ];
    for (body, field, reason) in cases {
        let r = h.post("/v1/messages", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} -> {}", r.body);
        let e = &r.body["error"];
        assert_eq!(e["code"], "invalid_field", "{body} -> {e}");
        assert_eq!(e["field"], field, "{body} -> {e}");
        assert_eq!(e["reason"], reason, "{body} -> {e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    // The text error says how many segments it took.
    let r = h
        .post(
            "/v1/messages",
            &with(otp(MOBILE_GB), "text", json!("x".repeat(1531))),
        )
        .await;
    assert_eq!(r.body["error"]["segments"], 11);
    assert_eq!(r.body["error"]["max_segments"], 10);
    // The number error carries the number module's cause.
    let r = h.post("/v1/messages", &otp("+44 12")).await;
    assert_eq!(r.body["error"]["cause"], "too_short");
    // Nothing was stored or dispatched.
    assert_eq!(h.store.pending_count().unwrap(), 0);
    assert!(h.dispatch.ids().is_empty());
}

#[tokio::test]
async fn body_errors_use_the_same_error_body() {
    let h = harness_with(
        ApiSettings {
            body_limit: 2048,
            ..settings()
        },
        GENEROUS,
        None,
    );
    // Not JSON: serde's message with its position.
    let req = Request::post("/v1/messages")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"to\": \"+447400123456\",}"))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "invalid_json");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("trailing comma at line 1 column 24"),
        "{}",
        r.body
    );
    // Not declared JSON.
    let req = Request::post("/v1/messages")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "text/plain")
        .body(Body::from(otp(MOBILE_GB).to_string()))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.body["error"]["code"], "unsupported_media_type");
    // A JSON array where an object is expected.
    let r = h.post("/v1/messages", &json!([otp(MOBILE_GB)])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["reason"], "invalid_type");
    // Larger than the body limit.
    let r = h
        .post(
            "/v1/messages",
            &with(otp(MOBILE_GB), "text", json!("y".repeat(4000))),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "body_too_large");
    // A batch over max_batch (5 here).
    let r = h
        .post(
            "/v1/messages/batch",
            &json!({ "messages": vec![otp(MOBILE_GB); 6] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "batch_too_large");
    assert_eq!(r.body["error"]["field"], "messages");
    // Batch envelope errors.
    let r = h
        .post("/v1/messages/batch", &json!({ "messages": {} }))
        .await;
    assert_eq!(
        (
            r.status,
            &r.body["error"]["field"],
            &r.body["error"]["reason"]
        ),
        (
            StatusCode::BAD_REQUEST,
            &json!("messages"),
            &json!("invalid_type")
        )
    );
    let r = h
        .post("/v1/messages/batch", &json!({ "messages": [] }))
        .await;
    assert_eq!(r.body["error"]["reason"], "empty");
    let r = h
        .post(
            "/v1/messages/batch",
            &json!({ "messages": [otp(MOBILE_GB)], "x": 1 }),
        )
        .await;
    assert_eq!(r.body["error"]["reason"], "unknown_field");
    // Unknown routes and methods answer in the same shape.
    let r = h.get("/v2/nothing", Some(KEY)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "route_not_found");
    let r = h.get("/v1/messages", Some(KEY)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_answer_and_dispatches_once() {
    let h = harness();
    let req = |body: &Value| {
        let mut r = post("/v1/messages", KEY, body);
        r.headers_mut()
            .insert("idempotency-key", "order-42".parse().unwrap());
        r
    };
    let first = h.send(req(&otp(MOBILE_GB))).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let id = id_of(&first.body);

    // Later, same request (the number written differently is the same number).
    h.clock.advance(Duration::from_secs(30));
    let again = h.send(req(&otp("07400 123456"))).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.raw, first.raw, "the first answer, byte for byte");
    assert_eq!(h.dispatch.ids(), vec![id]);
    assert_eq!(h.store.pending_count().unwrap(), 1);

    // Same key, different body: a conflict naming the first message.
    let other = h
        .send(req(&with(
            otp(MOBILE_GB),
            "text",
            json!("Your code is 000000"),
        )))
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.body["error"]["code"], "idempotency_conflict");
    assert_eq!(other.body["error"]["field"], "idempotency_key");
    assert_eq!(other.body["error"]["id"], id.to_string());

    // The key in the body works the same way; another client's same key is its own.
    let body = with(otp(MOBILE_GB), "idempotency_key", json!("order-42"));
    let replay = h.post("/v1/messages", &body).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(id_of(&replay.body), id);
    let theirs = h.send(post("/v1/messages", OTHER_KEY, &body)).await;
    assert_eq!(theirs.status, StatusCode::ACCEPTED);
    assert!(theirs.headers.get("idempotent-replayed").is_none());
    assert_ne!(id_of(&theirs.body), id);

    // Header and body keys that disagree are refused.
    let mut r = post("/v1/messages", KEY, &body);
    r.headers_mut()
        .insert("idempotency-key", "other".parse().unwrap());
    let r = h.send(r).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["reason"], "mismatch");

    // A batch with a key replays item by item.
    let batch = json!({ "messages": [otp(MOBILE_GB), otp("+919876543210")] });
    let mut b1 = post("/v1/messages/batch", KEY, &batch);
    b1.headers_mut()
        .insert("idempotency-key", "batch-1".parse().unwrap());
    let b1 = h.send(b1).await;
    let mut b2 = post("/v1/messages/batch", KEY, &batch);
    b2.headers_mut()
        .insert("idempotency-key", "batch-1".parse().unwrap());
    let b2 = h.send(b2).await;
    assert_eq!(b2.status, StatusCode::ACCEPTED);
    for i in 0..2 {
        assert_eq!(b2.body["results"][i]["id"], b1.body["results"][i]["id"]);
        assert_eq!(b2.body["results"][i]["replayed"], true);
    }
    assert_eq!(h.dispatch.ids().len(), 4);
}

#[tokio::test]
async fn get_shows_status_and_every_attempt() {
    let h = harness();
    let r = h.post("/v1/messages", &otp(MOBILE_GB)).await;
    let id = id_of(&r.body);
    h.store
        .write_all(vec![
            Write::Attempt {
                id,
                attempt: Attempt {
                    n: 1,
                    carrier: "mno-a".into(),
                    route: "447".into(),
                    carrier_ids: vec!["5F2A".into()],
                    submitted_at_ms: Some(T0 + 40),
                    resp_status: Some(0),
                    receipt_status: Some("UNDELIV".into()),
                    receipt_at_ms: Some(T0 + 9_000),
                    error_code: Some("034".into()),
                    outcome: AttemptOutcome::Failed,
                },
            },
            Write::Attempt {
                id,
                attempt: Attempt {
                    n: 2,
                    carrier: "agg-c".into(),
                    route: "44".into(),
                    carrier_ids: vec!["991".into()],
                    submitted_at_ms: Some(T0 + 9_100),
                    resp_status: Some(0),
                    outcome: AttemptOutcome::Submitted,
                    ..Attempt::default()
                },
            },
            Write::State {
                id,
                state: MessageState::Submitted,
                at_ms: T0 + 9_100,
                error: None,
            },
        ])
        .await
        .unwrap();

    let r = h.get(&format!("/v1/messages/{id}"), Some(KEY)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["id"], id.to_string());
    assert_eq!(b["status"], "submitted");
    assert_eq!(b["to"], MOBILE_GB);
    assert_eq!(b["accepted_at"], "2026-09-21T10:00:00.000Z");
    assert_eq!(b["updated_at"], "2026-09-21T10:00:09.100Z");
    assert!(b.get("text").is_none(), "the text (an OTP) is never echoed");
    let attempts = b["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts[0],
        json!({
            "n": 1, "carrier": "mno-a", "route": "447", "carrier_message_ids": ["5F2A"],
            "submitted_at": "2026-09-21T10:00:00.040Z", "resp_status": "0x00000000",
            "receipt_status": "UNDELIV", "receipt_at": "2026-09-21T10:00:09.000Z",
            "error_code": "034", "outcome": "failed",
        })
    );
    assert_eq!(attempts[1]["carrier"], "agg-c");
    assert_eq!(attempts[1]["receipt_status"], Value::Null);
    assert_eq!(attempts[1]["outcome"], "submitted");

    // Another client's message, an unknown id and a malformed id all look the same.
    for (path, key) in [
        (format!("/v1/messages/{id}"), OTHER_KEY),
        (format!("/v1/messages/{}", MessageId::new_v7()), KEY),
        ("/v1/messages/not-an-id".to_owned(), KEY),
    ] {
        let r = h.get(&path, Some(key)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body["error"]["code"], "message_not_found");
    }
}

#[tokio::test]
async fn requests_without_a_valid_key_get_401() {
    let h = harness();
    let r = h.get("/v1/messages/x", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_eq!(r.body["error"]["code"], "missing_api_key");
    let r = h
        .send(post("/v1/messages", "wrong-key", &otp(MOBILE_GB)))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "invalid_api_key");
    let req = Request::get("/v1/messages/x")
        .header("authorization", format!("Basic {KEY}"))
        .body(Body::empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.body["error"]["code"], "invalid_api_key");
    assert_eq!(h.store.pending_count().unwrap(), 0);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let h = harness_with(
        settings(),
        Rate {
            per_second: 0.5,
            burst: 2,
        },
        None,
    );
    let unknown = format!("/v1/messages/{}", MessageId::new_v7());
    for _ in 0..2 {
        assert_eq!(
            h.get(&unknown, Some(KEY)).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let r = h.get(&unknown, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // One token per two seconds.
    assert_eq!(r.headers["retry-after"], "2");
    assert_eq!(r.body["error"]["code"], "rate_limited");
    assert_eq!(r.body["error"]["retry_after"], 2);
    // Other clients have their own buckets.
    assert_eq!(
        h.get(&unknown, Some(OTHER_KEY)).await.status,
        StatusCode::NOT_FOUND
    );
    h.clock.advance(Duration::from_secs(1));
    let r = h.get(&unknown, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "1");
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(
        h.get(&unknown, Some(KEY)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let h = harness();
    let r = h.get("/healthz", None).await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (StatusCode::OK, &json!("ok"))
    );
    let r = h.get("/readyz", None).await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (StatusCode::OK, &json!("ready"))
    );

    let r = h.post("/v1/messages", &otp(MOBILE_GB)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = h.post("/v1/messages", &otp(LANDLINE_GB)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h.get("/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = String::from_utf8(r.raw).unwrap();
    let accepted = metric(&text, "gannet_api_accepted_total{class=\"otp\"}");
    assert!(accepted >= 1.0, "{text}");
    assert!(metric(&text, "gannet_api_rejected_total{reason=\"fixed_line\"}") >= 1.0);
    assert!(
        text.contains("gannet_api_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("route=\"/v1/messages\""), "{text}");
    assert!(text.contains("gannet_store_commits_total"), "{text}");

    // A store that cannot write is not ready, and accepting answers 503.
    h.store.shutdown().await;
    let r = h.get("/readyz", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["code"], "store_unavailable");
    let r = h.post("/v1/messages", &otp(MOBILE_GB)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers["retry-after"], "1");
    assert!(h.get("/healthz", None).await.status.is_success());
}

/// The value of a sample line `name{labels} value` (tests in this binary share the process
/// recorder, so counters are compared with lower bounds).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Landlines can be admitted by the service's hook when the route has a voice fallback.
#[tokio::test]
async fn admission_hook_can_route_landlines_to_voice() {
    struct VoiceForLandlines;
    impl Admission for VoiceForLandlines {
        fn admit(&self, req: &AdmissionRequest<'_>) -> Result<Admitted, Refusal> {
            match req.number.can_receive_sms() {
                SmsReachability::No { reason } if reason.voice_fallback() => Ok(Admitted {
                    channel: Channel::Voice,
                    default_validity: Some(Duration::from_secs(120)),
                }),
                SmsReachability::No { reason } => Err(refusal(reason)),
                _ => Ok(Admitted {
                    channel: Channel::Sms,
                    default_validity: None,
                }),
            }
        }
    }
    let h = harness_with(settings(), GENEROUS, Some(Arc::new(VoiceForLandlines)));
    let r = h.post("/v1/messages", &otp("020 7946 0958")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["channel"], "voice");
    assert_eq!(r.body["number_type"], "fixed_line");
    assert_eq!(r.body["valid_until"], "2026-09-21T10:02:00.000Z");
    let m = h.store.get(id_of(&r.body)).unwrap().unwrap();
    assert_eq!(m.channel, Channel::Voice);
    let r = h.post("/v1/messages", &otp(PREMIUM_GB)).await;
    assert_eq!(r.body["error"]["reason"], "premium_rate");
}

#[derive(Deserialize)]
struct OpenApi {
    openapi: String,
    paths: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, serde::de::IgnoredAny>,
    >,
}

/// docs/openapi.yaml and the router agree: every documented operation is routed, and every
/// route is documented.
#[tokio::test]
async fn openapi_matches_the_router() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let doc: OpenApi = serde_saphyr::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(doc.openapi.starts_with("3."), "{}", doc.openapi);
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let documented: BTreeSet<(String, String)> = doc
        .paths
        .iter()
        .flat_map(|(path, ops)| {
            ops.keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let routed: BTreeSet<(String, String)> = api::routes()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_owned(), p.to_owned()))
        .collect();
    assert_eq!(documented, routed);

    // And the router really serves each of them.
    let h = harness();
    for (method, path) in &documented {
        let uri = path.replace("{id}", &MessageId::new_v7().to_string());
        let req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&uri)
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let r = h.send(req).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_ne!(r.body["error"]["code"], "route_not_found", "{method} {uri}");
    }
}

/// The example configuration in docs/api.md loads and validates.
#[test]
fn documented_config_example_loads() {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sections {
        api: ApiConfig,
        clients: Vec<ClientConfig>,
        store: StoreConfig,
    }
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md")).unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let file = Path::new("docs/api.md");
    let s: Sections = gannet::config::parse(file, &doc[start..end]).unwrap();
    let (listen, settings) = s.api.validate(file).unwrap();
    assert_eq!(listen.port(), 8080);
    assert_eq!(settings.default_region.as_deref(), Some("IN"));
    let clients = api::validate_clients(file, &s.clients).unwrap();
    assert_eq!(clients.len(), 2);
    assert_eq!(
        hex(&clients[0].key_sha256),
        hash_api_key("example-key-do-not-use")
    );
    let options = s.store.validate(file).unwrap();
    assert_eq!(options.max_batch, 1024);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Over a real socket: the router served by axum on 127.0.0.1:0, one raw HTTP/1.1 request.
#[tokio::test]
async fn serves_over_tcp() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let h = harness();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = h.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let body = otp(MOBILE_GB).to_string();
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 202 Accepted\r\n"),
        "{response}"
    );
    let json_body = response.split("\r\n\r\n").nth(1).unwrap();
    let v: Value = serde_json::from_str(json_body).unwrap();
    let id = id_of(&v);
    assert_eq!(h.store.get(id).unwrap().unwrap().to, MOBILE_GB);
    server.abort();
}

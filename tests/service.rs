//! The gateway end to end through HTTP: the real API on a socket, the real store on disk,
//! the real engine, carrier pool and simulator, and a webhook receiver on 127.0.0.1.
//! The last test runs the `gannet` binary, kills it with SIGKILL mid-load and restarts it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use bytes::Bytes;
use gannet::service::{Gateway, StartOptions};
use gannet::sim::{Sim, SimConfig, SimHandle};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const KEY: &str = "test-key-0001";
const ADMIN_KEY: &str = "admin-key-0001";
const SLOW_KEY: &str = "slow-key-0001";
const SECRET: &str = "webhook-secret-for-tests";

const ROUTES: &str = r#"
policy: { exploration: 0, health_floor: 0, health_tolerance: 1 }
defaults:
  receipt_deadline: { otp: 10s, transactional: 10s, marketing: 10s }
carriers:
  mno:
    kind: direct
    reaches: ["44"]
    cost: { "44": 0.03 }
    features: [unicode, concatenation]
  agg:
    kind: intermediary
    reaches: ["44", "91"]
    cost: { "44": 0.04, "91": 0.003 }
    features: [unicode, concatenation, dlt_tlvs]
countries:
  "91":
    name: India
    require: [dlt_entity_id, dlt_template_id]
routes:
  - prefix: "44"
    candidates: { default: [mno, agg] }
    fallback: { channel: voice, classes: [otp] }
  - prefix: "91"
    candidates: { default: [agg] }
"#;

/// A received webhook: event header, signature header, body.
type Hook = (String, String, Value);

struct World {
    sim: SimHandle,
    dir: tempfile::TempDir,
    hooks: mpsc::UnboundedReceiver<Hook>,
    hooks_addr: SocketAddr,
}

async fn hook_receiver() -> (SocketAddr, mpsc::UnboundedReceiver<Hook>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let sig = h("gannet-signature");
            // Verified here, against the raw bytes, as a receiver would.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            gannet::webhook::verify(
                SECRET.as_bytes(),
                &sig,
                &body,
                now,
                Duration::from_secs(300),
            )
            .expect("valid signature");
            let v: Value = serde_json::from_slice(&body).unwrap();
            let _ = tx.send((h("gannet-event"), sig, v));
            "ok"
        }
    };
    let app = axum::Router::new()
        .route("/status", post(handler.clone()))
        .route("/voice", post(handler));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

async fn world(mno_extra: &str) -> World {
    let persona = |name: &str, extra: &str| {
        let outcomes = if extra.contains("outcomes:") {
            String::new()
        } else {
            "    outcomes: [{ prefix: \"\", delivered: 1, delay: 30ms }]\n".to_string()
        };
        format!(
            "  - name: {name}\n    listen: 127.0.0.1:0\n    accounts: [{{ system_id: gw, password: pw }}]\n{extra}{outcomes}"
        )
    };
    let yaml = format!(
        "seed: 3\npersonas:\n{}{}",
        persona("mno", mno_extra),
        persona("agg", "")
    );
    let sim = Sim::start(SimConfig::parse(Path::new("sim.yaml"), &yaml).unwrap())
        .await
        .unwrap();
    let (hooks_addr, hooks) = hook_receiver().await;
    World {
        sim,
        dir: tempfile::tempdir().unwrap(),
        hooks,
        hooks_addr,
    }
}

fn sha(key: &str) -> String {
    gannet::api::hash_api_key(key)
}

impl World {
    /// Writes gateway.yaml and routes.yaml into the world's directory; returns the
    /// gateway.yaml path.
    fn write_config(&self, listen: &str) -> PathBuf {
        let dir = self.dir.path();
        std::fs::write(dir.join("routes.yaml"), ROUTES).unwrap();
        let carrier = |name: &str| {
            let port = self.sim.persona_addr(name).port();
            format!(
                "  - {{ name: {name}, host: 127.0.0.1, port: {port}, system_id: gw, password: pw, window: 64, response_timeout: 2s, shutdown_grace: 300ms, reconnect: {{ initial: 50ms, max: 500ms }} }}\n"
            )
        };
        let yaml = format!(
            r#"api:
  listen: {listen}
clients:
  - {{ name: app, key_sha256: {}, rate: {{ per_second: 10000, burst: 10000 }} }}
  - {{ name: ops, key_sha256: {}, admin: true }}
  - {{ name: slow, key_sha256: {}, rate: {{ per_second: 0.01, burst: 2 }} }}
store:
  path: store
routes: routes.yaml
webhooks:
  secret: {SECRET}
  voice_url: http://{}/voice
  backoff: {{ initial: 50ms, max: 1s }}
carriers:
{}{}"#,
            sha(KEY),
            sha(ADMIN_KEY),
            sha(SLOW_KEY),
            self.hooks_addr,
            carrier("mno"),
            carrier("agg"),
        );
        let path = dir.join("gateway.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    async fn gateway(&self) -> Gateway {
        let path = self.write_config("127.0.0.1:0");
        let settings = gannet::service::config::load(&path).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw = Gateway::start(
            settings,
            StartOptions {
                listener: Some(listener),
                metrics: false,
            },
        )
        .await
        .unwrap();
        // Binds up before traffic, so the first message finds its direct route.
        for _ in 0..100 {
            if gw.pool().health().iter().all(|h| h.bound_transmitters > 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        gw
    }

    fn callback(&self) -> String {
        format!("http://{}/status", self.hooks_addr)
    }

    /// The next webhook whose body has `status` (or `voice` event), within `within`.
    async fn hook(&mut self, pred: impl Fn(&Hook) -> bool, within: Duration) -> Hook {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let h = tokio::time::timeout_at(deadline, self.hooks.recv())
                .await
                .expect("webhook in time")
                .unwrap();
            if pred(&h) {
                return h;
            }
        }
    }
}

async fn post_json(
    addr: SocketAddr,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut req = client
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, v)
}

async fn get_json(addr: SocketAddr, path: &str, key: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

fn otp(to: &str, callback: &str) -> Value {
    json!({ "to": to, "from": "Gannet", "text": "Your code is 123456", "class": "otp", "callback_url": callback })
}

#[tokio::test]
async fn accept_route_submit_receipt_webhook() {
    let mut w = world("").await;
    let gw = w.gateway().await;
    let (status, _, answer) = post_json(
        gw.addr(),
        "/v1/messages",
        Some(KEY),
        otp("+447911123456", &w.callback()),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    assert_eq!(answer["to"], "+447911123456");
    let (event, sig, body) = w
        .hook(|h| h.2["status"] == "submitted", Duration::from_secs(10))
        .await;
    assert_eq!(event, "message.status");
    assert!(sig.starts_with("t="), "{sig}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["carrier"], "mno");
    let (_, _, body) = w
        .hook(|h| h.2["status"] == "delivered", Duration::from_secs(10))
        .await;
    assert_eq!(body["id"], id.as_str());
    // The state the webhook announced is durable and visible.
    let (s, m) = get_json(gw.addr(), &format!("/v1/messages/{id}"), KEY).await;
    assert_eq!(s, 200);
    assert_eq!(m["status"], "delivered");
    assert_eq!(m["attempts"][0]["carrier"], "mno");
    assert_eq!(m["attempts"][0]["outcome"], "delivered");
    assert_eq!(m["attempts"][0]["receipt_status"], "DELIVRD");
    assert_eq!(w.sim.stats("mno").unwrap().submits, 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn idempotent_replay_answers_the_same_and_sends_once() {
    let mut w = world("").await;
    let gw = w.gateway().await;
    let mut body = otp("+447911000111", &w.callback());
    body["idempotency_key"] = json!("login-42");
    let (s1, h1, a1) = post_json(gw.addr(), "/v1/messages", Some(KEY), body.clone()).await;
    let (s2, h2, a2) = post_json(gw.addr(), "/v1/messages", Some(KEY), body).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(a1["id"], a2["id"]);
    assert!(h1.get(gannet::api::REPLAYED_HEADER).is_none());
    assert!(h2.get(gannet::api::REPLAYED_HEADER).is_some());
    w.hook(|h| h.2["status"] == "delivered", Duration::from_secs(10))
        .await;
    assert_eq!(w.sim.stats("mno").unwrap().submits, 1, "sent once");
    gw.shutdown().await;
}

#[tokio::test]
async fn auth_rate_limit_and_bad_requests() {
    let w = world("").await;
    let gw = w.gateway().await;
    let a = gw.addr();
    let (s, h, b) = post_json(a, "/v1/messages", None, otp("+447911000222", "")).await;
    assert_eq!(s, 401, "{b}");
    assert!(h.get("www-authenticate").is_some());
    let (s, _, _) = post_json(a, "/v1/messages", Some("nope"), otp("+447911000222", "")).await;
    assert_eq!(s, 401);
    // Burst of 2, then 429 with Retry-After.
    let body = json!({ "to": "+447911000333", "from": "Gannet", "text": "hi", "class": "otp" });
    for _ in 0..2 {
        assert_eq!(
            post_json(a, "/v1/messages", Some(SLOW_KEY), body.clone())
                .await
                .0,
            202
        );
    }
    let (s, h, b) = post_json(a, "/v1/messages", Some(SLOW_KEY), body).await;
    assert_eq!(s, 429, "{b}");
    assert!(h.get("retry-after").is_some());
    // Bad requests name the field and the reason.
    let (s, _, b) = post_json(
        a,
        "/v1/messages",
        Some(KEY),
        json!({ "from": "Gannet", "text": "x", "class": "otp" }),
    )
    .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("to")), "{b}");
    // India requires DLT ids: refused at the door, naming `dlt`.
    let (s, _, b) = post_json(
        a,
        "/v1/messages",
        Some(KEY),
        json!({ "to": "+919876543210", "from": "Gannet", "text": "x", "class": "otp" }),
    )
    .await;
    assert_eq!(
        (
            s,
            b["error"]["field"].as_str(),
            b["error"]["reason"].as_str()
        ),
        (400, Some("dlt"), Some("dlt_required")),
        "{b}"
    );
    // A UK landline has a voice fallback for OTPs only: marketing to it is refused.
    let (s, _, b) = post_json(
        a,
        "/v1/messages",
        Some(KEY),
        json!({ "to": "+442079460958", "from": "Gannet", "text": "x", "class": "marketing" }),
    )
    .await;
    assert_eq!(
        (s, b["error"]["reason"].as_str()),
        (400, Some("fixed_line")),
        "{b}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn landline_otp_goes_to_voice() {
    let mut w = world("").await;
    let gw = w.gateway().await;
    let (s, _, a) = post_json(
        gw.addr(),
        "/v1/messages",
        Some(KEY),
        otp("+442079460958", &w.callback()),
    )
    .await;
    assert_eq!(s, 202, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let (event, _, call) = w
        .hook(|h| h.0 == "voice.call", Duration::from_secs(10))
        .await;
    assert_eq!(event, "voice.call");
    assert_eq!(call["to"], "+442079460958");
    assert_eq!(call["text"], "Your code is 123456");
    w.hook(|h| h.2["status"] == "delivered", Duration::from_secs(10))
        .await;
    let (_, m) = get_json(gw.addr(), &format!("/v1/messages/{id}"), KEY).await;
    assert_eq!(m["channel"], "voice");
    assert_eq!(m["attempts"][0]["carrier"], "voice");
    assert_eq!(w.sim.stats("mno").unwrap().submits, 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn negative_receipt_fails_over_and_the_webhook_says_so() {
    let mut w = world("    outcomes: [{ prefix: \"\", undeliverable: 1, delay: 20ms }]\n").await;
    let gw = w.gateway().await;
    let (_, _, a) = post_json(
        gw.addr(),
        "/v1/messages",
        Some(KEY),
        otp("+447911000444", &w.callback()),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_string();
    let (_, _, body) = w
        .hook(|h| h.2["status"] == "delivered", Duration::from_secs(10))
        .await;
    assert_eq!(
        (body["carrier"].as_str(), body["attempt"].as_u64()),
        (Some("agg"), Some(2))
    );
    let (_, m) = get_json(gw.addr(), &format!("/v1/messages/{id}"), KEY).await;
    assert_eq!(m["attempts"][0]["outcome"], "failed");
    assert_eq!(m["attempts"][0]["receipt_status"], "UNDELIV");
    assert_eq!(m["attempts"][1]["outcome"], "delivered");
    gw.shutdown().await;
}

#[tokio::test]
async fn routes_reload_through_the_api() {
    let w = world("").await;
    let gw = w.gateway().await;
    let a = gw.addr();
    let (s, _, _) = post_json(a, "/v1/routes/reload", Some(KEY), json!({})).await;
    assert_eq!(s, 403);
    let (s, _, b) = post_json(a, "/v1/routes/reload", Some(ADMIN_KEY), json!({})).await;
    assert_eq!((s, b["routes"].as_u64()), (200, Some(2)), "{b}");
    // A broken file is refused with its line; the running table stays.
    std::fs::write(
        w.dir.path().join("routes.yaml"),
        ROUTES.replace("[mno, agg]", "[mno, nobody]"),
    )
    .unwrap();
    let (s, _, b) = post_json(a, "/v1/routes/reload", Some(ADMIN_KEY), json!({})).await;
    assert_eq!(s, 422, "{b}");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("routes.yaml:") && msg.contains("nobody"),
        "{msg}"
    );
    assert_eq!(gw.engine().table().routes().len(), 2);
    gw.shutdown().await;
}

/// The binary, SIGKILLed while messages are accepted and in flight, restarted on the same
/// store: every message it answered 202 reaches a final state.
#[tokio::test]
async fn kill_and_restart_loses_nothing() {
    use std::process::Stdio;
    use tokio::io::AsyncBufReadExt;

    // Receipts come late enough that the kill finds messages waiting for them.
    let w = world("    outcomes: [{ prefix: \"\", delivered: 1, delay: 1500ms }]\n").await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = w.write_config(&format!("127.0.0.1:{port}"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let spawn = || {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gannet"))
            .args(["serve", "--config"])
            .arg(&config)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            let mut ready = Some(ready_tx);
            while let Ok(Some(l)) = lines.next_line().await {
                if l.contains("gateway listening")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        (child, ready_rx)
    };
    let (mut child, ready) = spawn();
    tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .unwrap()
        .unwrap();

    // Four senders; the process is killed after 150 answers.
    let accepted = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (count_tx, mut count_rx) = mpsc::unbounded_channel::<()>();
    let mut senders = Vec::new();
    for t in 0..4 {
        let accepted = accepted.clone();
        let count_tx = count_tx.clone();
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..100 {
                let body = json!({ "to": format!("+4479110{t}{i:04}"), "from": "Gannet", "text": format!("code {t}{i}"), "class": "otp" });
                let Ok(resp) = client
                    .post(format!("http://{addr}/v1/messages"))
                    .bearer_auth(KEY)
                    .header("content-type", "application/json").body(body.to_string())
                    .send()
                    .await
                else {
                    return;
                };
                if resp.status().as_u16() != 202 {
                    return;
                }
                let Ok(v) = resp.text().await.map(|t| serde_json::from_str::<Value>(&t)) else { return };
                let Ok(v) = v else { return };
                accepted.lock().unwrap().push(v["id"].as_str().unwrap().to_string());
                let _ = count_tx.send(());
            }
        }));
    }
    for _ in 0..150 {
        count_rx.recv().await.unwrap();
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    for s in senders {
        let _ = s.await;
    }
    let ids = accepted.lock().unwrap().clone();
    assert!(ids.len() >= 150);

    let (mut child, ready) = spawn();
    tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .unwrap()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let mut pending = ids.clone();
    while !pending.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} accepted messages not final after restart",
            pending.len(),
            ids.len()
        );
        let mut still = Vec::new();
        for id in pending {
            let (s, m) = get_json(addr, &format!("/v1/messages/{id}"), KEY).await;
            assert_eq!(s, 200, "accepted message {id} lost: {m}");
            match m["status"].as_str() {
                Some("delivered" | "failed" | "expired" | "rejected") => {
                    assert!(!m["attempts"].as_array().unwrap().is_empty(), "{m}");
                }
                _ => still.push(id),
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

#[tokio::test]
async fn status_shows_submitted_while_the_receipt_is_awaited() {
    let mut w = world("    outcomes: [{ prefix: \"\", delivered: 1, delay: 1h }]\n").await;
    let gw = w.gateway().await;
    let (_, _, a) = post_json(
        gw.addr(),
        "/v1/messages",
        Some(KEY),
        otp("+447911000555", &w.callback()),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_string();
    w.hook(|h| h.2["status"] == "submitted", Duration::from_secs(10))
        .await;
    // The webhook goes out when the carrier's answer is in; its record follows with the next
    // group commit.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, m) = get_json(gw.addr(), &format!("/v1/messages/{id}"), KEY).await;
        if m["status"] == "submitted" {
            assert_eq!(m["attempts"][0]["outcome"], "submitted");
            assert_eq!(
                m["attempts"][0]["carrier_message_ids"]
                    .as_array()
                    .unwrap()
                    .len(),
                1
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never shown submitted: {m}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.shutdown().await;
}

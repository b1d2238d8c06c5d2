//! `gannet demo`: the embedded default.
//!
//! Starts the built-in simulator world (sim.yaml, every persona on an ephemeral loopback
//! port), the gateway against it (gateway.yaml and routes.yaml as built into the binary, a
//! fresh store in a temporary directory, a local receiver for status callbacks and voice
//! calls), then drives a mixed OTP and marketing load across countries through the HTTP API
//! for about a minute, with a progress line every few seconds, and prints a table per country
//! and route: sent, delivered, failed over, expired, failed, median and p95 time to receipt,
//! cost. Direct routes win where they exist, failover rescues messages in the low-receipt
//! countries, and landlines are refused or sent to voice.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::routes::RouteTable;
use crate::service::{self, Gateway, StartOptions};
use crate::sim::rng::Rng;
use crate::sim::{Sim, SimConfig};
use crate::store::{AttemptOutcome, MessageId, MessageState, Store};

/// The demo client's key (gateway.yaml's `demo` client).
const DEMO_KEY: &str = "demo-key-change-me";

/// Arguments of `gannet demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// How long to send for.
    #[arg(long, default_value = "40s", value_parser = crate::config::duration::parse)]
    pub duration: Duration,
    /// Messages per second.
    #[arg(long, default_value_t = 40)]
    pub rate: u32,
    /// After sending, how long to wait for the last receipts and failovers.
    #[arg(long, default_value = "25s", value_parser = crate::config::duration::parse)]
    pub drain: Duration,
    /// Seed of the traffic mix (the simulator has its own, in sim.yaml).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// A destination of the mix: where, how often, and how its numbers look.
struct Dest {
    country: &'static str,
    region: &'static str,
    /// E.164 prefix of generated numbers; the rest is random digits.
    prefix: &'static str,
    digits: usize,
    weight: u32,
    landline: bool,
}

const MIX: &[Dest] = &[
    Dest {
        country: "India",
        region: "IN",
        prefix: "+9198",
        digits: 8,
        weight: 14,
        landline: false,
    },
    Dest {
        country: "India",
        region: "IN",
        prefix: "+9170",
        digits: 8,
        weight: 10,
        landline: false,
    },
    Dest {
        country: "India",
        region: "IN",
        prefix: "+91112",
        digits: 7,
        weight: 3,
        landline: true,
    },
    Dest {
        country: "Mexico",
        region: "MX",
        prefix: "+5255",
        digits: 8,
        weight: 12,
        landline: false,
    },
    Dest {
        country: "United States",
        region: "US",
        prefix: "+14157",
        digits: 6,
        weight: 14,
        landline: false,
    },
    Dest {
        country: "United Kingdom",
        region: "GB",
        prefix: "+447911",
        digits: 6,
        weight: 9,
        landline: false,
    },
    Dest {
        country: "United Kingdom",
        region: "GB",
        prefix: "+44207946",
        digits: 4,
        weight: 2,
        landline: true,
    },
    Dest {
        country: "Germany",
        region: "DE",
        prefix: "+49151",
        digits: 8,
        weight: 6,
        landline: false,
    },
    Dest {
        country: "Honduras",
        region: "HN",
        prefix: "+5049",
        digits: 7,
        weight: 15,
        landline: false,
    },
    Dest {
        country: "El Salvador",
        region: "SV",
        prefix: "+5037",
        digits: 7,
        weight: 15,
        landline: false,
    },
];

/// What the demo sent and what the gateway answered.
struct Sent {
    id: Option<MessageId>,
    country: &'static str,
    landline: bool,
    /// The API's refusal reason, when it refused.
    refused: Option<String>,
}

/// The outcome, for printing.
pub struct DemoReport {
    pub table: String,
    pub summary: String,
    /// Every accepted message reached a final state (or is legitimately held).
    pub sent: u64,
    pub delivered: u64,
    pub failed_over: u64,
    pub voice: u64,
    pub refused: u64,
    pub direct_share: f64,
}

fn number(rng: &mut Rng, d: &Dest) -> String {
    for _ in 0..20 {
        let mut s = String::from(d.prefix);
        for _ in 0..d.digits {
            s.push(char::from(b'0' + rng.below(10) as u8));
        }
        if crate::number::parse(&s, Some(d.region)).is_ok_and(|n| !n.e164().is_empty()) {
            return s;
        }
    }
    format!("{}{}", d.prefix, "1".repeat(d.digits))
}

fn pick<'a>(rng: &mut Rng, mix: &'a [Dest]) -> &'a Dest {
    let total: u32 = mix.iter().map(|d| d.weight).sum();
    let mut r = rng.below(u64::from(total)) as u32;
    for d in mix {
        if r < d.weight {
            return d;
        }
        r -= d.weight;
    }
    &mix[0]
}

/// Posts a JSON body to the gateway with the demo client's key; the status and the JSON answer.
async fn post_message(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<(u16, Value), reqwest::Error> {
    let resp = client
        .post(url)
        .bearer_auth(DEMO_KEY)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Counts what the local receiver got.
#[derive(Default)]
struct Hooks {
    status: AtomicU64,
    voice: AtomicU64,
}

async fn receiver(hooks: Arc<Hooks>, stop: CancellationToken) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let h1 = hooks.clone();
    let app = axum::Router::new()
        .route(
            "/status",
            post(move || async move {
                h1.status.fetch_add(1, Ordering::Relaxed);
                "ok"
            }),
        )
        .route(
            "/voice",
            post(move || async move {
                hooks.voice.fetch_add(1, Ordering::Relaxed);
                "ok"
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    Ok(addr)
}

/// Runs the demo: the world, the gateway, the load, the drain, the table.
pub async fn run(args: &DemoArgs, shutdown: CancellationToken) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    let sim = Sim::start(SimConfig::example()?.ephemeral()).await?;
    let hooks = Arc::new(Hooks::default());
    let stop_hooks = CancellationToken::new();
    let hooks_addr = receiver(hooks.clone(), stop_hooks.clone()).await?;
    let dir = tempfile_dir()?;

    let routes = Arc::new(RouteTable::parse(
        Path::new("routes.yaml"),
        include_str!("../../routes.yaml"),
    )?);
    let mut settings = service::config::parse_with_routes(
        Path::new("gateway.yaml"),
        include_str!("../../gateway.yaml"),
        routes.clone(),
    )?;
    for c in &mut settings.carriers {
        let addr = sim
            .try_persona_addr(&c.name)
            .ok_or_else(|| anyhow::anyhow!("no persona for carrier {}", c.name))?;
        c.host = addr.ip().to_string();
        c.port = addr.port();
        c.shutdown_grace = Duration::from_millis(500);
    }
    settings.store_path = dir.path().join("store");
    settings.webhooks.voice_url = Some(format!("http://{hooks_addr}/voice"));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let gateway = Gateway::start(
        settings,
        StartOptions {
            listener: Some(listener),
            metrics: false,
        },
    )
    .await?;
    wait_bound(&gateway, Duration::from_secs(5)).await;

    let sent = drive(args, &gateway, hooks_addr, &shutdown).await?;
    drain(args, &gateway, &sent, &shutdown).await;

    let report = report(&sent, gateway.store(), &routes, &hooks, started.elapsed());
    gateway.shutdown().await;
    stop_hooks.cancel();
    sim.shutdown().await;
    Ok(report)
}

fn tempfile_dir() -> std::io::Result<TempDir> {
    let base = std::env::temp_dir().join(format!(
        "gannet-demo-{}-{}",
        std::process::id(),
        crate::store::MessageId::new_v7()
    ));
    std::fs::create_dir_all(&base)?;
    Ok(TempDir(base))
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn wait_bound(gateway: &Gateway, within: Duration) {
    let deadline = Instant::now() + within;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while Instant::now() < deadline {
        tick.tick().await;
        if gateway
            .pool()
            .health()
            .iter()
            .all(|h| h.bound_transmitters > 0)
        {
            return;
        }
    }
    tracing::warn!("not every carrier bound in {within:?}; going on");
}

/// Sends the mix at `rate` for `duration`, on a few connections.
async fn drive(
    args: &DemoArgs,
    gateway: &Gateway,
    hooks: SocketAddr,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<Sent>> {
    let mut rng = Rng::new(args.seed);
    let total = (u64::from(args.rate) * args.duration.as_secs()).max(1);
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    crate::webhook::install_ring();
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/messages", gateway.addr());
    let mut out = Vec::with_capacity(total as usize);
    let start = tokio::time::Instant::now();
    let mut last_progress = Instant::now();
    let callback = format!("http://{hooks}/status");
    for i in 0..total {
        if shutdown.is_cancelled() {
            break;
        }
        tokio::time::sleep_until(start + interval * i as u32).await;
        let d = pick(&mut rng, MIX);
        let marketing = rng.below(5) == 0;
        let to = number(&mut rng, d);
        let mut body = json!({
            "to": to,
            "from": if marketing { "GannetShop" } else { "Gannet" },
            "text": if marketing {
                format!("Flash sale: 20% off until midnight. Code GANNET{:03}", i % 1000)
            } else {
                format!("Your verification code is {:06}. It expires in 5 minutes.", rng.below(1_000_000))
            },
            "class": if marketing { "marketing" } else { "otp" },
            "client_ref": format!("demo-{i}"),
            "callback_url": callback,
        });
        if d.region == "IN" {
            body["dlt"] =
                json!({ "entity_id": "1101234567890123456", "template_id": "1107160000000012345" });
        }
        let (status, answer) = post_message(&client, &url, &body).await?;
        let refused = (status != 202).then(|| {
            answer["error"]["reason"]
                .as_str()
                .or(answer["error"]["code"].as_str())
                .unwrap_or("refused")
                .to_string()
        });
        out.push(Sent {
            id: answer["id"].as_str().and_then(|s| s.parse().ok()),
            country: d.country,
            landline: d.landline,
            refused,
        });
        if !args.quiet && last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            progress(gateway, start.elapsed(), out.len());
        }
    }
    Ok(out)
}

fn progress(gateway: &Gateway, t: Duration, sent: usize) {
    let s = gateway.engine().stats();
    eprintln!(
        "  {:>3}s  sent {sent:>5}  delivered {:>5}  failed over {:>4}  voice {:>3}  failed {:>4}  expired {:>3}  in flight {:>5}",
        t.as_secs(),
        s.delivered,
        s.failovers,
        s.voice,
        s.failed,
        s.expired,
        s.in_flight
    );
}

/// Waits for the messages in flight (up to `drain`), printing progress.
async fn drain(args: &DemoArgs, gateway: &Gateway, sent: &[Sent], shutdown: &CancellationToken) {
    let start = Instant::now();
    let accepted = sent.iter().filter(|s| s.id.is_some()).count() as u64;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last = Instant::now();
    while start.elapsed() < args.drain && !shutdown.is_cancelled() {
        tick.tick().await;
        let s = gateway.engine().stats();
        let done = s.delivered + s.failed + s.expired + s.rejected;
        if done >= accepted {
            break;
        }
        if !args.quiet && last.elapsed() >= Duration::from_secs(5) {
            last = Instant::now();
            progress(gateway, args.duration + start.elapsed(), sent.len());
        }
    }
}

#[derive(Default)]
struct RowStats {
    sent: u64,
    delivered: u64,
    failed_over: u64,
    expired: u64,
    failed: u64,
    pending: u64,
    refused: u64,
    receipt_ms: Vec<u64>,
    cost: f64,
}

fn pct(v: &mut [u64], p: f64) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    Some(v[i.min(v.len() - 1)])
}

fn secs(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".into(), |m| format!("{:.1}s", m as f64 / 1000.0))
}

fn report(
    sent: &[Sent],
    store: &Store,
    routes: &RouteTable,
    hooks: &Hooks,
    elapsed: Duration,
) -> DemoReport {
    // Per country: the carriers that delivered, then voice, then what did not end delivered.
    let mut rows: BTreeMap<(&str, u8, String), RowStats> = BTreeMap::new();
    let (mut delivered, mut failed_over, mut voice, mut refused) = (0, 0, 0, 0);
    let (mut direct, mut sms_delivered) = (0u64, 0u64);
    let mut landline_voice = 0;
    let mut landline_refused = 0;
    for s in sent {
        let Some(id) = s.id else {
            refused += 1;
            if s.landline {
                landline_refused += 1;
            }
            let label = format!("refused: {}", s.refused.as_deref().unwrap_or("?"));
            let r = rows.entry((s.country, 5, label)).or_default();
            r.sent += 1;
            r.refused += 1;
            continue;
        };
        let (Ok(Some(m)), Ok(attempts)) = (store.get(id), store.attempts(id)) else {
            continue;
        };
        let last = attempts.last();
        let kind = |name: &str| {
            routes
                .carrier_id(name)
                .map(|c| match routes.carrier(c).kind {
                    crate::routes::CarrierKind::Direct => "direct",
                    crate::routes::CarrierKind::Intermediary => "intermediary",
                })
        };
        let key = match (m.state, last) {
            (MessageState::Delivered, Some(a)) if a.outcome == AttemptOutcome::Voice => {
                (1, "voice".to_string())
            }
            (MessageState::Delivered, Some(a)) => (
                0,
                format!("{} ({})", a.carrier, kind(&a.carrier).unwrap_or("?")),
            ),
            (_, None) if !m.state.is_final() => (4, "(waiting: quiet hours)".into()),
            (MessageState::Accepted | MessageState::Queued | MessageState::Submitted, _) => {
                (3, "(in flight)".into())
            }
            (state, _) => (2, format!("({state})")),
        };
        let r = rows.entry((s.country, key.0, key.1)).or_default();
        r.sent += 1;
        let dest = m.to.trim_start_matches('+').as_bytes();
        for a in &attempts {
            if let Some(c) = routes.carrier_id(&a.carrier) {
                r.cost += routes.carrier(c).cost_for(dest).unwrap_or(0.0) * f64::from(m.segments);
            }
        }
        if attempts.len() > 1 {
            r.failed_over += 1;
            failed_over += 1;
        }
        match m.state {
            MessageState::Delivered => {
                r.delivered += 1;
                delivered += 1;
                if let Some(a) = last {
                    if a.outcome == AttemptOutcome::Voice {
                        voice += 1;
                        if s.landline {
                            landline_voice += 1;
                        }
                    } else {
                        sms_delivered += 1;
                        if routes.carrier_id(&a.carrier).is_some_and(|c| {
                            routes.carrier(c).kind == crate::routes::CarrierKind::Direct
                        }) {
                            direct += 1;
                        }
                    }
                    if let Some(at) = a.receipt_at_ms {
                        r.receipt_ms.push(at.saturating_sub(m.accepted_at_ms));
                    }
                }
            }
            MessageState::Expired => r.expired += 1,
            MessageState::Failed | MessageState::Rejected => r.failed += 1,
            _ => r.pending += 1,
        }
    }

    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<15} {:<24} {:>6} {:>6} {:>8} {:>7} {:>6} {:>7} {:>6} {:>6} {:>9}",
        "country",
        "route",
        "sent",
        "deliv",
        "failover",
        "expired",
        "failed",
        "pending",
        "p50",
        "p95",
        "cost USD"
    );
    let mut last_country = "";
    for ((country, _, route), r) in &mut rows {
        let shown = if *country == last_country {
            ""
        } else {
            country
        };
        last_country = country;
        let p50 = pct(&mut r.receipt_ms, 0.5);
        let p95 = pct(&mut r.receipt_ms, 0.95);
        let _ = writeln!(
            t,
            "{:<15} {:<24} {:>6} {:>6} {:>8} {:>7} {:>6} {:>7} {:>6} {:>6} {:>9.4}",
            shown,
            route,
            r.sent,
            r.delivered,
            r.failed_over,
            r.expired,
            r.failed + r.refused,
            r.pending,
            secs(p50),
            secs(p95),
            r.cost
        );
    }
    let total = sent.len() as u64;
    let direct_share = if sms_delivered == 0 {
        0.0
    } else {
        direct as f64 / sms_delivered as f64
    };
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "{total} messages in {:.0}s: {delivered} delivered ({voice} by voice), {failed_over} failed over to another route, {refused} refused at the API.",
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        summary,
        "Direct operator routes carried {:.0}% of SMS deliveries. Landlines: {landline_voice} sent to voice, {landline_refused} refused (no voice fallback for their class).",
        direct_share * 100.0
    );
    let _ = writeln!(
        summary,
        "Status callbacks received: {}; voice calls placed: {}.",
        hooks.status.load(Ordering::Relaxed),
        hooks.voice.load(Ordering::Relaxed)
    );
    DemoReport {
        table: t,
        summary,
        sent: total,
        delivered,
        failed_over,
        voice,
        refused,
        direct_share,
    }
}

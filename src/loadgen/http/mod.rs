//! `gannet loadgen http`: bounded load on the gateway's HTTP API, counted at the API, at the
//! carriers and at the callback receiver.
//!
//! [`run_http`] opens `--connections` keep-alive connections and sends `POST /v1/messages` (or
//! `/v1/messages/batch` with `--batch K`), each connection with one request in flight: as fast
//! as answers come (closed loop) or on a fixed schedule of `--rate` requests a second (open
//! loop). Requests are numbered by one shared counter; in open loop request *k* is due at
//! *k / rate*, any free connection takes the next number, and latency runs from the due time,
//! so a stall anywhere (server, network, client) shows in the percentiles instead of quietly
//! lowering the rate. A request that goes out more than a millisecond late is counted as late;
//! one that was due before the end but never went out, as skipped.
//!
//! What it is not: a client for real use. No retries, no backing off on 429; refusals are
//! counted by status and reason.
//!
//! # Layout
//! - [`args`]: options, URL, the validated [`HttpPlan`].
//! - [`numbers`]: destination pools that libphonenumber accepts, per prefix of the mix.
//! - [`request`]: requests rendered from pieces laid out once.
//! - [`wire`]: the minimal HTTP/1.1 exchange and response reading.
//! - [`callbacks`]: the callback receiver and signature check.
//! - [`probe`]: the simulator's counters and the gateway's /proc figures.
//! - [`report`]: [`HttpLoadReport`], its table and JSON.

pub mod args;
pub mod callbacks;
pub mod numbers;
pub mod probe;
pub mod report;
pub mod request;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use args::{HttpLoadArgs, HttpPlan};
pub use report::HttpLoadReport;

use self::callbacks::Receiver;
use self::probe::{ProcSample, SimProbe, SimTotals};
use self::report::{CarrierReport, DrainReport, GatewayReport, HttpSecond, OpenLoop};
use self::request::{Renderer, Shape};
use self::wire::{HttpConn, json_str, json_u64};
use crate::loadgen::histogram::Histogram;
use crate::loadgen::report::{ClientUsage, peak_rss_kib, process_cpu_s};

/// In open loop, requests due this soon are sent now: tokio's timer has a 1 ms resolution.
const LOOKAHEAD_NS: u64 = 1_000_000;
/// A send this far behind its schedule is late.
const LATE_NS: u64 = 1_000_000;
/// How often the run's counters, the simulator and the gateway are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// After Ctrl-C, how long requests in flight get to be answered.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(2);
/// Draining: counters still for this long, with nothing owed, is settled.
const QUIET: Duration = Duration::from_secs(1);
/// Draining: counters still for this long ends the wait even with a backlog (messages the
/// gateway failed or holds will not arrive); the drain is then reported as not settled.
const STALLED: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connection errors kept word for word; the rest are counted.
const MAX_ERRORS: usize = 8;
/// Distinct refusal reasons kept; more are counted as `other` (the server's words do not get
/// to grow a map without bound).
const MAX_REASONS: usize = 64;

/// Runs `gannet loadgen http` to completion (or until `shutdown`) and reports.
pub async fn run_http(
    args: HttpLoadArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<HttpLoadReport> {
    let plan = HttpPlan::new(&args).await?;
    run_http_plan(plan, shutdown).await
}

/// What every connection shares.
struct Ctx {
    start: Instant,
    target: std::net::SocketAddr,
    renderer: Renderer,
    batch: bool,
    /// Messages in the run, when counted.
    count: Option<u64>,
    requests: Option<u64>,
    deadline_ns: u64,
    /// Requests due (stamped) before this are left out of the latency figures.
    warmup_until_ns: u64,
    /// Nanoseconds between requests in open loop.
    interval_ns: Option<f64>,
    response_timeout: Duration,
    /// Next request number.
    next: AtomicU64,
    // Progress for the timeline, added per answer.
    sent: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

impl Ctx {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// Runs a checked plan.
pub async fn run_http_plan(
    plan: HttpPlan,
    shutdown: CancellationToken,
) -> anyhow::Result<HttpLoadReport> {
    let mut errors = Vec::new();
    // One clock for the run: due times, stamps in `client_ref` and the receiver's arrival
    // times are all nanoseconds since `start`; the load itself begins at `load_start_ns`.
    let start = Instant::now();
    let receiver = if plan.callbacks {
        Some(
            Receiver::start(plan.webhook_secret.as_deref(), start)
                .await
                .context("--callbacks: cannot start the receiver")?,
        )
    } else {
        None
    };
    let callback_url = receiver.as_ref().map(Receiver::url);
    let shape = Shape {
        host: &plan.host,
        base_path: &plan.base_path,
        api_key: &plan.api_key,
        from: &plan.from,
        text: &plan.text,
        classes: &plan.classes,
        validity: plan.validity.as_deref(),
        no_receipt: plan.no_receipt,
        callback_url: callback_url.as_deref(),
        batch: plan.batch,
    };
    let renderer = Renderer::new(&shape, plan.destinations.clone());

    let mut sim = match &plan.sim_control {
        Some((addr, host, base)) => Some(SimProbe::connect(*addr, host, base).await?),
        None => None,
    };
    let sim_before = match &mut sim {
        Some(s) => Some(s.totals().await?),
        None => None,
    };

    // Connect everything before the clock starts: connection set-up is not load.
    let mut conns = Vec::with_capacity(plan.connections as usize);
    for i in 0..plan.connections {
        let conn = tokio::select! {
            r = tokio::time::timeout(CONNECT_TIMEOUT, HttpConn::connect(plan.target)) => r
                .with_context(|| format!("connect to {}: timed out", plan.target))?
                .with_context(|| format!("connection {i}: connect to {}", plan.target))?,
            _ = shutdown.cancelled() => anyhow::bail!("interrupted while connecting"),
        };
        conns.push(conn);
    }

    let gw_before = plan.gateway_pid.and_then(probe::sample);
    let cpu_before = process_cpu_s();
    let load_start_ns = start.elapsed().as_nanos() as u64;
    let ctx = Arc::new(Ctx {
        start,
        target: plan.target,
        renderer,
        batch: plan.batch.is_some(),
        count: plan.count,
        requests: plan.requests(),
        deadline_ns: load_start_ns + plan.duration.as_nanos() as u64,
        warmup_until_ns: load_start_ns + plan.warmup.as_nanos() as u64,
        interval_ns: (plan.rate > 0).then(|| 1e9 / plan.rate as f64),
        response_timeout: plan.response_timeout,
        next: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let stop = shutdown.child_token();
    let abort = CancellationToken::new();
    let mut tasks = JoinSet::new();
    for conn in conns {
        tasks.spawn(drive(
            Arc::clone(&ctx),
            load_start_ns,
            conn,
            stop.clone(),
            abort.clone(),
        ));
    }

    // Watch: sample every SAMPLE_EVERY, a timeline line per second, until every connection
    // is done.
    let mut watch = Watch::new(load_start_ns, plan.gateway_pid, gw_before, sim_before);
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut results = Vec::new();
    let mut interrupted_at: Option<Instant> = None;
    while !tasks.is_empty() {
        tokio::select! {
            _ = tick.tick() => {}
            Some(joined) = tasks.join_next() => {
                results.push(joined);
                continue;
            }
        }
        if shutdown.is_cancelled() && interrupted_at.is_none() {
            interrupted_at = Some(Instant::now());
        }
        if interrupted_at.is_some_and(|at| at.elapsed() >= SHUTDOWN_DRAIN) {
            abort.cancel();
        }
        watch
            .sample(&ctx, sim.as_mut(), receiver.as_ref(), &mut errors)
            .await;
    }
    let load_end_ns = ctx.now_ns();
    let cpu = match (cpu_before, process_cpu_s()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };

    let mut total = ConnStats::default();
    for r in results {
        match r {
            Ok(s) => total.merge(s),
            Err(e) => errors.push(format!("connection task failed: {e}")),
        }
    }
    // Figures at the end of the load.
    watch
        .sample(&ctx, sim.as_mut(), receiver.as_ref(), &mut errors)
        .await;
    let backlog_at_end_of_load = watch.backlog(total.accepted);

    // Drain: wait for the delivery side to catch up, if asked and there is a side to watch.
    let drain = if !plan.drain_wait.is_zero()
        && (sim.is_some() || receiver.is_some())
        && !shutdown.is_cancelled()
    {
        let began = Instant::now();
        let began_ns = watch.t_ns(&ctx);
        let mut settled = false;
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        while began.elapsed() < plan.drain_wait && !shutdown.is_cancelled() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => break,
            }
            watch
                .sample(&ctx, sim.as_mut(), receiver.as_ref(), &mut errors)
                .await;
            // Quiet since the drain began, at least: give the delivery side a chance to move.
            let still = watch.still_since(&ctx, began_ns);
            let caught_up = watch.backlog(total.accepted).is_none_or(|b| b <= 0);
            if caught_up && still >= QUIET {
                settled = true;
                break;
            }
            if still >= STALLED {
                // Nothing moves: what is owed is not coming (failed, or held by the gateway).
                break;
            }
        }
        Some(DrainReport {
            waited_s: began.elapsed().as_secs_f64(),
            settled,
        })
    } else {
        None
    };
    watch.finish_timeline(&ctx);

    let callbacks = match receiver {
        Some(r) => {
            let mut report = r.report();
            report.per_s = per_s(report.received, watch.callbacks.last_rise_ns);
            r.stop().await;
            Some(report)
        }
        None => None,
    };
    let carriers = sim.as_ref().map(|s| {
        let d = watch.sim_now.since(&watch.sim_before);
        CarrierReport {
            personas: s.personas().to_vec(),
            submit_sm: d.submits,
            messages: d.messages,
            receipts: d.receipts,
            submit_sm_per_s: per_s(d.submits, watch.sim_submits.last_rise_ns),
            messages_per_s: per_s(d.messages, watch.sim_messages.last_rise_ns),
            receipts_per_s: per_s(d.receipts, watch.sim_receipts.last_rise_ns),
            backlog_at_end_of_load: backlog_at_end_of_load.unwrap_or(0),
            backlog: watch.backlog(total.accepted).unwrap_or(0),
        }
    });
    let gateway = match (plan.gateway_pid, gw_before, watch.gw_now) {
        (Some(pid), Some(before), Some(now)) => {
            let cpu_s = (now.cpu_s - before.cpu_s).max(0.0);
            Some(GatewayReport {
                pid,
                cpu_s,
                cpu_us_per_msg: if total.accepted > 0 {
                    cpu_s * 1e6 / total.accepted as f64
                } else {
                    0.0
                },
                peak_rss_kib: now.peak_rss_kib,
                rss_kib: now.rss_kib,
            })
        }
        (Some(pid), _, _) => {
            errors.push(format!(
                "--gateway-pid {pid}: /proc/{pid} could not be read"
            ));
            None
        }
        _ => None,
    };

    let elapsed_ns = total
        .last_answer_ns
        .saturating_sub(load_start_ns)
        .max(u64::from(total.answered > 0));
    let elapsed_s = elapsed_ns as f64 / 1e9;
    let open_loop = ctx.interval_ns.map(|iv| {
        // Requests due before sending stopped: the deadline, Ctrl-C, or the last request
        // taken, whichever came first.
        let end = ctx
            .deadline_ns
            .min(load_end_ns)
            .saturating_sub(load_start_ns);
        let due = ((end as f64 / iv).ceil() as u64).min(ctx.requests.unwrap_or(u64::MAX));
        OpenLoop {
            late: total.late,
            skipped: due.saturating_sub(total.requests),
            max_lag_us: total.max_lag_ns as f64 / 1e3,
        }
    });
    errors.extend(total.errors.iter().cloned());
    if total.more_errors > 0 {
        errors.push(format!(
            "… and {} more connection errors",
            total.more_errors
        ));
    }
    let class_names: Vec<String> = plan
        .classes
        .iter()
        .map(|(c, w)| format!("{}:{w}", c.as_str()))
        .collect();
    let mix: Vec<String> = plan
        .mix
        .iter()
        .map(|m| format!("{}:{}", m.prefix, m.weight))
        .collect();
    Ok(HttpLoadReport {
        url: plan.url.clone(),
        endpoint: if plan.batch.is_some() {
            "/v1/messages/batch"
        } else {
            "/v1/messages"
        },
        connections: plan.connections,
        rate: plan.rate,
        batch: plan.batch,
        mix: mix.join(","),
        landline_share: plan.landline_share,
        classes: class_names.join(","),
        requests: total.requests,
        answered: total.answered,
        messages: total.messages,
        accepted: total.accepted,
        rejected: total.rejected,
        statuses: total.statuses.iter().copied().collect(),
        rejections: total.rejections,
        failed: total.failed,
        timed_out: total.timed_out,
        reconnects: total.reconnects,
        open_loop,
        elapsed_s,
        requests_per_s: per_s(total.answered, elapsed_ns),
        accepted_per_s: per_s(total.accepted, elapsed_ns),
        latency: total.latency.summary(),
        latency_after_s: plan.warmup.as_secs_f64(),
        carriers,
        callbacks,
        gateway,
        drain,
        client: ClientUsage {
            cpu_s: cpu,
            cpu_us_per_msg: if total.messages > 0 {
                cpu * 1e6 / total.messages as f64
            } else {
                0.0
            },
            peak_rss_kib: peak_rss_kib().unwrap_or(0),
        },
        timeline: watch.timeline,
        errors,
        interrupted: shutdown.is_cancelled(),
    })
}

/// `n` per second over `ns` nanoseconds.
fn per_s(n: u64, ns: u64) -> f64 {
    if ns == 0 {
        0.0
    } else {
        n as f64 * 1e9 / ns as f64
    }
}

/// A counter sampled over time: its value and when it last rose (ns since the load began).
#[derive(Clone, Copy, Default)]
struct Rising {
    value: u64,
    last_rise_ns: u64,
}

impl Rising {
    fn set(&mut self, value: u64, at_ns: u64) {
        if value > self.value {
            self.value = value;
            self.last_rise_ns = at_ns;
        }
    }
}

/// The watcher's samples: the sides of the run over time.
struct Watch {
    load_start_ns: u64,
    gateway_pid: Option<u32>,
    gw_now: Option<ProcSample>,
    /// The gateway at the start of the current timeline second.
    gw_second: Option<ProcSample>,
    sim_before: SimTotals,
    sim_now: SimTotals,
    sim_ok: bool,
    sim_submits: Rising,
    sim_messages: Rising,
    sim_receipts: Rising,
    callbacks: Rising,
    /// When any watched counter last rose (ns since the load began).
    last_change_ns: u64,
    timeline: Vec<HttpSecond>,
    /// Totals at the end of the last timeline second.
    last: HttpSecond,
    next_second_ns: u64,
}

impl Watch {
    fn new(
        load_start_ns: u64,
        gateway_pid: Option<u32>,
        gw_before: Option<ProcSample>,
        sim_before: Option<SimTotals>,
    ) -> Watch {
        Watch {
            load_start_ns,
            gateway_pid,
            gw_now: gw_before,
            gw_second: gw_before,
            sim_before: sim_before.unwrap_or_default(),
            sim_now: sim_before.unwrap_or_default(),
            sim_ok: sim_before.is_some(),
            sim_submits: Rising::default(),
            sim_messages: Rising::default(),
            sim_receipts: Rising::default(),
            callbacks: Rising::default(),
            last_change_ns: 0,
            timeline: Vec::new(),
            last: HttpSecond::default(),
            next_second_ns: 1_000_000_000,
        }
    }

    fn t_ns(&self, ctx: &Ctx) -> u64 {
        ctx.now_ns().saturating_sub(self.load_start_ns)
    }

    async fn sample(
        &mut self,
        ctx: &Ctx,
        sim: Option<&mut SimProbe>,
        receiver: Option<&Receiver>,
        errors: &mut Vec<String>,
    ) {
        if let Some(sim) = sim
            && self.sim_ok
        {
            match tokio::time::timeout(Duration::from_secs(2), sim.totals()).await {
                Ok(Ok(t)) => self.sim_now = t,
                Ok(Err(e)) => {
                    // One failure ends the sampling: the figures would be wrong, not late.
                    errors.push(format!("{e:#}"));
                    self.sim_ok = false;
                }
                Err(_) => {
                    errors.push("--sim-control: no answer within 2s".into());
                    self.sim_ok = false;
                }
            }
        }
        if let Some(pid) = self.gateway_pid
            && let Some(s) = probe::sample(pid)
        {
            self.gw_now = Some(s);
        }
        let t = self.t_ns(ctx);
        let d = self.sim_now.since(&self.sim_before);
        let before = (
            self.sim_submits.value,
            self.sim_messages.value,
            self.sim_receipts.value,
            self.callbacks.value,
        );
        self.sim_submits.set(d.submits, t);
        self.sim_messages.set(d.messages, t);
        self.sim_receipts.set(d.receipts, t);
        if let Some(r) = receiver {
            self.callbacks.set(r.received(), t);
        }
        let after = (
            self.sim_submits.value,
            self.sim_messages.value,
            self.sim_receipts.value,
            self.callbacks.value,
        );
        if before != after {
            self.last_change_ns = t;
        }
        while t >= self.next_second_ns {
            let at = self.next_second_ns;
            self.push_second(ctx, at);
            self.next_second_ns += 1_000_000_000;
        }
    }

    /// How long no watched counter has risen, counting from `since_ns` at the earliest.
    fn still_since(&self, ctx: &Ctx, since_ns: u64) -> Duration {
        Duration::from_nanos(
            self.t_ns(ctx)
                .saturating_sub(self.last_change_ns.max(since_ns)),
        )
    }

    /// Accepted and not (yet) at a carrier; `None` without the simulator.
    fn backlog(&self, accepted: u64) -> Option<i64> {
        self.sim_ok
            .then(|| accepted as i64 - self.sim_messages.value as i64)
    }

    fn push_second(&mut self, ctx: &Ctx, t_ns: u64) {
        let now = HttpSecond {
            t: t_ns as f64 / 1e9,
            requests: ctx.sent.load(Relaxed),
            accepted: ctx.accepted.load(Relaxed),
            rejected: ctx.rejected.load(Relaxed),
            failed: ctx.failed.load(Relaxed),
            carrier_messages: self.sim_messages.value,
            receipts: self.sim_receipts.value,
            callbacks: self.callbacks.value,
            gateway_cores: 0.0,
        };
        let span_s = (t_ns as f64 / 1e9) - self.last.t;
        let cores = match (self.gw_second, self.gw_now) {
            (Some(a), Some(b)) if span_s > 0.0 => (b.cpu_s - a.cpu_s).max(0.0) / span_s,
            _ => 0.0,
        };
        self.gw_second = self.gw_now;
        self.timeline.push(HttpSecond {
            t: now.t,
            requests: now.requests - self.last.requests,
            accepted: now.accepted - self.last.accepted,
            rejected: now.rejected - self.last.rejected,
            failed: now.failed - self.last.failed,
            carrier_messages: now.carrier_messages - self.last.carrier_messages,
            receipts: now.receipts - self.last.receipts,
            callbacks: now.callbacks - self.last.callbacks,
            gateway_cores: cores,
        });
        self.last = now;
    }

    /// The partial last second, if the run ended well inside one.
    fn finish_timeline(&mut self, ctx: &Ctx) {
        let t = self.t_ns(ctx);
        if t > self.next_second_ns - 1_000_000_000 + 50_000_000 {
            self.push_second(ctx, t);
        }
    }
}

/// Figures of one connection, added up at the end.
#[derive(Default)]
struct ConnStats {
    requests: u64,
    answered: u64,
    messages: u64,
    accepted: u64,
    rejected: u64,
    /// Answers by HTTP status: few distinct values, a linear list.
    statuses: Vec<(u16, u64)>,
    rejections: BTreeMap<String, u64>,
    failed: u64,
    timed_out: u64,
    reconnects: u64,
    late: u64,
    max_lag_ns: u64,
    latency: Histogram,
    last_answer_ns: u64,
    errors: Vec<String>,
    more_errors: u64,
}

impl ConnStats {
    fn merge(&mut self, o: ConnStats) {
        self.requests += o.requests;
        self.answered += o.answered;
        self.messages += o.messages;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        for (s, n) in o.statuses {
            match self.statuses.iter_mut().find(|(x, _)| *x == s) {
                Some((_, m)) => *m += n,
                None => self.statuses.push((s, n)),
            }
        }
        for (k, n) in o.rejections {
            *self.rejections.entry(k).or_default() += n;
        }
        self.failed += o.failed;
        self.timed_out += o.timed_out;
        self.reconnects += o.reconnects;
        self.late += o.late;
        self.max_lag_ns = self.max_lag_ns.max(o.max_lag_ns);
        self.latency.merge(&o.latency);
        self.last_answer_ns = self.last_answer_ns.max(o.last_answer_ns);
        for e in o.errors {
            self.error(e);
        }
        self.more_errors += o.more_errors;
    }

    fn error(&mut self, e: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.more_errors += 1;
        }
    }

    fn refused(&mut self, key: String, n: u64) {
        if let Some(v) = self.rejections.get_mut(&key) {
            *v += n;
        } else if self.rejections.len() < MAX_REASONS {
            self.rejections.insert(key, n);
        } else {
            *self.rejections.entry("other".into()).or_default() += n;
        }
    }

    /// Counts an answer to a request of `n` messages: accepted and refused messages, and the
    /// reasons of the refused, read from the body without parsing it.
    fn answer(&mut self, status: u16, body: &[u8], n: u32, batch: bool) -> (u64, u64) {
        match self.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, c)) => *c += 1,
            None => self.statuses.push((status, 1)),
        }
        let n = u64::from(n);
        let ok = (200..300).contains(&status);
        let (accepted, rejected) = match (batch, ok) {
            (false, true) => (1, 0),
            (true, true) => {
                // `{"accepted":A,"rejected":R,"results":[…]}`
                let a = json_u64(body, b"accepted").unwrap_or(n).min(n);
                let r = json_u64(body, b"rejected").unwrap_or(n - a).min(n - a);
                if r > 0 {
                    self.batch_items(body, r);
                }
                (a, r)
            }
            (true, false) if json_str(body, b"code") == Some(b"batch_rejected") => {
                self.batch_items(body, n);
                (0, n)
            }
            (_, false) => {
                let code = json_str(body, b"code").map(String::from_utf8_lossy);
                let reason = json_str(body, b"reason").map(String::from_utf8_lossy);
                let key = match (code, reason) {
                    (Some(c), Some(r)) => format!("{status} {c}/{r}"),
                    (Some(c), None) => format!("{status} {c}"),
                    _ => format!("{status}"),
                };
                self.refused(key, n);
                (0, n)
            }
        };
        self.accepted += accepted;
        self.rejected += rejected;
        (accepted, rejected)
    }

    /// The reasons of the refused items of a batch answer: each `"error":{…}` object.
    fn batch_items(&mut self, body: &[u8], refused: u64) {
        let mut found = 0;
        // Items are in `results`; a 400 batch_rejected has an `error` of its own before it.
        let mut rest = match wire::find(body, b"\"results\":") {
            Some(at) => &body[at..],
            None => body,
        };
        while found < refused
            && let Some(at) = wire::find(rest, b"\"error\":")
        {
            rest = &rest[at + 8..];
            // The item's error ends before the next item.
            let end = wire::find(rest, b"\"index\":").unwrap_or(rest.len());
            let item = &rest[..end];
            let code = json_str(item, b"code").map(String::from_utf8_lossy);
            let reason = json_str(item, b"reason").map(String::from_utf8_lossy);
            let key = match (code, reason) {
                (Some(c), Some(r)) => format!("item {c}/{r}"),
                (Some(c), None) => format!("item {c}"),
                _ => "item".to_owned(),
            };
            self.refused(key, 1);
            found += 1;
        }
        if found < refused {
            self.refused("item (reason not found)".into(), refused - found);
        }
    }
}

/// One connection: take the next request number, wait for its time in open loop, send,
/// count the answer; until the count, the deadline, or a stop.
async fn drive(
    ctx: Arc<Ctx>,
    load_start_ns: u64,
    conn: HttpConn,
    stop: CancellationToken,
    abort: CancellationToken,
) -> ConnStats {
    let mut st = ConnStats::default();
    let mut conn = Some(conn);
    let (mut body, mut req) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
    loop {
        if stop.is_cancelled() {
            break;
        }
        let ticket = ctx.next.fetch_add(1, Relaxed);
        if ctx.requests.is_some_and(|t| ticket >= t) {
            break;
        }
        let mut now = ctx.now_ns();
        let stamp = match ctx.interval_ns {
            None => now,
            Some(iv) => {
                let due = load_start_ns + (ticket as f64 * iv) as u64;
                if due >= ctx.deadline_ns {
                    break;
                }
                if due > now + LOOKAHEAD_NS {
                    let at = ctx.start + Duration::from_nanos(due - LOOKAHEAD_NS);
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        _ = stop.cancelled() => break,
                    }
                    now = ctx.now_ns();
                }
                if now > due + LATE_NS {
                    st.late += 1;
                    st.max_lag_ns = st.max_lag_ns.max(now - due);
                }
                // Early (within the lookahead): from when it went. Late: from when it was due.
                due.min(now)
            }
        };
        if now >= ctx.deadline_ns {
            break;
        }
        let n = ctx.renderer.messages_in(ticket, ctx.count);
        ctx.renderer.render(ticket, n, stamp, &mut body, &mut req);

        let c = match conn.take() {
            Some(c) if !c.closing() => c,
            old => {
                let replacing = old.is_some();
                match tokio::time::timeout(CONNECT_TIMEOUT, HttpConn::connect(ctx.target)).await {
                    Ok(Ok(c)) => {
                        if replacing {
                            st.reconnects += 1;
                        }
                        c
                    }
                    Ok(Err(e)) => {
                        st.error(format!("reconnect to {}: {e}", ctx.target));
                        break;
                    }
                    Err(_) => {
                        st.error(format!("reconnect to {}: timed out", ctx.target));
                        break;
                    }
                }
            }
        };
        let mut c = c;
        st.requests += 1;
        st.messages += u64::from(n);
        ctx.sent.fetch_add(1, Relaxed);
        let result = tokio::select! {
            r = tokio::time::timeout(ctx.response_timeout, c.exchange(&req)) => Some(r),
            _ = abort.cancelled() => None,
        };
        let done = ctx.now_ns();
        let keep = match result {
            Some(Ok(Ok((status, answer)))) => {
                if stamp >= ctx.warmup_until_ns {
                    st.latency.record(done.saturating_sub(stamp));
                }
                st.answered += 1;
                st.last_answer_ns = done;
                let (a, r) = st.answer(status, answer, n, ctx.batch);
                ctx.accepted.fetch_add(a, Relaxed);
                ctx.rejected.fetch_add(r, Relaxed);
                true
            }
            Some(Ok(Err(e))) => {
                st.failed += 1;
                ctx.failed.fetch_add(1, Relaxed);
                st.error(format!("no answer: {e}"));
                false
            }
            Some(Err(_)) => {
                st.failed += 1;
                st.timed_out += 1;
                ctx.failed.fetch_add(1, Relaxed);
                false
            }
            None => {
                st.failed += 1;
                ctx.failed.fetch_add(1, Relaxed);
                break;
            }
        };
        if keep {
            conn = Some(c);
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_status_and_reason() {
        let mut s = ConnStats::default();
        assert_eq!(
            s.answer(202, br#"{"id":"x","status":"accepted"}"#, 1, false),
            (1, 0)
        );
        assert_eq!(
            s.answer(
                400,
                br#"{"error":{"code":"invalid_field","field":"to","reason":"fixed_line","message":"m"}}"#,
                1,
                false
            ),
            (0, 1)
        );
        assert_eq!(
            s.answer(
                401,
                br#"{"error":{"code":"invalid_api_key","message":"m"}}"#,
                1,
                false
            ),
            (0, 1)
        );
        assert_eq!(s.answer(503, b"", 1, false), (0, 1));
        let batch = br#"{"accepted":2,"rejected":1,"results":[
            {"index":0,"id":"a","status":"accepted"},
            {"index":1,"status":"rejected","error":{"code":"invalid_field","field":"messages[1].to","reason":"invalid_number","cause":"too_short"}},
            {"index":2,"id":"b","status":"accepted"}]}"#;
        assert_eq!(s.answer(202, batch, 3, true), (2, 1));
        let none = br#"{"error":{"code":"batch_rejected","message":"m"},"accepted":0,"rejected":2,"results":[
            {"index":0,"status":"rejected","error":{"code":"invalid_field","reason":"fixed_line"}},
            {"index":1,"status":"rejected","error":{"code":"invalid_field","reason":"fixed_line"}}]}"#;
        assert_eq!(s.answer(400, none, 2, true), (0, 2));
        assert_eq!(
            s.answer(429, br#"{"error":{"code":"rate_limited"}}"#, 5, true),
            (0, 5)
        );
        assert_eq!((s.accepted, s.rejected), (3, 11));
        let want: BTreeMap<String, u64> = [
            ("400 invalid_field/fixed_line", 1),
            ("401 invalid_api_key", 1),
            ("503", 1),
            ("item invalid_field/invalid_number", 1),
            ("item invalid_field/fixed_line", 2),
            ("429 rate_limited", 5),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(s.rejections, want);
        let mut statuses = s.statuses.clone();
        statuses.sort_unstable();
        assert_eq!(statuses, [(202, 2), (400, 2), (401, 1), (429, 1), (503, 1)]);
    }

    #[test]
    fn rising_counters_remember_when() {
        let mut r = Rising::default();
        r.set(5, 100);
        r.set(5, 200);
        assert_eq!((r.value, r.last_rise_ns), (5, 100));
        r.set(7, 300);
        assert_eq!((r.value, r.last_rise_ns), (7, 300));
        assert_eq!(per_s(10, 2_000_000_000), 5.0);
        assert_eq!(per_s(10, 0), 0.0);
    }
}

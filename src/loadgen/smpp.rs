//! The SMPP load client: binds, the per-connection fast path, and the run that ties them up.
//!
//! One task owns each connection and does everything on it: it copies patched submit_sm
//! templates into one write buffer up to the window, writes them with one syscall, reads what
//! came back with another, and walks the read buffer header by header. A submit_sm_resp costs a
//! header peek, one window slot and one histogram bucket; only with `--receipts` is its
//! message_id read and are deliver_sm decoded. The clock is read twice per batch (after the
//! read, before the write), not per PDU. Nothing on the path allocates or locks per PDU: the
//! receipt book is visited once per read batch.
//!
//! Splitting a connection into a reading and a writing task on two cores was measured against
//! this (docs/performance.md): on the 2-core machine the SMSC needs the other core, and the
//! hand-over of window slots between two tasks cost more than it gained.
//!
//! A run goes: resolve and check the target, bind every connection, then start the clock and
//! the drivers together; each driver stops sending at its share of `--count` or at the
//! deadline and drains its window; then the run waits for outstanding receipts (at most
//! `--receipt-wait`), unbinds, and adds up the binds' figures.

use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Buf, Bytes, BytesMut};
use gannet_smpp::{Bind, Body, CommandId, CommandStatus, DecodeMode, HEADER_LEN, Header, Pdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::args::{BindMode, Plan, SmppLoadArgs};
use super::histogram::Histogram;
use super::receipts::{Arrived, Book, IdKey, IdMatch, STAT_NAMES, scan_deliver_sm};
use super::report::{ClientUsage, LoadReport, ReceiptReport, Second, peak_rss_kib, process_cpu_s};
use super::template::Template;

/// Largest PDU accepted from the SMSC; a longer command_length means the stream is out of step.
const MAX_PDU: usize = 70 * 1024;
/// Read in chunks of this much.
const READ_CHUNK: usize = 256 * 1024;
/// Stop reading while this much is waiting to be written (the SMSC is not reading).
const WRITE_HIGH_WATER: usize = 4 * 1024 * 1024;
/// With `--rate`, PDUs due this soon are sent now: tokio's timer has a 1 ms resolution, and
/// waking late for each would add up to a millisecond to every latency.
const LOOKAHEAD_NS: u64 = 1_000_000;
/// How often the window is checked for responses past the timeout.
const EXPIRY_EVERY_NS: u64 = 100_000_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const BIND_TIMEOUT: Duration = Duration::from_secs(10);
const UNBIND_TIMEOUT: Duration = Duration::from_secs(2);
/// After Ctrl-C, how long in-flight PDUs get to be answered.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(2);

/// Runs `gannet loadgen smpp` to completion (or until `shutdown`) and reports.
pub async fn run_smpp(
    args: SmppLoadArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<LoadReport> {
    let plan = Plan::new(&args).await?;
    run_plan(plan, shutdown).await
}

/// Runs a checked plan.
pub async fn run_plan(plan: Plan, shutdown: CancellationToken) -> anyhow::Result<LoadReport> {
    let template = Arc::new(Template::new(&plan));
    let (submit_kind, receive_kind) = match plan.bind {
        BindMode::Transmitter => (CommandId::BIND_TRANSMITTER, None),
        BindMode::Transceiver => (CommandId::BIND_TRANSCEIVER, None),
        BindMode::ReceiverTransmitter => {
            (CommandId::BIND_TRANSMITTER, Some(CommandId::BIND_RECEIVER))
        }
    };

    // Bind everything before the clock starts, so that bind time is not load time.
    let mut conns = Vec::new();
    for i in 0..plan.binds {
        let stream = tokio::select! {
            r = bind(&plan, submit_kind) => r.with_context(|| format!("bind {i}"))?,
            _ = shutdown.cancelled() => bail!("interrupted while binding"),
        };
        conns.push((i, stream, true));
        if let Some(kind) = receive_kind {
            let stream = tokio::select! {
                r = bind(&plan, kind) => r.with_context(|| format!("bind {i} (receiver)"))?,
                _ = shutdown.cancelled() => bail!("interrupted while binding"),
            };
            conns.push((i, stream, false));
        }
    }

    let cpu_before = process_cpu_s();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        start,
        submitted: AtomicU64::new(0),
        acknowledged: AtomicU64::new(0),
        receipts: AtomicU64::new(0),
        drained: AtomicU64::new(0),
        // Small to start: while receipts keep up the book holds a batch or two, and a table
        // that fits in cache is what keeps insert and remove cheap. It grows with a backlog.
        book: Mutex::new(Book::with_capacity(if plan.receipts { 4096 } else { 0 })),
    });
    let stop = shutdown.child_token();
    let finish = CancellationToken::new();
    let submitters = plan.binds as u64;
    let mut tasks = JoinSet::new();
    for (i, (stream, leftover), submits) in conns {
        let submitter = submits.then(|| Submitter::new(&plan, Arc::clone(&template), i));
        let driver = Driver::new(stream, leftover, submitter, &plan, Arc::clone(&shared));
        tasks.spawn(driver.run(stop.clone(), finish.clone()));
    }

    // Watch the run: a timeline line per second, then the end of sending, then receipts.
    let mut timeline = Vec::new();
    let mut last = Second::default();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next_second = Duration::from_secs(1);
    let mut drained_at: Option<Instant> = None;
    let mut shutdown_at: Option<Instant> = None;
    let mut results = Vec::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(joined) = tasks.join_next() => {
                results.push(joined);
                if tasks.is_empty() {
                    break;
                }
                continue;
            }
        }
        let now = Instant::now();
        if start.elapsed() >= next_second {
            let s = shared.second(next_second.as_secs_f64(), &last);
            last = Second {
                submitted: last.submitted + s.submitted,
                acknowledged: last.acknowledged + s.acknowledged,
                receipts: last.receipts + s.receipts,
                ..s
            };
            timeline.push(s);
            next_second += Duration::from_secs(1);
        }
        if shutdown.is_cancelled() && shutdown_at.is_none() {
            shutdown_at = Some(now);
        }
        if drained_at.is_none() && shared.drained.load(Relaxed) >= submitters {
            drained_at = Some(now);
        }
        let done = match (drained_at, shutdown_at) {
            (_, Some(at)) if now.duration_since(at) >= SHUTDOWN_DRAIN => true,
            (Some(_), Some(_)) => true,
            (None, Some(_)) => false,
            (Some(at), None) => {
                !plan.receipts
                    || shared.book().outstanding() == 0
                    || now.duration_since(at) >= plan.receipt_wait
            }
            (None, None) => false,
        };
        if done && !finish.is_cancelled() {
            finish.cancel();
        }
    }

    let cpu = match (cpu_before, process_cpu_s()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let mut total = BindStats::default();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(stats) => {
                if let Some(e) = &stats.error {
                    errors.push(e.clone());
                }
                total.merge(&stats);
            }
            Err(e) => errors.push(format!("bind task failed: {e}")),
        }
    }
    // The partial last second, if the run ended inside one.
    let end = start.elapsed();
    if end > next_second - Duration::from_secs(1) + Duration::from_millis(50) {
        timeline.push(shared.second(end.as_secs_f64(), &last));
    }
    Ok(report(&plan, &shared, total, errors, timeline, cpu))
}

fn report(
    plan: &Plan,
    shared: &Shared,
    s: BindStats,
    errors: Vec<String>,
    timeline: Vec<Second>,
    cpu_s: f64,
) -> LoadReport {
    let secs = |ns: u64| ns as f64 / 1e9;
    let elapsed_s = secs(s.last_resp_ns);
    let per_s = |n: u64, over: f64| if over > 0.0 { n as f64 / over } else { 0.0 };
    let mut statuses = std::collections::BTreeMap::new();
    if s.ok > 0 {
        statuses.insert("ESME_ROK".to_owned(), s.ok);
    }
    for &(status, n) in &s.errors {
        let name = CommandStatus(status)
            .name()
            .map_or_else(|| format!("0x{status:08X}"), str::to_owned);
        *statuses.entry(name).or_insert(0) += n;
    }
    let receipts = plan.receipts.then(|| {
        let book = shared.book();
        let mut by_stat = std::collections::BTreeMap::new();
        for (i, &n) in s.by_stat.iter().enumerate() {
            if n > 0 {
                by_stat.insert(STAT_NAMES[i], n);
            }
        }
        ReceiptReport {
            received: s.receipts,
            by_stat,
            matched: book.matched,
            matched_per_s: per_s(book.matched, secs(s.last_receipt_ns)),
            latency: s.receipt_latency.summary(),
            outstanding: book.outstanding(),
            unmatched: book.unmatched(),
            mo: s.mo,
        }
    });
    LoadReport {
        target: plan.target.to_string(),
        bind: plan.bind.as_str(),
        binds: plan.binds,
        window: plan.window,
        rate: plan.rate,
        parts_per_message: plan.parts.len(),
        submitted: s.submitted,
        acknowledged: s.acknowledged,
        statuses,
        timed_out: s.timed_out,
        unanswered: s.unanswered,
        stray_responses: s.stray,
        max_in_flight: s.max_in_flight,
        elapsed_s,
        acknowledged_per_s: per_s(s.acknowledged, elapsed_s),
        accepted_per_s: per_s(s.ok, elapsed_s),
        resp_latency: s.resp_latency.summary(),
        receipts,
        client: ClientUsage {
            cpu_s,
            cpu_us_per_msg: if s.acknowledged > 0 {
                cpu_s * 1e6 / s.acknowledged as f64
            } else {
                0.0
            },
            peak_rss_kib: peak_rss_kib().unwrap_or(0),
        },
        timeline,
        errors,
    }
}

/// What the binds of a run share.
struct Shared {
    start: Instant,
    submitted: AtomicU64,
    acknowledged: AtomicU64,
    receipts: AtomicU64,
    /// Submitting binds that have stopped sending and have nothing in flight (or are gone).
    drained: AtomicU64,
    book: Mutex<Book>,
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, Book> {
        // A driver that panicked holding the lock leaves a book that is still consistent
        // (every update is one insert or remove): keep counting.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The second ending at `t`: counts since `before`, backlog now.
    fn second(&self, t: f64, before: &Second) -> Second {
        Second {
            t,
            submitted: self.submitted.load(Relaxed) - before.submitted,
            acknowledged: self.acknowledged.load(Relaxed) - before.acknowledged,
            receipts: self.receipts.load(Relaxed) - before.receipts,
            receipts_outstanding: self.book().outstanding(),
        }
    }
}

/// Connects, binds, and returns the bound stream with whatever the SMSC sent after the
/// bind response (an enquire_link, an early receipt), which the driver must not lose.
async fn bind(plan: &Plan, kind: CommandId) -> anyhow::Result<(TcpStream, BytesMut)> {
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(plan.target))
        .await
        .with_context(|| format!("connect to {}: timed out", plan.target))?
        .with_context(|| format!("connect to {}", plan.target))?;
    // Batching is ours to do: Nagle would hold the last partial segment of every batch back
    // for an ACK (Jasmin lost 2.4x to this; ARCHITECTURE.md).
    stream.set_nodelay(true)?;
    let body = Bind::new(plan.system_id.clone(), plan.password.clone());
    let body = match kind {
        CommandId::BIND_RECEIVER => Body::BindReceiver(body),
        CommandId::BIND_TRANSMITTER => Body::BindTransmitter(body),
        _ => Body::BindTransceiver(body),
    };
    stream.write_all(&Pdu::new(1, body).to_bytes()).await?;
    let want = kind.response().unwrap_or(CommandId::BIND_TRANSCEIVER_RESP);
    let mut buf = BytesMut::with_capacity(1024);
    let handshake = async {
        loop {
            while let Some(h) = Header::peek(&buf) {
                let len = h.command_length as usize;
                if !(HEADER_LEN..=MAX_PDU).contains(&len) {
                    bail!("SMSC sent command_length {len} during bind");
                }
                if buf.len() < len {
                    break;
                }
                let frame = buf.split_to(len);
                if h.command_id == want {
                    if !h.command_status.is_ok() {
                        bail!("{} refused: {}", kind, h.command_status);
                    }
                    return Ok(());
                }
                if h.command_id == CommandId::GENERIC_NACK {
                    bail!("{} answered with generic_nack {}", kind, h.command_status);
                }
                if h.command_id == CommandId::ENQUIRE_LINK {
                    let mut resp = Vec::with_capacity(HEADER_LEN);
                    put_header(
                        &mut resp,
                        HEADER_LEN,
                        CommandId::ENQUIRE_LINK_RESP,
                        0,
                        h.sequence_number,
                    );
                    stream.write_all(&resp).await?;
                }
                drop(frame);
            }
            if stream.read_buf(&mut buf).await? == 0 {
                bail!("SMSC closed the connection during bind");
            }
        }
    };
    tokio::time::timeout(BIND_TIMEOUT, handshake)
        .await
        .with_context(|| format!("{kind}: no response in {BIND_TIMEOUT:?}"))??;
    Ok((stream, buf))
}

fn put_header(out: &mut Vec<u8>, len: usize, id: CommandId, status: u32, seq: u32) {
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.extend_from_slice(&id.0.to_be_bytes());
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
}

/// The sending side of a bind.
struct Submitter {
    template: Arc<Template>,
    window: crate::loadgen::window::Window,
    /// Destination of the message being sent.
    dest: Vec<u8>,
    /// This bind's number and the number of binds: message numbers are `k * binds + index`,
    /// distinct over the run, so no two binds send the same destination.
    index: u64,
    binds: u64,
    /// Messages started on this bind, and the next part of the current one.
    messages: u64,
    part: usize,
    /// PDUs written.
    sent: u64,
    /// This bind's share of --count, in PDUs.
    budget: u64,
    deadline_ns: u64,
    /// Nanoseconds between PDUs with --rate (this bind's share).
    interval_ns: Option<f64>,
    done: bool,
}

impl Submitter {
    fn new(plan: &Plan, template: Arc<Template>, index: u32) -> Submitter {
        let binds = u64::from(plan.binds);
        let index = u64::from(index);
        let budget = plan
            .count
            .map_or(u64::MAX, |c| c / binds + u64::from(index < c % binds));
        let interval_ns = (plan.rate > 0).then(|| 1e9 * binds as f64 / plan.rate as f64);
        Submitter {
            dest: vec![b'0'; template.dest_len()],
            template,
            // Sequence number 1 went to the bind.
            window: crate::loadgen::window::Window::new(plan.window, 2),
            index,
            binds,
            messages: 0,
            part: 0,
            sent: 0,
            budget,
            deadline_ns: plan.duration.as_nanos() as u64,
            interval_ns,
            done: false,
        }
    }

    /// Scheduled send time of PDU number `k` with --rate.
    #[inline]
    fn scheduled(&self, k: u64) -> Option<u64> {
        self.interval_ns.map(|iv| (k as f64 * iv) as u64)
    }

    /// Appends as many submit_sm as the window, the budget, the deadline and the schedule
    /// allow. Returns how many.
    fn fill(&mut self, now_ns: u64, out: &mut Vec<u8>) -> u64 {
        let mut n = 0;
        while !self.done && self.window.has_room() {
            if self.part == 0 && (self.sent >= self.budget || now_ns >= self.deadline_ns) {
                // Stop between messages, never inside one.
                self.done = true;
                break;
            }
            let stamp = match self.scheduled(self.sent) {
                Some(at) if at > now_ns + LOOKAHEAD_NS => break,
                // Behind schedule: latency runs from when the PDU should have gone, so a
                // queue in the client or the SMSC shows instead of hiding.
                Some(at) => at.min(now_ns),
                None => now_ns,
            };
            let message = self.messages * self.binds + self.index;
            if self.part == 0 {
                self.template.destination(message, &mut self.dest);
            }
            let seq = self.window.open(stamp);
            self.template
                .write(out, message, self.part, seq, &self.dest);
            self.sent += 1;
            n += 1;
            self.part += 1;
            if self.part == self.template.parts() {
                self.part = 0;
                self.messages += 1;
            }
        }
        n
    }

    /// When the next PDU may go, if the window has room and sending is on.
    fn next_send_ns(&self) -> Option<u64> {
        if self.done || !self.window.has_room() {
            return None;
        }
        let at = self.scheduled(self.sent).unwrap_or(0);
        Some(at.saturating_sub(LOOKAHEAD_NS).min(self.deadline_ns))
    }
}

/// Figures of one connection, added up at the end.
#[derive(Default)]
struct BindStats {
    submitted: u64,
    acknowledged: u64,
    ok: u64,
    /// Non-ESME_ROK statuses: (command_status, count). Few distinct values: a linear list.
    errors: Vec<(u32, u64)>,
    timed_out: u64,
    unanswered: u64,
    /// Responses for sequence numbers not in flight (late after a timeout, or never sent).
    stray: u64,
    max_in_flight: u32,
    resp_latency: Histogram,
    receipt_latency: Histogram,
    receipts: u64,
    by_stat: [u64; 10],
    mo: u64,
    last_resp_ns: u64,
    last_receipt_ns: u64,
    error: Option<String>,
}

impl BindStats {
    fn count_status(&mut self, status: u32) {
        match self.errors.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((status, 1)),
        }
    }

    fn merge(&mut self, o: &BindStats) {
        self.submitted += o.submitted;
        self.acknowledged += o.acknowledged;
        self.ok += o.ok;
        for &(s, n) in &o.errors {
            match self.errors.iter_mut().find(|(x, _)| *x == s) {
                Some((_, m)) => *m += n,
                None => self.errors.push((s, n)),
            }
        }
        self.timed_out += o.timed_out;
        self.unanswered += o.unanswered;
        self.stray += o.stray;
        self.max_in_flight = self.max_in_flight.max(o.max_in_flight);
        self.resp_latency.merge(&o.resp_latency);
        self.receipt_latency.merge(&o.receipt_latency);
        self.receipts += o.receipts;
        for (a, b) in self.by_stat.iter_mut().zip(o.by_stat) {
            *a += b;
        }
        self.mo += o.mo;
        self.last_resp_ns = self.last_resp_ns.max(o.last_resp_ns);
        self.last_receipt_ns = self.last_receipt_ns.max(o.last_receipt_ns);
    }
}

/// One connection and everything done on it.
struct Driver {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    /// Written prefix of `wbuf`.
    wpos: usize,
    submit: Option<Submitter>,
    /// Collect message ids and decode receipts.
    receipts: bool,
    id_match: IdMatch,
    response_timeout_ns: u64,
    shared: Arc<Shared>,
    stats: BindStats,
    /// Message ids and receipts of the current batch, settled in one visit to the book.
    ids: Vec<(IdKey, u64)>,
    arrived: Vec<Arrived>,
    /// Figures already added to the shared counters.
    flushed: (u64, u64, u64),
    drained: bool,
    unbind_seq: Option<u32>,
    unbound: bool,
    peer_unbound: bool,
}

#[derive(Debug, thiserror::Error)]
enum DriveError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("SMSC closed the connection")]
    Closed,
    #[error("SMSC sent command_length {0}: stream out of step")]
    BadLength(usize),
    #[error("SMSC unbound the session (SMPP 3.4 §4.2)")]
    PeerUnbound,
}

impl Driver {
    fn new(
        stream: TcpStream,
        leftover: BytesMut,
        submit: Option<Submitter>,
        plan: &Plan,
        shared: Arc<Shared>,
    ) -> Driver {
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK.max(leftover.len()));
        rbuf.extend_from_slice(&leftover);
        Driver {
            stream,
            rbuf,
            wbuf: Vec::with_capacity(64 * 1024),
            wpos: 0,
            submit,
            receipts: plan.receipts,
            id_match: plan.receipt_ids,
            response_timeout_ns: plan.response_timeout.as_nanos() as u64,
            shared,
            stats: BindStats::default(),
            ids: Vec::new(),
            arrived: Vec::new(),
            flushed: (0, 0, 0),
            drained: false,
            unbind_seq: None,
            unbound: false,
            peer_unbound: false,
        }
    }

    #[inline]
    fn now_ns(&self) -> u64 {
        self.shared.start.elapsed().as_nanos() as u64
    }

    async fn run(mut self, stop: CancellationToken, finish: CancellationToken) -> BindStats {
        if let Err(e) = self.drive(&stop, &finish).await {
            // Only a failure before our unbind is worth reporting.
            if self.unbind_seq.is_none() || !matches!(e, DriveError::Closed) {
                self.stats.error = Some(e.to_string());
            }
        }
        if let Some(sub) = &self.submit {
            self.stats.unanswered += u64::from(sub.window.in_flight());
            self.stats.max_in_flight = sub.window.max_in_flight();
        }
        self.flush_progress();
        self.mark_drained();
        self.stats
    }

    async fn drive(
        &mut self,
        stop: &CancellationToken,
        finish: &CancellationToken,
    ) -> Result<(), DriveError> {
        let mut stopped = pin!(stop.cancelled());
        let mut finished = pin!(finish.cancelled());
        let far = self.shared.start + Duration::from_secs(365 * 86_400);
        let mut sleep = pin!(tokio::time::sleep_until(far.into()));
        let mut armed_ns = u64::MAX;
        let mut next_expiry_ns = EXPIRY_EVERY_NS;
        let mut unbind_deadline: Option<tokio::time::Instant> = None;
        if !self.rbuf.is_empty() {
            let now = self.now_ns();
            self.process(now)?;
        }
        loop {
            // Read what has come, unless the SMSC is not reading what we write.
            if self.wbuf.len() - self.wpos < WRITE_HIGH_WATER {
                if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
                    self.rbuf.reserve(READ_CHUNK);
                }
                match self.stream.try_read_buf(&mut self.rbuf) {
                    Ok(0) => {
                        return if self.unbound || self.unbind_seq.is_some() {
                            Ok(())
                        } else if self.peer_unbound {
                            Err(DriveError::PeerUnbound)
                        } else {
                            Err(DriveError::Closed)
                        };
                    }
                    Ok(_) => {
                        let now = self.now_ns();
                        self.process(now)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !self.ids.is_empty() || !self.arrived.is_empty() {
                self.settle();
            }
            if self.unbound {
                return Ok(());
            }
            if self.peer_unbound && self.wpos == self.wbuf.len() {
                // Our unbind_resp is out. An unbind we did not ask for ends this bind early:
                // the load tool does not rebind, it reports.
                return match self.unbind_seq {
                    Some(_) => Ok(()),
                    None => Err(DriveError::PeerUnbound),
                };
            }

            let now = self.now_ns();
            if let Some(sub) = &mut self.submit {
                if stop.is_cancelled() || self.unbind_seq.is_some() || self.peer_unbound {
                    sub.done = true;
                }
                if !sub.done {
                    let n = sub.fill(now, &mut self.wbuf);
                    self.stats.submitted += n;
                }
                if now >= next_expiry_ns {
                    next_expiry_ns = now + EXPIRY_EVERY_NS;
                    if let Some(before) = now.checked_sub(self.response_timeout_ns) {
                        self.stats.timed_out += u64::from(sub.window.expire(before));
                    }
                }
            }
            self.write()?;
            self.flush_progress();
            if !self.drained
                && self
                    .submit
                    .as_ref()
                    .is_some_and(|s| s.done && s.window.in_flight() == 0)
                && self.wpos == self.wbuf.len()
            {
                self.mark_drained();
            }
            if finish.is_cancelled() && self.unbind_seq.is_none() {
                self.start_unbind();
                unbind_deadline = Some(tokio::time::Instant::now() + UNBIND_TIMEOUT);
                continue;
            }

            // Wake for the next scheduled send, the deadline, or the expiry check.
            let wake_ns = match &self.submit {
                Some(sub) if !sub.done => {
                    let mut at = sub.next_send_ns().unwrap_or(u64::MAX).min(sub.deadline_ns);
                    if sub.window.in_flight() > 0 {
                        at = at.min(next_expiry_ns);
                    }
                    at
                }
                Some(sub) if sub.window.in_flight() > 0 => next_expiry_ns,
                _ => u64::MAX,
            };
            if wake_ns != armed_ns {
                armed_ns = wake_ns;
                let at = if wake_ns == u64::MAX {
                    far
                } else {
                    self.shared.start + Duration::from_nanos(wake_ns)
                };
                sleep.as_mut().reset(at.into());
            }
            let interest = if self.wpos < self.wbuf.len() {
                if self.wbuf.len() - self.wpos >= WRITE_HIGH_WATER {
                    Interest::WRITABLE
                } else {
                    Interest::READABLE | Interest::WRITABLE
                }
            } else {
                Interest::READABLE
            };
            tokio::select! {
                biased;
                r = self.stream.ready(interest) => { r?; }
                _ = &mut sleep, if armed_ns != u64::MAX => { armed_ns = u64::MAX - 1; }
                _ = &mut stopped, if !stop.is_cancelled() => {}
                _ = &mut finished, if self.unbind_seq.is_none() => {}
                _ = tokio::time::sleep_until(unbind_deadline.unwrap_or(far.into())), if unbind_deadline.is_some() => {
                    return Ok(());
                }
            }
        }
    }

    /// Writes what is buffered, as far as the socket takes it.
    fn write(&mut self) -> Result<(), DriveError> {
        while self.wpos < self.wbuf.len() {
            match self.stream.try_write(&self.wbuf[self.wpos..]) {
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }

    /// Walks the complete PDUs in the read buffer.
    fn process(&mut self, now: u64) -> Result<(), DriveError> {
        let mut pos = 0;
        loop {
            let buf = &self.rbuf[pos..];
            let Some(h) = Header::peek(buf) else { break };
            let len = h.command_length as usize;
            if !(HEADER_LEN..=MAX_PDU).contains(&len) {
                return Err(DriveError::BadLength(len));
            }
            if buf.len() < len {
                break;
            }
            match h.command_id {
                CommandId::SUBMIT_SM_RESP | CommandId::GENERIC_NACK => {
                    let key = (self.receipts && h.command_status.is_ok())
                        .then(|| message_id(&buf[HEADER_LEN..len]))
                        .flatten()
                        .map(|id| self.id_match.resp_key(id));
                    self.on_response(h, key, now);
                }
                CommandId::DELIVER_SM if self.receipts => {
                    let scanned = scan_deliver_sm(&buf[HEADER_LEN..len]).map(|v| {
                        (
                            v.is_receipt,
                            v.id.map(|id| self.id_match.receipt_key(id)),
                            v.state,
                        )
                    });
                    match scanned {
                        Some((is_receipt, key, state)) => {
                            self.answer_deliver(h.sequence_number, CommandStatus::ESME_ROK);
                            self.on_receipt(is_receipt, key, state, now);
                        }
                        None => {
                            // Let the decoder say what is wrong, to answer with its status.
                            let frame = Bytes::copy_from_slice(&self.rbuf[pos..pos + len]);
                            let status = match Pdu::decode(&frame, DecodeMode::Lenient) {
                                Err(e) => e.status(),
                                Ok(_) => CommandStatus::ESME_RSYSERR,
                            };
                            self.answer_deliver(h.sequence_number, status);
                        }
                    }
                }
                CommandId::DELIVER_SM => {
                    self.stats.mo += 1;
                    self.answer_deliver(h.sequence_number, CommandStatus::ESME_ROK);
                }
                CommandId::ENQUIRE_LINK => {
                    put_header(
                        &mut self.wbuf,
                        HEADER_LEN,
                        CommandId::ENQUIRE_LINK_RESP,
                        0,
                        h.sequence_number,
                    );
                }
                CommandId::UNBIND => {
                    put_header(
                        &mut self.wbuf,
                        HEADER_LEN,
                        CommandId::UNBIND_RESP,
                        0,
                        h.sequence_number,
                    );
                    self.peer_unbound = true;
                }
                CommandId::UNBIND_RESP if Some(h.sequence_number) == self.unbind_seq => {
                    self.unbound = true;
                }
                // alert_notification has no response (SMPP 3.4 §4.12); other responses
                // (enquire_link_resp, deliver_sm_resp) need nothing from us.
                CommandId::ALERT_NOTIFICATION => {}
                id if !id.is_response() => {
                    put_header(
                        &mut self.wbuf,
                        HEADER_LEN,
                        CommandId::GENERIC_NACK,
                        CommandStatus::ESME_RINVCMDID.0,
                        h.sequence_number,
                    );
                }
                _ => {}
            }
            pos += len;
        }
        self.rbuf.advance(pos);
        Ok(())
    }

    #[inline]
    fn on_response(&mut self, h: Header, key: Option<IdKey>, now: u64) {
        let Some(sub) = &mut self.submit else {
            self.stats.stray += 1;
            return;
        };
        let Some(sent) = sub.window.close(h.sequence_number) else {
            self.stats.stray += 1;
            return;
        };
        self.stats.resp_latency.record(now.saturating_sub(sent));
        self.stats.acknowledged += 1;
        self.stats.last_resp_ns = now;
        if h.command_status.is_ok() {
            self.stats.ok += 1;
            if let Some(key) = key {
                self.ids.push((key, sent));
            }
        } else {
            self.stats.count_status(h.command_status.0);
        }
    }

    fn on_receipt(&mut self, is_receipt: bool, key: Option<IdKey>, state: u8, now: u64) {
        if !is_receipt {
            self.stats.mo += 1;
            return;
        }
        self.stats.receipts += 1;
        // Values past SKIPPED (9) are not in SMPP 5.0 §4.7.15: count them as OTHER.
        let bucket = if usize::from(state) < STAT_NAMES.len() {
            usize::from(state)
        } else {
            0
        };
        self.stats.by_stat[bucket] += 1;
        self.stats.last_receipt_ns = now;
        if let Some(key) = key {
            self.arrived.push(Arrived {
                key,
                state,
                recv_ns: now,
            });
        }
    }

    fn answer_deliver(&mut self, seq: u32, status: CommandStatus) {
        // deliver_sm_resp: message_id unused, a lone NUL (SMPP 3.4 §4.6.2).
        put_header(
            &mut self.wbuf,
            HEADER_LEN + 1,
            CommandId::DELIVER_SM_RESP,
            status.0,
            seq,
        );
        self.wbuf.push(0);
    }

    fn settle(&mut self) {
        self.shared
            .book()
            .settle(&self.ids, &self.arrived, &mut self.stats.receipt_latency);
        self.ids.clear();
        self.arrived.clear();
    }

    fn start_unbind(&mut self) {
        let seq = match &mut self.submit {
            Some(sub) => {
                sub.done = true;
                sub.window.take_seq()
            }
            None => 2,
        };
        put_header(&mut self.wbuf, HEADER_LEN, CommandId::UNBIND, 0, seq);
        self.unbind_seq = Some(seq);
    }

    /// Adds this bind's new figures to the run's counters (once per batch, not per PDU).
    fn flush_progress(&mut self) {
        let now = (
            self.stats.submitted,
            self.stats.acknowledged,
            self.stats.receipts,
        );
        if now != self.flushed {
            self.shared
                .submitted
                .fetch_add(now.0 - self.flushed.0, Relaxed);
            self.shared
                .acknowledged
                .fetch_add(now.1 - self.flushed.1, Relaxed);
            self.shared
                .receipts
                .fetch_add(now.2 - self.flushed.2, Relaxed);
            self.flushed = now;
        }
    }

    fn mark_drained(&mut self) {
        if !self.drained && self.submit.is_some() {
            self.drained = true;
            self.shared.drained.fetch_add(1, Relaxed);
        }
    }
}

/// The message_id C-octet string at the start of a submit_sm_resp body.
fn message_id(body: &[u8]) -> Option<&[u8]> {
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    (end > 0).then(|| &body[..end])
}

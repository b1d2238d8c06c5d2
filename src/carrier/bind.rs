//! One bind: the task that owns one socket to the carrier (the only code that touches it) and
//! drives the sans-IO [`Session`] over it.
//!
//! Per connection, one loop: answer timers (expired submits, enquire_link due, link dead), fill
//! the window from the carrier's queue (only free slots, only what the limiter allows), write
//! everything encoded this turn in one call, then wait for whichever comes first: frames from
//! the carrier, the socket becoming writable, new work, a timer, or shutdown. TCP_NODELAY is on
//! and writes are batched: Jasmin's missing NODELAY and Kannel's per-PDU flushes are the
//! throughput lessons in ARCHITECTURE.md.
//!
//! # Nothing lost across a disconnect
//!
//! Every byte appended to the write buffer has a stream offset, and every submit in flight
//! remembers where its PDU ends. When the connection dies, a submit whose PDU was not entirely
//! handed to the kernel never reached the carrier: *not sent*, queued again at the head of the
//! carrier's queue. One that was is *sent, no response*: ambiguous, resent only when the job
//! and the carrier's retry policy both allow it, counted and logged as a possible duplicate.
//!
//! # TLS
//!
//! With `tls`, the handshake follows the TCP connect (same timeout, same backoff when it
//! fails, `DownReason::TlsHandshake`), and the connection loop runs unchanged over the TLS
//! stream: one write per turn becomes one batch of TLS records, TCP_NODELAY stays on the socket
//! underneath. Bytes count as written once rustls has taken them; what rustls could not yet
//! hand to a full socket is pushed on by a flush, and a submit caught there when the link
//! dies is reported ambiguous (it may be on the wire), never resent silently.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use gannet_smpp::codec::{CodecError, Frame, PduCodec};
use gannet_smpp::session::{BindType, Incoming, Role, Session, SessionConfig, State, TimerEvent};
use gannet_smpp::{Bind, Body, CommandId, CommandStatus, Pdu};
use metrics::{Counter, Gauge, Histogram};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, trace, warn};

use crate::carrier::backoff::{Backoff, Rng, delay_for};
use crate::carrier::health::{STATE_BOUND_RX, STATE_BOUND_TX, STATE_DOWN};
use crate::carrier::pool::{
    BindState, Carrier, DownReason, PoolEvent, Segment, SegmentOutcome, Take,
};
use crate::carrier::status::StatusClass;
use crate::carrier::tls::TlsSettings;

/// The session token of bind, unbind and enquire_link; submits use their slab index.
const CONTROL: u32 = u32::MAX;
/// Frames handled per loop turn before the window is refilled and written.
const FRAMES_PER_TURN: usize = 256;
/// How long a closing connection may take to flush its last responses (unbind_resp).
const CLOSE_FLUSH: Duration = Duration::from_secs(1);
/// After the carrier's unbind, how long to wait for the answers to our submits in flight before
/// the unbind_resp ends the session: every answer that still comes is one ambiguous submit
/// fewer. Short, because the carrier is waiting for the unbind_resp on a timer of its own.
const PEER_UNBIND_GRACE: Duration = Duration::from_millis(500);
/// Initial write buffer: a window of typical submits.
const WBUF_CAPACITY: usize = 16 * 1024;

/// The clock of the pool: tokio's, so tests with paused time drive it; as a std `Instant`
/// because the session and the limiter take `now` as one.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The metric handles of one bind, resolved once (labels are not rebuilt per PDU).
struct Metrics {
    submitted: Counter,
    acked: Counter,
    failed: [Counter; 6],
    ambiguous: Counter,
    duplicates: Counter,
    reconnects: Counter,
    throttled: Counter,
    latency: Histogram,
    /// Request at the API → first submit_sm of the message written to this carrier.
    submit_delay: Histogram,
    window: Gauge,
    bound: Gauge,
}

impl Metrics {
    fn new(carrier: &str, bind: u16) -> Metrics {
        let c = carrier.to_string();
        Metrics {
            submitted: metrics::counter!("gannet_carrier_submitted_total", "carrier" => c.clone()),
            acked: metrics::counter!("gannet_carrier_acked_total", "carrier" => c.clone()),
            failed: StatusClass::ALL.map(|class| {
                metrics::counter!(
                    "gannet_carrier_failed_total",
                    "carrier" => c.clone(),
                    "class" => class.as_str()
                )
            }),
            ambiguous: metrics::counter!("gannet_carrier_ambiguous_total", "carrier" => c.clone()),
            duplicates: metrics::counter!(
                "gannet_carrier_possible_duplicates_total",
                "carrier" => c.clone()
            ),
            reconnects: metrics::counter!("gannet_carrier_reconnects_total", "carrier" => c.clone()),
            throttled: metrics::counter!("gannet_carrier_throttled_total", "carrier" => c.clone()),
            latency: metrics::histogram!(
                "gannet_carrier_resp_latency_seconds",
                "carrier" => c.clone()
            ),
            submit_delay: metrics::histogram!(super::SUBMIT_DELAY_SECONDS, "carrier" => c.clone()),
            window: metrics::gauge!(
                "gannet_carrier_window_in_use",
                "carrier" => c.clone(),
                "bind" => bind.to_string()
            ),
            bound: metrics::gauge!("gannet_carrier_binds_bound", "carrier" => c),
        }
    }

    fn failed(&self, class: StatusClass) -> &Counter {
        let i = StatusClass::ALL
            .iter()
            .position(|&c| c == class)
            .unwrap_or(0);
        &self.failed[i]
    }
}

/// One bind slot of a carrier: reconnects forever (with backoff) until shutdown. At most one
/// socket open or connecting per slot, so a carrier never sees more than `binds` sessions.
pub(crate) struct BindTask {
    carrier: Arc<Carrier>,
    index: u16,
    bind_type: BindType,
    events: mpsc::Sender<PoolEvent>,
    metrics: Metrics,
    rng: Rng,
}

impl BindTask {
    pub(crate) fn new(carrier: Arc<Carrier>, index: u16, events: mpsc::Sender<PoolEvent>) -> Self {
        let s = &carrier.settings;
        let bind_type = s.bind_mode.bind_type(index, s.binds);
        let metrics = Metrics::new(&s.name, index);
        let seed = Rng::from_entropy().next_u64() ^ u64::from(index).rotate_left(32);
        BindTask {
            carrier,
            index,
            bind_type,
            events,
            metrics,
            rng: Rng::seeded(seed),
        }
    }

    pub(crate) async fn run(mut self) {
        let shutdown = self.carrier.shutdown.clone();
        let mut backoff = Backoff::new(
            self.carrier.settings.reconnect,
            Rng::seeded(self.rng.next_u64()),
        );
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            self.set_state(BindState::Connecting).await;
            let s = &self.carrier.settings;
            let connect = tokio::time::timeout(
                s.response_timeout,
                TcpStream::connect((s.host.as_str(), s.port)),
            );
            let connected = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = connect => r,
            };
            let (reason, healthy) = match connected {
                Ok(Ok(stream)) => {
                    // SMPP is request/response with small PDUs: Nagle would hold each batch
                    // back for the previous one's ACK. Over TLS too: the option is on the
                    // socket under the TLS records.
                    if let Err(e) = stream.set_nodelay(true) {
                        warn!(error = %e, "cannot set TCP_NODELAY");
                    }
                    let carrier = Arc::clone(&self.carrier);
                    match &carrier.settings.tls {
                        None => self.serve(stream).await,
                        Some(tls) => match handshake(tls, stream, &carrier).await {
                            Handshake::Done(stream) => self.serve(*stream).await,
                            Handshake::Failed => (DownReason::TlsHandshake, false),
                            Handshake::Shutdown => break,
                        },
                    }
                }
                Ok(Err(e)) => {
                    warn!(error = %e, host = %s.host, port = s.port, "connect failed");
                    (DownReason::ConnectFailed, false)
                }
                Err(_) => {
                    warn!(host = %s.host, port = s.port, "connect timed out");
                    (DownReason::ConnectFailed, false)
                }
            };
            if reason == DownReason::Shutdown {
                break;
            }
            self.carrier
                .stats
                .reconnects
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.metrics.reconnects.increment(1);
            if healthy {
                backoff.reset();
            }
            let mut delay = backoff.next_delay();
            if reason == DownReason::BindRefused(CommandStatus::ESME_RALYBND) {
                // The SMSC still holds a session of ours (a half-open TCP connection it has not
                // noticed): give it time to drop it instead of feeding it more binds.
                delay = delay.max(self.carrier.settings.already_bound_delay);
            }
            info!(?reason, retry_in = ?delay, attempt = backoff.attempts(), "bind down");
            self.set_state(BindState::Down {
                reason,
                retry_in: delay,
            })
            .await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        self.set_state(BindState::Stopped).await;
    }

    /// Runs one connection, generic over the byte stream so that TLS is one wrapper away.
    /// Returns why it ended and whether it proved healthy (bound and answering).
    pub(crate) async fn serve<S>(&mut self, stream: S) -> (DownReason, bool)
    where
        S: AsyncRead + AsyncWrite + Send,
    {
        let s = &self.carrier.settings;
        let config = SessionConfig {
            window: s.window,
            response_timeout: s.response_timeout,
            enquire_link_interval: s.enquire_link_interval,
            enquire_link_timeout: s.enquire_link_timeout,
        };
        let session = match Session::new(Role::Esme, config, now()) {
            Ok(session) => session,
            Err(e) => {
                warn!(error = %e, "invalid session settings");
                return (DownReason::ProtocolError, false);
            }
        };
        let (read, write) = tokio::io::split(stream);
        let link = Link {
            reader: FramedRead::new(read, PduCodec::default()),
            writer: write,
            wbuf: BytesMut::with_capacity(WBUF_CAPACITY),
            appended: 0,
            written: 0,
            last_submit_end: 0,
            unflushed: false,
            session,
            slab: Slab::with_capacity(s.window as usize),
            batch: Vec::with_capacity(s.window as usize),
            healthy: false,
            bound: false,
            draining: None,
            unbind_sent: false,
            peer_unbind: None,
            down: None,
            published_window: 0,
            task: self,
        };
        link.run().await
    }

    async fn set_state(&self, state: BindState) {
        let code = match state {
            BindState::Bound if self.bind_type.esme_sends() => STATE_BOUND_TX,
            BindState::Bound => STATE_BOUND_RX,
            _ => STATE_DOWN,
        };
        self.carrier.stats.set_state(self.index, code);
        // A closed receiver only means nobody listens for states any more.
        let _ = self
            .events
            .send(PoolEvent::BindState {
                carrier: self.carrier.settings.name.clone(),
                bind: self.index,
                state,
            })
            .await;
    }

    async fn emit(&self, seg: &Segment, outcome: SegmentOutcome) {
        let _ = self
            .events
            .send(PoolEvent::SegmentResult {
                token: seg.token,
                segment: seg.index,
                carrier: self.carrier.settings.name.clone(),
                bind: Some(self.index),
                attempts: seg.attempts,
                outcome,
            })
            .await;
    }

    /// A submit that was sent and got no answer: resend if allowed, else report it.
    async fn ambiguous(&self, mut seg: Segment) {
        self.carrier.stats.record_ambiguous(1);
        self.metrics.ambiguous.increment(1);
        let policy = &self.carrier.settings.retry;
        if seg.resend_ambiguous
            && policy.resend_ambiguous
            && u32::from(seg.ambiguous) < policy.max_ambiguous
            && !self.carrier.shutdown.is_cancelled()
        {
            seg.ambiguous += 1;
            self.carrier
                .stats
                .possible_duplicates
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.metrics.duplicates.increment(1);
            info!(
                token = seg.token,
                segment = seg.index,
                attempts = seg.attempts,
                "resending a submit that got no response: possible duplicate"
            );
            let _ = self
                .events
                .send(PoolEvent::PossibleDuplicate {
                    token: seg.token,
                    segment: seg.index,
                    carrier: self.carrier.settings.name.clone(),
                    bind: self.index,
                })
                .await;
            self.carrier.requeue_front(std::iter::once(seg));
        } else {
            debug!(token = seg.token, segment = seg.index, "submit ambiguous");
            self.emit(&seg, SegmentOutcome::Ambiguous).await;
        }
    }
}

enum Handshake {
    Done(Box<TlsStream<TcpStream>>),
    Failed,
    Shutdown,
}

/// The TLS handshake on a fresh connection, bounded by `response_timeout` like the connect
/// before it. Failures are logged here, with the name that was checked.
async fn handshake(tls: &TlsSettings, stream: TcpStream, carrier: &Carrier) -> Handshake {
    let s = &carrier.settings;
    let server_name = tls.server_name().clone();
    let connect = tokio::time::timeout(
        s.response_timeout,
        tls.connector().connect(server_name, stream),
    );
    let done = tokio::select! {
        _ = carrier.shutdown.cancelled() => return Handshake::Shutdown,
        done = connect => done,
    };
    match done {
        Ok(Ok(stream)) => {
            let (_, session) = stream.get_ref();
            debug!(
                version = ?session.protocol_version(),
                suite = ?session.negotiated_cipher_suite().map(|c| c.suite()),
                "TLS handshake done"
            );
            Handshake::Done(Box::new(stream))
        }
        Ok(Err(e)) => {
            warn!(
                error = %e,
                host = %s.host,
                port = s.port,
                server_name = ?tls.server_name(),
                public_roots = tls.public(),
                "TLS handshake failed"
            );
            Handshake::Failed
        }
        Err(_) => {
            warn!(host = %s.host, port = s.port, timeout = ?s.response_timeout, "TLS handshake timed out");
            Handshake::Failed
        }
    }
}

/// Writes what the buffer holds (`Some(n)`), or, when it is empty, flushes what the stream
/// kept of earlier writes (`None`). One future, so that the loop's `select!` borrows the
/// writer once.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &mut BytesMut,
) -> std::io::Result<Option<usize>> {
    if buf.is_empty() {
        w.flush().await.map(|()| None)
    } else {
        w.write_buf(buf).await.map(Some)
    }
}

/// A submit in flight: the segment and the stream offset at which its PDU ends.
struct InFlight {
    seg: Segment,
    end: u64,
}

/// In-flight submits by session token.
struct Slab {
    slots: Vec<Option<InFlight>>,
    free: Vec<u32>,
}

impl Slab {
    fn with_capacity(n: usize) -> Slab {
        Slab {
            slots: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
        }
    }

    fn insert(&mut self, v: InFlight) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(v);
                i
            }
            None => {
                self.slots.push(Some(v));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn get_mut(&mut self, i: u32) -> Option<&mut InFlight> {
        self.slots.get_mut(i as usize)?.as_mut()
    }

    fn remove(&mut self, i: u32) -> Option<InFlight> {
        let v = self.slots.get_mut(i as usize)?.take()?;
        self.free.push(i);
        Some(v)
    }

    fn drain(&mut self) -> Vec<InFlight> {
        self.free.clear();
        self.slots.drain(..).flatten().collect()
    }
}

/// One live connection of a bind.
struct Link<'t, S> {
    task: &'t mut BindTask,
    reader: FramedRead<ReadHalf<S>, PduCodec>,
    writer: WriteHalf<S>,
    /// Encoded, not yet written: stream bytes `written..appended`.
    wbuf: BytesMut,
    appended: u64,
    written: u64,
    /// Where the last submit encoded ends: bytes beyond `written` up to here hold submits.
    last_submit_end: u64,
    /// Bytes were written since the last flush. A TLS stream takes bytes into its own
    /// buffer when the socket is full, and only a flush (or another write) moves them on.
    unflushed: bool,
    session: Session<u32>,
    slab: Slab,
    batch: Vec<Segment>,
    healthy: bool,
    bound: bool,
    /// Shutdown: stop filling, unbind once the window is empty or at this deadline.
    draining: Option<Instant>,
    unbind_sent: bool,
    /// The carrier's unbind: its sequence number, and when to answer it at the latest.
    peer_unbind: Option<(u32, Instant)>,
    down: Option<DownReason>,
    published_window: u32,
}

impl<S: AsyncRead + AsyncWrite + Send> Link<'_, S> {
    async fn run(mut self) -> (DownReason, bool) {
        self.send_bind(now());
        self.task.set_state(BindState::Binding).await;
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let mut sleep = pin!(tokio::time::sleep_until(far));
        let mut sleep_at: Option<Instant> = None;
        let shutdown = self.task.carrier.shutdown.clone();
        let carrier = self.task.carrier.clone();

        loop {
            let t = now();
            self.on_timers(t).await;
            self.check_state(t);
            let take = if self.down.is_none() {
                self.fill(t)
            } else {
                Take::default()
            };
            // One write per turn: everything encoded since the last one.
            if !self.wbuf.is_empty() && self.down.is_none() {
                match self.writer.write_buf(&mut self.wbuf).now_or_never() {
                    Some(Ok(n)) => self.on_written(n),
                    Some(Err(e)) => self.write_failed(e),
                    None => {}
                }
            }
            // Then push on what the stream kept (TLS records the socket had no room for);
            // over plain TCP this is ready at once and does nothing.
            if self.unflushed && self.wbuf.is_empty() && self.down.is_none() {
                match self.writer.flush().now_or_never() {
                    Some(Ok(())) => self.unflushed = false,
                    Some(Err(e)) => self.write_failed(e),
                    None => {}
                }
            }
            if self.down.is_some() {
                break;
            }
            self.publish_window();

            // Every deadline here is in the future or is acted on at the top of the next
            // turn, so the sleep never fires twice for the same instant.
            let wake = [
                self.session.poll_timeout(),
                take.wake_at,
                self.draining.filter(|_| !self.unbind_sent),
                self.peer_unbind.map(|(_, at)| at),
            ]
            .into_iter()
            .flatten()
            .min();
            if wake != sleep_at {
                sleep_at = wake;
                let at = wake.map_or(far, tokio::time::Instant::from_std);
                sleep.as_mut().reset(at);
            }
            let wait_for_work = take.idle && self.can_fill();

            tokio::select! {
                biased;
                _ = shutdown.cancelled(), if self.draining.is_none() => {}
                r = self.reader.next() => {
                    let now = now();
                    self.on_read(r, now).await;
                    // Take what else is already buffered before refilling the window.
                    for _ in 0..FRAMES_PER_TURN {
                        if self.down.is_some() {
                            break;
                        }
                        match self.reader.next().now_or_never() {
                            Some(r) => self.on_read(r, now).await,
                            None => break,
                        }
                    }
                }
                r = write_or_flush(&mut self.writer, &mut self.wbuf),
                    if !self.wbuf.is_empty() || self.unflushed => match r {
                    Ok(Some(n)) => self.on_written(n),
                    Ok(None) => self.unflushed = false,
                    Err(e) => self.write_failed(e),
                },
                _ = carrier.notify.notified(), if wait_for_work => {}
                _ = &mut sleep, if sleep_at.is_some() => {}
            }
        }
        self.teardown().await
    }

    fn can_fill(&self) -> bool {
        self.bound
            && self.task.bind_type.esme_sends()
            && self.draining.is_none()
            && self.peer_unbind.is_none()
            && self.down.is_none()
            && self.session.window_available() > 0
    }

    fn encode(&mut self, pdu: &Pdu) {
        let before = self.wbuf.len();
        pdu.encode(&mut self.wbuf);
        self.appended += (self.wbuf.len() - before) as u64;
        trace!(command = %pdu.command_id(), seq = pdu.sequence_number, "out");
    }

    /// `n` bytes of the write buffer were taken by the stream: by the kernel over TCP, by
    /// rustls over TLS (encrypted, and in the kernel or in rustls' buffer until a flush). A
    /// submit counts as sent from here on, so one cut off in rustls' buffer is reported
    /// ambiguous rather than not sent: never a silent duplicate.
    fn on_written(&mut self, n: usize) {
        if n == 0 {
            self.down = Some(DownReason::Closed);
            warn!("connection closed while writing");
        }
        self.written += n as u64;
        self.unflushed = true;
    }

    fn write_failed(&mut self, e: std::io::Error) {
        warn!(error = %e, "write failed");
        self.down = Some(DownReason::Closed);
    }

    fn send_bind(&mut self, now: Instant) {
        let s = &self.task.carrier.settings;
        let bind = Bind {
            system_id: s.system_id.clone(),
            password: s.password.clone(),
            system_type: s.system_type.clone(),
            interface_version: 0x34,
            ..Bind::default()
        };
        let body = match self.task.bind_type {
            BindType::Transmitter => Body::BindTransmitter(bind),
            BindType::Receiver => Body::BindReceiver(bind),
            BindType::Transceiver => Body::BindTransceiver(bind),
        };
        let mut pdu = Pdu::new(0, body);
        match self.session.send_request_pdu(&mut pdu, CONTROL, now) {
            Ok(_) => self.encode(&pdu),
            Err(e) => {
                warn!(error = %e, "cannot bind");
                self.down = Some(DownReason::ProtocolError);
            }
        }
    }

    fn send_control(&mut self, body: Body, now: Instant) -> bool {
        let mut pdu = Pdu::new(0, body);
        match self.session.send_request_pdu(&mut pdu, CONTROL, now) {
            Ok(_) => {
                self.encode(&pdu);
                true
            }
            Err(e) => {
                debug!(error = %e, command = %pdu.command_id(), "not sent");
                false
            }
        }
    }

    fn respond(&mut self, pdu: Pdu) {
        match self.session.send_response_pdu(&pdu) {
            Ok(()) => self.encode(&pdu),
            Err(e) => debug!(error = %e, "response not allowed now"),
        }
    }

    /// Session state changes that end or drain the connection.
    fn check_state(&mut self, now: Instant) {
        if self.down.is_some() {
            return;
        }
        if let Some((seq, deadline)) = self.peer_unbind {
            if self.session.in_window() == 0 || now >= deadline {
                // Only when no submit is waiting to be written: one queued behind the
                // unbind_resp would go out after the session ended.
                if self.last_submit_end <= self.written {
                    self.respond(Pdu::new(seq, Body::UnbindResp));
                }
                self.down = Some(DownReason::PeerUnbind);
            }
            return;
        }
        if self.task.carrier.shutdown.is_cancelled() {
            let grace = self.task.carrier.settings.shutdown_grace;
            let deadline = *self.draining.get_or_insert(now + grace);
            match self.session.state() {
                State::Bound(_) => {
                    if !self.unbind_sent && (self.session.in_window() == 0 || now >= deadline) {
                        // SMPP 3.4 §4.2: unbind once our requests are answered (or the grace
                        // is over); the unbind_resp closes the session.
                        if self.send_control(Body::Unbind, now) {
                            self.unbind_sent = true;
                            info!(in_flight = self.session.in_window(), "unbinding");
                        } else {
                            self.down = Some(DownReason::Shutdown);
                        }
                    }
                }
                State::Unbinding => {}
                State::Open | State::Binding(_) | State::Closed => {
                    self.down = Some(DownReason::Shutdown);
                }
            }
            // Once the unbind is out, its own response timeout bounds the wait.
            return;
        }
        if self.session.state() == State::Closed {
            self.down = Some(DownReason::Closed);
        }
    }

    /// Moves segments from the carrier's queue into free window slots and encodes them.
    fn fill(&mut self, now: Instant) -> Take {
        if !self.can_fill() {
            return Take::default();
        }
        let free = self.session.window_available();
        let mut batch = std::mem::take(&mut self.batch);
        let take = self.task.carrier.take_batch(free, now, &mut batch);
        let n = batch.len();
        for seg in batch.drain(..) {
            let slot = self.slab.insert(InFlight { seg, end: 0 });
            match self
                .session
                .try_send_request(CommandId::SUBMIT_SM, slot, now)
            {
                Ok(seq) => {
                    let before = self.wbuf.len();
                    if let Some(inf) = self.slab.get_mut(slot) {
                        inf.seg.pdu.sequence_number = seq;
                        inf.seg.attempts = inf.seg.attempts.saturating_add(1);
                        if let Some(t) = inf.seg.received.take() {
                            self.task
                                .metrics
                                .submit_delay
                                .record(now.saturating_duration_since(t).as_secs_f64());
                        }
                        inf.seg.pdu.encode(&mut self.wbuf);
                        self.appended += (self.wbuf.len() - before) as u64;
                        inf.end = self.appended;
                        self.last_submit_end = self.appended;
                    }
                }
                Err(e) => {
                    // The checks above make this unreachable; never lose the segment anyway.
                    warn!(error = %e, "submit refused by the session");
                    if let Some(inf) = self.slab.remove(slot) {
                        self.task.carrier.requeue_front(std::iter::once(inf.seg));
                    }
                }
            }
        }
        self.batch = batch;
        if n > 0 {
            self.task
                .carrier
                .stats
                .submitted
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            self.task.metrics.submitted.increment(n as u64);
        }
        take
    }

    fn publish_window(&mut self) {
        let w = self.session.in_window();
        if w != self.published_window {
            self.published_window = w;
            self.task.carrier.stats.set_window(self.task.index, w);
            self.task.metrics.window.set(f64::from(w));
        }
    }

    async fn on_timers(&mut self, now: Instant) {
        while let Some(ev) = self.session.poll_timer_event(now) {
            match ev {
                TimerEvent::RequestExpired { token, request, .. } => {
                    if token != CONTROL {
                        if let Some(inf) = self.slab.remove(token) {
                            self.task.ambiguous(inf.seg).await;
                        }
                    } else if BindType::from_request(request).is_some() {
                        warn!("no bind_resp in time");
                        self.down = Some(DownReason::BindTimeout);
                    } else if request == CommandId::UNBIND {
                        self.down = Some(DownReason::Shutdown);
                    }
                }
                TimerEvent::EnquireLinkDue => {
                    // SMPP 3.4 §4.11: probe an idle link.
                    self.send_control(Body::EnquireLink, now);
                }
                TimerEvent::LinkDead { .. } => {
                    warn!("enquire_link unanswered: link dead");
                    self.down = Some(DownReason::LinkDead);
                    return;
                }
            }
        }
    }

    async fn on_read(&mut self, r: Option<Result<Frame, CodecError>>, now: Instant) {
        match r {
            None | Some(Err(CodecError::Io(_))) if self.unbind_sent => {
                // Our shutdown's unbind was answered and the carrier hung up, possibly read
                // in the same batch as the unbind_resp: the end we asked for.
                debug!("connection closed after our unbind");
                self.down = Some(DownReason::Shutdown);
            }
            None => {
                info!("carrier closed the connection");
                self.down = Some(DownReason::Closed);
            }
            Some(Err(CodecError::Io(e))) => {
                warn!(error = %e, "read failed");
                self.down = Some(DownReason::Closed);
            }
            Some(Err(e)) => {
                // The stream is out of step (SMPP 3.4 §3.2): say so, then close.
                if !self.bound
                    && self.task.carrier.settings.tls.is_none()
                    && is_tls_record(self.reader.read_buffer())
                {
                    // A TLS alert where our bind_resp should be: the port wants TLS.
                    warn!(error = %e, "the carrier answered in TLS: does it need `tls: true`?");
                } else {
                    warn!(error = %e, "framing lost");
                }
                if let Some(nack) = e.generic_nack() {
                    self.encode(&nack);
                }
                self.down = Some(DownReason::ProtocolError);
            }
            Some(Ok(Frame::Pdu(pdu))) => {
                trace!(command = %pdu.command_id(), seq = pdu.sequence_number, "in");
                let incoming = self.session.receive_pdu(&pdu, now);
                self.on_incoming(incoming, Some(pdu), now).await;
            }
            Some(Ok(Frame::Invalid { error, .. })) => {
                debug!(%error, "undecodable PDU");
                let incoming = self.session.receive_invalid(&error, now);
                self.on_incoming(incoming, None, now).await;
            }
        }
    }

    async fn on_incoming(&mut self, incoming: Incoming<u32>, pdu: Option<Pdu>, now: Instant) {
        match incoming {
            Incoming::Matched {
                token,
                request,
                status,
                rtt,
                ..
            } => {
                self.on_response(token, request, status, rtt, pdu, now)
                    .await
            }
            Incoming::Request {
                command,
                sequence_number,
            } => {
                if let Some(pdu) = pdu {
                    self.on_request(command, sequence_number, pdu, now).await;
                }
            }
            reject @ Incoming::Reject { .. } => {
                // Not allowed here, unknown, or undecodable: generic_nack or the response with
                // the error status (SMPP 3.4 §4.3, §5.1.3).
                if let Some(reply) = reject.reply() {
                    self.respond(reply);
                }
            }
            Incoming::Unexpected {
                response,
                sequence_number,
                mismatched,
            } => {
                // Typically a late answer to a submit already reported ambiguous.
                debug!(%response, seq = sequence_number, ?mismatched, "unexpected response");
            }
        }
    }

    async fn on_request(&mut self, command: CommandId, seq: u32, pdu: Pdu, now: Instant) {
        match command {
            CommandId::ENQUIRE_LINK => self.respond(Pdu::new(seq, Body::EnquireLinkResp)),
            CommandId::UNBIND => {
                // SMPP 3.4 §4.2: no new submits; the answer waits (briefly) for the answers to
                // ours, see `check_state`.
                info!(in_flight = self.session.in_window(), "carrier unbinds us");
                self.peer_unbind = Some((seq, now + PEER_UNBIND_GRACE));
            }
            CommandId::DELIVER_SM | CommandId::DATA_SM => {
                let carrier = self.task.carrier.settings.name.clone();
                let bind = self.task.index;
                let ev = if is_receipt(&pdu.body) {
                    PoolEvent::Receipt { carrier, bind, pdu }
                } else {
                    PoolEvent::Mo { carrier, bind, pdu }
                };
                // Acknowledge only what was handed on; if nobody listens any more, ask the
                // carrier to deliver it again later (SMPP 3.4 §5.1.3 ESME_RX_T_APPN).
                let status = match self.task.events.send(ev).await {
                    Ok(()) => CommandStatus::ESME_ROK,
                    Err(_) => CommandStatus::ESME_RX_T_APPN,
                };
                let body = if command == CommandId::DELIVER_SM {
                    Body::deliver_sm_resp()
                } else {
                    Body::data_sm_resp(Bytes::new())
                };
                self.respond(Pdu::new(seq, body).with_status(status));
            }
            CommandId::OUTBIND | CommandId::ALERT_NOTIFICATION => {
                // No response is defined (SMPP 3.4 §4.1.7, §4.12).
                debug!(%command, "ignored");
            }
            _ => self.respond(Pdu::generic_nack(seq, CommandStatus::ESME_RINVCMDID)),
        }
    }

    async fn on_response(
        &mut self,
        token: u32,
        request: CommandId,
        status: CommandStatus,
        rtt: Duration,
        pdu: Option<Pdu>,
        now: Instant,
    ) {
        if token == CONTROL {
            if BindType::from_request(request).is_some() {
                if status.is_ok() && self.session.is_bound() {
                    self.bound = true;
                    self.task.metrics.bound.increment(1.0);
                    info!(bind_type = ?self.task.bind_type, "bound");
                    self.task.set_state(BindState::Bound).await;
                } else {
                    warn!(%status, "bind refused");
                    self.down = Some(DownReason::BindRefused(status));
                }
            } else if request == CommandId::ENQUIRE_LINK && self.bound {
                self.healthy = true;
            }
            return;
        }
        let Some(inf) = self.slab.remove(token) else {
            return;
        };
        let mut seg = inf.seg;
        let carrier = &self.task.carrier;
        carrier.stats.record_latency(rtt);
        self.task.metrics.latency.record(rtt.as_secs_f64());
        let class = carrier.settings.statuses.classify(status);
        carrier.stats.record_answers(class, 1);
        let retry = &carrier.settings.retry;
        match class {
            StatusClass::Ok => {
                self.healthy = true;
                self.task.metrics.acked.increment(1);
                let message_id = match pdu.map(|p| p.body) {
                    Some(Body::SubmitSmResp(Some(r))) => r.message_id,
                    _ => Bytes::new(),
                };
                self.task
                    .emit(&seg, SegmentOutcome::Accepted { message_id })
                    .await;
            }
            StatusClass::Throttled | StatusClass::QueueFull => {
                self.task.metrics.throttled.increment(1);
                {
                    let mut q = carrier.lock_queue();
                    if class == StatusClass::Throttled {
                        q.limiter.on_throttled(now);
                    } else {
                        q.limiter.on_queue_full(now);
                    }
                }
                seg.throttled = seg.throttled.saturating_add(1);
                if u32::from(seg.throttled) <= retry.max_throttled {
                    debug!(token = seg.token, %status, "throttled: sending again");
                    carrier.requeue_front(std::iter::once(seg));
                } else {
                    self.fail(seg, status, class).await;
                }
            }
            StatusClass::Temporary => {
                seg.temporary = seg.temporary.saturating_add(1);
                if u32::from(seg.temporary) <= retry.max_temporary {
                    let delay = delay_for(
                        &retry.backoff,
                        u32::from(seg.temporary - 1),
                        self.task.rng.unit(),
                    );
                    debug!(token = seg.token, %status, ?delay, "temporary error: retrying");
                    carrier.retry_at(seg, now + delay);
                } else {
                    self.fail(seg, status, class).await;
                }
            }
            StatusClass::Permanent => self.fail(seg, status, class).await,
            StatusClass::BindFatal => {
                // The carrier refused it because of the session, not the message: send it
                // again on a healthy bind, and rebind this one.
                warn!(%status, "submit refused for the session's sake: rebinding");
                seg.temporary = seg.temporary.saturating_add(1);
                if u32::from(seg.temporary) <= retry.max_temporary {
                    carrier.requeue_front(std::iter::once(seg));
                } else {
                    self.fail(seg, status, class).await;
                }
                self.down = Some(DownReason::BindFatal(status));
            }
        }
    }

    async fn fail(&self, seg: Segment, status: CommandStatus, class: StatusClass) {
        self.task.metrics.failed(class).increment(1);
        debug!(token = seg.token, segment = seg.index, %status, %class, "submit failed");
        self.task
            .emit(&seg, SegmentOutcome::Failed { status, class })
            .await;
    }

    /// The connection is over: flush a last response if that is safe, then hand back every
    /// submit in flight as not sent or ambiguous.
    async fn teardown(mut self) -> (DownReason, bool) {
        let reason = self.down.unwrap_or(DownReason::Closed);
        // Only responses and control PDUs (unbind_resp, generic_nack) are left to write?
        // Then write them; never let a submit out after we decided the session is over.
        if !self.wbuf.is_empty()
            && self.last_submit_end <= self.written
            && !matches!(reason, DownReason::Closed | DownReason::LinkDead)
        {
            let before = self.wbuf.len();
            let _ =
                tokio::time::timeout(CLOSE_FLUSH, self.writer.write_all_buf(&mut self.wbuf)).await;
            self.written += (before - self.wbuf.len()) as u64;
        }
        let _ = tokio::time::timeout(CLOSE_FLUSH, self.writer.shutdown()).await;

        self.session.close();
        let written = self.written;
        let mut not_sent = Vec::new();
        let mut ambiguous = Vec::new();
        for o in self.session.take_outstanding() {
            if o.token == CONTROL {
                continue;
            }
            if let Some(inf) = self.slab.remove(o.token) {
                if inf.end > written {
                    not_sent.push(inf);
                } else {
                    ambiguous.push(inf);
                }
            }
        }
        // Nothing should be left outside the session; if it is, the same rule applies.
        for inf in self.slab.drain() {
            if inf.end > written {
                not_sent.push(inf);
            } else {
                ambiguous.push(inf);
            }
        }
        not_sent.sort_by_key(|i| i.end);
        ambiguous.sort_by_key(|i| i.end);
        if !not_sent.is_empty() {
            debug!(count = not_sent.len(), "unsent submits back to the queue");
        }
        self.task
            .carrier
            .requeue_front(not_sent.into_iter().map(|mut i| {
                i.seg.attempts = i.seg.attempts.saturating_sub(1);
                i.seg
            }));
        if !ambiguous.is_empty() {
            info!(
                count = ambiguous.len(),
                ?reason,
                "submits without response at disconnect"
            );
        }
        for inf in ambiguous {
            self.task.ambiguous(inf.seg).await;
        }
        if self.bound {
            self.task.metrics.bound.decrement(1.0);
        }
        self.task.carrier.stats.set_window(self.task.index, 0);
        self.task.metrics.window.set(0.0);
        (reason, self.healthy)
    }
}

/// Whether bytes start like a TLS record rather than a PDU: content type alert (0x15) or
/// handshake (0x16), then protocol major version 3 (RFC 8446 §5.1). As a command_length that
/// would be over 350 MB, so no SMPP peer sends it.
fn is_tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15 | 0x16, 0x03, ..])
}

/// A deliver_sm or data_sm that carries a delivery receipt: esm_class message type 0x04 (SMSC
/// delivery receipt) or 0x20 (intermediate notification), SMPP 3.4 §5.2.12, or one that names
/// the receipted message (§5.3.2.12), as some carriers send with esm_class 0.
fn is_receipt(body: &Body) -> bool {
    let (esm_class, receipted) = match body {
        Body::DeliverSm(d) => (d.esm_class, d.receipted_message_id().is_some()),
        Body::DataSm(d) => (d.esm_class, d.receipted_message_id().is_some()),
        _ => return false,
    };
    matches!(esm_class & 0x3C, 0x04 | 0x20) || receipted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::config::CarrierSettings;
    use gannet_smpp::{Address, BindResp, DeliverSm, SubmitSm, Tlv, TlvTag};
    use tokio::io::AsyncReadExt;
    use tokio_util::sync::CancellationToken;

    fn segment(token: u64) -> Segment {
        let sm = SubmitSm {
            source_addr: Address::alphanumeric(&b"Gannet"[..]),
            destination_addr: Address::international(&b"447700900123"[..]),
            short_message: Bytes::from(format!("message number {token}")),
            ..SubmitSm::default()
        };
        Segment {
            token,
            index: 0,
            pdu: Pdu::new(0, Body::SubmitSm(sm)),
            resend_ambiguous: false,
            attempts: 0,
            temporary: 0,
            throttled: 0,
            ambiguous: 0,
            received: None,
        }
    }

    /// The byte-offset rule over a transport that takes 64 octets at a time: the peer reads
    /// the bind and three submits, then hangs up. Submits wholly written before that are
    /// ambiguous; the rest were never sent and are back at the head of the queue, in order.
    #[tokio::test]
    async fn a_cut_connection_splits_sent_from_not_sent_by_offset() {
        let mut s = CarrierSettings::new("c", "127.0.0.1", 1, "sys", "pw");
        s.window = 8;
        let carrier = Arc::new(Carrier::new(s, CancellationToken::new(), now()));
        carrier.requeue_front((0..8).map(segment));
        let (tx, mut rx) = mpsc::channel(64);
        let mut task = BindTask::new(carrier.clone(), 0, tx);
        let (client, server) = tokio::io::duplex(64);

        let peer = tokio::spawn(async move {
            let (read, mut write) = tokio::io::split(server);
            let mut frames = FramedRead::new(read, PduCodec::default());
            let Some(Ok(Frame::Pdu(bind))) = frames.next().await else {
                panic!("no bind");
            };
            let resp = Pdu::new(
                bind.sequence_number,
                Body::BindTransceiverResp(Some(BindResp::new(&b"smsc"[..]))),
            );
            write.write_all(&resp.to_bytes()).await.unwrap();
            let mut submits = 0;
            while submits < 3 {
                match frames.next().await {
                    Some(Ok(Frame::Pdu(p))) if p.command_id() == CommandId::SUBMIT_SM => {
                        submits += 1
                    }
                    Some(Ok(_)) => {}
                    other => panic!("{other:?}"),
                }
            }
            // What the transport still holds was written by the client: read it out of the
            // pipe's buffer so it counts, then hang up.
            let mut rest = frames.into_inner();
            let mut buf = [0u8; 256];
            let _ = tokio::time::timeout(Duration::from_millis(50), rest.read(&mut buf)).await;
        });

        let (reason, healthy) = task.serve(client).await;
        peer.await.unwrap();
        assert_eq!(reason, DownReason::Closed);
        assert!(!healthy, "no submit was ever answered");

        let mut ambiguous = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            if let PoolEvent::SegmentResult {
                token,
                outcome: SegmentOutcome::Ambiguous,
                attempts,
                ..
            } = ev
            {
                assert_eq!(attempts, 1);
                ambiguous.push(token);
            }
        }
        let mut requeued = Vec::new();
        carrier.take_batch(100, now(), &mut requeued);
        let requeued: Vec<u64> = requeued
            .iter()
            .map(|s| {
                assert_eq!(s.attempts, 0, "a segment that never left is not an attempt");
                s.token
            })
            .collect();
        assert!(ambiguous.len() >= 3, "{ambiguous:?}");
        assert!(
            !requeued.is_empty(),
            "the 64-octet pipe cannot hold five submits"
        );
        let mut all = ambiguous.clone();
        all.extend(&requeued);
        assert_eq!(
            all,
            (0..8).collect::<Vec<_>>(),
            "each once, sent ones first, in order"
        );
    }

    /// Over TLS, a write can leave records in rustls' buffer when the transport is full (here
    /// a pipe of 64 octets). With nothing more to write, only the flush moves them on: without
    /// it the submits would sit there and the window would never be answered.
    #[tokio::test]
    async fn tls_records_left_behind_by_a_full_transport_still_go_out() {
        use tokio_rustls::rustls::ServerConfig;
        use tokio_rustls::{TlsAcceptor, TlsConnector};

        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![ca.cert.der().clone()],
                rustls_pki_types::PrivateKeyDer::try_from(ca.signing_key.serialize_der()).unwrap(),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let tls = TlsSettings::with_ca_pem("localhost", ca.cert.pem().as_bytes()).unwrap();
        let connector: &TlsConnector = tls.connector();

        let mut s = CarrierSettings::new("c", "127.0.0.1", 1, "sys", "pw");
        s.window = 8;
        let carrier = Arc::new(Carrier::new(s, CancellationToken::new(), now()));
        carrier.requeue_front((0..8).map(segment));
        let (tx, mut rx) = mpsc::channel(64);
        let mut task = BindTask::new(carrier.clone(), 0, tx);
        let (client, server) = tokio::io::duplex(64);

        let peer = tokio::spawn(async move {
            let stream = acceptor.accept(server).await.unwrap();
            let (read, mut write) = tokio::io::split(stream);
            let mut frames = FramedRead::new(read, PduCodec::default());
            let mut answered = 0;
            while answered < 8 {
                let Some(Ok(Frame::Pdu(p))) = frames.next().await else {
                    panic!("stream ended after {answered} submits");
                };
                let body = match p.command_id() {
                    CommandId::BIND_TRANSCEIVER => {
                        Body::BindTransceiverResp(Some(BindResp::new(&b"smsc"[..])))
                    }
                    CommandId::SUBMIT_SM => {
                        answered += 1;
                        Body::submit_sm_resp(Bytes::from(format!("id{answered}")))
                    }
                    other => panic!("{other}"),
                };
                write
                    .write_all(&Pdu::new(p.sequence_number, body).to_bytes())
                    .await
                    .unwrap();
                write.flush().await.unwrap();
            }
            // Then the shutdown's unbind.
            let Some(Ok(Frame::Pdu(p))) = frames.next().await else {
                panic!("no unbind");
            };
            assert_eq!(p.command_id(), CommandId::UNBIND);
            let resp = Pdu::new(p.sequence_number, Body::UnbindResp);
            write.write_all(&resp.to_bytes()).await.unwrap();
            write.flush().await.unwrap();
            // The client closes (close_notify, then FIN).
            assert!(frames.next().await.is_none());
        });

        let stream = connector
            .connect(tls.server_name().clone(), client)
            .await
            .unwrap();
        let serve = tokio::spawn(async move { task.serve(stream).await });
        let mut accepted = 0;
        while accepted < 8 {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(PoolEvent::SegmentResult { outcome, .. })) => {
                    assert!(outcome.is_accepted(), "{outcome:?}");
                    accepted += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("events closed"),
                Err(_) => panic!("stalled after {accepted} answers"),
            }
        }
        carrier.shutdown.cancel();
        let (reason, healthy) = serve.await.unwrap();
        assert_eq!(reason, DownReason::Shutdown);
        assert!(healthy);
        peer.await.unwrap();
    }

    #[test]
    fn tls_records_are_told_from_pdus() {
        // A fatal alert record, "unexpected_message" (RFC 8446 §6).
        assert!(is_tls_record(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a]));
        assert!(is_tls_record(&[0x16, 0x03, 0x01]));
        assert!(!is_tls_record(&[
            0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x09
        ]));
        assert!(!is_tls_record(&[0x15]));
    }

    #[test]
    fn receipts_are_told_from_mo() {
        let mut d = DeliverSm::default();
        assert!(!is_receipt(&Body::DeliverSm(d.clone())));
        d.esm_class = 0x04;
        assert!(is_receipt(&Body::DeliverSm(d.clone())));
        d.esm_class = 0x20;
        assert!(is_receipt(&Body::DeliverSm(d.clone())));
        d.esm_class = 0x40;
        assert!(!is_receipt(&Body::DeliverSm(d.clone())), "UDHI only: an MO");
        let d = DeliverSm::default().with_tlv(Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, b"ab12"));
        assert!(is_receipt(&Body::DeliverSm(d)));
    }

    #[test]
    fn slab_reuses_slots() {
        let mut s = Slab::with_capacity(2);
        let seg = |t| Segment {
            token: t,
            index: 0,
            pdu: Pdu::new(0, Body::EnquireLink),
            resend_ambiguous: false,
            attempts: 0,
            temporary: 0,
            throttled: 0,
            ambiguous: 0,
            received: None,
        };
        let a = s.insert(InFlight {
            seg: seg(1),
            end: 1,
        });
        let b = s.insert(InFlight {
            seg: seg(2),
            end: 2,
        });
        assert_eq!(s.remove(a).map(|i| i.seg.token), Some(1));
        assert!(s.remove(a).is_none());
        let c = s.insert(InFlight {
            seg: seg(3),
            end: 3,
        });
        assert_eq!(c, a);
        assert_eq!(s.get_mut(b).map(|i| i.end), Some(2));
        let mut rest: Vec<u64> = s.drain().into_iter().map(|i| i.seg.token).collect();
        rest.sort();
        assert_eq!(rest, vec![2, 3]);
    }
}

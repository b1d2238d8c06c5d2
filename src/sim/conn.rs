//! One ESME connection: the only code that touches its socket.
//!
//! The loop reads whatever the socket has into one large buffer, decodes every complete frame
//! in it (split off without copying, decoded by the smpp crate), writes every answer of the batch into one
//! output buffer and sends that with one write. Counters are folded into the persona once per
//! batch, receipts go to the persona's wheel (or, when due now, straight into this batch), and
//! nothing is logged above DEBUG per PDU.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gannet_smpp::codec::DEFAULT_MAX_LEN;
use gannet_smpp::{
    Address, Bind, Body, CommandId, CommandStatus, DataSm, DecodeError, DecodeMode, HEADER_LEN,
    Header, Pdu, SubmitSm,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{Instrument, debug, field, info};

use super::config::{BindType, IntermediateStat, MultipartReceipts};
use super::fault::Snapshot;
use super::ids::IdBuf;
use super::persona::{ConnCmd, Persona};
use super::receipt::{self, Fate, Outbound, ReceiptJob, TEXT_OCTETS, state};
use super::rng::{Rng, hash_bytes};
use super::stats::{Added, Concat, Local, Part};
use super::wire;

/// Read buffer growth step: large, so a busy bind is read in few syscalls.
const READ_CHUNK: usize = 256 * 1024;
/// Grow the read buffer when less than this is free.
const MIN_SPARE: usize = 16 * 1024;
/// How long an ESME has to answer our unbind before we close anyway.
const UNBIND_GRACE: Duration = Duration::from_secs(2);
/// With receipt_before_response and the receipt on another bind, how long the response is
/// held after the receipt was handed over, so that it is on the wire first.
const RECEIPT_LEAD: Duration = Duration::from_millis(20);
/// Salt of the outcome streams (kept apart from the per-message stream).
const SALT_OUTCOME: u64 = 0x6F75_7463;
/// Highest sequence number (SMPP 3.4 §3.2: 0x00000001 to 0x7FFFFFFF).
const SEQ_MAX: u32 = 0x7FFF_FFFF;

#[derive(Clone, Copy, Debug)]
struct Bound {
    account: u16,
    bind_type: BindType,
    id: u64,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Open,
    Bound(Bound),
    /// We sent unbind and wait for unbind_resp.
    Unbinding(Bound, Instant),
}

/// A submit_sm_resp held back by the latency distribution.
struct Held {
    due: Instant,
    tie: u64,
    seq: u32,
    command: CommandId,
    id: IdBuf,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.tie) == (other.due, other.tie)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.tie).cmp(&(other.due, other.tie))
    }
}

/// Where the receipts of one message went, for receipt_before_response.
#[derive(Default)]
struct Sent {
    here: bool,
    elsewhere: bool,
}

/// What one read batch knows without asking again.
struct Batch {
    now: Instant,
    now_ms: u64,
    now_ns: u64,
    faults: Snapshot,
}

/// The fields of submit_sm and data_sm the simulator looks at.
struct Incoming {
    source: Address,
    destination: Address,
    esm_class: u8,
    registered_delivery: u8,
    data_coding: u8,
    /// short_message or message_payload, UDH included.
    payload: Bytes,
    sar: Option<(u16, u8, u8)>,
}

impl Incoming {
    fn from_submit(sm: SubmitSm) -> Incoming {
        Incoming {
            payload: sm.payload().clone(),
            sar: sm.sar(),
            source: sm.source_addr,
            destination: sm.destination_addr,
            esm_class: sm.esm_class,
            registered_delivery: sm.registered_delivery,
            data_coding: sm.data_coding,
        }
    }

    fn from_data(sm: DataSm) -> Incoming {
        Incoming {
            payload: sm.tlvs.message_payload().cloned().unwrap_or_default(),
            sar: sm.tlvs.sar(),
            source: sm.source_addr,
            destination: sm.destination_addr,
            esm_class: sm.esm_class,
            registered_delivery: sm.registered_delivery,
            data_coding: sm.data_coding,
        }
    }

    /// The user data without its UDH, and the concatenation info from the UDH (IE 0x00 or
    /// 0x08, 3GPP TS 23.040 §9.2.3.24.1/.8) or the SAR TLVs (SMPP 3.4 §5.3.2.22-24).
    fn text_and_concat(&self) -> (Bytes, Option<Concat>) {
        let p = &self.payload;
        let mut concat = self.sar.map(|(reference, total, seq)| Concat {
            reference,
            total,
            seq,
        });
        // esm_class bit 6: UDH indicator (SMPP 3.4 §5.2.12).
        if self.esm_class & 0x40 == 0 || p.is_empty() {
            return (p.clone(), concat);
        }
        let udhl = usize::from(p[0]);
        if udhl + 1 > p.len() {
            // A UDH longer than the message: show it all rather than guess.
            return (p.clone(), concat);
        }
        let mut ies = &p[1..=udhl];
        while ies.len() >= 2 {
            let (iei, len) = (ies[0], usize::from(ies[1]));
            let Some(data) = ies.get(2..2 + len) else {
                break;
            };
            match (iei, data) {
                (0x00, &[r, total, seq]) => {
                    concat = Some(Concat {
                        reference: u16::from(r),
                        total,
                        seq,
                    })
                }
                (0x08, &[r1, r2, total, seq]) => {
                    concat = Some(Concat {
                        reference: u16::from_be_bytes([r1, r2]),
                        total,
                        seq,
                    })
                }
                _ => {}
            }
            ies = &ies[2 + len..];
        }
        (p.slice(udhl + 1..), concat)
    }
}

/// How a connection ended.
enum Exit {
    /// The ESME closed, unbound, or we closed after a fatal framing error.
    Closed,
    /// Our reset fault: close with RST.
    Reset,
    Shutdown,
    Io(std::io::Error),
}

/// How long a client has to complete the TLS handshake after connecting.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing TLS connection may take to send its close_notify.
const CLOSE_NOTIFY_WAIT: Duration = Duration::from_millis(500);

/// The byte stream under a connection: plain TCP, or TLS over TCP.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    /// Whether a write may leave bytes in a buffer of the stream's own (TLS records waiting
    /// for the socket), so that a flush must follow. Plain TCP: no, and no flush is paid for.
    const BUFFERS: bool;

    /// The TCP socket underneath, for socket options.
    fn tcp(&self) -> &TcpStream;

    /// Ends the stream cleanly once the connection is over: TLS says close_notify (so the
    /// client reads a clean end, not a truncation); TCP has nothing to add to the close.
    fn finish(&mut self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

impl Transport for TcpStream {
    const BUFFERS: bool = false;

    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Transport for TlsStream<TcpStream> {
    const BUFFERS: bool = true;

    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }

    async fn finish(&mut self) {
        let _ = tokio::time::timeout(CLOSE_NOTIFY_WAIT, self.shutdown()).await;
    }
}

fn conn_span(p: &Persona, peer: SocketAddr, tls: bool) -> tracing::Span {
    tracing::info_span!(
        "bind",
        persona = %p.name,
        %peer,
        tls,
        system_id = field::Empty,
        bind_type = field::Empty,
        bind = field::Empty,
    )
}

/// Answers go out in one write per batch; Nagle would only add latency to that.
fn no_delay(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        debug!(error = %e, "TCP_NODELAY not set");
    }
}

/// Runs one plain TCP connection to its end.
pub async fn serve(p: Arc<Persona>, stream: TcpStream, peer: SocketAddr) {
    let span = conn_span(&p, peer, false);
    async move {
        no_delay(&stream);
        run(p, stream).await;
    }
    .instrument(span)
    .await
}

/// Runs one connection to a TLS persona to its end: the handshake (bounded in time, counted
/// when it fails), then the same loop as over TCP.
pub async fn serve_tls(p: Arc<Persona>, tls: TlsAcceptor, stream: TcpStream, peer: SocketAddr) {
    let span = conn_span(&p, peer, true);
    async move {
        no_delay(&stream);
        let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream));
        let done = tokio::select! {
            () = p.shutdown.cancelled() => return,
            done = handshake => done,
        };
        match done {
            Ok(Ok(stream)) => {
                debug!("TLS handshake done");
                run(p, stream).await;
            }
            Ok(Err(e)) => {
                // A plain SMPP client says bind_* where TLS expects a ClientHello; a client
                // that does not trust our certificate sends an alert. Neither is our fault
                // and neither may take the persona down: count, log, close.
                p.counters.tls_handshake_failures.fetch_add(1, Relaxed);
                info!(error = %e, "TLS handshake failed");
            }
            Err(_) => {
                p.counters.tls_handshake_failures.fetch_add(1, Relaxed);
                info!(timeout = ?TLS_HANDSHAKE_TIMEOUT, "TLS handshake timed out");
            }
        }
    }
    .instrument(span)
    .await
}

async fn run<S: Transport>(p: Arc<Persona>, mut stream: S) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut conn = Conn::new(p, tx);
    let exit = conn.run(&mut stream, rx).await;
    conn.close();
    match exit {
        Exit::Reset => {
            // SO_LINGER 0: the close sends RST instead of FIN, as a crashing SMSC would.
            if let Err(e) = stream.tcp().set_zero_linger() {
                debug!(error = %e, "SO_LINGER not set");
            }
            info!("connection reset by the simulator");
        }
        Exit::Io(e) => debug!(error = %e, "connection failed"),
        Exit::Closed | Exit::Shutdown => {
            stream.finish().await;
            debug!("connection closed");
        }
    }
}

struct Conn {
    p: Arc<Persona>,
    state: State,
    rbuf: BytesMut,
    out: BytesMut,
    tx: mpsc::UnboundedSender<ConnCmd>,
    local: Local,
    next_seq: u32,
    held: BinaryHeap<Reverse<Held>>,
    tie: u64,
    /// Receipts and MO waiting for room in the deliver window.
    backlog: VecDeque<Outbound>,
    /// deliver_sm sent and not answered, by sequence number from `inflight_base`.
    inflight: VecDeque<Option<Outbound>>,
    inflight_base: u32,
    inflight_count: usize,
    parts: Vec<Part>,
    scheduled: Vec<(u64, u16, Outbound)>,
    /// Receipts due now for other binds of this account.
    routed: Vec<Outbound>,
    close_after_write: bool,
}

impl Conn {
    fn new(p: Arc<Persona>, tx: mpsc::UnboundedSender<ConnCmd>) -> Conn {
        Conn {
            p,
            state: State::Open,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::with_capacity(64 * 1024),
            tx,
            local: Local::default(),
            next_seq: 1,
            held: BinaryHeap::new(),
            tie: 0,
            backlog: VecDeque::new(),
            inflight: VecDeque::new(),
            inflight_base: 1,
            inflight_count: 0,
            parts: Vec::new(),
            scheduled: Vec::new(),
            routed: Vec::new(),
            close_after_write: false,
        }
    }

    async fn run<S: Transport>(
        &mut self,
        stream: &mut S,
        mut rx: mpsc::UnboundedReceiver<ConnCmd>,
    ) -> Exit {
        let mut timer = Box::pin(tokio::time::sleep_until(Instant::now()));
        let mut timer_at: Option<Instant> = None;
        loop {
            let want = self.next_deadline();
            if want != timer_at {
                if let Some(at) = want {
                    timer.as_mut().reset(at);
                }
                timer_at = want;
            }
            if self.rbuf.capacity() - self.rbuf.len() < MIN_SPARE {
                self.rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                () = self.p.shutdown.cancelled() => return Exit::Shutdown,
                cmd = rx.recv() => {
                    let mut next = cmd;
                    // Take everything already queued, so a busy channel cannot starve reads.
                    while let Some(cmd) = next {
                        match cmd {
                            ConnCmd::Deliver(items) => self.enqueue(items),
                            ConnCmd::Unbind => self.start_unbind(),
                            ConnCmd::Reset => {
                                self.local.forced_resets += 1;
                                return Exit::Reset;
                            }
                        }
                        next = rx.try_recv().ok();
                    }
                }
                () = &mut timer, if timer_at.is_some() => {
                    timer_at = None;
                    self.on_timer(Instant::now());
                }
                read = stream.read_buf(&mut self.rbuf) => match read {
                    Ok(0) => return Exit::Closed,
                    Ok(_) => self.on_read(),
                    Err(e) => return Exit::Io(e),
                },
            }
            self.end_batch();
            if !self.out.is_empty() {
                if let Err(e) = stream.write_all(&self.out).await {
                    return Exit::Io(e);
                }
                // write_all returns once TLS has taken the bytes, not once they are on the
                // socket: without the flush the last records would wait for the next write.
                if S::BUFFERS
                    && let Err(e) = stream.flush().await
                {
                    return Exit::Io(e);
                }
                self.out.clear();
            }
            if self.close_after_write {
                return Exit::Closed;
            }
        }
    }

    /// Unregisters the bind; what it had not delivered goes back to the persona.
    fn close(&mut self) {
        self.end_batch();
        self.local.flush(&self.p.counters);
        let bound = match self.state {
            State::Bound(b) | State::Unbinding(b, _) => b,
            State::Open => return,
        };
        self.state = State::Open;
        let mut undelivered: Vec<Outbound> = self.inflight.drain(..).flatten().collect();
        undelivered.extend(self.backlog.drain(..));
        self.inflight_count = 0;
        self.p.unregister(bound.account, bound.id, undelivered);
    }

    fn next_deadline(&self) -> Option<Instant> {
        let held = self.held.peek().map(|Reverse(h)| h.due);
        let unbind = match self.state {
            State::Unbinding(_, deadline) => Some(deadline),
            _ => None,
        };
        match (held, unbind) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_timer(&mut self, now: Instant) {
        while let Some(Reverse(h)) = self.held.peek() {
            if h.due > now {
                break;
            }
            let Some(Reverse(h)) = self.held.pop() else {
                break;
            };
            wire::message_id_resp(
                &mut self.out,
                h.command,
                CommandStatus::ESME_ROK,
                h.seq,
                h.id.as_bytes(),
            );
            self.local.resp(CommandStatus::ESME_ROK);
        }
        if let State::Unbinding(_, deadline) = self.state
            && now >= deadline
        {
            debug!("no unbind_resp in time; closing");
            self.close_after_write = true;
        }
    }

    fn on_read(&mut self) {
        let now = Instant::now();
        let batch = Batch {
            now,
            now_ms: self.p.ms_at(now),
            now_ns: self.p.ns_at(now),
            faults: self.p.faults.snapshot(),
        };
        while !self.close_after_write {
            match self.next_frame() {
                Ok(Some(frame)) => match Pdu::decode(&frame, DecodeMode::Lenient) {
                    Ok(pdu) => self.on_pdu(pdu, &batch),
                    Err(error) => self.on_invalid(error.header, &error),
                },
                Ok(None) => break,
                Err(header) => {
                    // A command_length we cannot frame: the stream is out of step. Say so and
                    // close (SMPP 3.4 §4.3, generic_nack ESME_RINVCMDLEN).
                    debug!(
                        command_length = header.command_length,
                        "unframeable input; closing"
                    );
                    self.nack(header.sequence_number, CommandStatus::ESME_RINVCMDLEN);
                    self.close_after_write = true;
                }
            }
        }
    }

    /// The next complete PDU in the read buffer, split off without copying (SMPP 3.4 §3.2:
    /// command_length frames the PDU). `Err` for a length under 16 or over the codec's
    /// limit, after which nothing that follows can be trusted.
    fn next_frame(&mut self) -> Result<Option<Bytes>, Header> {
        let Some(header) = Header::peek(&self.rbuf) else {
            return Ok(None);
        };
        let len = header.command_length as usize;
        if len < HEADER_LEN || header.command_length > DEFAULT_MAX_LEN {
            return Err(header);
        }
        if self.rbuf.len() < len {
            // Room for the rest of this frame; the length was checked.
            self.rbuf.reserve(len - self.rbuf.len());
            return Ok(None);
        }
        Ok(Some(self.rbuf.split_to(len).freeze()))
    }

    fn on_invalid(&mut self, header: Header, error: &DecodeError) {
        debug!(%error, "undecodable PDU");
        let id = header.command_id;
        if id.is_response() {
            return;
        }
        let status = error.status();
        match id.response().filter(|r| r.is_known()) {
            // A request we know but could not read: its own response, with the reason.
            Some(resp) => {
                if id == CommandId::SUBMIT_SM || id == CommandId::DATA_SM {
                    self.local.submits += 1;
                    self.local.resp(status);
                }
                wire::header_only(&mut self.out, resp, status, header.sequence_number);
            }
            None => self.nack(header.sequence_number, status),
        }
    }

    fn nack(&mut self, seq: u32, status: CommandStatus) {
        wire::header_only(&mut self.out, CommandId::GENERIC_NACK, status, seq);
        self.local.generic_nacks += 1;
    }

    fn on_pdu(&mut self, pdu: Pdu, batch: &Batch) {
        let seq = pdu.sequence_number;
        match pdu.body {
            Body::BindTransmitter(b) => self.on_bind(seq, BindType::Transmitter, &b, batch),
            Body::BindReceiver(b) => self.on_bind(seq, BindType::Receiver, &b, batch),
            Body::BindTransceiver(b) => self.on_bind(seq, BindType::Transceiver, &b, batch),
            Body::SubmitSm(sm) => self.on_message(
                seq,
                CommandId::SUBMIT_SM_RESP,
                Incoming::from_submit(sm),
                batch,
            ),
            Body::DataSm(sm) => {
                self.on_message(seq, CommandId::DATA_SM_RESP, Incoming::from_data(sm), batch)
            }
            Body::DeliverSmResp(_) => self.on_deliver_resp(seq, pdu.command_status),
            Body::EnquireLink => {
                // SMPP 3.4 §4.11: allowed in any bound or open state.
                self.local.enquire_links += 1;
                if !batch.faults.ignore_enquire_link {
                    wire::header_only(
                        &mut self.out,
                        CommandId::ENQUIRE_LINK_RESP,
                        CommandStatus::ESME_ROK,
                        seq,
                    );
                }
            }
            Body::Unbind => {
                // SMPP 3.4 §4.2: answer, then the session is over.
                wire::header_only(
                    &mut self.out,
                    CommandId::UNBIND_RESP,
                    CommandStatus::ESME_ROK,
                    seq,
                );
                self.close_after_write = true;
            }
            Body::UnbindResp => {
                if matches!(self.state, State::Unbinding(..)) {
                    self.close_after_write = true;
                }
            }
            Body::EnquireLinkResp | Body::GenericNack => {}
            body => {
                let id = body.command_id();
                if !id.is_response() {
                    // query_sm, replace_sm, cancel_sm, submit_multi, broadcasts and unknown
                    // ids are not simulated (SMPP 3.4 §4.3: ESME_RINVCMDID).
                    self.nack(seq, CommandStatus::ESME_RINVCMDID);
                }
            }
        }
    }

    fn on_bind(&mut self, seq: u32, bind_type: BindType, b: &Bind, batch: &Batch) {
        let resp = match bind_type {
            BindType::Transmitter => CommandId::BIND_TRANSMITTER_RESP,
            BindType::Receiver => CommandId::BIND_RECEIVER_RESP,
            BindType::Transceiver => CommandId::BIND_TRANSCEIVER_RESP,
        };
        let result = if !matches!(self.state, State::Open) {
            Err(CommandStatus::ESME_RALYBND)
        } else if let Some(status) = self.p.faults.refusing_binds(batch.now_ms) {
            Err(status)
        } else {
            self.p
                .authenticate(&b.system_id, &b.password, bind_type)
                .and_then(|account| {
                    self.p
                        .register(account, bind_type, self.tx.clone())
                        .map(|id| Bound {
                            account,
                            bind_type,
                            id,
                        })
                })
        };
        let system_id = String::from_utf8_lossy(&b.system_id);
        match result {
            Ok(bound) => {
                self.state = State::Bound(bound);
                self.local.binds += 1;
                let span = tracing::Span::current();
                span.record("system_id", &*system_id);
                span.record("bind_type", bind_type.as_str());
                span.record("bind", bound.id);
                info!("bound");
                wire::bind_resp(
                    &mut self.out,
                    resp,
                    CommandStatus::ESME_ROK,
                    seq,
                    &self.p.smsc_id,
                );
            }
            Err(status) => {
                self.local.bind_failure(status);
                debug!(%system_id, %status, "bind refused");
                wire::bind_resp(&mut self.out, resp, status, seq, &self.p.smsc_id);
            }
        }
    }

    fn reject(&mut self, seq: u32, command: CommandId, status: CommandStatus) {
        self.local.resp(status);
        wire::message_id_resp(&mut self.out, command, status, seq, b"");
    }

    /// submit_sm (SMPP 3.4 §4.4) or data_sm (§4.7): checks, then accept, answer and schedule
    /// receipts.
    fn on_message(&mut self, seq: u32, resp: CommandId, msg: Incoming, batch: &Batch) {
        self.local.submits += 1;
        let bound = match self.state {
            State::Bound(b) if b.bind_type.can_submit() => b,
            // A receiver, not bound yet, or unbinding: ESME_RINVBNDSTS.
            _ => return self.reject(seq, resp, CommandStatus::ESME_RINVBNDSTS),
        };
        if let Some(status) = batch.faults.reject {
            return self.reject(seq, resp, status);
        }
        if let Some(window) = self.p.window
            && self.held.len() >= window as usize
        {
            self.local.window_full += 1;
            return self.reject(seq, resp, CommandStatus::ESME_RMSGQFUL);
        }
        if let Some(bucket) = &self.p.tps
            && !bucket.take(batch.now_ns)
        {
            self.local.throttled += 1;
            return self.reject(seq, resp, CommandStatus::ESME_RTHROTTLED);
        }
        self.local.segments += 1;
        let p = Arc::clone(&self.p);
        let (n, number) = p.next_message();
        let mut rng = Rng::stream(p.seed, n);
        let (text, concat) = msg.text_and_concat();
        let multipart = concat.filter(|c| c.total > 1);
        // Parts of one concatenated message share their fate: their outcome stream is keyed
        // by the message, not by the part.
        let mut outcome_rng = match multipart {
            Some(c) => Rng::stream(
                p.seed ^ SALT_OUTCOME,
                hash_bytes(
                    u64::from(c.reference) << 24
                        | u64::from(c.total) << 16
                        | u64::from(bound.account),
                    &[&msg.source.addr, &msg.destination.addr],
                ),
            ),
            None => Rng::stream(p.seed ^ SALT_OUTCOME, n),
        };
        let outcome = p.outcomes.lookup(&msg.destination.addr);
        let fate = outcome.pick(&mut outcome_rng);
        let final_delay = outcome.delay.sample(&mut outcome_rng);
        let mut latency = if p.resp_latency.is_zero() {
            Duration::ZERO
        } else {
            p.resp_latency.sample(&mut rng)
        };
        latency += batch.faults.extra_latency;
        let drop_resp = rng.chance(batch.faults.drop_responses);
        let duplicate = rng.chance(batch.faults.duplicate_receipts);

        // registered_delivery bits 0-1 (SMPP 3.4 §5.2.17): 1 = receipt on success or failure,
        // 2 = on failure only; 3 = on success only (SMPP 5.0 §4.7.21). Bit 4: intermediate
        // notification requested.
        let rd = msg.registered_delivery;
        let wants_final = fate != Fate::NoReceipt
            && match rd & 0x03 {
                1 => true,
                2 => fate != Fate::Delivered,
                3 => fate == Fate::Delivered,
                _ => false,
            };
        let wants_intermediate =
            !p.receipts.intermediate.is_empty() && (rd & 0x03 == 1 || rd & 0x10 != 0);
        let part_selected = match (multipart, p.receipts.multipart) {
            (None, _) | (Some(_), MultipartReceipts::Every) => true,
            (Some(c), MultipartReceipts::First) => c.seq == 1,
            (Some(c), MultipartReceipts::Last) => c.seq == c.total,
        };
        let receipts_due = part_selected && (wants_final || wants_intermediate);
        let receipt_first = batch.faults.receipt_first && receipts_due;
        let delay_ms = if receipt_first {
            0
        } else {
            final_delay.as_millis() as u64
        };

        let mut sent = Sent::default();
        if receipts_due {
            let job = |state: u8, err: u16, done_ms: u64| ReceiptJob {
                number,
                state,
                err,
                submitted_ms: batch.now_ms,
                done_ms,
                handset: msg.destination.clone(),
                sender: msg.source.clone(),
                text: text.slice(..text.len().min(TEXT_OCTETS)),
                text_dcs: msg.data_coding,
            };
            if wants_intermediate {
                let k = p.receipts.intermediate.len() as u64;
                for (i, stat) in p.receipts.intermediate.iter().enumerate() {
                    let due = batch.now_ms + delay_ms * (i as u64 + 1) / (k + 1);
                    let st = match stat {
                        IntermediateStat::Enroute => state::ENROUTE,
                        IntermediateStat::Accepted => state::ACCEPTED,
                    };
                    self.emit(batch.now_ms, bound, due, job(st, 0, due), &mut sent);
                }
            }
            if wants_final {
                let due = batch.now_ms + delay_ms;
                let j = job(fate.state(), outcome.err(fate), due);
                if duplicate {
                    self.local.duplicate_receipts += 1;
                    self.emit(batch.now_ms, bound, due, j.clone(), &mut sent);
                }
                self.emit(batch.now_ms, bound, due, j, &mut sent);
            }
        }

        self.parts.push(Part {
            account: bound.account,
            source: msg.source,
            destination: msg.destination,
            data_coding: msg.data_coding,
            text,
            number,
            concat: multipart,
            at_ms: batch.now_ms,
        });

        if drop_resp {
            self.local.dropped_resps += 1;
            return;
        }
        let id = p.resp_format.format(number);
        if receipt_first && sent.here {
            // The receipt goes into the buffer ahead of the response.
            self.pump();
        }
        let hold = if receipt_first && sent.elsewhere {
            latency.max(RECEIPT_LEAD)
        } else {
            latency
        };
        if hold.is_zero() {
            wire::message_id_resp(
                &mut self.out,
                resp,
                CommandStatus::ESME_ROK,
                seq,
                id.as_bytes(),
            );
            self.local.resp(CommandStatus::ESME_ROK);
        } else {
            self.tie += 1;
            self.held.push(Reverse(Held {
                due: batch.now + hold,
                tie: self.tie,
                seq,
                command: resp,
                id,
            }));
        }
    }

    /// Puts one receipt on its way: on the wheel when it is due later, into this bind's
    /// backlog when it is due now and this bind can take it (same write batch, no hand-off),
    /// else to the account's other binds at the end of the batch.
    fn emit(&mut self, now_ms: u64, bound: Bound, due: u64, job: ReceiptJob, sent: &mut Sent) {
        if due > now_ms {
            self.scheduled
                .push((due, bound.account, Outbound::Receipt(job)));
        } else if bound.bind_type.can_receive() {
            self.backlog.push_back(Outbound::Receipt(job));
            sent.here = true;
        } else {
            self.routed.push(Outbound::Receipt(job));
            sent.elsewhere = true;
        }
    }

    fn enqueue(&mut self, items: Vec<Outbound>) {
        let capacity = self.p.receipts.queue_capacity;
        for item in items {
            if self.backlog.len() >= capacity {
                self.local.receipts_dropped += 1;
            } else {
                self.backlog.push_back(item);
            }
        }
    }

    /// Our unbind (SMPP 3.4 §4.2), for the unbind fault.
    fn start_unbind(&mut self) {
        let bound = match self.state {
            State::Bound(b) => b,
            State::Unbinding(..) => return,
            State::Open => {
                self.close_after_write = true;
                return;
            }
        };
        self.local.forced_unbinds += 1;
        let seq = self.alloc_seq(None);
        wire::header_only(
            &mut self.out,
            CommandId::UNBIND,
            CommandStatus::ESME_ROK,
            seq,
        );
        self.state = State::Unbinding(bound, Instant::now() + UNBIND_GRACE);
        info!("unbinding (fault)");
    }

    fn alloc_seq(&mut self, item: Option<Outbound>) -> u32 {
        let seq = self.next_seq;
        self.next_seq = if seq >= SEQ_MAX { 1 } else { seq + 1 };
        if self.inflight.is_empty() {
            if item.is_none() {
                return seq;
            }
            self.inflight_base = seq;
        }
        if item.is_some() {
            self.inflight_count += 1;
        }
        self.inflight.push_back(item);
        seq
    }

    fn on_deliver_resp(&mut self, seq: u32, status: CommandStatus) {
        let base = self.inflight_base;
        let idx = if seq >= base {
            seq - base
        } else {
            seq + SEQ_MAX - base
        } as usize;
        if let Some(slot) = self.inflight.get_mut(idx)
            && slot.take().is_some()
        {
            self.inflight_count -= 1;
            if !status.is_ok() {
                // A carrier would retry later; the simulator counts it and moves on.
                self.local.deliver_errors += 1;
            }
        }
        self.trim_inflight();
    }

    fn trim_inflight(&mut self) {
        while let Some(None) = self.inflight.front() {
            self.inflight.pop_front();
            self.inflight_base = if self.inflight_base >= SEQ_MAX {
                1
            } else {
                self.inflight_base + 1
            };
        }
    }

    /// Writes waiting receipts and MO while the deliver window has room.
    fn pump(&mut self) {
        let can_receive = match self.state {
            State::Bound(b) => b.bind_type.can_receive(),
            _ => false,
        };
        if !can_receive {
            return;
        }
        let window = self.p.receipts.window as usize;
        // A deliver_sm never answered while 4 windows' worth of later ones were: give up on
        // it, or the in-flight list would grow without bound.
        while self.inflight.len() > 4 * window {
            if let Some(Some(_)) = self.inflight.pop_front() {
                self.inflight_count -= 1;
                self.local.deliver_errors += 1;
            }
            self.inflight_base = if self.inflight_base >= SEQ_MAX {
                1
            } else {
                self.inflight_base + 1
            };
            self.trim_inflight();
        }
        while self.inflight_count < window {
            let Some(item) = self.backlog.pop_front() else {
                break;
            };
            let seq = self.next_seq;
            match &item {
                Outbound::Receipt(job) => {
                    receipt::encode_receipt(
                        &mut self.out,
                        seq,
                        job,
                        self.p.receipts.format,
                        &self.p.receipt_format,
                        self.p.clock,
                    );
                    self.local.receipts[usize::from(job.state).min(9)] += 1;
                }
                Outbound::Mo(job) => {
                    receipt::encode_mo(&mut self.out, seq, job);
                    self.local.mo_sent += 1;
                }
            }
            self.alloc_seq(Some(item));
        }
    }

    /// Hands the batch's results to the persona: one lock each, at most.
    fn end_batch(&mut self) {
        if !self.parts.is_empty() {
            let mut added = Added::default();
            self.p
                .received
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(&mut self.parts, &mut added);
            self.local.messages += added.messages;
            self.local.duplicates += added.duplicates;
        }
        self.p.schedule(&mut self.scheduled);
        if !self.routed.is_empty()
            && let State::Bound(b) | State::Unbinding(b, _) = self.state
        {
            self.p.route(b.account, std::mem::take(&mut self.routed));
        }
        self.pump();
        self.local.flush(&self.p.counters);
    }
}

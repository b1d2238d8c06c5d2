//! The SMPP session state machine, sans-IO.
//!
//! A [`Session`] is told what went out and what came in, as header-level facts (command id,
//! status, sequence number), and answers what that means: a state change, a request the caller
//! must answer, a response matched to the request it answers, or a timer event. It does no I/O,
//! reads no clock (every method that needs time takes `now`) and does not look at PDU bodies,
//! so it works the same for the gateway's client binds ([`Role::Esme`]) and for the simulator
//! ([`Role::Smsc`]).
//!
//! # States (SMPP 3.4 §2.2, SMPP 5.0 §2.3)
//!
//! ```text
//!   Open ──bind──▶ Binding(t) ──bind_resp OK──▶ Bound(t) ──unbind──▶ Unbinding ──unbind_resp──▶ Closed
//!     ▲                │
//!     └─bind_resp ≠ OK─┘   (or generic_nack, or the bind timed out)
//! ```
//!
//! Both roles walk the same states: an ESME enters `Binding` when it sends a bind, an SMSC when
//! it receives one (and leaves it when it sends the bind_resp). Outbind (SMSC → ESME, §2.2.1)
//! leaves both sides `Open`: the ESME answers it with a bind.
//!
//! # The window
//!
//! `window` bounds the unacknowledged outgoing requests that carry traffic (submit_sm,
//! deliver_sm, data_sm, query_sm, ...). Session control (bind, unbind, enquire_link) is exempt
//! and has [`CONTROL_SLOTS`] slots of its own, so a keep-alive still goes out when the window is
//! full of submits: that is precisely when a dead link must be found.
//!
//! # Cost
//!
//! Built for the per-PDU hot path: the outstanding table is a slab allocated once (sized
//! `window + CONTROL_SLOTS + 1`) and indexed by sequence number modulo its size, and requests
//! are threaded through two intrusive lists in send order (traffic, keep-alive). With a fixed
//! timeout per list the deadlines in each list are non-decreasing, so the next deadline is the
//! head of a list: sending, matching, expiring and [`Session::poll_timeout`] are O(1) and
//! allocate nothing.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::{Body, CommandId, CommandStatus, Header, Pdu};

/// Which end of the link this session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The client: binds to an SMSC, submits messages, receives deliver_sm.
    Esme,
    /// The message centre: accepts binds, delivers messages.
    Smsc,
}

impl Role {
    /// The other end.
    pub const fn peer(self) -> Role {
        match self {
            Role::Esme => Role::Smsc,
            Role::Smsc => Role::Esme,
        }
    }
}

/// The kind of bind (SMPP 3.4 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindType {
    /// bind_transmitter: the ESME sends messages.
    Transmitter,
    /// bind_receiver: the SMSC delivers messages.
    Receiver,
    /// bind_transceiver: both.
    Transceiver,
}

impl BindType {
    /// The bind type a bind request id asks for.
    pub const fn from_request(id: CommandId) -> Option<BindType> {
        match id {
            CommandId::BIND_TRANSMITTER => Some(BindType::Transmitter),
            CommandId::BIND_RECEIVER => Some(BindType::Receiver),
            CommandId::BIND_TRANSCEIVER => Some(BindType::Transceiver),
            _ => None,
        }
    }

    /// The bind request for this type.
    pub const fn request(self) -> CommandId {
        match self {
            BindType::Transmitter => CommandId::BIND_TRANSMITTER,
            BindType::Receiver => CommandId::BIND_RECEIVER,
            BindType::Transceiver => CommandId::BIND_TRANSCEIVER,
        }
    }

    /// The bind response for this type.
    pub const fn response(self) -> CommandId {
        match self {
            BindType::Transmitter => CommandId::BIND_TRANSMITTER_RESP,
            BindType::Receiver => CommandId::BIND_RECEIVER_RESP,
            BindType::Transceiver => CommandId::BIND_TRANSCEIVER_RESP,
        }
    }

    /// True when the ESME may send messages (submit_sm and friends) on this bind.
    pub const fn esme_sends(self) -> bool {
        matches!(self, BindType::Transmitter | BindType::Transceiver)
    }

    /// True when the SMSC may deliver messages (deliver_sm and friends) on this bind.
    pub const fn smsc_sends(self) -> bool {
        matches!(self, BindType::Receiver | BindType::Transceiver)
    }
}

/// Where the session is (SMPP 3.4 §2.2, SMPP 5.0 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Connected, not bound.
    Open,
    /// A bind of this type is in flight: sent and unanswered (ESME), or received and not yet
    /// answered (SMSC).
    Binding(BindType),
    /// Bound.
    Bound(BindType),
    /// An unbind was sent or received and its unbind_resp is awaited.
    Unbinding,
    /// The session is over: unbind completed, the link was declared dead, or the caller closed it.
    Closed,
}

/// Control requests that do not use the window: bind, unbind and enquire_link.
pub const CONTROL_SLOTS: u32 = 4;

/// Largest accepted window: the outstanding table is allocated up front.
pub const MAX_WINDOW: u32 = 65_536;

/// Largest sequence number (SMPP 3.4 §3.2: 0x00000001 to 0x7FFFFFFF).
pub const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

/// Timers and limits of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Most unacknowledged outgoing traffic requests, 1..=[`MAX_WINDOW`].
    pub window: u32,
    /// How long a request (including bind and unbind) waits for its response.
    pub response_timeout: Duration,
    /// Send an enquire_link after this long without receiving anything (SMPP 3.4 §4.11).
    pub enquire_link_interval: Duration,
    /// How long an enquire_link waits for its response before the link is declared dead.
    pub enquire_link_timeout: Duration,
}

impl Default for SessionConfig {
    /// Window 10, 30 s response timeout, enquire_link every 30 s idle, 10 s to answer it.
    fn default() -> Self {
        SessionConfig {
            window: 10,
            response_timeout: Duration::from_secs(30),
            enquire_link_interval: Duration::from_secs(30),
            enquire_link_timeout: Duration::from_secs(10),
        }
    }
}

impl SessionConfig {
    /// Checks the limits: a window in 1..=[`MAX_WINDOW`] and non-zero durations (a zero
    /// enquire_link_interval would make the keep-alive due forever).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.window == 0 || self.window > MAX_WINDOW {
            return Err(ConfigError::Window(self.window));
        }
        for (name, d) in [
            ("response_timeout", self.response_timeout),
            ("enquire_link_interval", self.enquire_link_interval),
            ("enquire_link_timeout", self.enquire_link_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        Ok(())
    }
}

/// An invalid [`SessionConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("window {0} is outside 1..={MAX_WINDOW}")]
    Window(u32),
    #[error("{0} must not be zero")]
    ZeroDuration(&'static str),
}

/// Why an outgoing PDU must not be sent. Nothing was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The operation is not allowed for this role in this state (the peer would answer
    /// ESME_RINVBNDSTS, SMPP 3.4 §2.3).
    #[error("{command} is not allowed for {role:?} in state {state:?}")]
    NotAllowed {
        command: CommandId,
        role: Role,
        state: State,
    },
    /// The window (or, for bind/unbind/enquire_link, the control slots) is full.
    #[error("window full")]
    WindowFull,
    /// A response passed as a request, a request as a response, a request that takes a
    /// response passed as a notification (or the reverse), or an unknown id.
    #[error("{0} cannot be sent this way")]
    WrongKind(CommandId),
}

/// What an incoming PDU means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming<T> {
    /// A request that is allowed here: process it and answer (unless it takes no response,
    /// like outbind and alert_notification).
    Request {
        command: CommandId,
        sequence_number: u32,
    },
    /// A request that is not allowed here, or unknown: answer with `response` (the request's
    /// response, or generic_nack when it has none) carrying `status`, then carry on.
    Reject {
        request: CommandId,
        response: CommandId,
        status: CommandStatus,
        sequence_number: u32,
    },
    /// A response to one of our requests; the request is no longer outstanding.
    /// `response` is the request's response id or generic_nack.
    Matched {
        sequence_number: u32,
        token: T,
        request: CommandId,
        response: CommandId,
        status: CommandStatus,
        rtt: Duration,
    },
    /// A response that answers nothing we have outstanding, or whose id does not fit the
    /// request with its sequence number (that request stays outstanding). Log it; never answer
    /// a response.
    Unexpected {
        response: CommandId,
        sequence_number: u32,
        /// The outstanding request with that sequence number, when there is one but the
        /// response does not fit it.
        mismatched: Option<CommandId>,
    },
}

/// What a timer did. See [`Session::handle_timeout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerEvent<T> {
    /// No response came in time. The request is no longer outstanding: to the pool the
    /// message was sent and its fate is unknown. An expired bind returns the session to
    /// `Open`, an expired unbind closes it; the caller should close the connection for either.
    RequestExpired {
        sequence_number: u32,
        token: T,
        request: CommandId,
    },
    /// Nothing was received for `enquire_link_interval`: send an enquire_link
    /// ([`Session::try_send_request`] with [`CommandId::ENQUIRE_LINK`]). Reported again after
    /// another interval if none is sent.
    EnquireLinkDue,
    /// An enquire_link went unanswered for `enquire_link_timeout`. The session is now
    /// `Closed`: close the connection and drain with [`Session::take_outstanding`].
    LinkDead { sequence_number: u32 },
}

/// A request still awaiting its response, handed back by [`Session::take_outstanding`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outstanding<T> {
    pub sequence_number: u32,
    pub command: CommandId,
    pub token: T,
    pub sent: Instant,
    pub deadline: Instant,
}

const NIL: u32 = u32::MAX;

/// The two send-order lists: each has one fixed timeout, so its deadlines are non-decreasing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ListId {
    /// Everything but enquire_link: deadline = sent + response_timeout.
    Requests = 0,
    /// enquire_link: deadline = sent + enquire_link_timeout.
    KeepAlive = 1,
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
    len: u32,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

#[derive(Debug)]
struct Slot<T> {
    seq: u32,
    command: CommandId,
    sent: Instant,
    deadline: Instant,
    token: T,
    list: ListId,
    control: bool,
    prev: u32,
    next: u32,
}

/// One SMPP session. `T` is the caller's token for each request (a message handle, a `u64`
/// tag), handed back with its response, its expiry, or at drain.
pub struct Session<T> {
    role: Role,
    config: SessionConfig,
    state: State,
    /// The bind type while bound or unbinding: decides which answers are still allowed.
    bind: Option<BindType>,
    /// True when the peer sent the unbind we are to answer.
    peer_unbind: bool,
    next_seq: u32,
    slots: Vec<Option<Slot<T>>>,
    lists: [List; 2],
    /// Traffic requests outstanding (counted against the window).
    in_window: u32,
    /// Control requests outstanding (bind, unbind, enquire_link).
    in_control: u32,
    /// The keep-alive clock: last time something was received, or an EnquireLinkDue was
    /// reported.
    idle_since: Instant,
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("in_window", &self.in_window)
            .field("in_control", &self.in_control)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl<T> Session<T> {
    /// A session on a connection that just opened at `now`, in state `Open`.
    pub fn new(role: Role, config: SessionConfig, now: Instant) -> Result<Session<T>, ConfigError> {
        config.validate()?;
        let capacity = (config.window + CONTROL_SLOTS + 1) as usize;
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, || None);
        Ok(Session {
            role,
            config,
            state: State::Open,
            bind: None,
            peer_unbind: false,
            next_seq: 1,
            slots,
            lists: [List::EMPTY; 2],
            in_window: 0,
            in_control: 0,
            idle_since: now,
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// True in `Bound(_)`.
    pub fn is_bound(&self) -> bool {
        matches!(self.state, State::Bound(_))
    }

    /// All outstanding requests, control ones included.
    pub fn outstanding(&self) -> usize {
        (self.in_window + self.in_control) as usize
    }

    /// Outstanding traffic requests (those counted against the window).
    pub fn in_window(&self) -> u32 {
        self.in_window
    }

    /// How many more traffic requests the window takes now.
    pub fn window_available(&self) -> u32 {
        self.config.window - self.in_window
    }

    /// True when `command` could be sent now (state, role, bind type), window aside.
    pub fn can_send(&self, command: CommandId) -> bool {
        allowed(
            self.role,
            self.state,
            self.bind,
            command,
            Direction::Outgoing,
        )
    }

    // ---- sequence numbers ---------------------------------------------------------------

    /// The next sequence number: 1..=0x7FFF_FFFF, wrapping to 1, never one that is
    /// outstanding. Use it for PDUs that take no response; requests get theirs from
    /// [`Session::try_send_request`].
    pub fn next_sequence(&mut self) -> u32 {
        loop {
            let seq = self.advance_seq();
            if !self.is_outstanding(seq) {
                return seq;
            }
        }
    }

    /// True when a request with this sequence number awaits its response.
    pub fn is_outstanding(&self, seq: u32) -> bool {
        self.slots[seq as usize % self.slots.len()]
            .as_ref()
            .is_some_and(|s| s.seq == seq)
    }

    /// Sets the number [`Session::next_sequence`] tries next (clamped into 1..=0x7FFF_FFFF):
    /// for tests, and for peers that expect a particular start.
    pub fn set_next_sequence(&mut self, seq: u32) {
        self.next_seq = seq.clamp(1, MAX_SEQUENCE);
    }

    fn advance_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = if seq >= MAX_SEQUENCE { 1 } else { seq + 1 };
        seq
    }

    // ---- outgoing -----------------------------------------------------------------------

    /// Records an outgoing request and returns the sequence number to send it with, or
    /// refuses before anything is sent: not allowed in this state ([`SendError::NotAllowed`]),
    /// window full ([`SendError::WindowFull`]), or not a request that takes a response
    /// ([`SendError::WrongKind`]; see [`Session::send_notification`]).
    ///
    /// bind moves an ESME to `Binding`, unbind moves either side to `Unbinding`.
    pub fn try_send_request(
        &mut self,
        command: CommandId,
        token: T,
        now: Instant,
    ) -> Result<u32, SendError> {
        if command.is_response() || command.response().is_none() || !command.is_known() {
            return Err(SendError::WrongKind(command));
        }
        self.check_allowed(command)?;
        let control = is_control(command);
        if control {
            if self.in_control >= CONTROL_SLOTS {
                return Err(SendError::WindowFull);
            }
        } else if self.in_window >= self.config.window {
            return Err(SendError::WindowFull);
        }

        let seq = self.alloc_seq();
        let (list, timeout) = if command == CommandId::ENQUIRE_LINK {
            (ListId::KeepAlive, self.config.enquire_link_timeout)
        } else {
            (ListId::Requests, self.config.response_timeout)
        };
        self.insert(Slot {
            seq,
            command,
            sent: now,
            deadline: now + timeout,
            token,
            list,
            control,
            prev: NIL,
            next: NIL,
        });

        if let Some(bind) = BindType::from_request(command) {
            self.state = State::Binding(bind);
        } else if command == CommandId::UNBIND {
            self.state = State::Unbinding;
            self.peer_unbind = false;
        }
        Ok(seq)
    }

    /// Sends a request that takes no response (outbind, alert_notification): checks it is
    /// allowed and returns its sequence number. Nothing becomes outstanding.
    pub fn send_notification(&mut self, command: CommandId) -> Result<u32, SendError> {
        if command.is_response() || command.response().is_some() {
            return Err(SendError::WrongKind(command));
        }
        self.check_allowed(command)?;
        Ok(self.next_sequence())
    }

    /// Checks an outgoing response and applies its state change.
    ///
    /// Error responses (status ≠ OK) and generic_nack may always be sent before `Closed`:
    /// they are how a request that is not allowed gets refused. A successful response must
    /// answer a request that is allowed in this state: bind_resp moves an SMSC from
    /// `Binding` to `Bound` (or back to `Open` with an error status), unbind_resp answering
    /// the peer's unbind closes the session.
    pub fn send_response(
        &mut self,
        command: CommandId,
        status: CommandStatus,
    ) -> Result<(), SendError> {
        if !command.is_response() || !command.is_known() {
            return Err(SendError::WrongKind(command));
        }
        if self.state == State::Closed {
            return Err(self.not_allowed(command));
        }
        // SMPP 3.4 §4.1: the SMSC's bind_resp completes (or refuses) the bind.
        if let State::Binding(bind) = self.state
            && self.role == Role::Smsc
            && command == bind.response()
        {
            if status.is_ok() {
                self.state = State::Bound(bind);
                self.bind = Some(bind);
            } else {
                self.state = State::Open;
            }
            return Ok(());
        }
        // SMPP 3.4 §4.2: answering the peer's unbind ends the session.
        if command == CommandId::UNBIND_RESP && self.state == State::Unbinding && self.peer_unbind {
            self.state = State::Closed;
            return Ok(());
        }
        if command == CommandId::GENERIC_NACK || !status.is_ok() {
            return Ok(());
        }
        let Some(request) = command.request() else {
            return Err(SendError::WrongKind(command));
        };
        let answerable = match self.state {
            // Successful bind and unbind responses are only the cases handled above.
            _ if request == CommandId::ENQUIRE_LINK => true,
            _ if is_control(request) => false,
            // Requests received before the unbind may still be answered.
            State::Unbinding => allowed_in_bind(self.role.peer(), self.bind, request),
            state => allowed(self.role, state, self.bind, request, Direction::Incoming),
        };
        if answerable {
            Ok(())
        } else {
            Err(self.not_allowed(command))
        }
    }

    fn check_allowed(&self, command: CommandId) -> Result<(), SendError> {
        if allowed(
            self.role,
            self.state,
            self.bind,
            command,
            Direction::Outgoing,
        ) {
            Ok(())
        } else {
            Err(self.not_allowed(command))
        }
    }

    fn not_allowed(&self, command: CommandId) -> SendError {
        SendError::NotAllowed {
            command,
            role: self.role,
            state: self.state,
        }
    }

    /// The connection is gone (or is being closed): nothing more may be sent. Outstanding
    /// requests stay until [`Session::take_outstanding`].
    pub fn close(&mut self) {
        self.state = State::Closed;
    }

    /// Hands back every outstanding request, oldest first, leaving none: on close, the pool
    /// marks each one *sent, no response* (its fate is unknown).
    pub fn take_outstanding(&mut self) -> Vec<Outstanding<T>> {
        let mut out = Vec::with_capacity(self.outstanding());
        for slot in &mut self.slots {
            if let Some(s) = slot.take() {
                out.push(Outstanding {
                    sequence_number: s.seq,
                    command: s.command,
                    token: s.token,
                    sent: s.sent,
                    deadline: s.deadline,
                });
            }
        }
        self.lists = [List::EMPTY; 2];
        self.in_window = 0;
        self.in_control = 0;
        out.sort_by_key(|o| o.sent);
        out
    }

    // ---- incoming -----------------------------------------------------------------------

    /// What an incoming PDU with this header means. Any PDU counts as life on the link for the
    /// keep-alive.
    pub fn receive_header(&mut self, header: &Header, now: Instant) -> Incoming<T> {
        self.receive(
            header.command_id,
            header.command_status,
            header.sequence_number,
            now,
        )
    }

    /// What an incoming PDU means, from its command id, status and sequence number.
    pub fn receive(
        &mut self,
        command: CommandId,
        status: CommandStatus,
        sequence_number: u32,
        now: Instant,
    ) -> Incoming<T> {
        self.idle_since = now;
        if command.is_response() {
            self.receive_response(command, status, sequence_number, now)
        } else {
            self.receive_request(command, sequence_number)
        }
    }

    fn receive_request(&mut self, command: CommandId, sequence_number: u32) -> Incoming<T> {
        if let Some(reject) = self.refuse_request(command, sequence_number) {
            return reject;
        }
        if let Some(bind) = BindType::from_request(command) {
            // Only an SMSC gets here: it now owes a bind_resp.
            self.state = State::Binding(bind);
        } else if command == CommandId::UNBIND {
            self.state = State::Unbinding;
            self.peer_unbind = true;
        }
        Incoming::Request {
            command,
            sequence_number,
        }
    }

    /// The refusal an incoming request gets in this state, if any. No side effects.
    fn refuse_request(&self, command: CommandId, sequence_number: u32) -> Option<Incoming<T>> {
        let status = if !command.is_known() {
            // SMPP 3.4 §4.3: an unknown command gets generic_nack ESME_RINVCMDID.
            CommandStatus::ESME_RINVCMDID
        } else if allowed(
            self.role,
            self.state,
            self.bind,
            command,
            Direction::Incoming,
        ) {
            return None;
        } else if BindType::from_request(command).is_some()
            && matches!(self.state, State::Binding(_) | State::Bound(_))
        {
            // A second bind on a bound session has its own code (SMPP 3.4 §5.1.3).
            CommandStatus::ESME_RALYBND
        } else {
            CommandStatus::ESME_RINVBNDSTS
        };
        let response = match command.response() {
            Some(r) if command.is_known() => r,
            _ => CommandId::GENERIC_NACK,
        };
        Some(Incoming::Reject {
            request: command,
            response,
            status,
            sequence_number,
        })
    }

    fn receive_response(
        &mut self,
        response: CommandId,
        status: CommandStatus,
        sequence_number: u32,
        now: Instant,
    ) -> Incoming<T> {
        let cap = self.slots.len();
        let index = sequence_number as usize % cap;
        let request = match &self.slots[index] {
            Some(s) if s.seq == sequence_number => s.command,
            _ => {
                return Incoming::Unexpected {
                    response,
                    sequence_number,
                    mismatched: None,
                };
            }
        };
        // generic_nack answers whatever had the sequence number (SMPP 3.4 §4.3).
        if response != CommandId::GENERIC_NACK && response.request() != Some(request) {
            return Incoming::Unexpected {
                response,
                sequence_number,
                mismatched: Some(request),
            };
        }
        let Some(slot) = self.remove(index as u32) else {
            return Incoming::Unexpected {
                response,
                sequence_number,
                mismatched: None,
            };
        };

        if let (State::Binding(bind), Some(asked)) = (self.state, BindType::from_request(request))
            && bind == asked
        {
            if status.is_ok() && response == bind.response() {
                self.state = State::Bound(bind);
                self.bind = Some(bind);
            } else {
                self.state = State::Open;
            }
        } else if request == CommandId::UNBIND && self.state == State::Unbinding {
            // SMPP 3.4 §4.2.2: unbind_resp ends the session, whatever its status.
            self.state = State::Closed;
        }

        Incoming::Matched {
            sequence_number,
            token: slot.token,
            request,
            response,
            status,
            rtt: now.saturating_duration_since(slot.sent),
        }
    }

    // ---- timers -------------------------------------------------------------------------

    /// The earliest instant at which [`Session::handle_timeout`] has something to report.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.head_deadline(ListId::Requests),
            self.head_deadline(ListId::KeepAlive),
            self.enquire_link_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Reports the timer events due at `now`, earliest first: expired requests, a dead link,
    /// a due enquire_link. Lazy: events not taken from the iterator are reported by the next
    /// call.
    pub fn handle_timeout(&mut self, now: Instant) -> TimerEvents<'_, T> {
        TimerEvents { session: self, now }
    }

    /// The next timer event due at `now`, or `None`.
    pub fn poll_timer_event(&mut self, now: Instant) -> Option<TimerEvent<T>> {
        let requests = self.head_deadline(ListId::Requests).filter(|&d| d <= now);
        let keepalive = self.head_deadline(ListId::KeepAlive).filter(|&d| d <= now);
        let due = self.enquire_link_due().filter(|&d| d <= now);

        let earliest = [requests, keepalive, due].into_iter().flatten().min()?;
        if requests == Some(earliest) {
            let slot = self.remove(self.lists[ListId::Requests as usize].head)?;
            if BindType::from_request(slot.command).is_some()
                && matches!(self.state, State::Binding(_))
            {
                self.state = State::Open;
            } else if slot.command == CommandId::UNBIND && self.state == State::Unbinding {
                self.state = State::Closed;
            }
            return Some(TimerEvent::RequestExpired {
                sequence_number: slot.seq,
                token: slot.token,
                request: slot.command,
            });
        }
        if keepalive == Some(earliest) {
            let slot = self.remove(self.lists[ListId::KeepAlive as usize].head)?;
            self.state = State::Closed;
            return Some(TimerEvent::LinkDead {
                sequence_number: slot.seq,
            });
        }
        // Restart the idle clock so an ignored reminder comes back after one more interval
        // rather than on every call.
        self.idle_since = now;
        Some(TimerEvent::EnquireLinkDue)
    }

    fn head_deadline(&self, list: ListId) -> Option<Instant> {
        let head = self.lists[list as usize].head;
        self.slots
            .get(head as usize)
            .and_then(Option::as_ref)
            .map(|s| s.deadline)
    }

    /// When an enquire_link is due: only while bound and with none in flight (SMPP 3.4 §4.11).
    fn enquire_link_due(&self) -> Option<Instant> {
        (self.is_bound() && self.lists[ListId::KeepAlive as usize].len == 0)
            .then(|| self.idle_since + self.config.enquire_link_interval)
    }

    // ---- the outstanding table ----------------------------------------------------------

    /// A sequence number whose slot is free (one exists: the caller checked the counts). A
    /// number whose slot holds an older request is skipped even though it is not itself
    /// outstanding; numbers still only go up (until the wrap).
    fn alloc_seq(&mut self) -> u32 {
        let cap = self.slots.len();
        loop {
            let seq = self.advance_seq();
            if self.slots[seq as usize % cap].is_none() {
                return seq;
            }
        }
    }

    fn insert(&mut self, mut slot: Slot<T>) {
        let index = (slot.seq as usize % self.slots.len()) as u32;
        let list = &mut self.lists[slot.list as usize];
        slot.prev = list.tail;
        slot.next = NIL;
        let old_tail = list.tail;
        list.tail = index;
        if list.head == NIL {
            list.head = index;
        }
        list.len += 1;
        if slot.control {
            self.in_control += 1;
        } else {
            self.in_window += 1;
        }
        if let Some(Some(t)) = self.slots.get_mut(old_tail as usize) {
            t.next = index;
        }
        self.slots[index as usize] = Some(slot);
    }

    fn remove(&mut self, index: u32) -> Option<Slot<T>> {
        let slot = self.slots.get_mut(index as usize)?.take()?;
        if let Some(Some(p)) = self.slots.get_mut(slot.prev as usize) {
            p.next = slot.next;
        }
        if let Some(Some(n)) = self.slots.get_mut(slot.next as usize) {
            n.prev = slot.prev;
        }
        let list = &mut self.lists[slot.list as usize];
        if list.head == index {
            list.head = slot.next;
        }
        if list.tail == index {
            list.tail = slot.prev;
        }
        list.len -= 1;
        if slot.control {
            self.in_control -= 1;
        } else {
            self.in_window -= 1;
        }
        Some(slot)
    }
}

/// Thin wrappers for callers that hold [`Pdu`]s rather than header facts.
impl<T> Session<T> {
    /// [`Session::try_send_request`] for a request PDU, writing the sequence number into it.
    pub fn send_request_pdu(
        &mut self,
        pdu: &mut Pdu,
        token: T,
        now: Instant,
    ) -> Result<u32, SendError> {
        let seq = self.try_send_request(pdu.command_id(), token, now)?;
        pdu.sequence_number = seq;
        Ok(seq)
    }

    /// [`Session::send_notification`] for an outbind or alert_notification PDU, writing the
    /// sequence number into it.
    pub fn send_notification_pdu(&mut self, pdu: &mut Pdu) -> Result<u32, SendError> {
        let seq = self.send_notification(pdu.command_id())?;
        pdu.sequence_number = seq;
        Ok(seq)
    }

    /// [`Session::send_response`] for a response PDU (its sequence number is the caller's:
    /// the request's).
    pub fn send_response_pdu(&mut self, pdu: &Pdu) -> Result<(), SendError> {
        self.send_response(pdu.command_id(), pdu.command_status)
    }

    /// [`Session::receive`] for a decoded PDU.
    pub fn receive_pdu(&mut self, pdu: &Pdu, now: Instant) -> Incoming<T> {
        self.receive(
            pdu.command_id(),
            pdu.command_status,
            pdu.sequence_number,
            now,
        )
    }

    /// A complete frame whose body did not decode (the codec's `Frame::Invalid`).
    ///
    /// A request is refused: with ESME_RINVBNDSTS (or RINVCMDID, RALYBND) when it would not
    /// be allowed anyway, otherwise with the status the decode error names, in the request's
    /// response, or in a generic_nack when the command is unknown or the length is wrong
    /// (SMPP 3.4 §4.3). It changes no state: a bind that cannot be read does not start
    /// binding. A response is matched by its header, so the request it answers is no longer
    /// outstanding; its body is lost.
    pub fn receive_invalid(&mut self, error: &DecodeError, now: Instant) -> Incoming<T> {
        let h = error.header;
        self.idle_since = now;
        if h.command_id.is_response() {
            return self.receive_response(h.command_id, h.command_status, h.sequence_number, now);
        }
        if let Some(reject) = self.refuse_request(h.command_id, h.sequence_number) {
            return reject;
        }
        let nack = matches!(
            error.kind,
            DecodeErrorKind::BadLength { .. } | DecodeErrorKind::UnknownCommand
        );
        Incoming::Reject {
            request: h.command_id,
            response: match h.command_id.response() {
                Some(r) if !nack => r,
                _ => CommandId::GENERIC_NACK,
            },
            status: error.status(),
            sequence_number: h.sequence_number,
        }
    }
}

impl<T> Incoming<T> {
    /// For [`Incoming::Reject`], the PDU that carries the refusal: the response with no body
    /// (SMPP 3.4 §3.3: a response with a non-zero command_status may omit its body), or
    /// generic_nack. `None` for every other variant.
    pub fn reply(&self) -> Option<Pdu> {
        let Incoming::Reject {
            response,
            status,
            sequence_number,
            ..
        } = *self
        else {
            return None;
        };
        Some(Pdu {
            command_status: status,
            sequence_number,
            body: empty_response(response),
        })
    }
}

/// The body-less form of a response.
fn empty_response(response: CommandId) -> Body {
    match response {
        CommandId::BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(None),
        CommandId::BIND_RECEIVER_RESP => Body::BindReceiverResp(None),
        CommandId::BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(None),
        CommandId::UNBIND_RESP => Body::UnbindResp,
        CommandId::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
        CommandId::SUBMIT_SM_RESP => Body::SubmitSmResp(None),
        CommandId::SUBMIT_MULTI_RESP => Body::SubmitMultiResp(None),
        CommandId::DELIVER_SM_RESP => Body::DeliverSmResp(None),
        CommandId::DATA_SM_RESP => Body::DataSmResp(None),
        CommandId::QUERY_SM_RESP => Body::QuerySmResp(None),
        CommandId::CANCEL_SM_RESP => Body::CancelSmResp,
        CommandId::REPLACE_SM_RESP => Body::ReplaceSmResp,
        CommandId::GENERIC_NACK => Body::GenericNack,
        // The SMPP 5.0 broadcast responses are kept raw by the PDU model.
        command_id => Body::Raw {
            command_id,
            body: Bytes::new(),
        },
    }
}

impl<T: Default> Session<T> {
    /// Sends an enquire_link with a default token: the usual answer to
    /// [`TimerEvent::EnquireLinkDue`].
    pub fn send_enquire_link(&mut self, now: Instant) -> Result<u32, SendError> {
        self.try_send_request(CommandId::ENQUIRE_LINK, T::default(), now)
    }
}

/// The events of one [`Session::handle_timeout`] call.
pub struct TimerEvents<'a, T> {
    session: &'a mut Session<T>,
    now: Instant,
}

impl<T> Iterator for TimerEvents<'_, T> {
    type Item = TimerEvent<T>;

    fn next(&mut self) -> Option<TimerEvent<T>> {
        self.session.poll_timer_event(self.now)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Outgoing,
    Incoming,
}

/// bind, unbind and enquire_link: session control, exempt from the window.
fn is_control(id: CommandId) -> bool {
    BindType::from_request(id).is_some() || id == CommandId::UNBIND || id == CommandId::ENQUIRE_LINK
}

/// Message operations, which need a bound session of the right type.
fn is_traffic(id: CommandId) -> bool {
    matches!(
        id,
        CommandId::SUBMIT_SM
            | CommandId::SUBMIT_MULTI
            | CommandId::QUERY_SM
            | CommandId::CANCEL_SM
            | CommandId::REPLACE_SM
            | CommandId::BROADCAST_SM
            | CommandId::QUERY_BROADCAST_SM
            | CommandId::CANCEL_BROADCAST_SM
            | CommandId::DELIVER_SM
            | CommandId::ALERT_NOTIFICATION
            | CommandId::DATA_SM
    )
}

/// May `sender` issue the message operation `id` on a bind of this type? (SMPP 3.4 §2.3 and
/// table 2-1; SMPP 5.0 §2.4 for the broadcast operations.)
fn allowed_in_bind(sender: Role, bind: Option<BindType>, id: CommandId) -> bool {
    let Some(bind) = bind else { return false };
    match id {
        // ESME → SMSC, on a transmitter or transceiver bind.
        CommandId::SUBMIT_SM
        | CommandId::SUBMIT_MULTI
        | CommandId::QUERY_SM
        | CommandId::CANCEL_SM
        | CommandId::REPLACE_SM
        | CommandId::BROADCAST_SM
        | CommandId::QUERY_BROADCAST_SM
        | CommandId::CANCEL_BROADCAST_SM => sender == Role::Esme && bind.esme_sends(),
        // SMSC → ESME, on a receiver or transceiver bind.
        CommandId::DELIVER_SM | CommandId::ALERT_NOTIFICATION => {
            sender == Role::Smsc && bind.smsc_sends()
        }
        // Either way, on a bind that carries messages in that direction.
        CommandId::DATA_SM => match sender {
            Role::Esme => bind.esme_sends(),
            Role::Smsc => bind.smsc_sends(),
        },
        _ => false,
    }
}

/// Is the request `id` allowed in `state`, sent by us (`Outgoing`) or by the peer (`Incoming`)?
fn allowed(
    us: Role,
    state: State,
    bind: Option<BindType>,
    id: CommandId,
    direction: Direction,
) -> bool {
    let sender = match direction {
        Direction::Outgoing => us,
        Direction::Incoming => us.peer(),
    };
    if BindType::from_request(id).is_some() {
        // SMPP 3.4 §2.2: only an ESME binds, and only from Open.
        return sender == Role::Esme && state == State::Open;
    }
    match id {
        // SMPP 3.4 §2.2.1: the SMSC asks an ESME to bind; the ESME stays Open.
        CommandId::OUTBIND => sender == Role::Smsc && state == State::Open,
        // SMPP 3.4 §4.11 allows enquire_link in any bound state; 5.0 §2.3 also in Open.
        // We answer it in every live state but only originate it while bound.
        CommandId::ENQUIRE_LINK => match direction {
            Direction::Outgoing => matches!(state, State::Bound(_)),
            Direction::Incoming => state != State::Closed,
        },
        // Either side may unbind a bound session; unbinds may cross (§4.2).
        CommandId::UNBIND => match direction {
            Direction::Outgoing => matches!(state, State::Bound(_)),
            Direction::Incoming => matches!(state, State::Bound(_) | State::Unbinding),
        },
        _ if is_traffic(id) => {
            matches!(state, State::Bound(_)) && allowed_in_bind(sender, bind, id)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(window: u32) -> SessionConfig {
        SessionConfig {
            window,
            response_timeout: Duration::from_secs(10),
            enquire_link_interval: Duration::from_secs(30),
            enquire_link_timeout: Duration::from_secs(5),
        }
    }

    fn ok() -> CommandStatus {
        CommandStatus::ESME_ROK
    }

    /// An ESME session bound as `bind` at `t0`.
    fn bound_esme(bind: BindType, window: u32, t0: Instant) -> Session<u64> {
        let mut s = Session::new(Role::Esme, cfg(window), t0).unwrap();
        let seq = s.try_send_request(bind.request(), 0, t0).unwrap();
        s.receive(bind.response(), ok(), seq, t0);
        assert_eq!(s.state(), State::Bound(bind));
        s
    }

    #[test]
    fn esme_bind_handshake_each_type() {
        let t0 = Instant::now();
        for bind in [
            BindType::Transmitter,
            BindType::Receiver,
            BindType::Transceiver,
        ] {
            let mut s: Session<u64> = Session::new(Role::Esme, cfg(4), t0).unwrap();
            assert_eq!(s.state(), State::Open);
            let seq = s.try_send_request(bind.request(), 7, t0).unwrap();
            assert_eq!(seq, 1);
            assert_eq!(s.state(), State::Binding(bind));
            assert_eq!(s.window_available(), 4, "bind does not use the window");
            let got = s.receive(bind.response(), ok(), 1, t0 + Duration::from_millis(40));
            assert_eq!(
                got,
                Incoming::Matched {
                    sequence_number: 1,
                    token: 7,
                    request: bind.request(),
                    response: bind.response(),
                    status: ok(),
                    rtt: Duration::from_millis(40),
                }
            );
            assert_eq!(s.state(), State::Bound(bind));
            assert_eq!(s.outstanding(), 0);
        }
    }

    #[test]
    fn smsc_bind_handshake() {
        let t0 = Instant::now();
        let mut s: Session<u64> = Session::new(Role::Smsc, cfg(4), t0).unwrap();
        assert_eq!(
            s.receive(CommandId::BIND_TRANSCEIVER, ok(), 1, t0),
            Incoming::Request {
                command: CommandId::BIND_TRANSCEIVER,
                sequence_number: 1
            }
        );
        assert_eq!(s.state(), State::Binding(BindType::Transceiver));
        // The wrong bind_resp type is not the answer.
        assert!(
            s.send_response(CommandId::BIND_RECEIVER_RESP, ok())
                .is_err()
        );
        s.send_response(CommandId::BIND_TRANSCEIVER_RESP, ok())
            .unwrap();
        assert_eq!(s.state(), State::Bound(BindType::Transceiver));
        assert!(s.can_send(CommandId::DELIVER_SM));
        assert!(!s.can_send(CommandId::SUBMIT_SM));
    }

    #[test]
    fn bind_rejected_returns_to_open() {
        let t0 = Instant::now();
        let mut s: Session<u64> = Session::new(Role::Esme, cfg(4), t0).unwrap();
        let seq = s
            .try_send_request(CommandId::BIND_TRANSMITTER, 0, t0)
            .unwrap();
        let got = s.receive(
            CommandId::BIND_TRANSMITTER_RESP,
            CommandStatus::ESME_RINVPASWD,
            seq,
            t0,
        );
        assert!(
            matches!(got, Incoming::Matched { status, .. } if status == CommandStatus::ESME_RINVPASWD)
        );
        assert_eq!(s.state(), State::Open);

        // SMSC side refusing.
        let mut m: Session<u64> = Session::new(Role::Smsc, cfg(4), t0).unwrap();
        m.receive(CommandId::BIND_RECEIVER, ok(), 1, t0);
        m.send_response(CommandId::BIND_RECEIVER_RESP, CommandStatus::ESME_RBINDFAIL)
            .unwrap();
        assert_eq!(m.state(), State::Open);
    }

    #[test]
    fn generic_nack_to_bind_returns_to_open() {
        let t0 = Instant::now();
        let mut s: Session<u64> = Session::new(Role::Esme, cfg(4), t0).unwrap();
        let seq = s
            .try_send_request(CommandId::BIND_TRANSCEIVER, 3, t0)
            .unwrap();
        let got = s.receive(
            CommandId::GENERIC_NACK,
            CommandStatus::ESME_RINVCMDID,
            seq,
            t0,
        );
        assert!(matches!(
            got,
            Incoming::Matched {
                token: 3,
                request: CommandId::BIND_TRANSCEIVER,
                response: CommandId::GENERIC_NACK,
                ..
            }
        ));
        assert_eq!(s.state(), State::Open);
    }

    #[test]
    fn only_bind_in_open() {
        let t0 = Instant::now();
        let mut s: Session<u64> = Session::new(Role::Esme, cfg(4), t0).unwrap();
        for id in [
            CommandId::SUBMIT_SM,
            CommandId::ENQUIRE_LINK,
            CommandId::UNBIND,
            CommandId::DATA_SM,
        ] {
            assert_eq!(
                s.try_send_request(id, 0, t0),
                Err(SendError::NotAllowed {
                    command: id,
                    role: Role::Esme,
                    state: State::Open
                })
            );
        }
        assert_eq!(s.outstanding(), 0);
        // An incoming submit_sm in Open is refused with its own response id.
        assert_eq!(
            s.receive(CommandId::DELIVER_SM, ok(), 9, t0),
            Incoming::Reject {
                request: CommandId::DELIVER_SM,
                response: CommandId::DELIVER_SM_RESP,
                status: CommandStatus::ESME_RINVBNDSTS,
                sequence_number: 9
            }
        );
        // The refusal itself may be sent.
        s.send_response(CommandId::DELIVER_SM_RESP, CommandStatus::ESME_RINVBNDSTS)
            .unwrap();
        // A successful answer may not.
        assert!(s.send_response(CommandId::DELIVER_SM_RESP, ok()).is_err());
    }

    #[test]
    fn transmitter_bind_operations() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transmitter, 8, t0);
        for id in [
            CommandId::SUBMIT_SM,
            CommandId::DATA_SM,
            CommandId::QUERY_SM,
            CommandId::CANCEL_SM,
            CommandId::REPLACE_SM,
            CommandId::SUBMIT_MULTI,
        ] {
            assert!(s.try_send_request(id, 0, t0).is_ok(), "{id}");
        }
        assert!(
            s.try_send_request(CommandId::BIND_TRANSMITTER, 0, t0)
                .is_err()
        );
        assert_eq!(
            s.receive(CommandId::DELIVER_SM, ok(), 100, t0),
            Incoming::Reject {
                request: CommandId::DELIVER_SM,
                response: CommandId::DELIVER_SM_RESP,
                status: CommandStatus::ESME_RINVBNDSTS,
                sequence_number: 100
            }
        );
        // alert_notification has no response: generic_nack carries the refusal.
        assert_eq!(
            s.receive(CommandId::ALERT_NOTIFICATION, ok(), 101, t0),
            Incoming::Reject {
                request: CommandId::ALERT_NOTIFICATION,
                response: CommandId::GENERIC_NACK,
                status: CommandStatus::ESME_RINVBNDSTS,
                sequence_number: 101
            }
        );
        assert!(matches!(
            s.receive(CommandId::ENQUIRE_LINK, ok(), 102, t0),
            Incoming::Request { .. }
        ));
        s.send_response(CommandId::ENQUIRE_LINK_RESP, ok()).unwrap();
    }

    #[test]
    fn receiver_bind_operations() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Receiver, 8, t0);
        assert!(s.try_send_request(CommandId::SUBMIT_SM, 0, t0).is_err());
        assert!(s.try_send_request(CommandId::DATA_SM, 0, t0).is_err());
        for id in [
            CommandId::DELIVER_SM,
            CommandId::DATA_SM,
            CommandId::ALERT_NOTIFICATION,
        ] {
            assert!(
                matches!(s.receive(id, ok(), 5, t0), Incoming::Request { .. }),
                "{id}"
            );
        }
        s.send_response(CommandId::DELIVER_SM_RESP, ok()).unwrap();
        s.send_response(CommandId::DATA_SM_RESP, ok()).unwrap();
        assert!(s.send_response(CommandId::SUBMIT_SM_RESP, ok()).is_err());
    }

    #[test]
    fn a_second_bind_gets_ralybnd() {
        let t0 = Instant::now();
        let mut m: Session<u64> = Session::new(Role::Smsc, cfg(4), t0).unwrap();
        m.receive(CommandId::BIND_TRANSMITTER, ok(), 1, t0);
        m.send_response(CommandId::BIND_TRANSMITTER_RESP, ok())
            .unwrap();
        assert_eq!(
            m.receive(CommandId::BIND_RECEIVER, ok(), 2, t0),
            Incoming::Reject {
                request: CommandId::BIND_RECEIVER,
                response: CommandId::BIND_RECEIVER_RESP,
                status: CommandStatus::ESME_RALYBND,
                sequence_number: 2
            }
        );
        assert_eq!(m.state(), State::Bound(BindType::Transmitter));
        m.send_response(CommandId::BIND_RECEIVER_RESP, CommandStatus::ESME_RALYBND)
            .unwrap();
        assert_eq!(m.state(), State::Bound(BindType::Transmitter));
    }

    #[test]
    fn unknown_request_gets_rinvcmdid() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        assert_eq!(
            s.receive(CommandId(0x0000_0999), ok(), 12, t0),
            Incoming::Reject {
                request: CommandId(0x0000_0999),
                response: CommandId::GENERIC_NACK,
                status: CommandStatus::ESME_RINVCMDID,
                sequence_number: 12
            }
        );
    }

    #[test]
    fn sequence_wraps_and_skips_outstanding() {
        let t0 = Instant::now();
        // Window 4: the table has 9 slots.
        let mut s = bound_esme(BindType::Transmitter, 4, t0);
        s.set_next_sequence(1);
        assert_eq!(s.try_send_request(CommandId::SUBMIT_SM, 1, t0), Ok(1));
        s.set_next_sequence(MAX_SEQUENCE - 1);
        assert_eq!(s.next_sequence(), MAX_SEQUENCE - 1);
        assert_eq!(s.next_sequence(), MAX_SEQUENCE);
        // Wraps to 1, which is outstanding: skipped.
        assert_eq!(s.next_sequence(), 2);
        assert_eq!(s.try_send_request(CommandId::SUBMIT_SM, 2, t0), Ok(3));
        s.set_next_sequence(0);
        assert_eq!(
            s.next_sequence(),
            2,
            "0 is not a sequence number; 1 is taken"
        );

        // Requests wrap the same way.
        s.set_next_sequence(MAX_SEQUENCE - 1);
        assert_eq!(
            s.try_send_request(CommandId::SUBMIT_SM, 3, t0),
            Ok(MAX_SEQUENCE - 1)
        );
        // 0x7FFF_FFFF shares its slot with the outstanding 1 (0x7FFF_FFFF % 9 == 1), so a
        // request skips it as well as 1; 3 is outstanding too.
        assert_eq!(s.try_send_request(CommandId::SUBMIT_SM, 4, t0), Ok(2));
        assert!(s.is_outstanding(1) && s.is_outstanding(2) && s.is_outstanding(3));
        assert!(!s.is_outstanding(MAX_SEQUENCE));
        assert_eq!(s.window_available(), 0);
    }

    #[test]
    fn window_full_and_free() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 2, t0);
        let a = s.try_send_request(CommandId::SUBMIT_SM, 10, t0).unwrap();
        let _b = s.try_send_request(CommandId::SUBMIT_SM, 11, t0).unwrap();
        assert_eq!(s.window_available(), 0);
        assert_eq!(
            s.try_send_request(CommandId::SUBMIT_SM, 12, t0),
            Err(SendError::WindowFull)
        );
        // A keep-alive still goes out.
        let el = s.try_send_request(CommandId::ENQUIRE_LINK, 0, t0).unwrap();
        assert_eq!(s.outstanding(), 3);
        assert!(matches!(
            s.receive(CommandId::SUBMIT_SM_RESP, ok(), a, t0),
            Incoming::Matched { token: 10, .. }
        ));
        assert_eq!(s.window_available(), 1);
        s.try_send_request(CommandId::SUBMIT_SM, 12, t0).unwrap();
        assert!(matches!(
            s.receive(CommandId::ENQUIRE_LINK_RESP, ok(), el, t0),
            Incoming::Matched {
                request: CommandId::ENQUIRE_LINK,
                ..
            }
        ));
    }

    #[test]
    fn control_slots_are_bounded() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 1, t0);
        for _ in 0..CONTROL_SLOTS {
            s.try_send_request(CommandId::ENQUIRE_LINK, 0, t0).unwrap();
        }
        assert_eq!(
            s.try_send_request(CommandId::ENQUIRE_LINK, 0, t0),
            Err(SendError::WindowFull)
        );
        s.try_send_request(CommandId::SUBMIT_SM, 0, t0).unwrap();
    }

    #[test]
    fn mismatched_and_unknown_responses() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        let el = s.try_send_request(CommandId::ENQUIRE_LINK, 1, t0).unwrap();
        assert_eq!(
            s.receive(CommandId::SUBMIT_SM_RESP, ok(), el, t0),
            Incoming::Unexpected {
                response: CommandId::SUBMIT_SM_RESP,
                sequence_number: el,
                mismatched: Some(CommandId::ENQUIRE_LINK)
            }
        );
        assert_eq!(s.outstanding(), 1, "the request stays outstanding");
        assert_eq!(
            s.receive(CommandId::SUBMIT_SM_RESP, ok(), 999, t0),
            Incoming::Unexpected {
                response: CommandId::SUBMIT_SM_RESP,
                sequence_number: 999,
                mismatched: None
            }
        );
        let sub = s.try_send_request(CommandId::SUBMIT_SM, 2, t0).unwrap();
        assert!(matches!(
            s.receive(
                CommandId::GENERIC_NACK,
                CommandStatus::ESME_RINVCMDLEN,
                sub,
                t0
            ),
            Incoming::Matched {
                token: 2,
                request: CommandId::SUBMIT_SM,
                response: CommandId::GENERIC_NACK,
                ..
            }
        ));
        // A second answer to the same number is unexpected.
        assert!(matches!(
            s.receive(CommandId::SUBMIT_SM_RESP, ok(), sub, t0),
            Incoming::Unexpected {
                mismatched: None,
                ..
            }
        ));
    }

    #[test]
    fn requests_expire_in_order() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transmitter, 4, t0);
        let a = s.try_send_request(CommandId::SUBMIT_SM, 1, t0).unwrap();
        let b = s
            .try_send_request(CommandId::SUBMIT_SM, 2, t0 + Duration::from_secs(1))
            .unwrap();
        let c = s
            .try_send_request(CommandId::SUBMIT_SM, 3, t0 + Duration::from_secs(2))
            .unwrap();
        // b answered: its deadline no longer counts.
        s.receive(
            CommandId::SUBMIT_SM_RESP,
            ok(),
            b,
            t0 + Duration::from_secs(3),
        );
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(s.handle_timeout(t0 + Duration::from_secs(9)).count(), 0);
        let ev: Vec<_> = s.handle_timeout(t0 + Duration::from_secs(12)).collect();
        assert_eq!(
            ev,
            vec![
                TimerEvent::RequestExpired {
                    sequence_number: a,
                    token: 1,
                    request: CommandId::SUBMIT_SM
                },
                TimerEvent::RequestExpired {
                    sequence_number: c,
                    token: 3,
                    request: CommandId::SUBMIT_SM
                },
            ]
        );
        assert_eq!(s.outstanding(), 0);
        assert_eq!(s.window_available(), 4);
        // Next: the keep-alive, 30 s after the last receive at t0+3.
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(33)));
    }

    #[test]
    fn enquire_link_due_then_link_dead() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        // Something received at t0+20 pushes the keep-alive back.
        s.receive(
            CommandId::ENQUIRE_LINK,
            ok(),
            50,
            t0 + Duration::from_secs(20),
        );
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(50)));
        let t1 = t0 + Duration::from_secs(50);
        assert_eq!(
            s.handle_timeout(t1).collect::<Vec<_>>(),
            vec![TimerEvent::EnquireLinkDue]
        );
        let seq = s.send_enquire_link(t1).unwrap();
        // While it is in flight no other keep-alive is due; its deadline is next.
        assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(5)));
        assert_eq!(
            s.handle_timeout(t1 + Duration::from_secs(5))
                .collect::<Vec<_>>(),
            vec![TimerEvent::LinkDead {
                sequence_number: seq
            }]
        );
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn ignored_enquire_link_due_comes_back_later() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(s.handle_timeout(t1).count(), 1);
        assert_eq!(s.handle_timeout(t1).count(), 0);
        assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(30)));
    }

    #[test]
    fn unbind_we_start() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        let seq = s.try_send_request(CommandId::UNBIND, 0, t0).unwrap();
        assert_eq!(s.state(), State::Unbinding);
        assert!(s.try_send_request(CommandId::SUBMIT_SM, 0, t0).is_err());
        // A deliver_sm that crossed the unbind is refused.
        assert!(matches!(
            s.receive(CommandId::DELIVER_SM, ok(), 70, t0),
            Incoming::Reject {
                status: CommandStatus::ESME_RINVBNDSTS,
                ..
            }
        ));
        s.receive(CommandId::UNBIND_RESP, ok(), seq, t0);
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn unbind_peer_starts() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        assert_eq!(
            s.receive(CommandId::UNBIND, ok(), 80, t0),
            Incoming::Request {
                command: CommandId::UNBIND,
                sequence_number: 80
            }
        );
        assert_eq!(s.state(), State::Unbinding);
        // Earlier deliveries may still be answered.
        s.send_response(CommandId::DELIVER_SM_RESP, ok()).unwrap();
        s.send_response(CommandId::UNBIND_RESP, ok()).unwrap();
        assert_eq!(s.state(), State::Closed);
        assert!(s.send_response(CommandId::GENERIC_NACK, ok()).is_err());
    }

    #[test]
    fn unbind_timeout_closes() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        let seq = s.try_send_request(CommandId::UNBIND, 9, t0).unwrap();
        let ev: Vec<_> = s.handle_timeout(t0 + Duration::from_secs(10)).collect();
        assert_eq!(
            ev,
            vec![TimerEvent::RequestExpired {
                sequence_number: seq,
                token: 9,
                request: CommandId::UNBIND
            }]
        );
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn bind_timeout_returns_to_open() {
        let t0 = Instant::now();
        let mut s: Session<u64> = Session::new(Role::Esme, cfg(4), t0).unwrap();
        s.try_send_request(CommandId::BIND_TRANSMITTER, 0, t0)
            .unwrap();
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(s.handle_timeout(t0 + Duration::from_secs(10)).count(), 1);
        assert_eq!(s.state(), State::Open);
    }

    #[test]
    fn outbind() {
        let t0 = Instant::now();
        let mut m: Session<u64> = Session::new(Role::Smsc, cfg(4), t0).unwrap();
        assert_eq!(
            m.try_send_request(CommandId::OUTBIND, 0, t0),
            Err(SendError::WrongKind(CommandId::OUTBIND))
        );
        assert_eq!(m.send_notification(CommandId::OUTBIND), Ok(1));
        let mut e: Session<u64> = Session::new(Role::Esme, cfg(4), t0).unwrap();
        assert!(matches!(
            e.receive(CommandId::OUTBIND, ok(), 1, t0),
            Incoming::Request {
                command: CommandId::OUTBIND,
                ..
            }
        ));
        assert_eq!(e.state(), State::Open);
        assert!(e.send_notification(CommandId::OUTBIND).is_err());
    }

    #[test]
    fn take_outstanding_drains_in_send_order() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transceiver, 4, t0);
        s.try_send_request(CommandId::SUBMIT_SM, 1, t0).unwrap();
        s.try_send_request(CommandId::ENQUIRE_LINK, 2, t0 + Duration::from_secs(1))
            .unwrap();
        s.try_send_request(CommandId::DATA_SM, 3, t0 + Duration::from_secs(2))
            .unwrap();
        s.close();
        assert!(s.try_send_request(CommandId::SUBMIT_SM, 4, t0).is_err());
        let drained = s.take_outstanding();
        assert_eq!(
            drained
                .iter()
                .map(|o| (o.token, o.command))
                .collect::<Vec<_>>(),
            vec![
                (1, CommandId::SUBMIT_SM),
                (2, CommandId::ENQUIRE_LINK),
                (3, CommandId::DATA_SM)
            ]
        );
        assert_eq!(s.outstanding(), 0);
        assert_eq!(s.poll_timeout(), None);
        assert!(s.take_outstanding().is_empty());
    }

    #[test]
    fn config_is_validated() {
        let t0 = Instant::now();
        assert_eq!(
            Session::<u64>::new(Role::Esme, cfg(0), t0).unwrap_err(),
            ConfigError::Window(0)
        );
        let mut c = cfg(1);
        c.enquire_link_interval = Duration::ZERO;
        assert_eq!(
            Session::<u64>::new(Role::Esme, c, t0).unwrap_err(),
            ConfigError::ZeroDuration("enquire_link_interval")
        );
        assert!(SessionConfig::default().validate().is_ok());
    }

    #[test]
    fn slots_are_reused_across_many_round_trips() {
        let t0 = Instant::now();
        let mut s = bound_esme(BindType::Transmitter, 3, t0);
        let mut pending = std::collections::VecDeque::new();
        for i in 0..10_000u64 {
            if s.window_available() == 0 {
                let seq = pending.pop_front().unwrap();
                assert!(matches!(
                    s.receive(CommandId::SUBMIT_SM_RESP, ok(), seq, t0),
                    Incoming::Matched { .. }
                ));
            }
            pending.push_back(s.try_send_request(CommandId::SUBMIT_SM, i, t0).unwrap());
        }
        assert_eq!(s.in_window(), 3);
        assert_eq!(s.slots.len(), 3 + CONTROL_SLOTS as usize + 1);
    }
}

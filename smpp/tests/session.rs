//! The session state machine driven from outside: an ESME session and an SMSC session talking
//! to each other through header-level facts, and a property test over random event sequences.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gannet_smpp::session::{
    BindType, CONTROL_SLOTS, Incoming, MAX_SEQUENCE, Role, SendError, Session, SessionConfig,
    State, TimerEvent,
};
use gannet_smpp::{CommandId, CommandStatus};
use proptest::prelude::*;

const OK: CommandStatus = CommandStatus::ESME_ROK;

fn config(window: u32) -> SessionConfig {
    SessionConfig {
        window,
        response_timeout: Duration::from_secs(10),
        enquire_link_interval: Duration::from_secs(60),
        enquire_link_timeout: Duration::from_secs(5),
    }
}

/// Our gateway's client and the simulator, wired back to back.
struct Pair {
    esme: Session<u64>,
    smsc: Session<u64>,
    now: Instant,
}

impl Pair {
    fn new(window: u32) -> Pair {
        let now = Instant::now();
        Pair {
            esme: Session::new(Role::Esme, config(window), now).unwrap(),
            smsc: Session::new(Role::Smsc, config(window), now).unwrap(),
            now,
        }
    }

    /// ESME sends a request; the SMSC sees it and answers with `status`; the ESME matches it.
    fn esme_round_trip(
        &mut self,
        id: CommandId,
        token: u64,
        status: CommandStatus,
    ) -> Incoming<u64> {
        let seq = self.esme.try_send_request(id, token, self.now).unwrap();
        let seen = self.smsc.receive(id, OK, seq, self.now);
        let response = match seen {
            Incoming::Request { command, .. } => command.response().unwrap(),
            Incoming::Reject {
                response, status, ..
            } => {
                self.smsc.send_response(response, status).unwrap();
                return self.esme.receive(response, status, seq, self.now);
            }
            other => panic!("SMSC saw {other:?}"),
        };
        self.smsc.send_response(response, status).unwrap();
        self.esme.receive(response, status, seq, self.now)
    }

    fn bind(&mut self, bind: BindType) {
        let got = self.esme_round_trip(bind.request(), 0, OK);
        assert!(
            matches!(got, Incoming::Matched { status: OK, .. }),
            "{got:?}"
        );
        assert_eq!(self.esme.state(), State::Bound(bind));
        assert_eq!(self.smsc.state(), State::Bound(bind));
    }
}

#[test]
fn bind_each_type_on_both_sides() {
    for bind in [
        BindType::Transmitter,
        BindType::Receiver,
        BindType::Transceiver,
    ] {
        let mut p = Pair::new(4);
        p.bind(bind);
        assert_eq!(p.esme.can_send(CommandId::SUBMIT_SM), bind.esme_sends());
        assert_eq!(p.smsc.can_send(CommandId::DELIVER_SM), bind.smsc_sends());
        assert!(p.esme.can_send(CommandId::ENQUIRE_LINK));
        assert!(p.smsc.can_send(CommandId::ENQUIRE_LINK));
        assert!(!p.esme.can_send(bind.request()), "no second bind");
    }
}

#[test]
fn bind_refused_then_retried() {
    let mut p = Pair::new(4);
    let got = p.esme_round_trip(
        CommandId::BIND_TRANSCEIVER,
        0,
        CommandStatus::ESME_RINVPASWD,
    );
    assert!(matches!(
        got,
        Incoming::Matched {
            status: CommandStatus::ESME_RINVPASWD,
            ..
        }
    ));
    assert_eq!(p.esme.state(), State::Open);
    assert_eq!(p.smsc.state(), State::Open);
    p.bind(BindType::Transceiver);
}

#[test]
fn submit_and_deliver_on_a_transceiver() {
    let mut p = Pair::new(4);
    p.bind(BindType::Transceiver);
    let got = p.esme_round_trip(CommandId::SUBMIT_SM, 42, OK);
    assert!(matches!(
        got,
        Incoming::Matched {
            token: 42,
            request: CommandId::SUBMIT_SM,
            response: CommandId::SUBMIT_SM_RESP,
            ..
        }
    ));

    // The SMSC delivers a receipt; the ESME answers it.
    let seq = p
        .smsc
        .try_send_request(CommandId::DELIVER_SM, 7, p.now)
        .unwrap();
    assert_eq!(
        p.esme.receive(CommandId::DELIVER_SM, OK, seq, p.now),
        Incoming::Request {
            command: CommandId::DELIVER_SM,
            sequence_number: seq
        }
    );
    p.esme
        .send_response(CommandId::DELIVER_SM_RESP, OK)
        .unwrap();
    assert!(matches!(
        p.smsc.receive(CommandId::DELIVER_SM_RESP, OK, seq, p.now),
        Incoming::Matched { token: 7, .. }
    ));
}

#[test]
fn wrong_bind_gets_rinvbndsts_from_the_simulator() {
    let mut p = Pair::new(4);
    p.bind(BindType::Receiver);
    // The SMSC refuses a submit_sm on a receiver bind even if a broken client sends one.
    let got = p.smsc.receive(CommandId::SUBMIT_SM, OK, 77, p.now);
    assert_eq!(
        got,
        Incoming::Reject {
            request: CommandId::SUBMIT_SM,
            response: CommandId::SUBMIT_SM_RESP,
            status: CommandStatus::ESME_RINVBNDSTS,
            sequence_number: 77
        }
    );
    // And our client would not have sent it.
    assert!(matches!(
        p.esme.try_send_request(CommandId::SUBMIT_SM, 0, p.now),
        Err(SendError::NotAllowed {
            state: State::Bound(BindType::Receiver),
            ..
        })
    ));
    // deliver_sm on a transmitter bind: refused by the ESME.
    let mut q = Pair::new(4);
    q.bind(BindType::Transmitter);
    assert!(!q.smsc.can_send(CommandId::DELIVER_SM));
    assert!(matches!(
        q.esme.receive(CommandId::DELIVER_SM, OK, 5, q.now),
        Incoming::Reject {
            status: CommandStatus::ESME_RINVBNDSTS,
            ..
        }
    ));
}

#[test]
fn unbind_from_either_side() {
    // ESME starts.
    let mut p = Pair::new(4);
    p.bind(BindType::Transceiver);
    let got = p.esme_round_trip(CommandId::UNBIND, 0, OK);
    assert!(matches!(
        got,
        Incoming::Matched {
            request: CommandId::UNBIND,
            ..
        }
    ));
    assert_eq!(p.esme.state(), State::Closed);
    assert_eq!(p.smsc.state(), State::Closed);

    // SMSC starts.
    let mut p = Pair::new(4);
    p.bind(BindType::Transceiver);
    let seq = p
        .smsc
        .try_send_request(CommandId::UNBIND, 0, p.now)
        .unwrap();
    assert_eq!(p.smsc.state(), State::Unbinding);
    assert!(matches!(
        p.esme.receive(CommandId::UNBIND, OK, seq, p.now),
        Incoming::Request { .. }
    ));
    p.esme.send_response(CommandId::UNBIND_RESP, OK).unwrap();
    assert_eq!(p.esme.state(), State::Closed);
    p.smsc.receive(CommandId::UNBIND_RESP, OK, seq, p.now);
    assert_eq!(p.smsc.state(), State::Closed);
}

#[test]
fn crossed_unbinds() {
    let mut p = Pair::new(4);
    p.bind(BindType::Transceiver);
    let a = p
        .esme
        .try_send_request(CommandId::UNBIND, 0, p.now)
        .unwrap();
    let b = p
        .smsc
        .try_send_request(CommandId::UNBIND, 0, p.now)
        .unwrap();
    assert!(matches!(
        p.esme.receive(CommandId::UNBIND, OK, b, p.now),
        Incoming::Request { .. }
    ));
    assert!(matches!(
        p.smsc.receive(CommandId::UNBIND, OK, a, p.now),
        Incoming::Request { .. }
    ));
    p.esme.send_response(CommandId::UNBIND_RESP, OK).unwrap();
    p.smsc.send_response(CommandId::UNBIND_RESP, OK).unwrap();
    assert_eq!(p.esme.state(), State::Closed);
    assert_eq!(p.smsc.state(), State::Closed);
    assert_eq!(
        p.esme.take_outstanding().len(),
        1,
        "our unbind was never answered"
    );
}

#[test]
fn keep_alive_goes_out_with_a_full_window() {
    let mut p = Pair::new(2);
    p.bind(BindType::Transmitter);
    let t0 = p.now;
    p.esme
        .try_send_request(CommandId::SUBMIT_SM, 1, t0)
        .unwrap();
    p.esme
        .try_send_request(CommandId::SUBMIT_SM, 2, t0)
        .unwrap();
    assert_eq!(
        p.esme.try_send_request(CommandId::SUBMIT_SM, 3, t0),
        Err(SendError::WindowFull)
    );
    // The submits time out at t0+10 unless answered; answer them at t0+9.
    let t9 = t0 + Duration::from_secs(9);
    let drained = p.esme.take_outstanding();
    assert_eq!(drained.len(), 2);
    for o in &drained {
        assert_eq!(o.deadline, t0 + Duration::from_secs(10));
    }
    p.esme
        .try_send_request(CommandId::SUBMIT_SM, 1, t9)
        .unwrap();
    p.esme
        .try_send_request(CommandId::SUBMIT_SM, 2, t9)
        .unwrap();
    // Idle for 60 s since the bind: the keep-alive is due first.
    let due = t0 + Duration::from_secs(60);
    assert_eq!(p.esme.poll_timeout(), Some(t9 + Duration::from_secs(10)));
    let events: Vec<_> = p.esme.handle_timeout(due).collect();
    assert_eq!(events.len(), 3);
    assert!(matches!(
        events[0],
        TimerEvent::RequestExpired { token: 1, .. }
    ));
    assert!(matches!(
        events[1],
        TimerEvent::RequestExpired { token: 2, .. }
    ));
    assert_eq!(events[2], TimerEvent::EnquireLinkDue);
    // Fill the window again, then the keep-alive still goes out.
    p.esme
        .try_send_request(CommandId::SUBMIT_SM, 3, due)
        .unwrap();
    p.esme
        .try_send_request(CommandId::SUBMIT_SM, 4, due)
        .unwrap();
    assert_eq!(p.esme.window_available(), 0);
    let seq = p.esme.send_enquire_link(due).unwrap();
    assert!(matches!(
        p.esme.receive(CommandId::ENQUIRE_LINK_RESP, OK, seq, due + Duration::from_millis(3)),
        Incoming::Matched {
            request: CommandId::ENQUIRE_LINK,
            rtt,
            ..
        } if rtt == Duration::from_millis(3)
    ));
}

#[test]
fn link_dead_then_drain() {
    let mut p = Pair::new(8);
    p.bind(BindType::Transceiver);
    let t0 = p.now;
    for token in 1..=3 {
        p.esme
            .try_send_request(CommandId::SUBMIT_SM, token, t0)
            .unwrap();
    }
    // The keep-alive goes out at t0+60 would be too late: send one now, manually.
    let el = p.esme.send_enquire_link(t0).unwrap();
    let events: Vec<_> = p.esme.handle_timeout(t0 + Duration::from_secs(5)).collect();
    assert_eq!(
        events,
        vec![TimerEvent::LinkDead {
            sequence_number: el
        }]
    );
    assert_eq!(p.esme.state(), State::Closed);
    let drained = p.esme.take_outstanding();
    assert_eq!(
        drained.iter().map(|o| o.token).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(drained.iter().all(|o| o.command == CommandId::SUBMIT_SM));
}

#[test]
fn sequence_numbers_stay_in_range_across_the_wrap() {
    let mut p = Pair::new(2);
    p.bind(BindType::Transmitter);
    p.esme.set_next_sequence(MAX_SEQUENCE - 2);
    let mut seen = Vec::new();
    for token in 0..6 {
        let got = p.esme_round_trip(CommandId::SUBMIT_SM, token, OK);
        let Incoming::Matched {
            sequence_number, ..
        } = got
        else {
            panic!("{got:?}")
        };
        seen.push(sequence_number);
    }
    assert_eq!(
        seen,
        vec![MAX_SEQUENCE - 2, MAX_SEQUENCE - 1, MAX_SEQUENCE, 1, 2, 3]
    );
}

/// One step of a random conversation, from the ESME's side.
#[derive(Clone, Debug)]
enum Step {
    Submit,
    EnquireLink,
    /// Answer the n-th outstanding request (modulo the count) with its own response.
    Answer(usize),
    /// Answer it with generic_nack.
    Nack(usize),
    /// A response with an arbitrary sequence number and id.
    Stray(u32, bool),
    /// An incoming request from the SMSC.
    Deliver(u32),
    /// Time passes, then timers run.
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Submit),
        1 => Just(Step::EnquireLink),
        3 => any::<usize>().prop_map(Step::Answer),
        1 => any::<usize>().prop_map(Step::Nack),
        1 => (any::<u32>(), any::<bool>()).prop_map(|(s, b)| Step::Stray(s, b)),
        1 => any::<u32>().prop_map(Step::Deliver),
        1 => (0u64..15_000).prop_map(Step::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn window_is_never_exceeded_and_every_token_comes_back_once(
        window in 1u32..6,
        steps in proptest::collection::vec(step(), 1..200),
    ) {
        let mut p = Pair::new(window);
        p.bind(BindType::Transceiver);
        let mut now = p.now;
        // Model: sequence number -> (token, command) for what the ESME has outstanding.
        let mut model: HashMap<u32, (u64, CommandId)> = HashMap::new();
        let mut next_token = 1u64;
        let mut returned = Vec::new();

        for step in steps {
            if p.esme.state() == State::Closed {
                break;
            }
            match step {
                Step::Submit | Step::EnquireLink => {
                    let id = if matches!(step, Step::Submit) {
                        CommandId::SUBMIT_SM
                    } else {
                        CommandId::ENQUIRE_LINK
                    };
                    let before = p.esme.in_window();
                    match p.esme.try_send_request(id, next_token, now) {
                        Ok(seq) => {
                            prop_assert!((1..=MAX_SEQUENCE).contains(&seq));
                            prop_assert!(model.insert(seq, (next_token, id)).is_none());
                            next_token += 1;
                        }
                        Err(SendError::WindowFull) => {
                            if id == CommandId::SUBMIT_SM {
                                prop_assert_eq!(before, window);
                            }
                        }
                        Err(e) => prop_assert!(false, "unexpected {e:?}"),
                    }
                }
                Step::Answer(n) | Step::Nack(n) => {
                    if model.is_empty() {
                        continue;
                    }
                    let mut seqs: Vec<_> = model.keys().copied().collect();
                    seqs.sort_unstable();
                    let seq = seqs[n % seqs.len()];
                    let (token, id) = model[&seq];
                    let response = if matches!(step, Step::Nack(_)) {
                        CommandId::GENERIC_NACK
                    } else {
                        id.response().unwrap()
                    };
                    match p.esme.receive(response, OK, seq, now) {
                        Incoming::Matched { token: t, request, .. } => {
                            prop_assert_eq!((t, request), (token, id));
                            model.remove(&seq);
                            returned.push(t);
                        }
                        other => prop_assert!(false, "{other:?}"),
                    }
                }
                Step::Stray(seq, nack) => {
                    let response = if nack { CommandId::GENERIC_NACK } else { CommandId::SUBMIT_SM_RESP };
                    match p.esme.receive(response, OK, seq, now) {
                        Incoming::Matched { token, request, .. } => {
                            let (t, id) = model.remove(&seq).unwrap();
                            prop_assert_eq!((token, request), (t, id));
                            returned.push(token);
                        }
                        Incoming::Unexpected { mismatched, .. } => {
                            prop_assert_eq!(mismatched, model.get(&seq).map(|&(_, id)| id));
                        }
                        other => prop_assert!(false, "{other:?}"),
                    }
                }
                Step::Deliver(seq) => {
                    let got = p.esme.receive(CommandId::DELIVER_SM, OK, seq, now);
                    let is_request = matches!(got, Incoming::Request { .. });
                    prop_assert!(is_request, "{got:?}");
                    p.esme.send_response(CommandId::DELIVER_SM_RESP, OK).unwrap();
                }
                Step::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    if let Some(next) = p.esme.poll_timeout() {
                        // Nothing is due before the reported instant.
                        if next > now {
                            prop_assert_eq!(p.esme.handle_timeout(now).count(), 0);
                            continue;
                        }
                    }
                    let events: Vec<_> = p.esme.handle_timeout(now).collect();
                    for ev in events {
                        match ev {
                            TimerEvent::RequestExpired { sequence_number, token, request } => {
                                let (t, id) = model.remove(&sequence_number).unwrap();
                                prop_assert_eq!((token, request), (t, id));
                                returned.push(token);
                            }
                            TimerEvent::LinkDead { sequence_number } => {
                                let (t, id) = model.remove(&sequence_number).unwrap();
                                prop_assert_eq!(id, CommandId::ENQUIRE_LINK);
                                returned.push(t);
                            }
                            TimerEvent::EnquireLinkDue => {}
                        }
                    }
                    if let Some(next) = p.esme.poll_timeout() {
                        prop_assert!(next > now, "poll_timeout {next:?} is not after {now:?}");
                    }
                }
            }
            prop_assert!(p.esme.in_window() <= window);
            prop_assert!(p.esme.outstanding() <= (window + CONTROL_SLOTS) as usize);
            prop_assert_eq!(p.esme.outstanding(), model.len());
            prop_assert_eq!(p.esme.window_available() + p.esme.in_window(), window);
        }

        for o in p.esme.take_outstanding() {
            let (t, id) = model.remove(&o.sequence_number).unwrap();
            prop_assert_eq!((o.token, o.command), (t, id));
            returned.push(o.token);
        }
        prop_assert!(model.is_empty());
        returned.sort_unstable();
        let expected: Vec<u64> = (1..next_token).collect();
        prop_assert_eq!(returned, expected);
    }
}

mod with_pdus {
    use super::*;
    use bytes::Bytes;
    use gannet_smpp::{Body, DecodeMode, Pdu};

    #[test]
    fn requests_get_their_sequence_number_written() {
        let mut p = Pair::new(4);
        p.bind(BindType::Transceiver);
        let mut pdu = Pdu::new(0, Body::EnquireLink);
        let seq = p.esme.send_request_pdu(&mut pdu, 5, p.now).unwrap();
        assert_eq!(pdu.sequence_number, seq);
        let answer = p.smsc.receive_pdu(&pdu, p.now);
        assert_eq!(
            answer,
            Incoming::Request {
                command: CommandId::ENQUIRE_LINK,
                sequence_number: seq
            }
        );
        let resp = Pdu::new(seq, Body::EnquireLinkResp);
        p.smsc.send_response_pdu(&resp).unwrap();
        assert!(matches!(
            p.esme.receive_pdu(&resp, p.now),
            Incoming::Matched { token: 5, .. }
        ));
    }

    #[test]
    fn reject_reply_is_a_bodyless_response() {
        let now = Instant::now();
        let mut esme: Session<u64> = Session::new(Role::Esme, config(4), now).unwrap();
        let got = esme.receive(CommandId::DELIVER_SM, OK, 31, now);
        let reply = got.reply().unwrap();
        assert_eq!(
            reply,
            Pdu {
                command_status: CommandStatus::ESME_RINVBNDSTS,
                sequence_number: 31,
                body: Body::DeliverSmResp(None),
            }
        );
        // 16 octets: header only.
        assert_eq!(reply.to_bytes().len(), 16);
        let got = esme.receive(CommandId(0x0000_0777), OK, 32, now);
        assert_eq!(
            got.reply(),
            Some(Pdu::generic_nack(32, CommandStatus::ESME_RINVCMDID))
        );
        assert_eq!(
            Incoming::<u64>::Request {
                command: CommandId::ENQUIRE_LINK,
                sequence_number: 1
            }
            .reply(),
            None
        );
    }

    fn decode_err(bytes: &[u8], mode: DecodeMode) -> gannet_smpp::DecodeError {
        Pdu::decode(&Bytes::copy_from_slice(bytes), mode).unwrap_err()
    }

    #[test]
    fn invalid_requests_and_responses() {
        let mut p = Pair::new(4);
        p.bind(BindType::Transceiver);
        // A deliver_sm that stops after service_type: answered with deliver_sm_resp and the
        // decode error's status, and no state changes.
        let bad_deliver = [
            0, 0, 0, 20, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 44, b'C', b'M', b'T', 0,
        ];
        let err = decode_err(&bad_deliver, DecodeMode::Lenient);
        let got = p.esme.receive_invalid(&err, p.now);
        assert_eq!(
            got,
            Incoming::Reject {
                request: CommandId::DELIVER_SM,
                response: CommandId::DELIVER_SM_RESP,
                status: err.status(),
                sequence_number: 44
            }
        );
        // The same PDU on a session that may not receive it: RINVBNDSTS wins.
        let mut q = Pair::new(4);
        q.bind(BindType::Transmitter);
        assert!(matches!(
            q.esme.receive_invalid(&err, q.now),
            Incoming::Reject {
                status: CommandStatus::ESME_RINVBNDSTS,
                ..
            }
        ));
        // An unknown command in strict mode: generic_nack RINVCMDID.
        let unknown = [0, 0, 0, 16, 0, 0, 0x07, 0x77, 0, 0, 0, 0, 0, 0, 0, 45];
        let err = decode_err(&unknown, DecodeMode::Strict);
        assert_eq!(
            p.esme.receive_invalid(&err, p.now).reply(),
            Some(Pdu::generic_nack(45, CommandStatus::ESME_RINVCMDID))
        );
        // A broken submit_sm_resp still resolves the submit it answers.
        let seq = p
            .esme
            .try_send_request(CommandId::SUBMIT_SM, 9, p.now)
            .unwrap();
        let mut resp = vec![0, 0, 0, 19, 0x80, 0, 0, 4, 0, 0, 0, 0];
        resp.extend_from_slice(&seq.to_be_bytes());
        resp.extend_from_slice(b"abc"); // message_id with no NUL
        let err = decode_err(&resp, DecodeMode::Strict);
        assert!(matches!(
            p.esme.receive_invalid(&err, p.now),
            Incoming::Matched {
                token: 9,
                request: CommandId::SUBMIT_SM,
                ..
            }
        ));
        assert_eq!(p.esme.outstanding(), 0);
    }

    #[test]
    fn an_unreadable_bind_does_not_start_binding() {
        let now = Instant::now();
        let mut smsc: Session<u64> = Session::new(Role::Smsc, config(4), now).unwrap();
        // bind_transceiver whose system_id has no NUL.
        let bind = [
            0, 0, 0, 19, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, b'a', b'b', b'c',
        ];
        let err = decode_err(&bind, DecodeMode::Strict);
        let got = smsc.receive_invalid(&err, now);
        assert!(matches!(
            got,
            Incoming::Reject {
                response: CommandId::BIND_TRANSCEIVER_RESP,
                ..
            }
        ));
        assert_eq!(smsc.state(), State::Open);
        smsc.send_response_pdu(&got.reply().unwrap()).unwrap();
        assert_eq!(smsc.state(), State::Open);
    }
}

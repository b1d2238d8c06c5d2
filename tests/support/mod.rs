//! Shared test helpers: a simulator on 127.0.0.1:0 and a small ESME built on the smpp codec.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod load;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use gannet::sim::{Sim, SimConfig, SimHandle};
use gannet_smpp::codec::{Frame, PduCodec};
use gannet_smpp::{Address, Bind, Body, CommandStatus, DeliverSm, Pdu, SubmitSm};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Starts a simulator from YAML (named `test.yaml` in errors).
pub async fn start(yaml: &str) -> SimHandle {
    let config = SimConfig::parse(Path::new("test.yaml"), yaml).expect("test config");
    Sim::start(config).await.expect("simulator starts")
}

/// A persona on 127.0.0.1:0 with one account `esme`/`pw` and extra YAML keys (indented by 4).
pub fn persona(extra: &str) -> String {
    format!(
        "seed: 7\npersonas:\n  - name: p\n    listen: 127.0.0.1:0\n    accounts: [{{ system_id: esme, password: pw }}]\n{extra}"
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tx,
    Rx,
    Trx,
}

/// An ESME: one connection, framed by the smpp crate's codec.
pub struct Esme {
    framed: Framed<TcpStream, PduCodec>,
    seq: u32,
    /// PDUs read while waiting for something else.
    pub stash: VecDeque<Pdu>,
}

impl Esme {
    pub async fn connect(addr: SocketAddr) -> Esme {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Esme {
            framed: Framed::new(stream, PduCodec::default()),
            seq: 0,
            stash: VecDeque::new(),
        }
    }

    /// Connects and binds; returns the ESME and the bind_resp status.
    pub async fn bind_as(
        addr: SocketAddr,
        kind: Kind,
        system_id: &str,
        password: &str,
    ) -> (Esme, CommandStatus) {
        let mut e = Esme::connect(addr).await;
        let status = e.bind(kind, system_id, password).await;
        (e, status)
    }

    /// Connects and binds as esme/pw; panics unless it works.
    pub async fn bound(addr: SocketAddr, kind: Kind) -> Esme {
        let (e, status) = Esme::bind_as(addr, kind, "esme", "pw").await;
        assert_eq!(status, CommandStatus::ESME_ROK);
        e
    }

    pub async fn bind(&mut self, kind: Kind, system_id: &str, password: &str) -> CommandStatus {
        let b = Bind::new(
            Bytes::copy_from_slice(system_id.as_bytes()),
            Bytes::copy_from_slice(password.as_bytes()),
        );
        let body = match kind {
            Kind::Tx => Body::BindTransmitter(b),
            Kind::Rx => Body::BindReceiver(b),
            Kind::Trx => Body::BindTransceiver(b),
        };
        self.call(body).await.command_status
    }

    /// The socket, for tests that look below SMPP.
    pub fn into_stream(self) -> TcpStream {
        self.framed.into_inner()
    }

    pub async fn send(&mut self, body: Body) -> u32 {
        self.seq += 1;
        self.framed.send(Pdu::new(self.seq, body)).await.unwrap();
        self.seq
    }

    pub async fn send_pdu(&mut self, pdu: Pdu) {
        self.framed.send(pdu).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.framed.get_mut().write_all(bytes).await.unwrap();
    }

    /// The next PDU from the wire (not the stash); `None` at end of stream.
    pub async fn read(&mut self) -> Option<Pdu> {
        match self.framed.next().await? {
            Ok(Frame::Pdu(p)) => Some(p),
            Ok(Frame::Invalid { header, error }) => panic!("invalid frame {header:?}: {error}"),
            Err(e) => panic!("stream error: {e}"),
        }
    }

    /// The next PDU, stash first.
    pub async fn next(&mut self) -> Option<Pdu> {
        match self.stash.pop_front() {
            Some(p) => Some(p),
            None => self.read().await,
        }
    }

    /// Sends a request and waits for its response; anything else read meanwhile is stashed.
    pub async fn call(&mut self, body: Body) -> Pdu {
        let seq = self.send(body).await;
        self.response_to(seq).await
    }

    pub async fn response_to(&mut self, seq: u32) -> Pdu {
        if let Some(i) = self
            .stash
            .iter()
            .position(|p| p.sequence_number == seq && p.command_id().is_response())
        {
            return self.stash.remove(i).unwrap();
        }
        loop {
            let p = self
                .read()
                .await
                .expect("connection closed before the response");
            if p.sequence_number == seq && p.command_id().is_response() {
                return p;
            }
            self.stash.push_back(p);
        }
    }

    /// The next deliver_sm (stash first), acknowledged with ESME_ROK.
    pub async fn deliver(&mut self) -> DeliverSm {
        loop {
            let p = self
                .next()
                .await
                .expect("connection closed before a deliver_sm");
            if let Body::DeliverSm(d) = p.body {
                self.send_pdu(Pdu::new(p.sequence_number, Body::deliver_sm_resp()))
                    .await;
                return d;
            }
        }
    }

    /// Submits and returns (status, message_id).
    pub async fn submit(&mut self, body: Body) -> (CommandStatus, String) {
        let resp = self.call(body).await;
        let id = match &resp.body {
            Body::SubmitSmResp(Some(r)) => String::from_utf8_lossy(&r.message_id).into_owned(),
            _ => String::new(),
        };
        (resp.command_status, id)
    }
}

/// A submit_sm from an alphanumeric sender to an international number.
pub fn sms(to: &str, text: &str, registered_delivery: u8) -> SubmitSm {
    SubmitSm {
        source_addr: Address::alphanumeric(Bytes::from_static(b"Gannet")),
        destination_addr: Address::international(Bytes::copy_from_slice(to.as_bytes())),
        registered_delivery,
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..SubmitSm::default()
    }
}

pub fn submit(to: &str, text: &str, registered_delivery: u8) -> Body {
    Body::SubmitSm(sms(to, text, registered_delivery))
}

/// Part `seq` of `total` of a concatenated message (UDH IE 0x00, 8-bit reference).
pub fn submit_part(to: &str, text: &str, reference: u8, total: u8, seq: u8, rd: u8) -> Body {
    let mut sm = sms(to, "", rd);
    sm.esm_class = 0x40;
    let mut ud = vec![5, 0x00, 3, reference, total, seq];
    ud.extend_from_slice(text.as_bytes());
    sm.short_message = Bytes::from(ud);
    Body::SubmitSm(sm)
}

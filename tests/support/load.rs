//! A bounded SMPP load client for throughput checks: one transceiver, a fixed window, submits
//! pre-encoded and written in batches, responses read by header only, receipts acknowledged.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use gannet_smpp::{Body, CommandId, Pdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Esme, Kind, submit};

pub struct LoadResult {
    pub submits: u64,
    pub resps: u64,
    pub receipts: u64,
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn per_sec(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `total` submit_sm over one bind with at most `window` unanswered, asking for a
/// receipt when `registered_delivery` is 1, and waits for every response (and every receipt
/// when `receipts` is set).
pub async fn run(
    addr: SocketAddr,
    total: u64,
    window: u64,
    registered_delivery: u8,
    receipts: bool,
) -> LoadResult {
    let esme = Esme::bound(addr, Kind::Trx).await;
    let mut stream = esme.into_stream();
    let template = Pdu::new(
        0,
        submit("447700900123", "Your code is 123456", registered_delivery),
    )
    .to_bytes();
    let mut rbuf = BytesMut::with_capacity(1 << 20);
    let mut wbuf = BytesMut::with_capacity(1 << 20);
    let (mut sent, mut resps, mut dlrs, mut seq) = (0u64, 0u64, 0u64, 0u32);
    let start = Instant::now();
    loop {
        while sent < total && sent - resps < window {
            seq = seq % 0x7FFF_FFFF + 1;
            let at = wbuf.len();
            wbuf.put_slice(&template);
            wbuf[at + 12..at + 16].copy_from_slice(&seq.to_be_bytes());
            sent += 1;
        }
        if !wbuf.is_empty() {
            stream.write_all(&wbuf).await.unwrap();
            wbuf.clear();
        }
        if resps == total && (!receipts || dlrs == total) {
            break;
        }
        if stream.read_buf(&mut rbuf).await.unwrap() == 0 {
            panic!("simulator closed the connection");
        }
        while rbuf.len() >= 16 {
            let len = u32::from_be_bytes([rbuf[0], rbuf[1], rbuf[2], rbuf[3]]) as usize;
            if rbuf.len() < len {
                break;
            }
            let id = CommandId(u32::from_be_bytes([rbuf[4], rbuf[5], rbuf[6], rbuf[7]]));
            let s = u32::from_be_bytes([rbuf[12], rbuf[13], rbuf[14], rbuf[15]]);
            match id {
                CommandId::SUBMIT_SM_RESP => resps += 1,
                CommandId::DELIVER_SM => {
                    dlrs += 1;
                    // deliver_sm_resp: header and an empty message_id (SMPP 3.4 §4.6.2).
                    wbuf.put_u32(17);
                    wbuf.put_u32(CommandId::DELIVER_SM_RESP.0);
                    wbuf.put_u32(0);
                    wbuf.put_u32(s);
                    wbuf.put_u8(0);
                }
                _ => {}
            }
            rbuf.advance(len);
        }
    }
    let _ = Body::Unbind;
    LoadResult {
        submits: sent,
        resps,
        receipts: dlrs,
        elapsed: start.elapsed(),
    }
}

/// CPU seconds (user + system) used so far by this process's threads whose name starts with
/// `prefix` (Linux; 0 elsewhere): lets a throughput check report CPU per message, which
/// means something even on a busy machine.
pub fn thread_cpu(prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
        let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (utime + stime) / ticks;
    }
    total
}

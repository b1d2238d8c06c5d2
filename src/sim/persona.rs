//! One carrier persona: its compiled configuration and the state its connections share.
//!
//! Shared state is split by how often it is touched. Per PDU: atomics only (the message
//! counter, the token bucket). Per read batch: one short lock each on the received log, the
//! receipt wheel and the bind registry. Rarely: faults, resets, binds.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gannet_smpp::{Address, CommandStatus};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::config::{BindType, PersonaConfig, ReceiptsConfig};
use super::dist::Dist;
use super::fault::{ActiveFaults, Fault, FaultState};
use super::ids::{IdFormat, IdStyle, uuid_v4};
use super::receipt::{MoJob, Outbound, OutcomeTable, WallClock};
use super::rng::{Rng, hash_bytes, mix64};
use super::stats::{Counters, PersonaStats, Received, ReceivedLog};

/// Salts that keep the persona's independent streams apart.
const SALT_UUID: u64 = 0x7575_6964;
const SALT_MO: u64 = 0x6D6F;

/// What a connection is told to do by someone else.
#[derive(Debug)]
pub enum ConnCmd {
    /// Send these to the ESME (receipts, MO).
    Deliver(Vec<Outbound>),
    /// Unbind (SMPP 3.4 §4.2) and close.
    Unbind,
    /// Close with a TCP reset.
    Reset,
}

struct BindEntry {
    id: u64,
    bind_type: BindType,
    tx: mpsc::UnboundedSender<ConnCmd>,
}

#[derive(Default)]
struct AccountSlot {
    binds: Vec<BindEntry>,
    /// Round-robin position over the receiver binds.
    next: usize,
    /// Receipts and MO waiting for a receiver bind.
    queue: VecDeque<Outbound>,
}

/// A token bucket as a GCRA (the "virtual scheduling" form of ITU-T I.371): one atomic holding
/// the theoretical arrival time, so taking a token is one compare-and-swap and no lock.
pub struct TokenBucket {
    tat_ns: AtomicU64,
    interval_ns: u64,
    tolerance_ns: u64,
}

impl TokenBucket {
    fn new(tps: f64, burst: u32) -> TokenBucket {
        let interval_ns = (1e9 / tps).max(1.0) as u64;
        TokenBucket {
            tat_ns: AtomicU64::new(0),
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst)),
        }
    }

    /// Takes one token at `now_ns`, or says no.
    pub fn take(&self, now_ns: u64) -> bool {
        let mut tat = self.tat_ns.load(Relaxed);
        loop {
            let next = tat.max(now_ns) + self.interval_ns;
            if next - now_ns > self.tolerance_ns {
                return false;
            }
            match self
                .tat_ns
                .compare_exchange_weak(tat, next, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => tat = seen,
            }
        }
    }

    fn reset(&self) {
        self.tat_ns.store(0, Relaxed);
    }
}

/// Receipts waiting for their time, bucketed by millisecond: no timer per message.
#[derive(Default)]
pub struct Wheel {
    buckets: BTreeMap<u64, Vec<(u16, Outbound)>>,
    len: usize,
}

/// A persona: configuration compiled for the hot path, plus shared state.
pub struct Persona {
    pub name: String,
    pub addr: SocketAddr,
    pub config: PersonaConfig,
    pub accounts: Vec<String>,
    passwords: Vec<Bytes>,
    pub smsc_id: Bytes,
    bind_types: Vec<BindType>,
    pub max_binds: Option<u32>,
    pub window: Option<u32>,
    pub resp_latency: Dist,
    pub resp_format: IdFormat,
    pub receipt_format: IdFormat,
    first_id: u64,
    uuid_ids: bool,
    pub receipts: ReceiptsConfig,
    pub outcomes: OutcomeTable,
    pub seed: u64,
    pub epoch: Instant,
    pub clock: WallClock,
    pub counters: Counters,
    pub faults: FaultState,
    next_number: AtomicU64,
    mo_number: AtomicU64,
    pub tps: Option<TokenBucket>,
    registry: Mutex<Vec<AccountSlot>>,
    wheel: Mutex<Wheel>,
    wheel_notify: Notify,
    pub received: Mutex<ReceivedLog>,
    bind_ids: AtomicU64,
    pub shutdown: CancellationToken,
    /// Set for a TLS persona: every connection starts with a handshake.
    pub tls: Option<TlsAcceptor>,
}

/// A persona as `GET /personas` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonaInfo {
    pub name: String,
    pub addr: SocketAddr,
    pub system_ids: Vec<String>,
    pub binds_active: u64,
    pub faults: ActiveFaults,
    /// SMPP over TLS.
    #[serde(default)]
    pub tls: bool,
}

/// An MO message to inject (`POST /personas/{name}/mo`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mo {
    /// The handset (`+5215512345678` or digits).
    pub from: String,
    /// Where it writes to: a short code, a long number or the alphanumeric sender it replies to.
    pub to: String,
    pub text: String,
    /// Account whose receiver binds get it (default: the first account).
    #[serde(default)]
    pub system_id: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; carry on with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Persona {
    pub fn new(
        config: PersonaConfig,
        addr: SocketAddr,
        global_seed: u64,
        shutdown: CancellationToken,
        tls: Option<TlsAcceptor>,
    ) -> Persona {
        let name = config.name.value.clone();
        let seed = mix64(global_seed ^ hash_bytes(0, &[name.as_bytes()]));
        let accounts = config
            .accounts
            .value
            .iter()
            .map(|a| a.system_id.value.clone())
            .collect::<Vec<_>>();
        let passwords = config
            .accounts
            .value
            .iter()
            .map(|a| Bytes::from(a.password.clone().into_bytes()))
            .collect();
        let resp_format = config.message_ids.format;
        let receipt_format = config.message_ids.receipt_format.unwrap_or(resp_format);
        let epoch_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Persona {
            addr,
            smsc_id: Bytes::from(config.smsc_id().as_bytes().to_vec()),
            bind_types: config.bind_types.value.clone(),
            max_binds: config.max_binds.as_ref().map(|m| m.value),
            window: config.window.as_ref().map(|w| w.value),
            resp_latency: config.resp_latency.value,
            resp_format,
            receipt_format,
            first_id: config.message_ids.first,
            uuid_ids: resp_format.style == IdStyle::Uuid || receipt_format.style == IdStyle::Uuid,
            receipts: config.receipts.value.clone(),
            outcomes: OutcomeTable::new(&config.outcomes),
            seed,
            epoch: Instant::now(),
            clock: WallClock { epoch_unix },
            counters: Counters::default(),
            faults: FaultState::new(&config.faults.value),
            next_number: AtomicU64::new(0),
            mo_number: AtomicU64::new(0),
            tps: config.tps.as_ref().map(|t| {
                let burst = config
                    .tps_burst
                    .as_ref()
                    .map_or((t.value.ceil() as u32).max(1), |b| b.value);
                TokenBucket::new(t.value, burst)
            }),
            registry: Mutex::new(
                (0..accounts.len())
                    .map(|_| AccountSlot::default())
                    .collect(),
            ),
            wheel: Mutex::new(Wheel::default()),
            wheel_notify: Notify::new(),
            received: Mutex::new(ReceivedLog::new(
                config.received_capacity.value,
                config.duplicate_window.value,
            )),
            bind_ids: AtomicU64::new(1),
            shutdown,
            tls,
            accounts,
            passwords,
            name,
            config,
        }
    }

    /// Milliseconds since the persona started (tokio time, so paused clocks work).
    pub fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    pub fn ms_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    pub fn ns_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    pub fn instant_at_ms(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// Checks credentials and bind type (SMPP 3.4 §4.1: ESME_RINVSYSID, ESME_RINVPASWD,
    /// ESME_RBINDFAIL); returns the account index.
    pub fn authenticate(
        &self,
        system_id: &[u8],
        password: &[u8],
        bind_type: BindType,
    ) -> Result<u16, CommandStatus> {
        let idx = self
            .accounts
            .iter()
            .position(|a| a.as_bytes() == system_id)
            .ok_or(CommandStatus::ESME_RINVSYSID)?;
        if self.passwords[idx].as_ref() != password {
            return Err(CommandStatus::ESME_RINVPASWD);
        }
        if !self.bind_types.contains(&bind_type) {
            return Err(CommandStatus::ESME_RBINDFAIL);
        }
        Ok(idx as u16)
    }

    /// Registers a bind, or refuses it when the account has its maximum (ESME_RALYBND). A
    /// receiver gets whatever was queued for the account.
    pub fn register(
        &self,
        account: u16,
        bind_type: BindType,
        tx: mpsc::UnboundedSender<ConnCmd>,
    ) -> Result<u64, CommandStatus> {
        let mut reg = lock(&self.registry);
        let slot = &mut reg[usize::from(account)];
        if let Some(max) = self.max_binds
            && slot.binds.len() >= max as usize
        {
            return Err(CommandStatus::ESME_RALYBND);
        }
        let id = self.bind_ids.fetch_add(1, Relaxed);
        if bind_type.can_receive() && !slot.queue.is_empty() {
            let queued: Vec<Outbound> = slot.queue.drain(..).collect();
            // A send only fails when the receiver is gone, and it is not: we hold it.
            let _ = tx.send(ConnCmd::Deliver(queued));
        }
        slot.binds.push(BindEntry { id, bind_type, tx });
        Ok(id)
    }

    /// Removes a bind; what it had not delivered goes to the account's other receivers (or the
    /// queue): a carrier redelivers receipts that were not acknowledged.
    pub fn unregister(&self, account: u16, id: u64, undelivered: Vec<Outbound>) {
        {
            let mut reg = lock(&self.registry);
            reg[usize::from(account)].binds.retain(|b| b.id != id);
        }
        if !undelivered.is_empty() {
            self.route(account, undelivered);
        }
    }

    /// Sends receipts or MO to one receiver bind of the account (round robin), or queues them.
    pub fn route(&self, account: u16, mut items: Vec<Outbound>) {
        let mut reg = lock(&self.registry);
        let slot = &mut reg[usize::from(account)];
        loop {
            let receivers: Vec<usize> = slot
                .binds
                .iter()
                .enumerate()
                .filter(|(_, b)| b.bind_type.can_receive())
                .map(|(i, _)| i)
                .collect();
            if receivers.is_empty() {
                break;
            }
            let pick = receivers[slot.next % receivers.len()];
            slot.next = slot.next.wrapping_add(1);
            match slot.binds[pick].tx.send(ConnCmd::Deliver(items)) {
                Ok(()) => return,
                Err(mpsc::error::SendError(cmd)) => {
                    // That connection is gone; it unregisters itself, but do not wait for it.
                    slot.binds.remove(pick);
                    let ConnCmd::Deliver(back) = cmd else { return };
                    items = back;
                }
            }
        }
        let capacity = self.receipts.queue_capacity;
        let room = capacity.saturating_sub(slot.queue.len());
        let dropped = items.len().saturating_sub(room);
        slot.queue.extend(items.drain(..items.len() - dropped));
        if dropped > 0 {
            self.counters
                .receipts_dropped
                .fetch_add(dropped as u64, Relaxed);
        }
    }

    /// Puts receipts on the wheel: (due ms, account, item).
    pub fn schedule(&self, batch: &mut Vec<(u64, u16, Outbound)>) {
        if batch.is_empty() {
            return;
        }
        let mut wheel = lock(&self.wheel);
        let first_before = wheel.buckets.keys().next().copied();
        let room = self.receipts.max_scheduled.saturating_sub(wheel.len);
        if batch.len() > room {
            let dropped = batch.len() - room;
            batch.truncate(room);
            self.counters
                .receipts_dropped
                .fetch_add(dropped as u64, Relaxed);
        }
        let mut earliest = u64::MAX;
        wheel.len += batch.len();
        for (due, account, item) in batch.drain(..) {
            earliest = earliest.min(due);
            wheel.buckets.entry(due).or_default().push((account, item));
        }
        drop(wheel);
        if first_before.is_none_or(|f| earliest < f) {
            self.wheel_notify.notify_one();
        }
    }

    /// The wheel's task: sleeps until the earliest bucket is due, then routes what is due.
    pub async fn run_wheel(self: Arc<Self>) {
        loop {
            let next = lock(&self.wheel).buckets.keys().next().copied();
            match next {
                Some(ms) => {
                    tokio::select! {
                        () = self.shutdown.cancelled() => return,
                        () = tokio::time::sleep_until(self.instant_at_ms(ms)) => {}
                        () = self.wheel_notify.notified() => continue,
                    }
                }
                None => {
                    tokio::select! {
                        () = self.shutdown.cancelled() => return,
                        () = self.wheel_notify.notified() => continue,
                    }
                }
            }
            let now = self.now_ms();
            let due = {
                let mut wheel = lock(&self.wheel);
                let later = wheel.buckets.split_off(&(now + 1));
                let due = std::mem::replace(&mut wheel.buckets, later);
                let n: usize = due.values().map(Vec::len).sum();
                wheel.len -= n;
                due
            };
            let mut by_account: Vec<Vec<Outbound>> = vec![Vec::new(); self.accounts.len()];
            for (account, item) in due.into_values().flatten() {
                if let Some(v) = by_account.get_mut(usize::from(account)) {
                    v.push(item);
                }
            }
            for (account, items) in by_account.into_iter().enumerate() {
                if !items.is_empty() {
                    self.route(account as u16, items);
                }
            }
        }
    }

    /// The periodic faults' task: unbinds or resets every bind at the configured intervals.
    pub async fn run_periodic_faults(self: Arc<Self>) {
        let mut rx = self.faults.periodic.subscribe();
        loop {
            let p = *rx.borrow_and_update();
            let now = Instant::now();
            let unbind = p.unbind_every.map(|d| now + d);
            let reset = p.reset_every.map(|d| now + d);
            let mut next_unbind = unbind;
            let mut next_reset = reset;
            loop {
                let next = match (next_unbind, next_reset) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let fired = tokio::select! {
                    () = self.shutdown.cancelled() => return,
                    changed = rx.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        None
                    }
                    () = sleep_until_opt(next) => next,
                };
                let Some(at) = fired else { break };
                if next_unbind == Some(at) {
                    self.command_all(|| ConnCmd::Unbind);
                    next_unbind = p.unbind_every.map(|d| at + d);
                }
                if next_reset == Some(at) {
                    self.command_all(|| ConnCmd::Reset);
                    next_reset = p.reset_every.map(|d| at + d);
                }
            }
        }
    }

    /// The MO task: one message from the config's handsets at the configured interval.
    pub async fn run_mo(self: Arc<Self>) {
        let Some(mo) = self.config.mo.as_ref().map(|m| m.value.clone()) else {
            return;
        };
        let mut tick = tokio::time::interval_at(Instant::now() + mo.every, mo.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let k = self.mo_number.fetch_add(1, Relaxed);
            let mut rng = Rng::stream(self.seed ^ SALT_MO, k);
            let from = &mo.from[rng.below(mo.from.len() as u64) as usize];
            let text = &mo.texts[rng.below(mo.texts.len() as u64) as usize];
            let _ = self.inject_mo(&Mo {
                from: from.clone(),
                to: mo.to.clone(),
                text: text.clone(),
                system_id: mo.system_id.clone(),
            });
        }
    }

    pub fn command_all(&self, cmd: impl Fn() -> ConnCmd) {
        let reg = lock(&self.registry);
        for slot in reg.iter() {
            for b in &slot.binds {
                let _ = b.tx.send(cmd());
            }
        }
    }

    /// The number of the next accepted message, and its id value.
    pub fn next_message(&self) -> (u64, u128) {
        let n = self.next_number.fetch_add(1, Relaxed);
        let value = if self.uuid_ids {
            let mut r = Rng::stream(self.seed ^ SALT_UUID, n);
            uuid_v4(u128::from(r.next_u64()) << 64 | u128::from(r.next_u64()))
        } else {
            u128::from(self.first_id.wrapping_add(n))
        };
        (n, value)
    }

    pub fn inject_mo(&self, mo: &Mo) -> Result<(), String> {
        let account = match &mo.system_id {
            None => 0,
            Some(id) => self
                .accounts
                .iter()
                .position(|a| a == id)
                .ok_or_else(|| format!("persona `{}` has no account `{id}`", self.name))?,
        };
        let check = |what: &str, a: &str| {
            if a.is_empty() || a.len() > 20 {
                Err(format!("{what} must be 1 to 20 characters"))
            } else {
                Ok(())
            }
        };
        check("from", &mo.from)?;
        check("to", &mo.to)?;
        let (data_coding, short_message) = super::text::encode(&mo.text);
        let job = MoJob {
            source: address(&mo.from),
            destination: address(&mo.to),
            data_coding,
            short_message,
        };
        self.route(account as u16, vec![Outbound::Mo(job)]);
        Ok(())
    }

    /// Applies a run-time fault.
    pub fn apply_fault(&self, fault: &Fault) -> Result<(), String> {
        let now = self.now_ms();
        match fault {
            Fault::Unbind => self.command_all(|| ConnCmd::Unbind),
            Fault::Reset => self.command_all(|| ConnCmd::Reset),
            Fault::Clear => self.faults.configure(&self.config.faults.value, now),
            other => self.faults.apply(other, now)?,
        }
        Ok(())
    }

    /// Counters to zero, logs and queues emptied, faults back to the config, numbering and
    /// random streams back to the start. Binds stay up.
    pub fn reset(&self) {
        self.counters.reset();
        lock(&self.received).clear();
        {
            let mut wheel = lock(&self.wheel);
            wheel.buckets.clear();
            wheel.len = 0;
        }
        for slot in lock(&self.registry).iter_mut() {
            slot.queue.clear();
        }
        self.next_number.store(0, Relaxed);
        self.mo_number.store(0, Relaxed);
        if let Some(t) = &self.tps {
            t.reset();
        }
        self.faults
            .configure(&self.config.faults.value, self.now_ms());
    }

    pub fn stats(&self) -> PersonaStats {
        let mut s = self.counters.snapshot();
        let reg = lock(&self.registry);
        s.binds_active = reg.iter().map(|a| a.binds.len() as u64).sum();
        s.receipts_queued = reg.iter().map(|a| a.queue.len() as u64).sum();
        drop(reg);
        s.receipts_scheduled = lock(&self.wheel).len as u64;
        s
    }

    pub fn received(&self, limit: usize) -> Vec<Received> {
        lock(&self.received).list(limit, &self.accounts, &self.resp_format)
    }

    pub fn info(&self) -> PersonaInfo {
        PersonaInfo {
            name: self.name.clone(),
            addr: self.addr,
            system_ids: self.accounts.clone(),
            binds_active: lock(&self.registry)
                .iter()
                .map(|a| a.binds.len() as u64)
                .sum(),
            faults: self.faults.active(self.now_ms()),
            tls: self.tls.is_some(),
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// An address from config or the API: `+` and digits are an international number (TON 1,
/// NPI 1), up to 8 digits a short code (TON 3 network specific, NPI 0), anything else
/// alphanumeric (TON 5, NPI 0). SMPP 3.4 §5.2.5-5.2.6.
pub fn address(s: &str) -> Address {
    let digits = s.strip_prefix('+').unwrap_or(s);
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let bytes = Bytes::from(digits.as_bytes().to_vec());
    if all_digits && (s.starts_with('+') || digits.len() > 8) {
        Address::new(1, 1, bytes)
    } else if all_digits {
        Address::new(3, 0, bytes)
    } else {
        Address::new(5, 0, Bytes::from(s.as_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_a_burst_then_the_rate() {
        let b = TokenBucket::new(10.0, 10);
        let allowed = (0..15).filter(|_| b.take(0)).count();
        assert_eq!(allowed, 10);
        assert!(!b.take(50_000_000), "half a token after 50ms");
        assert!(b.take(100_000_000), "one token after 100ms");
        assert!(!b.take(100_000_000));
        assert!((0..20).filter(|_| b.take(5_000_000_000)).count() == 10);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            address("+5215512345678"),
            Address::new(1, 1, Bytes::from_static(b"5215512345678"))
        );
        assert_eq!(
            address("12345"),
            Address::new(3, 0, Bytes::from_static(b"12345"))
        );
        assert_eq!(
            address("Gannet"),
            Address::new(5, 0, Bytes::from_static(b"Gannet"))
        );
    }
}

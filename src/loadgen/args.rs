//! `gannet loadgen smpp` options, and their validation into a [`Plan`].
//!
//! The tool is built to push a million PDUs a second, so the defaults keep it on this machine:
//! a target that does not resolve to loopback only is refused unless `--allow-remote` is given,
//! and every run is bounded by `--count`, `--duration` or both, never longer than
//! [`MAX_DURATION`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};

use super::receipts::IdMatch;
use crate::text::{TextOptions, analyze, prepare};

/// The longest run allowed, with or without `--duration`.
pub const MAX_DURATION: Duration = Duration::from_secs(600);

/// A 20-character one-time-password text: what A2P traffic mostly is.
pub const DEFAULT_TEXT: &str = "Your code is 482913.";

/// Bind types a load run can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// One bind_transmitter connection per bind: submits only, no receipts.
    Transmitter,
    /// One bind_transceiver connection per bind: submits out, receipts back on it.
    Transceiver,
    /// Two connections per bind: bind_transmitter for submits, bind_receiver for receipts.
    #[value(name = "receiver+transmitter")]
    #[serde(rename = "receiver+transmitter")]
    ReceiverTransmitter,
}

impl BindMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BindMode::Transmitter => "transmitter",
            BindMode::Transceiver => "transceiver",
            BindMode::ReceiverTransmitter => "receiver+transmitter",
        }
    }
}

/// Options of `gannet loadgen smpp`.
#[derive(Clone, Debug, clap::Args)]
pub struct SmppLoadArgs {
    /// SMSC to load, host:port. Must be a loopback address unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub addr: String,
    /// system_id to bind with.
    #[arg(long, default_value = "loadgen")]
    pub system_id: String,
    /// Password to bind with.
    #[arg(long, default_value = "loadgen")]
    pub password: String,
    /// Bind type.
    #[arg(long, value_enum, default_value_t = BindMode::Transceiver)]
    pub bind: BindMode,
    /// Number of binds (each one connection, two for receiver+transmitter).
    #[arg(long, default_value_t = 1)]
    pub binds: u32,
    /// Most unacknowledged submit_sm per bind; never exceeded.
    #[arg(long, default_value_t = 256)]
    pub window: u32,
    /// submit_sm per second over all binds. 0: as fast as the window allows (closed loop).
    /// With a rate the load is open loop and latency runs from each PDU's scheduled time.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Stop sending after this long (e.g. 10s, 2m; at most 10m).
    #[arg(long, value_parser = crate::config::duration::parse)]
    pub duration: Option<Duration>,
    /// Stop after this many submit_sm (rounded up to whole messages with --segments).
    #[arg(long)]
    pub count: Option<u64>,
    /// Ask for a delivery receipt per submit_sm and match receipts back by message id.
    #[arg(long)]
    pub receipts: bool,
    /// How receipt ids relate to submit_sm_resp message ids: as-sent (same text, zeros and
    /// case aside), hex-to-decimal or decimal-to-hex (the same number in the other base).
    #[arg(long, value_enum, default_value_t = IdMatch::AsSent)]
    pub receipt_ids: IdMatch,
    /// Destination prefixes, comma separated, each with an optional weight: `9198,4477:3`.
    #[arg(long, value_delimiter = ',', default_value = "9198")]
    pub dest_prefix: Vec<String>,
    /// Digits in each destination number, prefix included.
    #[arg(long, default_value_t = 12)]
    pub dest_len: u8,
    /// source_addr: alphanumeric sender id, or digits for an international number.
    #[arg(long, default_value = "GANNET")]
    pub source: String,
    /// Message text.
    #[arg(long, default_value = DEFAULT_TEXT)]
    pub text: String,
    /// Send each message as this many concatenated parts (8-bit reference UDH), repeating
    /// the text until it needs that many. Without it, a text longer than one segment is sent
    /// in as many parts as it needs.
    #[arg(long)]
    pub segments: Option<u8>,
    /// A submit_sm with no response after this long is counted as timed out and its window
    /// slot is freed.
    #[arg(long, default_value = "10s", value_parser = crate::config::duration::parse)]
    pub response_timeout: Duration,
    /// After the last response, wait this long at most for receipts still outstanding.
    #[arg(long, default_value = "10s", value_parser = crate::config::duration::parse)]
    pub receipt_wait: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a target that is not a loopback address. This tool can flood an SMSC: never
    /// point it at a real carrier.
    #[arg(long)]
    pub allow_remote: bool,
}

impl SmppLoadArgs {
    /// Parses options as given after `gannet loadgen smpp` (for tests and other callers that
    /// want the command line's defaults).
    pub fn try_parse_from<I, T>(args: I) -> Result<SmppLoadArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        parse_subcommand_args("smpp", args)
    }
}

/// Parses a subcommand's options (`A`) as given after its name, with the command line's
/// defaults: for tests and other callers of the load clients.
pub(crate) fn parse_subcommand_args<A, I, T>(name: &'static str, args: I) -> Result<A, clap::Error>
where
    A: clap::Args + clap::FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = A::augment_args(clap::Command::new(name).no_binary_name(true));
    let matches = command.try_get_matches_from(args)?;
    A::from_arg_matches(&matches)
}

/// One destination prefix and its share of the traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub digits: String,
    pub weight: u32,
}

/// A validated run: everything [`super::run_smpp`] needs, nothing left to check.
#[derive(Clone, Debug)]
pub struct Plan {
    pub target: SocketAddr,
    pub system_id: String,
    pub password: String,
    pub bind: BindMode,
    pub binds: u32,
    pub window: u32,
    pub rate: u64,
    /// `--duration`, or [`MAX_DURATION`].
    pub duration: Duration,
    pub count: Option<u64>,
    pub receipts: bool,
    pub receipt_ids: IdMatch,
    pub prefixes: Vec<Prefix>,
    pub dest_len: usize,
    pub source: String,
    /// The submit_sm parts of one message.
    pub parts: Vec<Part>,
    pub response_timeout: Duration,
    pub receipt_wait: Duration,
}

/// One submit_sm worth of text.
#[derive(Clone, Debug)]
pub struct Part {
    pub esm_class: u8,
    pub data_coding: u8,
    pub short_message: bytes::Bytes,
}

impl Plan {
    /// Checks the options and resolves the target. Nothing is sent.
    pub async fn new(args: &SmppLoadArgs) -> anyhow::Result<Plan> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(args.addr.as_str())
            .await
            .with_context(|| format!("--addr {}: cannot resolve", args.addr))?
            .collect();
        let target = check_target(&args.addr, &addrs, args.allow_remote)?;
        Plan::with_target(args, target)
    }

    /// [`Plan::new`] without the name resolution: `target` is where to connect.
    pub fn with_target(args: &SmppLoadArgs, target: SocketAddr) -> anyhow::Result<Plan> {
        let duration = run_bound(args.duration, args.count)?;
        if args.binds == 0 || args.binds > 1024 {
            bail!("--binds must be 1..=1024, not {}", args.binds);
        }
        if args.window == 0 || args.window > 65_536 {
            bail!("--window must be 1..=65536, not {}", args.window);
        }
        if args.receipts && args.bind == BindMode::Transmitter {
            bail!(
                "--receipts needs a bind that can receive: --bind transceiver or \
                 --bind receiver+transmitter"
            );
        }
        if args.system_id.len() > 15 {
            bail!("--system-id is at most 15 octets (SMPP 3.4 §4.1.1)");
        }
        if args.password.len() > 8 {
            bail!("--password is at most 8 octets (SMPP 3.4 §4.1.1)");
        }
        if args.source.is_empty() || args.source.len() > 20 {
            bail!("--source is 1 to 20 characters (SMPP 3.4 §4.4.1 source_addr)");
        }
        if !args.source.is_ascii() {
            bail!("--source must be ASCII");
        }
        let prefixes = parse_prefixes(&args.dest_prefix, args.dest_len)?;
        let parts = plan_parts(&args.text, args.segments)?;
        if args.response_timeout.is_zero() {
            bail!("--response-timeout must be more than zero");
        }
        Ok(Plan {
            target,
            system_id: args.system_id.clone(),
            password: args.password.clone(),
            bind: args.bind,
            binds: args.binds,
            window: args.window,
            rate: args.rate,
            duration,
            count: args.count,
            receipts: args.receipts,
            receipt_ids: args.receipt_ids,
            prefixes,
            dest_len: usize::from(args.dest_len),
            source: args.source.clone(),
            parts,
            response_timeout: args.response_timeout,
            receipt_wait: args.receipt_wait,
        })
    }
}

/// How long a run may last: `--duration`, or [`MAX_DURATION`] when only `--count` bounds it.
/// A run bounded by neither is refused, and so are a zero count and a zero or over-long
/// duration.
pub fn run_bound(duration: Option<Duration>, count: Option<u64>) -> anyhow::Result<Duration> {
    let d = match (duration, count) {
        (None, None) => bail!(
            "refusing an unbounded run: give --count N, --duration D, or both \
             (the run stops at whichever comes first)"
        ),
        (Some(d), _) if d > MAX_DURATION => bail!(
            "--duration {:?} is over the {}-minute limit of a load run",
            d,
            MAX_DURATION.as_secs() / 60
        ),
        (Some(d), _) if d.is_zero() => bail!("--duration must be more than zero"),
        (Some(d), _) => d,
        (None, _) => MAX_DURATION,
    };
    if count == Some(0) {
        bail!("--count must be at least 1");
    }
    Ok(d)
}

/// `name` or `name:weight` (weight 1..=1000, default 1), as in `--dest-prefix 4477:3` and
/// `--mix 91:40`. `flag` names the option in errors.
pub fn parse_weighted<'a>(item: &'a str, flag: &str) -> anyhow::Result<(&'a str, u32)> {
    let item = item.trim();
    match item.split_once(':') {
        Some((name, w)) => {
            let w: u32 = w
                .trim()
                .parse()
                .ok()
                .filter(|w| (1..=1000).contains(w))
                .with_context(|| {
                    format!("{flag} {item}: weight must be a whole number 1..=1000")
                })?;
            Ok((name.trim(), w))
        }
        None => Ok((item, 1)),
    }
}

/// Whether an address is this machine: 127/8, ::1, or ::ffff:127.x.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The address to connect to. Every address the name resolves to must be loopback unless
/// remote targets are allowed: a name that resolves to both is refused too.
pub fn check_target(
    given: &str,
    addrs: &[SocketAddr],
    allow_remote: bool,
) -> anyhow::Result<SocketAddr> {
    check_target_of("--addr", "an SMSC", given, addrs, allow_remote)
}

/// [`check_target`] for option `flag`, whose target is `what` ("an SMSC", "a gateway").
pub fn check_target_of(
    flag: &str,
    what: &str,
    given: &str,
    addrs: &[SocketAddr],
    allow_remote: bool,
) -> anyhow::Result<SocketAddr> {
    let Some(&first) = addrs.first() else {
        bail!("{flag} {given} resolves to no address");
    };
    if !allow_remote && let Some(remote) = addrs.iter().find(|a| !is_loopback(a.ip())) {
        bail!(
            "{flag} {given} resolves to {remote}, which is not a loopback address; this tool \
             can flood {what}, so it only loads this machine unless --allow-remote is given"
        );
    }
    Ok(first)
}

/// `9198`, `4477:3`: digits with an optional weight.
fn parse_prefixes(list: &[String], dest_len: u8) -> anyhow::Result<Vec<Prefix>> {
    if !(4..=20).contains(&dest_len) {
        bail!("--dest-len must be 4..=20 digits, not {dest_len}");
    }
    let mut out = Vec::new();
    for item in list {
        let item = item.trim();
        let (digits, weight) = parse_weighted(item, "--dest-prefix")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--dest-prefix {item}: a prefix is digits only, country code first");
        }
        if digits.len() >= usize::from(dest_len) {
            bail!("--dest-prefix {item}: longer than --dest-len {dest_len} leaves no digits");
        }
        out.push(Prefix {
            digits: digits.to_owned(),
            weight,
        });
    }
    if out.is_empty() {
        bail!("--dest-prefix: give at least one prefix");
    }
    Ok(out)
}

/// The submit_sm parts of one message: the text as [`crate::text::prepare`] splits it
/// (GSM 7-bit unpacked when it fits, else UCS-2; 8-bit reference UDH), lengthened first to
/// need exactly `segments` parts when asked.
fn plan_parts(text: &str, segments: Option<u8>) -> anyhow::Result<Vec<Part>> {
    if text.is_empty() {
        bail!("--text must not be empty");
    }
    let opts = TextOptions::default();
    let text = match segments {
        None => text.to_owned(),
        Some(0) => bail!("--segments must be at least 1"),
        Some(n) => {
            let n = usize::from(n);
            if analyze(text, &opts).segments > n {
                bail!("--text needs more than {n} segments on its own");
            }
            // Segments grow with length: find the shortest repetition that needs n.
            let cycle = |len: usize| -> String { text.chars().cycle().take(len).collect() };
            let (mut lo, mut hi) = (text.chars().count(), 2 * 160 * n);
            if analyze(&cycle(hi), &opts).segments < n {
                bail!("cannot make --text need {n} segments");
            }
            while lo < hi {
                let mid = (lo + hi) / 2;
                if analyze(&cycle(mid), &opts).segments >= n {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            let t = cycle(lo);
            if analyze(&t, &opts).segments != n {
                bail!("cannot make --text need exactly {n} segments");
            }
            t
        }
    };
    let prepared = prepare(&text, &opts, 0).map_err(|e| anyhow::anyhow!("--text: {e}"))?;
    if prepared.use_message_payload {
        bail!("--text: message_payload is not used by the load generator");
    }
    Ok(prepared
        .segments
        .into_iter()
        .map(|s| Part {
            esm_class: s.esm_class,
            data_coding: s.data_coding,
            short_message: s.short_message,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SmppLoadArgs {
        SmppLoadArgs::try_parse_from(extra).unwrap()
    }

    fn local() -> SocketAddr {
        "127.0.0.1:2775".parse().unwrap()
    }

    #[test]
    fn defaults_are_a_transceiver_window_256_otp() {
        let a = args(&["--count", "5"]);
        let p = Plan::with_target(&a, local()).unwrap();
        assert_eq!(p.window, 256);
        assert_eq!(p.bind, BindMode::Transceiver);
        assert_eq!(p.duration, MAX_DURATION);
        assert_eq!(p.parts.len(), 1);
        assert_eq!(&p.parts[0].short_message[..], DEFAULT_TEXT.as_bytes());
        assert_eq!(DEFAULT_TEXT.len(), 20);
    }

    #[test]
    fn segments_lengthen_the_text() {
        for n in [2u8, 3, 7] {
            let a = args(&["--count", "5", "--segments", &n.to_string()]);
            let p = Plan::with_target(&a, local()).unwrap();
            assert_eq!(p.parts.len(), usize::from(n));
            for (i, part) in p.parts.iter().enumerate() {
                assert_eq!(part.esm_class, 0x40);
                // UDH: length 5, IEI 0 (8-bit reference), 3 octets: ref, total, seq.
                assert_eq!(&part.short_message[..3], &[5, 0, 3]);
                assert_eq!(part.short_message[4], n);
                assert_eq!(usize::from(part.short_message[5]), i + 1);
            }
        }
    }

    #[test]
    fn prefixes_with_weights() {
        let a = args(&["--count", "5", "--dest-prefix", "9198,4477:3"]);
        let p = Plan::with_target(&a, local()).unwrap();
        assert_eq!(
            p.prefixes,
            vec![
                Prefix {
                    digits: "9198".into(),
                    weight: 1
                },
                Prefix {
                    digits: "4477".into(),
                    weight: 3
                }
            ]
        );
        for bad in ["91x8", "4477:0", "", "1234567890123"] {
            let a = args(&["--count", "5", "--dest-prefix", bad]);
            assert!(Plan::with_target(&a, local()).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_forms() {
        for ok in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ok.parse().unwrap()), "{ok}");
        }
        for remote in [
            "10.0.0.1",
            "192.0.2.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(remote.parse().unwrap()), "{remote}");
        }
    }
}

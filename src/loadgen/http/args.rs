//! `gannet loadgen http` options, and their validation into an [`HttpPlan`].
//!
//! Like `loadgen smpp`: bounded by `--count`, `--duration` or both (never longer than
//! [`MAX_DURATION`](crate::loadgen::args::MAX_DURATION)), and loopback targets only unless
//! `--allow-remote`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};

use super::numbers::{Destinations, MAX_POOL, MixEntry, parse_mix};
use crate::loadgen::args::{check_target_of, parse_weighted, run_bound};
use crate::routes::MessageClass;

/// The destination mix of the issue: India, Mexico, North America, the UK, Honduras.
pub const DEFAULT_MIX: &str = "91:40,52:20,1:20,44:10,504:10";
/// A one-time password with a code that differs per message.
pub const DEFAULT_TEXT: &str = "Your code is {code}.";

/// Options of `gannet loadgen http`.
#[derive(Clone, Debug, clap::Args)]
pub struct HttpLoadArgs {
    /// The gateway's API, `http://host:port` (with a path prefix if it is served under one).
    /// Must be a loopback address unless --allow-remote.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key, sent as `Authorization: Bearer`.
    #[arg(long, env = "GANNET_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// Keep-alive connections; each has one request in flight at a time.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Requests per second over all connections (open loop: latency runs from each request's
    /// scheduled send time). 0: closed loop, each connection sends when answered.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Stop sending after this long (e.g. 10s, 2m; at most 10m).
    #[arg(long, value_parser = crate::config::duration::parse)]
    pub duration: Option<Duration>,
    /// Stop after this many messages (the last batch may be short).
    #[arg(long)]
    pub count: Option<u64>,
    /// Send K messages per request to POST /v1/messages/batch (default: one per request to
    /// POST /v1/messages).
    #[arg(long)]
    pub batch: Option<u32>,
    /// Destination prefixes (country calling codes or longer) with weights. Numbers are ones
    /// libphonenumber reads as mobile there.
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_MIX)]
    pub mix: Vec<String>,
    /// Share of messages sent to landlines instead (0 to 1), from the prefixes whose plan has
    /// them. An SMS-only gateway refuses them (400 fixed_line).
    #[arg(long, default_value_t = 0.0)]
    pub landline_share: f64,
    /// Message class, or a weighted mix: `otp`, `otp:8,transactional:1,marketing:1`.
    #[arg(long, value_delimiter = ',', default_value = "otp")]
    pub class: Vec<String>,
    /// Sender.
    #[arg(long, default_value = "GANNET")]
    pub from: String,
    /// Message text; `{code}` becomes six digits that differ per message.
    #[arg(long, default_value = DEFAULT_TEXT)]
    pub text: String,
    /// `validity` of every message (e.g. 5m); absent: the gateway's default for the class.
    #[arg(long)]
    pub validity: Option<String>,
    /// Send `"receipt": false`: the gateway asks the carriers for no receipt, and a message
    /// ends `sent` when the carrier accepts it.
    #[arg(long)]
    pub no_receipt: bool,
    /// Start a callback receiver on 127.0.0.1 and put its URL in every message's
    /// callback_url; count the callbacks.
    #[arg(long)]
    pub callbacks: bool,
    /// Verify the `gannet-signature` of every callback with this secret.
    #[arg(
        long,
        env = "GANNET_WEBHOOK_SECRET",
        hide_env_values = true,
        requires = "callbacks"
    )]
    pub webhook_secret: Option<String>,
    /// The simulator's control API (`http://127.0.0.1:8775`): count submit_sm and receipts
    /// where the carriers see them.
    #[arg(long)]
    pub sim_control: Option<String>,
    /// The gateway's process id: report its CPU per message and peak RSS from /proc.
    #[arg(long)]
    pub gateway_pid: Option<u32>,
    /// After the last answer, wait up to this long for the carriers to catch up with what
    /// was accepted and for callbacks to stop arriving (needs --sim-control or --callbacks).
    #[arg(long, default_value = "0s", value_parser = crate::config::duration::parse)]
    pub drain_wait: Duration,
    /// Requests due in this first part of the run are sent and counted like the others but
    /// left out of the latency percentiles (connection set-up and first-touch allocations on
    /// both sides); part of --duration, not added to it.
    #[arg(long, default_value = "0s", value_parser = crate::config::duration::parse)]
    pub warmup: Duration,
    /// A request with no answer after this long is counted as timed out and its connection
    /// is replaced.
    #[arg(long, default_value = "10s", value_parser = crate::config::duration::parse)]
    pub response_timeout: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a target that is not a loopback address. Never point this at a production
    /// gateway: it sends real messages.
    #[arg(long)]
    pub allow_remote: bool,
}

impl HttpLoadArgs {
    /// Parses options as given after `gannet loadgen http` (for tests and other callers that
    /// want the command line's defaults).
    pub fn try_parse_from<I, T>(args: I) -> Result<HttpLoadArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        crate::loadgen::args::parse_subcommand_args("http", args)
    }
}

/// An `http://` URL split for a raw client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// `host:port` as given (for resolving and the `Host` header).
    pub authority: String,
    /// The path prefix without a trailing `/` (`""` for none).
    pub base_path: String,
}

impl HttpUrl {
    /// `http://host[:port][/prefix]`. No TLS, user info, query or fragment.
    pub fn parse(flag: &str, url: &str) -> anyhow::Result<HttpUrl> {
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                bail!(
                    "{flag} {url}: https is not supported; the load client speaks plain HTTP/1.1"
                );
            }
            bail!("{flag} {url}: expected http://host:port");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            bail!("{flag} {url}: expected http://host:port");
        }
        if path.contains(['?', '#']) || path.bytes().any(|b| !b.is_ascii_graphic()) {
            bail!("{flag} {url}: the path may not hold a query, a fragment or spaces");
        }
        // A port is needed to resolve; 80 when none is given (`[::1]` has colons of its own).
        let has_port = match authority.rfind(']') {
            Some(close) => authority[close..].contains(':'),
            None => authority.contains(':'),
        };
        let authority = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(HttpUrl {
            authority,
            base_path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// Resolves the authority; every address must be loopback unless `allow_remote`.
    pub async fn resolve(&self, flag: &str, allow_remote: bool) -> anyhow::Result<SocketAddr> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(self.authority.as_str())
            .await
            .with_context(|| format!("{flag} {}: cannot resolve", self.authority))?
            .collect();
        check_target_of(flag, "a gateway", &self.authority, &addrs, allow_remote)
    }
}

/// A validated run: everything [`super::run_http_plan`] needs.
#[derive(Clone, Debug)]
pub struct HttpPlan {
    pub url: String,
    pub target: SocketAddr,
    pub host: String,
    pub base_path: String,
    pub api_key: String,
    pub connections: u32,
    /// Requests per second; 0 = closed loop.
    pub rate: u64,
    pub duration: Duration,
    /// Messages.
    pub count: Option<u64>,
    pub batch: Option<u32>,
    pub mix: Vec<MixEntry>,
    pub landline_share: f64,
    pub classes: Vec<(MessageClass, u32)>,
    pub from: String,
    pub text: String,
    pub validity: Option<String>,
    pub no_receipt: bool,
    pub destinations: Destinations,
    pub callbacks: bool,
    pub webhook_secret: Option<String>,
    /// The simulator's control API: address, `Host`, path prefix.
    pub sim_control: Option<(SocketAddr, String, String)>,
    pub gateway_pid: Option<u32>,
    pub drain_wait: Duration,
    /// Latency counts requests due from this far into the load.
    pub warmup: Duration,
    pub response_timeout: Duration,
}

impl HttpPlan {
    /// Checks the options, resolves the targets and builds the destination pools. Nothing is
    /// sent.
    pub async fn new(args: &HttpLoadArgs) -> anyhow::Result<HttpPlan> {
        let url = HttpUrl::parse("--url", &args.url)?;
        let target = url.resolve("--url", args.allow_remote).await?;
        let sim_control = match &args.sim_control {
            Some(s) => {
                let u = HttpUrl::parse("--sim-control", s)?;
                let addr = u.resolve("--sim-control", args.allow_remote).await?;
                Some((addr, u.authority, u.base_path))
            }
            None => None,
        };
        HttpPlan::with_targets(args, target, &url, sim_control)
    }

    /// [`HttpPlan::new`] with the addresses already resolved.
    pub fn with_targets(
        args: &HttpLoadArgs,
        target: SocketAddr,
        url: &HttpUrl,
        sim_control: Option<(SocketAddr, String, String)>,
    ) -> anyhow::Result<HttpPlan> {
        let duration = run_bound(args.duration, args.count)?;
        if args.connections == 0 || args.connections > 10_000 {
            bail!("--connections must be 1..=10000, not {}", args.connections);
        }
        if let Some(k) = args.batch
            && !(1..=10_000).contains(&k)
        {
            bail!("--batch must be 1..=10000 messages, not {k}");
        }
        if args.api_key.is_empty() || !args.api_key.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("--api-key must be visible ASCII (it goes into a header)");
        }
        if args.from.trim().is_empty() {
            bail!("--from must not be empty");
        }
        if args.text.is_empty() {
            bail!("--text must not be empty");
        }
        if let Some(v) = &args.validity {
            crate::config::duration::parse(v).map_err(|e| anyhow::anyhow!("--validity: {e}"))?;
        }
        if args.response_timeout.is_zero() {
            bail!("--response-timeout must be more than zero");
        }
        if args.drain_wait > crate::loadgen::args::MAX_DURATION {
            bail!("--drain-wait is at most 10 minutes");
        }
        if !args.warmup.is_zero() && args.warmup >= duration {
            bail!("--warmup must be shorter than the run ({duration:?})");
        }
        if let Some(pid) = args.gateway_pid
            && super::probe::sample(pid).is_none()
        {
            bail!("--gateway-pid {pid}: /proc/{pid}/stat cannot be read (no such process?)");
        }
        let mix = parse_mix(&args.mix)?;
        let classes = parse_classes(&args.class)?;
        // A short run needs no thousand numbers per prefix.
        let pool = args
            .count
            .map_or(MAX_POOL, |c| c.min(MAX_POOL as u64) as usize);
        let destinations = Destinations::new(&mix, args.landline_share, pool)?;
        Ok(HttpPlan {
            url: args.url.clone(),
            target,
            host: url.authority.clone(),
            base_path: url.base_path.clone(),
            api_key: args.api_key.clone(),
            connections: args.connections,
            rate: args.rate,
            duration,
            count: args.count,
            batch: args.batch,
            mix,
            landline_share: args.landline_share,
            classes,
            from: args.from.clone(),
            text: args.text.clone(),
            validity: args.validity.clone(),
            no_receipt: args.no_receipt,
            destinations,
            callbacks: args.callbacks,
            webhook_secret: args.webhook_secret.clone(),
            sim_control,
            gateway_pid: args.gateway_pid,
            drain_wait: args.drain_wait,
            warmup: args.warmup,
            response_timeout: args.response_timeout,
        })
    }

    /// Requests the run sends at most (`None`: bounded by time only).
    pub fn requests(&self) -> Option<u64> {
        let k = u64::from(self.batch.unwrap_or(1));
        self.count.map(|c| c.div_ceil(k))
    }
}

/// `otp`, `otp:8,marketing:2`.
fn parse_classes(items: &[String]) -> anyhow::Result<Vec<(MessageClass, u32)>> {
    let mut out: Vec<(MessageClass, u32)> = Vec::new();
    for item in items {
        let (name, weight) = parse_weighted(item, "--class")?;
        let class = MessageClass::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .with_context(|| format!("--class {item}: expected otp, transactional or marketing"))?;
        if out.iter().any(|(c, _)| *c == class) {
            bail!("--class {item}: {name} given twice");
        }
        out.push((class, weight));
    }
    if out.is_empty() {
        bail!("--class: give at least one class");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> HttpLoadArgs {
        let mut a = vec!["--api-key", "k"];
        a.extend_from_slice(extra);
        HttpLoadArgs::try_parse_from(a).unwrap()
    }

    fn plan(extra: &[&str]) -> anyhow::Result<HttpPlan> {
        let url = HttpUrl::parse("--url", "http://127.0.0.1:8080").unwrap();
        HttpPlan::with_targets(&args(extra), "127.0.0.1:8080".parse().unwrap(), &url, None)
    }

    #[test]
    fn urls() {
        assert_eq!(
            HttpUrl::parse("--url", "http://127.0.0.1:8080").unwrap(),
            HttpUrl {
                authority: "127.0.0.1:8080".into(),
                base_path: "".into()
            }
        );
        assert_eq!(
            HttpUrl::parse("--url", "http://localhost/api/").unwrap(),
            HttpUrl {
                authority: "localhost:80".into(),
                base_path: "/api".into()
            }
        );
        assert_eq!(
            HttpUrl::parse("--url", "http://[::1]").unwrap().authority,
            "[::1]:80"
        );
        assert_eq!(
            HttpUrl::parse("--url", "http://[::1]:9/")
                .unwrap()
                .authority,
            "[::1]:9"
        );
        for bad in [
            "https://127.0.0.1",
            "127.0.0.1:8080",
            "http://",
            "http://u@h:1",
            "http://h:1/a?b",
        ] {
            assert!(HttpUrl::parse("--url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults() {
        let p = plan(&["--count", "10"]).unwrap();
        assert_eq!(p.connections, 64);
        assert_eq!(p.rate, 0);
        assert_eq!(p.batch, None);
        assert_eq!(p.classes, vec![(MessageClass::Otp, 1)]);
        assert_eq!(p.mix.len(), 5);
        assert_eq!(p.requests(), Some(10));
        let p = plan(&["--count", "250", "--batch", "100"]).unwrap();
        assert_eq!(p.requests(), Some(3));
    }

    #[test]
    fn refusals() {
        for (extra, want) in [
            (&[][..], "unbounded"),
            (&["--count", "1", "--connections", "0"][..], "--connections"),
            (&["--count", "1", "--batch", "0"][..], "--batch"),
            (&["--count", "1", "--class", "spam"][..], "--class"),
            (&["--count", "1", "--class", "otp,otp:2"][..], "twice"),
            (&["--count", "1", "--validity", "soon"][..], "--validity"),
            (&["--count", "1", "--mix", "999"][..], "--mix"),
            (
                &["--count", "1", "--landline-share", "2"][..],
                "--landline-share",
            ),
            (
                &["--count", "1", "--gateway-pid", "4294967295"][..],
                "--gateway-pid",
            ),
        ] {
            let err = format!("{:#}", plan(extra).unwrap_err());
            assert!(err.contains(want), "{extra:?}: {err}");
        }
        let a = HttpLoadArgs::try_parse_from(["--api-key", "a b", "--count", "1"]).unwrap();
        let url = HttpUrl::parse("--url", "http://127.0.0.1:1").unwrap();
        assert!(HttpPlan::with_targets(&a, "127.0.0.1:1".parse().unwrap(), &url, None).is_err());
        assert!(
            HttpLoadArgs::try_parse_from(["--api-key", "k", "--webhook-secret", "s"]).is_err(),
            "a secret without --callbacks"
        );
    }

    #[tokio::test]
    async fn remote_targets_are_refused() {
        let url = HttpUrl::parse("--url", "http://192.0.2.1:8080").unwrap();
        let err = url.resolve("--url", false).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("not a loopback address"),
            "{err:#}"
        );
        assert!(url.resolve("--url", true).await.is_ok());
    }
}

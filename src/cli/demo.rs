//! `gannet demo`: the embedded default.
//!
//! Starts the built-in simulator world (sim.yaml, every persona on an ephemeral loopback
//! port), then drives each carrier persona over SMPP with the load client, asking for a
//! receipt per message, and prints a table per persona: what was sent, accepted, and what the
//! receipts said, with the time to receipt. It shows the carrier side of Gannet end to end:
//! the protocol core, the simulator's outcomes and id styles, receipt matching.

use std::fmt::Write as _;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::loadgen::{self, LoadReport, SmppLoadArgs};
use crate::sim::config::PersonaConfig;
use crate::sim::{IdStyle, Sim, SimConfig};

/// Arguments of `gannet demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Messages per carrier persona.
    #[arg(long, default_value_t = 300)]
    pub messages: u64,
    /// How long to wait for receipts after the last response (the world's receipt delays
    /// reach tens of seconds at p99).
    #[arg(long, default_value = "40s", value_parser = crate::config::duration::parse)]
    pub receipt_wait: Duration,
}

/// One persona's row.
pub struct Row {
    pub persona: String,
    pub prefix: String,
    pub report: LoadReport,
}

/// Runs the demo and returns the rows (the CLI prints them with [`render`]).
pub async fn run(args: &DemoArgs, shutdown: CancellationToken) -> anyhow::Result<Vec<Row>> {
    let config = SimConfig::example()?.ephemeral();
    let personas: Vec<PersonaConfig> = config.personas.clone();
    let sim = Sim::start(config).await?;
    let mut runs = Vec::new();
    for p in &personas {
        let Some(plan) = plan_for(p, args, sim.persona_addr(&p.name.value).to_string()) else {
            continue;
        };
        let (prefix, load) = plan;
        let name = p.name.value.clone();
        let token = shutdown.child_token();
        runs.push(tokio::spawn(async move {
            let report = loadgen::run_smpp(load, token).await;
            (name, prefix, report)
        }));
    }
    let mut rows = Vec::new();
    for run in runs {
        let (persona, prefix, report) = run.await?;
        rows.push(Row {
            persona,
            prefix,
            report: report?,
        });
    }
    sim.shutdown().await;
    Ok(rows)
}

/// Load client options for one persona: its first account, its first outcome prefix, a rate
/// under its TPS contract, and the id relation between its responses and its receipts.
fn plan_for(p: &PersonaConfig, args: &DemoArgs, addr: String) -> Option<(String, SmppLoadArgs)> {
    let account = p.accounts.value.first()?;
    let prefix = p
        .outcomes
        .iter()
        .map(|o| o.value.prefix.value.clone())
        .find(|d| !d.is_empty())
        .unwrap_or_else(|| "44".to_string());
    let tps = p.tps.as_ref().map_or(500.0, |t| t.value);
    let rate = ((tps * 0.8) as u64).clamp(1, 2000);
    let window = p.window.as_ref().map_or(64, |w| w.value.min(64));
    let resp_style = p.message_ids.format.style;
    let receipt_style = p
        .message_ids
        .receipt_format
        .as_ref()
        .map_or(resp_style, |f| f.style);
    let ids = match (resp_style, receipt_style) {
        (IdStyle::Hex, IdStyle::Decimal) => "hex-to-decimal",
        (IdStyle::Decimal, IdStyle::Hex) => "decimal-to-hex",
        _ => "as-sent",
    };
    let dest_len = (prefix.len() + 9).clamp(10, 15).to_string();
    let wait = format!("{}ms", args.receipt_wait.as_millis());
    let argv: Vec<String> = [
        "--addr",
        &addr,
        "--system-id",
        &account.system_id.value,
        "--password",
        &account.password,
        "--bind",
        "transceiver",
        "--window",
        &window.to_string(),
        "--rate",
        &rate.to_string(),
        "--count",
        &args.messages.to_string(),
        "--receipts",
        "--receipt-ids",
        ids,
        "--dest-prefix",
        &prefix,
        "--dest-len",
        &dest_len,
        "--receipt-wait",
        &wait,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let load = SmppLoadArgs::try_parse_from(argv).ok()?;
    Some((prefix, load))
}

/// The table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>6} {:>6} {:>8} {:>9} {:>7} {:>7} {:>7} {:>10} {:>9} {:>9}",
        "persona",
        "prefix",
        "sent",
        "accepted",
        "delivered",
        "undeliv",
        "expired",
        "other",
        "no-receipt",
        "p50 rcpt",
        "p90 rcpt"
    );
    for r in rows {
        let rep = &r.report;
        let accepted = rep.statuses.get("ESME_ROK").copied().unwrap_or(0);
        let (delivered, undeliv, expired, other, outstanding, p50, p90) = match &rep.receipts {
            Some(rc) => {
                let get = |k: &str| rc.by_stat.get(k).copied().unwrap_or(0);
                let delivered = get("DELIVRD");
                let undeliv = get("UNDELIV");
                let expired = get("EXPIRED");
                let other = ["REJECTD", "DELETED", "UNKNOWN", "SKIPPED", "OTHER"]
                    .iter()
                    .map(|k| get(k))
                    .sum();
                (
                    delivered,
                    undeliv,
                    expired,
                    other,
                    rc.outstanding,
                    secs(rc.latency.p50_us),
                    secs(rc.latency.p90_us),
                )
            }
            None => (0, 0, 0, 0, 0, String::from("-"), String::from("-")),
        };
        let _ = writeln!(
            out,
            "{:<16} {:>6} {:>6} {:>8} {:>9} {:>7} {:>7} {:>7} {:>10} {:>9} {:>9}",
            r.persona,
            format!("+{}", r.prefix),
            rep.submitted,
            accepted,
            delivered,
            undeliv,
            expired,
            other,
            outstanding,
            p50,
            p90
        );
    }
    out
}

fn secs(us: f64) -> String {
    if us <= 0.0 {
        "-".into()
    } else {
        format!("{:.1}s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> DemoArgs {
        DemoArgs {
            messages: 10,
            receipt_wait: Duration::from_secs(5),
        }
    }

    fn plan(name: &str) -> (String, SmppLoadArgs) {
        let config = SimConfig::example().unwrap();
        let p = config
            .personas
            .iter()
            .find(|p| p.name.value == name)
            .unwrap();
        plan_for(p, &args(), "127.0.0.1:1".into()).unwrap()
    }

    #[test]
    fn each_persona_is_driven_within_its_contract_and_id_styles() {
        // Jio answers in upper-case hex and reports receipts in decimal.
        let (prefix, load) = plan("mno-in-jio");
        assert_eq!(prefix, "91");
        assert_eq!(load.receipt_ids, loadgen::receipts::IdMatch::HexToDecimal);
        assert_eq!(load.rate, 160, "80% of its 200 TPS contract");
        assert!(load.receipts);
        assert_eq!(load.count, Some(10));
        // Telcel uses decimal ids on both sides.
        let (prefix, load) = plan("mno-mx-telcel");
        assert_eq!(prefix, "52");
        assert_eq!(load.receipt_ids, loadgen::receipts::IdMatch::AsSent);
        assert_eq!(load.system_id, "gannet");
    }
}

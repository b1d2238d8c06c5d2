//! `gannet route`: explain how a number would be routed now (or at `--at`), against a routes
//! file, with no live health (every carrier at the health prior, all binds assumed up).

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context as _;
use serde::Serialize;

use super::explain::{self, Context};
use super::{Decision, HealthSnapshot, RouteRequest, resolve};
use crate::number::{NumberParser, ParseOptions};
use crate::routes::{MessageClass, Registration, Registrations, RouteTable};

/// Arguments of `gannet route`.
#[derive(clap::Args, Debug, Clone)]
pub struct RouteArgs {
    /// Destination number in international form, e.g. +919812345678.
    pub number: String,
    /// Message class.
    #[arg(long, value_enum, default_value = "otp")]
    pub class: MessageClass,
    /// Routes file.
    #[arg(long, default_value = "routes.yaml")]
    pub routes: PathBuf,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
    /// Decide as of this time (RFC 3339, e.g. 2025-01-15T10:00:00Z) instead of now: quiet
    /// hours depend on it.
    #[arg(long, value_parser = super::time::parse_rfc3339)]
    pub at: Option<SystemTime>,
    /// Registrations the message carries, comma-separated (dlt_entity_id,dlt_template_id).
    #[arg(long = "with", value_enum, value_delimiter = ',')]
    pub registrations: Vec<RegistrationArg>,
    /// Segments the text needs.
    #[arg(long, default_value_t = 1)]
    pub segments: u16,
    /// The text needs UCS-2.
    #[arg(long)]
    pub unicode: bool,
    /// Carriers already tried for this message, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub tried: Vec<String>,
    /// Exploration seed (a hash of the message id in the service).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// [`Registration`] on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum RegistrationArg {
    DltEntityId,
    DltTemplateId,
}

impl From<RegistrationArg> for Registration {
    fn from(r: RegistrationArg) -> Registration {
        match r {
            RegistrationArg::DltEntityId => Registration::DltEntityId,
            RegistrationArg::DltTemplateId => Registration::DltTemplateId,
        }
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    destination: &'a str,
    number_type: crate::number::NumberType,
    at: String,
    routes: String,
    decision: &'a Decision,
}

/// Runs `gannet route`.
pub fn run(args: RouteArgs) -> anyhow::Result<()> {
    print!("{}", render(&args, SystemTime::now())?);
    Ok(())
}

/// The output of `gannet route` as a string; `now` is used when `--at` is not given.
pub fn render(args: &RouteArgs, now: SystemTime) -> anyhow::Result<String> {
    let table = RouteTable::load(&args.routes)?;
    // Premium-rate numbers are parsed so that the router can explain why it refuses them.
    let number = NumberParser::new(ParseOptions::default().allow_premium_rate(true))
        .parse(&args.number, None)
        .with_context(|| format!("`{}`", args.number))?;
    let at = args.at.unwrap_or(now);
    let tried: Vec<&str> = args.tried.iter().map(String::as_str).collect();
    let registrations = args
        .registrations
        .iter()
        .fold(Registrations::NONE, |r, &a| r.with(a.into()));
    let req = RouteRequest {
        dest: number.e164_digits(),
        class: args.class,
        number_type: number.number_type(),
        segments: args.segments.max(1),
        unicode: args.unicode,
        registrations,
        tried: &tried,
        accepted_at: None,
        seed: args.seed,
    };
    let decision = resolve(&req, &table, &HealthSnapshot::default(), at);
    if args.json {
        let report = JsonReport {
            destination: number.e164(),
            number_type: number.number_type(),
            at: super::time::format_rfc3339(at),
            routes: table.source().display().to_string(),
            decision: &decision,
        };
        let mut s = serde_json::to_string_pretty(&report)?;
        s.push('\n');
        return Ok(s);
    }
    Ok(explain::text(
        &decision,
        &Context {
            destination: number.e164(),
            number_type: number.number_type(),
            at,
            table: &table,
            note: Some("health: no live data here; every carrier at the prior, binds assumed up"),
        },
    ))
}

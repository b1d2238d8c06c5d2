//! `gannet`: the command line. Each subcommand is a thin shell over a library function that
//! tests can reach; nothing here holds logic of its own.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: per-thread free lists, no global consolidation
/// (docs/performance.md has the measurement).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "gannet",
    version,
    about = "SMPP gateway and carrier routing engine"
)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `gannet=debug`.
    #[arg(long, env = "GANNET_LOG", default_value = "info", global = true)]
    log: String,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The embedded demo: the built-in simulator world, the gateway against it, and a mixed
    /// OTP and marketing load through the HTTP API for about a minute; prints a table per
    /// country and route.
    Demo(gannet::cli::demo::DemoArgs),
    /// Run the gateway: HTTP API, carrier binds, routing, receipts, failover, webhooks.
    /// SIGTERM or Ctrl-C drains; SIGHUP reloads the routing table.
    Serve(ServeArgs),
    /// Validate the configuration files and exit non-zero naming file, line and key if one
    /// is wrong.
    Check(CheckArgs),
    /// Run the SMSC simulator (carrier personas, scripted outcomes and faults).
    Sim(gannet::sim::cli::SimArgs),
    /// Drive bounded load at a server and report what reached it.
    Loadgen {
        #[command(subcommand)]
        command: Box<LoadgenCommand>,
    },
    /// Explain the routing decision for a number: each candidate, its score and why.
    Route(gannet::router::cli::RouteArgs),
    /// Normalise a number, say its type, and analyse a text for it.
    Number(gannet::cli::number::NumberArgs),
    /// Inspect SMPP PDUs.
    Pdu {
        #[command(subcommand)]
        command: PduCommand,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The gateway configuration (it names the routing table).
    #[arg(long, default_value = "gateway.yaml")]
    config: std::path::PathBuf,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The gateway configuration (and the routing table it names).
    #[arg(long, default_value = "gateway.yaml")]
    gateway: std::path::PathBuf,
    /// The routing table.
    #[arg(long, default_value = "routes.yaml")]
    routes: std::path::PathBuf,
    /// The simulator world.
    #[arg(long, default_value = "sim.yaml")]
    sim: std::path::PathBuf,
}

#[derive(Subcommand)]
enum LoadgenCommand {
    /// SMPP: bind to an SMSC and submit under a window, at a rate or as fast as it answers.
    Smpp(gannet::loadgen::SmppLoadArgs),
    /// HTTP: load the gateway's API, count at the carriers and the callback receiver.
    Http(gannet::loadgen::HttpLoadArgs),
}

#[derive(Subcommand)]
enum PduCommand {
    /// Dissect a PDU given as hex (from a capture or a carrier's log).
    Decode(gannet::cli::pdu::DecodeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints a table: the gateway's own info lines would drown it, unless asked for.
    let log = match (&cli.command, std::env::var_os("GANNET_LOG")) {
        (Command::Demo(_), None) if cli.log == "info" => "warn",
        _ => cli.log.as_str(),
    };
    init_tracing(log, cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gannet: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    runtime.spawn(signals(shutdown.clone()));
    let result = runtime.block_on(run(cli.command, shutdown));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gannet: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A load report on stdout: as JSON, or as the human table.
fn print_report<R: serde::Serialize + std::fmt::Display>(
    report: &R,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

async fn run(command: Command, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => check(&args),
        Command::Demo(args) => {
            eprintln!(
                "gannet demo: the simulator world (sim.yaml), the gateway against it \
                 (gateway.yaml, routes.yaml), {} messages/s of OTP and marketing traffic for \
                 {:?}, then up to {:?} for the last receipts",
                args.rate, args.duration, args.drain
            );
            let report = gannet::cli::demo::run(&args, shutdown).await?;
            print!("\n{}\n{}", report.table, report.summary);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            gannet::service::serve(&args.config, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(args) => {
            gannet::sim::cli::run(args, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Loadgen { command } => {
            match *command {
                LoadgenCommand::Smpp(args) => {
                    let json = args.json;
                    print_report(&gannet::loadgen::run_smpp(args, shutdown).await?, json)?;
                }
                LoadgenCommand::Http(args) => {
                    let json = args.json;
                    print_report(&gannet::loadgen::run_http(args, shutdown).await?, json)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Route(args) => {
            gannet::router::cli::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Number(args) => {
            gannet::cli::number::run(&args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Pdu {
            command: PduCommand::Decode(args),
        } => {
            gannet::cli::pdu::run_decode(&args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads every config file and reports each one's verdict.
fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut ok = true;
    match gannet::service::config::load(&args.gateway) {
        Ok(_) => println!("{}: ok", args.gateway.display()),
        Err(e) => {
            eprintln!("{e}");
            ok = false;
        }
    }
    match gannet::routes::RouteTable::load(&args.routes) {
        Ok(_) => println!("{}: ok", args.routes.display()),
        Err(e) => {
            eprintln!("{e}");
            ok = false;
        }
    }
    match gannet::sim::SimConfig::load(&args.sim) {
        Ok(_) => println!("{}: ok", args.sim.display()),
        Err(e) => {
            eprintln!("{e}");
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn init_tracing(filter: &str, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// SIGTERM or the first SIGINT starts a graceful drain; a second SIGINT exits at once.
async fn signals(shutdown: CancellationToken) {
    let mut interrupts = 0u32;
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        #[cfg(unix)]
        let got_term = async {
            match term.as_mut() {
                Some(t) => t.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let got_term = std::future::pending::<Option<()>>();
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                if r.is_err() { return; }
                interrupts += 1;
                if interrupts >= 2 {
                    eprintln!("gannet: second interrupt, exiting now");
                    std::process::exit(130);
                }
                tracing::info!("interrupt: draining (interrupt again to exit at once)");
                shutdown.cancel();
            }
            _ = got_term => {
                tracing::info!("SIGTERM: draining");
                shutdown.cancel();
            }
        }
    }
}

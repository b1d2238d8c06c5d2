//! `gannet`: the command line. Each subcommand is a thin shell over a library function that
//! tests can reach; nothing here holds logic of its own.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
    /// Validate the configuration files and exit.
    Check,
    /// Inspect SMPP PDUs.
    Pdu {
        #[command(subcommand)]
        command: PduCommand,
    },
}

#[derive(Subcommand)]
enum PduCommand {
    /// Dissect a PDU given as hex (from a capture or a carrier's log).
    Decode(gannet::cli::pdu::DecodeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log, cli.log_json);
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

async fn run(command: Command, _shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check => Ok(ExitCode::SUCCESS),
        Command::Pdu {
            command: PduCommand::Decode(args),
        } => {
            gannet::cli::pdu::run_decode(&args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
    }
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
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(_) => None,
    };
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

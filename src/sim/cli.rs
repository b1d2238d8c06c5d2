//! `gannet sim`: the simulator as a command.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{Sim, SimConfig, SimHandle};

/// Arguments of `gannet sim`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SimArgs {
    /// The sim.yaml to load (default: the built-in example world, sim.yaml in the repository).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Seed for every random choice; overrides `seed:` in the config.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Address of the HTTP control endpoint (e.g. 127.0.0.1:8775); overrides `control:`.
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// Listen on ephemeral ports instead of the configured ones (find them with
    /// `GET /personas`).
    #[arg(long)]
    pub ephemeral: bool,
}

/// A simulator started by [`start`].
pub struct Running {
    pub handle: SimHandle,
    /// Where the control API listens, if it does.
    pub control: Option<SocketAddr>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    stop: CancellationToken,
}

impl Running {
    /// Stops the control API and the simulator, and waits for both.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        if let Some(server) = self.server {
            server
                .await
                .context("control server task failed")?
                .context("control server failed")?;
        }
        self.handle.shutdown().await;
        Ok(())
    }
}

/// Loads the config and starts the simulator and its control API.
pub async fn start(args: SimArgs, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let mut config = match &args.config {
        Some(path) => SimConfig::load(path)?,
        None => SimConfig::example()?,
    };
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if args.ephemeral {
        let control = config.control;
        config = config.ephemeral();
        config.control = control;
    }
    if let Some(control) = args.control {
        config.control = Some(control);
    }
    let control = config.control;
    let handle = Sim::start(config).await?;
    let stop = shutdown.child_token();
    let (server, control) = match control {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("control endpoint: cannot listen on {addr}"))?;
            let bound = listener.local_addr()?;
            info!(addr = %bound, "control API listening");
            let router = handle.router();
            let stopped = stop.clone();
            let server = tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stopped.cancelled_owned())
                    .await
            });
            (Some(server), Some(bound))
        }
        None => (None, None),
    };
    for p in handle.personas() {
        info!(persona = %p.name, addr = %p.addr, system_ids = ?p.system_ids, "persona ready");
    }
    Ok(Running {
        handle,
        control,
        server,
        stop,
    })
}

/// Runs `gannet sim` until `shutdown` is cancelled.
pub async fn run(args: SimArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let running = start(args, shutdown.clone()).await?;
    shutdown.cancelled().await;
    info!("simulator stopping");
    running.stop().await
}

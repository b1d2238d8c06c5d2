//! The gateway as one service: the store, the carrier pool, the engine, webhooks and the
//! HTTP API, started in that order and stopped in the reverse one.
//!
//! [`Gateway::start`] is what `gannet serve` runs and what the end-to-end tests and
//! `gannet demo` start in-process; [`serve`] adds the signals: SIGTERM or Ctrl-C drains
//! (stop accepting, let in-flight submits finish, write everything, unbind), SIGHUP reloads
//! the routing table (a bad file is refused and the running table stays).
//!
//! # Layout
//! - [`config`](mod@config): gateway.yaml.

pub mod config;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::GatewaySettings;

use crate::api::{self, ApiState, SystemClock};
use crate::carrier::CarrierPool;
use crate::config::ConfigError;
use crate::dlr::DlrTracker;
use crate::engine::{self, EngineHandle, EngineParts, Notifier, RouteAdmission, SharedTable};
use crate::routes::{self, RouteTable};
use crate::store::Store;
use crate::webhook::{WebhookSettings, Webhooks};

/// Events the pool may queue for the engine before its binds wait.
const POOL_EVENTS: usize = 65_536;
/// How long webhooks already queued may still go out at shutdown.
const WEBHOOK_GRACE: Duration = Duration::from_secs(5);

/// [`Notifier`] through the webhook sender.
struct WebhookNotifier {
    webhooks: Webhooks,
    voice_url: Option<Arc<str>>,
}

impl Notifier for WebhookNotifier {
    fn status(&self, url: &str, body: Bytes) {
        if !self.webhooks.post(url, "message.status", body) {
            tracing::warn!(url, "status webhook dropped: the webhook queue is full");
        }
    }

    fn voice(&self, body: Bytes) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        let Some(url) = self.voice_url.clone() else {
            return Box::pin(async {
                Err("no voice channel is configured (webhooks.voice_url)".to_string())
            });
        };
        let webhooks = self.webhooks.clone();
        Box::pin(async move {
            webhooks
                .post_and_wait(&url, "voice.call", body)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Choices the caller makes at start.
#[derive(Default)]
pub struct StartOptions {
    /// A listener already bound (tests bind 127.0.0.1:0); otherwise `api.listen` is bound.
    pub listener: Option<TcpListener>,
    /// Install the process-wide Prometheus recorder for `/metrics`.
    pub metrics: bool,
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    engine: EngineHandle,
    pool: CarrierPool,
    store: Store,
    webhooks: Webhooks,
    routes_path: PathBuf,
    api_stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    reloads: mpsc::UnboundedSender<tokio::sync::oneshot::Sender<Result<usize, String>>>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("store at {path}: {source}")]
    Store {
        path: PathBuf,
        source: crate::store::StoreError,
    },
    #[error("carrier pool: {0}")]
    Pool(#[from] crate::carrier::StartError),
    #[error("webhooks: {0}")]
    Webhooks(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Gateway {
    /// Opens the store, binds to the carriers, resumes pending messages and serves the API.
    pub async fn start(
        settings: GatewaySettings,
        options: StartOptions,
    ) -> Result<Gateway, StartError> {
        // The recorder first: handles the parts register at start must reach it.
        let metrics = if options.metrics {
            api::telemetry::prometheus()
        } else {
            None
        };
        for name in &settings.unconnected {
            tracing::warn!(carrier = %name, "carrier of the routing table has no connection in the gateway config: routed as down");
        }
        let store = Store::open_with(&settings.store_path, settings.store).map_err(|source| {
            StartError::Store {
                path: settings.store_path.clone(),
                source,
            }
        })?;
        let webhooks = start_webhooks(settings.webhooks.clone())?;
        let (ev_tx, ev_rx) = mpsc::channel(POOL_EVENTS);
        let pool = CarrierPool::start(settings.carriers.clone(), ev_tx, CancellationToken::new())?;
        let table = SharedTable::new(settings.routes.clone());
        let notifier: Arc<dyn Notifier> = Arc::new(WebhookNotifier {
            webhooks: webhooks.clone(),
            voice_url: settings.webhooks.voice_url.as_deref().map(Arc::from),
        });
        let clock = Arc::new(SystemClock::new());
        let engine = engine::start(EngineParts {
            store: store.clone(),
            pool: pool.clone(),
            pool_events: ev_rx,
            table: table.clone(),
            tracker: Arc::new(DlrTracker::default()),
            notifier,
            clock: clock.clone(),
            settings: settings.engine.clone(),
            resume: true,
        });

        let (reloads, mut reload_rx) =
            mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<Result<usize, String>>>();
        let reload_engine = engine.clone();
        let reload_path = settings.routes_path.clone();
        tokio::spawn(async move {
            while let Some(reply) = reload_rx.recv().await {
                let result = reload_from(&reload_engine, &reload_path).await;
                let _ = reply.send(result.map_err(|e| e.to_string()));
            }
        });
        let reloader: Arc<dyn api::RouteReloader> = Arc::new(Reloader {
            tx: reloads.clone(),
        });

        let state = ApiState::builder(
            store.clone(),
            settings.api.clone(),
            settings.clients.clone(),
        )
        .clock(clock)
        .admission(Arc::new(RouteAdmission::new(table)))
        .dispatch(engine.dispatcher())
        .reloader(reloader)
        .metrics(metrics)
        .build();
        let listener =
            match options.listener {
                Some(l) => l,
                None => TcpListener::bind(settings.listen).await.map_err(|source| {
                    StartError::Listen {
                        addr: settings.listen,
                        source,
                    }
                })?,
            };
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: settings.listen,
            source,
        })?;
        let api_stop = CancellationToken::new();
        let stop = api_stop.clone();
        let app = api::router(state);
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        tracing::info!(%addr, carriers = settings.carriers.len(), "gateway listening");
        Ok(Gateway {
            addr,
            engine,
            pool,
            store,
            webhooks,
            routes_path: settings.routes_path.clone(),
            api_stop,
            server,
            reloads,
        })
    }

    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    pub fn pool(&self) -> &CarrierPool {
        &self.pool
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// Reads the routing table again; a bad file is refused and the running table stays.
    /// Returns the number of routes now in use.
    pub async fn reload_routes(&self) -> Result<usize, ConfigError> {
        reload_from(&self.engine, &self.routes_path).await
    }

    /// Drains: stops accepting, lets in-flight submits answer (each carrier's grace),
    /// unbinds, writes every state, sends what webhooks it can within a grace, and closes
    /// the store. Messages still waiting for receipts stay pending and are resumed by the
    /// next start.
    pub async fn shutdown(self) {
        drop(self.reloads);
        self.api_stop.cancel();
        match self.server.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "API server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "API server task failed"),
            Ok(Ok(())) => {}
        }
        self.pool.shutdown().await;
        self.engine.stopped().await;
        self.webhooks.shutdown(WEBHOOK_GRACE).await;
        self.store.shutdown().await;
        tracing::info!("gateway stopped");
    }
}

struct Reloader {
    tx: mpsc::UnboundedSender<tokio::sync::oneshot::Sender<Result<usize, String>>>,
}

impl api::RouteReloader for Reloader {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send>> {
        let tx = self.tx.clone();
        Box::pin(async move {
            let (reply, rx) = tokio::sync::oneshot::channel();
            tx.send(reply)
                .map_err(|_| "the gateway is shutting down".to_string())?;
            rx.await
                .map_err(|_| "the gateway is shutting down".to_string())?
        })
    }
}

async fn reload_from(engine: &EngineHandle, path: &Path) -> Result<usize, ConfigError> {
    let table: Arc<RouteTable> = routes::reload(path)?;
    let n = table.routes().len();
    engine.reload(table).await;
    tracing::info!(path = %path.display(), routes = n, "routing table reloaded");
    Ok(n)
}

fn start_webhooks(settings: WebhookSettings) -> Result<Webhooks, StartError> {
    Webhooks::start(settings, CancellationToken::new())
        .map_err(|e| StartError::Webhooks(e.to_string()))
}

/// `gannet serve`: starts the gateway from `path` and runs it until `stop` is cancelled
/// (the binary cancels it on SIGTERM or Ctrl-C), reloading routes on SIGHUP.
pub async fn serve(path: &Path, stop: CancellationToken) -> anyhow::Result<()> {
    let settings = config::load(path)?;
    let gateway = Gateway::start(
        settings,
        StartOptions {
            listener: None,
            metrics: true,
        },
    )
    .await?;
    wait_for_signals(&gateway, stop).await;
    tracing::info!("draining");
    gateway.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signals(gateway: &Gateway, stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler; reload through the API only");
        stop.cancelled().await;
        return;
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = hup.recv() => match gateway.reload_routes().await {
                Ok(n) => tracing::info!(routes = n, "SIGHUP: routes reloaded"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: routes NOT reloaded; the running table stays"),
            },
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signals(_gateway: &Gateway, stop: CancellationToken) {
    stop.cancelled().await;
}

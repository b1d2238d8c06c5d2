//! `gannet sim`: an SMSC simulator with many carrier personas, scriptable outcomes and faults.
//!
//! It is the carrier in our end-to-end tests and in the CI of teams that test against
//! carriers that misbehave on purpose. Each persona listens on its own port and plays one
//! carrier: accounts and bind rules, window and TPS limits, response latency, what happens to
//! messages by destination prefix (delivered, undeliverable, expired, rejected, never
//! reported, after how long), how it writes message ids and receipts, and the faults it can
//! be told to commit. It is deterministic under a seed.
//!
//! What it is not: a store-and-forward SMSC (nothing is persisted, nothing reaches a
//! handset), nor a gateway (it shares only the smpp crate's decoder and codec with one, so a
//! gateway bug cannot hide behind shared code). No TLS: tokio-rustls is not a dependency;
//! put a TLS terminator in front if a test needs it.
//!
//! # Layout
//! - [`config`]: sim.yaml types and validation.
//! - `persona`: one carrier's compiled config and shared state; binds, receipt wheel, queues.
//! - `conn`: one connection; the only code that touches a socket.
//! - [`tls`]: a TLS persona's certificate ([`TlsIdentity`]).
//! - `receipt`: outcomes by prefix and the receipt deliver_sm; `wire`: the PDUs we write.
//! - [`fault`]: run-time faults. [`stats`]: counters and the received log.
//! - [`control`]: the HTTP control API. [`cli`]: `gannet sim`.
//! - `rng`, `dist`, `ids`, `text`: seeded randomness, delay distributions, id styles, text.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use gannet::sim::{Sim, SimConfig};
//! let config = SimConfig::parse(std::path::Path::new("test.yaml"), "
//! personas:
//!   - name: mno-a
//!     listen: 127.0.0.1:0
//!     accounts: [{ system_id: gannet, password: secret }]
//! ")?;
//! let sim = Sim::start(config).await?;
//! let addr = sim.persona_addr("mno-a");
//! // … bind to `addr`, submit …
//! let stats = sim.stats("mno-a")?;
//! assert_eq!(stats.segments, 0);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod cli;
pub mod config;
mod conn;
pub mod control;
mod dist;
pub mod fault;
mod ids;
mod persona;
mod receipt;
pub(crate) mod rng;
pub mod stats;
mod text;
pub mod tls;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use config::{PersonaTls, SimConfig, Status};
pub use dist::Dist;
pub use fault::{ActiveFaults, Fault};
pub use ids::{IdCase, IdFormat, IdStyle};
pub use persona::{Mo, PersonaInfo};
pub use stats::{PersonaStats, Received};
pub use tls::{TlsError, TlsIdentity};

use persona::Persona;

/// What can go wrong when starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("persona {persona}: cannot listen on {addr}: {source}")]
    Listen {
        persona: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no persona named `{0}`")]
    UnknownPersona(String),
    /// A fault or MO request that does not make sense.
    #[error("{0}")]
    Invalid(String),
}

/// Starts simulators.
pub struct Sim;

impl Sim {
    /// Validates the config, binds every persona's port and starts serving. Port 0 picks a
    /// free port: ask [`SimHandle::persona_addr`] which.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate()?;
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let mut personas = Vec::with_capacity(config.personas.len());
        let mut listeners = Vec::with_capacity(config.personas.len());
        for pc in config.personas {
            let tls = pc.tls_identity(&config.source)?.map(|t| t.acceptor());
            let want = pc.listen.value;
            let listener = TcpListener::bind(want)
                .await
                .map_err(|source| SimError::Listen {
                    persona: pc.name.value.clone(),
                    addr: want,
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| SimError::Listen {
                persona: pc.name.value.clone(),
                addr: want,
                source,
            })?;
            let p = Arc::new(Persona::new(pc, addr, config.seed, shutdown.clone(), tls));
            info!(persona = %p.name, %addr, tls = p.tls.is_some(), "persona listening");
            personas.push(Arc::clone(&p));
            listeners.push((p, listener));
        }
        for (p, listener) in listeners {
            tracker.spawn(Arc::clone(&p).run_wheel());
            tracker.spawn(Arc::clone(&p).run_periodic_faults());
            if p.config.mo.is_some() {
                tracker.spawn(Arc::clone(&p).run_mo());
            }
            tracker.spawn(accept(p, listener, tracker.clone()));
        }
        Ok(SimHandle {
            inner: Arc::new(Inner {
                personas,
                shutdown,
                tracker,
            }),
        })
    }
}

async fn accept(p: Arc<Persona>, listener: TcpListener, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            () = p.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => match &p.tls {
                None => {
                    tracker.spawn(conn::serve(Arc::clone(&p), stream, peer));
                }
                Some(tls) => {
                    tracker.spawn(conn::serve_tls(Arc::clone(&p), tls.clone(), stream, peer));
                }
            },
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                warn!(persona = %p.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

struct Inner {
    personas: Vec<Arc<Persona>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: nobody can stop the tasks any more, so stop them now.
        self.shutdown.cancel();
    }
}

/// A running simulator. Cheap to clone; every clone drives the same simulator.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

impl SimHandle {
    fn persona(&self, name: &str) -> Result<&Arc<Persona>, SimError> {
        self.inner
            .personas
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| SimError::UnknownPersona(name.to_string()))
    }

    /// The address a persona listens on.
    ///
    /// # Panics
    /// When no persona has that name: a test that asks for a persona it did not configure is
    /// wrong. [`SimHandle::try_persona_addr`] does not panic.
    pub fn persona_addr(&self, name: &str) -> SocketAddr {
        match self.try_persona_addr(name) {
            Some(addr) => addr,
            None => panic!("no persona named `{name}`"),
        }
    }

    pub fn try_persona_addr(&self, name: &str) -> Option<SocketAddr> {
        self.persona(name).ok().map(|p| p.addr)
    }

    /// Every persona, in config order.
    pub fn personas(&self) -> Vec<PersonaInfo> {
        self.inner.personas.iter().map(|p| p.info()).collect()
    }

    pub fn stats(&self, name: &str) -> Result<PersonaStats, SimError> {
        Ok(self.persona(name)?.stats())
    }

    /// Everything in the persona's received log, oldest first.
    pub fn received(&self, name: &str) -> Result<Vec<Received>, SimError> {
        Ok(self.persona(name)?.received(usize::MAX))
    }

    /// The last `limit` received messages, oldest first.
    pub fn received_last(&self, name: &str, limit: usize) -> Result<Vec<Received>, SimError> {
        Ok(self.persona(name)?.received(limit))
    }

    /// Switches a fault on or off.
    pub fn fault(&self, name: &str, fault: Fault) -> Result<(), SimError> {
        self.persona(name)?
            .apply_fault(&fault)
            .map_err(SimError::Invalid)
    }

    /// Sends a mobile-originated message to a receiver bind of the account (queued until one
    /// binds).
    pub fn inject_mo(&self, name: &str, mo: Mo) -> Result<(), SimError> {
        self.persona(name)?
            .inject_mo(&mo)
            .map_err(SimError::Invalid)
    }

    /// Every persona back to its starting state, binds excepted: counters, logs, queues,
    /// scheduled receipts, faults, numbering and random streams.
    pub fn reset(&self) {
        for p in &self.inner.personas {
            p.reset();
        }
    }

    /// The HTTP control API for this simulator (serve it with `axum::serve`).
    pub fn router(&self) -> axum::Router {
        control::router(self.clone())
    }

    /// Closes every connection and listener and waits for every task to end.
    pub async fn shutdown(self) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

//! gateway.yaml: every section of the gateway in one file, validated as a whole before
//! anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::api::{ApiConfig, ApiSettings, ClientConfig, ClientSettings, validate_clients};
use crate::carrier::{CarrierConfig, CarrierSettings, validate_carriers};
use crate::config::{self, ConfigError, Spanned};
use crate::engine::EngineSettings;
use crate::routes::RouteTable;
use crate::store::{StoreConfig, StoreOptions};
use crate::webhook::{WebhookConfig, WebhookSettings};

/// gateway.yaml as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub api: ApiConfig,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    pub store: StoreConfig,
    /// The routing table, relative to this file.
    pub routes: Spanned<PathBuf>,
    #[serde(default)]
    pub carriers: Vec<CarrierConfig>,
    #[serde(default)]
    pub webhooks: Option<WebhookConfig>,
    #[serde(default)]
    pub engine: EngineConfig,
}

/// `engine:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Send a status webhook when a message is submitted, not only when it is final.
    #[serde(default)]
    pub notify_submitted: Option<Spanned<bool>>,
    /// Half-life of route health: how fast old outcomes stop counting.
    #[serde(default)]
    pub health_half_life: Option<Spanned<String>>,
}

/// A validated gateway.yaml, with its routing table loaded.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub file: PathBuf,
    pub listen: SocketAddr,
    pub api: ApiSettings,
    pub clients: Vec<ClientSettings>,
    pub store_path: PathBuf,
    pub store: StoreOptions,
    pub routes_path: PathBuf,
    pub routes: Arc<RouteTable>,
    pub carriers: Vec<CarrierSettings>,
    pub webhooks: WebhookSettings,
    pub engine: EngineSettings,
    /// Carriers of the table with no connection here: the router treats them as down.
    pub unconnected: Vec<String>,
}

/// Loads and validates gateway.yaml and the routing table it names.
pub fn load(path: &Path) -> Result<GatewaySettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::whole(path, "", format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// [`load`] from text; relative paths are taken from `file`'s directory.
pub fn parse(file: &Path, text: &str) -> Result<GatewaySettings, ConfigError> {
    let raw: GatewayConfig = config::parse(file, text)?;
    let routes_path = base(file).join(&raw.routes.value);
    let routes = RouteTable::load(&routes_path).map(Arc::new)?;
    build(file, raw, routes)
}

/// [`parse`] with a routing table already loaded (the demo's, built into the binary).
pub fn parse_with_routes(
    file: &Path,
    text: &str,
    routes: Arc<RouteTable>,
) -> Result<GatewaySettings, ConfigError> {
    let raw: GatewayConfig = config::parse(file, text)?;
    build(file, raw, routes)
}

fn base(file: &Path) -> &Path {
    file.parent().unwrap_or_else(|| Path::new("."))
}

fn build(
    file: &Path,
    raw: GatewayConfig,
    routes: Arc<RouteTable>,
) -> Result<GatewaySettings, ConfigError> {
    let base = base(file);
    let (listen, api) = raw.api.validate(file)?;
    let clients = validate_clients(file, &raw.clients)?;
    let store = raw.store.validate(file)?;
    let store_path = base.join(&raw.store.path.value);
    let routes_path = base.join(&raw.routes.value);
    let carriers = validate_carriers(file, &raw.carriers)?;
    let webhooks = match &raw.webhooks {
        Some(w) => w.validate(file)?,
        None => WebhookSettings::default(),
    };
    let mut engine = EngineSettings::default();
    if let Some(n) = &raw.engine.notify_submitted {
        engine.notify_submitted = n.value;
    }
    if let Some(h) = &raw.engine.health_half_life {
        engine.health.half_life = config::duration::parse(&h.value)
            .map_err(|m| ConfigError::at(file, h, "engine.health_half_life", m))?;
    }
    let connected: std::collections::HashSet<&str> = carriers.iter().map(|c| &*c.name).collect();
    let unconnected = routes
        .carriers()
        .iter()
        .filter(|c| !connected.contains(&*c.name))
        .map(|c| c.name.to_string())
        .collect();
    for (i, c) in raw.carriers.iter().enumerate() {
        if routes.carrier_id(&c.name.value).is_none() {
            return Err(ConfigError::at(
                file,
                &c.name,
                format!("carriers[{i}].name"),
                format!(
                    "carrier `{}` is not in the routing table {}; add it there (kind, \
                     reaches, cost) or remove the connection",
                    c.name.value,
                    routes_path.display()
                ),
            ));
        }
    }
    Ok(GatewaySettings {
        file: file.to_path_buf(),
        listen,
        api,
        clients,
        store_path,
        store,
        routes_path,
        routes,
        carriers,
        webhooks,
        engine,
        unconnected,
    })
}

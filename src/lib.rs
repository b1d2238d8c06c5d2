//! Gannet: an SMPP gateway and carrier routing engine.
//!
//! # Layout
//! - [`cli`]: subcommands with logic of their own (`pdu decode`), reachable from tests.
//! - [`config`]: typed YAML loading; errors name the file, line and key.
//! - [`carrier`]: the per-carrier pools of SMPP binds: windows, TPS, throttling, reconnects.
//! - [`text`]: GSM 03.38 / UCS-2 encoding, encoding choice, segmentation, transliteration.
//! - [`number`]: E.164 normalisation, country, number type.
//! - [`routes`]: routes.yaml loaded, validated and compiled into an immutable prefix table.
//! - [`router`]: the pure routing decision, its explanation, and carrier health scores.
//! - [`dlr`]: delivery receipt correlation, id normalisation, deadlines, multipart status.
//! - [`loadgen`]: bounded load clients (`gannet loadgen smpp`) that count what the SMSC answers.
//! - [`sim`]: the SMSC simulator: carrier personas, outcomes, faults, stats (`gannet sim`).
//! - [`store`]: durable messages, attempts, idempotency and pending indexes; group commit.
//! - [`api`]: the HTTP API (`fn router(state) -> Router`): accept, status, keys, limits, metrics.
//! - [`webhook`]: signed outbound webhooks (status callbacks, voice fallback), retried with backoff.

pub mod api;
pub mod carrier;
pub mod cli;
pub mod config;
pub mod dlr;
pub mod engine;
pub mod loadgen;
pub mod number;
pub mod router;
pub mod routes;
pub mod service;
pub mod sim;
pub mod store;
pub mod text;
pub mod webhook;

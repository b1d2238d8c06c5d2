//! The HTTP API: the accept side of the gateway (being built).

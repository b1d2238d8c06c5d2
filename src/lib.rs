//! Gannet: an SMPP gateway and carrier routing engine.

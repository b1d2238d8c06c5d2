//! Subcommands that are more than a call into one module: their logic lives here so tests
//! reach it without spawning the binary.

pub mod demo;
pub mod number;
pub mod pdu;

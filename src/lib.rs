//! Gannet: an SMPP gateway and carrier routing engine.
//!
//! # Layout
//! - [`config`]: typed YAML loading; errors name the file, line and key.
//! - [`text`]: GSM 03.38 / UCS-2 encoding, encoding choice, segmentation, transliteration.
//! - [`number`]: E.164 normalisation, country, number type.

pub mod config;
pub mod number;
pub mod text;

//! Loading typed YAML configuration that fails fast.
//!
//! Every config file of Gannet (gateway.yaml, routes.yaml, sim.yaml) goes through [`load`]:
//! unknown keys are refused by the types (`#[serde(deny_unknown_fields)]`), and every error,
//! from the YAML parser, from serde, or from a type's own validation, names the file, the line
//! and the key. Nothing falls back to defaults when a file is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use serde_saphyr::Spanned;

/// A configuration error: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// The key path (`carriers.mno-a.window`), when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error found by validation after parsing, located by a [`Spanned`] value.
    pub fn at<T>(
        file: &Path,
        spanned: &Spanned<T>,
        key: impl Into<String>,
        msg: impl Into<String>,
    ) -> Self {
        let loc = spanned.referenced;
        let known = loc.line() > 0;
        ConfigError {
            file: file.to_path_buf(),
            line: known.then(|| loc.line() as u32),
            column: known.then(|| loc.column() as u32),
            key: Some(key.into()),
            message: msg.into(),
        }
    }

    /// An error with no position (e.g. a key that is missing altogether).
    pub fn whole(file: &Path, key: impl Into<String>, msg: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            key: Some(key.into()),
            message: msg.into(),
        }
    }
}

/// Reads and parses a YAML file into `T`.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        key: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Parses YAML text into `T`; `file` names it in errors.
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let loc = e.location();
        let message = first_line_message(&e.to_string());
        ConfigError {
            file: file.to_path_buf(),
            line: loc.map(|l| l.line() as u32).filter(|&l| l > 0),
            column: loc.map(|l| l.column() as u32).filter(|&c| c > 0),
            key: None,
            message,
        }
    })
}

/// serde-saphyr renders a multi-line snippet; the first line carries the message. The
/// location is reported separately, so drop its own "at line x column y" suffix.
fn first_line_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered).trim();
    match first.find(" at line ") {
        Some(i) => first[..i].to_string(),
        None => first.to_string(),
    }
}

/// Human durations in config: `250ms`, `30s`, `5m`, `2h`, `1.5s`, `1d`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    /// Parses `250ms`, `30s`, `1.5s`, `5m`, `2h`, `1d`. A bare number is refused: the unit
    /// must be said.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration `{s}` has no unit (ms, s, m, h, d)"))?;
        let (num, unit) = s.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("duration `{s}` does not start with a number"))?;
        let secs = match unit.trim() {
            "ms" => value / 1000.0,
            "s" => value,
            "m" | "min" => value * 60.0,
            "h" => value * 3600.0,
            "d" => value * 86400.0,
            "us" | "µs" => value / 1_000_000.0,
            other => return Err(format!("duration `{s}` has an unknown unit `{other}`")),
        };
        if !secs.is_finite() || !(0.0..=1.0e9).contains(&secs) {
            return Err(format!("duration `{s}` is out of range"));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    /// `#[serde(with = "crate::config::duration")]`
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(D::Error::custom)
    }

    /// `#[serde(with = "crate::config::duration::option")]`
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, de::Error};

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(s) => super::parse(&s).map(Some).map_err(D::Error::custom),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::time::Duration;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: Spanned<String>,
        #[serde(with = "duration")]
        timeout: Duration,
        #[serde(default)]
        window: u32,
    }

    #[test]
    fn parses_and_locates_values() {
        let s: Sample = parse(Path::new("x.yaml"), "name: a\ntimeout: 250ms\nwindow: 4\n").unwrap();
        assert_eq!(s.timeout, Duration::from_millis(250));
        assert_eq!(s.window, 4);
        let e = ConfigError::at(Path::new("x.yaml"), &s.name, "name", "bad");
        assert_eq!(e.to_string(), "x.yaml:1:7: name: bad");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e =
            parse::<Sample>(Path::new("x.yaml"), "name: a\ntimeout: 1s\nwindw: 4\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("x.yaml:3:"), "{e}");
        assert!(e.message.contains("windw"), "{e}");
    }

    #[test]
    fn bad_duration_is_refused_with_its_line() {
        let e = parse::<Sample>(Path::new("x.yaml"), "name: a\ntimeout: 30\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("no unit"), "{e}");
        assert_eq!(duration::parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration::parse("2m"), Ok(Duration::from_secs(120)));
        assert!(duration::parse("5 parsecs").is_err());
        assert!(duration::parse("-1s").is_err());
    }
}

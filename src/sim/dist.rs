//! Delay distributions for response latency and receipt delays.
//!
//! In YAML a distribution is either a plain duration (`250ms`, fixed) or a map with one of
//! these shapes:
//!
//! | shape | meaning |
//! |---|---|
//! | `{ fixed: 2s }` | always 2 s |
//! | `{ min: 1s, max: 5s }` | uniform between min and max |
//! | `{ median: 2s, p99: 20s }` | log-normal with that median and 99th percentile |
//! | `{ mean: 3s }` | exponential with that mean |
//!
//! The log-normal shape is what receipt delays look like in the field: most within seconds,
//! a long tail. Its σ follows from the two percentiles (`ln(p99/median) / 2.326`, 2.326 being
//! the 99th percentile of the standard normal). Samples of the unbounded shapes are capped at
//! ten times p99 (log-normal) or twenty times the mean (exponential) so that one draw cannot
//! park a message for days.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::rng::Rng;

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// A distribution of durations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Fixed(Duration),
    Uniform { min: Duration, max: Duration },
    LogNormal { median: Duration, p99: Duration },
    Exponential { mean: Duration },
}

impl Default for Dist {
    fn default() -> Dist {
        Dist::Fixed(Duration::ZERO)
    }
}

impl Dist {
    /// Always zero: lets the hot path skip timers altogether.
    pub fn is_zero(&self) -> bool {
        matches!(self, Dist::Fixed(d) if d.is_zero())
    }

    /// Checks that the parameters make sense; the message names the offending parameter.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Dist::Fixed(_) => Ok(()),
            Dist::Uniform { min, max } if min > max => {
                Err(format!("min ({}) is above max ({})", show(min), show(max)))
            }
            Dist::Uniform { .. } => Ok(()),
            Dist::LogNormal { median, .. } if median.is_zero() => {
                Err("median must be above zero".into())
            }
            Dist::LogNormal { median, p99 } if p99 < median => Err(format!(
                "p99 ({}) is below the median ({})",
                show(p99),
                show(median)
            )),
            Dist::LogNormal { .. } => Ok(()),
            Dist::Exponential { mean } if mean.is_zero() => Err("mean must be above zero".into()),
            Dist::Exponential { .. } => Ok(()),
        }
    }

    /// One draw. Uses one or two values of `rng` (none for a fixed distribution).
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        match *self {
            Dist::Fixed(d) => d,
            Dist::Uniform { min, max } => {
                let span = (max - min).as_nanos() as f64;
                min + Duration::from_nanos((span * rng.next_f64()) as u64)
            }
            Dist::LogNormal { median, p99 } => {
                let m = median.as_secs_f64();
                let sigma = (p99.as_secs_f64() / m).ln() / Z99;
                let x = (m.ln() + sigma * rng.normal()).exp();
                secs(x.min(p99.as_secs_f64() * 10.0))
            }
            Dist::Exponential { mean } => {
                let m = mean.as_secs_f64();
                let x = -m * (1.0 - rng.next_f64()).ln();
                secs(x.min(m * 20.0))
            }
        }
    }
}

fn secs(x: f64) -> Duration {
    if x.is_finite() && x > 0.0 {
        Duration::from_secs_f64(x)
    } else {
        Duration::ZERO
    }
}

fn show(d: Duration) -> String {
    format!("{d:?}")
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Fixed(d) => write!(f, "{d:?}"),
            Dist::Uniform { min, max } => write!(f, "uniform {min:?}..{max:?}"),
            Dist::LogNormal { median, p99 } => {
                write!(f, "log-normal median {median:?} p99 {p99:?}")
            }
            Dist::Exponential { mean } => write!(f, "exponential mean {mean:?}"),
        }
    }
}

/// The map form, before its shape is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistMap {
    #[serde(default, with = "crate::config::duration::option")]
    fixed: Option<Duration>,
    #[serde(default, with = "crate::config::duration::option")]
    min: Option<Duration>,
    #[serde(default, with = "crate::config::duration::option")]
    max: Option<Duration>,
    #[serde(default, with = "crate::config::duration::option")]
    median: Option<Duration>,
    #[serde(default, with = "crate::config::duration::option")]
    p99: Option<Duration>,
    #[serde(default, with = "crate::config::duration::option")]
    mean: Option<Duration>,
}

const SHAPES: &str = "a duration, or one of { fixed }, { min, max }, { median, p99 }, { mean }";

impl DistMap {
    fn into_dist(self) -> Result<Dist, String> {
        match self {
            DistMap {
                fixed: Some(d),
                min: None,
                max: None,
                median: None,
                p99: None,
                mean: None,
            } => Ok(Dist::Fixed(d)),
            DistMap {
                fixed: None,
                min: Some(min),
                max: Some(max),
                median: None,
                p99: None,
                mean: None,
            } => Ok(Dist::Uniform { min, max }),
            DistMap {
                fixed: None,
                min: None,
                max: None,
                median: Some(median),
                p99: Some(p99),
                mean: None,
            } => Ok(Dist::LogNormal { median, p99 }),
            DistMap {
                fixed: None,
                min: None,
                max: None,
                median: None,
                p99: None,
                mean: Some(mean),
            } => Ok(Dist::Exponential { mean }),
            _ => Err(format!("a delay distribution is {SHAPES}")),
        }
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dist, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Dist;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SHAPES)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dist, E> {
                crate::config::duration::parse(s)
                    .map(Dist::Fixed)
                    .map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Dist, A::Error> {
                let m = DistMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                m.into_dist().map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(yaml: &str) -> Result<Dist, crate::config::ConfigError> {
        #[derive(Deserialize)]
        struct W {
            d: Dist,
        }
        crate::config::parse::<W>(Path::new("t.yaml"), yaml).map(|w| w.d)
    }

    #[test]
    fn shapes_parse() {
        assert_eq!(
            parse("d: 250ms").unwrap(),
            Dist::Fixed(Duration::from_millis(250))
        );
        assert_eq!(
            parse("d: { fixed: 1s }").unwrap(),
            Dist::Fixed(Duration::from_secs(1))
        );
        assert_eq!(
            parse("d: { min: 1s, max: 2s }").unwrap(),
            Dist::Uniform {
                min: Duration::from_secs(1),
                max: Duration::from_secs(2)
            }
        );
        assert!(matches!(
            parse("d: { median: 2s, p99: 20s }").unwrap(),
            Dist::LogNormal { .. }
        ));
        assert!(matches!(
            parse("d: { mean: 2s }").unwrap(),
            Dist::Exponential { .. }
        ));
    }

    #[test]
    fn bad_shapes_are_refused_with_a_line() {
        let e = parse("\nd: { min: 1s }").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("min, max"), "{e}");
        let e = parse("d: { median: 1s, p98: 2s }").unwrap_err();
        assert!(e.message.contains("p98"), "{e}");
        let e = parse("d: 5").unwrap_err();
        assert!(e.to_string().contains("d"), "{e}");
    }

    #[test]
    fn checks() {
        let s = Duration::from_secs;
        assert!(
            Dist::Uniform {
                min: s(2),
                max: s(1)
            }
            .check()
            .is_err()
        );
        assert!(
            Dist::LogNormal {
                median: s(2),
                p99: s(1)
            }
            .check()
            .is_err()
        );
        assert!(
            Dist::LogNormal {
                median: s(0),
                p99: s(1)
            }
            .check()
            .is_err()
        );
        assert!(Dist::Exponential { mean: s(0) }.check().is_err());
        assert!(Dist::Fixed(s(0)).is_zero());
    }

    #[test]
    fn lognormal_percentiles_hold() {
        let d = Dist::LogNormal {
            median: Duration::from_secs(2),
            p99: Duration::from_secs(20),
        };
        let mut rng = Rng::new(9);
        let mut v: Vec<f64> = (0..20_000)
            .map(|_| d.sample(&mut rng).as_secs_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let p99 = v[v.len() * 99 / 100];
        assert!((median - 2.0).abs() < 0.15, "{median}");
        assert!((p99 - 20.0).abs() < 3.0, "{p99}");
    }

    #[test]
    fn uniform_stays_in_range_and_exponential_has_its_mean() {
        let (lo, hi) = (Duration::from_millis(100), Duration::from_millis(300));
        let u = Dist::Uniform { min: lo, max: hi };
        let e = Dist::Exponential {
            mean: Duration::from_secs(1),
        };
        let mut rng = Rng::new(3);
        let mut sum = 0.0;
        for _ in 0..20_000 {
            let x = u.sample(&mut rng);
            assert!(x >= lo && x <= hi);
            sum += e.sample(&mut rng).as_secs_f64();
        }
        assert!((sum / 20_000.0 - 1.0).abs() < 0.05, "{}", sum / 20_000.0);
    }
}

//! Destination numbers the API accepts: a weighted mix over country codes or longer prefixes,
//! each drawn from a pool of numbers that libphonenumber classifies as mobile there.
//!
//! A random string of digits after `+91` is often not a valid Indian number, and the API
//! refuses what is not valid (400 `invalid_number`), so a load run with made-up digits would
//! measure refusals. Each pool is built once, before the run: start from the numbering plan's
//! example number of the wanted type for the prefix's country (every region has one), put the
//! prefix's own digits in front, vary the trailing digits, and keep each candidate that
//! [`crate::number::parse`] (what the API uses) reads as the wanted type. Choosing a number
//! while sending is then an index into a pool: no parsing on the hot path.
//!
//! "Mobile" includes fixed-line-or-mobile: the plans of North America (and Mexico since 2019)
//! do not tell the two apart, and the API admits them as SMS destinations. Landlines for
//! `--landline-share` come only from prefixes whose plan has a distinct fixed-line type.

use std::collections::HashSet;

use anyhow::{Context, bail};
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberType, enums::Region};

use crate::loadgen::args::parse_weighted;
use crate::number::{self, NumberType};

/// Most numbers kept per prefix and type.
pub const MAX_POOL: usize = 1000;
/// Candidates tried per prefix and type before giving up on filling the pool.
const MAX_TRIES: usize = 40 * MAX_POOL;
/// Trailing digits varied at most (fewer when a prefix leaves fewer free).
const MAX_VARIED: usize = 6;

/// What kind of line a pool holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Takes SMS: mobile, or fixed-line-or-mobile where the plan does not tell.
    Mobile,
    /// A landline (fixed line): refused by an SMS-only API, sent by voice where a route has
    /// a voice fallback.
    Landline,
}

impl LineKind {
    fn accepts(self, t: NumberType) -> bool {
        match self {
            LineKind::Mobile => matches!(t, NumberType::Mobile | NumberType::FixedLineOrMobile),
            LineKind::Landline => t == NumberType::FixedLine,
        }
    }

    fn example_type(self) -> PhoneNumberType {
        match self {
            LineKind::Mobile => PhoneNumberType::Mobile,
            LineKind::Landline => PhoneNumberType::FixedLine,
        }
    }
}

/// One prefix of the mix and its share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixEntry {
    pub prefix: String,
    pub weight: u32,
}

/// `91:40,52:20,1`: prefixes (digits, country code first, an optional `+`) with weights.
pub fn parse_mix(items: &[String]) -> anyhow::Result<Vec<MixEntry>> {
    let mut out: Vec<MixEntry> = Vec::new();
    for item in items {
        let (prefix, weight) = parse_weighted(item, "--mix")?;
        let prefix = prefix.strip_prefix('+').unwrap_or(prefix);
        if prefix.is_empty() || prefix.len() > 12 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--mix {item}: a prefix is 1 to 12 digits, country code first");
        }
        if out.iter().any(|e| e.prefix == prefix) {
            bail!("--mix {item}: prefix {prefix} given twice");
        }
        out.push(MixEntry {
            prefix: prefix.to_owned(),
            weight,
        });
    }
    if out.is_empty() {
        bail!("--mix: give at least one prefix");
    }
    Ok(out)
}

/// The destinations of a run: message number → E.164 number, deterministic.
#[derive(Clone, Debug)]
pub struct Destinations {
    mobile: Mix,
    /// Present when some messages go to landlines.
    landline: Option<Mix>,
    /// Landlines per million messages.
    landline_ppm: u64,
}

#[derive(Clone, Debug)]
struct Mix {
    /// E.164 numbers with the `+`, per prefix.
    pools: Vec<Vec<Box<[u8]>>>,
    /// Pool index per step of the rotation, `weight` steps per prefix, interleaved.
    rotation: Vec<u16>,
}

impl Mix {
    fn new(pools: Vec<(Vec<Box<[u8]>>, u32)>) -> Mix {
        let weights: Vec<u32> = pools.iter().map(|(_, w)| *w).collect();
        Mix {
            pools: pools.into_iter().map(|(p, _)| p).collect(),
            rotation: interleave(&weights),
        }
    }

    #[inline]
    fn pick(&self, message: u64) -> &[u8] {
        let step = (message % self.rotation.len() as u64) as usize;
        let pool = &self.pools[usize::from(self.rotation[step])];
        // Walk each pool in a scrambled order, so consecutive messages to one prefix do not
        // go to neighbouring numbers.
        let turn = message / self.rotation.len() as u64;
        &pool[(splitmix64(turn) % pool.len() as u64) as usize]
    }
}

impl Destinations {
    /// Builds the pools: `pool_size` numbers per prefix at most (fewer for a short run).
    pub fn new(mix: &[MixEntry], landline_share: f64, pool_size: usize) -> anyhow::Result<Self> {
        if !(0.0..=1.0).contains(&landline_share) {
            bail!("--landline-share must be between 0 and 1, not {landline_share}");
        }
        let landline_ppm = (landline_share * 1e6).round() as u64;
        let size = pool_size.clamp(1, MAX_POOL);
        let mut mobile = Vec::new();
        if landline_ppm < 1_000_000 {
            for e in mix {
                let pool = pool(&e.prefix, LineKind::Mobile, size)
                    .with_context(|| format!("--mix {}", e.prefix))?;
                mobile.push((pool, e.weight));
            }
        }
        let landline = if landline_ppm > 0 {
            let mut pools = Vec::new();
            for e in mix {
                // A plan that does not separate landlines (the US) has none to give.
                if let Ok(p) = pool(&e.prefix, LineKind::Landline, size) {
                    pools.push((p, e.weight));
                }
            }
            if pools.is_empty() {
                bail!(
                    "--landline-share: no prefix of --mix has landlines its numbering plan \
                     tells apart from mobiles (North America's does not)"
                );
            }
            Some(Mix::new(pools))
        } else {
            None
        };
        let mobile = if mobile.is_empty() {
            // Every message is a landline: the mobile mix is never used.
            landline.clone().context("--mix: no destinations")?
        } else {
            Mix::new(mobile)
        };
        Ok(Destinations {
            mobile,
            landline,
            landline_ppm,
        })
    }

    /// Whether message `message` goes to a landline: exactly `share` of every million
    /// consecutive messages, spread evenly.
    #[inline]
    pub fn is_landline(&self, message: u64) -> bool {
        let p = self.landline_ppm;
        p > 0
            && (message.wrapping_add(1).wrapping_mul(p) / 1_000_000)
                > (message.wrapping_mul(p) / 1_000_000)
    }

    /// The number of message `message`, E.164 with the `+`.
    #[inline]
    pub fn number(&self, message: u64) -> &[u8] {
        match &self.landline {
            Some(l) if self.is_landline(message) => l.pick(message),
            _ => self.mobile.pick(message),
        }
    }

    /// Messages in one turn of the mix: over each such run of message numbers the prefixes
    /// get exactly their weights.
    pub fn cycle(&self) -> u64 {
        self.mobile.rotation.len().max(1) as u64
    }

    /// Numbers in the mobile pools, per prefix (for the report).
    pub fn pool_sizes(&self) -> Vec<usize> {
        self.mobile.pools.iter().map(Vec::len).collect()
    }
}

/// A cycle of indices into `weights`, each index `weight` times, spread out: 2,1 gives
/// 0 1 0. A short run then sees the mix too, not 40 Indian numbers and then 20 Mexican ones.
pub fn interleave(weights: &[u32]) -> Vec<u16> {
    let total: u32 = weights.iter().sum();
    let mut cycle = Vec::with_capacity(total as usize);
    let mut credit: Vec<i64> = vec![0; weights.len()];
    for _ in 0..total {
        for (c, w) in credit.iter_mut().zip(weights) {
            *c += i64::from(*w);
        }
        // The most owed, the first of equals.
        let mut best = 0;
        for (i, c) in credit.iter().enumerate() {
            if *c > credit[best] {
                best = i;
            }
        }
        credit[best] -= i64::from(total);
        cycle.push(best as u16);
    }
    cycle
}

/// Splits a prefix into its country calling code and the national digits after it.
fn calling_code(prefix: &str) -> anyhow::Result<(i32, Vec<Region>, &str)> {
    // Calling codes are a prefix code (ITU-T E.164): at most one of 1, 2 or 3 leading
    // digits is assigned.
    for len in 1..=prefix.len().min(3) {
        let Ok(cc) = prefix[..len].parse::<i32>() else {
            continue;
        };
        if let Some(regions) = PHONE_NUMBER_UTIL.get_regions_for_country_calling_code(cc) {
            let mut regions: Vec<Region> = regions.filter(|r| *r != Region::World).collect();
            if regions.is_empty() {
                bail!("+{cc} is a non-geographic calling code: no mobile numbers under it");
            }
            let national = &prefix[len..];
            // A bare calling code means its main country (+1 the US, not Antigua); a longer
            // prefix may lead into any country sharing the code (+1268 is Antigua's).
            if national.is_empty() {
                regions.truncate(1);
            }
            return Ok((cc, regions, national));
        }
    }
    bail!("no country calling code starts {prefix}")
}

/// Up to `size` distinct numbers of `kind` under `prefix`.
fn pool(prefix: &str, kind: LineKind, size: usize) -> anyhow::Result<Vec<Box<[u8]>>> {
    let (cc, regions, national) = calling_code(prefix)?;
    let cc = cc.to_string();
    let mut rng = Rng(prefix
        .bytes()
        .fold(u64::from(kind == LineKind::Landline), |h, b| {
            splitmix64(h ^ u64::from(b))
        }));
    let names: Vec<String> = regions
        .iter()
        .map(|r| r.as_region_str().to_string())
        .collect();
    let mut seen: HashSet<Box<[u8]>> = HashSet::new();
    let mut out = Vec::new();
    let mut tries = 0usize;
    let mut keep = |cand: &[u8], out: &mut Vec<Box<[u8]>>| {
        let Ok(text) = std::str::from_utf8(cand) else {
            return;
        };
        if let Ok(n) = number::parse(text, None)
            && kind.accepts(n.number_type())
            && n.region().is_some_and(|r| names.iter().any(|x| x == r))
            && n.e164().as_bytes() == cand
            && !seen.contains(cand)
        {
            seen.insert(cand.into());
            out.push(cand.into());
        }
    };

    // National significant numbers of the example numbers, the main region's first.
    let examples: Vec<String> = regions
        .iter()
        .filter_map(|r| {
            PHONE_NUMBER_UTIL
                .get_example_number_for_type_and_region(*r, kind.example_type())
                .ok()
        })
        .map(|n| n.get_national_significant_number())
        .filter(|nsn| nsn.len() > national.len())
        .collect();

    // From each example: the prefix's national digits on top, the last digits varied, fewer
    // of them while nothing comes out valid.
    for nsn in &examples {
        let mut base = format!("+{cc}{national}").into_bytes();
        base.extend_from_slice(&nsn.as_bytes()[national.len()..]);
        let free = nsn.len() - national.len();
        let mut varied = free.min(MAX_VARIED);
        while out.len() < size && tries < MAX_TRIES {
            let before = out.len();
            let mut cand = base.clone();
            for _ in 0..200 {
                if out.len() >= size {
                    break;
                }
                tries += 1;
                let tail = cand.len() - varied;
                rng.digits(&mut cand[tail..]);
                keep(&cand, &mut out);
            }
            if out.len() == before {
                if varied <= 1 {
                    keep(&base, &mut out);
                    break;
                }
                varied -= 1;
            }
        }
        if out.len() >= size {
            break;
        }
    }

    // The example does not continue the prefix's digits (a prefix into a range the example
    // is not in): every digit after the prefix at random, at the lengths of the examples.
    if out.is_empty() {
        let mut lens: Vec<usize> = examples.iter().map(String::len).collect();
        if lens.is_empty() {
            lens = (8..=11).collect();
        }
        lens.sort_unstable();
        lens.dedup();
        let mut blind = 0usize;
        // Give up early on a prefix that yields nothing (a plan without the type).
        while out.len() < size && tries < MAX_TRIES && (blind < 2_000 || !out.is_empty()) {
            for &len in &lens {
                blind += 1;
                tries += 1;
                let mut cand = format!("+{cc}{national}").into_bytes();
                let start = cand.len();
                cand.resize(start + len.saturating_sub(national.len()), b'0');
                rng.digits(&mut cand[start..]);
                keep(&cand, &mut out);
            }
        }
    }
    if out.is_empty() {
        let what = match kind {
            LineKind::Mobile => "mobile",
            LineKind::Landline => "landline",
        };
        bail!("found no valid {what} number under +{prefix}");
    }
    Ok(out)
}

/// SplitMix64 (Steele, Lea, Flood 2014): enough to spread digits; deterministic per prefix.
struct Rng(u64);

impl Rng {
    fn digits(&mut self, out: &mut [u8]) {
        for d in out {
            self.0 = self.0.wrapping_add(1);
            *d = b'0' + (splitmix64(self.0) % 10) as u8;
        }
    }
}

#[inline]
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(s: &str) -> Vec<MixEntry> {
        parse_mix(&s.split(',').map(str::to_owned).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn mix_parses_and_refuses() {
        assert_eq!(
            mix("91:40,+52:20,1"),
            vec![
                MixEntry {
                    prefix: "91".into(),
                    weight: 40
                },
                MixEntry {
                    prefix: "52".into(),
                    weight: 20
                },
                MixEntry {
                    prefix: "1".into(),
                    weight: 1
                },
            ]
        );
        for bad in ["", "9x", "91:0", "91,91", "1234567890123"] {
            let items: Vec<String> = bad.split(',').map(str::to_owned).collect();
            assert!(parse_mix(&items).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_pooled_number_parses_as_the_wanted_type() {
        let d = Destinations::new(&mix("91:40,52:20,1:20,44:10,504:10,9198:5"), 0.0, 50).unwrap();
        let mut by_prefix = std::collections::BTreeMap::<String, u64>::new();
        for m in 0..105 {
            let n = std::str::from_utf8(d.number(m)).unwrap();
            let parsed = number::parse(n, None).unwrap();
            assert!(
                LineKind::Mobile.accepts(parsed.number_type()),
                "{n}: {:?}",
                parsed.number_type()
            );
            let cc = parsed.country_code().to_string();
            *by_prefix.entry(cc).or_default() += 1;
        }
        // One full rotation: the weights exactly (9198 counted under 91).
        assert_eq!(by_prefix["91"], 45);
        assert_eq!(by_prefix["52"], 20);
        assert_eq!(by_prefix["1"], 20);
        assert_eq!(by_prefix["44"], 10);
        assert_eq!(by_prefix["504"], 10);
        assert!(
            d.pool_sizes().iter().all(|&n| n == 50),
            "{:?}",
            d.pool_sizes()
        );
        for m in 0..1000 {
            let n = d.number(m);
            if m % 105 == 0 {
                assert!(n.starts_with(b"+91"));
            }
        }
    }

    #[test]
    fn longer_prefixes_are_kept() {
        let d = Destinations::new(&mix("9198,4477"), 0.0, 20).unwrap();
        for m in 0..40 {
            let n = d.number(m);
            assert!(n.starts_with(b"+9198") || n.starts_with(b"+4477"), "{n:?}");
        }
    }

    #[test]
    fn landline_share_is_exact_and_typed() {
        let d = Destinations::new(&mix("44,1"), 0.05, 50).unwrap();
        let mut landlines = 0;
        for m in 0..1000 {
            let n = std::str::from_utf8(d.number(m)).unwrap();
            let t = number::parse(n, None).unwrap().number_type();
            if d.is_landline(m) {
                landlines += 1;
                assert_eq!(t, NumberType::FixedLine, "{n}");
                assert!(
                    n.starts_with("+44"),
                    "the US plan has no separate landlines: {n}"
                );
            } else {
                assert!(LineKind::Mobile.accepts(t), "{n}");
            }
        }
        assert_eq!(landlines, 50);
        assert!(Destinations::new(&mix("1"), 0.1, 10).is_err());
        assert!(Destinations::new(&mix("44"), 1.5, 10).is_err());
    }

    #[test]
    fn unknown_prefixes_are_refused() {
        assert!(Destinations::new(&mix("999"), 0.0, 10).is_err());
        assert!(Destinations::new(&mix("800"), 0.0, 10).is_err());
    }
}

//! The consistency check between a site and its center (the old
//! "Gasserver"'s question, answered per meter and day): each end counts
//! the readings of every meter per UTC day and digests them (SHA-256 of
//! their sorted channel, time, value and unit), and the center lists every
//! day where the two differ. The site runs it between two batches, so both
//! ends hold exactly the same stretch of the site's log: the site counts
//! only what it has sent, the center waits until it has applied all of it.

use std::collections::BTreeMap;

use meterhub_storage::archive::{Archive, ReadingQuery, StoredReading};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most days one check covers.
pub const MAX_DAYS: i64 = 92;
const DAY_MS: i64 = 86_400_000;

/// One meter's day as one end holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayDigest {
    /// The meter, in the site's namespace.
    pub meter: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Readings (conflict versions included).
    pub count: u64,
    /// The first 16 hex digits of the SHA-256 of the day's sorted readings.
    pub digest: String,
}

/// What a site sends to its center to be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// Device times from (inclusive), ms.
    pub from_ms: i64,
    /// Device times to (exclusive), ms.
    pub to_ms: i64,
    /// The site's position the digests cover (what it has sent).
    pub through: super::wire::WirePosition,
    /// The site's days.
    pub days: Vec<DayDigest>,
}

/// One side of a difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// Readings.
    pub count: u64,
    /// Their digest.
    pub digest: String,
}

/// A meter's day the two ends hold differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The meter, in the site's namespace.
    pub meter: String,
    /// The UTC day.
    pub day: String,
    /// What the site holds (`None`: nothing).
    pub site: Option<Held>,
    /// What the center holds (`None`: nothing).
    pub center: Option<Held>,
}

/// The most differences a report lists (it counts them all).
const MAX_LISTED: usize = 1000;

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The site.
    pub site: String,
    /// When the center made it, ms.
    pub at_ms: i64,
    /// Device times from, ms.
    pub from_ms: i64,
    /// Device times to, ms.
    pub to_ms: i64,
    /// Meter days compared.
    pub days: usize,
    /// Readings the site counted.
    pub readings: u64,
    /// Days that differ.
    pub different: usize,
    /// The first of them.
    pub differences: Vec<Difference>,
}

impl CheckReport {
    /// Whether both ends hold the same.
    pub fn clean(&self) -> bool {
        self.different == 0
    }
}

/// The UTC day of `ts_ms`.
fn day(ts_ms: i64) -> String {
    let (y, m, d) = meterhub_plugin_api::time::civil_from_days(ts_ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day digests of every meter whose id starts with `prefix` (the
/// prefix taken off), over device times `[from_ms, to_ms)`, counting only
/// readings `keep` takes.
pub fn digests(
    archive: &dyn Archive,
    prefix: &str,
    from_ms: i64,
    to_ms: i64,
    keep: impl Fn(&StoredReading) -> bool,
) -> Result<Vec<DayDigest>, String> {
    let mut out = Vec::new();
    let devices = archive.devices().map_err(|e| format!("cannot list the meters: {e}"))?;
    for device in devices.iter().filter(|d| d.device.starts_with(prefix)) {
        let query = ReadingQuery {
            device: Some(device.device.clone()),
            channel: None,
            from_ms: Some(from_ms),
            to_ms: Some(to_ms),
            limit: usize::MAX,
        };
        let readings = archive.readings(&query).map_err(|e| format!("cannot read meter {}: {e}", device.device))?;
        let mut days: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in readings.iter().filter(|r| keep(r)) {
            let line = format!(
                "{}\t{}\t{}\t{}\n",
                r.reading.channel,
                r.reading.ts_ms,
                r.reading.value.normalize(),
                r.reading.unit
            );
            days.entry(day(r.reading.ts_ms)).or_default().push(line);
        }
        let meter = device.device[prefix.len()..].to_owned();
        for (day, mut lines) in days {
            lines.sort_unstable();
            let mut hash = Sha256::new();
            for line in &lines {
                hash.update(line.as_bytes());
            }
            let digest: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
            out.push(DayDigest { meter: meter.clone(), day, count: lines.len() as u64, digest });
        }
    }
    Ok(out)
}

/// Every meter day `site` and `center` hold differently.
pub fn compare(site_name: &str, request: &CheckRequest, center: &[DayDigest], at_ms: i64) -> CheckReport {
    let key = |d: &DayDigest| (d.meter.clone(), d.day.clone());
    let held = |d: &DayDigest| Held { count: d.count, digest: d.digest.clone() };
    let site: BTreeMap<_, _> = request.days.iter().map(|d| (key(d), d)).collect();
    let there: BTreeMap<_, _> = center.iter().map(|d| (key(d), d)).collect();
    let mut differences = Vec::new();
    let mut different = 0;
    let mut keys: Vec<_> = site.keys().chain(there.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    for k in &keys {
        let (a, b) = (site.get(k), there.get(k));
        if a.map(|d| (d.count, &d.digest)) != b.map(|d| (d.count, &d.digest)) {
            different += 1;
            if differences.len() < MAX_LISTED {
                differences.push(Difference {
                    meter: k.0.clone(),
                    day: k.1.clone(),
                    site: a.map(|d| held(d)),
                    center: b.map(|d| held(d)),
                });
            }
        }
    }
    CheckReport {
        site: site_name.to_owned(),
        at_ms,
        from_ms: request.from_ms,
        to_ms: request.to_ms,
        days: keys.len(),
        readings: request.days.iter().map(|d| d.count).sum(),
        different,
        differences,
    }
}

/// The period of a check of the last `days` UTC days up to now.
pub fn period(days: i64, now_ms: i64) -> (i64, i64) {
    let days = days.clamp(1, MAX_DAYS);
    let to = (now_ms / DAY_MS + 1) * DAY_MS;
    (to - days * DAY_MS, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(meter: &str, day: &str, count: u64, digest: &str) -> DayDigest {
        DayDigest { meter: meter.into(), day: day.into(), count, digest: digest.into() }
    }

    #[test]
    fn a_day_missing_or_different_at_either_end_is_listed() {
        let request = CheckRequest {
            from_ms: 0,
            to_ms: 1,
            through: Default::default(),
            days: vec![d("m1", "2025-12-01", 3, "aa"), d("m1", "2025-12-02", 2, "bb"), d("m2", "2025-12-01", 1, "cc")],
        };
        let center = [d("m1", "2025-12-01", 3, "aa"), d("m1", "2025-12-02", 2, "bx"), d("m3", "2025-12-01", 1, "dd")];
        let report = compare("north", &request, &center, 5);
        assert_eq!((report.days, report.different, report.readings), (4, 3, 6));
        let listed: Vec<(&str, &str)> = report.differences.iter().map(|x| (x.meter.as_str(), x.day.as_str())).collect();
        assert_eq!(listed, [("m1", "2025-12-02"), ("m2", "2025-12-01"), ("m3", "2025-12-01")]);
        assert!(report.differences[1].center.is_none() && report.differences[2].site.is_none());
        assert!(!report.clean());
    }

    #[test]
    fn a_period_is_whole_utc_days_ending_after_today() {
        let now = 1_764_590_400_000; // 2025-12-01T12:00:00Z
        assert_eq!(period(7, now), (1_764_028_800_000, 1_764_633_600_000));
        assert_eq!(day(1_764_633_599_999), "2025-12-01");
    }
}

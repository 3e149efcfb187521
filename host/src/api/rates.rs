//! Frames and readings per second per source, for `meterhub status`: the
//! archive's counters sampled every few seconds, the rate being the change
//! over the last interval.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use meterhub_storage::archive::{Archive, SourceCounters};

/// How often the counters are sampled.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// The rates of one source over the last interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rate {
    /// Frames received per second.
    pub frames_per_s: f64,
    /// New readings archived per second.
    pub readings_per_s: f64,
}

/// The latest rates, by source.
pub type Rates = Arc<Mutex<BTreeMap<String, Rate>>>;

/// The rates between two samples `seconds` apart.
pub fn between(
    before: &BTreeMap<String, SourceCounters>,
    after: &BTreeMap<String, SourceCounters>,
    seconds: f64,
) -> BTreeMap<String, Rate> {
    after
        .iter()
        .map(|(source, now)| {
            let then = before.get(source).cloned().unwrap_or_default();
            let per_s = |a: u64, b: u64| a.saturating_sub(b) as f64 / seconds.max(f64::EPSILON);
            let rate = Rate {
                frames_per_s: per_s(now.received, then.received),
                readings_per_s: per_s(now.readings_new, then.readings_new),
            };
            (source.clone(), rate)
        })
        .collect()
}

/// Sample `archive` every [`INTERVAL`] into `rates`, forever.
pub async fn sample(archive: Arc<dyn Archive>, rates: Rates) {
    let mut before = (Instant::now(), archive.counters().unwrap_or_default());
    loop {
        tokio::time::sleep(INTERVAL).await;
        let Ok(now) = archive.counters() else { continue };
        let at = Instant::now();
        let computed = between(&before.1, &now, at.duration_since(before.0).as_secs_f64());
        *rates.lock().unwrap_or_else(|e| e.into_inner()) = computed;
        before = (at, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_change_over_the_interval() {
        let counters = |received, readings_new| SourceCounters { received, readings_new, ..Default::default() };
        let before = BTreeMap::from([("a".to_owned(), counters(100, 300))]);
        let after = BTreeMap::from([("a".to_owned(), counters(150, 400)), ("b".to_owned(), counters(10, 0))]);
        let rates = between(&before, &after, 5.0);
        assert_eq!(rates["a"], Rate { frames_per_s: 10.0, readings_per_s: 20.0 });
        assert_eq!(rates["b"], Rate { frames_per_s: 2.0, readings_per_s: 0.0 });
    }
}

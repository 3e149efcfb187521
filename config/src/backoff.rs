//! Exponential backoff with jitter, shared by everything that retries
//! (WebSocket reconnects, plugin restarts).

use std::time::Duration;

use rand::Rng;

/// Delays that double from `min` up to `max`, with up to 25% random jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub min: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt `failures` (1-based), doubled each time, with
    /// up to 25% random jitter, capped at `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let base = self.min.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(self.max);
        let jitter = rand::rng().random_range(0.0..0.25);
        base.mul_f64(1.0 + jitter).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff { min: Duration::from_millis(100), max: Duration::from_secs(2) };
        for (failures, low) in [(1, 100), (2, 200), (3, 400), (5, 1600)] {
            let d = b.delay(failures);
            assert!(
                d >= Duration::from_millis(low) && d <= Duration::from_millis(low * 5 / 4 + 1),
                "{failures}: {d:?}"
            );
        }
        assert_eq!(b.delay(30), Duration::from_secs(2));
    }
}

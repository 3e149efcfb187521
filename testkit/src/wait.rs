//! Waiting on a condition with a deadline: poll it, pausing 5 ms at first
//! and doubling up to 100 ms. Tests wait on what they can observe, never
//! for a fixed time.

use std::time::{Duration, Instant};

/// Poll `f` until it gives `Some`, or panic with `what` after `deadline`.
pub fn wait_for<T>(what: &str, deadline: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll(deadline, f).unwrap_or_else(|| panic!("timed out after {deadline:?} waiting for {what}"))
}

/// Poll `f` until it gives `Some`; `None` once `deadline` has passed.
pub fn poll<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_the_first_some_and_none_after_the_deadline() {
        let mut calls = 0;
        assert_eq!(
            poll(Duration::from_secs(5), || {
                calls += 1;
                (calls == 3).then_some(calls)
            }),
            Some(3)
        );
        assert_eq!(poll(Duration::from_millis(20), || None::<()>), None);
    }
}

//! The host clock: wall time in milliseconds since the Unix epoch. Every
//! floor above takes its time from here (or from a clock it was handed, in
//! tests), never from its own copy.

/// Milliseconds since the Unix epoch, from the host clock (0 before 1970,
/// `i64::MAX` past the year 292 million).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

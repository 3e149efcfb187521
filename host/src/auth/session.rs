//! Session lifetime: idle expiry (no request for a while) and absolute
//! expiry (since the login), checked against an injectable clock.

use super::store::SessionRecord;

/// A session's last-seen time is written at most this often, ms.
pub const TOUCH_EVERY_MS: i64 = 60_000;

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session without a request for this long has expired, ms.
    pub idle_ms: i64,
    /// A session this old has expired whatever its use, ms.
    pub max_ms: i64,
}

impl SessionPolicy {
    /// From `[web]`: idle minutes and maximum hours.
    pub fn new(idle_minutes: u32, max_hours: u32) -> SessionPolicy {
        SessionPolicy { idle_ms: i64::from(idle_minutes) * 60_000, max_ms: i64::from(max_hours) * 3_600_000 }
    }

    /// Why `session` has expired at `now_ms`, or `None` while it lives.
    pub fn expired(&self, session: &SessionRecord, now_ms: i64) -> Option<&'static str> {
        if now_ms - session.created_ms >= self.max_ms {
            Some("the session reached its maximum age")
        } else if now_ms - session.last_seen_ms >= self.idle_ms {
            Some("the session was idle too long")
        } else {
            None
        }
    }

    /// Whether `session`'s last-seen time is worth writing at `now_ms`.
    pub fn needs_touch(&self, session: &SessionRecord, now_ms: i64) -> bool {
        now_ms - session.last_seen_ms >= TOUCH_EVERY_MS.min(self.idle_ms / 2)
    }
}

impl Default for SessionPolicy {
    /// 12 hours idle, 7 days at most.
    fn default() -> Self {
        SessionPolicy::new(12 * 60, 7 * 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_or_old() {
        let policy = SessionPolicy::default();
        let hour = 3_600_000;
        let mut s = SessionRecord {
            user: "ann".into(),
            csrf: "c".into(),
            created_ms: 0,
            last_seen_ms: 0,
            address: String::new(),
        };
        assert_eq!(policy.expired(&s, 12 * hour - 1), None);
        assert_eq!(policy.expired(&s, 12 * hour), Some("the session was idle too long"));
        s.last_seen_ms = 7 * 24 * hour - hour;
        assert_eq!(policy.expired(&s, 7 * 24 * hour - 1), None, "used an hour ago");
        assert_eq!(policy.expired(&s, 7 * 24 * hour), Some("the session reached its maximum age"));
        assert!(!policy.needs_touch(&s, s.last_seen_ms + 59_999));
        assert!(policy.needs_touch(&s, s.last_seen_ms + 60_000));
    }
}

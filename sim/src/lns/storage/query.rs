//! The storage API's query parameters, read as The Things Stack reads
//! its `GetStoredApplicationUpRequest` from a query string: `limit` (a
//! positive count), `after` and `before` (RFC 3339, any precision),
//! `order` (`received_at` or `-received_at`) and `last` (a Go duration,
//! [`go_duration_ns`]); every other parameter (`f_port`, `field_mask`,
//! `type`, ...) is ignored.
//!
//! Two steps, as in The Things Stack: [`Query::read`] is its HTTP
//! gateway's (a value that is not of its field's type is refused before
//! the request goes further), [`Query::check`] its server's validation
//! (values that do not go together: `last` with `after` or `before`).

use crate::lns::clock::Stamp;

/// The order of the messages returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first (`received_at`, the default).
    #[default]
    Ascending,
    /// Newest first (`-received_at`).
    Descending,
}

/// A storage query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// At most this many messages (`None`: all).
    pub limit: Option<u32>,
    /// Only messages received after this (strictly).
    pub after: Option<Stamp>,
    /// Only messages received before this (strictly).
    pub before: Option<Stamp>,
    /// Oldest or newest first.
    pub order: Order,
    /// Only messages received within this many nanoseconds before now.
    pub last: Option<i64>,
    /// `order` as written, for [`Query::check`] (`None` when absent).
    order_text: Option<String>,
}

impl Query {
    /// The query of `query` (the URL's query string). The error is the
    /// gateway's message: a parameter that is not percent-encoded
    /// properly, is given twice, or whose value is not of its type.
    pub fn read(query: Option<&str>) -> Result<Query, String> {
        let pairs = meterhub_http::query::pairs(query)?;
        let mut read = Query::default();
        for (name, value) in &pairs {
            let field = match name.as_str() {
                "limit" => "limit",
                "after" => "after",
                "before" => "before",
                "order" => "order",
                "last" => "last",
                _ => continue,
            };
            if pairs.iter().filter(|(n, _)| n == name).count() > 1 {
                return Err(format!("too many values for field {field:?}: {}", quoted_values(&pairs, name)));
            }
            let mismatch = |problem: String| format!("parsing field {field:?}: {problem}");
            match field {
                "limit" => {
                    read.limit = Some(value.parse::<u32>().map_err(|_| {
                        mismatch(format!("{value:?} is not a count (a whole number from 0 to {})", u32::MAX))
                    })?);
                }
                "after" => read.after = Some(Stamp::parse_rfc3339(value).map_err(mismatch)?),
                "before" => read.before = Some(Stamp::parse_rfc3339(value).map_err(mismatch)?),
                "last" => read.last = Some(go_duration_ns(value).map_err(mismatch)?),
                _ => read.order_text = Some(value.clone()),
            }
        }
        Ok(read)
    }

    /// Check the values go together, and settle `order`. The error is
    /// what The Things Stack's validation would say.
    pub fn check(&mut self) -> Result<(), String> {
        if self.limit == Some(0) {
            return Err("invalid value `0` of field `limit`: must be at least 1 (leave it out for no limit)".into());
        }
        self.order = match self.order_text.as_deref() {
            None | Some("" | "received_at") => Order::Ascending,
            Some("-received_at") => Order::Descending,
            Some(other) => {
                return Err(format!(
                    "invalid value `{other}` of field `order`: must be `received_at` or `-received_at`"
                ));
            }
        };
        if let Some(last) = self.last {
            if self.after.is_some() || self.before.is_some() {
                return Err("field `last` cannot be used together with `after` or `before`".into());
            }
            if last < 0 {
                return Err(format!("invalid value `{}` of field `last`: must not be negative", go_text(last)));
            }
        }
        Ok(())
    }

    /// The bounds the messages must fall in, `now` being the time of the
    /// request: (`after`, `before`), `last` turned into `after`.
    pub fn bounds(&self, now: Stamp) -> (Option<Stamp>, Option<Stamp>) {
        match self.last {
            Some(last) => (Some(now.plus_nanos(-last)), None),
            None => (self.after, self.before),
        }
    }
}

/// The values of `name` in `pairs`, quoted and joined.
fn quoted_values(pairs: &[(String, String)], name: &str) -> String {
    pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| format!("{v:?}")).collect::<Vec<_>>().join(", ")
}

/// Nanoseconds as Go writes a small duration back (for messages).
fn go_text(ns: i64) -> String {
    format!("{}s", ns as f64 / 1e9)
}

/// Nanoseconds per unit of a Go duration.
fn unit_ns(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// The nanoseconds of a duration in Go's `time.ParseDuration` syntax:
/// an optional sign, then one or more decimal numbers (a fraction
/// allowed), each with its unit (`ns`, `us` or `µs`, `ms`, `s`, `m`,
/// `h`): `30m`, `1h30m`, `1.5h`, `-90s`; `0` alone needs no unit. The
/// error says what is wrong.
pub fn go_duration_ns(text: &str) -> Result<i64, String> {
    let invalid = |why: &str| format!("invalid duration {text:?}: {why}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid("empty"));
    }
    let mut total: u128 = 0;
    let limit = if negative { 1u128 << 63 } else { (1u128 << 63) - 1 };
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(tail) => {
                let len = tail.bytes().take_while(u8::is_ascii_digit).count();
                tail.split_at(len)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid("expected a number"));
        }
        let unit_len = after.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, tail) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(invalid("missing unit (ns, us, ms, s, m, h)"));
        }
        let scale = unit_ns(unit).ok_or_else(|| invalid(&format!("unknown unit {unit:?}")))?;
        let too_long = || invalid("out of range");
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_long())? };
        let mut part = whole.checked_mul(scale).ok_or_else(too_long)?;
        let digits = &fraction[..fraction.len().min(18)];
        if !digits.is_empty() {
            let numerator: u128 = digits.parse().map_err(|_| too_long())?;
            part += numerator * scale / 10u128.pow(u32::try_from(digits.len()).unwrap_or(18));
        }
        total = total.checked_add(part).filter(|t| *t <= limit).ok_or_else(too_long)?;
        rest = tail;
    }
    let magnitude = i128::try_from(total).map_err(|_| invalid("out of range"))?;
    i64::try_from(if negative { -magnitude } else { magnitude }).map_err(|_| invalid("out of range"))
}

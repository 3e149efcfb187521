//! Query strings: `a=1&b=x%20y`, and the timestamp forms the API accepts.

use std::collections::HashMap;

/// Decode `application/x-www-form-urlencoded` text; `None` if malformed.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Parse a query string into a map (the last of repeated parameters wins);
/// the error names the bad parameter.
pub fn parse(query: Option<&str>) -> Result<HashMap<String, String>, String> {
    Ok(pairs(query)?.into_iter().collect())
}

/// Parse a query string into its decoded pairs, in order, repeated
/// parameters included; the error names the bad parameter.
pub fn pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k).ok_or_else(|| format!("query parameter {k:?} is not valid percent-encoding"))?;
        let value =
            percent_decode(v).ok_or_else(|| format!("query parameter {key}: value is not valid percent-encoding"))?;
        out.push((key, value));
    }
    Ok(out)
}

/// A timestamp parameter: milliseconds since the epoch or RFC 3339.
pub fn timestamp(name: &str, value: &str) -> Result<i64, String> {
    meterhub_plugin_api::time::parse_ms_or_rfc3339(value).map_err(|e| format!("query parameter {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses() {
        let q = parse(Some("device=m%C3%A9ter+1&from=2026-01-01T00:00:00Z&x")).expect("valid");
        assert_eq!(q["device"], "méter 1");
        assert_eq!(q["x"], "");
        assert!(parse(Some("device=%zz")).is_err());
        let repeated = pairs(Some("device=a&device=b%2Cc")).expect("valid");
        assert_eq!(repeated, [("device".into(), "a".into()), ("device".into(), "b,c".into())]);
        assert_eq!(timestamp("from", "1000"), Ok(1000));
        assert!(timestamp("from", "yesterday").unwrap_err().contains("from"));
    }
}

//! Attribute values: numbers and lists of them, colours, transforms.

/// A list of numbers: `"-60.0,-50.0,40.0,50.0"` (commas and/or spaces).
pub fn numbers(text: &str) -> Result<Vec<f64>, String> {
    text.split([',', ' ', '\t', '\n', '\r'])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("{s:?} is not a number")))
        .collect()
}

/// Exactly `n` numbers.
pub fn exactly(text: &str, n: usize, what: &str) -> Result<Vec<f64>, String> {
    let values = numbers(text)?;
    if values.len() != n {
        return Err(format!("{what} takes {n} numbers, got {}", values.len()));
    }
    Ok(values)
}

/// A colour: six hex digits `RRGGBB` (a leading `#` allowed), as lower case.
pub fn color(text: &str) -> Result<String, String> {
    let hex = text.trim().trim_start_matches('#');
    if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!("{text:?} is not a colour (six hex digits RRGGBB)"))
    }
}

/// A fill: a colour, or `no` for none.
pub fn fill(text: &str) -> Result<Option<String>, String> {
    match text.trim() {
        "no" | "none" => Ok(None),
        other => color(other).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_colours_and_fills() {
        assert_eq!(numbers("-60.0,-50.0, 40 50").unwrap(), [-60.0, -50.0, 40.0, 50.0]);
        assert!(numbers("1,x").unwrap_err().contains("\"x\""));
        assert!(numbers("1,NaN").is_err());
        assert_eq!(exactly("1,0,0,0,-1,0", 6, "Transform").unwrap()[4], -1.0);
        assert!(exactly("1,2", 4, "position").unwrap_err().contains("takes 4 numbers, got 2"));
        assert_eq!(color("#00FF80").unwrap(), "00ff80");
        assert!(color("00ff8").is_err());
        assert_eq!(fill("no").unwrap(), None);
    }
}

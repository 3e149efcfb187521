//! Units: the Blue Book's unit enumeration (the `unit` of a register's
//! scaler_unit, Blue Book 4.3.2 "Register", table of units) and the
//! meterhub unit each becomes.
//!
//! Energy and power go to meterhub's kilo units exactly (Wh × 10^-3 =
//! kWh, as [`crate::exact::scale`] does it, never through floating
//! point); the others keep the meter's unit.

/// A unit as the readings carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// The Blue Book's symbol (`Wh`), or a meterhub unit the settings used.
    pub symbol: &'static str,
    /// The meterhub unit of the readings (`kWh`).
    pub meterhub: &'static str,
    /// Power of ten from the meter's unit to the meterhub one (Wh to kWh: -3).
    pub shift: i32,
}

/// The Blue Book unit codes this codec knows: code, symbol, meterhub unit,
/// power of ten to it.
const UNITS: &[(u8, &str, &str, i32)] = &[
    (1, "a", "a", 0),
    (2, "mo", "mo", 0),
    (3, "wk", "wk", 0),
    (4, "d", "d", 0),
    (5, "h", "h", 0),
    (6, "min", "min", 0),
    (7, "s", "s", 0),
    (8, "°", "deg", 0),
    (9, "°C", "degC", 0),
    (10, "currency", "currency", 0),
    (11, "m", "m", 0),
    (12, "m/s", "m/s", 0),
    (13, "m3", "m3", 0),
    (14, "m3 (corrected)", "m3", 0),
    (15, "m3/h", "m3/h", 0),
    (16, "m3/h (corrected)", "m3/h", 0),
    (17, "m3/d", "m3/d", 0),
    (18, "m3/d (corrected)", "m3/d", 0),
    (19, "l", "l", 0),
    (20, "kg", "kg", 0),
    (21, "N", "N", 0),
    (22, "Nm", "Nm", 0),
    (23, "Pa", "Pa", 0),
    (24, "bar", "bar", 0),
    (25, "J", "J", 0),
    (26, "J/h", "J/h", 0),
    (27, "W", "kW", -3),
    (28, "VA", "kVA", -3),
    (29, "var", "kvar", -3),
    (30, "Wh", "kWh", -3),
    (31, "VAh", "kVAh", -3),
    (32, "varh", "kvarh", -3),
    (33, "A", "A", 0),
    (34, "C", "C", 0),
    (35, "V", "V", 0),
    (36, "V/m", "V/m", 0),
    (37, "F", "F", 0),
    (38, "Ω", "Ohm", 0),
    (39, "Ωm2/m", "Ohm m2/m", 0),
    (40, "Wb", "Wb", 0),
    (41, "T", "T", 0),
    (42, "A/m", "A/m", 0),
    (43, "H", "H", 0),
    (44, "Hz", "Hz", 0),
    (45, "1/(Wh)", "1/(Wh)", 0),
    (46, "1/(varh)", "1/(varh)", 0),
    (47, "1/(VAh)", "1/(VAh)", 0),
    (48, "V2h", "V2h", 0),
    (49, "A2h", "A2h", 0),
    (50, "kg/s", "kg/s", 0),
    (51, "S", "S", 0),
    (52, "K", "K", 0),
    (53, "1/(V2h)", "1/(V2h)", 0),
    (54, "1/(A2h)", "1/(A2h)", 0),
    (55, "1/m3", "1/m3", 0),
    (56, "%", "%", 0),
    (57, "Ah", "Ah", 0),
    (255, "count", "", 0),
];

/// Meterhub's own units, which the settings may give instead of a Blue
/// Book unit (`{"scaler": -3, "unit": "kWh"}`: value × 10^-3 kWh).
const METERHUB_UNITS: &[&str] = &["kWh", "kvarh", "kVAh", "kW", "kvar", "kVA"];

/// The unit of Blue Book code `code`, if known.
pub fn by_code(code: u8) -> Option<Unit> {
    UNITS.iter().find(|(c, ..)| *c == code).map(|(_, symbol, meterhub, shift)| Unit { symbol, meterhub, shift: *shift })
}

/// The unit the settings name: a Blue Book symbol (`Wh`) or a meterhub
/// unit (`kWh`); a Blue Book code is [`by_code`].
pub fn by_name(name: &str) -> Option<Unit> {
    if let Some(unit) = UNITS.iter().find(|(_, symbol, ..)| *symbol == name) {
        return by_code(unit.0);
    }
    METERHUB_UNITS.iter().find(|u| **u == name).map(|u| Unit { symbol: u, meterhub: u, shift: 0 })
}

/// Whether readings can carry `name`: the meterhub unit of a Blue Book unit.
pub fn is_meterhub(name: &str) -> bool {
    UNITS.iter().any(|(_, _, meterhub, _)| *meterhub == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        assert_eq!(by_code(30), Some(Unit { symbol: "Wh", meterhub: "kWh", shift: -3 }));
        assert_eq!(by_code(35).map(|u| u.meterhub), Some("V"));
        assert_eq!(by_code(255).map(|u| u.meterhub), Some(""));
        assert_eq!(by_code(0), None);
        assert_eq!(by_code(200), None);
        assert_eq!(by_name("varh"), by_code(32));
        assert_eq!(by_name("kWh"), Some(Unit { symbol: "kWh", meterhub: "kWh", shift: 0 }));
        assert_eq!(by_name("MWh"), None);
        assert!(METERHUB_UNITS.iter().all(|u| is_meterhub(u)));
        assert!(is_meterhub("V") && is_meterhub("") && !is_meterhub("Wh"));
        let mut codes: Vec<u8> = UNITS.iter().map(|u| u.0).collect();
        codes.dedup();
        assert_eq!(codes.len(), UNITS.len(), "each code once, in order");
    }
}

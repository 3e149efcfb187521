//! OBIS codes (IEC 62056-6-1, Blue Book 7): six value groups A-F that name
//! a COSEM object, written `1.0.1.8.0.255` (also read as `1-0:1.8.0*255`);
//! an attribute of an object (`1.0.1.8.0.255:2`); and the built-in map of
//! OBIS codes to meterhub channels, which the settings extend.

use meterhub_plugin_api::ReadingKind;

/// One OBIS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obis(pub [u8; 6]);

/// The clock (class 8), whose attribute 2 is the meter's date-time.
pub const CLOCK: Obis = Obis([0, 0, 1, 0, 0, 255]);

impl std::fmt::Display for Obis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a}.{b}.{c}.{d}.{e}.{g}")
    }
}

impl Obis {
    /// Parse `a.b.c.d.e.f` or `a-b:c.d.e*f` (decimal groups 0-255).
    pub fn parse(text: &str) -> Option<Obis> {
        let dotted: String = match text.split_once('-').zip(text.split_once(':')) {
            Some(_) => text.replacen('-', ".", 1).replacen(':', ".", 1).replacen('*', ".", 1),
            None => text.to_owned(),
        };
        let mut groups = [0u8; 6];
        let mut parts = dotted.split('.');
        for group in &mut groups {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *group = part.parse().ok()?;
        }
        parts.next().is_none().then_some(Obis(groups))
    }

    /// The OBIS code a six-byte octet-string carries (a logical name).
    pub fn from_bytes(bytes: &[u8]) -> Option<Obis> {
        <[u8; 6]>::try_from(bytes).ok().map(Obis)
    }
}

/// One attribute of one object: `1.0.1.8.0.255:2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttrRef {
    /// The object.
    pub obis: Obis,
    /// The attribute index (1 is the logical name, 2 a register's value,
    /// 3 its scaler_unit).
    pub attribute: i8,
}

impl std::fmt::Display for AttrRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.obis, self.attribute)
    }
}

impl AttrRef {
    /// Parse `<OBIS>:<attribute>`, attribute 1-127.
    pub fn parse(text: &str) -> Option<AttrRef> {
        let (obis, attribute) = text.rsplit_once(':')?;
        let attribute: i8 = attribute.parse().ok().filter(|a| *a >= 1)?;
        Some(AttrRef { obis: Obis::parse(obis)?, attribute })
    }
}

/// What a mapped OBIS code becomes: a channel of readings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDef {
    /// The meterhub channel.
    pub channel: String,
    /// What its values mean.
    pub kind: ReadingKind,
    /// The meterhub unit its readings carry (`kWh`, `V`...): the meter's
    /// scaler_unit must convert to it.
    pub unit: String,
}

/// The built-in map: OBIS code, channel, kind, unit. Electricity (A = 1),
/// channel 0, the current values (F = 255).
const DEFAULT_CHANNELS: &[([u8; 6], &str, ReadingKind, &str)] = {
    use ReadingKind::{Cumulative as C, Instantaneous as I};
    &[
        ([1, 0, 1, 8, 0, 255], "energy-import", C, "kWh"),
        ([1, 0, 1, 8, 1, 255], "energy-import-t1", C, "kWh"),
        ([1, 0, 1, 8, 2, 255], "energy-import-t2", C, "kWh"),
        ([1, 0, 1, 8, 3, 255], "energy-import-t3", C, "kWh"),
        ([1, 0, 1, 8, 4, 255], "energy-import-t4", C, "kWh"),
        ([1, 0, 2, 8, 0, 255], "energy-export", C, "kWh"),
        ([1, 0, 2, 8, 1, 255], "energy-export-t1", C, "kWh"),
        ([1, 0, 2, 8, 2, 255], "energy-export-t2", C, "kWh"),
        ([1, 0, 2, 8, 3, 255], "energy-export-t3", C, "kWh"),
        ([1, 0, 2, 8, 4, 255], "energy-export-t4", C, "kWh"),
        ([1, 0, 3, 8, 0, 255], "reactive-energy-import", C, "kvarh"),
        ([1, 0, 4, 8, 0, 255], "reactive-energy-export", C, "kvarh"),
        ([1, 0, 32, 7, 0, 255], "voltage-l1", I, "V"),
        ([1, 0, 52, 7, 0, 255], "voltage-l2", I, "V"),
        ([1, 0, 72, 7, 0, 255], "voltage-l3", I, "V"),
        ([1, 0, 31, 7, 0, 255], "current-l1", I, "A"),
        ([1, 0, 51, 7, 0, 255], "current-l2", I, "A"),
        ([1, 0, 71, 7, 0, 255], "current-l3", I, "A"),
        ([1, 0, 1, 7, 0, 255], "power-import", I, "kW"),
        ([1, 0, 16, 7, 0, 255], "power", I, "kW"),
        ([1, 0, 14, 7, 0, 255], "frequency", I, "Hz"),
    ]
};

/// The built-in channel map.
pub fn default_channels() -> Vec<(Obis, ChannelDef)> {
    DEFAULT_CHANNELS
        .iter()
        .map(|(obis, channel, kind, unit)| {
            (Obis(*obis), ChannelDef { channel: (*channel).to_owned(), kind: *kind, unit: (*unit).to_owned() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obis_both_notations() {
        let want = Obis([1, 0, 1, 8, 0, 255]);
        assert_eq!(Obis::parse("1.0.1.8.0.255"), Some(want));
        assert_eq!(Obis::parse("1-0:1.8.0*255"), Some(want));
        assert_eq!(Obis::parse("1-0:1.8.0.255"), Some(want));
        assert_eq!(want.to_string(), "1.0.1.8.0.255");
        for bad in
            ["1.0.1.8.0", "1.0.1.8.0.256", "1.0.1.8.0.255.0", "1..1.8.0.255", "a.0.1.8.0.255", "", "1.0.1.8.0.+25"]
        {
            assert_eq!(Obis::parse(bad), None, "{bad}");
        }
        assert_eq!(Obis::from_bytes(&[0, 0, 1, 0, 0, 255]), Some(CLOCK));
        assert_eq!(Obis::from_bytes(&[0, 0, 1]), None);
    }

    #[test]
    fn attribute_references() {
        let a = AttrRef::parse("1.0.1.8.0.255:2").unwrap();
        assert_eq!((a.obis, a.attribute), (Obis([1, 0, 1, 8, 0, 255]), 2));
        assert_eq!(AttrRef::parse("1-0:32.7.0*255:3").unwrap().to_string(), "1.0.32.7.0.255:3");
        for bad in ["1.0.1.8.0.255", "1.0.1.8.0.255:0", "1.0.1.8.0.255:128", "1.0.1.8.0.255:-2", ":2"] {
            assert_eq!(AttrRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_default_map_has_one_entry_per_code_and_channel() {
        let map = default_channels();
        let mut codes: Vec<Obis> = map.iter().map(|(o, _)| *o).collect();
        let mut channels: Vec<&str> = map.iter().map(|(_, c)| c.channel.as_str()).collect();
        codes.sort();
        codes.dedup();
        channels.sort();
        channels.dedup();
        assert_eq!((codes.len(), channels.len()), (map.len(), map.len()));
        assert!(!codes.contains(&CLOCK), "the clock is the readings' time, not a channel");
    }
}

//! The CMi4110's message formats: the first byte of every uplink.
//!
//! Sources (see the README for versions): the CMi4110 user's manual v1.3
//! (formats 0-4, the meter communication error message `0E 00`), the
//! ThingPark CMi41xx driver's format table and examples (the formats added
//! by later firmware, with their names), the CMi4130/CMi4140 manuals (the
//! clock message `FA` of the scheduled formats). A format of another
//! CMi41xx module (another meter make) is refused by name; so are the
//! CMi4110 formats without a published example (`40`, `48`, `49`).

/// How a format's body is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// M-Bus data records (EN 13757-3).
    MBus,
    /// A JSON object: `E` energy, `U` its unit, `ID` the meter ID.
    Json,
    /// `0E 00`: the module could not read the meter.
    CommunicationError,
}

/// One CMi4110 message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The message format identifier (byte 0).
    pub id: u8,
    /// Its name, as the ThingPark decoder reports it.
    pub name: &'static str,
    /// How the body is coded.
    pub layout: Layout,
    /// Its date/time record (`04 6D`) is the meter's current time (the
    /// scheduled formats and the clock message); in other formats a
    /// date/time is shown in the fields only.
    pub meter_time: bool,
    /// Its storage-1 energies are the values the meter stored at 24:00
    /// (the daily redundant formats).
    pub at_24: bool,
}

const fn mbus(id: u8, name: &'static str, meter_time: bool, at_24: bool) -> Format {
    Format { id, name, layout: Layout::MBus, meter_time, at_24 }
}

/// The formats this codec decodes.
pub const CMI4110: &[Format] = &[
    mbus(0x00, "Standard", false, false),
    mbus(0x01, "Compact", false, false),
    Format { id: 0x02, name: "JSON", layout: Layout::Json, meter_time: false, at_24: false },
    mbus(0x03, "Scheduled Daily Redundant", true, true),
    mbus(0x04, "Scheduled Extended", true, false),
    Format {
        id: 0x0E,
        name: "Meter Communication Error",
        layout: Layout::CommunicationError,
        meter_time: false,
        at_24: false,
    },
    mbus(0x3F, "Scheduled Extended+", true, false),
    mbus(0x41, "Compact Tariff", false, false),
    mbus(0x46, "Maximum Flow", false, false),
    mbus(0x47, "Scheduled Daily Redundant Tariff", true, true),
    mbus(0x4A, "Scheduled Daily", true, true),
    mbus(0xFA, "Clock Message", true, false),
];

/// The meter make the CMi4110 is built for (`messageFormatInfo`).
pub const METER_MAKE: &str = "Landis+Gyr";

/// The module model.
pub const MODEL: &str = "CMi4110";

/// CMi4110 formats known by name only: no published layout or example.
const CMI4110_UNDECODED: &[(u8, &str)] =
    &[(0x40, "Scheduled Extended+ 2"), (0x48, "Scheduled Daily Redundant Tariff 2"), (0x49, "Scheduled Monthly")];

/// Formats of the other CMi41xx modules: `(first id, last id, module, meter make)`.
const OTHER_MODULES: &[(u8, u8, &str, &str)] = &[
    (0x05, 0x0D, "CMi4111", "Landis+Gyr"),
    (0x0F, 0x14, "CMi4130", "Itron"),
    (0x15, 0x1D, "CMi4140", "Kamstrup"),
    (0x3B, 0x3C, "CMi4140", "Kamstrup"),
    (0x4D, 0x4F, "CMi4140", "Kamstrup"),
    (0x1E, 0x23, "CMi4160", "Diehl"),
    (0x3D, 0x3E, "CMi4160", "Diehl"),
    (0x24, 0x29, "CMi4170", "Engelmann"),
    (0x2C, 0x2D, "CMi4170", "Engelmann"),
    (0x50, 0x50, "CMi4170", "Engelmann"),
];

/// The format of identifier `id`, or why it is not decoded.
pub fn lookup(id: u8) -> Result<&'static Format, String> {
    if let Some(format) = CMI4110.iter().find(|f| f.id == id) {
        return Ok(format);
    }
    if let Some((_, name)) = CMI4110_UNDECODED.iter().find(|(i, _)| *i == id) {
        return Err(format!(
            "message format {id:02X} is the CMi4110's {name}, which has no published layout or example; not decoded"
        ));
    }
    if let Some((_, _, module, make)) = OTHER_MODULES.iter().find(|(first, last, _, _)| (*first..=*last).contains(&id))
    {
        return Err(format!(
            "message format {id:02X} is a {module} format ({make} meters); elvaco-codec decodes the CMi4110's only"
        ));
    }
    let known: Vec<String> = CMI4110.iter().map(|f| format!("{:02X} {}", f.id, f.name)).collect();
    Err(format!("message format {id:02X} is not a CMi4110 format (known: {})", known.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_found() {
        for f in CMI4110 {
            assert_eq!(lookup(f.id).unwrap(), f);
            assert_eq!(CMI4110.iter().filter(|g| g.id == f.id).count(), 1);
            assert!(!CMI4110_UNDECODED.iter().any(|(id, _)| *id == f.id));
            assert!(!OTHER_MODULES.iter().any(|(a, b, _, _)| (*a..=*b).contains(&f.id)));
        }
    }

    #[test]
    fn other_formats_are_refused_by_name() {
        assert_eq!(
            lookup(0x15).unwrap_err(),
            "message format 15 is a CMi4140 format (Kamstrup meters); elvaco-codec decodes the CMi4110's only"
        );
        assert!(lookup(0x49).unwrap_err().contains("Scheduled Monthly, which has no published layout"));
        assert!(
            lookup(0x7B).unwrap_err().starts_with("message format 7B is not a CMi4110 format (known: 00 Standard,")
        );
    }
}

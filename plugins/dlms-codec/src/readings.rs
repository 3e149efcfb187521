//! Layer 2: named values to meterhub readings, and each value as the
//! fields show it.
//!
//! - Device: the system title (16 upper-case hex digits).
//! - Channels: the value (attribute 2) of an OBIS code the channel map
//!   has (built in, extended by the settings) becomes a reading of its
//!   channel and kind; every other value, and those of codes not mapped,
//!   stay in the fields only (never dropped: the fields list every one).
//! - Scaling: value × 10^(scaler + the unit's shift to meterhub's unit),
//!   exact ([`crate::exact::scale`]). The scaler and unit come from the
//!   push itself (a self-describing element), else from an element of the
//!   layout that is the same object's attribute 3, else from the settings'
//!   `registers`; a mapped value without any is an error naming what to
//!   set. The unit must convert to the channel's.
//! - Time: the notification's date-time when present and usable, else
//!   the clock element's (`0.0.1.0.0.255:2`), else the frame's receipt
//!   time; the fields say which and why not the ones before.

use std::collections::HashMap;

use meterhub_plugin_api::time::format_rfc3339_ms;
use meterhub_plugin_api::{Decimal, DecodeError, Reading};
use serde_json::{Map, Value as Json, json};

use crate::apdu::Push;
use crate::axdr::{self, Data, Value};
use crate::datetime::CosemDateTime;
use crate::exact::{float_decimal, scale};
use crate::layout::{Element, Named};
use crate::obis::{CLOCK, ChannelDef, Obis};
use crate::settings::{CodecSettings, ScalerUnit};
use crate::units::{self, Unit};

/// Which clock stamps the readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The notification's own date-time.
    Notification,
    /// The clock element of the push.
    Clock,
    /// The frame's receipt time.
    Received,
}

impl TimeSource {
    /// The name the fields use.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Notification => "notification",
            TimeSource::Clock => "clock",
            TimeSource::Received => "received",
        }
    }
}

/// Readings and the fields of their values.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The readings.
    pub readings: Vec<Reading>,
    /// Their time, ms since the epoch.
    pub ts_ms: i64,
    /// Where it comes from.
    pub source: TimeSource,
    /// Why not the sources before it.
    pub notes: Vec<String>,
    /// Every value as the fields show it.
    pub elements: Vec<Json>,
}

/// A scaler and a unit as a value came with them: the unit may be a code
/// this codec does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scaling {
    scaler: i8,
    unit: Result<Unit, u8>,
    from: &'static str,
}

/// What the readings of one push are made with.
struct Context<'a> {
    push: &'a Push,
    settings: &'a CodecSettings,
    device: &'a str,
    ts_ms: i64,
    /// The scaler_units the layout names as attribute 3 elements.
    layout_scalers: HashMap<Obis, &'a Element<'a>>,
}

/// The readings of `named`, the values of `push`, for meter `device`,
/// received at `received_at_ms`.
pub fn build(
    push: &Push,
    named: &Named<'_>,
    device: &str,
    settings: &CodecSettings,
    received_at_ms: i64,
) -> Result<Built, DecodeError> {
    let clock = clock(push, named)?;
    let (ts_ms, source, notes) = readings_time(push, clock.as_ref(), settings.utc_offset_minutes, received_at_ms);
    let layout_scalers =
        named.elements.iter().filter(|e| e.target.attribute == 3).map(|e| (e.target.obis, e)).collect();
    let context = Context { push, settings, device, ts_ms, layout_scalers };
    let mut readings: Vec<Reading> = Vec::new();
    let mut elements = Vec::new();
    for element in &named.elements {
        let (shown, reading) = context.element(element)?;
        if let Some(reading) = reading {
            if readings.iter().any(|r| r.channel == reading.channel) {
                return Err(context.error(element, format_args!("repeats channel {}", reading.channel)));
            }
            readings.push(reading);
        }
        elements.push(Json::Object(shown));
    }
    Ok(Built { readings, ts_ms, source, notes, elements })
}

/// The date-time of the push's clock element, if it has one.
fn clock(push: &Push, named: &Named<'_>) -> Result<Option<CosemDateTime>, DecodeError> {
    let Some(element) = named.elements.iter().find(|e| e.target.obis == CLOCK && e.target.attribute == 2) else {
        return Ok(None);
    };
    match element.value.data.date_time() {
        Some(t) => Ok(Some(t)),
        None => Err(DecodeError::new(format!(
            "{}: {}: the clock's time is a date-time (octet-string of 12), not {}",
            push.notification.name(),
            place(push, element),
            describe(element.value)
        ))),
    }
}

/// The readings' time and its source, and why not the sources before.
fn readings_time(
    push: &Push,
    clock: Option<&CosemDateTime>,
    utc_offset_minutes: Option<i32>,
    received_at_ms: i64,
) -> (i64, TimeSource, Vec<String>) {
    let mut notes = Vec::new();
    match push.notification.date_time().map(|t| t.utc_ms(utc_offset_minutes)) {
        Some(Ok(ms)) => return (ms, TimeSource::Notification, notes),
        Some(Err(why)) => notes.push(format!("the notification's date-time: {why}")),
        None => notes.push("the notification has no date-time".into()),
    }
    match clock.map(|t| t.utc_ms(utc_offset_minutes)) {
        Some(Ok(ms)) => return (ms, TimeSource::Clock, notes),
        Some(Err(why)) => notes.push(format!("the clock element: {why}")),
        None => notes.push("the push has no clock element (0.0.1.0.0.255:2)".into()),
    }
    (received_at_ms, TimeSource::Received, notes)
}

/// Where an element is, for errors: `element 3 (1.0.1.8.0.255:2) at offset 40`.
fn place(push: &Push, e: &Element<'_>) -> String {
    let buffer = if push.protection.is_some() { " of the deciphered APDU" } else { "" };
    format!("element {} ({}) at offset {}{buffer}", e.index, e.target, e.value.offset)
}

/// A value's type as errors name it: `an octet-string of 6 byte(s)`.
fn describe(v: &Value) -> String {
    match &v.data {
        Data::OctetString(b) | Data::VisibleString(b) => format!("{} of {} byte(s)", v.data.type_name(), b.len()),
        other => other.type_name().to_owned(),
    }
}

/// The number a value holds, if it is one: integers, and floats with an
/// exact decimal (an error when they have none).
fn number(v: &Value) -> Option<Result<Decimal, String>> {
    Some(Ok(match v.data {
        Data::Integer(n) | Data::Bcd(n) => n.into(),
        Data::Long(n) => n.into(),
        Data::Unsigned(n) => n.into(),
        Data::LongUnsigned(n) => n.into(),
        Data::DoubleLong(n) => n.into(),
        Data::DoubleLongUnsigned(n) => n.into(),
        Data::Long64(n) => n.into(),
        Data::Long64Unsigned(n) => n.into(),
        Data::Float32(f) => return Some(exact_float(f64::from(f))),
        Data::Float64(f) => return Some(exact_float(f)),
        _ => return None,
    }))
}

fn exact_float(f: f64) -> Result<Decimal, String> {
    float_decimal(f)
        .ok_or_else(|| format!("float {} has no exact decimal of at most 28 places", crate::exact::float_text(f)))
}

impl Context<'_> {
    /// An error about element `e`.
    fn error(&self, e: &Element<'_>, message: impl std::fmt::Display) -> DecodeError {
        DecodeError::new(format!("{}: {}: {message}", self.push.notification.name(), place(self.push, e)))
    }

    /// The fields of element `e`, and its reading if its code is mapped.
    fn element(&self, e: &Element<'_>) -> Result<(Map<String, Json>, Option<Reading>), DecodeError> {
        let mut shown = Map::new();
        shown.insert("index".into(), e.index.into());
        shown.insert("obis".into(), e.target.obis.to_string().into());
        shown.insert("attribute".into(), e.target.attribute.into());
        shown.insert("value".into(), axdr::to_json(e.value));
        let scaling = self.scaling(e)?;
        if let Some(s) = scaling {
            scaling_fields(&s, e.value, &mut shown);
        }
        let def = self.settings.channels.get(&e.target.obis).filter(|_| e.target.attribute == 2);
        let Some(def) = def else { return Ok((shown, None)) };
        shown.insert("channel".into(), def.channel.as_str().into());
        if e.value.data == Data::Null {
            shown.insert("note".into(), "null-data: the meter sent no value, no reading".into());
            return Ok((shown, None));
        }
        let reading = self.reading(e, def, scaling)?;
        Ok((shown, Some(reading)))
    }

    /// The scaler and unit of element `e`, if known.
    fn scaling(&self, e: &Element<'_>) -> Result<Option<Scaling>, DecodeError> {
        if let Some(su) = e.scaler_unit {
            return Ok(Some(self.scaler_unit(e, su, "push")?));
        }
        if e.target.attribute == 2 {
            if let Some(su_element) = self.layout_scalers.get(&e.target.obis) {
                return Ok(Some(self.scaler_unit(su_element, su_element.value, "push attribute 3")?));
            }
            if let Some(ScalerUnit { scaler, unit }) = self.settings.registers.get(&e.target.obis) {
                return Ok(Some(Scaling { scaler: *scaler, unit: Ok(*unit), from: "settings" }));
            }
        }
        Ok(None)
    }

    /// A scaler_unit value `su` (sent with or as element `e`), read.
    fn scaler_unit(&self, e: &Element<'_>, su: &Value, from: &'static str) -> Result<Scaling, DecodeError> {
        if let Data::Structure(items) = &su.data
            && let [Value { data: Data::Integer(scaler), .. }, Value { data: Data::Enum(code), .. }] = items.as_slice()
        {
            return Ok(Scaling { scaler: *scaler, unit: units::by_code(*code).ok_or(*code), from });
        }
        Err(self.error(e, format_args!("a scaler_unit is a structure {{integer, enum}}, not {}", describe(su))))
    }

    /// The reading of mapped element `e`.
    fn reading(&self, e: &Element<'_>, def: &ChannelDef, scaling: Option<Scaling>) -> Result<Reading, DecodeError> {
        let value = match number(e.value) {
            Some(Ok(n)) => n,
            Some(Err(why)) => return Err(self.error(e, why)),
            None => {
                let what = describe(e.value);
                return Err(self.error(e, format_args!("{what} is not a number; channel {} needs one", def.channel)));
            }
        };
        let (exponent, unit) = self.conversion(e, def, scaling)?;
        let value = scale(value, exponent).ok_or_else(|| {
            self.error(e, format_args!("{value} × 10^{exponent} does not fit an exact decimal (28 places, 96 bits)"))
        })?;
        Ok(Reading {
            device: self.device.to_owned(),
            channel: def.channel.clone(),
            ts_ms: self.ts_ms,
            value,
            unit: unit.meterhub.to_owned(),
            kind: def.kind,
        })
    }

    /// The power of ten from element `e`'s value to channel `def`'s unit,
    /// and that unit.
    fn conversion(
        &self,
        e: &Element<'_>,
        def: &ChannelDef,
        scaling: Option<Scaling>,
    ) -> Result<(i32, Unit), DecodeError> {
        let Some(scaling) = scaling else {
            return Err(self.error(
                e,
                format_args!(
                    "no scaler and unit: the push sends none for it; set \"registers\".\"{}\" (the meter's attribute 3)",
                    e.target.obis
                ),
            ));
        };
        let unit = scaling
            .unit
            .map_err(|code| self.error(e, format_args!("unit {code} is not a Blue Book unit this codec knows")))?;
        if unit.meterhub != def.unit {
            let (symbol, channel) = (unit.symbol, &def.channel);
            let message = format!("unit {symbol} does not convert to {}, the unit of channel {channel}", def.unit);
            return Err(self.error(e, message));
        }
        Ok((i32::from(scaling.scaler) + unit.shift, unit))
    }
}

/// The fields of a value's scaling: `scaler`, `unit` (symbol, or the code
/// when unknown), `scalerUnitFrom`, and `scaled` (value × 10^scaler in the
/// meter's unit) when the value is a number.
fn scaling_fields(s: &Scaling, value: &Value, shown: &mut Map<String, Json>) {
    shown.insert("scaler".into(), s.scaler.into());
    shown.insert("unit".into(), s.unit.map_or_else(|code| json!(code), |u| json!(u.symbol)));
    shown.insert("scalerUnitFrom".into(), s.from.into());
    if let Some(scaled) = number(value).and_then(Result::ok).and_then(|n| scale(n, i32::from(s.scaler))) {
        shown.insert("scaled".into(), scaled.to_string().into());
    }
}

/// The time fields: `readingsTime`, `readingsTimeSource`, `readingsTimeNotes`.
pub fn time_fields(built: &Built, out: &mut Map<String, Json>) {
    out.insert("readingsTime".into(), format_rfc3339_ms(built.ts_ms).into());
    out.insert("readingsTimeSource".into(), built.source.as_str().into());
    if !built.notes.is_empty() {
        out.insert("readingsTimeNotes".into(), built.notes.clone().into());
    }
}

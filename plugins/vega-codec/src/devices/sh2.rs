//! Vega SH-2 universal modem (§2.3).
//!
//! fPort 2 holds one or more sub-packets back to back, each starting with
//! its type byte; all are decoded, a truncated one is an error:
//! - 10 standard, 20 bytes: `1` reason · `2–5` time · `6` battery · `7`
//!   temperature u8 · `8–15` pulse inputs 1–2 u32 · `16–19` voltage inputs
//!   1–2 u16;
//! - 11 timestamp, 6 bytes: `1` reason · `2–5` time;
//! - 12 1-Wire temperatures: `1` length, then i16 items (bits 0–10 raw,
//!   (raw − 600) / 10 °C; bits 11–12 sensor number);
//! - 13 Modbus: `1` length, then items: head byte (low nibble data length,
//!   high nibble function number) and that many data bytes, most
//!   significant first; as `sh2_v1.js` gives them, `data` is the item's
//!   bytes as an array of numbers, least significant first (the reverse of
//!   the order sent), and `value` is there for 1- and 2-byte items.
//!
//! The fields hold one object per sub-packet type (`standartPacket`,
//! `timestampPacket`, `oneWirePacket`, `modbusPacket`, as `sh2_v1.js`
//! names them; a later sub-packet of the same type replaces an earlier one
//! there), while the readings keep every sub-packet, each standard one at
//! its own time. Readings: pulse inputs on `<DEVEUI>.1` / `.2`, module
//! `temperature`, 1-Wire sensors as `temperature` of `<DEVEUI>.1wire<n>`.
//! The voltage inputs (unit not documented) give fields only.
//!
//! fPort 195 type `C3` (195), 49 bytes: device info: `1` reason · `2–17`
//! vendor · `18–33` model (16 characters each, as bytes) · `34–37`
//! manufacture date · `38–39` hardware · `40–41` software · `42–43`
//! protocol version · `44` battery · `45–48` packet counter.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::{Map, Value, json};

use super::{NOT_VALID, inputs, sub_qty, temperature, u32_inputs};
use crate::bytes::Reader;
use crate::fields::{Group, Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

fn reason(code: u8) -> &'static str {
    match code {
        1 => "byTime",
        2 => "bySecurityInput1Triggered",
        3 => "bySecurityInput2Triggered",
        4 => "byConfiguratorRequest",
        5 => "byButtonTriggered",
        _ => NOT_VALID,
    }
}

/// Decode an SH-2 packet on fPort 2 or 195.
pub fn decode(model: Model, port: u8, bytes: &[u8]) -> Result<Packet, DecodeError> {
    if port == 195 {
        return info(model, bytes);
    }
    type_byte(model, 2, bytes)?;
    let mut out = Out::new();
    let mut groups = Vec::new();
    let (mut time, mut battery) = (None, None);
    let mut at = 0;
    while let Some(&ty) = bytes.get(at) {
        let rest = bytes.get(at..).unwrap_or(&[]);
        let (description, len) = match ty {
            10 => ("standard", 20),
            11 => ("timestamp", 6),
            12 => ("1-Wire temperatures", 2 + usize::from(rest.get(1).copied().unwrap_or(0))),
            13 => ("Modbus", 2 + usize::from(rest.get(1).copied().unwrap_or(0))),
            _ => {
                let mut e = unknown_type(model, 2, ty, &[10, 11, 12, 13]);
                e.reason.push_str(&format!(" at offset {at}"));
                return Err(e);
            }
        };
        let what = format!("{} at offset {at}", what(model, 2, Some(ty), description));
        let whole = Reader::new(rest, &what);
        if matches!(ty, 12 | 13) {
            whole.expect_min_len(2)?;
        }
        let sub = whole
            .slice(0, len, "sub-packet")
            .map_err(|_| whole.error(format!("{} bytes left, the sub-packet needs {len}", rest.len())))?;
        let r = Reader::new(sub, &what);
        match ty {
            10 => {
                let t = r.u32_v(2, "time")?;
                let b = r.u8_v(6, "battery")?;
                let temp = r.u8_v(7, "temperature")?;
                let mut p = Out::new();
                p.put("type", "standartPacket").put("reason", reason(r.u8(1, "reason")?)).device_time(t);
                p.opt("chargePercent", b).opt("temperature", temp);
                let names = ["pulseInput1State", "pulseInput2State"];
                let mut measures = inputs(&r, &mut p, &u32_inputs(names, 8, [false; 2]), false)?;
                p.opt("voltageInput1State", r.u16_v(16, "voltage input 1")?);
                p.opt("voltageInput2State", r.u16_v(18, "voltage input 2")?);
                measures.extend(temp.map(|temp| temperature(temp.into(), 0)));
                groups.push(Group { time: t, measures });
                out.put("standartPacket", p.map);
                (time, battery) = (t.or(time), b.or(battery));
            }
            11 => {
                let t = r.u32_v(2, "time")?;
                let mut p = Out::new();
                p.put("type", "timestampPacket").put("reason", reason(r.u8(1, "reason")?)).device_time(t);
                out.put("timestampPacket", p.map);
                time = time.or(t);
            }
            12 => {
                let length = r.u8(1, "length")?;
                if !length.is_multiple_of(2) {
                    return Err(r.error(format!("length {length} is not a whole number of 2-byte items")));
                }
                let mut sensors = Map::new();
                let mut measures = Vec::new();
                for item in (2..r.len()).step_by(2) {
                    let raw = r.u16(item, "sensor item")?;
                    let number = (raw >> 11) & 3;
                    let mantissa = i128::from(raw & 0x7ff) - 600;
                    let t = crate::fields::scaled_number(mantissa, 1);
                    sensors.insert(number.to_string(), json!({"number": number, "temperature": t}));
                    let suffix = format!("1wire{number}");
                    measures.push(sub_qty(&suffix, "temperature", mantissa, 1, "degC", ReadingKind::Instantaneous));
                }
                let mut p = Out::new();
                p.put("type", "oneWirePacket").put("length", length).put("temperatureSensors", sensors);
                out.put("oneWirePacket", p.map);
                groups.push(Group { time: None, measures });
            }
            _ => {
                let length = r.u8(1, "length")?;
                let mut items = Map::new();
                let mut item_at = 2;
                for count in 1.. {
                    if item_at >= r.len() {
                        break;
                    }
                    let head = r.u8(item_at, "item head")?;
                    let n = usize::from(head & 0x0f);
                    let data = r.slice(item_at + 1, n, "item data").map_err(|_| {
                        r.error(format!("Modbus item {count} at offset {item_at}: {n} data bytes run past the end"))
                    })?;
                    let mut item = Map::new();
                    match data {
                        [b] => {
                            item.insert("value".into(), Value::from(*b));
                        }
                        [hi, lo] => {
                            item.insert("value".into(), Value::from(i16::from_be_bytes([*hi, *lo])));
                        }
                        _ => {}
                    }
                    item.insert("head".into(), json!({"length": n, "functionNumber": head >> 4}));
                    let vendor_order: Vec<u8> = data.iter().rev().copied().collect();
                    item.insert("data".into(), Value::from(vendor_order));
                    items.insert(count.to_string(), Value::Object(item));
                    item_at += 1 + n;
                }
                let mut p = Out::new();
                p.put("type", "modbusPacket").put("length", length).put("modbusData", items);
                out.put("modbusPacket", p.map);
            }
        }
        at += len;
    }
    let mut packet = Packet::new(out).at(time).battery(battery);
    packet.groups = groups.into_iter().filter(|g| !g.measures.is_empty()).collect();
    Ok(packet)
}

/// fPort 195: device information.
fn info(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 195, bytes)?;
    if ty != 0xc3 {
        return Err(unknown_type(model, 195, ty, &[0xc3]));
    }
    let what = what(model, 195, Some(ty), "device info");
    let r = Reader::new(bytes, &what);
    r.expect_len(49)?;
    let text = |at: usize| -> Result<String, DecodeError> {
        Ok(r.slice(at, 16, "text")?.iter().map(|&b| char::from(b)).collect())
    };
    let battery = r.u8_v(44, "battery")?;
    let mut out = Out::new();
    out.put("type", "infoPacket").put("reason", if r.u8(1, "reason")? != 0 { "byRequest" } else { "byDefault" });
    out.put("vendor", text(2)?).put("model", text(18)?);
    out.time("mdf", "mdfStringISO", r.u32_v(34, "manufacture date")?);
    out.put("hwVer", r.u16(38, "hardware version")?).put("swVer", r.u16(40, "software version")?);
    out.put("protocolVer", r.u16(42, "protocol version")?).opt("chargePercent", battery);
    out.opt("packetCounter", r.u32_v(45, "packet counter")?);
    Ok(Packet::new(out).battery(battery))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The bug: a Modbus item's `data` was hex text (`"0102"`) where
    /// `sh2_v1.js` gives an array of byte values, least significant first.
    #[test]
    fn modbus_item_data_is_a_byte_array_as_the_vendor_gives_it() {
        // Modbus sub-packet: items (function 3, 2 bytes 01 02), (function 1, 1 byte 07), (function 4, 3 bytes).
        let bytes = [13, 9, 0x32, 0x01, 0x02, 0x11, 0x07, 0x43, 0xaa, 0xbb, 0xcc];
        let packet = decode(Model::Sh2, 2, &bytes).unwrap();
        let items = &packet.fields["modbusPacket"]["modbusData"];
        assert_eq!(items["1"], json!({"value": 258, "head": {"length": 2, "functionNumber": 3}, "data": [2, 1]}));
        assert_eq!(items["2"], json!({"value": 7, "head": {"length": 1, "functionNumber": 1}, "data": [7]}));
        assert_eq!(items["3"], json!({"head": {"length": 3, "functionNumber": 4}, "data": [0xcc, 0xbb, 0xaa]}));
    }
}

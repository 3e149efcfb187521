//! fPort 4: the time packet every Vega device sends to have its clock
//! corrected (§1.5): `FF` + u32 device time (UTC seconds), 5 bytes.
//!
//! Fields: `type` = `correctionTime`, `time`, `timeStringISO`. The packet
//! gives telemetry (at the device time) but no readings. The answer (a
//! downlink `FF` + i64 correction) is the driver's business, not the codec's.

use meterhub_plugin_api::DecodeError;

use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

/// The type byte of the time packet.
pub const TYPE_TIME: u8 = 0xff;

/// Decode an fPort 4 packet of `model`.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 4, bytes)?;
    if ty != TYPE_TIME {
        return Err(unknown_type(model, 4, ty, &[TYPE_TIME]));
    }
    decode_time(model, 4, bytes)
}

/// The time packet layout (`FF` + u32), also sent on fPort 2 by SI-13.
pub fn decode_time(model: Model, port: u8, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let what = what(model, port, Some(TYPE_TIME), "time");
    let r = Reader::new(bytes, &what);
    r.expect_len(5)?;
    let time = r.u32_v(1, "time")?;
    let mut out = Out::new();
    out.put("type", "correctionTime").device_time(time);
    Ok(Packet::new(out).at(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_packet() {
        let p = decode(Model::Gm2, &[0xff, 0xc1, 0x0a, 0x28, 0x62]).unwrap();
        assert_eq!(p.time, Some(1_646_791_361));
        assert_eq!(p.fields["timeStringISO"], "2022-03-09T02:02:41.000Z");
        assert!(p.groups.is_empty());
        let e = decode(Model::Gm2, &[0xff, 0xc1, 0x0a, 0x28]).unwrap_err();
        assert_eq!(e.reason, "GM-2 fPort 4 type 255 (time): 4 bytes, expected 5");
        let e = decode(Model::Gm2, &[0xff, 0xc1, 0x0a, 0x28, 0x62, 0]).unwrap_err();
        assert_eq!(e.reason, "GM-2 fPort 4 type 255 (time): 6 bytes, expected 5");
        let e = decode(Model::Gm2, &[0x01, 0xc1, 0x0a, 0x28, 0x62]).unwrap_err();
        assert_eq!(e.reason, "GM-2 fPort 4: unknown type 1 (known: 255)");
        assert_eq!(decode(Model::Gm2, &[]).unwrap_err().reason, "GM-2 fPort 4: empty packet");
    }
}

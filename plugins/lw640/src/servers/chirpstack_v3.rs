//! ChirpStack Application Server v3 events in JSON, both marshalers: "JSON
//! v3" (`devEUI` in hex, decoded payload in `object`) and Protobuf JSON
//! (`devEUI` in base64, decoded payload as JSON text in `objectJSON`).
//! Binary Protobuf (v3's third marshaler) is not read.
//!
//! | metadata | from |
//! |---|---|
//! | `lorawan.deveui` | `devEUI`, hex or base64 (required) |
//! | `lorawan.application` | `applicationName`, else `applicationID` |
//! | `lorawan.device_name` | `deviceName` |
//! | `lorawan.profile` | none (v3 events do not name it) |
//! | `lorawan.ts` | the first `rxInfo[].time` given, else the receive clock |
//! | `up`: fport, fcnt, frm | `fPort`, `fCnt`, `data` (base64) |
//! | `up`: rssi, snr, gateways | `rxInfo[].rssi`, `rxInfo[].loRaSNR` |
//! | `up`: upstream | `object`, or the JSON text of `objectJSON` |
//! | `status`: battery, margin | `batteryLevel` (unless `externalPowerSource` or `batteryLevelUnavailable`), `margin` |

use crate::envelope::{Encoding, Envelope, Server, Status, Uplink};
use crate::error::Refusal;
use crate::json::{Number, Obj, Val};
use crate::servers::common;

/// The envelope of event `event` (one of
/// [`CHIRPSTACK_V3_EVENTS`](super::detect::CHIRPSTACK_V3_EVENTS)).
pub fn read(event: &str, top: &Obj<'_>) -> Result<Envelope, Refusal> {
    let dev_eui = common::eui_hex_or_base64(&top.require("devEUI")?)?;
    let mut envelope = Envelope::new(Server::ChirpstackV3, Encoding::Json, event, dev_eui);
    let id = top.read("applicationID", common::id_text)?.flatten();
    envelope.application = common::name_or_id(top.text("applicationName")?, id);
    envelope.device_name = top.text("deviceName")?;
    let rx_info = match top.read("rxInfo", Val::array)? {
        Some(list) => list.iter().map(Val::object).collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    for rx in &rx_info {
        if let Some(ms) = rx.read("time", common::time)? {
            envelope.server_ts_ms = Some(ms);
            break;
        }
    }
    match event {
        "up" => envelope.uplink = Some(uplink(top, &rx_info)?),
        "status" => envelope.status = Some(status(top)?),
        _ => {}
    }
    Ok(envelope)
}

fn uplink(top: &Obj<'_>, rx_info: &[Obj<'_>]) -> Result<Uplink, Refusal> {
    let mut gateways = Vec::new();
    for rx in rx_info {
        let rssi = rx.read("rssi", Val::number)?.unwrap_or(Number::from_f64(0.0));
        let snr = rx.read("loRaSNR", Val::number)?.unwrap_or(Number::from_f64(0.0));
        gateways.push((rssi, snr));
    }
    let upstream = match top.read("object", common::upstream)? {
        Some(object) => Some(object),
        None => top.read("objectJSON", common::upstream_text)?.flatten(),
    };
    Ok(Uplink {
        fport: top.read("fPort", Val::u32)?.unwrap_or(0),
        fcnt: top.read("fCnt", Val::u32)?.unwrap_or(0),
        frm: top.read("data", common::base64)?.unwrap_or_default(),
        gateways,
        upstream,
    })
}

fn status(top: &Obj<'_>) -> Result<Status, Refusal> {
    let external = top.read("externalPowerSource", Val::boolean)?.unwrap_or(false);
    let unavailable = top.read("batteryLevelUnavailable", Val::boolean)?.unwrap_or(false);
    Ok(Status {
        battery: common::battery(top.read("batteryLevel", Val::number)?, external, unavailable),
        margin: top.read("margin", |v| v.integer(i32::MIN.into(), i32::MAX.into()))?,
    })
}

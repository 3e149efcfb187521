//! ChirpStack v4 events in JSON (the Protobuf JSON mapping, camelCase;
//! fields with default values are omitted, so an absent number is 0).
//!
//! | metadata | from |
//! |---|---|
//! | `lorawan.deveui` | `deviceInfo.devEui` (required) |
//! | `lorawan.application` | `deviceInfo.applicationName`, else `applicationId` |
//! | `lorawan.device_name` | `deviceInfo.deviceName` |
//! | `lorawan.profile` | `deviceInfo.deviceProfileName` |
//! | `lorawan.ts` | `time` |
//! | `up`: fport, fcnt, frm | `fPort`, `fCnt`, `data` (base64) |
//! | `up`: rssi, snr, gateways | `rxInfo[].rssi`, `rxInfo[].snr` |
//! | `up`: upstream | `object` |
//! | `status`: battery, margin | `batteryLevel` (unless `externalPowerSource` or `batteryLevelUnavailable`), `margin` |

use crate::envelope::{Encoding, Envelope, Server, Status, Uplink};
use crate::error::Refusal;
use crate::json::{Number, Obj, Val};
use crate::servers::common;

/// The envelope of event `event` (one of
/// [`CHIRPSTACK_V4_EVENTS`](super::detect::CHIRPSTACK_V4_EVENTS)).
pub fn read(event: &str, top: &Obj<'_>) -> Result<Envelope, Refusal> {
    let info = top.require("deviceInfo")?.object()?;
    let dev_eui = common::eui_hex(&info.require("devEui")?)?;
    let mut envelope = Envelope::new(Server::ChirpstackV4, Encoding::Json, event, dev_eui);
    envelope.application = common::name_or_id(info.text("applicationName")?, info.text("applicationId")?);
    envelope.device_name = info.text("deviceName")?;
    envelope.profile = info.text("deviceProfileName")?;
    envelope.server_ts_ms = top.read("time", common::time)?;
    match event {
        "up" => envelope.uplink = Some(uplink(top)?),
        "status" => envelope.status = Some(status(top)?),
        _ => {}
    }
    Ok(envelope)
}

fn uplink(top: &Obj<'_>) -> Result<Uplink, Refusal> {
    let mut gateways = Vec::new();
    for rx in top.read("rxInfo", Val::array)?.unwrap_or_default() {
        let rx = rx.object()?;
        let rssi = rx.read("rssi", Val::number)?.unwrap_or(Number::from_f64(0.0));
        let snr = rx.read("snr", Val::number)?.unwrap_or(Number::from_f64(0.0));
        gateways.push((rssi, snr));
    }
    Ok(Uplink {
        fport: top.read("fPort", Val::u32)?.unwrap_or(0),
        fcnt: top.read("fCnt", Val::u32)?.unwrap_or(0),
        frm: top.read("data", common::base64)?.unwrap_or_default(),
        gateways,
        upstream: top.read("object", common::upstream)?,
    })
}

fn status(top: &Obj<'_>) -> Result<Status, Refusal> {
    let external = top.read("externalPowerSource", Val::boolean)?.unwrap_or(false);
    let unavailable = top.read("batteryLevelUnavailable", Val::boolean)?.unwrap_or(false);
    let level = top.read("batteryLevel", Val::number)?.unwrap_or(Number::from_f64(0.0));
    Ok(Status {
        battery: common::battery(Some(level), external, unavailable),
        margin: Some(top.read("margin", |v| v.integer(i32::MIN.into(), i32::MAX.into()))?.unwrap_or(0)),
    })
}

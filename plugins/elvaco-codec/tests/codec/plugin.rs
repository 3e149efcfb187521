//! The codec through the `Plugin` trait: identity, `init` (the example
//! settings, strictness), the envelope (neutral frame or any content type
//! with meta), telemetry, and whose clock stamps the readings.

use meterhub_codec_elvaco::ElvacoCodec;
use meterhub_plugin_api::testing::{assert_manifest_matches, unhex};
use meterhub_plugin_api::{Plugin, Role};

use crate::{DEV, SERVER_MS, codec, fields, readings, uplink};

/// Vector 00-standard (ThingPark examples, "Standard").
const STANDARD: &str = "000c06354189000c14951560020b2d2402000b3b5106000a5a07080a5e07050c789897967002fd170000";
/// Vector 03-scheduled-daily-redundant (ThingPark examples, "Schedule"),
/// meter time 2025-10-16T11:57 local.
const SCHEDULED: &str = "030c06384189007c06000000000c7898979670046d392b303a02fd170000";

#[test]
fn identity_and_manifest() {
    let info = ElvacoCodec::info();
    assert_eq!((info.id.as_str(), info.roles.as_slice()), ("elvaco-codec", &[Role::Codec][..]));
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_manifest_matches::<ElvacoCodec>(env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn the_example_settings_init_and_apply() {
    let mut c = codec(include_str!("../../settings.example.json"));
    let d = c.decode(&uplink(2, &unhex(SCHEDULED), SERVER_MS)).unwrap();
    // The example gives DEV UTC+3: 11:57 local is 08:57Z.
    assert_eq!(d.readings[0].ts_ms, 1_760_605_020_000);
    assert_eq!(fields(&d)["readingsTimeSource"], "meter");
}

#[test]
fn init_refuses_bad_settings_by_name() {
    assert_eq!(
        ElvacoCodec::init(r#"{"utc_offset_minute":180}"#).unwrap_err(),
        "setting \"utc_offset_minute\": unknown; allowed here: utc_offset_minutes, devices"
    );
    assert_eq!(
        ElvacoCodec::init(&format!(r#"{{"devices":{{"{DEV}":{{"utc_offset_minutes":1000}}}}}}"#)).unwrap_err(),
        format!("setting \"devices\".\"{DEV}\".\"utc_offset_minutes\": 1000 is not a UTC offset (-720 to 840 minutes)")
    );
}

#[test]
fn a_standard_uplink_gives_readings_telemetry_and_fields() {
    let d = codec("{}").decode(&uplink(2, &unhex(STANDARD), SERVER_MS)).unwrap();
    let t = SERVER_MS;
    assert_eq!(
        readings(&d),
        [
            format!("{DEV} energy {t} 894135 kWh cumulative"),
            format!("{DEV} volume {t} 26015.95 m3 cumulative"),
            format!("{DEV} power {t} 22.4 kW instantaneous"),
            format!("{DEV} flow {t} 0.651 m3/h instantaneous"),
            format!("{DEV} flow-temperature {t} 80.7 degC instantaneous"),
            format!("{DEV} return-temperature {t} 50.7 degC instantaneous"),
            format!("{DEV} error-flags {t} 0  state"),
        ]
    );
    let tm = &d.telemetry[0];
    assert_eq!(
        (tm.module.as_str(), tm.ts_ms, tm.battery_pct, tm.rssi_dbm, tm.snr_db, tm.frame_counter),
        (DEV, SERVER_MS, None, Some(-97), Some(7.5), Some(42))
    );
    let f = fields(&d);
    assert_eq!((f["model"].as_str(), f["meterId"].as_str()), (Some("CMi4110"), Some("70969798")));
    assert_eq!(f["readingsTimeNote"], "this message format carries no meter time");
}

#[test]
fn any_content_type_with_meta_is_frmpayload() {
    let mut frame = uplink(2, &unhex(STANDARD), SERVER_MS);
    let neutral = codec("{}").decode(&frame).unwrap();
    frame.content_type = "application/octet-stream".into();
    assert_eq!(codec("{}").decode(&frame).unwrap(), neutral);
    frame.meta.retain(|(k, _)| k != "ts");
    let d = codec("{}").decode(&frame).unwrap();
    assert_eq!(d.readings[0].ts_ms, SERVER_MS + 2_000, "without meta ts, the frame's receipt time");
    frame.meta.retain(|(k, _)| k != "fport");
    assert_eq!(
        codec("{}").decode(&frame).unwrap_err().reason,
        "meta \"fport\": missing (the codec needs the uplink's fPort)"
    );
}

#[test]
fn scheduled_readings_take_the_meter_time_only_with_an_offset() {
    let frame = uplink(2, &unhex(SCHEDULED), SERVER_MS);
    let d = codec("{}").decode(&frame).unwrap();
    assert!(d.readings.iter().all(|r| r.ts_ms == SERVER_MS));
    let f = fields(&d);
    assert_eq!((f["dateTime"].as_str(), f["readingsTimeSource"].as_str()), (Some("2025-10-16T11:57"), Some("server")));
    assert_eq!(f["readingsTimeNote"], "no utc_offset_minutes configured for the meter's local time");
    // The device's own offset wins over the default.
    let settings =
        format!(r#"{{"utc_offset_minutes":0,"devices":{{"{}":{{"utc_offset_minutes":120}}}}}}"#, DEV.to_lowercase());
    let d = codec(&settings).decode(&frame).unwrap();
    assert_eq!(readings(&d)[0], format!("{DEV} energy 1760608620000 894138 kWh cumulative"));
    assert_eq!(d.telemetry[0].ts_ms, 1_760_608_620_000);
    assert_eq!(fields(&d)["readingsTime"], "2025-10-16T09:57:00Z");
    // The 24:00 energy is in error state (before the first midnight readout): no reading.
    assert_eq!(fields(&d)["errorStateEnergyAt24"], "0");
    assert_eq!(d.readings.len(), 2, "{:?}", readings(&d));
}

#[test]
fn the_communication_error_is_decoded_without_readings() {
    let d = codec("{}").decode(&uplink(2, &[0x0e, 0x00], SERVER_MS)).unwrap();
    assert!(d.readings.is_empty());
    assert_eq!(d.telemetry.len(), 1);
    assert_eq!(fields(&d)["error"], "meter communication error: the module could not read the meter");
}

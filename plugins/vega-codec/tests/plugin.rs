//! The codec through the `Plugin` trait: identity, `init` (the example
//! settings, strictness), `decode` of IoT Vega Server JSON uplinks (either
//! hex case, `rx` and `get_data_resp` items) and of raw FRMPayload frames,
//! the model resolution order, telemetry.

mod common;

use common::*;
use meterhub_codec_vega::VegaCodec;
use meterhub_plugin_api::testing::{assert_manifest_matches, unhex};
use meterhub_plugin_api::{Decoded, Plugin, RawFrame, Role};
use serde_json::json;

const SI12_CURRENT: &str = "01001ce75128621c00000000000000000000000000000000";
const SI12_TS: i64 = 1_646_809_575_000;

fn vega_json(meta: &[(&str, &str)], body: &str) -> RawFrame {
    let mut frame = raw_frame(None, 0, body.as_bytes());
    frame.content_type = "application/vnd.vega.uplink+json".into();
    frame.meta = meta.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    frame
}

fn rx(app_eui: &str, port: u8, data: &str) -> String {
    format!(
        r#"{{"cmd":"rx","devEui":"{}","appEui":"{app_eui}","ts":{SERVER_MS},"gatewayId":"0000000000000001","ack":false,"fcnt":1234,"port":{port},"data":"{data}","dr":"SF12 BW125 4/5","freq":868900000,"rssi":-112,"snr":-3.5,"type":"UNCONF_UP"}}"#,
        DEV.to_lowercase()
    )
}

fn decode(settings: &str, frame: &RawFrame) -> Result<Decoded, String> {
    codec(settings).decode(frame).map_err(|e| e.reason)
}

#[test]
fn identity_and_manifest() {
    let info = VegaCodec::info();
    assert_eq!((info.id.as_str(), info.roles.as_slice()), ("vega-codec", &[Role::Codec][..]));
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    // id (and folder), version, roles and api, as plugin.toml states them.
    assert_manifest_matches::<VegaCodec>(env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn the_example_settings_init() {
    let mut c = codec(include_str!("../settings.example.json"));
    // Device 3632333364374F18 is an SI-11v2 by the example: a v1 packet
    // (type byte 1) reads as reason 1 there.
    let d = c.decode(&raw_frame(None, 2, &[1; 24])).unwrap();
    assert_eq!(fields(&d)["model"], "SI-11v2");
    assert_eq!(fields(&d)["reason"], "bySecurityInput1Triggered");
}

#[test]
fn json_uplink_in_either_hex_case() {
    let meta = [("deveui", DEV), ("appeui", "7665676173693132")];
    let lower = decode("{}", &vega_json(&meta, &rx("7665676173693132", 2, SI12_CURRENT))).unwrap();
    let upper = decode("{}", &vega_json(&meta, &rx("7665676173693132", 2, &SI12_CURRENT.to_uppercase()))).unwrap();
    assert_eq!(lower, upper);
    assert_eq!(fields(&lower)["model"], "SI-12");
    assert_eq!(fields(&lower)["currentSettings"]["input1Mode"], "guard");
    assert_eq!(readings(&lower)[0], line(&dev("1"), "guard", SI12_TS, "0", "", "state"));
    let t = &lower.telemetry[0];
    assert_eq!(
        (t.module.as_str(), t.ts_ms, t.battery_pct, t.rssi_dbm, t.snr_db, t.frame_counter),
        (DEV, SI12_TS, Some(0), Some(-112), Some(-3.5), Some(1234))
    );
}

#[test]
fn get_data_resp_item_takes_the_euis_from_meta() {
    let item = format!(r#"{{"ts":{SERVER_MS},"fcnt":7,"port":4,"data":"FFE3352862","rssi":-90,"snr":9}}"#);
    let d =
        decode("{}", &vega_json(&[("deveui", &DEV.to_lowercase()), ("appeui", "76656761474d2d32")], &item)).unwrap();
    assert_eq!(
        fields(&d),
        json!({"model": "GM-2", "type": "correctionTime", "time": 1_646_802_403, "timeStringISO": "2022-03-09T05:06:43.000Z"})
    );
    assert!(d.readings.is_empty());
    assert_eq!((d.telemetry[0].module.as_str(), d.telemetry[0].frame_counter), (DEV, Some(7)));
    // Without meta the JSON's own devEui/appEui serve.
    let d = decode("{}", &vega_json(&[], &rx("7665676173693132", 4, "ffe3352862"))).unwrap();
    assert_eq!((fields(&d)["model"].as_str(), d.telemetry[0].module.as_str()), (Some("SI-12"), DEV));
}

#[test]
fn raw_frame_with_meta_fport() {
    let mut frame = raw_frame(None, 2, &unhex(SI12_CURRENT));
    frame.meta.push(("appeui".into(), "7665676173693132".into()));
    let d = decode("{}", &frame).unwrap();
    assert_eq!(fields(&d)["model"], "SI-12");
    assert_eq!(d.readings.len(), 5);
    let t = &d.telemetry[0];
    assert_eq!((t.rssi_dbm, t.snr_db, t.frame_counter, t.ts_ms), (None, None, None, SI12_TS));
}

#[test]
fn model_resolution_order() {
    let data = "ffe3352862"; // a time packet: every model decodes it
    let model = |settings: &str, meta: &[(&str, &str)], app_eui: &str| -> Result<String, String> {
        let mut m: Vec<(&str, &str)> = vec![("deveui", DEV)];
        m.extend_from_slice(meta);
        decode(settings, &vega_json(&m, &rx(app_eui, 4, data)))
            .map(|d| fields(&d)["model"].as_str().unwrap().to_owned())
    };
    let per_device = format!(r#"{{"model":"TD-11","devices":{{"{}":{{"model":"tp_11"}}}}}}"#, DEV.to_lowercase());
    let default = r#"{"model":"TD-11"}"#;
    // per-device model > meta model > AppEUI table > settings model
    assert_eq!(model(&per_device, &[("model", "M-BUS-2")], "76656761474D2D32").unwrap(), "TP-11");
    assert_eq!(model(default, &[("model", "M-BUS-2")], "76656761474D2D32").unwrap(), "M-BUS-2");
    assert_eq!(model(default, &[], "76656761474D2D32").unwrap(), "GM-2");
    assert_eq!(model(default, &[], "0000000000000000").unwrap(), "TD-11");
    // The AppEUI listed twice is an SI-11 (the TC_11 entry is unreachable).
    assert_eq!(model("{}", &[], "7665676173693131").unwrap(), "SI-11");
    assert_eq!(model("{}", &[], "5350625a49503237").unwrap(), "SPBZIP");
    assert_eq!(
        model("{}", &[], "0000000000000000").unwrap_err(),
        "no model for device 3632333364374F18 (AppEUI 0000000000000000): set codec_settings.devices.\"3632333364374F18\".model"
    );
    let e = model(default, &[], "76656761544C3131").unwrap_err();
    assert!(e.contains("AppEUI 76656761544C3131 is a Vega TL_11, which vega-codec does not decode"), "{e}");
    assert_eq!(
        model("{}", &[("model", "XX")], "7665676173693131").unwrap_err(),
        "meta \"model\": unknown model \"XX\""
    );
    // Raw frame without an AppEUI.
    let e = codec("{}").decode(&raw_frame(None, 4, &[0xff, 1, 2, 3, 4])).unwrap_err().reason;
    assert_eq!(e, format!("no model for device {DEV} (AppEUI unknown): set codec_settings.devices.\"{DEV}\".model"));
}

#[test]
fn init_refuses_bad_settings_by_name() {
    let e =
        VegaCodec::init(&format!(r#"{{"devices":{{"{DEV}":{{"inputs":{{"3":{{"weight":"-0.5","unit":"m3"}}}}}}}}}}"#))
            .unwrap_err();
    assert_eq!(
        e,
        format!("setting \"devices\".\"{DEV}\".\"inputs\".\"3\".\"weight\": \"-0.5\" must be greater than 0")
    );
    let e =
        VegaCodec::init(&format!(r#"{{"devices":{{"{DEV}":{{"inputs":{{"2":{{"weight":"1,5"}}}}}}}}}}"#)).unwrap_err();
    assert!(
        e.starts_with(&format!("setting \"devices\".\"{DEV}\".\"inputs\".\"2\".\"weight\": \"1,5\" is not a decimal")),
        "{e}"
    );
    let e = VegaCodec::init(&format!(r#"{{"devices":{{"{DEV}":{{"model":"SI-99"}}}}}}"#)).unwrap_err();
    assert!(e.starts_with(&format!("setting \"devices\".\"{DEV}\".\"model\": unknown model \"SI-99\"")), "{e}");
    assert_eq!(
        VegaCodec::init(r#"{"models":"SI-11"}"#).unwrap_err(),
        "setting \"models\": unknown; allowed here: model, devices"
    );
}

#[test]
fn envelope_errors_are_decode_errors() {
    let meta = [("deveui", DEV)];
    assert_eq!(
        decode(r#"{"model":"GM-2"}"#, &vega_json(&meta, r#"{"port":2}"#)).unwrap_err(),
        "uplink JSON \"data\": missing"
    );
    assert_eq!(
        decode(r#"{"model":"GM-2"}"#, &vega_json(&meta, r#"{"port":2,"data":"0"}"#)).unwrap_err(),
        "uplink JSON \"data\": odd number of hex digits (1)"
    );
    assert_eq!(
        decode(r#"{"model":"GM-2"}"#, &vega_json(&meta, r#"{"data":"00"}"#)).unwrap_err(),
        "uplink JSON \"port\": missing"
    );
    assert!(
        decode(r#"{"model":"GM-2"}"#, &vega_json(&meta, "{")).unwrap_err().starts_with("uplink JSON: not valid JSON")
    );
    let mut frame = raw_frame(Some("GM-2"), 2, &[0; 21]);
    frame.meta.retain(|(k, _)| k != "fport");
    assert_eq!(decode("{}", &frame).unwrap_err(), "meta \"fport\": missing (raw FRMPayload frames need the fPort)");
}

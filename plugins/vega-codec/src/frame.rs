//! The input envelope: what the codec receives for one uplink.
//!
//! - Content type [`VEGA_UPLINK_JSON`]: the payload is the JSON object of
//!   one uplink as the IoT Vega Server sent it, an `rx` message
//!   (`{"cmd":"rx","devEui":..,"appEui":..,"ts":ms,"fcnt":..,"port":..,
//!   "data":"hex","rssi":..,"snr":..,...}`) or one item of a
//!   `get_data_resp` `data_list` (the same without `devEui`, `appEui`,
//!   `cmd`). Meta `deveui` / `appeui` win over the JSON's.
//! - Any other content type, and the host's neutral uplink frame
//!   (`application/vnd.meterhub.lorawan-uplink`) above all: the payload is
//!   the raw LoRaWAN FRMPayload; meta `fport` (decimal), `deveui`,
//!   optionally `joineui` (or `appeui`), `ts` (ms), `fcnt`, `rssi`, `snr`.
//!
//! Either way the server time falls back to the frame's receipt time, and
//! meta `model` (optional) names the device model. Errors name the field.

use meterhub_plugin_api::{DecodeError, RawFrame};
use serde_json::{Map, Value};

use crate::bytes::parse_hex;
use meterhub_plugin_api::lorawan::is_eui;

/// Content type of an IoT Vega Server uplink JSON object.
pub const VEGA_UPLINK_JSON: &str = "application/vnd.vega.uplink+json";

/// One uplink, whatever envelope it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct Uplink {
    /// DevEUI, upper-case hex.
    pub dev_eui: String,
    /// AppEUI, upper-case hex, when known.
    pub app_eui: Option<String>,
    /// Model named by the frame's meta, unparsed.
    pub model: Option<String>,
    /// LoRaWAN fPort.
    pub fport: u8,
    /// FRMPayload.
    pub data: Vec<u8>,
    /// Server time of the uplink, ms.
    pub ts_ms: i64,
    /// RSSI, dBm.
    pub rssi: Option<i32>,
    /// SNR, dB.
    pub snr: Option<f32>,
    /// Frame counter.
    pub fcnt: Option<u32>,
}

fn err(message: impl Into<String>) -> DecodeError {
    DecodeError::new(message)
}

fn eui(text: &str, field: &str) -> Result<String, DecodeError> {
    if is_eui(text) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(err(format!("{field}: {text:?} is not an EUI (16 hex digits)")))
    }
}

fn meta_eui(frame: &RawFrame, key: &str) -> Result<Option<String>, DecodeError> {
    frame.meta(key).map(|v| eui(v, &format!("meta {key:?}"))).transpose()
}

fn meta_ts(frame: &RawFrame) -> Result<Option<i64>, DecodeError> {
    frame
        .meta("ts")
        .map(|v| v.trim().parse::<i64>().map_err(|_| err(format!("meta \"ts\": {v:?} is not milliseconds"))))
        .transpose()
}

/// Parse the envelope of `frame`.
pub fn parse(frame: &RawFrame) -> Result<Uplink, DecodeError> {
    let model = frame.meta("model").map(str::to_owned);
    if frame.content_type == VEGA_UPLINK_JSON {
        return parse_json(frame, model);
    }
    let fport = match frame.meta("fport") {
        None => return Err(err("meta \"fport\": missing (raw FRMPayload frames need the fPort)")),
        Some(v) => v.trim().parse::<u8>().map_err(|_| err(format!("meta \"fport\": {v:?} is not a port 0-255")))?,
    };
    let dev_eui = meta_eui(frame, "deveui")?.ok_or_else(|| err("meta \"deveui\": missing"))?;
    let app_eui = match meta_eui(frame, "joineui")? {
        Some(join_eui) => Some(join_eui),
        None => meta_eui(frame, "appeui")?,
    };
    Ok(Uplink {
        dev_eui,
        app_eui,
        model,
        fport,
        data: frame.payload.clone(),
        ts_ms: meta_ts(frame)?.unwrap_or(frame.received_at_ms),
        rssi: meta_number::<f64>(frame, "rssi")?.map(|v| v.round() as i32),
        snr: meta_number(frame, "snr")?,
        fcnt: meta_number(frame, "fcnt")?,
    })
}

fn meta_number<T: std::str::FromStr>(frame: &RawFrame, key: &str) -> Result<Option<T>, DecodeError> {
    frame
        .meta(key)
        .map(|v| v.trim().parse::<T>().map_err(|_| err(format!("meta {key:?}: {v:?} is not a number"))))
        .transpose()
}

fn json_str<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, DecodeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(err(format!("uplink JSON {key:?}: expected a string, got {other}"))),
    }
}

fn json_num(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, DecodeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(err(format!("uplink JSON {key:?}: expected a number, got {other}"))),
    }
}

fn json_int(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, DecodeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            v.as_i64().map(Some).ok_or_else(|| err(format!("uplink JSON {key:?}: expected an integer, got {v}")))
        }
    }
}

fn parse_json(frame: &RawFrame, model: Option<String>) -> Result<Uplink, DecodeError> {
    let root: Value = serde_json::from_slice(&frame.payload)
        .map_err(|e| err(format!("uplink JSON: not valid JSON ({e}); content type {VEGA_UPLINK_JSON}")))?;
    let Value::Object(map) = root else {
        return Err(err(format!("uplink JSON: expected an object, got {root}")));
    };
    let hex = json_str(&map, "data")?.ok_or_else(|| err("uplink JSON \"data\": missing"))?;
    let data = parse_hex(hex).map_err(|e| err(format!("uplink JSON \"data\": {e}")))?;
    let fport = json_int(&map, "port")?.ok_or_else(|| err("uplink JSON \"port\": missing"))?;
    let fport = u8::try_from(fport).map_err(|_| err(format!("uplink JSON \"port\": {fport} is not a port 0-255")))?;
    let dev_eui = match meta_eui(frame, "deveui")? {
        Some(e) => e,
        None => match json_str(&map, "devEui")? {
            Some(text) => eui(text, "uplink JSON \"devEui\"")?,
            None => return Err(err("no DevEUI: meta \"deveui\" and uplink JSON \"devEui\" are both missing")),
        },
    };
    let app_eui = match meta_eui(frame, "appeui")? {
        Some(e) => Some(e),
        None => json_str(&map, "appEui")?.map(|t| eui(t, "uplink JSON \"appEui\"")).transpose()?,
    };
    let ts_ms = match json_int(&map, "ts")? {
        Some(ts) => ts,
        None => meta_ts(frame)?.unwrap_or(frame.received_at_ms),
    };
    let rssi = json_num(&map, "rssi")?.map(|v| v.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32);
    let snr = json_num(&map, "snr")?.map(|v| v as f32);
    let fcnt = json_int(&map, "fcnt")?
        .map(|v| u32::try_from(v).map_err(|_| err(format!("uplink JSON \"fcnt\": {v} is not a frame counter"))))
        .transpose()?;
    Ok(Uplink { dev_eui, app_eui, model, fport, data, ts_ms, rssi, snr, fcnt })
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::Transport;
    use meterhub_plugin_api::testing::FrameBuilder;

    use super::*;

    fn frame(content_type: &str, meta: &[(&str, &str)], payload: &[u8]) -> RawFrame {
        FrameBuilder::new(payload)
            .source("vega")
            .peer("ws://vega")
            .received_at_ms(1_700_000_000_000)
            .transport(Transport::Websocket)
            .content_type(content_type)
            .metas(meta.iter().copied())
            .build()
    }

    #[test]
    fn json_envelope() {
        let f = frame(
            VEGA_UPLINK_JSON,
            &[("deveui", "3632333364374f18")],
            br#"{"cmd":"rx","devEui":"0000000000000001","appEui":"7665676173693132","ts":1646809600123,
                "fcnt":17,"port":2,"data":"FFE3352862","rssi":-97,"snr":7.5,"type":"UNCONF_UP"}"#,
        );
        let u = parse(&f).unwrap();
        assert_eq!(u.dev_eui, "3632333364374F18");
        assert_eq!(u.app_eui.as_deref(), Some("7665676173693132"));
        assert_eq!((u.fport, u.ts_ms, u.rssi, u.snr, u.fcnt), (2, 1_646_809_600_123, Some(-97), Some(7.5), Some(17)));
        assert_eq!(u.data, vec![0xff, 0xe3, 0x35, 0x28, 0x62]);
    }

    #[test]
    fn envelope_errors_name_the_field() {
        let e = |meta: &[(&str, &str)], payload: &str| {
            parse(&frame(VEGA_UPLINK_JSON, meta, payload.as_bytes())).unwrap_err().reason
        };
        let m = &[("deveui", "3632333364374F18")][..];
        assert!(e(m, "not json").starts_with("uplink JSON: not valid JSON"));
        assert_eq!(e(m, r#"{"port":2}"#), "uplink JSON \"data\": missing");
        assert_eq!(e(m, r#"{"port":2,"data":"abc"}"#), "uplink JSON \"data\": odd number of hex digits (3)");
        assert_eq!(e(m, r#"{"port":2,"data":"zz"}"#), "uplink JSON \"data\": not a hex digit at offset 0: 'z'");
        assert_eq!(e(m, r#"{"data":"00"}"#), "uplink JSON \"port\": missing");
        assert_eq!(e(m, r#"{"data":"00","port":300}"#), "uplink JSON \"port\": 300 is not a port 0-255");
        assert_eq!(
            e(&[], r#"{"data":"00","port":2}"#),
            "no DevEUI: meta \"deveui\" and uplink JSON \"devEui\" are both missing"
        );
        let raw = |meta: &[(&str, &str)]| parse(&frame("application/octet-stream", meta, &[1])).unwrap_err().reason;
        assert_eq!(
            raw(&[("deveui", "3632333364374F18")]),
            "meta \"fport\": missing (raw FRMPayload frames need the fPort)"
        );
        assert_eq!(raw(&[("fport", "x"), ("deveui", "3632333364374F18")]), "meta \"fport\": \"x\" is not a port 0-255");
        assert_eq!(raw(&[("fport", "2")]), "meta \"deveui\": missing");
    }

    #[test]
    fn raw_envelope() {
        let f = frame("application/octet-stream", &[("fport", "4"), ("deveui", "3632333364374f18"), ("ts", "5")], &[1]);
        let u = parse(&f).unwrap();
        assert_eq!((u.fport, u.ts_ms, u.dev_eui.as_str(), u.app_eui), (4, 5, "3632333364374F18", None));
        let f = frame("application/octet-stream", &[("fport", "4"), ("deveui", "3632333364374f18")], &[1]);
        assert_eq!(parse(&f).unwrap().ts_ms, 1_700_000_000_000);
    }

    #[test]
    fn neutral_frame_with_link_quality() {
        let meta = [
            ("deveui", "3632333364374F18"),
            ("fport", "2"),
            ("joineui", "7665676173693132"),
            ("appeui", "0000000000000001"),
            ("fcnt", "17"),
            ("rssi", "-97.4"),
            ("snr", "7.5"),
        ];
        let u = parse(&frame("application/vnd.meterhub.lorawan-uplink", &meta, &[1])).unwrap();
        assert_eq!(u.app_eui.as_deref(), Some("7665676173693132"), "the JoinEUI wins over its old name");
        assert_eq!((u.rssi, u.snr, u.fcnt), (Some(-97), Some(7.5), Some(17)));
        let bad = [("deveui", "3632333364374F18"), ("fport", "2"), ("fcnt", "x")];
        let e = parse(&frame("application/vnd.meterhub.lorawan-uplink", &bad, &[1])).unwrap_err().reason;
        assert_eq!(e, "meta \"fcnt\": \"x\" is not a number");
    }
}

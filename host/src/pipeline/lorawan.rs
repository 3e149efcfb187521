//! LoRaWAN frames: the envelope a driver read, the device codec the
//! operator mapped the device to, and the neutral uplink frame that codec
//! receives (`meterhub_plugin_api::lorawan` defines the keys).
//!
//! A frame is a LoRaWAN driver's when its metadata carries
//! [`lorawan::EVENT`]. An uplink goes to the codec of the first matching
//! device route (DevEUI, then profile), else to the driver's own codec; any
//! event also tells the module's link quality, battery or activity, which
//! become telemetry here, without a codec.

use meterhub_plugin_api::{Decimal, Decoded, RawFrame, Reading, Telemetry, lorawan};
use serde_json::Value;

use crate::config::{DeviceMatch, DeviceRoute, UpstreamChannel};

/// Whether `frame` was committed by a LoRaWAN driver with its envelope read.
pub fn is_lorawan(frame: &RawFrame) -> bool {
    frame.meta(lorawan::EVENT).is_some()
}

/// What the envelope says about one LoRaWAN event.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    /// The event (`up`, `join`, `status`, ...).
    pub event: &'a str,
    /// DevEUI, upper-case hex.
    pub dev_eui: &'a str,
    /// The server's device profile name, when it gave one.
    pub profile: Option<&'a str>,
}

/// Read the envelope's identity from `frame`'s metadata.
pub fn envelope(frame: &RawFrame) -> Result<Envelope<'_>, String> {
    let event = frame.meta(lorawan::EVENT).ok_or_else(|| format!("meta {:?}: missing", lorawan::EVENT))?;
    let dev_eui = frame.meta(lorawan::DEVEUI).ok_or_else(|| format!("meta {:?}: missing", lorawan::DEVEUI))?;
    Ok(Envelope { event, dev_eui, profile: frame.meta(lorawan::PROFILE) })
}

/// The route of a device: a DevEUI route wins over a profile route; `None`
/// sends it to the driver's own codec.
pub fn route<'r>(routes: &'r [DeviceRoute], envelope: &Envelope) -> Option<&'r DeviceRoute> {
    let by_eui = routes
        .iter()
        .find(|r| matches!(&r.matches, DeviceMatch::DevEui(eui) if eui.eq_ignore_ascii_case(envelope.dev_eui)));
    by_eui.or_else(|| {
        let profile = envelope.profile?;
        routes.iter().find(|r| matches!(&r.matches, DeviceMatch::Profile(p) if p == profile))
    })
}

/// The neutral uplink frame of `frame` for a device codec: the FRMPayload
/// as payload, the envelope's fields under their plain names, and `model`
/// when the route names one. Errors name the metadata key.
pub fn neutral(frame: &RawFrame, model: Option<&str>) -> Result<RawFrame, String> {
    let frm = frame.meta(lorawan::FRM).ok_or_else(|| format!("meta {:?}: missing on an uplink", lorawan::FRM))?;
    let payload = meterhub_plugin_api::hex::decode(frm).map_err(|e| format!("meta {:?}: {e}", lorawan::FRM))?;
    if frame.meta(lorawan::FPORT).is_none() {
        return Err(format!("meta {:?}: missing on an uplink", lorawan::FPORT));
    }
    let mut meta: Vec<(String, String)> = frame
        .meta
        .iter()
        .filter(|(k, _)| k != lorawan::FRM && k != lorawan::UPSTREAM && k != lorawan::EVENT)
        .filter_map(|(k, v)| k.strip_prefix(lorawan::PREFIX).map(|plain| (plain.to_owned(), v.clone())))
        .collect();
    if let Some(join_eui) = frame.meta(lorawan::JOINEUI) {
        meta.push(("appeui".to_owned(), join_eui.to_owned()));
    }
    if let Some(model) = model {
        meta.push((lorawan::MODEL.to_owned(), model.to_owned()));
    }
    Ok(RawFrame {
        seq: frame.seq,
        source: frame.source.clone(),
        peer: frame.peer.clone(),
        received_at_ms: frame.received_at_ms,
        transport: frame.transport,
        content_type: lorawan::NEUTRAL_CONTENT_TYPE.to_owned(),
        meta,
        payload,
    })
}

/// Readings from the payload the network server decoded (ChirpStack
/// `object`, The Things Stack `decoded_payload`), as the route's channels
/// name them, stamped with the server's time; the object itself becomes
/// the fields, flagged `decoded_upstream`.
pub fn from_upstream(frame: &RawFrame, envelope: &Envelope, channels: &[UpstreamChannel]) -> Result<Decoded, String> {
    let device = envelope.dev_eui;
    let text = frame.meta(lorawan::UPSTREAM).ok_or_else(|| {
        format!(
            "device {device}: its route takes readings from the server's decoded payload, but the server sent none \
             (give the device a payload decoder there, or route it to a codec)"
        )
    })?;
    let object: Value = serde_json::from_str(text).map_err(|e| format!("meta {:?}: {e}", lorawan::UPSTREAM))?;
    let ts_ms = number(frame, lorawan::TS)?.unwrap_or(frame.received_at_ms);
    let mut readings = Vec::with_capacity(channels.len());
    for c in channels {
        let path = c.field.join(".");
        let value = c.field.iter().try_fold(&object, |v, key| v.get(key)).ok_or_else(|| {
            format!("device {device}: the server's decoded payload has no field {path:?} (channel {})", c.channel)
        })?;
        let decimal = match value {
            Value::Number(n) => decimal(&n.to_string()),
            Value::String(s) => decimal(s.trim()),
            Value::Bool(b) => Some(Decimal::from(u8::from(*b))),
            _ => None,
        };
        let value = decimal.ok_or_else(|| {
            format!("device {device}: field {path:?} of the server's decoded payload is {value}, not a number")
        })?;
        readings.push(Reading {
            device: device.to_owned(),
            channel: c.channel.clone(),
            ts_ms,
            value,
            unit: c.unit.clone(),
            kind: c.kind,
        });
    }
    let mut fields = serde_json::Map::new();
    fields.insert("decoded_upstream".to_owned(), Value::Bool(true));
    fields.insert("upstream".to_owned(), object);
    Ok(Decoded { readings, telemetry: Vec::new(), fields: Some(Value::Object(fields).to_string()) })
}

/// A decimal number's exact value, in plain or scientific notation.
fn decimal(text: &str) -> Option<Decimal> {
    text.parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(text).ok()).map(|d| d.normalize())
}

fn number<T: std::str::FromStr>(frame: &RawFrame, key: &str) -> Result<Option<T>, String> {
    frame
        .meta(key)
        .map(|v| v.trim().parse::<T>().map_err(|_| format!("meta {key:?}: {v:?} is not a number")))
        .transpose()
}

/// What the event tells about the module: when it was heard, its link
/// quality, frame counter and battery. Every LoRaWAN event is the module's
/// sign of life, so there is always one.
pub fn telemetry(frame: &RawFrame, envelope: &Envelope) -> Result<Telemetry, String> {
    let battery =
        number::<f64>(frame, lorawan::BATTERY)?.filter(|b| (0.0..=100.0).contains(b)).map(|b| b.round() as u8);
    Ok(Telemetry {
        module: envelope.dev_eui.to_owned(),
        ts_ms: number(frame, lorawan::TS)?.unwrap_or(frame.received_at_ms),
        battery_pct: battery,
        rssi_dbm: number::<f64>(frame, lorawan::RSSI)?.map(|r| r.round() as i32),
        snr_db: number(frame, lorawan::SNR)?,
        frame_counter: if envelope.event == lorawan::EVENT_UP { number(frame, lorawan::FCNT)? } else { None },
    })
}

/// Add the envelope's telemetry to what the codec decoded: the codec's own
/// word on a field (a battery it read from the payload) wins.
pub fn merge(mut decoded: Decoded, link: Telemetry) -> Decoded {
    match decoded.telemetry.iter_mut().find(|t| t.module == link.module) {
        Some(t) => {
            t.battery_pct = t.battery_pct.or(link.battery_pct);
            t.rssi_dbm = t.rssi_dbm.or(link.rssi_dbm);
            t.snr_db = t.snr_db.or(link.snr_db);
            t.frame_counter = t.frame_counter.or(link.frame_counter);
        }
        None => decoded.telemetry.push(link),
    }
    decoded
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::Transport;

    use meterhub_plugin_api::ReadingKind;

    use super::*;
    use crate::config::Pos;

    const EUI: &str = "3632333364374F18";

    fn uplink(extra: &[(&str, &str)]) -> RawFrame {
        let mut meta = vec![
            (lorawan::EVENT, "up"),
            (lorawan::SERVER, "chirpstack-v4"),
            (lorawan::DEVEUI, EUI),
            (lorawan::JOINEUI, "7665676173693132"),
            (lorawan::FPORT, "2"),
            (lorawan::FCNT, "17"),
            (lorawan::FRM, "01ff"),
            (lorawan::TS, "1700000000123"),
            (lorawan::RSSI, "-97"),
            (lorawan::SNR, "7.5"),
            (lorawan::PROFILE, "SI-22"),
            (lorawan::UPSTREAM, "{\"v\":1}"),
            ("via", "rx"),
        ];
        meta.extend_from_slice(extra);
        RawFrame {
            seq: 7,
            source: "lns".into(),
            peer: "192.0.2.1:5000".into(),
            received_at_ms: 1_700_000_000_999,
            transport: Transport::Http,
            content_type: "application/vnd.chirpstack.v4.event+json".into(),
            meta: meta.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            payload: b"{\"the\":\"envelope\"}".to_vec(),
        }
    }

    fn rule(matches: DeviceMatch, codec: &str) -> DeviceRoute {
        DeviceRoute { matches, codec: codec.into(), model: None, upstream: Vec::new(), pos: Pos { line: 1, col: 1 } }
    }

    fn channel(name: &str, field: &str, kind: ReadingKind) -> UpstreamChannel {
        UpstreamChannel {
            channel: name.into(),
            field: field.split('.').map(Into::into).collect(),
            unit: "m3".into(),
            kind,
        }
    }

    #[test]
    fn readings_from_the_servers_decoded_payload_are_exact_and_flagged() {
        let object = r#"{"meter":{"volume":12.50,"serial":"A1"},"temp":"21.5","alarm":true,"big":1.5e3}"#;
        let frame = uplink(&[]);
        let mut meta = frame.meta.clone();
        meta.retain(|(k, _)| k != lorawan::UPSTREAM);
        meta.push((lorawan::UPSTREAM.into(), object.into()));
        let frame = RawFrame { meta, ..frame };
        let env = envelope(&frame).unwrap();
        let channels = [
            channel("volume", "meter.volume", ReadingKind::Cumulative),
            channel("temperature", "temp", ReadingKind::Instantaneous),
            channel("alarm", "alarm", ReadingKind::State),
            channel("big", "big", ReadingKind::Instantaneous),
        ];
        let decoded = from_upstream(&frame, &env, &channels).unwrap();
        let values: Vec<(String, String, i64)> =
            decoded.readings.iter().map(|r| (r.channel.clone(), r.value.to_string(), r.ts_ms)).collect();
        let ts = 1_700_000_000_123;
        let want = [("volume", "12.5"), ("temperature", "21.5"), ("alarm", "1"), ("big", "1500")];
        assert_eq!(values, want.map(|(c, v)| (c.to_owned(), v.to_owned(), ts)));
        assert_eq!(decoded.readings[0].device, EUI);
        let fields: Value = serde_json::from_str(decoded.fields.as_deref().unwrap()).unwrap();
        assert_eq!(
            (fields["decoded_upstream"].as_bool(), fields["upstream"]["meter"]["serial"].as_str()),
            (Some(true), Some("A1"))
        );

        let e = from_upstream(&frame, &env, &[channel("x", "meter.flow", ReadingKind::State)]).unwrap_err();
        assert_eq!(e, format!("device {EUI}: the server's decoded payload has no field \"meter.flow\" (channel x)"));
        let e = from_upstream(&frame, &env, &[channel("x", "meter", ReadingKind::State)]).unwrap_err();
        assert!(e.contains("field \"meter\" of the server's decoded payload is {"), "{e}");
        let bare = RawFrame {
            meta: vec![(lorawan::EVENT.into(), "up".into()), (lorawan::DEVEUI.into(), EUI.into())],
            ..frame
        };
        let e = from_upstream(&bare, &envelope(&bare).unwrap(), &channels).unwrap_err();
        assert!(e.contains("but the server sent none"), "{e}");
    }

    #[test]
    fn the_neutral_frame_is_the_frm_payload_with_plain_keys_and_the_model() {
        let frame = uplink(&[]);
        assert!(is_lorawan(&frame));
        let plain = neutral(&frame, Some("SI-22")).unwrap();
        assert_eq!(plain.content_type, lorawan::NEUTRAL_CONTENT_TYPE);
        assert_eq!(plain.payload, vec![0x01, 0xff]);
        assert_eq!((plain.seq, plain.source.as_str(), plain.transport), (frame.seq, "lns", Transport::Http));
        for (key, value) in [
            ("deveui", EUI),
            ("joineui", "7665676173693132"),
            ("appeui", "7665676173693132"),
            ("fport", "2"),
            ("fcnt", "17"),
            ("ts", "1700000000123"),
            ("rssi", "-97"),
            ("snr", "7.5"),
            ("profile", "SI-22"),
            ("server", "chirpstack-v4"),
            ("model", "SI-22"),
        ] {
            assert_eq!(plain.meta(key), Some(value), "{key}");
        }
        for absent in ["frm", "upstream", "event", "via", "lorawan.deveui"] {
            assert_eq!(plain.meta(absent), None, "{absent}");
        }
        let bad = uplink(&[]);
        let mut bad_meta = bad.meta.clone();
        bad_meta.retain(|(k, _)| k != lorawan::FRM);
        bad_meta.push((lorawan::FRM.into(), "0g".into()));
        let e = neutral(&RawFrame { meta: bad_meta, ..bad }, None).unwrap_err();
        assert_eq!(e, "meta \"lorawan.frm\": not a hex digit at offset 1: 'g'");
    }

    #[test]
    fn a_deveui_route_wins_over_a_profile_route() {
        let frame = uplink(&[]);
        let envelope = envelope(&frame).unwrap();
        let routes = vec![
            rule(DeviceMatch::Profile("SI-22".into()), "by-profile"),
            rule(DeviceMatch::DevEui(EUI.into()), "by-eui"),
        ];
        assert_eq!(route(&routes, &envelope).unwrap().codec, "by-eui");
        assert_eq!(route(&routes[..1], &envelope).unwrap().codec, "by-profile");
        let other = Envelope { dev_eui: "0000000000000001", profile: None, ..envelope };
        assert_eq!(route(&routes, &other), None);
    }

    #[test]
    fn every_event_tells_the_module_state_and_the_codec_word_wins() {
        let frame = uplink(&[]);
        let link = telemetry(&frame, &envelope(&frame).unwrap()).unwrap();
        assert_eq!(
            (link.module.as_str(), link.ts_ms, link.rssi_dbm, link.snr_db, link.frame_counter, link.battery_pct),
            (EUI, 1_700_000_000_123, Some(-97), Some(7.5), Some(17), None)
        );
        let status = RawFrame {
            meta: vec![
                (lorawan::EVENT.into(), "status".into()),
                (lorawan::DEVEUI.into(), EUI.into()),
                (lorawan::BATTERY.into(), "86.6".into()),
            ],
            ..frame.clone()
        };
        let t = telemetry(&status, &envelope(&status).unwrap()).unwrap();
        assert_eq!((t.battery_pct, t.ts_ms, t.frame_counter), (Some(87), frame.received_at_ms, None));

        let codec_said = Telemetry { battery_pct: Some(40), rssi_dbm: None, ..link.clone() };
        let merged = merge(Decoded { telemetry: vec![codec_said], ..Decoded::default() }, link);
        assert_eq!(merged.telemetry.len(), 1);
        assert_eq!((merged.telemetry[0].battery_pct, merged.telemetry[0].rssi_dbm), (Some(40), Some(-97)));
    }
}

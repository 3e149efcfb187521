//! The input envelope: the neutral uplink frame the host hands a LoRaWAN
//! device codec (`application/vnd.meterhub.lorawan-uplink`), or any frame
//! whose payload is the FRMPayload and whose meta names the port and the
//! device.
//!
//! Payload: the FRMPayload bytes. Meta: `fport` (decimal, required),
//! `deveui` (16 hex digits, required), `ts` (ms since the epoch; else the
//! frame's receipt time), and where known `fcnt`, `rssi`, `snr`. Errors name
//! the meta key.

use meterhub_plugin_api::{DecodeError, RawFrame};

use meterhub_plugin_api::lorawan::is_eui;

/// One uplink.
#[derive(Debug, Clone, PartialEq)]
pub struct Uplink {
    /// DevEUI, upper-case hex.
    pub dev_eui: String,
    /// LoRaWAN fPort.
    pub fport: u8,
    /// FRMPayload.
    pub data: Vec<u8>,
    /// When the network server received it, ms.
    pub ts_ms: i64,
    /// RSSI, dBm.
    pub rssi: Option<i32>,
    /// SNR, dB.
    pub snr: Option<f32>,
    /// Frame counter.
    pub fcnt: Option<u32>,
}

fn meta_number<T: std::str::FromStr>(frame: &RawFrame, key: &str, what: &str) -> Result<Option<T>, DecodeError> {
    frame
        .meta(key)
        .map(|v| v.trim().parse::<T>().map_err(|_| DecodeError::new(format!("meta {key:?}: {v:?} is not {what}"))))
        .transpose()
}

/// Read the uplink of `frame`.
pub fn parse(frame: &RawFrame) -> Result<Uplink, DecodeError> {
    let fport = meta_number::<u8>(frame, "fport", "a port 0-255")?
        .ok_or_else(|| DecodeError::new("meta \"fport\": missing (the codec needs the uplink's fPort)"))?;
    let dev_eui = match frame.meta("deveui") {
        None => return Err(DecodeError::new("meta \"deveui\": missing")),
        Some(v) if is_eui(v.trim()) => v.trim().to_ascii_uppercase(),
        Some(v) => return Err(DecodeError::new(format!("meta \"deveui\": {v:?} is not an EUI (16 hex digits)"))),
    };
    Ok(Uplink {
        dev_eui,
        fport,
        data: frame.payload.clone(),
        ts_ms: meta_number(frame, "ts", "milliseconds")?.unwrap_or(frame.received_at_ms),
        rssi: meta_number::<f64>(frame, "rssi", "a number")?
            .filter(|v| v.is_finite())
            .map(|v| v.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32),
        snr: meta_number::<f32>(frame, "snr", "a number")?.filter(|v| v.is_finite()),
        fcnt: meta_number(frame, "fcnt", "a frame counter")?,
    })
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::lorawan::NEUTRAL_CONTENT_TYPE;
    use meterhub_plugin_api::testing::FrameBuilder;

    use super::*;

    fn frame(meta: &[(&str, &str)]) -> RawFrame {
        FrameBuilder::new(vec![1, 2])
            .received_at_ms(1_700_000_000_000)
            .content_type(NEUTRAL_CONTENT_TYPE)
            .metas(meta.iter().copied())
            .build()
    }

    #[test]
    fn neutral_frame_meta() {
        let u = parse(&frame(&[
            ("deveui", "94193a0301000001"),
            ("fport", "2"),
            ("ts", "1760605020000"),
            ("fcnt", "17"),
            ("rssi", "-97.4"),
            ("snr", "7.5"),
        ]))
        .unwrap();
        assert_eq!(
            (u.dev_eui.as_str(), u.fport, u.ts_ms, u.fcnt, u.rssi, u.snr, u.data),
            ("94193A0301000001", 2, 1_760_605_020_000, Some(17), Some(-97), Some(7.5), vec![1, 2])
        );
        let u = parse(&frame(&[("deveui", "94193A0301000001"), ("fport", "2")])).unwrap();
        assert_eq!((u.ts_ms, u.fcnt, u.rssi, u.snr), (1_700_000_000_000, None, None, None));
    }

    #[test]
    fn errors_name_the_meta_key() {
        let e = |meta: &[(&str, &str)]| parse(&frame(meta)).unwrap_err().reason;
        assert_eq!(
            e(&[("deveui", "94193A0301000001")]),
            "meta \"fport\": missing (the codec needs the uplink's fPort)"
        );
        assert_eq!(e(&[("fport", "2")]), "meta \"deveui\": missing");
        assert_eq!(
            e(&[("fport", "300"), ("deveui", "94193A0301000001")]),
            "meta \"fport\": \"300\" is not a port 0-255"
        );
        assert_eq!(
            e(&[("fport", "2"), ("deveui", "94193A03")]),
            "meta \"deveui\": \"94193A03\" is not an EUI (16 hex digits)"
        );
        assert_eq!(
            e(&[("fport", "2"), ("deveui", "94193A0301000001"), ("ts", "soon")]),
            "meta \"ts\": \"soon\" is not milliseconds"
        );
        assert_eq!(
            e(&[("fport", "2"), ("deveui", "94193A0301000001"), ("fcnt", "-1")]),
            "meta \"fcnt\": \"-1\" is not a frame counter"
        );
    }
}

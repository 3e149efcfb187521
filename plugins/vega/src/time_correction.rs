//! Device clock correction (PROTOCOLS.md §1.5): a Vega device sends its
//! time on fPort 4 as `FF` + u32 LE Unix seconds; the answer is a downlink
//! on fPort 4, `FF` + i64 LE seconds to add (server time minus device time).

/// The fPort of time packets and corrections.
pub const PORT: u32 = 4;

/// The device time (Unix seconds) of a time packet, if `payload` is one.
pub fn device_time(port: u32, payload: &[u8]) -> Option<u32> {
    match (port, payload) {
        (PORT, [0xFF, a, b, c, d]) => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// The correction downlink for a device at `device_s` when the server says
/// `server_ms`, if the drift is at least `threshold_s`.
pub fn correction(device_s: u32, server_ms: i64, threshold_s: u32) -> Option<Vec<u8>> {
    let drift = server_ms.div_euclid(1000) - i64::from(device_s);
    if drift.unsigned_abs() < u64::from(threshold_s) || drift == 0 {
        return None;
    }
    let mut downlink = vec![0xFF];
    downlink.extend_from_slice(&drift.to_le_bytes());
    Some(downlink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::hex;

    #[test]
    fn the_documented_examples() {
        // PROTOCOLS.md §1.5: +3600 s and -90 s.
        assert_eq!(correction(1_000_000, 1_003_600_000, 5).map(|d| hex(&d)).as_deref(), Some("ff100e000000000000"));
        assert_eq!(correction(1_000_090, 1_000_000_999, 5).map(|d| hex(&d)).as_deref(), Some("ffa6ffffffffffffff"));
    }

    #[test]
    fn small_drifts_are_left_alone_and_only_time_packets_count() {
        assert_eq!(correction(1_000_000, 1_000_004_999, 5), None);
        assert!(correction(1_000_000, 1_000_005_000, 5).is_some());
        // The SI-12 vector: ffe3352862 = 1646802403.
        assert_eq!(device_time(4, &[0xff, 0xe3, 0x35, 0x28, 0x62]), Some(1_646_802_403));
        assert_eq!(device_time(2, &[0xff, 0xe3, 0x35, 0x28, 0x62]), None);
        assert_eq!(device_time(4, &[0xff, 0xe3, 0x35, 0x28]), None);
    }
}

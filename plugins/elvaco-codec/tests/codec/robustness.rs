//! Nothing panics on input: every truncation of every fixture payload,
//! every single-byte change of the vectors, and a stream of random
//! payloads on random ports either decode or fail with an error that names
//! the fPort and, past the envelope, a byte offset.

use meterhub_plugin_api::Plugin;
use meterhub_plugin_api::testing::{Random, case_texts, unhex};

use crate::{SERVER_MS, codec, uplink};

/// Every fixture payload (vectors and hand-made cases).
fn payloads() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for kind in ["vectors", "cases"] {
        for text in case_texts(&root.join(kind), ".hex", &[".case.json"]).unwrap() {
            out.push(unhex(text.trim()));
        }
    }
    assert!(out.len() > 30, "the fixtures are found");
    out
}

/// Decode `payload` on `fport` (with and without a UTC offset); an error
/// must name the port and, unless the port itself is refused or the
/// payload is empty, an offset.
fn check(fport: u8, payload: &[u8]) {
    for settings in ["{}", r#"{"utc_offset_minutes":840}"#] {
        let result = std::panic::catch_unwind(|| codec(settings).decode(&uplink(fport, payload, SERVER_MS)));
        let Ok(result) = result else { panic!("panic on fPort {fport} payload {payload:02x?}") };
        if let Err(e) = result {
            let reason = e.reason;
            assert!(reason.starts_with(&format!("fPort {fport}")), "{reason}");
            let port_refused = fport == 0 || fport >= 224;
            if !port_refused && !payload.is_empty() {
                assert!(reason.contains(" at offset "), "no offset in {reason:?} for {payload:02x?}");
            }
        }
    }
}

#[test]
fn every_truncation_of_every_fixture() {
    for payload in payloads() {
        for len in 0..=payload.len() {
            check(2, &payload[..len]);
        }
    }
}

#[test]
fn every_single_byte_change_of_the_vectors() {
    for payload in payloads() {
        for at in 0..payload.len() {
            for b in [0x00, 0x0f, 0x2f, 0x80, 0xff, payload[at] ^ 0x40, payload[at].wrapping_add(1)] {
                let mut changed = payload.clone();
                changed[at] = b;
                check(2, &changed);
            }
        }
    }
}

#[test]
fn random_payloads_on_random_ports() {
    let mut random = Random(0x00E1_7AC0_C0DE_4110);
    // Format bytes this codec knows, so that random bodies reach the M-Bus
    // and JSON readers, not only the format check.
    let formats = [0x00, 0x01, 0x02, 0x03, 0x04, 0x0e, 0x3f, 0x41, 0x46, 0x47, 0x4a, 0xfa];
    for i in 0..20_000 {
        let len = (random.next_u64() % 52) as usize;
        let mut payload: Vec<u8> = (0..len).map(|_| random.next_u64() as u8).collect();
        if i % 2 == 0 && !payload.is_empty() {
            payload[0] = formats[(random.next_u64() % formats.len() as u64) as usize];
        }
        let fport = if i % 10 == 0 { random.next_u64() as u8 } else { 2 };
        check(fport, &payload);
    }
}

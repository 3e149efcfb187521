//! Nothing panics on input, and nothing wrong is accepted: every
//! truncation of every fixture and sealed push is an error naming a byte
//! offset; every changed byte of an authenticated push is an error; random
//! payloads decode or fail, never panic.

use meterhub_plugin_api::Plugin;
use meterhub_plugin_api::hex::decode_spaced;
use meterhub_plugin_api::testing::{Random, case_texts};

use crate::ciphered::{BOTH_KEYS, energy_push, seal};
use crate::{TITLE, codec, frame};

/// Every fixture payload (vectors and hand-made cases).
fn fixture_payloads() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for kind in ["vectors", "cases"] {
        for text in case_texts(&root.join(kind), ".hex", &[".case.json"]).unwrap() {
            out.push(decode_spaced(&text).unwrap());
        }
    }
    assert!(out.len() > 25, "the fixtures are found");
    out
}

/// Pushes sealed in each protection.
fn sealed_payloads() -> Vec<Vec<u8>> {
    [0x30, 0x10, 0x31].iter().map(|c| seal(0xdb, *c, 3, &energy_push())).collect()
}

/// Settings that reach every path: keys for the sealed pushes, the
/// example's layouts and registers.
fn settings() -> [String; 2] {
    [BOTH_KEYS.to_owned(), include_str!("../../settings.example.json").to_owned()]
}

/// The decoding of `payload` (with and without the meta system title),
/// never a panic.
fn outcomes(payload: &[u8]) -> Vec<Result<(), String>> {
    let mut out = Vec::new();
    for settings in settings() {
        for title in [None, Some(TITLE)] {
            let result = std::panic::catch_unwind(|| codec(&settings).decode(&frame(payload, title)));
            let Ok(result) = result else { panic!("panic on payload {payload:02x?}") };
            out.push(result.map(|_| ()).map_err(|e| e.reason));
        }
    }
    out
}

#[test]
fn every_truncation_is_an_error_naming_an_offset() {
    for payload in fixture_payloads().into_iter().chain(sealed_payloads()) {
        for len in 0..payload.len() {
            for outcome in outcomes(&payload[..len]) {
                let reason = outcome.expect_err("a truncated APDU is never accepted");
                assert!(reason.contains(" at offset "), "no offset in {reason:?} for {len} bytes of {payload:02x?}");
            }
        }
    }
}

#[test]
fn every_changed_byte_of_an_authenticated_push_is_an_error() {
    for payload in sealed_payloads() {
        for at in 0..payload.len() {
            for flip in [0x01, 0x10, 0x20, 0x80, 0xff] {
                let mut changed = payload.clone();
                changed[at] ^= flip;
                for outcome in outcomes(&changed) {
                    assert!(outcome.is_err(), "byte {at} ^ 0x{flip:02X} of {payload:02x?} was accepted");
                }
            }
        }
    }
}

#[test]
fn every_single_byte_change_of_the_fixtures_decodes_or_fails() {
    for payload in fixture_payloads() {
        for at in 0..payload.len() {
            for b in [0x00, 0x01, 0x02, 0x09, 0x0c, 0x7f, 0x80, 0x84, 0xff, payload[at] ^ 0x40] {
                let mut changed = payload.clone();
                changed[at] = b;
                outcomes(&changed);
            }
        }
    }
}

#[test]
fn random_payloads_never_panic() {
    let mut random = Random(0x00D1_5C0D_EC00_0001);
    // Tags the codec reads on, so that random bodies reach the A-XDR reader.
    let tags = [0x0f, 0xc2, 0xdb, 0xca, 0x01, 0x02];
    for i in 0..5_000 {
        let len = (random.next_u64() % 80) as usize;
        let mut payload: Vec<u8> = (0..len).map(|_| random.next_u64() as u8).collect();
        if i % 2 == 0 && !payload.is_empty() {
            payload[0] = tags[(random.next_u64() % tags.len() as u64) as usize];
        }
        if i % 4 == 0 && payload.len() > 6 {
            payload[5] = 0;
            payload[6] = [0x01, 0x02][i % 8 / 4];
        }
        outcomes(&payload);
    }
}

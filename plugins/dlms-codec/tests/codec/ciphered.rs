//! Pushes this test seals itself, with known keys and aes-gcm directly
//! (the Green Book's construction written out here, not the codec's):
//! every protection opens to the same exact readings; a wrong or absent
//! key, a downgrade and a changed frame are errors naming the system
//! title. And the public Austrian example deciphers to the plaintext its
//! publisher printed.

use aes_gcm::aead::consts::U12;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, AesGcm, KeyInit};
use meterhub_codec_dlms::apdu;
use meterhub_codec_dlms::cipher::{self, KeyPair, Sealed, SecretKey};
use meterhub_plugin_api::hex::decode_spaced;
use meterhub_plugin_api::{Decoded, Plugin};

use crate::{codec, fields, frame, readings};

/// The sealing meter of `settings.example.json` ("MHB", serial 2).
pub const SEALED_TITLE: &str = "4D48420000000002";
/// Its keys there (the Green Book's example keys).
pub const EK: &str = "000102030405060708090A0B0C0D0E0F";
/// The authentication key.
pub const AK: &str = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF";

/// Settings with both keys of [`SEALED_TITLE`].
pub const BOTH_KEYS: &str = r#"{"secrets": {"devices": {"4D48420000000002": {"ek": "000102030405060708090A0B0C0D0E0F", "ak": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"}}}}"#;
/// Settings with its encryption key only.
const EK_ONLY: &str = r#"{"secrets": {"devices": {"4D48420000000002": {"ek": "000102030405060708090A0B0C0D0E0F"}}}}"#;

fn bytes(hex: &str) -> Vec<u8> {
    decode_spaced(hex).unwrap()
}

/// An A-XDR length.
fn length(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// `plain` sealed under security control `control` and invocation counter
/// `ic` by [`SEALED_TITLE`], as a general-glo-ciphering (`tag` 0xDB) or a
/// glo-event-notification-request (`tag` 0xCA) APDU.
pub fn seal(tag: u8, control: u8, ic: u32, plain: &[u8]) -> Vec<u8> {
    let title = bytes(SEALED_TITLE);
    let gcm = AesGcm::<Aes128, U12, U12>::new_from_slice(&bytes(EK)).unwrap();
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&title);
    iv[8..].copy_from_slice(&ic.to_be_bytes());
    let iv = iv.into();
    let mut aad = vec![control];
    aad.extend_from_slice(&bytes(AK));
    let mut information = plain.to_vec();
    match control & 0x30 {
        0x30 => {
            let t = gcm.encrypt_inout_detached(&iv, &aad, information.as_mut_slice().into()).unwrap();
            information.extend_from_slice(&t);
        }
        0x20 => {
            gcm.encrypt_inout_detached(&iv, &[], information.as_mut_slice().into()).unwrap();
        }
        0x10 => {
            aad.extend_from_slice(plain);
            let t = gcm.encrypt_inout_detached(&iv, &aad, (&mut [][..]).into()).unwrap();
            information.extend_from_slice(&t);
        }
        _ => {}
    }
    let mut content = vec![control];
    content.extend_from_slice(&ic.to_be_bytes());
    content.extend_from_slice(&information);
    let mut out = vec![tag];
    if tag == 0xdb {
        out.push(8);
        out.extend_from_slice(&title);
    }
    out.extend(length(content.len()));
    out.extend(content);
    out
}

/// The hand-made self-describing energy push (with its date-time).
pub fn energy_push() -> Vec<u8> {
    bytes(include_str!("../../fixtures/cases/spodes-energy-self-describing.hex"))
}

fn decode(settings: &str, payload: &[u8], title: Option<&str>) -> Result<Decoded, String> {
    codec(settings).decode(&frame(payload, title)).map_err(|e| e.reason)
}

#[test]
fn a_sealed_push_reads_exactly_as_the_plain_one() {
    let plain = decode("{}", &energy_push(), Some(SEALED_TITLE)).unwrap();
    let t = 1_772_312_400_000i64;
    let want = [
        format!("{SEALED_TITLE} energy-import {t} 12345.678 kWh cumulative"),
        format!("{SEALED_TITLE} energy-import-t1 {t} 8000.000 kWh cumulative"),
        format!("{SEALED_TITLE} energy-import-t2 {t} 4345.678 kWh cumulative"),
        format!("{SEALED_TITLE} energy-export {t} 0.000 kWh cumulative"),
        format!("{SEALED_TITLE} reactive-energy-import {t} 1234.567 kvarh cumulative"),
        format!("{SEALED_TITLE} reactive-energy-export {t} 0.000 kvarh cumulative"),
    ];
    assert_eq!(readings(&plain), want);
    for (control, settings) in [(0x30, BOTH_KEYS), (0x10, BOTH_KEYS), (0x20, EK_ONLY), (0x31, BOTH_KEYS)] {
        let sealed = decode(settings, &seal(0xdb, control, 77, &energy_push()), None).unwrap();
        assert_eq!(sealed.readings, plain.readings, "SC 0x{control:02X}");
        let f = fields(&sealed);
        assert_eq!(f["security"]["control"], format!("0x{control:02X}"));
        assert_eq!(
            (f["security"]["invocationCounter"].as_u64(), f["systemTitleSource"].as_str()),
            (Some(77), Some("apdu"))
        );
    }
}

#[test]
fn a_glo_event_notification_opens_under_the_drivers_title() {
    let event = bytes(include_str!("../../fixtures/cases/event-notification-energy.hex"));
    let settings = BOTH_KEYS.replace("}}}}", r#"}}}, "registers": {"1.0.1.8.0.255": {"scaler": -3, "unit": "kWh"}}}"#);
    let d = decode(&settings, &seal(0xca, 0x30, 5, &event), Some(SEALED_TITLE)).unwrap();
    assert_eq!(readings(&d), [format!("{SEALED_TITLE} energy-import 1772312400000 12345.678 kWh cumulative")]);
    assert_eq!(fields(&d)["security"]["apdu"], "glo-event-notification-request");
    assert!(decode(&settings, &seal(0xca, 0x30, 5, &event), None).unwrap_err().contains("carries no system title"));
}

#[test]
fn long_content_takes_the_long_length_form() {
    // 60 self-describing registers not in the channel map: > 255 bytes.
    let mut body = format!("0f 00000009 00 02 {:02x}", 60);
    for i in 0..60 {
        body += &format!(" 02 03 09 06 0100{i:02x}0600ff 06 {i:08x} 02 02 0f 00 16 1e");
    }
    let sealed = seal(0xdb, 0x30, 9, &bytes(&body));
    assert_eq!(sealed[10], 0x82, "two length bytes");
    let d = decode(BOTH_KEYS, &sealed, None).unwrap();
    assert!(d.readings.is_empty());
    assert_eq!(fields(&d)["elements"].as_array().map(Vec::len), Some(60));
}

#[test]
fn wrong_or_absent_keys_downgrades_and_changes_are_errors() {
    let sealed = seal(0xdb, 0x30, 11, &energy_push());
    let other_key = BOTH_KEYS.replace("000102030405060708090A0B0C0D0E0F", "0F0E0D0C0B0A09080706050403020100");
    let failed = "general-glo-ciphering from system title 4D48420000000002: authentication failed (wrong key, or the frame was changed)";
    assert_eq!(decode(&other_key, &sealed, None).unwrap_err(), failed);
    let mut changed = sealed.clone();
    *changed.last_mut().unwrap() ^= 1;
    assert_eq!(decode(BOTH_KEYS, &changed, None).unwrap_err(), failed);
    assert_eq!(
        decode("{}", &sealed, None).unwrap_err(),
        "general-glo-ciphering from system title 4D48420000000002: no key configured (secrets file: [devices.4D48420000000002] ek)"
    );
    // The downgrade: tag stripped, SC 0x20, length fixed; ciphertext bits
    // would flip the readings. Refused for a meter whose AK is configured.
    let downgraded = seal(0xdb, 0x20, 11, &energy_push());
    assert_eq!((sealed[10], downgraded[10]), (0x81, 0x81), "long length form: SC at 12, information at 17");
    assert_eq!(downgraded[17..], sealed[17..sealed.len() - 12], "the same ciphertext: only SC, length and tag differ");
    assert!(decode(EK_ONLY, &downgraded, None).is_ok(), "it opens: encryption only has no integrity");
    assert_eq!(
        decode(BOTH_KEYS, &downgraded, None).unwrap_err(),
        "general-glo-ciphering from system title 4D48420000000002: security control 0x20: this system title has an authentication key configured, so its APDUs must be authenticated"
    );
}

/// The Austrian example (`fixtures/vectors/tirol-kaifa-ma309`) opens, with
/// its published key, to the plaintext its publisher printed.
#[test]
fn the_austrian_example_deciphers_to_its_published_plaintext() {
    let payload = bytes(include_str!("../../fixtures/vectors/tirol-kaifa-ma309.hex"));
    let envelope = apdu::envelope(&payload).unwrap().unwrap();
    assert_eq!((envelope.control.0, envelope.invocation_counter), (0x21, 0x0029_5b9a));
    let keys = KeyPair { ek: SecretKey::from_hex("101112131415161718191A1B1C1D1E1F").unwrap(), ak: None };
    let sealed = Sealed {
        system_title: envelope.system_title.unwrap(),
        control: envelope.control,
        invocation_counter: envelope.invocation_counter,
        body: envelope.information,
    };
    let published = "0f0029b2dc0c07e50713010f2e2300ff8880020c09060000010000ff090c07e5
        0713010f2e2300ff8880020209060000600100ff090e314b464d303130303030
        303033350202090600002a0000ff09104b464d31313030313030303030303335
        020309060100200700ff12090402020fff16230203090601001f0700ff120000
        02020ffe1621020309060100010700ff060000000002020f00161b0203090601
        00020700ff060000000002020f00161b020309060100010800ff060000239402
        020f00161e020309060100020800ff060000000002020f00161e020309060100
        030800ff060000006002020f001620020309060100040800ff06000000090202
        0f001620";
    assert_eq!(cipher::open(&sealed, Some(&keys), "t").unwrap(), bytes(published));
}

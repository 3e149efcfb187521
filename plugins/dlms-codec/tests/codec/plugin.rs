//! The codec through the `Plugin` trait: identity, `init` (the example
//! settings, strictness), the envelope (meta system title, the device),
//! and the parts of the two public vectors the task names.

use meterhub_codec_dlms::DlmsCodec;
use meterhub_codec_dlms::apdu::{self, Notification};
use meterhub_codec_dlms::axdr::Data;
use meterhub_codec_dlms::cipher::Keys;
use meterhub_plugin_api::hex::decode_spaced;
use meterhub_plugin_api::testing::assert_manifest_matches;
use meterhub_plugin_api::{Plugin, Role};

use crate::{TITLE, codec, fields, frame, readings};

/// Vector 1 of `dlms_wrapper_vectors.txt` without its wrapper header.
const CIPHERED: &str = include_str!("../../fixtures/vectors/dlms-cosem-glo-ciphering-no-key.hex");
/// Vector 2 of `dlms_wrapper_vectors.txt`.
const PLAIN: &str = include_str!("../../fixtures/vectors/dlms-cosem-data-notification.hex");
/// The hand-made СПОДЭС-like daily push.
const SPODES: &str = include_str!("../../fixtures/cases/spodes-energy-layout.hex");

fn bytes(hex: &str) -> Vec<u8> {
    decode_spaced(hex).unwrap()
}

#[test]
fn identity_and_manifest() {
    let info = DlmsCodec::info();
    assert_eq!((info.id.as_str(), info.roles.as_slice()), ("dlms-codec", &[Role::Codec][..]));
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_manifest_matches::<DlmsCodec>(env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn the_example_settings_init_and_apply() {
    let mut c = codec(include_str!("../../settings.example.json"));
    let d = c.decode(&frame(&bytes(SPODES), Some(TITLE))).unwrap();
    // The clock element: 2026-03-01 00:00 Moscow is 2026-02-28T21:00Z.
    let t = 1_772_312_400_000i64;
    assert_eq!(
        readings(&d),
        [
            format!("{TITLE} energy-import {t} 12345.678 kWh cumulative"),
            format!("{TITLE} energy-import-t1 {t} 8000.000 kWh cumulative"),
            format!("{TITLE} energy-import-t2 {t} 4345.678 kWh cumulative"),
            format!("{TITLE} energy-export {t} 0.000 kWh cumulative"),
            format!("{TITLE} reactive-energy-import {t} 1234.567 kvarh cumulative"),
            format!("{TITLE} reactive-energy-export {t} 0.000 kvarh cumulative"),
        ]
    );
    let f = fields(&d);
    assert_eq!((f["layout"].as_str(), f["readingsTimeSource"].as_str()), (Some("spodes-daily"), Some("clock")));
    assert!(d.telemetry.is_empty());
}

#[test]
fn a_pending_frame_waits_until_its_device_is_in_the_secrets_file() {
    let mut pending = frame(&bytes(SPODES), Some(TITLE));
    pending.meta.push((meterhub_codec_dlms::frame::META_PENDING.to_owned(), "1".to_owned()));
    let layouts = r#""push_layouts": {"d": ["0.0.25.9.0.255:1", "0.0.96.1.0.255:2", "0.0.1.0.0.255:2", "1.0.1.8.0.255:2",
        "1.0.1.8.1.255:2", "1.0.1.8.2.255:2", "1.0.2.8.0.255:2", "1.0.3.8.0.255:2", "1.0.4.8.0.255:2"]},
        "registers": {"1.0.1.8.0.255": {"scaler": -3, "unit": "kWh"}, "1.0.1.8.1.255": {"scaler": -3, "unit": "kWh"},
        "1.0.1.8.2.255": {"scaler": -3, "unit": "kWh"}, "1.0.2.8.0.255": {"scaler": -3, "unit": "kWh"},
        "1.0.3.8.0.255": {"scaler": -3, "unit": "kvarh"}, "1.0.4.8.0.255": {"scaler": -3, "unit": "kvarh"}}"#;
    let e = codec(&format!("{{{layouts}}}")).decode(&pending).unwrap_err().reason;
    assert_eq!(
        e,
        format!(
            "pending: device {TITLE} is not in the instance's secrets file; add [devices.{TITLE}] there, then `meterhub redecode --quarantined`"
        )
    );
    let known = format!(r#"{{{layouts}, "secrets": {{"devices": {{"{TITLE}": {{}}}}}}}}"#);
    assert_eq!(codec(&known).decode(&pending).unwrap().readings.len(), 6, "once known, the frame decodes");
    let unmarked = frame(&bytes(SPODES), Some(TITLE));
    assert_eq!(
        codec(&format!("{{{layouts}}}")).decode(&unmarked).unwrap().readings.len(),
        6,
        "only a marked frame waits"
    );
}

#[test]
fn init_refuses_bad_settings_by_name() {
    assert_eq!(
        DlmsCodec::init(r#"{"layouts": {}}"#).unwrap_err(),
        "setting \"layouts\": unknown; allowed here: secrets, registers, channels, push_layouts, utc_offset_minutes"
    );
    assert_eq!(
        DlmsCodec::init(r#"{"secrets": {"devices": {"2F19229199164103": {"ek": "secret"}}}}"#).unwrap_err(),
        "setting \"secrets\".\"devices\".\"2F19229199164103\".\"ek\": expected 32 hex digits (a 128-bit key)"
    );
}

#[test]
fn the_public_ciphered_vector_names_sender_protection_and_counter() {
    let payload = bytes(CIPHERED);
    let envelope = apdu::envelope(&payload).unwrap().expect("ciphered");
    assert_eq!(envelope.apdu, "general-glo-ciphering");
    assert_eq!(envelope.system_title, Some([0x2f, 0x19, 0x22, 0x91, 0x99, 0x16, 0x41, 0x03]));
    assert_eq!((envelope.control.0, envelope.invocation_counter), (0x30, 0x1e5));
    assert!(envelope.control.authenticated() && envelope.control.encrypted() && envelope.control.suite() == 0);
    assert_eq!(envelope.information.len(), 42 + 12, "ciphertext and 12-byte tag");
    assert_eq!(
        codec("{}").decode(&frame(&payload, None)).unwrap_err().reason,
        "general-glo-ciphering from system title 2F19229199164103: no key configured (secrets file: [devices.2F19229199164103] ek)"
    );
    let wrong = r#"{"secrets": {"devices": {"2F19229199164103": {"ek": "000102030405060708090A0B0C0D0E0F", "ak": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"}}}}"#;
    let e = codec(wrong).decode(&frame(&payload, None)).unwrap_err().reason;
    assert!(e.contains("system title 2F19229199164103") && e.contains("authentication failed"), "{e}");
    let e = codec("{}").decode(&frame(&payload, Some(TITLE))).unwrap_err().reason;
    assert_eq!(
        e,
        "APDU: system-title at offset 2: 2F19229199164103 differs from the driver's meta \"dlms.system_title\" 4D48420000000001"
    );
}

#[test]
fn the_public_plain_vector_is_a_data_notification_with_an_octet_string() {
    let payload = bytes(PLAIN);
    assert_eq!(apdu::envelope(&payload).unwrap(), None);
    let push = apdu::parse(&payload, None, &Keys::new()).unwrap();
    let Notification::Data(n) = &push.notification else { panic!("a data-notification") };
    assert_eq!((n.long_invoke_id_and_priority, n.invoke_id(), n.date_time), (0x1db, 0x1db, None));
    let Data::OctetString(body) = &n.body.data else { panic!("an octet-string body") };
    assert_eq!((body.len(), body[0], n.body.offset), (34, 0x12, 6));
    assert_eq!(push.system_title, None);
}

#[test]
fn the_device_is_the_system_title() {
    let payload = bytes(include_str!("../../fixtures/cases/float-values.hex"));
    assert_eq!(
        codec("{}").decode(&frame(&payload, None)).unwrap_err().reason,
        "data-notification: no system title to name the meter: the APDU is not general-glo-ciphering (which carries one) and the frame has no meta \"dlms.system_title\""
    );
    let d = codec("{}").decode(&frame(&payload, Some(&TITLE.to_lowercase()))).unwrap();
    assert!(d.readings.iter().all(|r| r.device == TITLE), "upper case");
    assert_eq!(fields(&d)["manufacturer"], "MHB");
    assert_eq!(
        codec("{}").decode(&frame(&payload, Some("4D4842"))).unwrap_err().reason,
        "meta \"dlms.system_title\": \"4D4842\" is not a system title (16 hex digits)"
    );
}

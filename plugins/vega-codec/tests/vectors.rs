//! Every real uplink of `fixtures/vega_uplinks.jsonl` (the vendor decoder's
//! output in `expected`) decoded with the model its `device` names, from
//! `payload_hex` and again from `payload_base64`: the fields must equal
//! `expected` without its `decoder` and `statusDecode` members (which this
//! codec does not emit). Numbers compare as numbers (`1` equals `1.0`).

use meterhub_codec_vega::{Model, decode_fields};
use meterhub_plugin_api::testing::unhex;
use serde_json::Value;

const VECTORS: &str = include_str!("../fixtures/vega_uplinks.jsonl");

/// The fixture's device strings and the models they are.
fn model_of(device: &str) -> Model {
    match device {
        "Vega SI-12" => Model::Si12,
        "Vega SI-12 RELAY" => Model::Si12R,
        "Vega SI-22" => Model::Si22,
        "Vega GM-2" => Model::Gm2,
        "Betar-Vega SHVE/SGVE water meter" => Model::Shve,
        "Vega SPBZIP CE2726A/CE2727A electricity meter" => Model::Spbzip,
        "Vega SH-2 universal modem" => Model::Sh2,
        "Vega M-BUS-2" => Model::Mbus2,
        "Vega TP-11 4-20mA converter" => Model::Tp11,
        "Vega TD-11 temperature sensor" => Model::Td11,
        other => panic!("fixture device {other:?} has no model mapping"),
    }
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap_or_else(|| panic!("not base64: {c}")) as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Equal JSON values, numbers compared by value; the path of the first
/// difference otherwise.
fn diff(path: &str, got: &Value, want: &Value) -> Option<String> {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            (a.as_f64() != b.as_f64()).then(|| format!("{path}: got {a}, expected {b}"))
        }
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => {
                        if let Some(d) = diff(&format!("{path}.{key}"), x, y) {
                            return Some(d);
                        }
                    }
                    (x, y) => return Some(format!("{path}.{key}: got {x:?}, expected {y:?}")),
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| diff(&format!("{path}[{i}]"), x, y))
        }
        (a, b) => (a != b).then(|| format!("{path}: got {a}, expected {b}")),
    }
}

#[test]
fn every_vector_decodes_to_the_vendor_fields() {
    let mut count = 0;
    for (line_no, line) in VECTORS.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let model = model_of(v["device"].as_str().unwrap());
        let fport = u8::try_from(v["fport"].as_u64().unwrap()).unwrap();
        let mut want = v["expected"].clone();
        let map = want.as_object_mut().unwrap();
        assert_eq!(map.remove("statusDecode"), Some(Value::Bool(true)), "line {}", line_no + 1);
        assert!(map.remove("decoder").is_some());
        let from_hex = unhex(v["payload_hex"].as_str().unwrap());
        let from_base64 = base64(v["payload_base64"].as_str().unwrap());
        assert_eq!(from_hex, from_base64, "line {}: hex and base64 differ", line_no + 1);
        for bytes in [from_hex, from_base64] {
            let got = decode_fields(model, fport, &bytes)
                .unwrap_or_else(|e| panic!("line {} ({} fPort {fport}): {e}", line_no + 1, model.name()));
            if let Some(d) = diff("$", &got, &want) {
                panic!("line {} ({} fPort {fport}): {d}\n got: {got}\nwant: {want}", line_no + 1, model.name());
            }
        }
        count += 1;
    }
    assert_eq!(count, 17, "every fixture line is checked");
}

#[test]
fn the_comparison_can_fail() {
    let want: Value = serde_json::from_str(r#"{"a":1.2,"b":[1,2],"c":{"d":"x"}}"#).unwrap();
    assert_eq!(diff("$", &serde_json::from_str(r#"{"a":1.20,"b":[1,2],"c":{"d":"x"}}"#).unwrap(), &want), None);
    assert!(diff("$", &serde_json::from_str(r#"{"a":1.3,"b":[1,2],"c":{"d":"x"}}"#).unwrap(), &want).is_some());
    assert!(diff("$", &serde_json::from_str(r#"{"a":1.2,"b":[1,2],"c":{"d":"y"}}"#).unwrap(), &want).is_some());
    assert!(diff("$", &serde_json::from_str(r#"{"a":1.2,"b":[1,2],"c":{"d":"x"},"e":0}"#).unwrap(), &want).is_some());
    assert!(diff("$", &serde_json::from_str(r#"{"a":1.2,"b":[1],"c":{"d":"x"}}"#).unwrap(), &want).is_some());
}

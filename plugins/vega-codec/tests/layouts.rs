//! Hand-built packets for every model and type without a real vector,
//! built from the byte tables of PROTOCOLS.md §2.3 with a distinct value in
//! each field (so swapped offsets fail), checked through the `Plugin` trait:
//! fields, readings (device ids, channels, exact values, units, times) and
//! telemetry.

mod common;

use common::*;
use meterhub_plugin_api::{Plugin, RawFrame};
use serde_json::json;

const CUM: &str = "cumulative";
const INST: &str = "instantaneous";
const STATE: &str = "state";

// ---------------------------------------------------------------- SI-11 / SI-21

fn si11_current() -> Vec<u8> {
    // settings 0x47: ABP, period code 3 (60 min), input 3 guard.
    B::new().u8(1).u8(87).u8(0x47).u32(T).i8(-5).u32(123_456).u32(2).u32(1).u32(u32::MAX).build()
}

#[test]
fn si11_v1_current_values_with_weights() {
    let settings = format!(r#"{{"devices":{{"{DEV}":{{"inputs":{{"1":{{"weight":"0.01","unit":"m3"}}}}}}}}}}"#);
    let d = run_with(&settings, "SI-11", 2, &si11_current()).unwrap();
    assert_eq!(
        fields(&d),
        json!({
            "model": "SI-11", "type": "currentValues", "chargePercent": 87,
            "currentSettings": {"typeActivation": "ABP", "connectPeriodMin": 60, "typeInput1": "pulse",
                                "typeInput2": "pulse", "typeInput3": "guard", "typeInput4": "pulse"},
            "time": T, "timeStringISO": T_ISO, "temperature": -5,
            "input1": 123_456, "input2": 2, "input3": "closure", "input4": null
        })
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev("1"), "pulses", T_MS, "123456", "", CUM),
            line(&dev("1"), "volume", T_MS, "1234.56", "m3", CUM),
            line(&dev("2"), "pulses", T_MS, "2", "", CUM),
            line(&dev("3"), "guard", T_MS, "1", "", STATE),
            line(&dev(""), "temperature", T_MS, "-5", "degC", INST),
        ]
    );
    let t = &d.telemetry[..];
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].module.as_str(), t[0].ts_ms, t[0].battery_pct), (DEV, T_MS, Some(87)));
}

#[test]
fn weight_conversion_is_exact() {
    let settings = format!(
        r#"{{"devices":{{"{DEV}":{{"inputs":{{"1":{{"weight":"0.01","unit":"m3"}},
            "2":{{"weight":"0.1","unit":"kWh"}},"3":{{"weight":"0.3","unit":"Gcal"}},"4":{{"weight":"2.5","channel":"rotations"}}}}}}}}}}"#
    );
    let bytes = B::new().u8(1).u8(87).u8(0).u32(T).i8(0).u32(123_456).u32(3).u32(7).u32(3).build();
    let d = run_with(&settings, "SI-11", 2, &bytes).unwrap();
    let r = &d.readings;
    assert_eq!(r[1].value.to_string(), "1234.56");
    assert_eq!((r[1].channel.as_str(), r[1].unit.as_str()), ("volume", "m3"));
    // 3 × 0.1 is exactly 0.3 (it is not in binary floating point).
    assert_eq!((r[3].channel.as_str(), r[3].value.to_string()), ("energy", "0.3".into()));
    assert_eq!((r[5].channel.as_str(), r[5].value.to_string(), r[5].unit.as_str()), ("heat", "2.1".into(), "Gcal"));
    assert_eq!((r[7].channel.as_str(), r[7].value.to_string(), r[7].unit.as_str()), ("rotations", "7.5".into(), ""));
}

#[test]
fn si11_v1_alarm() {
    // settings 0x10: OTAA, period code 0 (5 min), input 1 guard.
    let bytes = B::new().u8(2).u8(50).u8(0x10).u8(1).u32(T).u32(1).u32(77).u32(0).u32(5).build();
    let d = run("SI-11", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({
            "model": "SI-11", "type": "danger", "charge": 50,
            "currentSettings": {"typeActivation": "OTAA", "connectPeriodMin": 5, "typeInput1": "guard",
                                "typeInput2": "pulse", "typeInput3": "pulse", "typeInput4": "pulse"},
            "danger_input": 1, "time": T, "timeStringISO": T_ISO,
            "input1": "closure", "input2": 77, "input3": 0, "input4": 5
        })
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev("1"), "guard", T_MS, "1", "", STATE),
            line(&dev("2"), "pulses", T_MS, "77", "", CUM),
            line(&dev("3"), "pulses", T_MS, "0", "", CUM),
            line(&dev("4"), "pulses", T_MS, "5", "", CUM),
        ]
    );
    assert_eq!(d.telemetry[0].battery_pct, Some(50));
}

#[test]
fn si21_is_the_si11_v1_layout() {
    let d = run("SI-21", 2, &si11_current());
    let f = fields(&d);
    assert_eq!((f["model"].as_str(), f["input1"].as_u64()), (Some("SI-21"), Some(123_456)));
    assert_eq!(d.readings.len(), 4);
}

#[test]
fn si11_v2_by_configuration() {
    // settings 0x88: period code 4 (360 min by the manual), input 4 guard.
    let bytes = B::new().u8(3).u8(99).u32(T).i8(21).u32(10).u32(20).u32(30).u32(0).u8(0x88).build();
    let settings = format!(r#"{{"devices":{{"{DEV}":{{"model":"SI-11v2"}}}}}}"#);
    let d = codec(&settings).decode(&raw_frame(Some("SI-11"), 2, &bytes)).unwrap();
    assert_eq!(
        fields(&d),
        json!({
            "model": "SI-11v2", "reason": "bySecurityInput3Triggered", "chargePercent": 99,
            "currentSettings": {"typeActivation": "OTAA", "connectPeriodMin": 360, "typeInput1": "pulse",
                                "typeInput2": "pulse", "typeInput3": "pulse", "typeInput4": "guard"},
            "time": T, "timeStringISO": T_ISO, "temperature": 21,
            "input1": 10, "input2": 20, "input3": 30, "input4": "unlocking"
        })
    );
    assert_eq!(readings(&d)[3], line(&dev("4"), "guard", T_MS, "0", "", STATE));
    assert_eq!(readings(&d)[4], line(&dev(""), "temperature", T_MS, "21", "degC", INST));
    // The same bytes as v1 (the default) start with type 3: unknown.
    assert_eq!(fail("SI-11", 2, &bytes), "SI-11 fPort 2: unknown type 3 (known: 1, 2)");
}

#[test]
fn period_bits_follow_the_manual_for_every_model() {
    // Bits 1-3 = code 1: 15 min by the manual (the SI-11 decoder says 360).
    for (model, byte_at) in [("SI-11", 2), ("SI-21", 2), ("SI-12", 2), ("SI-12R", 2)] {
        let mut bytes = si11_current();
        bytes[byte_at] = 0x02;
        assert_eq!(fields(&run(model, 2, &bytes))["currentSettings"]["connectPeriodMin"], 15, "{model}");
        bytes[byte_at] = 0x0c; // code 6
        assert_eq!(fields(&run(model, 2, &bytes))["currentSettings"]["connectPeriodMin"], 1440, "{model}");
    }
    let mut v2 = B::new().u8(0).u8(99).u32(T).i8(21).u32(10).u32(20).u32(30).u32(0).u8(0x02).build();
    assert_eq!(fields(&run("SI-11v2", 2, &v2))["currentSettings"]["connectPeriodMin"], 15);
    v2[23] = 0x08; // code 4
    assert_eq!(fields(&run("SI-11v2", 2, &v2))["currentSettings"]["connectPeriodMin"], 360);
    // M-BUS: bits 2-4 (after the ack bit), same order.
    let mut mbus = mbus1_current();
    mbus[2] = 0x04;
    assert_eq!(fields(&run("M-BUS-1", 2, &mbus))["currentSettings"]["connectPeriodMin"], 15);
    mbus[2] = 0x10;
    assert_eq!(fields(&run("M-BUS-2", 2, &mbus2_current_with(mbus[2])))["currentSettings"]["connectPeriodMin"], 360);
}

// ---------------------------------------------------------------- SI-12 / SI-12R

const SI12_VECTOR: &str = "01001ce75128621c00000000000000000000000000000000";

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap()).collect()
}

#[test]
fn si12_vector_readings() {
    let d = run("SI-12", 2, &unhex(SI12_VECTOR));
    let ts = 1_646_809_575_000;
    assert_eq!(
        readings(&d),
        [
            line(&dev("1"), "guard", ts, "0", "", STATE),
            line(&dev("2"), "pulses", ts, "0", "", CUM),
            line(&dev("3"), "pulses", ts, "0", "", CUM),
            line(&dev("4"), "pulses", ts, "0", "", CUM),
            line(&dev(""), "temperature", ts, "28", "degC", INST),
        ]
    );
    assert_eq!(d.telemetry[0].battery_pct, Some(0));
}

#[test]
fn si12_alarm_power_outputs_inputs() {
    // Alarm: input 2 guard (settings 0x20); the vendor keeps the number 1.
    let alarm = B::new().u8(2).u8(55).u8(0x20).u8(2).u32(T).u32(11).u32(1).u32(33).u32(44).build();
    let d = run("SI-12", 2, &alarm);
    let f = fields(&d);
    assert_eq!(
        (f["type"].as_str(), f["charge"].as_u64(), f["dangerInputNumber"].as_u64()),
        (Some("danger"), Some(55), Some(2))
    );
    assert_eq!((f["input1"].clone(), f["input2"].clone(), f["input4"].clone()), (json!(11), json!(1), json!(44)));
    assert_eq!(f["currentSettings"]["input2Mode"], "guard");
    assert_eq!(readings(&d)[1], line(&dev("2"), "guard", T_MS, "1", "", STATE));
    assert_eq!(readings(&d)[2], line(&dev("3"), "pulses", T_MS, "33", "", CUM));

    let power = B::new().u8(4).u8(40).u8(0x0c).u8(1).u32(T).build();
    let d = run("SI-12", 2, &power);
    let f = fields(&d);
    assert_eq!(
        (f["type"].as_str(), f["powerState"].as_str(), f["charge"].as_u64()),
        (Some("powerStateChanged"), Some("On"), Some(40))
    );
    assert_eq!((f["time"].as_u64(), f["currentSettings"]["connectPeriodMin"].as_u64()), (Some(T.into()), Some(1440)));
    assert!(d.readings.is_empty());
    assert_eq!(d.telemetry[0].ts_ms, T_MS);

    let output = B::new().u8(5).u8(41).u8(0).u8(2).u8(1).u32(T).build();
    let f = fields(&run("SI-12", 2, &output));
    assert_eq!(
        (f["changedOutputNumber"].as_u64(), f["changedOutputState"].as_u64(), f["time"].as_u64(), f["charge"].as_u64()),
        (Some(2), Some(1), Some(T.into()), Some(41))
    );

    let inputs = B::new().u8(6).u32(T).u16(0x0002).u16(0x0001).u32(100).u32(1).u32(300).u32(400).u8(0).build();
    let d = run("SI-12", 2, &inputs);
    assert_eq!(
        fields(&d),
        json!({
            "model": "SI-12", "type": "inputsStateChanged", "time": T, "timeStringISO": T_ISO,
            "inputsMode": {"input1Mode": "pulse", "input2Mode": "guard", "input3Mode": "pulse", "input4Mode": "pulse"},
            "outputsState": {"output1State": "closure", "output2State": "unlocking"},
            "input1State": 100, "input2State": 1, "input3State": 300, "input4State": 400, "powerState": "Off"
        })
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev("1"), "pulses", T_MS, "100", "", CUM),
            line(&dev("2"), "guard", T_MS, "1", "", STATE),
            line(&dev("3"), "pulses", T_MS, "300", "", CUM),
            line(&dev("4"), "pulses", T_MS, "400", "", CUM),
        ]
    );
    assert_eq!(d.telemetry[0].battery_pct, None);
}

#[test]
fn si12_relay_has_no_battery() {
    let d = run("SI-12R", 2, &unhex(SI12_VECTOR));
    let f = fields(&d);
    assert!(f.get("chargePercent").is_none());
    assert_eq!((f["model"].as_str(), f["temperature"].as_i64()), (Some("SI-12R"), Some(28)));
    assert_eq!(d.telemetry[0].battery_pct, None);
    let output = B::new().u8(5).u8(41).u8(0).u8(1).u8(0).u32(T).build();
    assert!(fields(&run("SI-12 RELAY", 2, &output)).get("charge").is_none());
    let alarm = B::new().u8(2).u8(55).u8(0x80).u8(4).u32(T).u32(11).u32(22).u32(33).u32(0).build();
    let d = run("SI-12R", 2, &alarm);
    let f = fields(&d);
    assert!(f.get("charge").is_none());
    assert_eq!(
        (f["type"].as_str(), f["dangerInputNumber"].as_u64(), f["input4"].as_u64()),
        (Some("danger"), Some(4), Some(0))
    );
    assert_eq!(readings(&d)[3], line(&dev("4"), "guard", T_MS, "0", "", STATE));
    assert_eq!(d.telemetry[0].battery_pct, None);
    let power = B::new().u8(4).u8(40).u8(0x0c).u8(1).u32(T).build();
    assert_eq!(fail("SI-12R", 2, &power), "SI-12R fPort 2: unknown type 4 (known: 1, 2, 5)");
}

// ---------------------------------------------------------------- SI-13

fn si13_current() -> Vec<u8> {
    // settings 0x1a: OTAA, confirmed, period code 2 (720 min), input 1 guard.
    B::new().u8(1).u8(0).u8(0x1a).u32(T).i8(19).u32(1).u32(4242).build()
}

#[test]
fn si13_generation_follows_the_appeui() {
    let old = codec("{}").decode(&json_frame("7665676173693133", 2, &si13_current())).unwrap();
    assert_eq!(
        fields(&old),
        json!({
            "model": "SI-13", "type": "currentValues",
            "currentSettings": {"typeActivation": "OTAA", "confirmedUplinks": "confirmed", "connectPeriodMin": 720,
                                "input1Mode": "guard", "input2Mode": "pulse"},
            "temperature": 19, "input1": "closure", "input2": 4242
        })
    );
    // The old generation has no time: readings at the server time.
    assert_eq!(
        readings(&old),
        [
            line(&dev("1"), "guard", SERVER_MS, "1", "", STATE),
            line(&dev("2"), "pulses", SERVER_MS, "4242", "", CUM),
            line(&dev(""), "temperature", SERVER_MS, "19", "degC", INST),
        ]
    );
    let rev2 = codec("{}").decode(&json_frame("3032676173693133", 2, &si13_current())).unwrap();
    let f = fields(&rev2);
    assert_eq!(
        (f["model"].as_str(), f["time"].as_u64(), f["timeStringISO"].as_str()),
        (Some("SI-13rev2"), Some(T.into()), Some(T_ISO))
    );
    assert!(readings(&rev2).iter().all(|r| r.contains(&format!(" {T_MS} "))));
}

#[test]
fn si13_alarm_chunk_mercury_confirmation_modbus_time() {
    let old = B::new().u8(2).u8(0).u8(0).u8(2).u32(5).u32(6).build();
    assert_eq!(
        fields(&run("SI-13", 2, &old)),
        json!({"model": "SI-13", "type": "danger",
               "currentSettings": {"typeActivation": "OTAA", "confirmedUplinks": "unconfirmed", "connectPeriodMin": 60,
                                   "input1Mode": "pulse", "input2Mode": "pulse"},
               "dangerInputNumber": 2, "input1": 5, "input2": 6})
    );
    let rev2 = B::new().u8(2).u8(0).u8(0x0c).u8(1).u32(5).u32(6).u32(T).build();
    let d = run("SI-13rev2", 2, &rev2);
    assert_eq!(
        (fields(&d)["time"].as_u64(), fields(&d)["currentSettings"]["connectPeriodMin"].as_u64()),
        (Some(T.into()), Some(1440))
    );
    assert_eq!(readings(&d)[0], line(&dev("1"), "pulses", T_MS, "5", "", CUM));

    let chunk = B::new().u8(3).u16(300).u8(3).u8(1).u8(2).bytes(&[0xaa, 0xbb, 0xcc]).build();
    assert_eq!(
        fields(&run("SI-13", 2, &chunk)),
        json!({"model": "SI-13", "type": "interfaceData", "dataSize": 300, "packetSize": 3, "packetNumber": 1,
               "packetsNumber": 2, "data": [0xaa, 0xbb, 0xcc]})
    );

    let mercury = B::new().u8(4).u32(12_345_678).u8(1).u32(1_234_567).u32(2000).u32(0).u32(u32::MAX).build();
    let d = run("SI-13", 2, &mercury);
    assert_eq!(
        fields(&d),
        json!({"model": "SI-13", "type": "mercuryReadings", "address": 12_345_678, "isPollSuccess": true,
               "tariff1Reading": 1234.567, "tariff2Reading": 2, "tariff3Reading": 0, "tariff4Reading": null})
    );
    let meter = dev("meter-12345678");
    assert_eq!(
        readings(&d),
        [
            line(&meter, "energy-t1", SERVER_MS, "1234.567", "kWh", CUM),
            line(&meter, "energy-t2", SERVER_MS, "2", "kWh", CUM),
            line(&meter, "energy-t3", SERVER_MS, "0", "kWh", CUM),
        ]
    );
    let mut rev2 = mercury.clone();
    rev2.extend(T.to_le_bytes());
    assert_eq!(readings(&run("SI-13rev2", 2, &rev2))[0], line(&meter, "energy-t1", T_MS, "1234.567", "kWh", CUM));
    let mut failed = mercury.clone();
    failed[5] = 0;
    assert!(run("SI-13", 2, &failed).readings.is_empty());

    assert_eq!(
        fields(&run("SI-13", 2, &[5, 7, 1])),
        json!({"model": "SI-13", "type": "commandConfirmation", "commandCode": 7, "result": "success"})
    );
    let modbus = B::new().u8(6).u32(T).bytes(&[1, 2]).build();
    assert_eq!(
        fields(&run("SI-13rev2", 2, &modbus)),
        json!({"model": "SI-13rev2", "type": "modbusData", "time": T, "timeStringISO": T_ISO, "data": [1, 2]})
    );
    assert_eq!(fail("SI-13", 2, &modbus), "SI-13 fPort 2: unknown type 6 (known: 1, 2, 3, 4, 5, 255)");
    let time = B::new().u8(0xff).u32(T).build();
    assert_eq!(fields(&run("SI-13", 2, &time))["type"], "correctionTime");
}

// ---------------------------------------------------------------- SI-22

#[test]
fn si22_current_values() {
    let bytes = B::new().u8(5).u8(80).u32(T).i16(-123).u32(1).u32(2).u32(3).u32(4).u8(1).i8(-20).i8(30).build();
    let d = run("SI-22", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({"model": "SI-22", "reason": "byTemperatureOutOfRange", "chargePercent": 80, "time": T,
               "timeStringISO": T_ISO, "temperature": -12.3, "input1State": 1, "input2State": 2, "input3State": 3,
               "input4State": 4, "isTemperatureOutOfRange": true, "lowTemperature": -20, "highTemperature": 30})
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev("1"), "pulses", T_MS, "1", "", CUM),
            line(&dev("2"), "pulses", T_MS, "2", "", CUM),
            line(&dev("3"), "pulses", T_MS, "3", "", CUM),
            line(&dev("4"), "pulses", T_MS, "4", "", CUM),
            line(&dev(""), "temperature", T_MS, "-12.3", "degC", INST),
        ]
    );
}

// ---------------------------------------------------------------- SI-23

#[test]
fn si23_inputs_layout() {
    // settings 0x6d: ack, input 2 guard, period code 5 (720), interface metering.
    let bytes = B::new().u8(21).u32(T).i8(-3).u32(555).u32(1).u8(0x6d).u8(66).build();
    let d = run("SI-23", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({"model": "SI-23", "reason": "byInput1ThresholdExceeded", "time": T, "timeStringISO": T_ISO,
               "temperature": -3, "input1State": 555, "input2State": 1,
               "settings": {"ack": true, "input1Mode": 0, "input2Mode": 1, "period": 720, "interfaceMode": "metering"},
               "chargePercent": 66})
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev("1"), "pulses", T_MS, "555", "", CUM),
            line(&dev("2"), "guard", T_MS, "1", "", STATE),
            line(&dev(""), "temperature", T_MS, "-3", "degC", INST),
        ]
    );
    assert_eq!(d.telemetry[0].battery_pct, Some(66));
}

#[test]
fn si23_meters() {
    let electricity = B::new().u8(7).u8(2).u32(987_654).u8(1).u32(T).u32(123_456).u32(100).u32(0).u32(7).build();
    let d = run("SI-23", 2, &electricity);
    assert_eq!(
        fields(&d),
        json!({"model": "SI-23", "reason": "byElectricityMeterPolling", "meterType": "Меркурий 206",
               "serialNumber": 987_654, "isPollSuccess": true, "time": T, "timeStringISO": T_ISO,
               "tariff1Reading": 1234.56, "tariff2Reading": 1, "tariff3Reading": 0, "tariff4Reading": 0.07})
    );
    let m = dev("meter-987654");
    assert_eq!(
        readings(&d),
        [
            line(&m, "energy-t1", T_MS, "1234.56", "kWh", CUM),
            line(&m, "energy-t2", T_MS, "1", "kWh", CUM),
            line(&m, "energy-t3", T_MS, "0", "kWh", CUM),
            line(&m, "energy-t4", T_MS, "0.07", "kWh", CUM),
        ]
    );

    let extended = B::new()
        .u8(17)
        .u8(4)
        .u32(42)
        .u8(1)
        .u32(T)
        .i16(23017)
        .i16(22950)
        .i16(0)
        .i16(1500)
        .i16(-1)
        .i16(0)
        .i16(9)
        .i16(10)
        .i16(8)
        .i16(7)
        .i16(1200)
        .i16(2400)
        .i16(-1200)
        .i16(5001)
        .build();
    let d = run("SI-23", 2, &extended);
    assert_eq!(
        fields(&d),
        json!({"model": "SI-23", "reason": "byElectricityMeterPollingExtended", "meterType": "Меркурий 234",
               "serial": 42, "isPollSuccess": true, "time": T, "timeStringISO": T_ISO,
               "phaseAVoltage": 230.17, "phaseBVoltage": 229.5, "phaseCVoltage": 0,
               "phaseACurrent": 1.5, "phaseBCurrent": -0.001, "phaseCCurrent": 0,
               "phasePowerFactorSum": 0.9, "phaseAPowerFactor": 1, "phaseBPowerFactor": 0.8, "phaseCPowerFactor": 0.7,
               "phaseAAngle": 120, "phaseBAngle": 240, "phaseCAngle": -120, "frequency": 50.01})
    );
    let m = dev("meter-42");
    assert_eq!(
        readings(&d),
        [
            line(&m, "voltage-a", T_MS, "230.17", "V", INST),
            line(&m, "voltage-b", T_MS, "229.5", "V", INST),
            line(&m, "voltage-c", T_MS, "0", "V", INST),
            line(&m, "current-a", T_MS, "1.5", "A", INST),
            line(&m, "current-b", T_MS, "-0.001", "A", INST),
            line(&m, "current-c", T_MS, "0", "A", INST),
            line(&m, "frequency", T_MS, "50.01", "Hz", INST),
        ]
    );

    // Heat meter: the medium decodes (the vendor decoder throws, §2.4).
    let heat = B::new()
        .u8(8)
        .u8(6)
        .u32(777)
        .u32(T)
        .u64(123_456_789)
        .u32(45_678)
        .u32(9000)
        .u16(7050)
        .u16(4525)
        .i16(-5)
        .u32(1234)
        .u32(15_000)
        .u8(4)
        .build();
    let d = run("SI-23", 2, &heat);
    assert_eq!(
        fields(&d),
        json!({"model": "SI-23", "reason": "byHeatMeterPolling", "meterType": "Пульсар", "serial": 777, "time": T,
               "timeStringISO": T_ISO, "energyConsumed": 12_345_678.9, "totalVolumeCoolant": 45_678,
               "operatingTime": 9000, "temperatureSupply": 70.5, "temperatureReturn": 45.25,
               "currentFlowCoolant": -5, "currentFlowCoolant32": 1234, "power": 15_000, "environment": "Heat"})
    );
    let m = dev("meter-777");
    assert_eq!(
        readings(&d),
        [
            line(&m, "heat-energy", T_MS, "12345.6789", "kWh", CUM),
            line(&m, "volume", T_MS, "45.678", "m3", CUM),
            line(&m, "operating-hours", T_MS, "9000", "h", CUM),
            line(&m, "flow-temperature", T_MS, "70.5", "degC", INST),
            line(&m, "return-temperature", T_MS, "45.25", "degC", INST),
            line(&m, "power", T_MS, "15000", "W", INST),
        ]
    );
}

#[test]
fn si23_chunks_and_link_events() {
    let modbus = B::new().u8(4).u8(1).u16(10).u8(2).u8(1).u8(5).i16(-2).bytes(&[0x0a, 0x0b]).build();
    assert_eq!(
        fields(&run("SI-23", 2, &modbus)),
        json!({"model": "SI-23", "reason": "byModBusRtuData", "settingNumber": 1, "totalSize": 10, "packetSize": 2,
               "sequenceNumber": 1, "packetCount": 5, "startRegisterAddr": -2, "data": [0x0a, 0x0b]})
    );
    let timed = B::new().u8(6).u32(T).u8(1).u16(10).u8(2).u8(1).u8(5).i16(300).bytes(&[0x0c]).build();
    let d = run("SI-23", 2, &timed);
    assert_eq!((fields(&d)["time"].as_u64(), fields(&d)["startRegisterAddr"].as_i64()), (Some(T.into()), Some(300)));
    assert_eq!(d.telemetry[0].ts_ms, T_MS);
    let transparent = B::new().u8(5).u32(T).u8(2).u16(3).u8(3).u8(1).u8(1).bytes(b"abc").build();
    assert_eq!(
        fields(&run("SI-23", 2, &transparent)),
        json!({"model": "SI-23", "reason": "byTransparentChannelData", "time": T, "timeStringISO": T_ISO,
               "settingNumber": 2, "totalSize": 3, "packetSize": 3, "sequenceNumber": 1, "packetCount": 1,
               "data": b"abc".to_vec()})
    );
    let untimed = B::new().u8(13).u8(2).u16(3).u8(3).u8(1).u8(1).build();
    assert_eq!(fields(&run("SI-23", 2, &untimed))["data"], json!([]));
    let no_answer = B::new().u8(9).u8(3).u8(1).u32(1234).build();
    assert_eq!(
        fields(&run("SI-23", 2, &no_answer)),
        json!({"model": "SI-23", "reason": "byNoAnswerFromDevice", "settingNumber": 3,
               "meterType": "Энергомера 102М", "serial": 1234})
    );
    assert_eq!(
        fields(&run("SI-23", 2, &[12, 4])),
        json!({"model": "SI-23", "reason": "byDeviceCommunicationModBusRestored", "settingNumber": 4})
    );
    assert_eq!(
        fail("SI-23", 2, &[3, 0]),
        "SI-23 fPort 2: unknown type 3 (known: 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 21, 22, 30, 208, 209)"
    );
}

#[test]
fn si23_settings_packet_decodes() {
    // The vendor decoder reports failure for every fPort 3 packet (§2.4).
    let bytes = [0, 20, 0, 1, 2, 34, 0, 1, 2, 37, 0, 1, 3, 16, 0, 1, 4];
    let f = fields(&run("SI-23", 3, &bytes));
    assert_eq!(f["type"], "settings");
    assert_eq!(f["settings"]["20"]["value"], 9600);
    assert_eq!(f["settings"]["34"]["value"], 8);
    assert_eq!(f["settings"]["37"], json!({"id": 37, "length": 1, "rawValue": [3], "name": "parity", "value": "odd"}));
    assert_eq!(f["settings"]["16"]["value"], 1440);
}

// ---------------------------------------------------------------- GM-2, Betar

#[test]
fn gm2_current_values() {
    let bytes =
        B::new().u8(91).u32(T).i8(4).u8(5).u8(1).u8(0).u8(0).u8(1).u8(1).u8(0).u32(1_234_567).u32(100_000).build();
    let d = run("GM-2", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({"model": "GM-2", "chargePercent": 91, "time": T, "timeStringISO": T_ISO, "temperature": 4,
               "reason": "byMagneticFieldEffectDetected", "input1State": "closure", "input2State": "unlocking",
               "output1State": "unlocking", "output2State": "closure", "isMagneticFieldEffectDetected": true,
               "isCaseOpened": false, "consumption": 12_345.67, "initialConsumption": 1000})
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev(""), "temperature", T_MS, "4", "degC", INST),
            line(&dev(""), "volume", T_MS, "12345.67", "m3", CUM),
            line(&dev(""), "magnet", T_MS, "1", "", STATE),
            line(&dev(""), "case-open", T_MS, "0", "", STATE),
        ]
    );
}

#[test]
fn sgbm_types() {
    let bytes = B::new().u8(3).u8(70).u32(T).i8(12).u32(987_654).u8(2).build();
    let d = run("SGBM-1.6", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({"model": "SGBM-1.6", "type": "magneticFieldAffected", "chargePercent": 70, "time": T,
               "timeStringISO": T_ISO, "temperature": 12, "consumption": 987.654, "rebootsNumber": 2})
    );
    assert_eq!(
        readings(&d),
        [line(&dev(""), "temperature", T_MS, "12", "degC", INST), line(&dev(""), "volume", T_MS, "987.654", "m3", CUM)]
    );
    let mut stale = bytes.clone();
    stale[0] = 4;
    let d = run("SGBM", 2, &stale);
    assert_eq!(fields(&d)["type"], "noResponseFromModule");
    assert_eq!(readings(&d), [line(&dev(""), "temperature", T_MS, "12", "degC", INST)]);
    stale[0] = 2;
    assert_eq!(fail("SGBM-1.6", 2, &stale), "SGBM-1.6 fPort 2: unknown type 2 (known: 1, 3, 4, 5)");
}

#[test]
fn shve_temperature_is_i8_when_the_magnet_flag_is_set() {
    let bytes = B::new().u8(1).u8(88).i8(23).u8(1).u8(0).u32(T).u8(0).u8(1).u32(123_456).build();
    let d = run("SHVE", 2, &bytes);
    // The vendor's i16 over bytes 2-3 would say 279.
    assert_eq!(
        fields(&d),
        json!({"model": "SHVE", "type": "currentValues", "chargePercent": 88, "temperature": 23,
               "isMagneticFieldEffectDetected": true, "isDigitalIndicatorBlocked": false, "time": T,
               "timeStringISO": T_ISO, "isLeakDetected": false, "isPipeBreakDetected": true, "consumption": 12.3456})
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev(""), "temperature", T_MS, "23", "degC", INST),
            line(&dev(""), "volume", T_MS, "12.3456", "m3", CUM),
            line(&dev(""), "magnet", T_MS, "1", "", STATE),
            line(&dev(""), "leak", T_MS, "0", "", STATE),
            line(&dev(""), "breakthrough", T_MS, "1", "", STATE),
        ]
    );
    assert_eq!(fields(&run("SGVE", 2, &bytes))["model"], "SHVE");
}

// ---------------------------------------------------------------- SPbZIP

const SPBZIP_INFO: &str = "01c94818002fb930620101ff00808b965d0c00000014d60100270300000013006bd8";
const SPBZIP_INSTANT: &str = "02c948180015ba3062b15a00000000000000000000000000000000e80300000000e8038413000000001445";

#[test]
fn spbzip_vector_readings() {
    let d = run("SPBZIP", 2, &unhex(SPBZIP_INFO));
    let ts = 1_647_360_303_000;
    assert_eq!(
        readings(&d),
        [line(&dev(""), "energy", ts, "120.34", "kWh", CUM), line(&dev(""), "temperature", ts, "39", "degC", INST)]
    );
    let d = run("CE2726A", 2, &unhex(SPBZIP_INSTANT));
    let ts = 1_647_360_533_000;
    assert_eq!(
        readings(&d),
        [
            line(&dev(""), "voltage-a", ts, "232.17", "V", INST),
            line(&dev(""), "voltage-b", ts, "0", "V", INST),
            line(&dev(""), "voltage-c", ts, "0", "V", INST),
            line(&dev(""), "current-a", ts, "0", "A", INST),
            line(&dev(""), "current-b", ts, "0", "A", INST),
            line(&dev(""), "current-c", ts, "0", "A", INST),
            line(&dev(""), "frequency", ts, "49.96", "Hz", INST),
            line(&dev(""), "power", ts, "0", "W", INST),
        ]
    );
    assert_eq!(d.telemetry[0].battery_pct, None);
}

#[test]
fn spbzip_tariffs() {
    let bytes = B::new()
        .u8(4)
        .u32(1_591_497)
        .u32(T)
        .u8(2)
        .u32(120_340)
        .u32(100_000)
        .u32(20_340)
        .u32(0)
        .u32(u32::MAX)
        .u16(0x1234)
        .build();
    let d = run("SPBZIP", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({"model": "SPBZIP", "type": "currentValuesExtendedByTariffs", "serialNumber": 1_591_497, "time": T,
               "timeStringISO": T_ISO, "tariff": 2, "meterReadingWh": 120_340, "tariff1ReadingWh": 100_000,
               "tariff2ReadingWh": 20_340, "tariff3ReadingWh": 0, "tariff4ReadingWh": null, "UUID": 0x1234})
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev(""), "energy", T_MS, "120.34", "kWh", CUM),
            line(&dev(""), "energy-t1", T_MS, "100", "kWh", CUM),
            line(&dev(""), "energy-t2", T_MS, "20.34", "kWh", CUM),
            line(&dev(""), "energy-t3", T_MS, "0", "kWh", CUM),
        ]
    );
}

#[test]
fn spbzip_profile_receipt_configuration_scada_schedule() {
    let profile = B::new().u8(5).u32(7).u32(T - 1800).u8(0x09).u32(1500).u32(T).u8(0x01).u32(1600).u16(0xbeef).build();
    let d = run("SPBZIP", 2, &profile);
    let f = fields(&d);
    assert_eq!(f["penultHalfHourTime"], T - 1800);
    assert_eq!(f["lastHalfHourTimeStringISO"], T_ISO);
    assert_eq!(
        f["penultHalfHourNote"],
        json!({"isDataExist": true, "isIncompleteDataSlice": false, "isTimeChangeCommandHaveBeenExecuted": false,
               "season": "winter", "isSeasonSwitchingAllow": false, "isTimeCorrectionHaveBenOperated": false})
    );
    assert_eq!((f["penultHalfHourPower"].as_u64(), f["lastHalfHourPower"].as_u64()), (Some(1500), Some(1600)));
    assert_eq!((f["lastHalfHourNote"]["season"].as_str(), f["UUID"].as_u64()), (Some("summer"), Some(0xbeef)));
    assert!(d.readings.is_empty());
    assert_eq!(d.telemetry[0].ts_ms, T_MS);

    let receipt = B::new().u8(6).u32(7).u8(1).u16(99).build();
    assert_eq!(
        fields(&run("SPBZIP", 2, &receipt)),
        json!({"model": "SPBZIP", "type": "receiptResponse", "serialNumber": 7, "requestStatus": "completed", "UUID": 99})
    );

    let config = B::new()
        .u8(7)
        .u32(1_591_497)
        .i16(180)
        .u8(3)
        .u8(1)
        .u8(0)
        .u8(1)
        .u32(55)
        .u32(0)
        .bytes(&[3, 1, 15, 5, 0, 0, 6, 7, 29])
        .u16(4321)
        .build();
    assert_eq!(
        fields(&run("SPBZIP", 2, &config)),
        json!({"model": "SPBZIP", "type": "currentConfiguration", "networkAddress": 1_591_497, "timeZone": 180,
               "connectionPeriod": 3, "isEventsTransmissionEnable": true, "isHalfHourTransmissionEnable": false,
               "confirmedUplinks": true, "powerLimit": 5.5,
               "infoCollection": {"period": "24hours", "dayOfWeek": "Monday", "dayOfMonth": 15},
               "energyConsumptionCollection": {"period": "1week", "dayOfWeek": "noWeeklyPolls", "dayOfMonth": "noMonthlyPolls"},
               "currentValuesCollection": {"period": "1mounth", "dayOfWeek": "Sunday", "dayOfMonth": "notValidValue"},
               "UUID": 4321})
    );

    let scada = B::new().u8(3).u16(16).u8(4).u8(1).u8(1).bytes(&[0xde, 0xad, 0xbe, 0xef]).build();
    assert_eq!(
        fields(&run("SPBZIP", 2, &scada)),
        json!({"model": "SPBZIP", "type": "scadaResponse", "dataSize": 16, "packetSize": 4, "packetNumber": 1,
               "packetsNumber": 1, "data": [0xde, 0xad, 0xbe, 0xef]})
    );

    // fPort 5 tariff schedule (the vendor decoder throws here, §2.4).
    let mut schedule = B::new().u8(8).u8(2).u8(3);
    for i in 0..15u8 {
        schedule = schedule.u8(i * 2).u8(i).u8(i % 4 + 1);
    }
    let f = fields(&run("SPBZIP", 5, &schedule.u16(77).build()));
    assert_eq!(
        (f["type"].as_str(), f["month"].as_str(), f["tariffScheduleCode"].as_str()),
        (Some("tariffSchedule"), Some("March"), Some("workday"))
    );
    assert_eq!(f["zones"]["1"], json!({"endMinute": 0, "endHour": 0, "zoneNumber": 1}));
    assert_eq!(f["zones"]["15"], json!({"endMinute": 28, "endHour": 14, "zoneNumber": 3}));
    assert_eq!(f["UUID"], 77);
    assert_eq!(fail("SPBZIP", 5, &[1]), "SPBZIP fPort 5: unknown type 1 (known: 8)");
}

// ---------------------------------------------------------------- M-BUS

fn mbus1_current() -> Vec<u8> {
    // settings 0x3b: ABP, ack, period code 6 (1440), input 1 security.
    B::new()
        .u8(1)
        .u8(95)
        .u8(0x3b)
        .u32(12_345_678)
        .u32(T)
        .u32(123_456_789)
        .u32(4_567_890)
        .u32(43_210)
        .u16(8512)
        .u16(4070)
        .u16(1200)
        .u32(1201)
        .u16(3500)
        .u16(0)
        .u8(4)
        .build()
}

fn mbus2_current_with(settings: u8) -> Vec<u8> {
    B::new()
        .u8(1)
        .u8(94)
        .u8(settings)
        .u32(87_654_321)
        .u32(T)
        .u32(u32::MAX)
        .u32(1000)
        .u32(5)
        .u16(6000)
        .u16(2000)
        .u16(10)
        .u32(11)
        .u32(70_000)
        .u8(0x16)
        .build()
}

#[test]
fn mbus1_current_values() {
    let d = run("M-BUS-1", 2, &mbus1_current());
    assert_eq!(
        fields(&d),
        json!({"model": "M-BUS-1", "type": "currentValues", "chargePercent": 95,
               "currentSettings": {"typeActivation": "ABP", "ack": true, "connectPeriodMin": 1440,
                                   "typeInput1": "security", "typeInput2": "unknown", "reserve": 0},
               "serial": 12_345_678, "time": T, "timeStringISO": T_ISO, "energyConsumedWh": 123_456_789,
               "totalVolumeCoolantL": 4_567_890, "operatingTimeH": 43_210, "temperatureFlow": 85.12,
               "temperatureReturnLine": 40.7, "currentFlowCoolantLH16": 1200, "currentFlowCoolantLH32": 1201,
               "powerW": 3500, "environment": "heat"})
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev(""), "heat-energy", T_MS, "123456.789", "kWh", CUM),
            line(&dev(""), "volume", T_MS, "4567.89", "m3", CUM),
            line(&dev(""), "operating-hours", T_MS, "43210", "h", CUM),
            line(&dev(""), "flow-temperature", T_MS, "85.12", "degC", INST),
            line(&dev(""), "return-temperature", T_MS, "40.7", "degC", INST),
            line(&dev(""), "power", T_MS, "3500", "W", INST),
        ]
    );
    assert_eq!(d.telemetry[0].battery_pct, Some(95));
}

#[test]
fn mbus2_current_values_and_no_value_energy() {
    let d = run("M-BUS-2", 2, &mbus2_current_with(0x00));
    let f = fields(&d);
    assert_eq!(f["currentSettings"], json!({"typeActivation": "OTAA", "ack": false, "connectPeriodMin": 5}));
    assert_eq!((f["serialNumber"].as_u64(), f["powerW"].as_u64()), (Some(87_654_321), Some(70_000)));
    assert_eq!((f["energyConsumedWh"].clone(), f["environment"].as_str()), (json!(null), Some("ColdWater")));
    assert!(f.get("serial").is_none());
    assert_eq!(readings(&d)[0], line(&dev(""), "volume", T_MS, "1", "m3", CUM));
    assert!(!readings(&d).iter().any(|r| r.contains("heat-energy")));
    assert_eq!(readings(&d)[4], line(&dev(""), "power", T_MS, "70000", "W", INST));
}

#[test]
fn mbus_chunk_power_alarm_outputs() {
    let chunk = B::new().u8(3).u16(50).u8(20).u8(1).u8(3).bytes(&[0x68, 1, 2]).build();
    for model in ["M-BUS-1", "M-BUS-2"] {
        assert_eq!(
            fields(&run(model, 2, &chunk)),
            json!({"model": model, "type": "mbusData", "sizeData": 50, "sizeDataPackage": 20, "numPackage": 1,
                   "countPackage": 3, "data": [0x68, 1, 2]})
        );
    }
    let power = fields(&run("M-BUS-1", 2, &[4, 50, 0, 1]));
    assert_eq!(
        (power["type"].as_str(), power["externalPowerState"].as_str()),
        (Some("externalPowerStatus"), Some("on"))
    );
    let alarm = fields(&run("M-BUS-1", 2, &[5, 50, 0, 2, 0, 1]));
    assert_eq!(
        (alarm["danger_input"].as_u64(), alarm["input1"].as_str(), alarm["input2"].as_str()),
        (Some(2), Some("unlocking"), Some("closure"))
    );
    let output = fields(&run("M-BUS-1", 2, &[6, 50, 0, 1, 1]));
    assert_eq!((output["change_output"].as_u64(), output["state_output"].as_str()), (Some(1), Some("on")));
    assert_eq!(fail("M-BUS-2", 2, &[4, 50, 0, 1]), "M-BUS-2 fPort 2: unknown type 4 (known: 1, 3)");
}

// ---------------------------------------------------------------- SH-2

fn sh2_frame() -> Vec<u8> {
    B::new()
        // standard: reason 1, time, battery 77, temperature 25, pulses 1000 / no value, voltages
        .u8(10)
        .u8(1)
        .u32(T)
        .u8(77)
        .u8(25)
        .u32(1000)
        .u32(u32::MAX)
        .u16(3300)
        .u16(0)
        // timestamp: reason 5 (button), time + 60
        .u8(11)
        .u8(5)
        .u32(T + 60)
        // 1-Wire: sensor 1 raw 850 (25.0 °C), sensor 2 raw 400 (-20.0 °C)
        .u8(12)
        .u8(4)
        .u16((1 << 11) | 850)
        .u16((2 << 11) | 400)
        // Modbus: function 3, 2 bytes 01 02; function 1, 1 byte 07
        .u8(13)
        .u8(5)
        .bytes(&[0x32, 0x01, 0x02, 0x11, 0x07])
        .build()
}

#[test]
fn sh2_sub_packets() {
    let d = run("SH-2", 2, &sh2_frame());
    assert_eq!(
        fields(&d),
        json!({
            "model": "SH-2",
            "standartPacket": {"type": "standartPacket", "reason": "byTime", "time": T, "timeStringISO": T_ISO,
                               "chargePercent": 77, "temperature": 25, "pulseInput1State": 1000,
                               "pulseInput2State": null, "voltageInput1State": 3300, "voltageInput2State": 0},
            "timestampPacket": {"type": "timestampPacket", "reason": "byButtonTriggered", "time": T + 60,
                                "timeStringISO": "2023-11-14T22:16:23.000Z"},
            "oneWirePacket": {"type": "oneWirePacket", "length": 4, "temperatureSensors": {
                "1": {"number": 1, "temperature": 25}, "2": {"number": 2, "temperature": -20}}},
            "modbusPacket": {"type": "modbusPacket", "length": 5, "modbusData": {
                "1": {"value": 258, "head": {"length": 2, "functionNumber": 3}, "data": [2, 1]},
                "2": {"value": 7, "head": {"length": 1, "functionNumber": 1}, "data": [7]}}}
        })
    );
    assert_eq!(
        readings(&d),
        [
            line(&dev("1"), "pulses", T_MS, "1000", "", CUM),
            line(&dev(""), "temperature", T_MS, "25", "degC", INST),
            line(&dev("1wire1"), "temperature", T_MS, "25", "degC", INST),
            line(&dev("1wire2"), "temperature", T_MS, "-20", "degC", INST),
        ]
    );
    assert_eq!(d.telemetry[0].battery_pct, Some(77));
}

#[test]
fn sh2_truncated_and_unknown_sub_packets() {
    let mut bytes = sh2_frame();
    bytes.pop();
    assert_eq!(
        fail("SH-2", 2, &bytes),
        "SH-2 fPort 2 type 13 (Modbus) at offset 32: 6 bytes left, the sub-packet needs 7"
    );
    assert_eq!(
        fail("SH-2", 2, &sh2_frame()[..19]),
        "SH-2 fPort 2 type 10 (standard) at offset 0: 19 bytes left, the sub-packet needs 20"
    );
    let mut odd = sh2_frame()[..20].to_vec();
    odd.extend([12, 3, 1, 2, 3]);
    assert_eq!(
        fail("SH-2", 2, &odd),
        "SH-2 fPort 2 type 12 (1-Wire temperatures) at offset 20: length 3 is not a whole number of 2-byte items"
    );
    let mut unknown = sh2_frame()[..20].to_vec();
    unknown.push(14);
    assert_eq!(fail("SH-2", 2, &unknown), "SH-2 fPort 2: unknown type 14 (known: 10, 11, 12, 13) at offset 20");
    let mut item = sh2_frame()[..20].to_vec();
    item.extend([13, 2, 0x33, 0x01]);
    assert_eq!(
        fail("SH-2", 2, &item),
        "SH-2 fPort 2 type 13 (Modbus) at offset 20: Modbus item 1 at offset 2: 3 data bytes run past the end"
    );
    // Two standard packets: each reading at its own time.
    let mut two = sh2_frame()[..20].to_vec();
    two.extend(B::new().u8(10).u8(1).u32(T + 900).u8(76).u8(24).u32(1010).u32(3).u16(0).u16(0).build());
    let r = readings(&run("SH-2", 2, &two));
    assert_eq!(r[0], line(&dev("1"), "pulses", T_MS, "1000", "", CUM));
    assert_eq!(r[2], line(&dev("1"), "pulses", T_MS + 900_000, "1010", "", CUM));
}

// ---------------------------------------------------------------- TP-11, TD-11

#[test]
fn tp11_current_values_and_output_change() {
    let bytes = B::new().u8(1).u8(90).u8(1).u32(T).i8(22).u16(400).u16(2000).u8(4).u8(0x0b).u16(1234).build();
    let d = run("TP-11", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({"model": "TP-11", "type": "currentValues", "chargePercent": 90, "isLimitsExceeding": true,
               "time": T, "timeStringISO": T_ISO, "temperature": 22, "lowLimit": 4, "highLimit": 20,
               "reason": "byLimitsExceeding",
               "inputsOutputs": {"powerState": "external", "securityInput1State": "closure",
                                 "securityInput2State": "unlocking", "output1State": "closure", "output2State": "unlocking"},
               "current": 12.34})
    );
    assert_eq!(
        readings(&d),
        [line(&dev(""), "temperature", T_MS, "22", "degC", INST), line(&dev(""), "current", T_MS, "12.34", "mA", INST)]
    );
    let output = B::new().u8(5).u8(90).u8(2).u8(1).u32(T).build();
    assert_eq!(
        fields(&run("TP-11", 2, &output)),
        json!({"model": "TP-11", "type": "outputsStateChanged", "charge": 90, "changedOutputNumber": 2,
               "changedOutputState": 1, "time": T, "timeStringISO": T_ISO})
    );
}

#[test]
fn td11_current_values() {
    let bytes = B::new().u8(1).u8(75).u8(0).u32(T).i16(-57).i8(-10).i8(40).u8(2).u8(0x06).build();
    let d = run("TD-11", 2, &bytes);
    assert_eq!(
        fields(&d),
        json!({"model": "TD-11", "type": "currentValues", "chargePercent": 75, "isTemperatureOutOfRange": false,
               "time": T, "timeStringISO": T_ISO, "temperature": -5.7, "lowTemperature": -10, "highTemperature": 40,
               "reason": "byTamperSensorTriggered",
               "inputs": {"securityInputState": "unlocking", "isCaseOpened": true, "isHallSensor1Triggered": false,
                          "isHallSensor2Triggered": true}})
    );
    assert_eq!(readings(&d), [line(&dev(""), "temperature", T_MS, "-5.7", "degC", INST)]);
}

// ---------------------------------------------------------------- lengths, types, ports, no value

/// One valid packet of every fixed-length layout.
fn fixed_layouts() -> Vec<(&'static str, u8, Vec<u8>)> {
    let z = |n: usize| vec![0u8; n];
    let with_type = |t: u8, n: usize| {
        let mut v = vec![0u8; n];
        v[0] = t;
        v
    };
    vec![
        ("SI-11", 2, with_type(1, 24)),
        ("SI-11", 2, with_type(2, 24)),
        ("SI-21", 2, with_type(1, 24)),
        ("SI-11v2", 2, z(24)),
        ("SI-12", 2, with_type(1, 24)),
        ("SI-12", 2, with_type(2, 24)),
        ("SI-12", 2, with_type(4, 8)),
        ("SI-12", 2, with_type(5, 9)),
        ("SI-12", 2, with_type(6, 26)),
        ("SI-12R", 2, with_type(1, 24)),
        ("SI-12R", 2, with_type(2, 24)),
        ("SI-12R", 2, with_type(5, 9)),
        ("SI-13", 2, with_type(1, 16)),
        ("SI-13", 2, with_type(2, 12)),
        ("SI-13", 2, with_type(4, 22)),
        ("SI-13", 2, with_type(5, 3)),
        ("SI-13", 2, with_type(255, 5)),
        ("SI-13rev2", 2, with_type(1, 16)),
        ("SI-13rev2", 2, with_type(2, 16)),
        ("SI-13rev2", 2, with_type(4, 26)),
        ("SI-22", 2, z(27)),
        ("SI-23", 2, with_type(0, 16)),
        ("SI-23", 2, with_type(208, 16)),
        ("SI-23", 2, with_type(7, 27)),
        ("SI-23", 2, with_type(17, 39)),
        ("SI-23", 2, with_type(8, 41)),
        ("SI-23", 2, with_type(9, 7)),
        ("SI-23", 2, with_type(11, 7)),
        ("SI-23", 2, with_type(10, 2)),
        ("SI-23", 2, with_type(12, 2)),
        ("GM-2", 2, z(21)),
        ("SGBM-1.6", 2, with_type(1, 12)),
        ("SHVE", 2, with_type(1, 15)),
        ("SPBZIP", 2, with_type(1, 34)),
        ("SPBZIP", 2, with_type(2, 43)),
        ("SPBZIP", 2, with_type(4, 32)),
        ("SPBZIP", 2, with_type(5, 25)),
        ("SPBZIP", 2, with_type(6, 8)),
        ("SPBZIP", 2, with_type(7, 30)),
        ("SPBZIP", 5, with_type(8, 50)),
        ("M-BUS-1", 2, with_type(1, 38)),
        ("M-BUS-1", 2, with_type(4, 4)),
        ("M-BUS-1", 2, with_type(5, 6)),
        ("M-BUS-1", 2, with_type(6, 5)),
        ("M-BUS-2", 2, with_type(1, 38)),
        ("SH-2", 195, with_type(0xc3, 49)),
        ("TP-11", 2, with_type(1, 16)),
        ("TP-11", 2, with_type(5, 8)),
        ("TD-11", 2, with_type(1, 13)),
        ("GM-2", 4, with_type(0xff, 5)),
        ("SPBZIP", 4, with_type(0xff, 5)),
    ]
}

#[test]
fn one_byte_short_or_long_is_an_error_naming_model_port_and_length() {
    for (model, port, bytes) in fixed_layouts() {
        run(model, port, &bytes);
        let n = bytes.len();
        let prefix = format!("{model} fPort {port}");
        for (len, got) in [(n - 1, &bytes[..n - 1]), (n + 1, &[&bytes[..], &[0]].concat()[..])] {
            let e = fail(model, port, got);
            assert!(e.starts_with(&prefix), "{e}");
            assert!(e.ends_with(&format!(": {len} bytes, expected {n}")), "{model} fPort {port} len {len}: {e}");
        }
    }
    assert_eq!(
        fail("SI-12", 2, &unhex(&SI12_VECTOR[..40])),
        "SI-12 fPort 2 type 1 (current values): 20 bytes, expected 24"
    );
}

#[test]
fn chunked_layouts_have_a_minimum() {
    for (model, bytes, min) in [
        ("SI-13", vec![3u8; 5], 6),
        ("SI-13rev2", vec![6u8; 4], 5),
        ("SPBZIP", vec![3u8; 5], 6),
        ("M-BUS-1", vec![3u8; 5], 6),
        ("SI-23", vec![4u8; 8], 9),
        ("SI-23", vec![5u8; 10], 11),
        ("SI-23", vec![6u8; 12], 13),
        ("SI-23", vec![13u8; 6], 7),
    ] {
        let e = fail(model, 2, &bytes);
        assert!(e.ends_with(&format!("{} bytes, expected at least {min}", bytes.len())), "{e}");
    }
}

#[test]
fn unknown_port_type_and_empty_packet() {
    assert_eq!(fail("GM-2", 7, &[1]), "GM-2 fPort 7: unknown port (known: 2, 3, 4)");
    assert_eq!(fail("SPBZIP", 8, &[1]), "SPBZIP fPort 8: unknown port (known: 2, 3, 4, 5)");
    assert_eq!(fail("SH-2", 5, &[1]), "SH-2 fPort 5: unknown port (known: 2, 3, 4, 195)");
    assert_eq!(fail("TD-11", 2, &[2; 13]), "TD-11 fPort 2: unknown type 2 (known: 1)");
    assert_eq!(fail("SPBZIP", 2, &[9; 30]), "SPBZIP fPort 2: unknown type 9 (known: 1, 2, 3, 4, 5, 6, 7)");
    assert_eq!(fail("SH-2", 195, &[0xc4; 49]), "SH-2 fPort 195: unknown type 196 (known: 195)");
    assert_eq!(fail("SI-11", 2, &[]), "SI-11 fPort 2: empty packet");
    assert_eq!(fail("GM-2", 2, &[]), "GM-2 fPort 2 (current values): 0 bytes, expected 21");
    assert_eq!(fail("SI-12", 3, &[]), "SI-12 fPort 3: empty packet");
}

#[test]
fn all_ff_fields_are_null_and_give_no_reading() {
    // GM-2 with reading, time and battery all FF.
    let bytes =
        B::new().u8(0xff).u32(u32::MAX).i8(4).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u32(u32::MAX).u32(0).build();
    let d = run("GM-2", 2, &bytes);
    let f = fields(&d);
    assert_eq!(
        (f["consumption"].clone(), f["time"].clone(), f["chargePercent"].clone()),
        (json!(null), json!(null), json!(null))
    );
    assert_eq!(f["timeStringISO"], json!(null));
    // No time: the server's; no volume reading.
    assert_eq!(
        readings(&d),
        [
            line(&dev(""), "temperature", SERVER_MS, "4", "degC", INST),
            line(&dev(""), "magnet", SERVER_MS, "0", "", STATE),
            line(&dev(""), "case-open", SERVER_MS, "0", "", STATE),
        ]
    );
    assert_eq!((d.telemetry[0].battery_pct, d.telemetry[0].ts_ms), (None, SERVER_MS));
}

#[test]
fn settings_and_time_packets_give_telemetry_but_no_readings() {
    let d = run("SI-12", 3, &unhex("00040001020800010131000104100001040c0001010d0001010e0001010f0001013700020000"));
    assert!(d.readings.is_empty());
    assert_eq!((d.telemetry.len(), d.telemetry[0].ts_ms), (1, SERVER_MS));
    let d = run("SI-12", 4, &unhex("ffe3352862"));
    assert!(d.readings.is_empty());
    assert_eq!(d.telemetry[0].ts_ms, 1_646_802_403_000);
    assert_eq!(fields(&d)["model"], "SI-12");
}

/// An IoT Vega Server `rx` frame of [`DEV`] with this AppEUI.
fn json_frame(app_eui: &str, port: u8, bytes: &[u8]) -> RawFrame {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut frame = raw_frame(None, port, &[]);
    frame.content_type = "application/vnd.vega.uplink+json".into();
    frame.meta = vec![("deveui".into(), DEV.into()), ("appeui".into(), app_eui.into())];
    frame.payload = format!(
        r#"{{"cmd":"rx","devEui":"{DEV}","appEui":"{app_eui}","ts":{SERVER_MS},"fcnt":3,"port":{port},"data":"{hex}","rssi":-100,"snr":2.5,"type":"UNCONF_UP"}}"#
    )
    .into_bytes();
    frame
}

#[test]
fn no_input_panics() {
    // Every model and port, lengths 0..64, pseudo-random bytes (and runs of
    // one value, which hit the type bytes and FF "no value" paths), plus
    // every fixed layout cut at every length.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for model in meterhub_codec_vega::models::ALL {
        for &port in model.ports() {
            for len in 0..64 {
                for round in 0..6 {
                    let bytes: Vec<u8> = (0..len)
                        .map(|i| match round {
                            0 => 0xff,
                            1 => 0,
                            _ if i == 0 => [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 17, 0xc3, 0xff][next() as usize % 14],
                            _ => next() as u8,
                        })
                        .collect();
                    let _ = meterhub_codec_vega::decode_packet(model, port, &bytes);
                }
            }
        }
    }
    for (model, port, bytes) in fixed_layouts() {
        for cut in 0..bytes.len() {
            let _ = run_with("{}", model, port, &bytes[..cut]);
        }
    }
    let sh2 = sh2_frame();
    for cut in 0..sh2.len() {
        let _ = run_with("{}", "SH-2", 2, &sh2[..cut]);
    }
}

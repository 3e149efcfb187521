//! The mimic-diagram reader: any bytes as a diagram file are either a
//! compiled diagram or errors at `line:col`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match meterhub_diagram::parse(data) {
        Ok(diagram) => assert!(serde_json::to_string(&diagram).is_ok()),
        Err(errors) => assert!(errors.iter().all(|e| e.line >= 1 && e.col >= 1 && !e.message.is_empty())),
    }
});

//! The configuration loader: any text as `meterhub.toml` is either a
//! configuration or errors naming their place, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = meterhub_config::load::parse(std::path::Path::new("/etc/meterhub/meterhub.toml"), text) {
        assert!(!e.to_string().is_empty());
    }
});

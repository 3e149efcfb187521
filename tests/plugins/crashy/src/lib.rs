//! A crashing native codec for isolation tests. It decodes frames of the
//! listener (one JSON reading: device, channel, ts as integer ms, value as
//! string), and crashes when the reading's device says so:
//!
//! - `segv`: writes through a null pointer (SIGSEGV);
//! - `abort`: `std::process::abort()` (SIGABRT);
//! - `exit`: `std::process::exit(1)`;
//! - `panic`: panics (caught at the ABI boundary: a decode error);
//! - `loop`: spins forever (the host's call time limit must stop it).
//!
//! Anything else decodes normally, so tests can see the plugin recover. In
//! the host process any of the first three would take the host down; in a
//! runner process they take down the runner only.

use meterhub_plugin_api::{DecodeError, Decoded, Plugin, RawFrame};

#[path = "../../listener_reading.rs"]
mod listener_reading;

/// The crashy codec; it keeps no state.
pub struct Crashy;

/// A real segmentation fault: a write through a null pointer.
#[allow(unsafe_code, reason = "this fixture crashes on purpose")]
fn segfault() {
    let null = std::hint::black_box(std::ptr::null_mut::<u64>());
    // SAFETY: none; writing through null is the point. `write_volatile`
    // keeps the compiler from reasoning the write away.
    unsafe { null.write_volatile(0xdead) };
}

impl Plugin for Crashy {
    fn init(_settings_json: &str) -> Result<Self, String> {
        Ok(Crashy)
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let (v, device) = listener_reading::parse(&frame.payload)?;
        match device.as_str() {
            "segv" => segfault(),
            "abort" => std::process::abort(),
            "exit" => std::process::exit(1),
            "panic" => panic!("crashy codec: panic on purpose"),
            "loop" => {
                let mut spins: u64 = 0;
                loop {
                    spins = std::hint::black_box(spins.wrapping_add(1));
                }
            }
            _ => {}
        }
        listener_reading::decode(&v, device)
    }
}

meterhub_plugin_api::export_plugin!(Crashy);

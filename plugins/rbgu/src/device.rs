//! The device behind a connection: the place for what later parts of this
//! driver will know of it. Today the driver knows a device only by what its
//! frames say (the DLMS system title, [`crate::dlms`]) and admits every
//! frame. What plugs in here, each with its settings in
//! [`crate::settings`]:
//!
//! - identity: the system title (or another identity the frames carry)
//!   checked against the device registry, an unknown device refused;
//! - per-device secrets: keys for authenticated or ciphered pushes;
//! - queued commands: bytes for the device (`Action::Send`) once its push is
//!   committed (the host holds a `Send` back until the commits issued
//!   before it are stored, so a command never acknowledges an unstored
//!   push).

use crate::dlms::SystemTitle;

/// What the instance knows of devices (nothing yet).
#[derive(Debug, Clone, Default)]
pub struct Devices;

impl Devices {
    /// Whether a frame from `peer`, from the device with system title
    /// `title` if known, may be committed; `Err` says why not. Today every
    /// frame is admitted.
    pub fn admit(&self, peer: &str, title: Option<SystemTitle>) -> Result<(), String> {
        let _ = (peer, title);
        Ok(())
    }
}

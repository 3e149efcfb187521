//! meterhub's lowest floor: what the data path keeps on disk and the few
//! facts every floor above shares. Nothing here knows configs, plugins,
//! sockets or users.
//!
//! - [`journal`]: the raw-first commit point (segment files, group commit,
//!   `fdatasync`); a `Receipt` is the only proof a reading may be acknowledged;
//! - [`archive`]: the `Archive` trait and its sled implementation, followed by
//!   every consumer through the global reading sequence;
//! - [`seal`]: the checksummed value envelope of every database of the house;
//! - [`health`]: which stores' writes fail (a full disk), logged once per change;
//! - [`sled_db`]: a sled database that reopens by itself after an I/O error;
//! - [`integrity`]: a database sealed at a clean stop and checked before the next open;
//! - [`files`]: atomic file writes;
//! - [`diagnostic`]: one problem at `file:line:col`;
//! - [`clock`]: the host clock;
//! - `testing` (feature `testing`): fixtures for the tests above this floor.

pub mod archive;
pub mod clock;
pub mod diagnostic;
pub mod files;
pub mod health;
pub mod histogram;
pub mod integrity;
pub mod journal;
pub mod seal;
pub mod sled_db;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

//! What plugin tests share, so that no plugin crate writes its own test
//! host (feature `testing`, not on WASM). A plugin takes it as
//!
//! ```toml
//! [dev-dependencies]
//! meterhub-plugin-api = { workspace = true, features = ["testing"] }
//! ```
//!
//! - [`host`]: [`SimHost`], a simulated host driving a driver plugin's
//!   sessions (events in; commits answered at once, held or failed;
//!   timers fired by the test; journal, resume marks, transcript out);
//! - [`frame`]: [`FrameBuilder`], a [`RawFrame`](crate::RawFrame) from the
//!   fields a test cares about;
//! - [`fixtures`]: [`Fixtures`], the walk over `fixtures/<kind>/<name>.in`
//!   and their `.out.json`, rewritten with `METERHUB_BLESS=1`;
//! - [`transcript`]: events and actions as JSON, as transcripts show them;
//! - [`bytes`]: hex both ways, bytes as text;
//! - [`random`]: [`Random`], a repeatable pseudo-random stream;
//! - [`manifest`]: `info()` against `plugin.toml`.

pub mod bytes;
pub mod fixtures;
pub mod frame;
pub mod host;
pub mod manifest;
pub mod random;
pub mod transcript;

pub use bytes::{hex, text, unhex};
pub use fixtures::{BLESS_VAR, Case, Fixtures, case_names, case_texts};
pub use frame::FrameBuilder;
pub use host::{Answers, COMMIT_FAILED_REASON, DriverFrame, FrameView, SentCheck, SimHost, Step, resume_mark};
pub use manifest::{assert_manifest_matches, check_manifest};
pub use random::Random;
pub use transcript::{render_action, render_event};

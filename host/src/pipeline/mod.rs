//! The pipeline after the commit point: committed journal records are
//! decoded by their source's codec and applied to the archive, in journal
//! order, in batches. A codec failure quarantines the frame with its reason;
//! it can neither lose a frame nor delay an acknowledgement.
//!
//! - [`codecs`]: the codec instances of each source;
//! - [`lorawan`]: a LoRaWAN frame's device route, neutral uplink frame and
//!   link telemetry;
//! - [`stage`]: decode + apply of a batch, re-decode of stored frames;
//! - [`runner`]: the tasks that follow the journal (one decodes a batch while
//!   the other applies the one before) and serve re-decode requests.

pub mod codecs;
pub mod lorawan;
pub mod runner;
pub mod stage;

pub use codecs::{CodecSlot, Codecs, Routes};
pub use runner::{PipelineCommand, PipelineHandle};
pub use stage::{RedecodeReport, RedecodeSelection, Stage};

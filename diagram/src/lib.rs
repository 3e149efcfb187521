//! Mimic diagrams (мнемосхемы): the XML language of the dissertation
//! (`docs/diagrams.md`), read as a stream ([`parse`]) into a compact
//! compiled form ([`model::Diagram`]) the browser loads as JSON.
//!
//! - [`import`]: a plain SVG drawing (Inkscape's or any editor's) converted
//!   into the language, with a warning for everything left out;
//! - [`lines`]: a reader that remembers where lines begin, so any byte
//!   offset read so far is a `line:col`;
//! - [`library`]: the standard metering objects, used without defining them;
//! - [`model`]: the compiled diagram: elements numbered in drawing order,
//!   groups with their transforms, features, objects and their instances,
//!   actions from producers to targets, the data signals it binds;
//! - [`parse`]: the one-pass streaming reader (quick-xml): memory follows
//!   the output, not the input; references forward in the file are
//!   resolved by a fix-up table at the end, never by a second pass;
//! - [`values`]: attribute values (numbers, lists, colours, transforms).

pub mod import;
pub mod library;
pub mod lines;
pub mod model;
pub mod parse;
pub mod values;

pub use model::Diagram;
pub use parse::{DiagramError, parse, parse_file};

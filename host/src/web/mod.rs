//! The dispatcher UI (`ui/`), embedded in the binary and served by the host
//! on the API's port: `GET /` is `index.html`, `GET /ui/<path>` a file.
//! The files are open without a login; the page asks the API for
//! everything else.
//!
//! - [`files`]: the table of embedded files (made by `host/build.rs`) and
//!   the lookup of a request path;
//! - [`serve`]: the answer with the file's `Content-Type`.

pub mod files;
pub mod serve;

pub use files::{UiFile, find};
pub use serve::asset;

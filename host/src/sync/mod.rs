//! Sync to a monitoring center (`docs/sync.md`): a site's `sync-center`
//! sink sends what it archives to its center over the center's API, and the
//! center keeps each site's data under the site's name.
//!
//! - [`wire`]: the batch and the answers, both ends' one format;
//! - [`link`]: the site's side, a sink target (`crate::sink`), and
//!   [`client`], its one outbound HTTP(S) connection;
//! - [`center`]: the center's side: the sites and their tokens, the
//!   receiver that answers a batch only once it is in the journal, and
//!   each site's link as dispatchers see it;
//! - [`frame`]: the center's decoding of a site's batch into readings
//!   under `<site>/<meter>`.

pub mod center;
pub mod check;
pub mod frame;
pub mod link;
pub mod wire;

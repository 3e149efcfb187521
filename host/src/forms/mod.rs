//! Saved forms (`docs/forms.md`): the templates (`catalog.rs`: shipped and
//! the `host.forms_dir` folder's, read as they change; pure parsing and
//! rendering in `meterhub-forms`), their values and the inspection notes
//! (`store.rs`: the database `<data_dir>/forms`), and the reading a
//! manual-reading form enters (`manual.rs`: a raw frame of source
//! `manual` through the journal). `api/forms.rs` serves them. The same
//! database keeps the personal pages (`crate::pages`).

pub mod catalog;
pub mod manual;
pub mod store;

pub use catalog::{Catalog, Form, FormStatus};
pub use store::{FormError, FormStore, Note, Owner, PageOwner, Saved, SavedPage};

/// What the API needs of the forms. `Send + Sync`.
#[derive(Debug)]
pub struct Forms {
    /// The templates.
    pub catalog: Catalog,
    /// Their values and the notes.
    pub store: std::sync::Arc<FormStore>,
    /// Where a manual reading is committed.
    pub journal: meterhub_storage::journal::JournalHandle,
}

/// The forms database inside the data directory.
pub fn store_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("forms")
}

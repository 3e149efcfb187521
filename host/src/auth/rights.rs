//! What a request needs to be served: nothing, or a logged-in user whose
//! role includes one. The API's route table (`api/table.rs`) gives each
//! method and path its [`Access`], and an admin for anything it does not
//! serve (deny by default); [`crate::auth::Auth::authorize`] checks it
//! before any handler runs.

use super::role::Role;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: `GET /api/v1/health` (load balancers), the login, the UI's files.
    Open,
    /// A logged-in user whose role includes this one.
    Role(Role),
    /// A site of this monitoring center, by its token: the sync receiver
    /// (`crate::sync::center::Center::authenticate`) checks it before the
    /// request is read; users' sessions are not asked for.
    Site,
}

//! Users, sessions and rights of the HTTP API (`docs/api.md`, "Users and
//! rights").
//!
//! - [`service`]: [`Auth`], what the API holds: the one access check, login,
//!   logout, user administration, change announcements;
//! - [`rights`]: the one table of which role may call which method and path;
//! - [`role`]: admin, operator, dispatcher, viewer;
//! - [`language`]: the UI language a user chose (`ru`, `en`);
//! - [`grant`]: registry subtree patterns (`gas/Kazan-1`, `*/*/mod-17`) and
//!   [`MeterPath`];
//! - [`principal`]: who a request acts as, [`Principal::may_see`];
//! - [`store`]: the user database `<data_dir>/users` (users, sessions, audit);
//! - [`password`]: argon2id hashing;
//! - [`session`]: idle and absolute session expiry;
//! - [`cookie`]: the `__Host-` session cookie;
//! - [`csrf`]: the CSRF token and Origin checks;
//! - [`rate_limit`]: failed-login lockouts;
//! - [`client_address`]: the client behind a trusted reverse proxy;
//! - [`headers`]: security headers on every response;
//! - [`local_token`]: the command line's local admin token;
//! - [`token`]: random tokens and their digests;
//! - [`error`]: [`AuthError`], failures of the store and refused changes.

pub mod client_address;
pub mod cookie;
pub mod csrf;
pub mod error;
pub mod grant;
pub mod headers;
pub mod language;
pub mod local_token;
pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod rights;
pub mod role;
pub mod service;
pub mod session;
pub mod store;
pub mod token;

#[cfg(test)]
mod tests;

pub use error::AuthError;
pub use grant::{GrantPattern, MeterPath};
pub use language::Language;
pub use principal::{Credential, Principal};
pub use rights::Access;
pub use role::Role;
pub use service::{Actor, Auth, AuthSettings, LoginError, Refusal, UserChange, UserView};

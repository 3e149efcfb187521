//! [`Principal`]: who a request acts as, and what they may see.

use super::grant::{GrantPattern, MeterPath};
use super::role::Role;

/// The built-in administrator of the local admin token (the command line).
pub const LOCAL_ADMIN: &str = "local";

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session cookie: an ambient credential, so state-changing
    /// requests also need the session's CSRF token.
    Session {
        /// The session's id: the SHA-256 of its token, lowercase hex.
        id: String,
        /// The session's CSRF token.
        csrf: String,
    },
    /// `Authorization: Bearer <local admin token>`.
    LocalToken,
}

/// The user a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name ([`LOCAL_ADMIN`] for the local admin token).
    pub user: String,
    /// Role.
    pub role: Role,
    /// Subtrees of the registry the user may see (admins see everything).
    pub grants: Vec<GrantPattern>,
    /// How the request proved it.
    pub credential: Credential,
}

impl Principal {
    /// The built-in admin of the local admin token.
    pub fn local_admin() -> Principal {
        Principal {
            user: LOCAL_ADMIN.to_owned(),
            role: Role::Admin,
            grants: Vec::new(),
            credential: Credential::LocalToken,
        }
    }

    /// Whether this user may see the meter at `path`: an admin always, any
    /// other role when one of its grants matches.
    pub fn may_see(&self, path: &MeterPath) -> bool {
        self.role == Role::Admin || self.grants.iter().any(|g| g.matches(path))
    }

    /// The session id, for a cookie session.
    pub fn session_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { id, .. } => Some(id),
            Credential::LocalToken => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_see_everything_others_only_their_grants() {
        let meter = MeterPath { resource: Some("gas".into()), site: Some("Kazan-1".into()), ..MeterPath::default() };
        let mut p = Principal::local_admin();
        assert!(p.may_see(&meter));
        p.role = Role::Operator;
        assert!(!p.may_see(&meter), "no grants, nothing seen");
        p.grants = vec![GrantPattern::parse("heat").unwrap(), GrantPattern::parse("*/Kazan-1").unwrap()];
        assert!(p.may_see(&meter));
        p.grants.pop();
        assert!(!p.may_see(&meter));
    }
}

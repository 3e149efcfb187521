//! What the user of a request may see of the registry: the grant filter of
//! every meter-data endpoint (meters, deltas, consumption, devices,
//! readings, modules). Admins see everything; other roles the meters their
//! grants match (`docs/api.md`, "Users and rights"). A meter out of sight
//! is answered like one that does not exist.

use hyper::Request;

use crate::accounting::{Accounting, MeterRecord};
use crate::auth::{MeterPath, Principal, Role};

/// The grant filter of one request.
#[derive(Debug, Clone)]
pub struct Visibility {
    /// `None`: nobody logged in, so nothing is visible.
    principal: Option<Principal>,
}

impl Visibility {
    /// The filter of `req`'s user (put in its extensions by the access check).
    pub fn of<B>(req: &Request<B>) -> Visibility {
        Visibility { principal: req.extensions().get::<Principal>().cloned() }
    }

    /// The filter of `principal`.
    pub fn for_principal(principal: Option<Principal>) -> Visibility {
        Visibility { principal }
    }

    /// Whether everything is visible (an admin): no lookups needed.
    pub fn everything(&self) -> bool {
        self.principal.as_ref().is_some_and(|p| p.role == Role::Admin)
    }

    /// Whether the meter at `path` is visible.
    pub fn path(&self, path: &MeterPath) -> bool {
        self.principal.as_ref().is_some_and(|p| p.may_see(path))
    }

    /// Whether the registered meter `m` is visible.
    pub fn record(&self, m: &MeterRecord) -> bool {
        self.everything() || self.path(&m.path())
    }

    /// Whether meter (device) `id` is visible, wherever the registry puts it.
    pub fn meter(&self, accounting: &Accounting, id: &str) -> bool {
        self.everything() || self.path(&accounting.meter_path(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Credential, GrantPattern};

    #[test]
    fn admins_see_all_others_their_grants_nobody_nothing() {
        let gas = MeterPath { resource: Some("gas".into()), meter: Some("m1".into()), ..MeterPath::default() };
        assert!(Visibility::for_principal(Some(Principal::local_admin())).path(&gas));
        assert!(!Visibility::for_principal(None).path(&gas));
        let viewer = Principal {
            user: "vera".into(),
            role: Role::Viewer,
            grants: vec![GrantPattern::parse("heat").unwrap()],
            credential: Credential::LocalToken,
        };
        let seen = Visibility::for_principal(Some(viewer));
        assert!(!seen.everything());
        assert!(!seen.path(&gas));
        assert!(seen.path(&MeterPath { resource: Some("heat".into()), ..MeterPath::default() }));
    }
}

//! [`Role`]: what a user may do, in rising order of power.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A user's role. Each includes the rights of the ones before it:
/// viewer < dispatcher < operator < admin (see [`super::rights`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads meter data (meters, readings, deltas, consumption, devices,
    /// modules) within the user's grants.
    Viewer,
    /// A viewer who also sees plugin status, drivers, stats, quarantine and
    /// rejections.
    Dispatcher,
    /// A dispatcher who also changes things: meter metadata and events,
    /// plugin instances, re-decoding; and reads the configuration.
    Operator,
    /// Everything, including users and the audit log; sees the whole registry.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Dispatcher, Role::Operator, Role::Admin];

    /// The name used in the API, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Dispatcher => "dispatcher",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name; the error lists the names.
    pub fn parse(name: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| format!("role {name:?} is not one of admin, operator, dispatcher, viewer"))
    }

    /// Whether this role includes the rights of `needed`.
    pub fn includes(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_by_name_and_include_the_weaker_ones() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert_eq!(Role::parse("root").unwrap_err(), "role \"root\" is not one of admin, operator, dispatcher, viewer");
        assert!(Role::Admin.includes(Role::Viewer));
        assert!(Role::Operator.includes(Role::Dispatcher));
        assert!(!Role::Dispatcher.includes(Role::Operator));
        assert!(!Role::Viewer.includes(Role::Dispatcher));
    }
}

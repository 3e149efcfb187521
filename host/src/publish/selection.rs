//! What a stream subscribes to: devices, registry subtrees, channels
//! (`docs/api.md`, "Live streams").

use std::collections::BTreeSet;

use crate::auth::{GrantPattern, MeterPath, Principal};

/// Most `device`, `tree` and `channel` parameters of one subscription.
pub const MAX_SELECTORS: usize = 1000;

/// The signals a stream asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Every channel of these devices.
    devices: BTreeSet<String>,
    /// Every meter in these subtrees.
    trees: Vec<GrantPattern>,
    /// Only these channels; empty: all.
    channels: BTreeSet<String>,
}

impl Selection {
    /// The selection of a stream's query pairs; other parameters
    /// (`last_event_id`, `snapshot`) are the caller's. Neither `device` nor
    /// `tree` is `tree=*`.
    pub fn from_query(pairs: &[(String, String)]) -> Result<Selection, String> {
        let mut selection = Selection { devices: BTreeSet::new(), trees: Vec::new(), channels: BTreeSet::new() };
        let mut count = 0;
        for (key, value) in pairs {
            let (set, what) = match key.as_str() {
                "device" => (&mut selection.devices, "device"),
                "channel" => (&mut selection.channels, "channel"),
                "tree" => {
                    let pattern = GrantPattern::parse(value).map_err(|e| format!("query parameter tree: {e}"))?;
                    selection.trees.push(pattern);
                    count += 1;
                    continue;
                }
                _ => continue,
            };
            if value.is_empty() {
                return Err(format!("query parameter {what}: empty"));
            }
            set.insert(value.clone());
            count += 1;
        }
        if count > MAX_SELECTORS {
            return Err(format!("at most {MAX_SELECTORS} device, tree and channel parameters, got {count}"));
        }
        if selection.devices.is_empty() && selection.trees.is_empty() {
            selection.trees.push(GrantPattern::parse("*").expect("* is a pattern"));
        }
        Ok(selection)
    }

    /// The devices named one by one.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.devices.iter().map(String::as_str)
    }

    /// Whether it selects subtrees (and so must look at every reading).
    pub fn has_trees(&self) -> bool {
        !self.trees.is_empty()
    }

    /// Whether the reading of `device`'s `channel`, at `path` in the
    /// registry, is selected (rights aside).
    pub fn wants(&self, device: &str, channel: &str, path: &MeterPath) -> bool {
        (self.channels.is_empty() || self.channels.contains(channel))
            && (self.devices.contains(device) || self.trees.iter().any(|t| t.matches(path)))
    }

    /// The first named device `principal` may not see, given each device's
    /// path: the reason a subscription is refused.
    pub fn first_hidden<'a>(&'a self, principal: &Principal, path_of: impl Fn(&str) -> MeterPath) -> Option<&'a str> {
        self.devices().find(|device| !principal.may_see(&path_of(device)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Credential, Role};

    fn pairs(text: &str) -> Vec<(String, String)> {
        meterhub_http::query::pairs(Some(text)).expect("valid query")
    }

    fn at(resource: &str, site: &str, meter: &str) -> MeterPath {
        MeterPath { resource: Some(resource.into()), site: Some(site.into()), module: None, meter: Some(meter.into()) }
    }

    #[test]
    fn devices_trees_and_channels_select_signals() {
        let s = Selection::from_query(&pairs("device=m1&tree=gas/north&channel=volume&last_event_id=7")).unwrap();
        assert!(s.wants("m1", "volume", &at("heat", "south", "m1")));
        assert!(!s.wants("m1", "energy", &at("heat", "south", "m1")), "channel filter");
        assert!(s.wants("m2", "volume", &at("gas", "north", "m2")), "in the tree");
        assert!(!s.wants("m3", "volume", &at("gas", "south", "m3")));
        assert!(s.has_trees());
        assert_eq!(s.devices().collect::<Vec<_>>(), ["m1"]);
    }

    #[test]
    fn no_device_nor_tree_is_everything_and_bad_parameters_are_named() {
        let s = Selection::from_query(&pairs("channel=volume")).unwrap();
        assert!(s.wants("any", "volume", &MeterPath::default()));
        assert!(!s.wants("any", "flow", &MeterPath::default()));
        assert_eq!(Selection::from_query(&pairs("device=")).unwrap_err(), "query parameter device: empty");
        assert!(Selection::from_query(&pairs("tree=a/b/c/d/e")).unwrap_err().starts_with("query parameter tree: "));
        let many = (0..=MAX_SELECTORS).map(|i| format!("device=d{i}")).collect::<Vec<_>>().join("&");
        assert!(Selection::from_query(&pairs(&many)).unwrap_err().starts_with("at most 1000"));
    }

    #[test]
    fn a_named_device_out_of_the_grants_is_found() {
        let viewer = Principal {
            user: "vera".into(),
            role: Role::Viewer,
            grants: vec![GrantPattern::parse("gas/north").unwrap()],
            credential: Credential::LocalToken,
        };
        let path_of = |d: &str| if d == "m1" { at("gas", "north", d) } else { at("gas", "south", d) };
        let s = Selection::from_query(&pairs("device=m1&device=m2")).unwrap();
        assert_eq!(s.first_hidden(&viewer, path_of), Some("m2"));
        let s = Selection::from_query(&pairs("device=m1&tree=*")).unwrap();
        assert_eq!(s.first_hidden(&viewer, path_of), None, "a tree is narrowed by the grants, never refused");
    }
}

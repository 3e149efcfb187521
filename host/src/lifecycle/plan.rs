//! The difference between what runs and what the configuration and the
//! plugins folder ask for, per driver instance: what to keep, what to make
//! anew, what to stop. Pure: nothing is started or bound here.

use std::collections::BTreeMap;
use std::sync::Arc;

use meterhub_plugin_api::Role;

use crate::config::{Config, DriverConfig};
use crate::plugin::{Catalog, LoadedPlugin};

/// What a running driver instance runs on, as far as a change is concerned.
#[derive(Debug, Clone)]
pub struct RunningSpec {
    /// Its configuration.
    pub config: DriverConfig,
    /// Fingerprint of the driver plugin version it runs; `None` when it does
    /// not run (its plugin is missing).
    pub driver: Option<String>,
    /// Fingerprint of its codec plugin version; `None` when it has none.
    pub codec: Option<String>,
    /// Fingerprints of the codec plugins its device routes name besides
    /// `codec`, by id; `None` for one that is missing.
    pub routed: BTreeMap<String, Option<String>>,
}

/// A plugin version as the plan sees it.
pub trait Version: Clone {
    /// What identifies the version (manifest and file).
    fn fingerprint(&self) -> &str;
}

impl Version for Arc<LoadedPlugin> {
    fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// One plugin instance of a driver instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Part<P = Arc<LoadedPlugin>> {
    /// The running instance stays.
    Keep,
    /// A new instance of this plugin version replaces it (or starts).
    New(P),
    /// The plugin cannot be had, for this reason.
    Missing(String),
}

impl<P> Part<P> {
    /// Whether the instance must be made anew.
    pub fn is_new(&self) -> bool {
        matches!(self, Part::New(_))
    }
}

/// What happens to the transport of a driver instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportPlan {
    /// The running transport stays, with its listener and connections.
    Keep,
    /// A transport is started (the listener is bound or taken over).
    Start,
    /// No transport: the driver does not run.
    Off,
}

/// The plan for one configured driver instance.
#[derive(Clone, Debug, PartialEq)]
pub struct DriverPlan<P = Arc<LoadedPlugin>> {
    /// Its (new) configuration.
    pub config: DriverConfig,
    /// Whether it runs now, and whether its configuration changed.
    pub change: Change,
    /// The driver plugin instance.
    pub driver: Part<P>,
    /// The codec plugin instance.
    pub codec: Part<P>,
    /// The codec plugins its device routes name besides `codec`: kept, or
    /// all made anew (each plugin, or why it cannot be had).
    pub routed: Part<Vec<(String, Result<P, String>)>>,
    /// The transport.
    pub transport: TransportPlan,
}

/// How a configured driver instance relates to the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Not running before.
    Added,
    /// Running, with another configuration.
    Changed,
    /// Running with the same configuration.
    Same,
}

/// Everything a change does.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan<P = Arc<LoadedPlugin>> {
    /// Configured driver instances, in id order.
    pub drivers: Vec<DriverPlan<P>>,
    /// Running driver instances that are no longer configured.
    pub removed: Vec<String>,
}

/// The plugin `id` in the role `role`, or why not.
pub fn resolve(catalog: &Catalog, id: &str, role: Role) -> Result<Arc<LoadedPlugin>, String> {
    match catalog.loaded.get(id) {
        Some(p) if p.has_role(role) => Ok(p.clone()),
        Some(_) => Err(format!("plugin {id:?} does not play the {} role", role.as_str())),
        None => {
            let refused = catalog.refused.iter().find(|r| r.path.components().any(|c| c.as_os_str() == id));
            Err(match refused {
                Some(r) => format!("plugin {id:?} was refused: {r}"),
                None => format!(
                    "plugin {id:?} is not in the plugins folder {} (loaded: {})",
                    catalog.dir.display(),
                    if catalog.loaded.is_empty() {
                        "none".to_owned()
                    } else {
                        catalog.loaded.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            })
        }
    }
}

/// Compare `running` with what `config` and `catalog` ask for.
pub fn plan(running: &BTreeMap<String, RunningSpec>, config: &Config, catalog: &Catalog) -> Plan {
    plan_with(running, config, |id, role| resolve(catalog, id, role))
}

/// [`plan`], with plugins found by `resolve`.
pub fn plan_with<P: Version>(
    running: &BTreeMap<String, RunningSpec>,
    config: &Config,
    resolve: impl Fn(&str, Role) -> Result<P, String>,
) -> Plan<P> {
    let mut plan = Plan { drivers: Vec::new(), removed: Vec::new() };
    for c in &config.drivers {
        let before = running.get(&c.id);
        let change = match before {
            None => Change::Added,
            Some(r)
                if r.config.same_driver(c)
                    && r.config.same_codec(c)
                    && r.config.same_routes(c)
                    && r.config.same_transport(c) =>
            {
                Change::Same
            }
            Some(_) => Change::Changed,
        };
        let driver = match resolve(&c.plugin, Role::Driver) {
            Err(reason) => Part::Missing(reason),
            Ok(p) => match before {
                Some(r) if r.driver.as_deref() == Some(p.fingerprint()) && r.config.same_driver(c) => Part::Keep,
                _ => Part::New(p),
            },
        };
        let codec = match resolve(&c.codec, Role::Codec) {
            // Still missing: nothing to change.
            Err(_) if before.is_some_and(|r| r.codec.is_none() && r.config.same_codec(c)) => Part::Keep,
            Err(reason) => Part::Missing(reason),
            Ok(p) => match before {
                Some(r) if r.codec.as_deref() == Some(p.fingerprint()) && r.config.same_codec(c) => Part::Keep,
                _ => Part::New(p),
            },
        };
        let wanted: Vec<(String, Result<P, String>)> =
            c.routed_codecs().into_iter().map(|id| (id.to_owned(), resolve(id, Role::Codec))).collect();
        let unchanged = before.is_some_and(|r| {
            r.config.same_routes(c)
                && r.routed.len() == wanted.len()
                && wanted.iter().all(|(id, p)| {
                    r.routed.get(id).is_some_and(|was| was.as_deref() == p.as_ref().ok().map(|p| p.fingerprint()))
                })
        });
        let routed = if unchanged { Part::Keep } else { Part::New(wanted) };
        let transport = match (&driver, before) {
            (Part::Missing(_), _) => TransportPlan::Off,
            (_, Some(r)) if r.driver.is_some() && r.config.same_transport(c) => TransportPlan::Keep,
            _ => TransportPlan::Start,
        };
        plan.drivers.push(DriverPlan { config: c.clone(), change, driver, codec, routed, transport });
    }
    plan.removed = running.keys().filter(|id| !config.drivers.iter().any(|d| &d.id == *id)).cloned().collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Version for String {
        fn fingerprint(&self) -> &str {
            self
        }
    }

    const BASE: &str = r#"
[host]
data_dir = "d"
plugins_dir = "p"
[drivers.a]
plugin = "listener"
transport = "tcp"
listen = "127.0.0.1:7001"
[drivers.b]
plugin = "listener"
transport = "http"
listen = "127.0.0.1:7002"
[drivers.b.settings]
validate = true
"#;

    fn config(text: &str) -> Config {
        crate::config::load::parse(std::path::Path::new("/c/meterhub.toml"), text).expect("valid")
    }

    /// Plugins by id -> fingerprint; `codec-only` plays only the codec role.
    fn plan_of(running: &BTreeMap<String, RunningSpec>, text: &str, plugins: &[(&str, &str)]) -> Plan<String> {
        let plugins: BTreeMap<String, String> = plugins.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        plan_with(running, &config(text), |id, role| match plugins.get(id) {
            Some(_) if id == "codec-only" && role == Role::Driver => Err(format!("{id} is no driver")),
            Some(fp) => Ok(fp.clone()),
            None => Err(format!("{id} missing")),
        })
    }

    /// What runs after `plan` is carried out.
    fn running_after(plan: &Plan<String>, before: &BTreeMap<String, RunningSpec>) -> BTreeMap<String, RunningSpec> {
        plan.drivers
            .iter()
            .map(|d| {
                let was = before.get(&d.config.id);
                let fp = |part: &Part<String>, old: Option<&Option<String>>| match part {
                    Part::Keep => old.cloned().flatten(),
                    Part::New(f) => Some(f.clone()),
                    Part::Missing(_) => None,
                };
                let spec = RunningSpec {
                    config: d.config.clone(),
                    driver: fp(&d.driver, was.map(|w| &w.driver)),
                    codec: fp(&d.codec, was.map(|w| &w.codec)),
                    routed: BTreeMap::new(),
                };
                (d.config.id.clone(), spec)
            })
            .collect()
    }

    fn start(text: &str, plugins: &[(&str, &str)]) -> BTreeMap<String, RunningSpec> {
        running_after(&plan_of(&BTreeMap::new(), text, plugins), &BTreeMap::new())
    }

    #[test]
    fn start_is_a_change_from_nothing() {
        let plan = plan_of(&BTreeMap::new(), BASE, &[("listener", "v1")]);
        assert_eq!(plan.drivers.len(), 2);
        for d in &plan.drivers {
            assert_eq!((d.change, d.transport), (Change::Added, TransportPlan::Start));
            assert_eq!((d.driver.clone(), d.codec.clone()), (Part::New("v1".into()), Part::New("v1".into())));
        }
    }

    #[test]
    fn the_same_config_and_plugins_change_nothing() {
        let running = start(BASE, &[("listener", "v1")]);
        // Positions move when lines are added; that is no change.
        let plan = plan_of(&running, &format!("# a comment\n\n{BASE}"), &[("listener", "v1")]);
        assert!(plan.removed.is_empty(), "{plan:?}");
        for d in &plan.drivers {
            assert_eq!(
                (d.change, &d.driver, &d.codec, d.transport),
                (Change::Same, &Part::Keep, &Part::Keep, TransportPlan::Keep)
            );
        }
    }

    #[test]
    fn a_settings_change_renews_only_that_instance_and_keeps_its_listener() {
        let running = start(BASE, &[("listener", "v1")]);
        let plan = plan_of(&running, &BASE.replace("validate = true", "validate = false"), &[("listener", "v1")]);
        let (a, b) = (&plan.drivers[0], &plan.drivers[1]);
        assert_eq!(
            (a.change, &a.driver, &a.codec, a.transport),
            (Change::Same, &Part::Keep, &Part::Keep, TransportPlan::Keep)
        );
        assert_eq!(b.change, Change::Changed);
        assert_eq!(
            (&b.driver, &b.codec, b.transport),
            (&Part::New("v1".into()), &Part::New("v1".into()), TransportPlan::Keep)
        );
    }

    #[test]
    fn a_new_plugin_version_renews_its_instances_behind_the_same_listeners() {
        let running = start(BASE, &[("listener", "v1")]);
        let plan = plan_of(&running, BASE, &[("listener", "v2")]);
        for d in &plan.drivers {
            assert_eq!((d.change, d.transport), (Change::Same, TransportPlan::Keep));
            assert_eq!((d.driver.clone(), d.codec.clone()), (Part::New("v2".into()), Part::New("v2".into())));
        }
    }

    #[test]
    fn a_port_change_starts_a_transport_and_a_removal_is_listed() {
        let running = start(BASE, &[("listener", "v1")]);
        let text = BASE.replace("127.0.0.1:7001", "127.0.0.1:7003");
        let text = &text[..text.find("[drivers.b]").unwrap()];
        let plan = plan_of(&running, text, &[("listener", "v1")]);
        assert_eq!(plan.drivers.len(), 1);
        let a = &plan.drivers[0];
        assert_eq!((a.change, &a.driver, a.transport), (Change::Changed, &Part::Keep, TransportPlan::Start));
        assert_eq!(plan.removed, vec!["b".to_owned()]);
    }

    #[test]
    fn a_missing_plugin_stops_the_transport_and_its_return_starts_it() {
        let running = start(BASE, &[("listener", "v1")]);
        let plan = plan_of(&running, BASE, &[]);
        for d in &plan.drivers {
            assert_eq!(d.transport, TransportPlan::Off);
            assert_eq!(d.driver, Part::Missing("listener missing".into()));
        }
        let gone = running_after(&plan, &running);
        let back = plan_of(&gone, BASE, &[("listener", "v1")]);
        for d in &back.drivers {
            assert_eq!((d.transport, d.driver.clone()), (TransportPlan::Start, Part::New("v1".into())));
        }
    }

    #[test]
    fn a_separate_codec_is_renewed_alone() {
        let text = BASE.replace(
            "[drivers.b]\nplugin = \"listener\"",
            "[drivers.b]\nplugin = \"listener\"\ncodec = \"codec-only\"",
        );
        let running = start(&text, &[("listener", "v1"), ("codec-only", "c1")]);
        let plan = plan_of(&running, &text, &[("listener", "v1"), ("codec-only", "c2")]);
        let b = &plan.drivers[1];
        assert_eq!((&b.driver, &b.codec, b.transport), (&Part::Keep, &Part::New("c2".into()), TransportPlan::Keep));
        // A separate codec gets no settings, so a settings change leaves it.
        let changed = text.replace("validate = true", "validate = false");
        let plan = plan_of(&running, &changed, &[("listener", "v1"), ("codec-only", "c1")]);
        let b = &plan.drivers[1];
        assert_eq!((&b.driver, &b.codec), (&Part::New("v1".into()), &Part::Keep));
    }
}

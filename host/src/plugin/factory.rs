//! Supervised factories: how the host makes a plugin's instances for a
//! codec or a driver instance, so that a restart (after a fault, or an
//! operator's) makes a fresh one the same way. Used by the start, every live
//! change (`lifecycle`) and the offline re-decode.

use std::collections::BTreeMap;
use std::sync::Arc;

use meterhub_storage::archive::Archive;

use super::supervisor::Supervised;
use super::{Isolation, LoadedPlugin};
use crate::config::Config;

/// A supervised instance of `plugin` configured with `settings_json`; an
/// operator's restart makes a fresh one the same way.
pub fn supervised(plugin: &Arc<LoadedPlugin>, settings_json: &str, config: &Config) -> Result<Supervised, String> {
    let (plugin, settings) = (plugin.clone(), settings_json.to_owned());
    let id = plugin.manifest.id.clone();
    let isolation = Isolation::of(config, &id);
    Supervised::new(&id, Box::new(move || plugin.instantiate(&settings, isolation)), config.supervision)
}

/// A supervised driver instance of `plugin` for driver instance `source`.
/// Every instance made (the first, an operator's restart) gets the current
/// resume marks of `source` in its settings (`plugin-api`'s
/// `SETTINGS_RESUME`).
pub fn supervised_driver(
    plugin: &Arc<LoadedPlugin>,
    settings_json: &str,
    source: &str,
    archive: &Arc<dyn Archive>,
    config: &Config,
) -> Result<Supervised, String> {
    let (plugin, settings, source, archive) =
        (plugin.clone(), settings_json.to_owned(), source.to_owned(), archive.clone());
    let id = plugin.manifest.id.clone();
    let isolation = Isolation::of(config, &id);
    let factory = move || {
        let marks = archive.resume_marks(&source).unwrap_or_else(|e| {
            tracing::warn!(driver = %source, error = %e, "cannot read the resume marks; the driver starts without them");
            BTreeMap::new()
        });
        plugin.instantiate(&with_resume_marks(&settings, marks), isolation)
    };
    Supervised::new(&id, Box::new(factory), config.supervision)
}

/// `settings_json` (an object) with `marks` under `SETTINGS_RESUME`, when
/// there are any.
fn with_resume_marks(settings_json: &str, marks: BTreeMap<String, i64>) -> String {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(settings_json) {
        Ok(mut settings) if !marks.is_empty() => {
            settings.insert(meterhub_plugin_api::SETTINGS_RESUME.to_owned(), serde_json::json!(marks));
            serde_json::Value::Object(settings).to_string()
        }
        _ => settings_json.to_owned(),
    }
}

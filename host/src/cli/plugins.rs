//! `meterhub plugins`: what loads, what is refused and why.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::output::say;
use crate::lifecycle::view::PluginStatus;

/// List the plugins folder of the configuration.
pub fn run(path: &Path, json: bool) -> ExitCode {
    let config = match super::load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    super::logging::init(crate::config::LogFormat::Human, "error");
    let catalog = crate::app::scan_plugins(&config);
    let loaded: Vec<PluginStatus> = catalog.loaded.values().map(|p| PluginStatus::of(&p.manifest)).collect();
    if json {
        let value = serde_json::json!({ "dir": catalog.dir, "loaded": loaded, "refused": catalog.refused });
        say!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        say!("plugins folder: {}", catalog.dir.display());
        for p in &loaded {
            say!(
                "  loaded   {:<16} {:<8} {:<6} api {}  roles {}  {}",
                p.id,
                p.version,
                p.kind,
                p.api,
                p.roles.join(","),
                p.file
            );
        }
        for r in &catalog.refused {
            say!("  REFUSED  {r}");
        }
        if loaded.is_empty() && catalog.refused.is_empty() {
            say!("  (empty)");
        }
    }
    if catalog.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

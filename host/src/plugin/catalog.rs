//! The plugins folder: every sub-folder with a `plugin.toml` is a plugin.
//! What is valid is loaded; what is not is refused with the file and the
//! cause, and the host goes on without it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meterhub_plugin_api::{PluginInfo, Role};

use super::instance::PluginInstance;
use super::manifest::{self, Manifest, PluginKind};
use super::native::{Isolation, NativePlugin};
use super::wasm::{Limits, WasmPlugin};

/// A plugin that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The file at fault (manifest, component or library).
    pub path: PathBuf,
    /// Line and column in the file, where a manifest is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Column, with `line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub col: Option<usize>,
    /// Why.
    pub cause: String,
}

impl Refusal {
    /// A refusal of `path` as a whole.
    pub fn new(path: impl Into<PathBuf>, cause: impl Into<String>) -> Self {
        Refusal { path: path.into(), line: None, col: None, cause: cause.into() }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.col) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.path.display(), self.cause),
            _ => write!(f, "{}: {}", self.path.display(), self.cause),
        }
    }
}

enum Runtime {
    Wasm(Arc<WasmPlugin>),
    Native(NativePlugin),
}

/// A loaded plugin, ready to instantiate.
pub struct LoadedPlugin {
    /// Its manifest.
    pub manifest: Manifest,
    runtime: Runtime,
    /// SHA-256 of its file, lowercase hex.
    pub file_sha256: String,
    /// Identity of this version (manifest and file): a change is a new version.
    pub fingerprint: String,
}

impl Drop for LoadedPlugin {
    fn drop(&mut self) {
        tracing::debug!(plugin = %self.manifest.id, version = %self.manifest.version, sha256 = %self.file_sha256, "plugin version released");
    }
}

impl LoadedPlugin {
    /// Whether it plays `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.manifest.roles.contains(&role)
    }

    /// A new instance configured with `settings_json`; a native plugin's runs
    /// as `isolation` says (WASM plugins ignore it).
    pub fn instantiate(&self, settings_json: &str, isolation: Isolation) -> Result<Box<dyn PluginInstance>, String> {
        Ok(match &self.runtime {
            Runtime::Wasm(p) => Box::new(p.instantiate(settings_json)?),
            Runtime::Native(p) => p.instantiate(settings_json, isolation)?,
        })
    }
}

/// What the plugins folder holds.
pub struct Catalog {
    /// The folder.
    pub dir: PathBuf,
    /// Loaded plugins by id.
    pub loaded: BTreeMap<String, Arc<LoadedPlugin>>,
    /// Refused plugins, in folder order.
    pub refused: Vec<Refusal>,
}

impl Catalog {
    /// Scan `dir` and load every valid plugin.
    pub fn scan(dir: &Path, limits: Limits) -> Catalog {
        Catalog::rescan(dir, limits, None)
    }

    /// Scan `dir` again after a change. A plugin whose manifest and file
    /// are unchanged is kept as loaded (same instances, no recompilation);
    /// a changed one is loaded afresh; a changed one that is refused leaves
    /// the running version in place, and the refusal says so.
    pub fn rescan(dir: &Path, limits: Limits, previous: Option<&Catalog>) -> Catalog {
        let mut catalog = Catalog { dir: dir.to_path_buf(), loaded: BTreeMap::new(), refused: Vec::new() };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                catalog.refused.push(Refusal::new(dir, format!("cannot read the plugins folder: {e}")));
                return catalog;
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if is_staging(&path) {
                continue;
            }
            if !path.is_dir() {
                if matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "so" | "dylib" | "dll")) {
                    catalog.refused.push(Refusal::new(
                        path,
                        "a plugin is a folder holding plugin.toml and its file; this file is not in one",
                    ));
                }
                continue;
            }
            let manifest_path = path.join("plugin.toml");
            if !manifest_path.exists() {
                catalog.refused.push(Refusal::new(manifest_path, "missing plugin.toml"));
                continue;
            }
            let folder = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            let before = previous.and_then(|p| p.loaded.get(folder));
            if let Some(before) = before
                && fingerprint(&manifest_path, &before.manifest.file).as_deref() == Some(&before.fingerprint)
            {
                catalog.loaded.insert(before.manifest.id.clone(), before.clone());
                continue;
            }
            match load_one(&manifest_path, limits) {
                Ok(plugin) => {
                    tracing::info!(
                        plugin = %plugin.manifest.id,
                        version = %plugin.manifest.version,
                        kind = plugin.manifest.kind.as_str(),
                        file = %plugin.manifest.file.display(),
                        sha256 = %plugin.file_sha256,
                        "plugin loaded"
                    );
                    catalog.loaded.insert(plugin.manifest.id.clone(), Arc::new(plugin));
                }
                Err(refusals) => {
                    for mut refusal in refusals {
                        if let Some(before) = before {
                            refusal.cause = format!(
                                "{}; version {} (sha256 {}) keeps running",
                                refusal.cause,
                                before.manifest.version,
                                &before.file_sha256[..12]
                            );
                        }
                        tracing::warn!(refusal = %refusal, "plugin refused");
                        catalog.refused.push(refusal);
                    }
                    if let Some(before) = before {
                        catalog.loaded.insert(before.manifest.id.clone(), before.clone());
                    }
                }
            }
        }
        catalog
    }
}

/// Names in the plugins folder that are never plugins: hidden entries and
/// files being written (`.tmp`, `.part`, `.partial`, `~`). Copy a new plugin
/// in under such a name and rename it into place to make the change atomic.
pub fn is_staging(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".part", ".partial", ".swp"].iter().any(|ext| name.ends_with(ext))
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    meterhub_plugin_api::hex::encode(&hasher.finalize())
}

/// What identifies one version of a plugin: its manifest and its file.
fn fingerprint(manifest_path: &Path, file: &Path) -> Option<String> {
    let manifest = std::fs::read(manifest_path).ok()?;
    let bytes = std::fs::read(file).ok()?;
    Some(sha256_hex(&[&sha256_hex(&[&manifest]).into_bytes(), &bytes]))
}

/// Load the plugin described by the manifest at `manifest_path`.
pub fn load_one(manifest_path: &Path, limits: Limits) -> Result<LoadedPlugin, Vec<Refusal>> {
    let manifest_text =
        std::fs::read(manifest_path).map_err(|e| vec![Refusal::new(manifest_path, format!("cannot read: {e}"))])?;
    let manifest = manifest::load(manifest_path).map_err(|errors| {
        errors
            .into_iter()
            .map(|d| Refusal { path: d.file, line: Some(d.pos.line), col: Some(d.pos.col), cause: d.message })
            .collect::<Vec<_>>()
    })?;
    let file = manifest.file.clone();
    let refuse = |cause: String| vec![Refusal::new(file.clone(), cause)];
    let bytes = std::fs::read(&file).map_err(|e| refuse(format!("cannot read: {e}")))?;
    let file_sha256 = sha256_hex(&[&bytes]);
    if let Some(expected) = &manifest.sha256
        && *expected != file_sha256
    {
        let pos = manifest.sha256_pos.unwrap_or(meterhub_storage::diagnostic::Pos { line: 1, col: 1 });
        return Err(vec![Refusal {
            path: manifest_path.to_path_buf(),
            line: Some(pos.line),
            col: Some(pos.col),
            cause: format!(
                "{} has sha256 {file_sha256} ({} bytes), not the {expected} stated here: still being copied, truncated or corrupt",
                file.display(),
                bytes.len()
            ),
        }]);
    }
    let fingerprint = sha256_hex(&[&sha256_hex(&[&manifest_text]).into_bytes(), &bytes]);
    let (runtime, info) = match manifest.kind {
        PluginKind::Wasm => {
            let plugin = WasmPlugin::compile(&manifest.id, &bytes, &file_sha256, limits, manifest.capabilities)
                .map_err(refuse)?;
            let info = plugin.info().map_err(|f| refuse(f.message))?;
            (Runtime::Wasm(Arc::new(plugin)), info)
        }
        PluginKind::Native => {
            let plugin = NativePlugin::load(&file).map_err(refuse)?;
            let info = plugin.info();
            (Runtime::Native(plugin), info)
        }
    };
    check_info(&manifest, &info).map_err(refuse)?;
    Ok(LoadedPlugin { manifest, runtime, file_sha256, fingerprint })
}

/// The plugin must say of itself what its manifest says.
fn check_info(manifest: &Manifest, info: &PluginInfo) -> Result<(), String> {
    if info.id != manifest.id {
        return Err(format!("the plugin calls itself {:?} but plugin.toml says {:?}", info.id, manifest.id));
    }
    if info.version != manifest.version {
        return Err(format!(
            "plugin.toml says version {:?} but the plugin was built as version {:?}: rebuild it, or fix the manifest",
            manifest.version, info.version
        ));
    }
    for role in &manifest.roles {
        if !info.roles.contains(role) {
            return Err(format!("plugin.toml declares role {:?} but the plugin does not play it", role.as_str()));
        }
    }
    Ok(())
}

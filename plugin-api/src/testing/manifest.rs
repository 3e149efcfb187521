//! The manifest check: a plugin's [`Plugin::info`] against the
//! `plugin.toml` beside its `Cargo.toml`, read with a full TOML parser
//! (not the compile-time reader of [`crate::manifest`]), so that a
//! disagreement between the two readers, or an `info()` written by hand,
//! fails the plugin's tests.

use std::path::Path;

use crate::API_VERSION_TEXT;
use crate::plugin::Plugin;

/// Check `P`'s identity against `<crate_dir>/plugin.toml`: `id` (also the
/// folder's name), `version`, `roles` (the same, in the same order), and
/// `api` (the contract this crate implements).
pub fn check_manifest<P: Plugin>(crate_dir: impl AsRef<Path>) -> Result<(), String> {
    let dir = crate_dir.as_ref();
    let path = dir.join("plugin.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let string = |key: &str| -> Result<&str, String> {
        manifest
            .get(key)
            .and_then(toml::Value::as_str)
            .ok_or_else(|| format!("{}: `{key}` is not a string", path.display()))
    };
    let info = P::info();
    let mut problems = Vec::new();
    if string("id")? != info.id {
        problems.push(format!("id: plugin.toml says {:?}, info() {:?}", string("id")?, info.id));
    }
    let folder = dir.file_name().and_then(|f| f.to_str()).unwrap_or_default();
    if folder != info.id {
        problems.push(format!("id: the plugin's folder is {folder:?}, its id {:?}", info.id));
    }
    if string("version")? != info.version {
        problems.push(format!("version: plugin.toml says {:?}, info() {:?}", string("version")?, info.version));
    }
    if string("api")? != API_VERSION_TEXT {
        problems
            .push(format!("api: plugin.toml says {:?}, the plugin is built for {API_VERSION_TEXT}", string("api")?));
    }
    let roles: Vec<&str> = match manifest.get("roles").and_then(toml::Value::as_array) {
        Some(roles) => roles.iter().map(|r| r.as_str().unwrap_or("?")).collect(),
        None => return Err(format!("{}: `roles` is not an array", path.display())),
    };
    let played: Vec<&str> = info.roles.iter().map(|r| r.as_str()).collect();
    if roles != played {
        problems.push(format!("roles: plugin.toml says {roles:?}, info() {played:?}"));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(format!("{}: {}", path.display(), problems.join("; "))),
    }
}

/// [`check_manifest`], as a test assertion: call it with
/// `env!("CARGO_MANIFEST_DIR")`.
///
/// # Panics
///
/// When the check fails, with its message.
pub fn assert_manifest_matches<P: Plugin>(crate_dir: impl AsRef<Path>) {
    if let Err(e) = check_manifest::<P>(crate_dir) {
        panic!("{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Identified, Identity, PluginInfo, Role};

    struct Meter;

    impl Identified for Meter {
        const IDENTITY: Identity = Identity::from_manifest(
            "id = \"my-meter\"\nversion = \"0.3.0\"\nroles = [\"codec\", \"driver\"]\n",
            "0.3.0",
        );
    }

    impl Plugin for Meter {
        fn init(_: &str) -> Result<Self, String> {
            Ok(Meter)
        }
    }

    /// One whose `info()` was written by hand, and wrong.
    struct Liar;

    impl Identified for Liar {
        const IDENTITY: Identity = Meter::IDENTITY;
    }

    impl Plugin for Liar {
        fn info() -> PluginInfo {
            PluginInfo { id: "my-meter".into(), version: "9.9.9".into(), roles: vec![Role::Codec] }
        }
        fn init(_: &str) -> Result<Self, String> {
            Ok(Liar)
        }
    }

    fn folder(name: &str, manifest: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("meterhub-manifest-{}", std::process::id())).join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
        dir
    }

    #[test]
    fn info_and_manifest_agree_or_each_difference_is_named() {
        let good =
            "id = \"my-meter\"\nversion = \"0.3.0\"\napi = \"1.4\"\nroles = [\"codec\", \"driver\"]\n[capabilities]\n";
        let dir = folder("my-meter", good);
        assert_eq!(check_manifest::<Meter>(&dir), Ok(()));
        assert_manifest_matches::<Meter>(&dir);
        let e = check_manifest::<Liar>(&dir).unwrap_err();
        assert!(
            e.ends_with(
                "plugin.toml: version: plugin.toml says \"0.3.0\", info() \"9.9.9\"; roles: plugin.toml says [\"codec\", \"driver\"], info() [\"codec\"]"
            ),
            "{e}"
        );
        let other = folder("elsewhere", &good.replace("1.4", "1.0"));
        let e = check_manifest::<Meter>(&other).unwrap_err();
        assert!(
            e.contains("id: the plugin's folder is \"elsewhere\", its id \"my-meter\"; api: plugin.toml says \"1.0\""),
            "{e}"
        );
        let broken = folder("broken", "id = ");
        assert!(check_manifest::<Meter>(&broken).unwrap_err().contains("plugin.toml: TOML parse error"));
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}

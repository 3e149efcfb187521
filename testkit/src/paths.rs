//! Where things are: the workspace, the `meterhub` binary under test and the
//! plugin folders `scripts/build-plugins` laid out.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testkit/ has a parent").to_path_buf()
}

/// The `meterhub` binary under test: `$METERHUB_BIN` when set, else the one
/// cargo built beside the running test or bench (`target/<profile>/`; cargo
/// builds a package's binaries before its integration tests and benches).
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("METERHUB_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the running test's path");
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe.parent().and_then(Path::parent).expect("a test binary in target/<profile>/deps/");
    let bin = profile_dir.join("meterhub");
    assert!(
        bin.exists(),
        "{} does not exist: run the tests with cargo (it builds the binary first) or set METERHUB_BIN",
        bin.display()
    );
    bin
}

/// Plugin folders of `kind` (`wasm` or `native`) that `scripts/build-plugins`
/// laid out under `target/<root>`, checked by one plugin that must be there.
fn built(root: &str, kind: &str, probe: &str) -> PathBuf {
    let dir = workspace().join("target").join(root).join(kind);
    assert!(
        dir.join(probe).join("plugin.toml").exists(),
        "{} has no built plugins: run scripts/build-plugins first (scripts/test does)",
        dir.display()
    );
    dir
}

/// Built plugin folders of `kind` (`wasm` or `native`).
pub fn plugins_dir(kind: &str) -> PathBuf {
    built("plugins", kind, "listener")
}

/// Built hostile test plugins of `kind` (from `tests/plugins/`).
pub fn test_plugins_dir(kind: &str) -> PathBuf {
    built("test-plugins", kind, "hostile")
}

/// Copy the plugin folder `from` to `to`.
pub fn copy_plugin(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create plugin folder");
    for entry in std::fs::read_dir(from).expect("read plugin folder") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy plugin file");
    }
}

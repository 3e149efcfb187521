//! Plugin loading: valid plugins load, broken ones are refused with the
//! file and the cause, and the host goes on.

use meterhub_plugin_api::API_VERSION_TEXT;
use std::path::Path;

use meterhub_testkit::{Host, copy_plugin, default_config, host_tables, plugins_dir, test_plugins_dir};

/// A plugins folder holding the good listener and several broken plugins.
fn hostile_folder(root: &Path) -> std::path::PathBuf {
    let dir = root.join("plugins");
    let wasm = plugins_dir("wasm");
    copy_plugin(&wasm.join("listener"), &dir.join("listener"));

    // Half-copied component: the first 1000 bytes.
    copy_plugin(&wasm.join("listener"), &dir.join("truncated"));
    let bytes = std::fs::read(dir.join("truncated/listener.wasm")).unwrap();
    std::fs::write(dir.join("truncated/listener.wasm"), &bytes[..1000]).unwrap();
    let manifest = std::fs::read_to_string(dir.join("truncated/plugin.toml")).unwrap();
    std::fs::write(dir.join("truncated/plugin.toml"), manifest.replace("id = \"listener\"", "id = \"truncated\""))
        .unwrap();

    // A future contract version.
    copy_plugin(&wasm.join("listener"), &dir.join("future"));
    let manifest = std::fs::read_to_string(dir.join("future/plugin.toml")).unwrap();
    std::fs::write(
        dir.join("future/plugin.toml"),
        manifest
            .replace("id = \"listener\"", "id = \"future\"")
            .replace(&format!("api = \"{API_VERSION_TEXT}\""), "api = \"2.0\""),
    )
    .unwrap();

    // Garbage where a native library should be.
    std::fs::create_dir_all(dir.join("garbage")).unwrap();
    std::fs::write(dir.join("garbage/libgarbage.so"), b"\x7fELF but not really").unwrap();
    std::fs::write(
        dir.join("garbage/plugin.toml"),
        format!(
            "kind = \"native\"\nfile = \"libgarbage.so\"\nid = \"garbage\"\nversion = \"1\"\napi = \"{API_VERSION_TEXT}\"\nroles = [\"codec\"]\n"
        ),
    )
    .unwrap();

    // A codec that would open its own socket, without any way to declare it.
    copy_plugin(&test_plugins_dir("wasm").join("sneaky"), &dir.join("sneaky"));

    // A component whose manifest lies about its identity.
    copy_plugin(&wasm.join("listener"), &dir.join("impostor"));
    let manifest = std::fs::read_to_string(dir.join("impostor/plugin.toml")).unwrap();
    std::fs::write(dir.join("impostor/plugin.toml"), manifest.replace("id = \"listener\"", "id = \"impostor\""))
        .unwrap();

    dir
}

#[test]
fn broken_plugins_are_refused_with_file_and_cause_and_the_host_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let dir = hostile_folder(root.path());
    let host = Host::start_with(&default_config(&dir));

    let plugins = host.get_ok("/api/v1/plugins");
    let loaded: Vec<&str> = plugins["loaded"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(loaded, ["listener"], "{plugins}");
    let refused = plugins["refused"].as_array().unwrap();
    let cause_of = |folder: &str| -> String {
        let r = refused
            .iter()
            .find(|r| r["path"].as_str().unwrap().contains(&format!("/{folder}/")))
            .unwrap_or_else(|| panic!("{folder} is not refused: {plugins}"));
        format!("{}: {}", r["path"].as_str().unwrap(), r["cause"].as_str().unwrap())
    };
    assert!(cause_of("truncated").contains("listener.wasm: invalid component"), "{}", cause_of("truncated"));
    assert!(cause_of("future").contains("plugin.toml: api 2.0 is not supported"), "{}", cause_of("future"));
    assert_eq!(refused.iter().find(|r| r["path"].as_str().unwrap().contains("/future/")).unwrap()["line"], 6);
    assert!(cause_of("garbage").contains("libgarbage.so: not a meterhub native plugin"), "{}", cause_of("garbage"));
    assert!(cause_of("impostor").contains("calls itself \"listener\""), "{}", cause_of("impostor"));
    let sneaky = cause_of("sneaky");
    assert!(sneaky.contains("sneaky.wasm: imports what this host never grants to plugins: "), "{sneaky}");
    assert!(sneaky.contains("wasi:sockets/tcp@0.2.6"), "the refusal names the import: {sneaky}");

    // The good plugin serves.
    let mut client = meterhub_testkit::LineClient::connect(host.driver("tcp-in"));
    client.send(meterhub_testkit::reading("p1", "v", 1_763_719_200_000, "1").as_bytes());
    assert_eq!(client.answer().unwrap()["ok"], true);

    // The CLI says the same, and fails.
    let out = host.cli(&["plugins"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("loaded   listener"), "{text}");
    assert!(text.contains("REFUSED") && text.contains("api 2.0 is not supported"), "{text}");
}

#[test]
fn native_plugins_load_through_the_abi_check() {
    let host = Host::start_with(&default_config(&plugins_dir("native")));
    let plugins = host.get_ok("/api/v1/plugins");
    assert_eq!(plugins["loaded"][0]["kind"], "native", "{plugins}");
    assert_eq!(plugins["refused"].as_array().unwrap().len(), 0, "{plugins}");
}

#[test]
fn a_plugin_whose_manifest_names_another_version_than_it_was_built_as_is_refused_saying_which() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    copy_plugin(&plugins_dir("wasm").join("listener"), &dir.join("listener"));
    let manifest = std::fs::read_to_string(dir.join("listener/plugin.toml")).unwrap();
    let built = env!("CARGO_PKG_VERSION");
    let edited = manifest.replace(&format!("version = \"{built}\""), "version = \"9.9.9\"");
    assert_ne!(edited, manifest, "the laid-out manifest names the built version");
    std::fs::write(dir.join("listener/plugin.toml"), edited).unwrap();

    let host = Host::start_with(&host_tables(&dir));
    let plugins = host.get_ok("/api/v1/plugins");
    assert_eq!(plugins["loaded"].as_array().unwrap().len(), 0, "{plugins}");
    let cause = plugins["refused"][0]["cause"].as_str().unwrap_or_default();
    let want = format!("plugin.toml says version \"9.9.9\" but the plugin was built as version \"{built}\"");
    assert!(cause.contains(&want), "{plugins}");
}

#[test]
fn compiled_code_is_kept_in_the_data_dir_and_a_damaged_copy_is_compiled_again_never_run() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    copy_plugin(&plugins_dir("wasm").join("listener"), &plugins.join("listener"));
    // The default place: `compiled-plugins` in the data directory.
    let config = default_config(&plugins).replace(&meterhub_testkit::shared_compiled_plugins_line(), "");
    let mut host = Host::start_with(&config);
    let kept_dir = host.data_dir().join("compiled-plugins");
    let kept: Vec<_> = std::fs::read_dir(&kept_dir).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(kept.len(), 1, "one file for the one plugin: {kept:?}");
    let file = &kept[0];
    let sha256 = host.get_ok("/api/v1/plugins")["loaded"][0]["sha256"].as_str().unwrap().to_owned();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(sha256.len() == 64 && name.starts_with(&sha256) && name.ends_with(".cwasm"), "{name} of {sha256}");
    let whole = std::fs::read(file).unwrap();

    // Damaged while the host was stopped: one flipped byte in the code.
    host.stop();
    let mut damaged = whole.clone();
    damaged[whole.len() / 2] ^= 0x40;
    std::fs::write(file, &damaged).unwrap();
    host.restart();
    assert!(host.log().contains("fails its checksum"), "{}", host.log());
    let mut client = meterhub_testkit::LineClient::connect(host.driver("tcp-in"));
    client.send(meterhub_testkit::reading("c1", "v", 1_763_719_200_000, "1").as_bytes());
    assert_eq!(client.answer().unwrap()["ok"], true, "the listener compiled again serves");
    assert_ne!(std::fs::read(file).unwrap(), damaged, "the damaged file is replaced by the code compiled again");

    // The next start loads it and says nothing more.
    host.stop();
    host.restart();
    assert_eq!(host.log().matches("fails its checksum").count(), 1, "{}", host.log());
    assert_eq!(host.get_ok("/api/v1/plugins")["loaded"][0]["id"], "listener");
}

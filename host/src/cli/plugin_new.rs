//! `meterhub plugin new <id> --role codec|driver|sink`: a working plugin
//! folder under `plugins/` (the workspace glob, `scripts/build-plugins` and
//! the host's catalog find it with nothing else to edit): `plugin.toml`, the
//! crate, an example implementation of the role, and a fixture test that
//! passes as written. The templates are in `plugin_new/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;

use crate::cli::output::say;

/// The role of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NewRole {
    /// Raw frames to readings.
    Codec,
    /// A session state machine for a host transport.
    Driver,
    /// Archived readings to an external store.
    Sink,
}

impl NewRole {
    fn as_str(self) -> &'static str {
        match self {
            NewRole::Codec => "codec",
            NewRole::Driver => "driver",
            NewRole::Sink => "sink",
        }
    }

    /// The role's source, test and fixtures (path under `fixtures/`, text).
    fn templates(self) -> (&'static str, &'static str, &'static [(&'static str, &'static str)]) {
        match self {
            NewRole::Codec => (
                include_str!("plugin_new/codec.rs.in"),
                include_str!("plugin_new/codec_test.rs.in"),
                &[
                    ("codec/example.hex", include_str!("plugin_new/fixtures/codec/example.hex")),
                    ("codec/example.meta.json", include_str!("plugin_new/fixtures/codec/example.meta.json")),
                    ("codec/example.out.json", include_str!("plugin_new/fixtures/codec/example.out.json")),
                    ("codec/short.hex", include_str!("plugin_new/fixtures/codec/short.hex")),
                    ("codec/short.meta.json", include_str!("plugin_new/fixtures/codec/short.meta.json")),
                    ("codec/short.out.json", include_str!("plugin_new/fixtures/codec/short.out.json")),
                ],
            ),
            NewRole::Driver => (
                include_str!("plugin_new/driver.rs.in"),
                include_str!("plugin_new/driver_test.rs.in"),
                &[
                    ("session/two-lines.in", include_str!("plugin_new/fixtures/session/two-lines.in")),
                    ("session/two-lines.out.json", include_str!("plugin_new/fixtures/session/two-lines.out.json")),
                ],
            ),
            NewRole::Sink => (
                include_str!("plugin_new/sink.rs.in"),
                include_str!("plugin_new/sink_test.rs.in"),
                &[
                    ("batch/ok.batch.json", include_str!("plugin_new/fixtures/batch/ok.batch.json")),
                    ("batch/ok.out.json", include_str!("plugin_new/fixtures/batch/ok.out.json")),
                    ("batch/no-unit.batch.json", include_str!("plugin_new/fixtures/batch/no-unit.batch.json")),
                    ("batch/no-unit.out.json", include_str!("plugin_new/fixtures/batch/no-unit.out.json")),
                ],
            ),
        }
    }
}

/// Why an id cannot name a plugin; `None` when it can. An id is the folder
/// name and the end of the crate name: lower-case ASCII letters, digits and
/// single dashes, starting with a letter.
pub fn id_problem(id: &str) -> Option<String> {
    let valid = id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--");
    (!valid).then(|| {
        format!(
            "plugin id {id:?}: use lower-case letters, digits and single dashes, starting with a letter (e.g. \"acme-gas\")"
        )
    })
}

/// `acme-gas` + codec -> `AcmeGasCodec`.
fn type_name(id: &str, role: NewRole) -> String {
    let mut out = String::new();
    for part in id.split('-').chain([role.as_str()]) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// Every file of the new plugin `id`, as (path in its folder, text).
pub fn files(id: &str, role: NewRole) -> Vec<(PathBuf, String)> {
    let krate = format!("meterhub-{}-{id}", role.as_str());
    let description = match role {
        NewRole::Codec => format!("{id} codec: decodes its devices' payloads into readings"),
        NewRole::Driver => format!("{id} driver: takes its devices' sessions and commits their frames"),
        NewRole::Sink => format!("{id} sink: writes archived readings to a PostgreSQL database the host connects to"),
    };
    let fill = |template: &str| {
        template
            .replace("{crate_ident}", &krate.replace('-', "_"))
            .replace("{crate}", &krate)
            .replace("{type}", &type_name(id, role))
            .replace("{id}", id)
            .replace("{role}", role.as_str())
            .replace("{description}", &description)
            .replace("{version}", env!("CARGO_PKG_VERSION"))
            .replace("{api}", meterhub_plugin_api::API_VERSION_TEXT)
            .replace("{capabilities}", if role == NewRole::Sink { "postgres = true\n" } else { "" })
    };
    let (source, test, fixtures) = role.templates();
    let mut out = vec![
        (PathBuf::from("plugin.toml"), fill(include_str!("plugin_new/plugin.toml.in"))),
        (PathBuf::from("Cargo.toml"), fill(include_str!("plugin_new/Cargo.toml.in"))),
        (PathBuf::from("src/lib.rs"), fill(source)),
        (PathBuf::from("tests/fixtures.rs"), fill(test)),
    ];
    out.extend(fixtures.iter().map(|(path, text)| (Path::new("fixtures").join(path), (*text).to_owned())));
    out
}

/// Write the new plugin `id` into `<plugins>/<id>/`; refuses an existing
/// folder.
pub fn run(id: &str, role: NewRole, plugins: &Path) -> ExitCode {
    if let Some(problem) = id_problem(id) {
        eprintln!("meterhub plugin new: {problem}");
        return ExitCode::from(2);
    }
    let dir = plugins.join(id);
    if dir.exists() {
        eprintln!("meterhub plugin new: {} exists already; choose another id or remove it", dir.display());
        return ExitCode::from(2);
    }
    for (path, text) in files(id, role) {
        let path = dir.join(path);
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            eprintln!("meterhub plugin new: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let krate = format!("meterhub-{}-{id}", role.as_str());
    say!("wrote the {} plugin {id} in {}", role.as_str(), dir.display());
    say!("  cargo test -p {krate}          # its fixture test (METERHUB_BLESS=1 rewrites expectations)");
    say!("  scripts/build-plugins {id}     # WASM and native, laid out in target/plugins/");
    say!("  docs/plugins.md                # the contract, the testing kit, the frames each driver hands codecs");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_folder_and_crate_names() {
        assert_eq!(id_problem("acme-gas2"), None);
        for bad in ["", "Acme", "2gas", "acme_gas", "acme--gas", "acme-", "acme gas", "../x"] {
            assert!(id_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(type_name("acme-gas2", NewRole::Codec), "AcmeGas2Codec");
    }

    #[test]
    fn every_placeholder_is_filled_for_every_role() {
        for role in [NewRole::Codec, NewRole::Driver, NewRole::Sink] {
            for (path, text) in files("acme-gas", role) {
                for placeholder in
                    ["{crate", "{type}", "{id}", "{role}", "{description}", "{version}", "{api}", "{capabilities}"]
                {
                    assert!(!text.contains(placeholder), "{role:?} {}: {placeholder}", path.display());
                }
            }
            let manifest = &files("acme-gas", role)[0].1;
            assert!(manifest.contains(&format!("roles = [\"{}\"]", role.as_str())), "{manifest}");
            assert_eq!(manifest.contains("postgres = true"), role == NewRole::Sink, "{manifest}");
        }
    }
}

//! `plugin.toml`: what a plugin is, which contract version it speaks, and
//! the file that holds it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use meterhub_plugin_api::{API_OLDEST_MINOR, API_VERSION, API_VERSION_TEXT, Role, api_supported};
use serde::Deserialize;
use toml::Spanned;

use meterhub_storage::diagnostic::{Diagnostic, Pos};

/// How a plugin is built and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// A WebAssembly component, sandboxed by wasmtime.
    Wasm,
    /// A native library with the abi_stable root module.
    Native,
}

impl PluginKind {
    /// The name used in `plugin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Wasm => "wasm",
            PluginKind::Native => "native",
        }
    }
}

/// What a plugin may reach beyond the contract: nothing unless declared.
/// The host owns every socket and file, so network and filesystem access
/// are never granted; drivers get their I/O through host transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The host's wall and monotonic clocks (`wasi:clocks`). Drivers get
    /// `now_ms` with every event and codecs the frame's receive time, so few
    /// plugins need this.
    pub clocks: bool,
    /// A PostgreSQL connection the host owns (a sink): the host connects to
    /// the database its `[sinks.<id>]` names and runs the statements the
    /// sink makes; the plugin itself never gets a socket.
    pub postgres: bool,
    /// HTTP requests the host makes for a driver to the upstream API its
    /// `[drivers.<id>.fetch]` names (a fetch session); the plugin itself
    /// never gets a socket or the API's secret.
    pub fetch: bool,
}

/// Capability names a manifest may declare.
pub const KNOWN_CAPABILITIES: &[&str] = &["clocks", "postgres", "fetch"];

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Plugin id, equal to its folder name.
    pub id: String,
    /// The plugin's version.
    pub version: String,
    /// Contract version, `(major, minor)`.
    pub api: (u16, u16),
    /// Roles it plays.
    pub roles: Vec<Role>,
    /// Runtime kind.
    pub kind: PluginKind,
    /// The component or library, absolute.
    pub file: PathBuf,
    /// One line for operators.
    pub description: String,
    /// Declared capabilities.
    pub capabilities: Capabilities,
    /// The file's SHA-256 (lowercase hex) when the manifest states it: the
    /// file is loaded only when it matches, so a copy in progress is never
    /// taken for a plugin.
    pub sha256: Option<String>,
    /// Where `sha256` is written, for refusals.
    pub sha256_pos: Option<Pos>,
    /// The commands a driver takes for its devices (`[commands]`: name to
    /// a line for operators); the API queues no other.
    pub commands: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    /// Plugin id.
    id: Spanned<String>,
    /// Plugin version.
    version: Spanned<String>,
    /// Contract version `major.minor`.
    api: Spanned<String>,
    /// Roles.
    roles: Spanned<Vec<String>>,
    /// `wasm` or `native`.
    kind: Spanned<String>,
    /// File name, relative to the manifest.
    file: Spanned<String>,
    /// One line for operators.
    #[serde(default)]
    description: String,
    /// Capabilities the plugin needs; contract 1.0 defines none.
    #[serde(default)]
    capabilities: Option<Spanned<toml::Table>>,
    /// SHA-256 of the file, lowercase hex.
    #[serde(default)]
    sha256: Option<Spanned<String>>,
    /// Commands a driver takes: name to description.
    #[serde(default)]
    commands: Option<Spanned<BTreeMap<String, String>>>,
}

/// Read and validate the manifest at `path`. Errors name `path:line:col`.
pub fn load(path: &Path) -> Result<Manifest, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![Diagnostic::new(path, Pos { line: 1, col: 1 }, format!("cannot read: {e}"))])?;
    parse(path, &text)
}

/// Validate `text`, the content of the manifest at `path`.
pub fn parse(path: &Path, text: &str) -> Result<Manifest, Vec<Diagnostic>> {
    let at = |offset: usize| Pos::of_offset(text, offset);
    let raw: RawManifest = toml::from_str(text).map_err(|e| {
        vec![Diagnostic::new(path, e.span().map_or(Pos { line: 1, col: 1 }, |s| at(s.start)), e.message().trim_end())]
    })?;
    let mut errors = Vec::new();
    let mut error =
        |span: std::ops::Range<usize>, message: String| errors.push(Diagnostic::new(path, at(span.start), message));

    let folder = path.parent().and_then(Path::file_name).and_then(|f| f.to_str()).unwrap_or("");
    if raw.id.get_ref() != folder {
        error(raw.id.span(), format!("id {:?} must equal the plugin's folder name {folder:?}", raw.id.get_ref()));
    }
    let api = parse_api(raw.api.get_ref());
    match api {
        None => error(raw.api.span(), format!("api {:?} is not a version like \"1.0\"", raw.api.get_ref())),
        Some((major, minor)) if !api_supported(major, minor) => error(
            raw.api.span(),
            format!(
                "api {major}.{minor} is not supported by this host (it speaks {API_VERSION_TEXT}; same major, minor {API_OLDEST_MINOR} to {}): rebuild the plugin",
                API_VERSION.1
            ),
        ),
        Some(_) => {}
    }
    let mut roles = Vec::new();
    for name in raw.roles.get_ref() {
        match Role::parse(name) {
            Some(r) if !roles.contains(&r) => roles.push(r),
            Some(_) => error(raw.roles.span(), format!("role {name:?} is listed twice")),
            None => error(raw.roles.span(), format!("role {name:?} is not one of \"driver\", \"codec\", \"sink\"")),
        }
    }
    if raw.roles.get_ref().is_empty() {
        error(raw.roles.span(), "roles must name at least one role".to_owned());
    }
    let kind = match raw.kind.get_ref().as_str() {
        "wasm" => Some(PluginKind::Wasm),
        "native" => Some(PluginKind::Native),
        other => {
            error(raw.kind.span(), format!("kind {other:?} is not one of \"wasm\", \"native\""));
            None
        }
    };
    let file_name = raw.file.get_ref();
    if file_name.is_empty() || file_name.contains('/') || file_name.contains('\\') {
        error(raw.file.span(), format!("file {file_name:?} must be a file name beside plugin.toml"));
    }
    let mut capabilities = Capabilities::default();
    if let Some(caps) = &raw.capabilities {
        for (name, value) in caps.get_ref() {
            match (name.as_str(), value.as_bool()) {
                ("clocks", Some(granted)) => capabilities.clocks = granted,
                ("postgres", Some(granted)) => capabilities.postgres = granted,
                ("fetch", Some(granted)) => capabilities.fetch = granted,
                ("clocks" | "postgres" | "fetch", None) => {
                    error(caps.span(), format!("capability {name:?} must be true or false, got {value}"))
                }
                _ => error(
                    caps.span(),
                    format!(
                        "capability {name:?} is not known to contract {API_VERSION_TEXT} (known: {}; network and files are never granted: the host owns all I/O)",
                        KNOWN_CAPABILITIES.join(", ")
                    ),
                ),
            }
        }
    }
    if let Some(commands) = &raw.commands {
        if !roles.contains(&Role::Driver) {
            error(commands.span(), "[commands] is for drivers; this plugin is no driver".to_owned());
        }
        for name in commands.get_ref().keys() {
            if !is_command_name(name) {
                error(
                    commands.span(),
                    format!(
                        "command {name:?} is not a name of 1 to 64 lowercase letters, digits and _, starting with a letter"
                    ),
                );
            }
        }
    }
    if let Some(sha) = &raw.sha256
        && !(sha.get_ref().len() == 64
            && sha.get_ref().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        error(sha.span(), format!("sha256 {:?} is not 64 lowercase hex digits", sha.get_ref()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let sha256_pos = raw.sha256.as_ref().map(|s| at(s.span().start));
    let (Some(api), Some(kind)) = (api, kind) else { unreachable!("errors were reported above") };
    Ok(Manifest {
        path: path.to_path_buf(),
        id: raw.id.into_inner(),
        version: raw.version.into_inner(),
        api,
        roles,
        kind,
        file: path.parent().unwrap_or(Path::new("")).join(file_name),
        description: raw.description,
        capabilities,
        sha256: raw.sha256.map(Spanned::into_inner),
        sha256_pos,
        commands: raw.commands.map(Spanned::into_inner).unwrap_or_default(),
    })
}

/// Whether `name` may name a command: `[a-z][a-z0-9_]{0,63}`.
pub fn is_command_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn parse_api(text: &str) -> Option<(u16, u16)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id = \"listener\"\nversion = \"0.1.0\"\napi = \"1.4\"\nroles = [\"driver\", \"codec\"]\nkind = \"wasm\"\nfile = \"listener.wasm\"\n[capabilities]\n";

    fn path() -> PathBuf {
        PathBuf::from("/p/listener/plugin.toml")
    }

    #[test]
    fn a_good_manifest_loads() {
        let m = parse(&path(), GOOD).expect("valid");
        assert_eq!(m.roles, vec![Role::Driver, Role::Codec]);
        assert_eq!(m.file, Path::new("/p/listener/listener.wasm"));
        assert_eq!(m.api, (1, 4));
        assert!(m.commands.is_empty());
    }

    #[test]
    fn a_driver_declares_the_commands_it_takes() {
        let text = format!("{GOOD}[commands]\nset_clock = \"Set the clock\"\nset_push_period = \"Push every N min\"\n");
        let m = parse(&path(), &text).expect("valid");
        assert_eq!(m.commands.keys().collect::<Vec<_>>(), ["set_clock", "set_push_period"]);
        assert_eq!(m.commands["set_clock"], "Set the clock");
        let bad = parse(&path(), &text.replace("set_clock =", "\"Set Clock\" =")).unwrap_err();
        assert!(bad[0].to_string().contains("command \"Set Clock\" is not a name of 1 to 64 lowercase"), "{bad:?}");
        let codec = text.replace("[\"driver\", \"codec\"]", "[\"codec\"]");
        let refused = parse(&path(), &codec).unwrap_err();
        assert!(refused[0].to_string().ends_with("[commands] is for drivers; this plugin is no driver"), "{refused:?}");
        assert!(!is_command_name("") && !is_command_name("_x") && !is_command_name(&"a".repeat(65)));
    }

    #[test]
    fn a_sink_declares_the_postgres_connection_it_needs() {
        let sink = GOOD
            .replace("[\"driver\", \"codec\"]", "[\"sink\"]")
            .replace("[capabilities]\n", "[capabilities]\npostgres = true\n");
        let m = parse(&path(), &sink).expect("valid");
        assert!(m.capabilities.postgres && !m.capabilities.clocks);
        assert!(!parse(&path(), GOOD).expect("valid").capabilities.postgres);
        let e = parse(&path(), &sink.replace("postgres = true", "postgres = \"yes\"")).unwrap_err();
        assert!(format!("{e:?}").contains("capability \\\"postgres\\\" must be true or false"), "{e:?}");
    }

    #[test]
    fn refusals_name_the_place() {
        let cases = [
            (GOOD.replace("api = \"1.4\"", "api = \"2.0\""), "3:7: api 2.0 is not supported"),
            (GOOD.replace("api = \"1.4\"", "api = \"1.9\""), "3:7: api 1.9 is not supported"),
            (GOOD.replace("api = \"1.4\"", "api = \"1.2\""), "3:7: api 1.2 is not supported"),
            (GOOD.replace("id = \"listener\"", "id = \"other\""), "1:6: id \"other\" must equal"),
            (GOOD.replace("\"codec\"", "\"decoder\""), "4:9: role \"decoder\" is not one of"),
            (GOOD.replace("kind = \"wasm\"", "kind = \"elf\""), "5:8: kind \"elf\""),
            (
                GOOD.replace("[capabilities]\n", "[capabilities]\nnetwork = true\n"),
                "7:1: capability \"network\" is not known",
            ),
            (
                GOOD.replace("[capabilities]\n", "[capabilities]\nclocks = 1\n"),
                "7:1: capability \"clocks\" must be true or false",
            ),
            (GOOD.replace("version", "versoin"), "2:1: unknown field `versoin`"),
            (GOOD.replace("[capabilities]\n", "sha256 = \"ABC\"\n"), "7:10: sha256 \"ABC\" is not 64 lowercase hex"),
        ];
        for (text, want) in cases {
            let errors = parse(&path(), &text).expect_err(want);
            let got = errors[0].to_string();
            assert!(got.starts_with(&format!("/p/listener/plugin.toml:{want}")), "want {want}, got {got}");
        }
    }
}

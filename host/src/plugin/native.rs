//! Native plugin libraries through abi_stable: the library's root module is
//! checked for layout and version compatibility before any call.
//!
//! A native plugin runs in a child process by default: `meterhub
//! plugin-runner <library>` ([`super::runner`]) loads it and serves the
//! host's calls over a socket ([`super::process`]), each under the call time
//! limit. A segfault, abort, `exit()` or runaway loop in the library ends or
//! is killed with the child; the call fails with the cause and the next one
//! gets a fresh runner. The host does not load an untrusted library even to
//! read its identity: [`NativePlugin::load`] asks a runner.
//!
//! Only a plugin the operator lists in `trusted_plugins` is loaded into the
//! host process ([`Isolation::InProcess`], no per-call overhead): a crash in it
//! takes the host down. Panics are caught at the ABI boundary by the
//! plugin-api glue either way. A library loaded in process is never unloaded
//! (abi_stable leaks it on purpose).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use abi_stable::library::lib_header_from_path;
use abi_stable::std_types::RStr;
use meterhub_plugin_api::native::{FfiPluginBox, PluginModRef};
use meterhub_plugin_api::{
    API_VERSION, Action, DecodeError, Decoded, Event, Migration, PluginInfo, RawFrame, SinkRecord, SqlBatch,
};

use super::instance::{PluginFault, PluginInstance};
use super::process::{self, ProcessInstance, RunnerCommand};

/// Where the instances of a native plugin run. WASM plugins ignore it: they
/// are sandboxed by wasmtime in the host process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// In a child process each (`meterhub plugin-runner`); a call that takes
    /// longer than `call_timeout_ms` kills it.
    Process {
        /// Time limit of one call, milliseconds.
        call_timeout_ms: u32,
    },
    /// Inside the host process: for plugins the operator trusts.
    InProcess,
}

impl Isolation {
    /// The isolation the configuration gives plugin `id`: in process when it
    /// is listed in `trusted_plugins`, in a child process otherwise, with the
    /// same call time limit as WASM calls.
    pub fn of(config: &crate::config::Config, id: &str) -> Isolation {
        if config.trusted_plugins.contains(id) {
            Isolation::InProcess
        } else {
            Isolation::Process { call_timeout_ms: config.wasm_call_timeout_ms }
        }
    }
}

/// A native plugin the catalog accepted: its library file and what a runner
/// said of it. Instances run as [`Isolation`] says.
pub struct NativePlugin {
    file: PathBuf,
    info: PluginInfo,
    runner: RunnerCommand,
    /// The library loaded into the host, once a trusted instance needs it.
    in_process: OnceLock<Result<NativeLibrary, String>>,
}

impl NativePlugin {
    /// Check the library at `path` in a runner (this binary, see
    /// [`RunnerCommand::current`]): ABI layout and contract version.
    pub fn load(path: &Path) -> Result<NativePlugin, String> {
        NativePlugin::load_with(path, RunnerCommand::current())
    }

    /// [`NativePlugin::load`] with the runner `runner`.
    pub fn load_with(path: &Path, runner: RunnerCommand) -> Result<NativePlugin, String> {
        let file = std::path::absolute(path).map_err(|e| format!("cannot resolve the path: {e}"))?;
        let info = process::probe(&runner, &file)?;
        Ok(NativePlugin { file, info, runner, in_process: OnceLock::new() })
    }

    /// Identity and roles as the library reports them.
    pub fn info(&self) -> PluginInfo {
        self.info.clone()
    }

    /// A configured instance, isolated as `isolation` says.
    pub fn instantiate(&self, settings_json: &str, isolation: Isolation) -> Result<Box<dyn PluginInstance>, String> {
        match isolation {
            Isolation::Process { call_timeout_ms } => Ok(Box::new(ProcessInstance::start(
                &self.runner,
                &self.info,
                &self.file,
                settings_json,
                call_timeout_ms,
            )?)),
            Isolation::InProcess => {
                let library = self.in_process.get_or_init(|| {
                    tracing::warn!(
                        plugin = %self.info.id,
                        file = %self.file.display(),
                        "trusted native plugin loaded into the host process: a crash in it stops the host"
                    );
                    NativeLibrary::load(&self.file)
                });
                match library {
                    Ok(library) => Ok(Box::new(library.instantiate(settings_json)?)),
                    Err(e) => Err(e.clone()),
                }
            }
        }
    }
}

/// A native library loaded into this process (a runner, or the host for a
/// trusted plugin).
pub struct NativeLibrary {
    module: PluginModRef,
}

impl NativeLibrary {
    /// Load the library at `path`, checking its ABI layout and contract version.
    pub fn load(path: &std::path::Path) -> Result<NativeLibrary, String> {
        let header = lib_header_from_path(path).map_err(|e| format!("not a meterhub native plugin: {e}"))?;
        let module = header
            .init_root_module::<PluginModRef>()
            .map_err(|e| format!("incompatible native ABI (layout check failed): {e}"))?;
        let api = module.api_version()();
        let supported = api
            .split_once('.')
            .and_then(|(major, minor)| Some((major.parse::<u16>().ok()?, minor.parse::<u16>().ok()?)))
            .is_some_and(|(major, minor)| meterhub_plugin_api::api_supported(major, minor));
        if !supported {
            return Err(format!("built for contract {api}, this host speaks {}.{}", API_VERSION.0, API_VERSION.1));
        }
        Ok(NativeLibrary { module })
    }

    /// Identity and roles as the library reports them.
    pub fn info(&self) -> PluginInfo {
        self.module.info()().into()
    }

    /// A configured instance.
    pub fn instantiate(&self, settings_json: &str) -> Result<NativeInstance, String> {
        match self.module.init()(RStr::from_str(settings_json)) {
            abi_stable::std_types::RResult::ROk(inner) => Ok(NativeInstance { inner }),
            abi_stable::std_types::RResult::RErr(e) => Err(format!("settings refused: {e}")),
        }
    }
}

/// One configured native instance in this process.
pub struct NativeInstance {
    inner: FfiPluginBox,
}

impl PluginInstance for NativeInstance {
    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Result<Vec<Action>, PluginFault> {
        Ok(self.inner.handle(session, now_ms, event.into()).into_iter().map(Into::into).collect())
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
        match self.inner.decode(frame.clone().into()) {
            abi_stable::std_types::RResult::ROk(d) => Ok(Decoded::try_from(d).map_err(DecodeError::new)),
            abi_stable::std_types::RResult::RErr(reason) => Ok(Err(DecodeError::new(reason.into_string()))),
        }
    }

    fn migrations(&mut self) -> Result<Result<Vec<Migration>, String>, PluginFault> {
        from_json(self.inner.migrations(), "migrations")
    }

    fn write(&mut self, batch: &[SinkRecord]) -> Result<Result<SqlBatch, String>, PluginFault> {
        let json = serde_json::to_string(batch).map_err(|e| fault(format!("cannot encode the batch: {e}")))?;
        from_json(self.inner.write(RStr::from_str(&json)), "write")
    }
}

fn fault(message: String) -> PluginFault {
    PluginFault { plugin: "native sink".to_owned(), message }
}

/// A sink's JSON answer through the native ABI, decoded.
fn from_json<T: serde::de::DeserializeOwned>(
    answer: abi_stable::std_types::RResult<abi_stable::std_types::RString, abi_stable::std_types::RString>,
    call: &str,
) -> Result<Result<T, String>, PluginFault> {
    match answer {
        abi_stable::std_types::RResult::ROk(json) => serde_json::from_str(&json)
            .map(Ok)
            .map_err(|e| fault(format!("{call} answered what the contract does not allow: {e}"))),
        abi_stable::std_types::RResult::RErr(reason) => Ok(Err(reason.into_string())),
    }
}

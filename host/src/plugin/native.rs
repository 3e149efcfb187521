//! Native plugin libraries through abi_stable: the library's root module is
//! checked for layout and version compatibility before any call. A native
//! library is never unloaded (abi_stable leaks it on purpose); replacing
//! one needs a restart of the host.
//!
//! Native plugins run inside the host process here: a crash in one takes the
//! host down. Panics are caught at the ABI boundary by the plugin-api glue.

use abi_stable::library::lib_header_from_path;
use abi_stable::std_types::RStr;
use meterhub_plugin_api::native::{FfiPluginBox, PluginModRef};
use meterhub_plugin_api::{API_VERSION, Action, DecodeError, Decoded, Event, PluginInfo, RawFrame};

use super::instance::{PluginFault, PluginInstance};

/// A loaded native library.
pub struct NativePlugin {
    module: PluginModRef,
}

impl NativePlugin {
    /// Load the library at `path`, checking its ABI layout and contract version.
    pub fn load(path: &std::path::Path) -> Result<NativePlugin, String> {
        let header = lib_header_from_path(path).map_err(|e| format!("not a meterhub native plugin: {e}"))?;
        let module = header
            .init_root_module::<PluginModRef>()
            .map_err(|e| format!("incompatible native ABI (layout check failed): {e}"))?;
        let api = module.api_version()();
        let supported = api
            .split_once('.')
            .and_then(|(major, minor)| Some((major.parse::<u16>().ok()?, minor.parse::<u16>().ok()?)))
            .is_some_and(|(major, minor)| major == API_VERSION.0 && minor <= API_VERSION.1);
        if !supported {
            return Err(format!("built for contract {api}, this host speaks {}.{}", API_VERSION.0, API_VERSION.1));
        }
        Ok(NativePlugin { module })
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

/// One configured native instance.
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
}

//! A native plugin library that says it was built against contract 0.9.
//!
//! Its root module has the current layout (so abi_stable's layout check passes
//! and the host gets as far as the contract version), but its `api_version`
//! answers `0.9`: what a library built against an older plugin-api with the
//! same layout would report. The host must refuse it at load, naming the
//! version, and never call it.

use meterhub_plugin_api::{DecodeError, Decoded, Plugin, RawFrame};

/// A codec that would decode nothing; it is never instantiated.
pub struct OldApi;

impl Plugin for OldApi {
    fn init(_settings_json: &str) -> Result<Self, String> {
        Ok(OldApi)
    }

    fn decode(&mut self, _frame: &RawFrame) -> Result<Decoded, DecodeError> {
        Err(DecodeError::new("oldapi decodes nothing"))
    }
}

// The identity `export_plugin!` would give it (from plugin.toml and the
// crate's version); the export is by hand below.
meterhub_plugin_api::__plugin_identity!(OldApi);

/// The root module, by hand instead of `export_plugin!`: the current one,
/// but claiming contract 0.9.
#[cfg(not(target_family = "wasm"))]
#[doc(hidden)]
pub mod native_root {
    use meterhub_plugin_api::native::abi_stable::prefix_type::PrefixTypeTrait;
    use meterhub_plugin_api::native::abi_stable::std_types::RString;
    use meterhub_plugin_api::native::{PluginMod, PluginModRef, RootModuleSource, root_module};

    /// The contract version this library claims.
    pub const API_VERSION_TEXT: &str = "0.9";

    extern "C" fn api_version() -> RString {
        API_VERSION_TEXT.into()
    }

    /// The exported root module: [`root_module`] of [`super::OldApi`] with
    /// its `api_version` answering [`API_VERSION_TEXT`].
    pub struct ClaimsOldApi;

    impl RootModuleSource for ClaimsOldApi {
        fn root_module() -> PluginModRef {
            let current = root_module::<super::OldApi>();
            PluginMod { api_version, info: current.info(), init: current.init() }.leak_into_prefix()
        }
    }

    meterhub_plugin_api::__export_native_root!(ClaimsOldApi);
}

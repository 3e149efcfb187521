//! placeholder
use meterhub_plugin_api::{Plugin, PluginInfo, Role};
/// x
pub struct L;
impl Plugin for L {
    fn info() -> PluginInfo { PluginInfo { id: "listener".into(), version: "0.1.0".into(), roles: vec![Role::Driver] } }
    fn init(_s: &str) -> Result<Self, String> { Ok(L) }
}
meterhub_plugin_api::export_plugin!(L);

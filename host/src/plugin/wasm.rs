//! WASM components on wasmtime: one shared engine, one store per instance,
//! a memory cap and a time limit per call (epoch interruption). A trapped
//! instance is thrown away; the next call gets a fresh one.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, Migration, RawFrame, SinkRecord, SqlBatch};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::instance::{PluginFault, PluginInstance};
use super::manifest::{Capabilities, KNOWN_CAPABILITIES};
use super::wasm_convert as convert;

/// Host bindings of `plugin-api/wit/plugin.wit`, generated once.
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../plugin-api/wit",
    });
}

/// How often the epoch advances; the granularity of call time limits.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Sandbox limits of every instance.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Linear memory cap, bytes.
    pub memory_bytes: usize,
    /// Time limit of one call.
    pub call_timeout_ms: u32,
}

/// The process-wide engine, with its epoch ticker thread.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).expect("the wasmtime configuration is static and valid");
        let ticker = engine.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(EPOCH_TICK);
                    ticker.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        engine
    })
}

/// Why an import is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denial {
    /// Files, sockets, HTTP, unknown interfaces: never granted.
    Never,
    /// Needs this capability in `plugin.toml`.
    Undeclared(&'static str),
}

/// Whether a component may import `import` with `capabilities`. The WASI
/// interfaces Rust's standard library always imports are linked but grant
/// nothing (no environment variables, no stdin, stdout discarded); clocks
/// need the `clocks` capability; files, sockets and HTTP are never granted.
fn check_import(import: &str, capabilities: Capabilities) -> Result<(), Denial> {
    let interface = import.split('@').next().unwrap_or(import);
    let baseline = matches!(
        interface,
        "wasi:cli/environment" | "wasi:cli/exit" | "wasi:cli/stdin" | "wasi:cli/stdout" | "wasi:cli/stderr"
    ) || interface.starts_with("wasi:cli/terminal-")
        || interface.starts_with("wasi:io/")
        || interface.starts_with("wasi:random/")
        || interface.starts_with("meterhub:plugin/");
    if baseline || (interface.starts_with("wasi:clocks/") && capabilities.clocks) {
        Ok(())
    } else if interface.starts_with("wasi:clocks/") {
        Err(Denial::Undeclared("clocks"))
    } else {
        Err(Denial::Never)
    }
}

/// Every import of `imports` the capabilities do not allow, in one sentence
/// that names them; `Ok` when there are none.
fn check_imports<'a>(imports: impl Iterator<Item = &'a str>, capabilities: Capabilities) -> Result<(), String> {
    let mut never = Vec::new();
    let mut undeclared: Vec<(&str, &str)> = Vec::new();
    for import in imports {
        match check_import(import, capabilities) {
            Ok(()) => {}
            Err(Denial::Never) => never.push(import),
            Err(Denial::Undeclared(capability)) => undeclared.push((capability, import)),
        }
    }
    let mut problems = Vec::new();
    if !never.is_empty() {
        problems.push(format!(
            "imports what this host never grants to plugins: {} (the host owns every socket and file; drivers get I/O through host transports)",
            never.join(", ")
        ));
    }
    for capability in KNOWN_CAPABILITIES {
        let names: Vec<&str> = undeclared.iter().filter(|(c, _)| c == capability).map(|(_, i)| *i).collect();
        if !names.is_empty() {
            problems.push(format!(
                "imports without declaring capability {capability:?} in plugin.toml: {}",
                names.join(", ")
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// Per-store state: WASI with nothing granted, and the limits.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A compiled component, ready to instantiate.
pub struct WasmPlugin {
    id: String,
    pre: bindings::PluginPre<State>,
    limits: Limits,
}

impl WasmPlugin {
    /// Compile `bytes` (the component file, whose SHA-256 is `sha256`) and
    /// link it. The error says why in terms an operator can act on.
    pub fn compile(
        id: &str,
        bytes: &[u8],
        sha256: &str,
        limits: Limits,
        capabilities: Capabilities,
    ) -> Result<WasmPlugin, String> {
        if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
            return Err("not a WebAssembly file (bad magic; truncated or not a .wasm?)".into());
        }
        if bytes[4..8] == [1, 0, 0, 0] {
            return Err("a core WebAssembly module, not a component: build the plugin for wasm32-wasip2".into());
        }
        let engine = engine();
        let component =
            super::compiled::component(engine, bytes, sha256).map_err(|e| format!("invalid component: {e:#}"))?;
        check_imports(component.component_type().imports(engine).map(|(name, _)| name), capabilities)?;
        let mut linker: Linker<State> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("linking WASI: {e:#}"))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| format!("cannot link: {e:#}"))?;
        let pre = bindings::PluginPre::new(pre)
            .map_err(|e| format!("does not export the meterhub:plugin@1.4.0 world: {e:#}"))?;
        Ok(WasmPlugin { id: id.to_owned(), pre, limits })
    }

    fn store(&self) -> Store<State> {
        // Deny by default: no preopened directories, no environment, no
        // arguments, no sockets. Only stderr is passed through, so that a
        // plugin's panic message reaches the host's log.
        let wasi = WasiCtxBuilder::new().inherit_stderr().build();
        let limits = StoreLimitsBuilder::new().memory_size(self.limits.memory_bytes).instances(4).build();
        let mut store = Store::new(engine(), State { wasi, table: ResourceTable::new(), limits });
        store.limiter(|s| &mut s.limits);
        store
    }

    fn fault(&self, message: impl std::fmt::Display) -> PluginFault {
        PluginFault { plugin: self.id.clone(), message: message.to_string() }
    }

    fn instantiate_raw(&self) -> Result<(Store<State>, bindings::Plugin), PluginFault> {
        let mut store = self.store();
        self.arm(&mut store);
        let plugin =
            self.pre.instantiate(&mut store).map_err(|e| self.fault(format!("instantiation failed: {e:#}")))?;
        Ok((store, plugin))
    }

    fn arm(&self, store: &mut Store<State>) {
        let ticks = u64::from(self.limits.call_timeout_ms).div_ceil(EPOCH_TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(ticks);
    }

    /// Identity and roles as the component reports them.
    pub fn info(&self) -> Result<meterhub_plugin_api::PluginInfo, PluginFault> {
        let (mut store, plugin) = self.instantiate_raw()?;
        let info =
            plugin.meterhub_plugin_lifecycle().call_info(&mut store).map_err(|e| self.fault(format!("{e:#}")))?;
        Ok(convert::info(info))
    }

    /// A configured instance.
    pub fn instantiate(self: &Arc<Self>, settings_json: &str) -> Result<WasmInstance, String> {
        let mut instance = WasmInstance { plugin: self.clone(), settings_json: settings_json.to_owned(), live: None };
        instance.live().map_err(|f| f.message)?;
        Ok(instance)
    }
}

/// One configured instance; re-created after a trap.
pub struct WasmInstance {
    plugin: Arc<WasmPlugin>,
    settings_json: String,
    live: Option<(Store<State>, bindings::Plugin)>,
}

impl WasmInstance {
    fn live(&mut self) -> Result<&mut (Store<State>, bindings::Plugin), PluginFault> {
        if self.live.is_none() {
            let (mut store, plugin) = self.plugin.instantiate_raw()?;
            self.plugin.arm(&mut store);
            match plugin.meterhub_plugin_lifecycle().call_init(&mut store, &self.settings_json) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.plugin.fault(format!("settings refused: {e}"))),
                Err(e) => return Err(self.plugin.fault(format!("init trapped: {e:#}"))),
            }
            self.live = Some((store, plugin));
        }
        Ok(self.live.as_mut().expect("just set"))
    }

    /// Run `f` on the live instance with the call time limit armed; a trap
    /// discards the instance.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<State>, &bindings::Plugin) -> wasmtime::Result<R>,
    ) -> Result<R, PluginFault> {
        let plugin = self.plugin.clone();
        let (store, instance) = self.live()?;
        plugin.arm(store);
        match f(store, instance) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.live = None;
                let message = match e.downcast_ref::<wasmtime::Trap>() {
                    Some(wasmtime::Trap::Interrupt) => {
                        format!(
                            "call exceeded its time limit of {} ms; instance discarded",
                            plugin.limits.call_timeout_ms
                        )
                    }
                    _ => format!("trapped: {e:#}; instance discarded"),
                };
                Err(plugin.fault(message))
            }
        }
    }
}

impl PluginInstance for WasmInstance {
    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Result<Vec<Action>, PluginFault> {
        let event = convert::event_to_wit(event);
        let actions = self.call(|store, p| p.meterhub_plugin_driver().call_handle(store, session, now_ms, &event))?;
        Ok(actions.into_iter().map(convert::action_from_wit).collect())
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
        let wit_frame = convert::frame_to_wit(frame);
        let result = self.call(|store, p| p.meterhub_plugin_codec().call_decode(store, &wit_frame))?;
        Ok(match result {
            Ok(decoded) => convert::decoded_from_wit(decoded).map_err(DecodeError::new),
            Err(e) => Err(DecodeError::new(e.reason)),
        })
    }

    fn migrations(&mut self) -> Result<Result<Vec<Migration>, String>, PluginFault> {
        let result = self.call(|store, p| p.meterhub_plugin_sink().call_migrations(store))?;
        Ok(result.map(|list| list.into_iter().map(convert::migration_from_wit).collect()))
    }

    fn write(&mut self, batch: &[SinkRecord]) -> Result<Result<SqlBatch, String>, PluginFault> {
        let wit_batch: Vec<_> = batch.iter().map(convert::sink_record_to_wit).collect();
        let result = self.call(|store, p| p.meterhub_plugin_sink().call_write(store, &wit_batch))?;
        Ok(result.map(convert::sql_batch_from_wit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_checked_against_capabilities() {
        let none = Capabilities::default();
        let clocks = Capabilities { clocks: true, ..Capabilities::default() };
        let baseline = ["wasi:cli/environment@0.2.6", "wasi:io/streams@0.2.0", "wasi:random/insecure-seed@0.2.4"];
        assert_eq!(check_imports(baseline.into_iter(), none), Ok(()));
        let clock = ["wasi:io/error@0.2.6", "wasi:clocks/wall-clock@0.2.6"];
        assert_eq!(
            check_imports(clock.into_iter(), none),
            Err("imports without declaring capability \"clocks\" in plugin.toml: wasi:clocks/wall-clock@0.2.6".into())
        );
        assert_eq!(check_imports(clock.into_iter(), clocks), Ok(()));
        let never = ["wasi:sockets/tcp@0.2.6", "wasi:filesystem/preopens@0.2.6", "acme:spy/all"];
        let refused = check_imports(never.into_iter(), clocks).unwrap_err();
        assert!(
            refused.starts_with(
                "imports what this host never grants to plugins: wasi:sockets/tcp@0.2.6, wasi:filesystem/preopens@0.2.6, acme:spy/all ("
            ),
            "{refused}"
        );
    }
}

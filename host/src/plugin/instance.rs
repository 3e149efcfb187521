//! One configured plugin instance, whatever its runtime.

use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, Migration, RawFrame, SinkRecord, SqlBatch};

/// A plugin call that failed in the plugin itself (trap, time limit,
/// memory cap, panic, broken ABI data), as opposed to a refusal it returned.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin {plugin}: {message}")]
pub struct PluginFault {
    /// Plugin id.
    pub plugin: String,
    /// What went wrong.
    pub message: String,
}

/// A configured plugin instance. Calls are made one at a time.
pub trait PluginInstance: Send {
    /// Driver role: handle one session event.
    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Result<Vec<Action>, PluginFault>;

    /// Codec role: decode one committed frame.
    fn decode(&mut self, frame: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault>;

    /// Sink role: the migrations of its schema, or its refusal. (Every
    /// runtime implements it; the default serves test doubles.)
    fn migrations(&mut self) -> Result<Result<Vec<Migration>, String>, PluginFault> {
        Ok(Err("this instance does not play the sink role".to_owned()))
    }

    /// Sink role: the statements writing `batch`, or its refusal of the
    /// whole batch.
    fn write(&mut self, batch: &[SinkRecord]) -> Result<Result<SqlBatch, String>, PluginFault> {
        let _ = batch;
        Ok(Err("this instance does not play the sink role".to_owned()))
    }

    /// The process the instance runs in, when it has one of its own (a
    /// native plugin's runner); `None` in the host process, or while its
    /// runner is down.
    fn pid(&self) -> Option<u32> {
        None
    }
}

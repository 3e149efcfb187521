//! A running driver instance: the plugin instance all its sessions share,
//! and the journal its frames are committed to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use meterhub_plugin_api::{Action, Event};

use crate::plugin::PluginInstance;
use meterhub_storage::journal::JournalHandle;

/// One driver instance of the configuration.
pub struct DriverRuntime {
    /// Instance id; the `source` of its frames.
    pub id: String,
    /// Plugin id.
    pub plugin: String,
    /// Where its frames are committed.
    pub journal: JournalHandle,
    /// Commands for its devices.
    pub commands: Arc<crate::commands::Commands>,
    /// Most uncommitted frames per session before the host stops reading it.
    pub max_pending: usize,
    instance: Mutex<Box<dyn PluginInstance>>,
    next_session: AtomicU64,
    draining: watch::Sender<bool>,
}

/// Where a transport finds the runtime for its next session. The host
/// replaces the runtime live (a new plugin version, new settings): sessions
/// already open finish on the old one, which drains and is dropped. The
/// sender's end being dropped tells the transport to stop.
pub type RuntimeSlot = watch::Receiver<Arc<DriverRuntime>>;

impl DriverRuntime {
    /// Wrap a configured plugin instance.
    pub fn new(
        id: &str,
        plugin: &str,
        instance: Box<dyn PluginInstance>,
        services: crate::lifecycle::host::DriverServices,
        max_pending: usize,
    ) -> Self {
        DriverRuntime {
            id: id.to_owned(),
            plugin: plugin.to_owned(),
            journal: services.journal,
            commands: services.commands,
            max_pending,
            instance: Mutex::new(instance),
            next_session: AtomicU64::new(1),
            draining: watch::Sender::new(false),
        }
    }

    /// Ask every session of this runtime to finish: stop reading, answer
    /// what was read once it is committed, then close.
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Whether [`drain`](Self::drain) was called.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Completes once the runtime is draining.
    pub fn drained(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.draining.subscribe();
        async move {
            let _ = rx.wait_for(|draining| *draining).await;
        }
    }

    /// A session id unique within this instance.
    pub fn new_session(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Hand `event` to the driver. A fault in the plugin closes the session
    /// (the instance itself is renewed by its runtime).
    pub fn call(&self, session: u64, event: Event) -> Vec<Action> {
        let now = meterhub_storage::clock::now_ms();
        let mut instance = self.instance.lock().unwrap_or_else(|e| e.into_inner());
        match instance.handle(session, now, event) {
            Ok(actions) => actions,
            Err(fault) => {
                tracing::error!(driver = %self.id, session, error = %fault, "driver call failed; closing the session");
                vec![Action::Close(fault.to_string())]
            }
        }
    }
}

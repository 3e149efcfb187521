//! Supervision of a plugin instance, whatever its runtime: a failed call
//! (trap, time limit, memory cap) puts the instance in backoff, during which
//! calls fail fast; after `max_failures` failures within `window` the
//! instance is quarantined and every call fails fast with the reason. What a
//! failed codec call was decoding is quarantined by the pipeline, never lost.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, RawFrame};

use super::instance::{PluginFault, PluginInstance};
pub use crate::config::SupervisionPolicy;

/// What an instance is doing, as `meterhub status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceState {
    /// Serving calls.
    Running,
    /// Failed; calls fail fast until the backoff delay has passed.
    Backoff,
    /// Failed too often; every call fails fast.
    Quarantined,
    /// Stopped by the operator; every call fails fast.
    Stopped,
}

/// What an operator asked of an instance (`meterhub restart|stop|start`);
/// carried out at the instance's next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRequest {
    /// A fresh instance, failures and quarantine forgotten.
    Restart,
    /// Calls fail fast until `Start`.
    Stop,
    /// Undo `Stop`.
    Start,
}

impl InstanceState {
    /// The name shown by `meterhub status` and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Running => "RUNNING",
            InstanceState::Backoff => "BACKOFF",
            InstanceState::Quarantined => "QUARANTINED",
            InstanceState::Stopped => "STOPPED",
        }
    }
}

/// The live status of one supervised instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// Current state.
    pub state: InstanceState,
    /// When the instance was configured, ms since the epoch.
    pub started_at_ms: i64,
    /// Calls that reached the plugin.
    pub calls: u64,
    /// Calls that failed in the plugin (each renews a WASM instance).
    pub failures: u64,
    /// The last failure.
    pub last_error: Option<String>,
    /// An operator request not yet carried out.
    pub pending: Option<OperatorRequest>,
    /// The process of the instance, when it has its own (a native plugin's
    /// runner); `None` in the host process or while the runner is down.
    pub pid: Option<u32>,
}

impl InstanceStatus {
    /// A status in `state`, configured now, with no calls yet.
    pub fn new(state: InstanceState) -> Self {
        InstanceStatus {
            state,
            started_at_ms: meterhub_storage::clock::now_ms(),
            calls: 0,
            failures: 0,
            last_error: None,
            pending: None,
            pid: None,
        }
    }
}

/// Shared view of an instance's status.
pub type StatusCell = Arc<Mutex<InstanceStatus>>;

/// A supervised instance as the status report lists it.
#[derive(Debug, Clone)]
pub struct InstanceEntry {
    /// `<driver instance>/<role>`, e.g. `devices-tcp/codec`.
    pub name: String,
    /// `driver` or `codec`.
    pub role: &'static str,
    /// Plugin id.
    pub plugin: String,
    /// Live status.
    pub status: StatusCell,
}

impl InstanceEntry {
    /// The entry of `instance`, playing `role` for driver instance `driver`.
    pub fn of(driver: &str, role: &'static str, instance: &Supervised) -> Self {
        InstanceEntry {
            name: format!("{driver}/{role}"),
            role,
            plugin: instance.plugin.clone(),
            status: instance.status(),
        }
    }

    /// The entry of an instance that does not run, for `reason` (its plugin
    /// is missing or refused its settings).
    pub fn unavailable(driver: &str, role: &'static str, plugin: &str, reason: String) -> Self {
        let mut status = InstanceStatus::new(InstanceState::Stopped);
        status.last_error = Some(reason);
        InstanceEntry {
            name: format!("{driver}/{role}"),
            role,
            plugin: plugin.to_owned(),
            status: Arc::new(Mutex::new(status)),
        }
    }

    /// A copy of the current status.
    pub fn snapshot(&self) -> InstanceStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Ask for `request`; it is carried out at the instance's next call.
    pub fn request(&self, request: OperatorRequest) {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).pending = Some(request);
    }
}

/// Makes a fresh configured instance of a plugin.
pub type Factory = Box<dyn Fn() -> Result<Box<dyn PluginInstance>, String> + Send>;

/// A plugin instance under supervision.
pub struct Supervised {
    plugin: String,
    factory: Factory,
    stopped: bool,
    inner: Box<dyn PluginInstance>,
    policy: SupervisionPolicy,
    failures: VecDeque<Instant>,
    consecutive: u32,
    retry_at: Option<Instant>,
    quarantined: Option<String>,
    status: StatusCell,
}

impl Supervised {
    /// Supervise an instance of plugin `plugin` made by `factory` (which
    /// also makes the fresh instance of an operator's restart).
    pub fn new(plugin: &str, factory: Factory, policy: SupervisionPolicy) -> Result<Self, String> {
        let inner = factory()?;
        let pid = inner.pid();
        Ok(Supervised {
            plugin: plugin.to_owned(),
            factory,
            stopped: false,
            inner,
            policy,
            failures: VecDeque::new(),
            consecutive: 0,
            retry_at: None,
            quarantined: None,
            status: Arc::new(Mutex::new(InstanceStatus { pid, ..InstanceStatus::new(InstanceState::Running) })),
        })
    }

    /// Carry out an operator's pending request, if any.
    fn serve_request(&mut self) {
        let pending = self.status.lock().unwrap_or_else(|e| e.into_inner()).pending.take();
        match pending {
            None => {}
            Some(OperatorRequest::Stop) => {
                self.stopped = true;
                self.record(|s| s.state = InstanceState::Stopped);
                tracing::info!(plugin = %self.plugin, "plugin instance stopped by the operator");
            }
            Some(OperatorRequest::Start) => {
                self.stopped = false;
                let state =
                    if self.quarantined.is_some() { InstanceState::Quarantined } else { InstanceState::Running };
                self.record(|s| s.state = state);
                tracing::info!(plugin = %self.plugin, "plugin instance started by the operator");
            }
            Some(OperatorRequest::Restart) => match (self.factory)() {
                Ok(fresh) => {
                    self.inner = fresh;
                    self.stopped = false;
                    self.quarantined = None;
                    self.retry_at = None;
                    self.consecutive = 0;
                    self.failures.clear();
                    let pid = self.inner.pid();
                    self.record(|s| {
                        s.state = InstanceState::Running;
                        s.started_at_ms = meterhub_storage::clock::now_ms();
                        s.pid = pid;
                    });
                    tracing::info!(plugin = %self.plugin, "plugin instance restarted by the operator");
                }
                Err(e) => {
                    let reason = format!("restart failed: {e}");
                    tracing::error!(plugin = %self.plugin, %reason, "plugin instance not restarted");
                    self.record(|s| {
                        s.state = InstanceState::Quarantined;
                        s.last_error = Some(reason.clone());
                    });
                    self.quarantined = Some(reason);
                }
            },
        }
    }

    /// The live status of this instance.
    pub fn status(&self) -> StatusCell {
        self.status.clone()
    }

    fn record(&self, f: impl FnOnce(&mut InstanceStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn fault(&self, message: String) -> PluginFault {
        PluginFault { plugin: self.plugin.clone(), message }
    }

    /// Make one call at `now`, applying the policy.
    fn call<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut dyn PluginInstance) -> Result<R, PluginFault>,
    ) -> Result<R, PluginFault> {
        self.serve_request();
        if self.stopped {
            return Err(self.fault("stopped by the operator".to_owned()));
        }
        if let Some(reason) = &self.quarantined {
            return Err(self.fault(format!("quarantined: {reason}")));
        }
        if let Some(at) = self.retry_at
            && now < at
        {
            let wait = at - now;
            return Err(self.fault(format!("restarting after a failure; next attempt in {} ms", wait.as_millis())));
        }
        let result = f(self.inner.as_mut());
        // A call may renew the instance's process (after a crash) or end it.
        let pid = self.inner.pid();
        self.record(|s| {
            s.calls += 1;
            s.pid = pid;
        });
        match result {
            Ok(r) => {
                if self.consecutive > 0 {
                    self.record(|s| s.state = InstanceState::Running);
                }
                self.consecutive = 0;
                self.retry_at = None;
                Ok(r)
            }
            Err(fault) => {
                self.record(|s| {
                    s.failures += 1;
                    s.last_error = Some(fault.message.clone());
                    s.state = InstanceState::Backoff;
                });
                self.failures.push_back(now);
                while self.failures.front().is_some_and(|t| now.duration_since(*t) > self.policy.window) {
                    self.failures.pop_front();
                }
                self.consecutive += 1;
                if self.failures.len() >= self.policy.max_failures as usize {
                    let reason = format!(
                        "{} failures within {} s, the last: {}",
                        self.failures.len(),
                        self.policy.window.as_secs(),
                        fault.message
                    );
                    tracing::error!(plugin = %self.plugin, %reason, "plugin instance quarantined");
                    self.record(|s| s.state = InstanceState::Quarantined);
                    self.quarantined = Some(reason);
                } else {
                    let delay = self.policy.backoff.delay(self.consecutive);
                    tracing::warn!(
                        plugin = %self.plugin,
                        error = %fault.message,
                        failures = self.failures.len(),
                        backoff_ms = delay.as_millis() as u64,
                        "plugin call failed; backing off"
                    );
                    self.retry_at = Some(now + delay);
                }
                Err(fault)
            }
        }
    }
}

impl PluginInstance for Supervised {
    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Result<Vec<Action>, PluginFault> {
        self.call(Instant::now(), |i| i.handle(session, now_ms, event))
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
        self.call(Instant::now(), |i| i.decode(frame))
    }

    fn migrations(&mut self) -> Result<Result<Vec<meterhub_plugin_api::Migration>, String>, PluginFault> {
        self.call(Instant::now(), |i| i.migrations())
    }

    fn write(
        &mut self,
        batch: &[meterhub_plugin_api::SinkRecord],
    ) -> Result<Result<meterhub_plugin_api::SqlBatch, String>, PluginFault> {
        self.call(Instant::now(), |i| i.write(batch))
    }

    fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::backoff::Backoff;

    /// Fails while `failing` is set.
    struct Flaky {
        failing: bool,
        calls: u32,
    }

    impl PluginInstance for Flaky {
        fn handle(&mut self, _: u64, _: i64, _: Event) -> Result<Vec<Action>, PluginFault> {
            Ok(Vec::new())
        }

        fn decode(&mut self, _: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
            self.calls += 1;
            if self.failing {
                Err(PluginFault { plugin: "flaky".into(), message: "trapped".into() })
            } else {
                Ok(Ok(Decoded::default()))
            }
        }
    }

    fn policy() -> SupervisionPolicy {
        SupervisionPolicy {
            backoff: Backoff { min: Duration::from_millis(100), max: Duration::from_secs(1) },
            max_failures: 3,
            window: Duration::from_secs(60),
        }
    }

    /// A supervised `Flaky`; every restart makes a working one.
    fn supervised(failing: bool) -> Supervised {
        let first = std::sync::atomic::AtomicBool::new(true);
        let factory: Factory = Box::new(move || {
            let fail = failing && first.swap(false, std::sync::atomic::Ordering::Relaxed);
            Ok(Box::new(Flaky { failing: fail, calls: 0 }) as Box<dyn PluginInstance>)
        });
        Supervised::new("flaky", factory, policy()).expect("instance")
    }

    fn decode(s: &mut Supervised, at: Instant) -> Result<(), String> {
        let frame = RawFrame {
            seq: 1,
            source: "s".into(),
            peer: "p".into(),
            received_at_ms: 0,
            transport: meterhub_plugin_api::Transport::Tcp,
            content_type: String::new(),
            meta: Vec::new(),
            payload: Vec::new(),
        };
        s.call(at, |i| i.decode(&frame)).map(drop).map_err(|f| f.message)
    }

    #[test]
    fn a_failure_backs_off_then_recovers() {
        let mut s = supervised(true);
        let t0 = Instant::now();
        assert_eq!(decode(&mut s, t0), Err("trapped".into()));
        assert_eq!(s.status().lock().unwrap().state, InstanceState::Backoff);
        let fast = decode(&mut s, t0 + Duration::from_millis(50)).unwrap_err();
        assert!(fast.starts_with("restarting after a failure"), "{fast}");
        s.inner = Box::new(Flaky { failing: false, calls: 0 });
        assert_eq!(decode(&mut s, t0 + Duration::from_millis(200)), Ok(()));
        assert_eq!(s.consecutive, 0);
        let status = s.status().lock().unwrap().clone();
        assert_eq!((status.state, status.calls, status.failures), (InstanceState::Running, 2, 1), "{status:?}");
        assert_eq!(status.last_error.as_deref(), Some("trapped"));
    }

    #[test]
    fn repeated_failures_within_the_window_quarantine_the_instance() {
        let mut s = supervised(true);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(decode(&mut s, t0 + Duration::from_secs(2 * i)), Err("trapped".into()));
        }
        let q = decode(&mut s, t0 + Duration::from_secs(10)).unwrap_err();
        assert!(q.starts_with("quarantined: 3 failures within 60 s, the last: trapped"), "{q}");
        let status = s.status().lock().unwrap().clone();
        assert_eq!(
            (status.state, status.calls),
            (InstanceState::Quarantined, 3),
            "quarantined calls never reach the plugin"
        );

        // The operator restarts it: a fresh instance serves the next call.
        InstanceEntry::of("d", "codec", &s).request(OperatorRequest::Restart);
        assert_eq!(decode(&mut s, t0 + Duration::from_secs(11)), Ok(()));
        assert_eq!(s.status().lock().unwrap().state, InstanceState::Running);
    }

    #[test]
    fn stop_and_start_by_the_operator() {
        let mut s = supervised(false);
        let entry = InstanceEntry::of("d", "codec", &s);
        let t0 = Instant::now();
        entry.request(OperatorRequest::Stop);
        assert_eq!(decode(&mut s, t0), Err("stopped by the operator".into()));
        assert_eq!(entry.snapshot().state, InstanceState::Stopped);
        entry.request(OperatorRequest::Start);
        assert_eq!(decode(&mut s, t0), Ok(()));
        assert_eq!(entry.snapshot().state, InstanceState::Running);
    }

    /// A process of its own that changes with every failure, like a runner.
    struct Respawning {
        pid: u32,
    }

    impl PluginInstance for Respawning {
        fn handle(&mut self, _: u64, _: i64, _: Event) -> Result<Vec<Action>, PluginFault> {
            Ok(Vec::new())
        }

        fn decode(&mut self, _: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
            self.pid += 1;
            Err(PluginFault { plugin: "r".into(), message: "runner killed by signal SIGSEGV (11)".into() })
        }

        fn pid(&self) -> Option<u32> {
            Some(self.pid)
        }
    }

    #[test]
    fn the_status_shows_the_process_of_the_instance() {
        let factory: Factory = Box::new(|| Ok(Box::new(Respawning { pid: 100 }) as Box<dyn PluginInstance>));
        let mut s = Supervised::new("r", factory, policy()).expect("instance");
        let entry = InstanceEntry::of("d", "codec", &s);
        assert_eq!(entry.snapshot().pid, Some(100));
        assert!(decode(&mut s, Instant::now()).is_err());
        assert_eq!((entry.snapshot().pid, s.pid()), (Some(101), Some(101)));
        entry.request(OperatorRequest::Restart);
        s.serve_request();
        assert_eq!(entry.snapshot().pid, Some(100), "a restart makes a fresh instance");
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut s = supervised(true);
        let t0 = Instant::now();
        for i in 0..6 {
            assert_eq!(decode(&mut s, t0 + Duration::from_secs(61 * i)), Err("trapped".into()), "call {i}");
        }
        assert!(s.quarantined.is_none());
    }
}

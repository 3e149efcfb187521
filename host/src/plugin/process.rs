//! The host side of a native plugin in a child process: [`ProcessInstance`]
//! starts `meterhub plugin-runner <library>` ([`super::runner`]), sends it
//! the instance's settings and forwards every call over its stdin and stdout
//! ([`super::wire`]), both one end of a Unix socket pair.
//!
//! Each call waits for its answer at most the call time limit (a socket read
//! timeout, set to what is left of it before each read). When the runner crashes (segfault,
//! abort, `exit()`, a panic that escapes the ABI glue) or breaks the
//! protocol, the call fails with the cause ("runner killed by signal SIGSEGV
//! (11)"); when it overruns the limit it is killed ("call exceeded 200 ms;
//! runner killed"). Either way the runner is discarded and the next call
//! starts a fresh one, as a trapped WASM instance is renewed; backoff and
//! quarantine are the [`super::supervisor`]'s.
//!
//! The runner's stderr (a plugin's panic message, anything it prints) goes
//! to the host's log, one event per line naming the plugin and the pid. The
//! runner exits when its stdin closes, which the host's death does too (see
//! [`super::runner`] for a runner busy in a call at that moment); it
//! has a process group of its own, so that a terminal's Ctrl-C reaches the
//! host only, which then ends its runners in its own time.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, Migration, PluginInfo, RawFrame, SinkRecord, SqlBatch};

use super::instance::{PluginFault, PluginInstance};
use super::wire::{self, Hello, PROTOCOL, Request, Response};

/// How long a runner may take to start and load its library.
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// How long a runner that closed its output may take to exit before it is killed.
const EXIT_LIMIT: Duration = Duration::from_secs(2);

/// How to start a plugin runner: a program and the arguments before the
/// library's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerCommand {
    /// The program.
    pub program: PathBuf,
    /// Its `argv[0]`, when it should differ from `program`.
    pub arg0: Option<OsString>,
    /// Arguments before the library path.
    pub args: Vec<OsString>,
}

static DEFAULT_RUNNER: OnceLock<RunnerCommand> = OnceLock::new();

impl RunnerCommand {
    /// `<binary> plugin-runner`: the runner of a `meterhub` binary.
    pub fn meterhub(binary: impl Into<PathBuf>) -> RunnerCommand {
        RunnerCommand { program: binary.into(), arg0: None, args: vec!["plugin-runner".into()] }
    }

    /// The runner of this process: the one given to [`RunnerCommand::set_default`],
    /// else the `meterhub` binary named by `METERHUB_RUNNER`, else this very
    /// executable (`/proc/self/exe` on Linux, so that a host whose binary was
    /// replaced on disk still starts runners of its own build).
    pub fn current() -> RunnerCommand {
        if let Some(command) = DEFAULT_RUNNER.get() {
            return command.clone();
        }
        if let Some(binary) = std::env::var_os("METERHUB_RUNNER").filter(|b| !b.is_empty()) {
            return RunnerCommand::meterhub(binary);
        }
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("meterhub"));
        let proc_exe = Path::new("/proc/self/exe");
        if proc_exe.exists() {
            RunnerCommand { arg0: Some(exe.into_os_string()), ..RunnerCommand::meterhub(proc_exe) }
        } else {
            RunnerCommand::meterhub(exe)
        }
    }

    /// Make `command` the runner of this process, for programs that are not
    /// the `meterhub` binary (benches). `false` when one was set already.
    pub fn set_default(command: RunnerCommand) -> bool {
        DEFAULT_RUNNER.set(command).is_ok()
    }
}

/// The name of signal `signal`, for messages.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

/// How a runner ended, in the words of a fault.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("runner exited with status {code}"),
        (None, Some(signal)) => format!("runner killed by signal {} ({signal})", signal_name(signal)),
        (None, None) => format!("runner ended: {status}"),
    }
}

/// The host's end of the socket, read with a deadline.
struct Timed {
    stream: UnixStream,
    deadline: Instant,
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        match self.stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            other => other,
        }
    }
}

/// One running runner process and its socket.
struct Runner {
    child: Child,
    /// Requests go out here.
    output: UnixStream,
    /// Answers come in here.
    input: BufReader<Timed>,
    /// The write timeout set on `output`.
    write_limit: Option<Duration>,
    pid: u32,
}

impl Runner {
    /// Start a runner for `library`; `plugin` names it in the log. Returns
    /// once it said hello, with what the library says of itself.
    fn spawn(command: &RunnerCommand, plugin: &str, library: &Path) -> Result<(Runner, PluginInfo), String> {
        let cannot = |e: io::Error| format!("cannot start the plugin runner {}: {e}", command.program.display());
        let (host_end, runner_end) = UnixStream::pair().map_err(cannot)?;
        let runner_out = runner_end.try_clone().map_err(cannot)?;
        let mut cmd = Command::new(&command.program);
        if let Some(arg0) = &command.arg0 {
            cmd.arg0(arg0);
        }
        // A process group of its own: a Ctrl-C meant for the host must not
        // kill its runners before the host has finished its calls; they end
        // when the host closes their stdin.
        cmd.args(&command.args)
            .arg(library)
            .process_group(0)
            .stdin(Stdio::from(OwnedFd::from(runner_end)))
            .stdout(Stdio::from(OwnedFd::from(runner_out)))
            .stderr(Stdio::piped());
        let spawned = cmd.spawn();
        // The runner's end must be closed here, or its death would not end
        // the host's reads.
        drop(cmd);
        let mut child = spawned.map_err(cannot)?;
        let pid = child.id();
        let stderr = child.stderr.take().expect("stderr was asked for");
        let logged = plugin.to_owned();
        let forwarded = std::thread::Builder::new().name(format!("runner-err-{pid}")).spawn(move || {
            let mut stderr = BufReader::new(stderr);
            let mut line = Vec::new();
            // A line longer than this is logged in pieces.
            while matches!((&mut stderr).take(16 << 10).read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line);
                tracing::warn!(target: "meterhub::plugin::runner", plugin = %logged, pid, "{}", text.trim_end());
                line.clear();
            }
        });
        let output = host_end.try_clone();
        let input = BufReader::new(Timed { stream: host_end, deadline: Instant::now() });
        let (output, forwarded) = match (output, forwarded) {
            (Ok(output), Ok(forwarded)) => (output, forwarded),
            (Err(e), _) | (_, Err(e)) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(cannot(e));
            }
        };
        drop(forwarded);
        let mut runner = Runner { child, output, input, write_limit: None, pid };
        let hello: Hello = runner.receive(START_LIMIT, |limit| {
            format!("runner did not start within {} s; runner killed", limit.as_secs())
        })?;
        match hello {
            Hello::Ready { protocol, info } if protocol == PROTOCOL => Ok((runner, info)),
            Hello::Ready { protocol, .. } => Err(runner.kill(format!(
                "the plugin runner {} speaks protocol {protocol}, this host {PROTOCOL}",
                command.program.display()
            ))),
            Hello::Refused { cause } => {
                runner.kill(String::new());
                Err(cause)
            }
        }
    }

    /// Kill the runner and reap it; returns `message`.
    fn kill(&mut self, message: String) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        message
    }

    /// Why the runner's output ended: its exit status, once it has exited
    /// (killed when it does not within [`EXIT_LIMIT`]).
    fn ended(&mut self) -> String {
        let deadline = Instant::now() + EXIT_LIMIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return describe(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
                Ok(None) => return self.kill("runner closed its output but did not exit; runner killed".to_owned()),
                Err(e) => return self.kill(format!("runner lost: {e}")),
            }
        }
    }

    /// The next frame from the runner, within `limit`; past it the runner is
    /// killed and the error is `overrun(limit)`.
    fn receive<T: for<'de> serde::Deserialize<'de>>(
        &mut self,
        limit: Duration,
        overrun: impl FnOnce(Duration) -> String,
    ) -> Result<T, String> {
        self.input.get_mut().deadline = Instant::now() + limit;
        match wire::read_frame(&mut self.input) {
            Ok(Some(body)) => {
                wire::decode(&body).map_err(|e| self.kill(format!("runner broke the protocol ({e}); runner killed")))
            }
            Ok(None) => Err(self.ended()),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(self.kill(overrun(limit))),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::ConnectionReset => {
                Err(self.ended())
            }
            Err(e) => Err(self.kill(format!("runner broke the protocol ({e}); runner killed"))),
        }
    }

    /// Send `request` and wait for its answer, all within `limit`.
    fn call(&mut self, request: &Request<'_>, limit: Duration) -> Result<Response, String> {
        let overrun = |limit: Duration| format!("call exceeded {} ms; runner killed", limit.as_millis());
        if self.write_limit != Some(limit) {
            // A runner that stops reading must not block the host either.
            self.output.set_write_timeout(Some(limit)).map_err(|e| self.kill(format!("runner socket: {e}")))?;
            self.write_limit = Some(limit);
        }
        let started = Instant::now();
        if let Err(e) = wire::write(&mut self.output, request) {
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.kill(overrun(limit)),
                // Its end of the socket is closed: it is gone or going.
                _ => self.ended(),
            });
        }
        self.receive(limit.saturating_sub(started.elapsed()), |_| overrun(limit))
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.kill(String::new());
    }
}

/// What the library at `library` says of itself, asked of a runner started
/// with `command`; the error is the runner's refusal (not a plugin, layout,
/// contract version) or why it did not answer.
pub fn probe(command: &RunnerCommand, library: &Path) -> Result<PluginInfo, String> {
    let name = library.file_name().map_or_else(|| library.display().to_string(), |n| n.to_string_lossy().into_owned());
    Runner::spawn(command, &name, library).map(|(_, info)| info)
}

/// A native plugin instance in its own runner process.
pub struct ProcessInstance {
    plugin: String,
    /// What the library said of itself when it was loaded; a fresh runner
    /// must find the same.
    info: PluginInfo,
    library: PathBuf,
    command: RunnerCommand,
    settings_json: String,
    call_limit: Duration,
    runner: Option<Runner>,
}

impl ProcessInstance {
    /// Start a runner (`command`) for the plugin that `info` describes (its
    /// library `library`) and configure it with `settings_json`; every call
    /// may take `call_timeout_ms`.
    pub fn start(
        command: &RunnerCommand,
        info: &PluginInfo,
        library: &Path,
        settings_json: &str,
        call_timeout_ms: u32,
    ) -> Result<ProcessInstance, String> {
        let mut instance = ProcessInstance {
            plugin: info.id.clone(),
            info: info.clone(),
            library: library.to_path_buf(),
            command: command.clone(),
            settings_json: settings_json.to_owned(),
            call_limit: Duration::from_millis(u64::from(call_timeout_ms)),
            runner: None,
        };
        instance.live().map_err(|f| f.message)?;
        Ok(instance)
    }

    fn fault(&self, message: String) -> PluginFault {
        PluginFault { plugin: self.plugin.clone(), message }
    }

    /// The running runner, started and configured first if there is none.
    fn live(&mut self) -> Result<&mut Runner, PluginFault> {
        if self.runner.is_none() {
            let (mut runner, info) =
                Runner::spawn(&self.command, &self.plugin, &self.library).map_err(|e| self.fault(e))?;
            if info != self.info {
                return Err(self.fault(format!(
                    "{} changed since it was loaded: it is {} {} now, was {} {}; the plugin needs loading again",
                    self.library.display(),
                    info.id,
                    info.version,
                    self.info.id,
                    self.info.version
                )));
            }
            let init = Request::Init { settings_json: self.settings_json.clone() };
            match runner.call(&init, self.call_limit) {
                Ok(Response::Init(Ok(()))) => {}
                Ok(Response::Init(Err(e))) => return Err(self.fault(e)),
                Ok(other) => return Err(self.fault(format!("runner answered init with {}", kind(&other)))),
                Err(e) => return Err(self.fault(format!("init: {e}"))),
            }
            tracing::debug!(plugin = %self.plugin, pid = runner.pid, "plugin runner started");
            self.runner = Some(runner);
        }
        Ok(self.runner.as_mut().expect("just set"))
    }

    /// Make one call; any failure discards the runner.
    fn call(&mut self, request: &Request<'_>) -> Result<Response, PluginFault> {
        let limit = self.call_limit;
        let runner = self.live()?;
        match runner.call(request, limit) {
            Ok(Response::Fault(message)) => Err(self.fault(message)),
            Ok(response) => Ok(response),
            Err(message) => {
                self.runner = None;
                Err(self.fault(message))
            }
        }
    }

    /// A fault for an answer of the wrong kind; the runner is discarded.
    fn unexpected(&mut self, call: &str, response: &Response) -> PluginFault {
        self.runner = None;
        self.fault(format!("runner answered {call} with {}; runner killed", kind(response)))
    }
}

/// The variant name of `response`, for messages.
fn kind(response: &Response) -> &'static str {
    match response {
        Response::Info(_) => "info",
        Response::Init(_) => "init",
        Response::Actions(_) => "actions",
        Response::Decoded(_) => "decoded",
        Response::Migrations(_) => "migrations",
        Response::Written(_) => "written",
        Response::Fault(_) => "fault",
    }
}

impl PluginInstance for ProcessInstance {
    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Result<Vec<Action>, PluginFault> {
        match self.call(&Request::Handle { session, now_ms, event })? {
            Response::Actions(actions) => Ok(actions),
            other => Err(self.unexpected("handle", &other)),
        }
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
        match self.call(&Request::Decode { frame: Cow::Borrowed(frame) })? {
            Response::Decoded(result) => Ok(result),
            other => Err(self.unexpected("decode", &other)),
        }
    }

    fn migrations(&mut self) -> Result<Result<Vec<Migration>, String>, PluginFault> {
        match self.call(&Request::Migrations)? {
            Response::Migrations(result) => Ok(result),
            other => Err(self.unexpected("migrations", &other)),
        }
    }

    fn write(&mut self, batch: &[SinkRecord]) -> Result<Result<SqlBatch, String>, PluginFault> {
        match self.call(&Request::Write { batch: Cow::Borrowed(batch) })? {
            Response::Written(result) => Ok(result),
            other => Err(self.unexpected("write", &other)),
        }
    }

    fn pid(&self) -> Option<u32> {
        self.runner.as_ref().map(|r| r.pid)
    }
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{Role, Transport};

    use super::*;

    /// A fake runner: `sh -c <script>`, the library path as `$1`.
    fn sh(script: String) -> RunnerCommand {
        RunnerCommand { program: "sh".into(), arg0: None, args: vec!["-c".into(), script.into(), "sh".into()] }
    }

    /// A shell command printing `message` as one frame.
    fn print_frame<T: serde::Serialize>(message: &T) -> String {
        let mut bytes = Vec::new();
        wire::write(&mut bytes, message).unwrap();
        let escaped: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
        format!("printf '{escaped}'")
    }

    fn hello() -> String {
        print_frame(&Hello::Ready { protocol: PROTOCOL, info: info() })
    }

    fn frame() -> RawFrame {
        RawFrame {
            seq: 1,
            source: "s".into(),
            peer: "p".into(),
            received_at_ms: 0,
            transport: Transport::Tcp,
            content_type: String::new(),
            meta: Vec::new(),
            payload: b"{}".to_vec(),
        }
    }

    fn info() -> PluginInfo {
        PluginInfo { id: "fake".into(), version: "1".into(), roles: vec![Role::Codec] }
    }

    fn start(script: String, timeout_ms: u32) -> Result<ProcessInstance, String> {
        ProcessInstance::start(&sh(script), &info(), Path::new("/nonexistent/libfake.so"), "{}", timeout_ms)
    }

    #[test]
    fn exit_statuses_are_described_with_the_signal_name() {
        assert_eq!(describe(ExitStatus::from_raw(1 << 8)), "runner exited with status 1");
        assert_eq!(describe(ExitStatus::from_raw(libc::SIGSEGV)), "runner killed by signal SIGSEGV (11)");
        assert_eq!(describe(ExitStatus::from_raw(libc::SIGABRT | 0x80)), "runner killed by signal SIGABRT (6)");
        assert_eq!(describe(ExitStatus::from_raw(libc::SIGKILL)), "runner killed by signal SIGKILL (9)");
    }

    #[test]
    fn a_runner_that_exits_or_refuses_at_start_says_why() {
        assert_eq!(probe(&sh("exit 1".into()), Path::new("lib.so")).unwrap_err(), "runner exited with status 1");
        let refused = print_frame(&Hello::Refused { cause: "built for contract 0.9, this host speaks 1.0".into() });
        assert_eq!(
            probe(&sh(refused), Path::new("lib.so")).unwrap_err(),
            "built for contract 0.9, this host speaks 1.0"
        );
        let e = probe(&RunnerCommand::meterhub("/nonexistent/meterhub"), Path::new("lib.so")).unwrap_err();
        assert!(e.starts_with("cannot start the plugin runner /nonexistent/meterhub: "), "{e}");
        let garbage = sh("printf '\\005\\000\\000\\000hello'".into());
        let e = probe(&garbage, Path::new("lib.so")).unwrap_err();
        assert!(e.starts_with("runner broke the protocol ("), "{e}");
    }

    #[test]
    fn a_library_that_changed_on_disk_is_not_taken_for_the_loaded_one() {
        let other =
            print_frame(&Hello::Ready { protocol: PROTOCOL, info: PluginInfo { version: "2".into(), ..info() } });
        let e = start(format!("{other}; exec sleep 600"), 1000).err().expect("refused");
        assert_eq!(
            e,
            "/nonexistent/libfake.so changed since it was loaded: it is fake 2 now, was fake 1; the plugin needs loading again"
        );
    }

    #[test]
    fn a_call_over_the_limit_kills_the_runner() {
        // Says hello, then never answers.
        let started = Instant::now();
        let e = start(format!("{}; exec sleep 600", hello()), 100).err().expect("init times out");
        assert_eq!(e, "init: call exceeded 100 ms; runner killed");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn a_crash_fails_the_call_and_the_next_call_starts_a_fresh_runner() {
        // Hello and init, then a segfault as soon as the decode request arrives.
        let init_len = {
            let mut bytes = Vec::new();
            wire::write(&mut bytes, &Request::Init { settings_json: "{}".into() }).unwrap();
            bytes.len()
        };
        let script = format!(
            "{}; {}; head -c {} >/dev/null; kill -SEGV $$",
            hello(),
            print_frame(&Response::Init(Ok(()))),
            init_len + 1
        );
        let mut instance = start(script, 5000).expect("starts");
        let first = instance.pid().expect("a runner");
        let fault = instance.decode(&frame()).unwrap_err();
        assert_eq!(fault.to_string(), "plugin fake: runner killed by signal SIGSEGV (11)");
        assert_eq!(instance.pid(), None, "the crashed runner is discarded");
        let fault = instance.decode(&frame()).unwrap_err();
        assert_eq!(fault.message, "runner killed by signal SIGSEGV (11)");
        assert_eq!(instance.pid(), None);
        // Each call had its own runner: the first one is reaped.
        assert!(!Path::new(&format!("/proc/{first}")).exists(), "runner {first} is still there");
    }
}

//! The child side of a native plugin in a child process: `meterhub
//! plugin-runner <library>` (hidden from `--help`; started by
//! [`super::process`], never by hand).
//!
//! It loads the library with [`NativeLibrary::load`] (layout and contract
//! version check), says [`Hello`], then serves the host's requests on stdin,
//! answering on what was stdout ([`super::wire`]). File descriptor 1 is
//! pointed at stderr first, so whatever the plugin prints reaches the host's
//! log instead of corrupting the protocol.
//!
//! It exits when its stdin ends: the host closed it, or died. A runner busy
//! in a plugin call does not read, so a thread also watches the parent and
//! ends the process within [`WATCH_PERIOD`] of the host's death, whatever
//! the plugin is doing. (A parent death signal, `PR_SET_PDEATHSIG`, would
//! fire when the host *thread* that spawned the runner ends, and tokio's
//! blocking threads come and go.)

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use meterhub_plugin_api::PluginInfo;

use super::instance::PluginInstance;
use super::native::NativeLibrary;
use super::wire::{self, Hello, PROTOCOL, Request, Response};

/// How often a runner checks that its host is alive.
pub const WATCH_PERIOD: Duration = Duration::from_millis(500);

/// Makes the one instance a runner serves.
pub type Init<'a> = dyn FnMut(&str) -> Result<Box<dyn PluginInstance>, String> + 'a;

/// Run the runner for `library`; the exit code says how it ended.
pub fn main(library: &Path) -> ExitCode {
    let mut out = match protocol_output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("meterhub plugin-runner: cannot set up its output: {e}");
            return ExitCode::from(70);
        }
    };
    exit_with_parent();
    let library = match NativeLibrary::load(library) {
        Ok(library) => library,
        Err(cause) => {
            let _ = wire::write(&mut out, &Hello::Refused { cause });
            return ExitCode::from(3);
        }
    };
    let info = library.info();
    if wire::write(&mut out, &Hello::Ready { protocol: PROTOCOL, info: info.clone() }).is_err() {
        return ExitCode::from(74);
    }
    let mut init =
        |settings: &str| -> Result<Box<dyn PluginInstance>, String> { Ok(Box::new(library.instantiate(settings)?)) };
    match serve(&mut std::io::stdin().lock(), &mut out, &info, &mut init) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meterhub plugin-runner: {e}");
            ExitCode::from(74)
        }
    }
}

/// Serve the requests read from `input` until it ends, answering each on `out`.
pub fn serve(
    input: &mut impl Read,
    out: &mut impl Write,
    info: &PluginInfo,
    init: &mut Init<'_>,
) -> std::io::Result<()> {
    let mut instance: Option<Box<dyn PluginInstance>> = None;
    while let Some(body) = wire::read_frame(input)? {
        let request: Request<'static> = wire::decode(&body)?;
        let response = match (request, instance.as_mut()) {
            (Request::Info, _) => Response::Info(info.clone()),
            (Request::Init { settings_json }, _) => match init(&settings_json) {
                Ok(fresh) => {
                    instance = Some(fresh);
                    Response::Init(Ok(()))
                }
                Err(e) => Response::Init(Err(e)),
            },
            (Request::Handle { session, now_ms, event }, Some(instance)) => {
                match instance.handle(session, now_ms, event) {
                    Ok(actions) => Response::Actions(actions),
                    Err(fault) => Response::Fault(fault.message),
                }
            }
            (Request::Decode { frame }, Some(instance)) => match instance.decode(&frame) {
                Ok(decoded) => Response::Decoded(decoded),
                Err(fault) => Response::Fault(fault.message),
            },
            (Request::Migrations, Some(instance)) => match instance.migrations() {
                Ok(migrations) => Response::Migrations(migrations),
                Err(fault) => Response::Fault(fault.message),
            },
            (Request::Write { batch }, Some(instance)) => match instance.write(&batch) {
                Ok(out) => Response::Written(out),
                Err(fault) => Response::Fault(fault.message),
            },
            (Request::Handle { .. } | Request::Decode { .. } | Request::Migrations | Request::Write { .. }, None) => {
                Response::Fault("the runner was called before init".to_owned())
            }
        };
        wire::write(out, &response)?;
    }
    Ok(())
}

/// A copy of stdout for the protocol; stdout itself then goes to stderr.
fn protocol_output() -> std::io::Result<File> {
    let protocol = std::io::stdout().as_fd().try_clone_to_owned()?;
    // SAFETY: dup2 on two descriptors this process holds open (stdout and
    // stderr); it only makes fd 1 another name for fd 2. The protocol keeps
    // its own descriptor, cloned above.
    #[allow(unsafe_code, reason = "dup2 has no safe wrapper in std")]
    let redirected = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    if redirected < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(File::from(protocol))
}

/// End the process, at once, when the parent is gone: a thread checks every
/// [`WATCH_PERIOD`] whether this process was handed to another parent.
fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(WATCH_PERIOD);
            if std::os::unix::process::parent_id() != parent {
                // SAFETY: _exit ends the process at once, without running
                // atexit handlers or destructors whose locks the thread busy
                // in plugin code could hold; it has no preconditions.
                #[allow(unsafe_code, reason = "std::process::exit runs atexit handlers")]
                unsafe {
                    libc::_exit(0)
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, RawFrame, Role, Transport};

    use super::*;
    use crate::plugin::instance::PluginFault;

    /// Echoes events as `Send` actions; decodes nothing, refuses empty frames.
    struct Echo;

    impl PluginInstance for Echo {
        fn handle(&mut self, _: u64, _: i64, event: Event) -> Result<Vec<Action>, PluginFault> {
            match event {
                Event::Data(bytes) => Ok(vec![Action::Send(bytes)]),
                _ => Err(PluginFault { plugin: "echo".into(), message: "only data".into() }),
            }
        }

        fn decode(&mut self, frame: &RawFrame) -> Result<Result<Decoded, DecodeError>, PluginFault> {
            Ok(if frame.payload.is_empty() { Err(DecodeError::new("empty")) } else { Ok(Decoded::default()) })
        }
    }

    fn frame_of(request: &Request<'_>) -> Vec<u8> {
        let mut frame = Vec::new();
        wire::write(&mut frame, request).unwrap();
        frame
    }

    #[test]
    fn the_runner_answers_each_request_in_order() {
        let info = PluginInfo { id: "echo".into(), version: "1".into(), roles: vec![Role::Driver, Role::Codec] };
        let frame = RawFrame {
            seq: 1,
            source: "s".into(),
            peer: "p".into(),
            received_at_ms: 0,
            transport: Transport::Tcp,
            content_type: String::new(),
            meta: Vec::new(),
            payload: Vec::new(),
        };
        let requests = [
            Request::Decode { frame: std::borrow::Cow::Borrowed(&frame) },
            Request::Init { settings_json: "{\"bad\":1}".into() },
            Request::Init { settings_json: "{}".into() },
            Request::Info,
            Request::Handle { session: 1, now_ms: 0, event: Event::Data(b"hi".to_vec()) },
            Request::Handle { session: 1, now_ms: 0, event: Event::Closed },
            Request::Decode { frame: std::borrow::Cow::Borrowed(&frame) },
        ];
        let mut out = Vec::new();
        let mut init = |settings: &str| -> Result<Box<dyn PluginInstance>, String> {
            if settings.contains("bad") { Err("settings refused: bad".into()) } else { Ok(Box::new(Echo)) }
        };
        let input: Vec<u8> = requests.iter().flat_map(frame_of).collect();
        serve(&mut &input[..], &mut out, &info, &mut init).unwrap();
        let mut answers = &out[..];
        let answers: Vec<Response> = std::iter::from_fn(|| wire::read(&mut answers).unwrap()).collect();
        assert_eq!(
            answers,
            [
                Response::Fault("the runner was called before init".into()),
                Response::Init(Err("settings refused: bad".into())),
                Response::Init(Ok(())),
                Response::Info(info.clone()),
                Response::Actions(vec![Action::Send(b"hi".to_vec())]),
                Response::Fault("only data".into()),
                Response::Decoded(Err(DecodeError::new("empty"))),
            ]
        );
    }

    #[test]
    fn a_garbage_request_ends_the_runner() {
        let mut out = Vec::new();
        let info = PluginInfo { id: "echo".into(), version: "1".into(), roles: vec![] };
        let mut init = |_: &str| -> Result<Box<dyn PluginInstance>, String> { Ok(Box::new(Echo)) };
        let mut input = 8u32.to_le_bytes().to_vec();
        input.extend_from_slice(b"nonsense");
        let e = serve(&mut &input[..], &mut out, &info, &mut init).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        assert!(out.is_empty());
    }
}

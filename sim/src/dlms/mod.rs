//! `meterhub sim dlms`: a DLMS/COSEM meter emulator. N electricity meters
//! open TCP connections to meterhub's `rbgu` driver and push СПОДЭС-like
//! daily data-notifications, plain or general-glo-ciphered (AES-128-GCM),
//! in the IEC 62056-47 wrapper or HDLC, exactly as `plugins/dlms-codec`
//! decodes them with the `spodes-daily` layout of its
//! `settings.example.json`; with misbehaviours on demand and a JSON
//! account of what was sent and which readings that must give.
//!
//! # Command line
//!
//! ```text
//! meterhub sim dlms [--connect 127.0.0.1:7010] [--meters 5] [--first-serial 1]
//!     [--framing wrapper|hdlc] [--ciphered | --glo-clear] [--ek HEX32] [--ak HEX32] [--first-counter 1]
//!     [--pushes 4] [--interval-ms 1000] [--per-connection P] [--hold]
//!     [--connect-concurrency 256] [--connect-timeout-ms 5000]
//!     [--period-s 900] [--start 2026-01-01T00:00:00+03:00] [--seed 1] [--password 12345678]
//!     [--torn N] [--bad-tag N] [--replay N] [--wrong-key N]        (N: a count, or a share: 2.5%)
//!     [--progress-ms 10000]
//! ```
//!
//! - **Meters** ([`meter`]): meter k (from 0) has serial `first-serial + k`
//!   and system title "MHB" ‖ serial in 5 bytes (`4D48420000000001` for
//!   serial 1). Its pushes are every `--interval-ms` of wall time (the
//!   meters' first pushes spread evenly over one interval; 0: at once),
//!   its clock `--period-s` further each push from `--start` (until a
//!   client sets its clock or push schedule), its registers growing; the
//!   same options give the same bytes.
//! - **APDUs** ([`apdu`]): a data-notification with its date-time and a
//!   structure of 9: the push setup's logical name `0.0.25.9.0.255`, the
//!   serial, the clock, and six energy registers (A+, A+ T1, A+ T2, A-,
//!   R+, R-), six readings per push. The date-time's deviation is the
//!   Blue Book's, minutes from local time to UTC: `--start` at +03:00
//!   sends -180, which is what dlms-codec reads as Moscow time.
//! - **Security** ([`cipher`]): plain, a bare data-notification (no system
//!   title in the frame: the rbgu driver then has none to give the codec,
//!   which refuses it; see `--glo-clear`); `--glo-clear`,
//!   general-glo-ciphering with security control 0x00 (title and
//!   invocation counter in clear, no protection: identified and
//!   replay-checked without keys); `--ciphered`, security control 0x30
//!   under `--ek`/`--ak` (every meter the same keys; defaults are the
//!   Green Book's, those of dlms-codec's example settings). The invocation
//!   counter starts at `--first-counter` and goes up by one per ciphered
//!   APDU of a meter.
//! - **Framing** ([`framing`]): the wrapper (version 1, wPorts 1 and 1),
//!   or HDLC UI frames from server 1/17 to client 16 with FCS-16.
//! - **Connections**: all of a meter's pushes on one connection, or
//!   `--per-connection P` pushes each; at most `--connect-concurrency`
//!   connects in flight; a connect or write that fails is retried on a new
//!   connection for `--connect-timeout-ms`, then the meter gives up.
//!   `--hold` keeps every connection open after its last push until
//!   SIGINT/SIGTERM (idle-connection measurements); the command line
//!   raises the open-file limit to the hard limit first, and refuses more
//!   meters than that allows. The host's device port takes 1 000
//!   connections from one address and 10 000 in all by default
//!   (`max_connections_per_peer`, `max_connections` of the driver
//!   instance): all meters come from one address, so raise those for
//!   more. A connection the host refuses is accepted and closed at once,
//!   which a meter cannot tell from a write that went through; held
//!   connections count it (`held_closed_by_peer`).
//! - **Commands** ([`server`]): a meter answers, on the connection it
//!   pushes on, the command exchange of `docs/dlms-commands.md` (wrapper
//!   framing only): an AARQ with LLS and `--password` is accepted (a
//!   wrong or missing password, another mechanism, a malformed AARQ are
//!   refused with the spec's diagnostics); inside the association a
//!   SET-REQUEST-NORMAL of the Clock `0.0.1.0.0.255`:2 sets the time of its
//!   next push, one of the push action schedule `0.0.15.0.4.255`:4 its
//!   period (then one push every N minutes of its clock); an RLRQ ends it.
//!   Answers go back with the wPorts swapped, between pushes, never
//!   inside one. ACSE in [`acse`], xDLMS in [`xdlms`], the objects in
//!   [`cosem`].
//! - **Misbehaviours** ([`faults`]): `--torn`, `--bad-tag`, `--replay`,
//!   `--wrong-key`, each at that many pushes the seed picks.
//! - **Report** ([`report`]): one JSON line on stdout at the end: meters,
//!   connections, good pushes, each misbehaviour, frames, bytes, errors by
//!   reason, `expected_readings` (good pushes × 6), and what the meters
//!   did with requests (associations accepted and refused, SETs applied
//!   and refused, GETs, releases, unreadable requests). With `--hold` it
//!   comes after the signal, with how many held connections the peer
//!   closed. Exit code 0 when every planned push was written.
//!
//! # Library
//!
//! [`Dlms::new`] checks an [`Options`], [`Dlms::run_until`] pushes and
//! returns the [`Report`] ([`Dlms::stats`] watches it live); [`run`] does
//! both on a runtime of its own until done (or SIGINT/SIGTERM). Single
//! frames: [`push_apdu`], [`glo_cipher`], [`glo_clear`], [`wrap`],
//! [`hdlc`].
//!
//! # Code map
//!
//! - [`options`]: the options and their checks; [`error`]: the errors;
//! - [`apdu`]: the data-notification, A-XDR, the COSEM date-time;
//! - [`cipher`]: general-glo-ciphering; [`framing`]: wrapper, HDLC, FCS-16;
//! - [`meter`]: a meter's state and its connection loop (pushes, and
//!   requests answered in between);
//! - [`server`]: what a meter answers to a request; [`acse`]: AARQ, AARE,
//!   RLRQ, RLRE; [`xdlms`]: InitiateRequest, GET, SET and their answers;
//!   [`cosem`]: the Clock and the push schedule; [`cursor`]: reading
//!   their bytes;
//! - [`faults`]: where misbehaviours go; [`report`]: counters and report.

pub mod acse;
pub mod apdu;
pub mod cipher;
pub mod cosem;
pub mod cursor;
pub mod error;
pub mod faults;
pub mod framing;
pub mod host_config;
pub mod meter;
pub mod options;
pub mod report;
pub mod server;
pub mod xdlms;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use apdu::{DateTime, Push, READINGS_PER_PUSH, push_apdu};
pub use cipher::{glo_cipher, glo_clear};
pub use error::DlmsError;
pub use framing::{fcs16, hdlc, wrap, wrap_between};
pub use host_config::{CODEC_SETTINGS_TOML, secrets_toml};
pub use meter::{Meter, system_title};
pub use options::{Amount, Framing, Key, Keys, Misbehaviour, Options, Security, Start};
pub use report::{Report, Stats};
pub use server::Handled;

use faults::Faults;
use report::Head;

/// The emulator, its options checked.
#[derive(Debug)]
pub struct Dlms {
    options: Options,
    start: Start,
    faults: Faults,
    stats: Arc<Stats>,
}

impl Dlms {
    /// Check `options` and place the misbehaviours.
    pub fn new(options: Options) -> Result<Dlms, DlmsError> {
        let start = options.check()?;
        let faults = Faults::plan(&options);
        Ok(Dlms { options, start, faults, stats: Arc::default() })
    }

    /// The live counters (they keep counting while it runs).
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The meters, as they start.
    pub fn meters(&self) -> impl Iterator<Item = Meter> + '_ {
        (0..self.options.meters).map(|i| Meter::new(&self.options, self.start, i))
    }

    /// Run until every meter is done (and, with `hold`, forever).
    pub async fn run(self) -> Result<Report, DlmsError> {
        self.run_until(std::future::pending()).await
    }

    /// Run until every meter is done or `stop` completes; with `hold`,
    /// until `stop` completes, the connections open until then.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<Report, DlmsError> {
        let address = resolve(&self.options.connect).await?;
        let head = self.head();
        let meters = u64::from(self.options.meters);
        let stats = self.stats.clone();
        let ctx = Arc::new(meter::Ctx {
            address,
            start: self.start,
            faults: self.faults,
            stats: stats.clone(),
            connects: tokio::sync::Semaphore::new(self.options.connect_concurrency),
            began: tokio::time::Instant::now(),
            options: self.options,
        });
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..ctx.options.meters {
            tasks.spawn(meter::run(ctx.clone(), Meter::new(&ctx.options, ctx.start, index)));
        }
        tokio::pin!(stop);
        let stopped = tokio::select! {
            () = &mut stop => true,
            () = stats.wait_finished(meters) => false,
        };
        if !stopped {
            stats.mark_elapsed();
            if ctx.options.hold {
                stop.await;
            }
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        Ok(stats.report(Head { dlms_sim: if stopped { "stopped" } else { "done" }, ..head }, READINGS_PER_PUSH))
    }

    /// What the report says that the counters do not know.
    fn head(&self) -> Head {
        let o = &self.options;
        let last_push = DateTime {
            utc_ms: self.start.utc_ms + i64::try_from(o.pushes - 1).unwrap_or(0) * i64::from(o.period_s) * 1000,
            offset_minutes: self.start.offset_minutes,
        };
        let title = |serial: u64| meterhub_plugin_api::hex::encode_upper(&system_title(serial));
        Head {
            dlms_sim: "done",
            target: o.connect.clone(),
            framing: o.framing.name(),
            security: o.security.name(),
            meters: o.meters,
            first_title: title(o.first_serial),
            last_title: title(o.first_serial + u64::from(o.meters) - 1),
            planned_pushes: o.planned_pushes(),
            first_push_time: DateTime { utc_ms: self.start.utc_ms, offset_minutes: self.start.offset_minutes }
                .utc_text(),
            last_push_time: last_push.utc_text(),
            hold: o.hold,
            open_files_limit: o.open_files_limit,
        }
    }
}

/// The socket address of `address` (`host:port`), resolved once.
async fn resolve(address: &str) -> Result<std::net::SocketAddr, DlmsError> {
    let fail = |problem: String| DlmsError::Address { address: address.to_owned(), problem };
    let mut found = tokio::net::lookup_host(address).await.map_err(|e| fail(e.to_string()))?;
    found.next().ok_or_else(|| fail("names no address".to_owned()))
}

/// SIGINT or SIGTERM (Ctrl-C where there are no Unix signals).
async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut interrupt), Ok(mut terminate)) =
            (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn runtime() -> Result<tokio::runtime::Runtime, DlmsError> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(DlmsError::Runtime)
}

/// Run the emulator on a runtime of its own until every meter is done
/// (with `hold`: until SIGINT/SIGTERM), for callers without one (the e2e
/// tests).
pub fn run(options: Options) -> Result<Report, DlmsError> {
    let dlms = Dlms::new(options)?;
    runtime()?.block_on(dlms.run_until(signalled()))
}

/// Run the emulator from the command line: a line on stderr when it
/// starts, progress lines every `progress_ms` (0: none), one when holding,
/// the report as one JSON line on stdout. Exit code 0 when every planned
/// push was written.
pub fn main(options: Options, progress_ms: u64) -> ExitCode {
    let dlms = match Dlms::new(options) {
        Ok(dlms) => dlms,
        Err(e) => {
            eprintln!("dlms-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dlms-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("{}", start_line(&dlms));
    let (stats, meters, hold) = (dlms.stats(), u64::from(dlms.options.meters), dlms.options.hold);
    let result = runtime.block_on(async {
        let watch = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(progress_ms.max(1)));
            tick.tick().await;
            loop {
                tokio::select! {
                    () = stats.wait_finished(meters) => break,
                    _ = tick.tick(), if progress_ms > 0 => eprintln!("{}", stats.progress(meters)),
                }
            }
            if hold {
                let (held, _) = stats.holding();
                eprintln!("{}; holding {held} connections until SIGINT/SIGTERM", stats.progress(meters));
            }
        });
        let result = dlms.run_until(signalled()).await;
        watch.abort();
        result
    });
    match result {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            let _ = std::io::stdout().flush();
            if report.complete() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("dlms-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the emulator is about to do, in one line.
fn start_line(dlms: &Dlms) -> String {
    let o = &dlms.options;
    let head = dlms.head();
    let titles = if o.meters == 1 { head.first_title } else { format!("{}..{}", head.first_title, head.last_title) };
    let pace = if o.interval_ms == 0 { "at once".to_owned() } else { format!("one every {} ms", o.interval_ms) };
    format!(
        "dlms-sim: {} meters (system titles {titles}) to {}: {} {} push(es) each in the {} framing, {pace}, \
         clock from {} by {} s{}",
        o.meters,
        o.connect,
        o.pushes,
        o.security.name(),
        o.framing.name(),
        o.start,
        o.period_s,
        if o.hold { ", then held open" } else { "" }
    )
}

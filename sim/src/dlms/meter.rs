//! One simulated meter: its system title, registers, invocation counter
//! and clock ([`Meter`]), and its life on the wire ([`run`]): a push every
//! interval, connections opened (a bounded number of connects in flight)
//! and hung up as the options and misbehaviours say, then held open or
//! closed.
//!
//! Requests: while it waits for its next push, a meter reads its current
//! connection and answers every request that arrives whole on it
//! ([`super::server`]), in the wrapper with the wPorts swapped. One task
//! does both, so an answer and a push never interleave on the wire, and a
//! push written after an answer already has what its SET changed. Frames
//! of another wrapper version, or for a wPort other than the meter's
//! (1, the management logical device), are dropped and counted
//! unreadable; with the HDLC framing whatever arrives is dropped unread.
//! The association is the connection's: it ends when the meter hangs up
//! (torn, replay, `--per-connection`) or the peer does, and a meter that
//! sees its peer hang up connects anew for its next push. After its last
//! push a meter serves an open association to its end (RLRQ, the peer
//! closing, or [`ASSOCIATION_IDLE`] without a request) before it hangs
//! up; a held connection is served until the peer closes it.
//!
//! Clock: push k of a meter carries the options' start plus k periods,
//! until a client sets its clock (the next push carries the time set,
//! then one period more per push) or its push schedule (the next push
//! is the new period after the last one).
//!
//! Registers: every value is a whole number of Wh (varh), sent as
//! double-long-unsigned and read by the layout with scaler -3 in kWh
//! (kvarh). A meter starts from values its serial and the seed choose;
//! every later push adds an import of 1 Wh up to an average 1 kW over the
//! period, to tariff 1 from 07:00 to 23:00 local time and to tariff 2
//! otherwise (the total is always their sum), a third of it to R+, and
//! now and then 1-2 Wh to A- and R-. Registers roll over at 2^32 as a
//! meter's counters do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::apdu::{DateTime, Push, bad_tag, push_apdu};
use super::cipher::{glo_cipher, glo_clear};
use super::error::DlmsError;
use super::faults::Faults;
use super::framing::{Received, SOURCE_WPORT, frame, next_wrapper, wrap_between};
use super::options::{Framing, Keys, Options, Security, Start};
use super::report::{Stats, Written};
use super::server::{self, Handled, Session};
use crate::lns::devices::mix;

/// The system title's manufacturer: the FLAG id "MHB".
pub const MANUFACTURER: [u8; 3] = *b"MHB";

/// The system title of the meter with `serial` (at most 40 bits): "MHB",
/// then the serial in 5 bytes, big-endian.
pub fn system_title(serial: u64) -> [u8; 8] {
    let s = serial.to_be_bytes();
    [MANUFACTURER[0], MANUFACTURER[1], MANUFACTURER[2], s[3], s[4], s[5], s[6], s[7]]
}

/// One meter's state.
#[derive(Debug, Clone)]
pub struct Meter {
    /// Position among the meters (0-based).
    pub index: u32,
    /// Its serial (the system title's last 5 bytes).
    pub serial: u64,
    /// Its system title.
    pub title: [u8; 8],
    /// The registers' values of the last push made (before the first:
    /// the first push's).
    registers: [u32; 6],
    /// The next APDU's invocation counter.
    counter: u32,
    /// Pushes made so far.
    made: u64,
    /// The seed of its register growth.
    seed: u64,
    /// The time of its pushes.
    clock: Clock,
}

/// A meter's clock as its pushes read it: the next push is one period
/// after the last, or, when none was made since the clock was set (or
/// since the start), at the time set. So a new period counts from the
/// last push, and a clock set is the next push's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Clock {
    /// The time set (at first: the options' start).
    set: DateTime,
    /// The last push's time, if one was made since the clock was set.
    last: Option<DateTime>,
    /// Seconds from one push to the next.
    period_s: u32,
}

impl Meter {
    /// Meter `index` of `options`, its first push at `start`.
    pub fn new(options: &Options, start: Start, index: u32) -> Meter {
        let serial = options.first_serial + u64::from(index);
        let seed = mix(options.seed ^ mix(serial ^ 0x4d48_4200_0000_0000));
        let h = mix(seed);
        let t1 = 1_000_000 + (h % 40_000_000) as u32;
        let t2 = 500_000 + ((h >> 24) % 20_000_000) as u32;
        let registers = [t1 + t2, t1, t2, ((h >> 8) % 100_000) as u32, (t1 + t2) / 3, ((h >> 40) % 50_000) as u32];
        let clock = Clock {
            set: DateTime { utc_ms: start.utc_ms, offset_minutes: start.offset_minutes },
            last: None,
            period_s: options.period_s,
        };
        Meter {
            index,
            serial,
            title: system_title(serial),
            registers,
            counter: options.first_counter,
            made: 0,
            seed,
            clock,
        }
    }

    /// Its system title, 16 upper-case hex digits.
    pub fn title_hex(&self) -> String {
        meterhub_plugin_api::hex::encode_upper(&self.title)
    }

    /// The time its next push will carry (what a GET of its clock reads).
    pub fn next_time(&self) -> DateTime {
        match self.clock.last {
            Some(last) => DateTime {
                utc_ms: last.utc_ms + i64::from(self.clock.period_s) * 1000,
                offset_minutes: last.offset_minutes,
            },
            None => self.clock.set,
        }
    }

    /// Seconds its clock advances per push.
    pub fn period_s(&self) -> u32 {
        self.clock.period_s
    }

    /// Pushes made so far.
    pub fn made(&self) -> u64 {
        self.made
    }

    /// Set its clock (a SET of the Clock's time): the next push carries
    /// `time`, the ones after one period more each.
    pub fn set_clock(&mut self, time: DateTime) {
        self.clock = Clock { set: time, last: None, ..self.clock };
    }

    /// Set its period (a SET of the push schedule): the next push is
    /// `period_s` after the last.
    pub fn set_period(&mut self, period_s: u32) {
        self.clock.period_s = period_s;
    }

    /// The next push: push number `made` (0-based) at [`Meter::next_time`],
    /// its registers grown from the previous push's.
    pub fn next_push(&mut self) -> Push {
        let n = self.made;
        let time = self.next_time();
        let period_s = self.clock.period_s;
        if n > 0 {
            let r = mix(self.seed ^ mix(n));
            let most = (u64::from(period_s) * 1000 / 3600).max(1);
            let import = (1 + r % most) as u32;
            let hour = time.bytes()[5];
            let tariff = if (7..23).contains(&hour) { 1 } else { 2 };
            let [total, _, _, export, reactive_import, reactive_export] = &mut self.registers;
            *total = total.wrapping_add(import);
            *export = export.wrapping_add(((r >> 32) % 16).saturating_sub(13) as u32);
            *reactive_import = reactive_import.wrapping_add(import.div_ceil(3));
            *reactive_export = reactive_export.wrapping_add(((r >> 40) % 16).saturating_sub(14) as u32);
            self.registers[tariff] = self.registers[tariff].wrapping_add(import);
        }
        self.made += 1;
        self.clock.last = Some(time);
        Push {
            invoke_id: u32::try_from(n + 1).unwrap_or(u32::MAX),
            time,
            serial: format!("{:08}", self.serial),
            registers: self.registers,
        }
    }

    /// `apdu` as `security` sends it, under `keys` (taking the next
    /// invocation counter when it carries one).
    pub fn seal(&mut self, security: Security, keys: &Keys, apdu: &[u8]) -> Vec<u8> {
        let title = self.title;
        match security {
            Security::Plain => apdu.to_vec(),
            Security::GloClear => glo_clear(&title, self.take_counter(), apdu),
            Security::Ciphered => glo_cipher(&title, self.take_counter(), keys, apdu),
        }
    }

    fn take_counter(&mut self) -> u32 {
        let counter = self.counter;
        self.counter = self.counter.wrapping_add(1);
        counter
    }
}

/// What every meter's task shares.
#[derive(Debug)]
pub struct Ctx {
    /// Where to connect.
    pub address: SocketAddr,
    /// The options (checked).
    pub options: Options,
    /// The first push's time.
    pub start: Start,
    /// Where the misbehaviours go.
    pub faults: Faults,
    /// The counters.
    pub stats: Arc<Stats>,
    /// Connects in flight.
    pub connects: Semaphore,
    /// When the run began (the pushes' schedule starts there).
    pub began: Instant,
}

impl Ctx {
    /// When push `push` of meter `index` is due: the meters spread evenly
    /// over the first interval, then one interval apart.
    fn due(&self, index: u32, push: u64) -> Instant {
        let interval = u128::from(self.options.interval_ms);
        let offset = interval * u128::from(index) / u128::from(self.options.meters) + interval * u128::from(push);
        self.began + Duration::from_millis(u64::try_from(offset).unwrap_or(u64::MAX / 4))
    }

    fn frame(&self, apdu: &[u8]) -> Result<Vec<u8>, DlmsError> {
        frame(self.options.framing, apdu)
    }
}

/// How long a meter that made its last push keeps serving an open
/// association while no request comes (a meter's TCP inactivity
/// time-out, IEC 62056-47's `inactivity_time_out`, as meters commonly
/// default it).
pub const ASSOCIATION_IDLE: Duration = Duration::from_secs(120);

/// A meter's open connection: its stream, what arrived of a request not
/// yet whole, and its association.
struct Connection {
    stream: TcpStream,
    inbox: Vec<u8>,
    session: Session,
}

/// A meter's connection, opened when a write needs it.
struct Link<'a> {
    ctx: &'a Ctx,
    conn: Option<Connection>,
    /// Good pushes on the current connection.
    on_this: u64,
}

/// The meter could not connect or write for the connect timeout.
struct GaveUp;

/// How one wait for requests ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    /// Bytes arrived, and every request they completed was answered.
    Read,
    /// The deadline came.
    Due,
    /// There is no connection (any more): the peer closed it, or a read
    /// or an answer failed.
    Closed,
}

impl Link<'_> {
    /// A connection, opened if there is none; retried with backoff until
    /// `deadline`.
    async fn stream(&mut self, deadline: &mut Option<Instant>) -> Result<&mut TcpStream, GaveUp> {
        let ctx = self.ctx;
        let mut backoff = Duration::from_millis(50);
        while self.conn.is_none() {
            match self.connect().await {
                Ok(stream) => {
                    ctx.stats.connected();
                    self.conn = Some(Connection { stream, inbox: Vec::new(), session: Session::default() });
                    self.on_this = 0;
                }
                Err(reason) => {
                    ctx.stats.error(reason);
                    self.wait(deadline, &mut backoff).await?;
                }
            }
        }
        // Invariant: the loop above ends only with a connection.
        self.conn.as_mut().map(|c| &mut c.stream).ok_or(GaveUp)
    }

    /// Sleep `backoff` (doubled for the next time, up to 1 s), unless the
    /// timeout that started with the first failure has run out.
    async fn wait(&self, deadline: &mut Option<Instant>, backoff: &mut Duration) -> Result<(), GaveUp> {
        let timeout = Duration::from_millis(self.ctx.options.connect_timeout_ms);
        let until = *deadline.get_or_insert_with(|| Instant::now() + timeout);
        if Instant::now() >= until {
            return Err(GaveUp);
        }
        tokio::time::sleep((*backoff).min(until - Instant::now())).await;
        *backoff = (*backoff * 2).min(Duration::from_secs(1));
        Ok(())
    }

    async fn connect(&self) -> Result<TcpStream, String> {
        let address = self.ctx.address;
        let timeout = Duration::from_millis(self.ctx.options.connect_timeout_ms.max(1));
        let _permit = self.ctx.connects.acquire().await.map_err(|_| "the run is ending".to_owned())?;
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
            Ok(Err(e)) => Err(format!("connect {address}: {e}")),
            Err(_) => Err(format!("connect {address}: no answer within {} ms", timeout.as_millis())),
        }
    }

    /// Write `bytes` whole on the current connection, or why not.
    async fn write(ctx: &Ctx, stream: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
        let address = ctx.address;
        let timeout = Duration::from_millis(ctx.options.connect_timeout_ms.max(1));
        match tokio::time::timeout(timeout, stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write to {address}: {e}")),
            Err(_) => Err(format!("write to {address}: no progress within {} ms", timeout.as_millis())),
        }
    }

    /// Write `bytes` whole, on a new connection if a write fails (until the
    /// connect timeout), and count them as `what`.
    async fn send(&mut self, bytes: &[u8], what: Written) -> Result<(), GaveUp> {
        let ctx = self.ctx;
        let (mut deadline, mut backoff) = (None, Duration::from_millis(50));
        loop {
            let stream = self.stream(&mut deadline).await?;
            match Self::write(ctx, stream, bytes).await {
                Ok(()) => {
                    ctx.stats.written(what, bytes.len());
                    return Ok(());
                }
                Err(reason) => ctx.stats.error(reason),
            }
            self.conn = None;
            self.wait(&mut deadline, &mut backoff).await?;
        }
    }

    /// Write the first half of `frame` and hang up (a torn frame).
    async fn tear(&mut self, frame: &[u8]) -> Result<(), GaveUp> {
        let half = &frame[..frame.len() / 2];
        let (mut deadline, mut backoff) = (None, Duration::from_millis(50));
        loop {
            let stream = self.stream(&mut deadline).await?;
            match stream.write_all(half).await {
                Ok(()) => break,
                Err(e) => {
                    self.ctx.stats.error(format!("write to {}: {e}", self.ctx.address));
                    self.conn = None;
                    self.wait(&mut deadline, &mut backoff).await?;
                }
            }
        }
        self.ctx.stats.written(Written::Torn, half.len());
        self.close().await;
        Ok(())
    }

    /// Hang up (FIN after everything written), if connected; the
    /// association ends with the connection.
    async fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.stream.shutdown().await;
        }
    }

    /// Wait for requests on the current connection until `deadline`
    /// (`None`: until the connection closes), and answer every one that
    /// arrives whole. Without a connection, just wait.
    async fn serve_once(&mut self, meter: &mut Meter, deadline: Option<Instant>) -> Served {
        let due = async move {
            match deadline {
                Some(at) if at > Instant::now() => tokio::time::sleep_until(at).await,
                Some(_) => {}
                None => std::future::pending().await,
            }
        };
        let Some(conn) = self.conn.as_mut() else {
            return match deadline {
                Some(_) => {
                    due.await;
                    Served::Due
                }
                None => Served::Closed,
            };
        };
        let read = tokio::select! {
            biased;
            read = conn.stream.read_buf(&mut conn.inbox) => read,
            () = due => return Served::Due,
        };
        match read {
            Ok(n) if n > 0 => self.answer_all(meter).await,
            _ => {
                self.conn = None;
                Served::Closed
            }
        }
    }

    /// Answer every whole request in the inbox, in order, on the
    /// connection they came on. With the HDLC framing, what arrives is
    /// dropped unread.
    async fn answer_all(&mut self, meter: &mut Meter) -> Served {
        let ctx = self.ctx;
        let Some(conn) = self.conn.as_mut() else { return Served::Closed };
        if ctx.options.framing != Framing::Wrapper {
            conn.inbox.clear();
            return Served::Read;
        }
        while let Some(received) = next_wrapper(&mut conn.inbox) {
            let Received::Frame { source: client, destination: SOURCE_WPORT, apdu } = received else {
                // Another version, or a wPort where the meter has no
                // logical device: dropped, as a meter does.
                ctx.stats.request(Handled::Unreadable);
                continue;
            };
            let password = ctx.options.keys.password.as_bytes();
            let answer = server::answer(meter, &mut conn.session, password, client, &apdu);
            ctx.stats.request(answer.handled);
            // Invariant: an answer is far below the wrapper's 64 KiB.
            let Ok(framed) = wrap_between(SOURCE_WPORT, client, &answer.apdu) else { continue };
            if let Err(reason) = Self::write(ctx, &mut conn.stream, &framed).await {
                ctx.stats.error(reason);
                self.conn = None;
                return Served::Closed;
            }
            ctx.stats.written(Written::Answer, framed.len());
        }
        Served::Read
    }

    /// Serve requests until `deadline` (at most one read once it has
    /// passed, so that requests never hold up a push that is due).
    async fn serve_until(&mut self, meter: &mut Meter, deadline: Instant) {
        loop {
            match self.serve_once(meter, Some(deadline)).await {
                Served::Read | Served::Closed if Instant::now() < deadline => {}
                _ => return,
            }
        }
    }

    /// Serve an open association to its end: until it is released, the
    /// connection closes, or no request comes for [`ASSOCIATION_IDLE`].
    async fn linger(&mut self, meter: &mut Meter) {
        while self.conn.as_ref().is_some_and(|c| c.session.is_associated()) {
            if self.serve_once(meter, Some(Instant::now() + ASSOCIATION_IDLE)).await != Served::Read {
                return;
            }
        }
    }

    /// Serve requests until the connection closes.
    async fn hold(&mut self, meter: &mut Meter) {
        while self.serve_once(meter, None).await == Served::Read {}
    }
}

/// Meter `meter`'s life: its pushes with their misbehaviours (answering
/// requests in between), an open association served to its end, then
/// its connection closed, or held (until the task is aborted, still
/// answering) with a count when the peer closes it.
pub async fn run(ctx: Arc<Ctx>, mut meter: Meter) {
    let mut link = Link { ctx: &ctx, conn: None, on_this: 0 };
    let gave_up = pushes(&ctx, &mut meter, &mut link).await.is_err();
    if !gave_up && !ctx.options.hold {
        link.linger(&mut meter).await;
    }
    let held = ctx.options.hold && !gave_up && link.conn.is_some();
    if !held {
        link.close().await;
    }
    ctx.stats.meter_finished(gave_up, held);
    if held {
        link.hold(&mut meter).await;
        ctx.stats.held_closed();
        std::future::pending::<()>().await;
    }
}

/// Every push of `meter`, on `link`, answering requests while waiting
/// for each.
async fn pushes(ctx: &Ctx, meter: &mut Meter, link: &mut Link<'_>) -> Result<(), GaveUp> {
    let options = &ctx.options;
    for n in 0..options.pushes {
        link.serve_until(meter, ctx.due(meter.index, n)).await;
        let at = ctx.faults.at(meter.index, n);
        let apdu = push_apdu(&meter.next_push());
        let title = meter.title;
        let framed = |bytes: &[u8]| {
            ctx.frame(bytes).map_err(|e| {
                ctx.stats.error(format!("meter {}: {e}", meterhub_plugin_api::hex::encode_upper(&title)));
                GaveUp
            })
        };
        let wrong = if at.wrong_key {
            let sealed = meter.seal(options.security, &options.keys.wrong(), &apdu);
            Some(framed(&sealed)?)
        } else {
            None
        };
        let good = framed(&meter.seal(options.security, &options.keys, &apdu))?;
        if at.torn {
            link.tear(&good).await?;
        }
        if options.per_connection.is_some_and(|p| link.on_this >= p) {
            link.close().await;
        }
        if let Some(wrong) = wrong {
            link.send(&wrong, Written::WrongKey).await?;
        }
        link.send(&good, Written::Push).await?;
        link.on_this += 1;
        if at.bad_tag {
            link.send(&framed(&bad_tag(&apdu))?, Written::BadTag).await?;
        }
        if at.replay {
            link.close().await;
            link.send(&good, Written::Replay).await?;
        }
    }
    Ok(())
}

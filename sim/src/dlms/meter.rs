//! One simulated meter: its system title, registers and invocation
//! counter ([`Meter`]), and its life on the wire ([`run`]): a push every
//! interval, connections opened (a bounded number of connects in flight)
//! and hung up as the options and misbehaviours say, then held open or
//! closed.
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

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::apdu::{DateTime, Push, bad_tag, push_apdu};
use super::cipher::{glo_cipher, glo_clear};
use super::error::DlmsError;
use super::faults::Faults;
use super::framing::frame;
use super::options::{Keys, Options, Security, Start};
use super::report::{Stats, Written};
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
}

impl Meter {
    /// Meter `index` of `options`.
    pub fn new(options: &Options, index: u32) -> Meter {
        let serial = options.first_serial + u64::from(index);
        let seed = mix(options.seed ^ mix(serial ^ 0x4d48_4200_0000_0000));
        let h = mix(seed);
        let t1 = 1_000_000 + (h % 40_000_000) as u32;
        let t2 = 500_000 + ((h >> 24) % 20_000_000) as u32;
        let registers = [t1 + t2, t1, t2, ((h >> 8) % 100_000) as u32, (t1 + t2) / 3, ((h >> 40) % 50_000) as u32];
        Meter { index, serial, title: system_title(serial), registers, counter: options.first_counter, made: 0, seed }
    }

    /// Its system title, 16 upper-case hex digits.
    pub fn title_hex(&self) -> String {
        meterhub_plugin_api::hex::encode_upper(&self.title)
    }

    /// The next push: push number `made` (0-based) at `start` plus `made`
    /// periods, its registers grown from the previous push's.
    pub fn next_push(&mut self, start: Start, period_s: u32) -> Push {
        let n = self.made;
        let time = DateTime {
            utc_ms: start.utc_ms + i64::try_from(n).unwrap_or(i64::MAX / 2) * i64::from(period_s) * 1000,
            offset_minutes: start.offset_minutes,
        };
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

/// A meter's connection, opened when a write needs it.
struct Link<'a> {
    ctx: &'a Ctx,
    stream: Option<TcpStream>,
    /// Good pushes on the current connection.
    on_this: u64,
}

/// The meter could not connect or write for the connect timeout.
struct GaveUp;

impl Link<'_> {
    /// A connection, opened if there is none; retried with backoff until
    /// `deadline`.
    async fn stream(&mut self, deadline: &mut Option<Instant>) -> Result<&mut TcpStream, GaveUp> {
        let ctx = self.ctx;
        let mut backoff = Duration::from_millis(50);
        while self.stream.is_none() {
            match self.connect().await {
                Ok(stream) => {
                    ctx.stats.connected();
                    self.stream = Some(stream);
                    self.on_this = 0;
                }
                Err(reason) => {
                    ctx.stats.error(reason);
                    self.wait(deadline, &mut backoff).await?;
                }
            }
        }
        // Invariant: the loop above ends only with a stream.
        self.stream.as_mut().ok_or(GaveUp)
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

    /// Write `bytes` whole, on a new connection if a write fails (until the
    /// connect timeout), and count them as `what`.
    async fn send(&mut self, bytes: &[u8], what: Written) -> Result<(), GaveUp> {
        let ctx = self.ctx;
        let address = ctx.address;
        let timeout = Duration::from_millis(ctx.options.connect_timeout_ms.max(1));
        let (mut deadline, mut backoff) = (None, Duration::from_millis(50));
        loop {
            let stream = self.stream(&mut deadline).await?;
            let reason = match tokio::time::timeout(timeout, stream.write_all(bytes)).await {
                Ok(Ok(())) => {
                    ctx.stats.written(what, bytes.len());
                    return Ok(());
                }
                Ok(Err(e)) => format!("write to {address}: {e}"),
                Err(_) => format!("write to {address}: no progress within {} ms", timeout.as_millis()),
            };
            ctx.stats.error(reason);
            self.stream = None;
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
                    self.stream = None;
                    self.wait(&mut deadline, &mut backoff).await?;
                }
            }
        }
        self.ctx.stats.written(Written::Torn, half.len());
        self.close().await;
        Ok(())
    }

    /// Hang up (FIN after everything written), if connected.
    async fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = stream.shutdown().await;
        }
    }
}

/// Meter `meter`'s life: its pushes with their misbehaviours, then its
/// connection closed, or held (until the task is aborted) with a count
/// when the peer closes it.
pub async fn run(ctx: Arc<Ctx>, mut meter: Meter) {
    let mut link = Link { ctx: &ctx, stream: None, on_this: 0 };
    let gave_up = pushes(&ctx, &mut meter, &mut link).await.is_err();
    let held = ctx.options.hold && !gave_up;
    let stream = if held { link.stream.take() } else { None };
    link.close().await;
    ctx.stats.meter_finished(gave_up, held && stream.is_some());
    if let Some(mut stream) = stream {
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    ctx.stats.held_closed();
                    break;
                }
                Ok(_) => {}
            }
        }
        std::future::pending::<()>().await;
    }
}

/// Every push of `meter`, on `link`.
async fn pushes(ctx: &Ctx, meter: &mut Meter, link: &mut Link<'_>) -> Result<(), GaveUp> {
    let options = &ctx.options;
    for n in 0..options.pushes {
        if options.interval_ms > 0 {
            tokio::time::sleep_until(ctx.due(meter.index, n)).await;
        }
        let at = ctx.faults.at(meter.index, n);
        let apdu = push_apdu(&meter.next_push(ctx.start, options.period_s));
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

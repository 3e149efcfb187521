//! The emulator's options (the command line's flags, or a test's struct),
//! their defaults, and the checks [`super::Dlms::new`] makes before
//! anything is sent.

use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, parse_rfc3339_ms};

use super::error::DlmsError;

/// How pushes are framed on the TCP stream (the rbgu driver's `framing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// IEC 62056-47: the 8-byte wrapper header, then the APDU.
    Wrapper,
    /// IEC 62056-46 HDLC: flag, frame format type 3 (0xA), addresses,
    /// control, HCS, LLC and APDU, FCS, flag.
    Hdlc,
}

impl Framing {
    /// Its name (as the rbgu driver's `framing` setting says it).
    pub fn name(self) -> &'static str {
        match self {
            Framing::Wrapper => "wrapper",
            Framing::Hdlc => "hdlc",
        }
    }
}

/// How each push's APDU is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// A bare data-notification (tag 0x0F): no system title in the frame.
    Plain,
    /// general-glo-ciphering (tag 0xDB) with security control 0x00: the
    /// system title and invocation counter in clear, the data-notification
    /// unprotected. The rbgu driver then knows the sender without keys.
    GloClear,
    /// general-glo-ciphering with security control 0x30: authenticated and
    /// encrypted with AES-128-GCM under the meters' EK and AK.
    Ciphered,
}

impl Security {
    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Security::Plain => "plain",
            Security::GloClear => "glo-clear",
            Security::Ciphered => "ciphered",
        }
    }

    /// Whether pushes carry a system title and an invocation counter.
    pub fn is_glo(self) -> bool {
        self != Security::Plain
    }
}

/// A 128-bit key. Its `Debug` shows nothing of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key(pub [u8; 16]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// The key of 32 hex digits (either case); the error does not quote them.
    pub fn from_hex(text: &str) -> Result<Key, String> {
        let bytes = meterhub_plugin_api::hex::decode(text).map_err(|_| "is not hex digits".to_owned())?;
        <[u8; 16]>::try_from(bytes.as_slice())
            .map(Key)
            .map_err(|_| format!("has {} hex digits, a 128-bit key has 32", text.len()))
    }

    /// Another key: every byte inverted (what `--wrong-key` pushes use).
    pub fn wrong(self) -> Key {
        Key(self.0.map(|b| !b))
    }
}

/// The secrets every simulated meter has: the global unicast keys of its
/// ciphered pushes and the LLS password a client associates with. Its
/// `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    /// The encryption key (EK), the block cipher's key.
    pub ek: Key,
    /// The authentication key (AK), in the additional authenticated data.
    pub ak: Key,
    /// The low level security password (ASCII), which an AARQ's
    /// calling-authentication-value must carry.
    pub password: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("ek", &self.ek).field("ak", &self.ak).field("password", &"..").finish()
    }
}

impl Keys {
    /// The Green Book's example keys, the defaults (and the keys
    /// `plugins/dlms-codec/settings.example.json` configures), with the
    /// password `12345678`.
    pub fn example() -> Keys {
        Keys {
            ek: Key([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F]),
            ak: Key([0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF]),
            password: "12345678".to_owned(),
        }
    }

    /// Other keys (both inverted), which the codec must refuse; the
    /// password as is.
    pub fn wrong(&self) -> Keys {
        Keys { ek: self.ek.wrong(), ak: self.ak.wrong(), password: self.password.clone() }
    }
}

/// How many of something: a count, or a share of the planned pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Exactly this many.
    Count(u64),
    /// This many hundredths of a percent of the planned pushes, rounded
    /// down (`"2.5%"` is 250).
    Share {
        /// Hundredths of a percent, 0 to 10 000.
        basis_points: u32,
    },
}

impl Default for Amount {
    /// None.
    fn default() -> Self {
        Amount::Count(0)
    }
}

impl Amount {
    /// How many, out of `total` planned pushes.
    pub fn of(self, total: u64) -> u64 {
        match self {
            Amount::Count(n) => n,
            Amount::Share { basis_points } => {
                u64::try_from(u128::from(total) * u128::from(basis_points) / 10_000).unwrap_or(u64::MAX)
            }
        }
    }
}

impl std::str::FromStr for Amount {
    type Err = String;

    /// `N` (a count) or `P%` (a share, at most two decimals: `0.5%`).
    fn from_str(text: &str) -> Result<Amount, String> {
        let bad = || format!("{text:?} is neither a count (12) nor a share of the pushes (2.5%)");
        let Some(percent) = text.strip_suffix('%') else {
            return text.parse::<u64>().map(Amount::Count).map_err(|_| bad());
        };
        let (whole, fraction) = percent.split_once('.').unwrap_or((percent, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) || fraction.len() > 2 {
            return Err(bad());
        }
        let whole: u32 = whole.parse().map_err(|_| bad())?;
        let fraction: u32 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
        match whole.checked_mul(100).and_then(|w| w.checked_add(fraction)) {
            Some(basis_points) if basis_points <= 10_000 => Ok(Amount::Share { basis_points }),
            _ => Err(format!("{text:?} is more than 100%")),
        }
    }
}

/// The misbehaviours asked for, each a count or a share of the planned
/// pushes, placed by the seed ([`super::faults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Misbehaviour {
    /// Connections hung up in the middle of a frame (the push is then sent
    /// whole on a new connection).
    pub torn: Amount,
    /// Extra frames whose APDU has the unknown tag 0x55.
    pub bad_tag: Amount,
    /// Pushes sent again, byte for byte (the same invocation counter), on
    /// a new connection.
    pub replay: Amount,
    /// Extra ciphered pushes made with other keys (needs `Security::Ciphered`).
    pub wrong_key: Amount,
}

/// Options of the emulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the rbgu driver listens, `host:port`.
    pub connect: String,
    /// Number of meters.
    pub meters: u32,
    /// The first meter's serial (the 5 bytes after "MHB" in its system
    /// title); meter k has `first_serial + k`.
    pub first_serial: u64,
    /// How frames are cut on the stream.
    pub framing: Framing,
    /// How APDUs are protected.
    pub security: Security,
    /// The keys of every meter (with `Security::Ciphered`) and its LLS
    /// password.
    pub keys: Keys,
    /// Every meter's first invocation counter (glo security).
    pub first_counter: u32,
    /// Pushes per meter.
    pub pushes: u64,
    /// Wall time between a meter's pushes, ms (0: as fast as possible); the
    /// meters' first pushes are spread evenly over it.
    pub interval_ms: u64,
    /// Pushes per connection before hanging up and reconnecting (`None`:
    /// all on one connection).
    pub per_connection: Option<u64>,
    /// Keep every connection open after its last push until stopped.
    pub hold: bool,
    /// At most this many connects in flight at once.
    pub connect_concurrency: usize,
    /// How long a meter keeps trying to connect (or to write a push)
    /// before it gives up, ms.
    pub connect_timeout_ms: u64,
    /// The meters' clock advances this many seconds per push, until a
    /// client sets a meter's push schedule.
    pub period_s: u32,
    /// The first push's time, RFC 3339 with the meters' UTC offset
    /// (`2026-01-01T00:00:00+03:00`: local midnight, deviation -180).
    pub start: String,
    /// Seed of the register values and of where misbehaviours go.
    pub seed: u64,
    /// The misbehaviours.
    pub misbehaviour: Misbehaviour,
    /// The process's open-file limit, when the caller knows it (the
    /// command line raises it to the hard limit): a run needing more
    /// descriptors than that is refused before it starts.
    pub open_files_limit: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect: "127.0.0.1:7010".to_owned(),
            meters: 5,
            first_serial: 1,
            framing: Framing::Wrapper,
            security: Security::Plain,
            keys: Keys::example(),
            first_counter: 1,
            pushes: 4,
            interval_ms: 1000,
            per_connection: None,
            hold: false,
            connect_concurrency: 256,
            connect_timeout_ms: 5000,
            period_s: 900,
            start: "2026-01-01T00:00:00+03:00".to_owned(),
            seed: 1,
            misbehaviour: Misbehaviour::default(),
            open_files_limit: None,
        }
    }
}

/// The largest serial a system title holds (5 bytes).
pub const MAX_SERIAL: u64 = (1 << 40) - 1;

/// Descriptors the process needs besides one per meter (runtime, stdio,
/// the ones a connect in flight holds).
const SPARE_FILES: u64 = 64;

/// The first push's time, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Unix ms.
    pub utc_ms: i64,
    /// The meters' offset from UTC, minutes east (+180 for Moscow).
    pub offset_minutes: i16,
}

/// The UTC offset written at the end of RFC 3339 `text`, minutes east.
fn offset_minutes(text: &str) -> Option<i16> {
    if text.ends_with(['Z', 'z']) {
        return Some(0);
    }
    let tail = text.get(text.len().checked_sub(6)?..)?.as_bytes();
    let sign = match tail[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digit = |b: u8| b.is_ascii_digit().then(|| i16::from(b - b'0'));
    let (h, m) = (digit(tail[1])? * 10 + digit(tail[2])?, digit(tail[4])? * 10 + digit(tail[5])?);
    (tail[3] == b':' && h <= 23 && m <= 59).then_some(sign * (h * 60 + m))
}

impl Options {
    /// Refuse options that cannot work together, naming the option; the
    /// first push's time.
    pub fn check(&self) -> Result<Start, DlmsError> {
        let fail = |option: &'static str, problem: String| Err(DlmsError::Option { option, problem });
        if self.meters == 0 {
            return fail("--meters", "must be at least 1".into());
        }
        if self.first_serial.checked_add(u64::from(self.meters) - 1).is_none_or(|last| last > MAX_SERIAL) {
            return fail(
                "--first-serial",
                format!(
                    "{} meters from serial {} do not fit the 5 bytes of a system title (at most {MAX_SERIAL})",
                    self.meters, self.first_serial
                ),
            );
        }
        if self.pushes == 0 {
            return fail("--pushes", "must be at least 1".into());
        }
        if self.per_connection == Some(0) {
            return fail("--per-connection", "must be at least 1".into());
        }
        if self.connect_concurrency == 0 {
            return fail("--connect-concurrency", "must be at least 1".into());
        }
        if self.period_s == 0 {
            return fail("--period-s", "must be at least 1".into());
        }
        let start_ms = match parse_rfc3339_ms(&self.start) {
            Ok(ms) => ms,
            Err(e) => return fail("--start", e),
        };
        let Some(offset) = offset_minutes(&self.start) else {
            return fail("--start", format!("{:?} ends in no UTC offset (Z or +03:00)", self.start));
        };
        let span_ms = i64::try_from(self.pushes - 1)
            .ok()
            .and_then(|n| n.checked_mul(i64::from(self.period_s) * 1000))
            .and_then(|span| span.checked_add(start_ms));
        if !(MIN_TS_MS..MAX_TS_MS).contains(&start_ms) || span_ms.is_none_or(|last| last >= MAX_TS_MS) {
            return fail(
                "--start",
                format!("{} pushes every {} s from {} leave 2000-2099", self.pushes, self.period_s, self.start),
            );
        }
        let password = &self.keys.password;
        if password.is_empty() || !password.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return fail(
                "--password",
                "must be printable ASCII characters, at least one (an LLS GraphicString)".into(),
            );
        }
        let total = self.planned_pushes();
        let m = &self.misbehaviour;
        for (option, amount) in [("--torn", m.torn), ("--bad-tag", m.bad_tag), ("--replay", m.replay)] {
            if amount.of(total) > total {
                return fail(option, format!("{} is more than the {total} planned pushes", amount.of(total)));
            }
        }
        let wrong_key = m.wrong_key.of(total);
        if wrong_key > 0 && self.security != Security::Ciphered {
            return fail("--wrong-key", "needs --ciphered (only ciphered pushes have keys to get wrong)".into());
        }
        if wrong_key > total {
            return fail("--wrong-key", format!("{wrong_key} is more than the {total} planned pushes"));
        }
        if u64::from(self.first_counter) + 2 * self.pushes > u64::from(u32::MAX) {
            return fail(
                "--first-counter",
                format!("{} pushes from {} overflow the 32-bit invocation counter", self.pushes, self.first_counter),
            );
        }
        if let Some(limit) = self.open_files_limit {
            let needed = u64::from(self.meters) + SPARE_FILES;
            if needed > limit {
                return fail(
                    "--meters",
                    format!(
                        "{} meters need about {needed} open files, the limit is {limit}: raise the hard limit (ulimit -Hn)",
                        self.meters
                    ),
                );
            }
        }
        Ok(Start { utc_ms: start_ms, offset_minutes: offset })
    }

    /// Pushes planned in all.
    pub fn planned_pushes(&self) -> u64 {
        u64::from(self.meters).saturating_mul(self.pushes)
    }
}

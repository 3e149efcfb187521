//! Device load of the benches on the listener's TCP line protocol, one
//! reading per line (one frame each): a [`Plan`] of which readings each
//! connection sends (every one new, a meter's next reading), a paced
//! [`Feeder`] (`rate` readings/s, every acknowledgement timed) and a
//! pipelined [`ingest`] (as fast as the host answers, each connection
//! keeping a window of lines unanswered, as `benches/ingest.rs` drives it).

use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http::ANSWER_TIMEOUT;
use crate::now_ms;

/// The year of timestamps before now that a [`Plan`]'s readings fill.
pub const HISTORY_MS: i64 = 365 * 86_400_000;

/// Which readings each connection sends: connection `c` of `streams` owns
/// meters `c`, `c + streams`, ...; its `i`-th reading is of meter
/// `c + streams * (i % per_stream)`, its `k = i / per_stream`-th, at
/// `ts0 + k * step_ms`, value `k` thousandths of a m³.
#[derive(Clone, Copy)]
pub struct Plan {
    ts0: i64,
    step_ms: i64,
    streams: u64,
    per_stream: u64,
    /// The host's clock when the plan was made: no reading is later.
    now: i64,
}

impl Plan {
    /// `meters` meters over `streams` connections, each meter's readings
    /// `step_ms` apart from a year ago on.
    pub fn new(meters: u64, step_ms: i64, streams: usize) -> Plan {
        let now = now_ms();
        let streams = streams as u64;
        Plan {
            ts0: (now - HISTORY_MS) / step_ms * step_ms,
            step_ms,
            streams,
            per_stream: meters.div_ceil(streams),
            now,
        }
    }

    /// Reading `i` of connection `stream` as a line.
    pub fn line(&self, stream: u64, i: u64, out: &mut Vec<u8>) {
        let (slot, k) = (i % self.per_stream, i / self.per_stream);
        let meter = stream + self.streams * slot;
        let ts = self.ts0 + k as i64 * self.step_ms;
        assert!(
            ts <= self.now,
            "reading {i} of connection {stream}: the timestamps reached the host's clock; use more --meters or a smaller --step-ms"
        );
        let _ = writeln!(
            out,
            r#"{{"device":"meter-{meter:05}","channel":"volume","ts":{ts},"value":"{}.{:03}","unit":"m3","kind":"cumulative"}}"#,
            k / 1000,
            k % 1000
        );
    }
}

/// A paced device load: `rate` readings/s over `connections` connections,
/// each with a thread that writes on schedule and one that reads the
/// answers and times them.
pub struct Feeder {
    t0: Instant,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    senders: Vec<JoinHandle<Duration>>,
    readers: Vec<JoinHandle<Vec<Sample>>>,
}

/// One acknowledged reading: when it was written (ms on the feeder's
/// clock) and how long its answer took (µs).
#[derive(Clone, Copy)]
pub struct Sample {
    /// When the line was written, ms on the feeder's clock.
    pub sent_ms: u32,
    /// Line written -> its ok answer read, µs.
    pub latency_us: u32,
}

/// What the feeder did.
pub struct Fed {
    /// Readings written and acknowledged.
    pub acked: u64,
    /// From the feeder's start to its finish.
    pub elapsed: Duration,
    /// The most a write came after its time.
    pub late: Duration,
    /// Every acknowledged reading.
    pub samples: Vec<Sample>,
}

impl Fed {
    /// Sorted latencies (µs) of the readings written in `from..to`.
    pub fn latencies(&self, from: Duration, to: Duration) -> Vec<u32> {
        let (from, to) = (from.as_millis() as u32, to.as_millis() as u32);
        let mut l: Vec<u32> =
            self.samples.iter().filter(|s| s.sent_ms >= from && s.sent_ms < to).map(|s| s.latency_us).collect();
        l.sort_unstable();
        l
    }
}

impl Feeder {
    /// Start sending `plan`'s readings to the listener at `addr`, `rate`
    /// per second in all, over `connections` connections.
    pub fn start(addr: SocketAddr, plan: Plan, rate: f64, connections: usize) -> Feeder {
        let t0 = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let interval = connections as f64 / rate;
        let (mut senders, mut readers) = (Vec::new(), Vec::new());
        for c in 0..connections {
            let (writer, reader) = connect(addr);
            let (tx, rx) = mpsc::channel::<Instant>();
            // The connections take turns: reading i of connection c is due
            // at (i + c / connections) * interval.
            let offset = interval * c as f64 / connections as f64;
            let stop = stop.clone();
            senders.push(
                std::thread::Builder::new()
                    .name(format!("feed-{c}"))
                    .spawn(move || send(c, writer, plan, t0, offset, interval, &tx, &stop))
                    .expect("spawn a feeder"),
            );
            let acked = acked.clone();
            readers.push(
                std::thread::Builder::new()
                    .name(format!("answers-{c}"))
                    .spawn(move || receive(c, reader, &rx, t0, &acked))
                    .expect("spawn a feeder's reader"),
            );
        }
        Feeder { t0, stop, acked, senders, readers }
    }

    /// Time on the feeder's clock.
    pub fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Readings acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Panics if a thread of the feeder ended (it panicked: an answer was
    /// not ok, or the host closed).
    pub fn check(&self) {
        let ended =
            self.senders.iter().any(JoinHandle::is_finished) || self.readers.iter().any(JoinHandle::is_finished);
        assert!(!ended, "the feeder failed (see the panic above)");
    }

    /// Stop writing, collect every answer.
    pub fn finish(self) -> Fed {
        self.stop.store(true, Ordering::Relaxed);
        let late = self.senders.into_iter().map(|t| t.join().expect("a feeder failed")).max().unwrap_or_default();
        let mut samples = Vec::new();
        for reader in self.readers {
            samples.extend(reader.join().expect("a feeder's reader failed"));
        }
        let elapsed = self.t0.elapsed();
        Fed { acked: samples.len() as u64, elapsed, late, samples }
    }
}

/// Write connection `c`'s readings on schedule until `stop`: every reading
/// due by now in one write, its time first handed to the reader. Returns
/// the most a write came after its time.
#[allow(clippy::too_many_arguments)]
fn send(
    c: usize,
    mut writer: TcpStream,
    plan: Plan,
    t0: Instant,
    offset: f64,
    interval: f64,
    tx: &mpsc::Sender<Instant>,
    stop: &AtomicBool,
) -> Duration {
    let due = |i: u64| t0 + Duration::from_secs_f64(offset + i as f64 * interval);
    let (mut i, mut late) = (0u64, Duration::ZERO);
    let mut out = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if due(i) > now {
            std::thread::sleep(due(i) - now);
            continue;
        }
        late = late.max(now - due(i));
        out.clear();
        let first = i;
        while due(i) <= now {
            plan.line(c as u64, i, &mut out);
            i += 1;
        }
        let at = Instant::now();
        for _ in first..i {
            tx.send(at).expect("the feeder's reader is gone");
        }
        writer.write_all(&out).unwrap_or_else(|e| panic!("feeder {c}: send: {e}"));
    }
    late
}

/// Read connection `c`'s answers, one per written line, until the writer
/// is done and every line is answered.
fn receive(
    c: usize,
    mut reader: BufReader<TcpStream>,
    rx: &mpsc::Receiver<Instant>,
    t0: Instant,
    acked: &AtomicU64,
) -> Vec<Sample> {
    let mut samples = Vec::with_capacity(1 << 16);
    let mut answer = String::new();
    let mut line = 0;
    for sent_at in rx {
        answer.clear();
        match reader.read_line(&mut answer) {
            Ok(0) => panic!("feeder {c}: the host closed with line {} unanswered", line + 1),
            Ok(_) => {}
            Err(e) => panic!("feeder {c}: reading answer {}: {e}", line + 1),
        }
        let latency = sent_at.elapsed();
        line += 1;
        check_answer(c, &answer, line);
        samples.push(Sample {
            sent_ms: u32::try_from((sent_at - t0).as_millis()).unwrap_or(u32::MAX),
            latency_us: u32::try_from(latency.as_micros()).unwrap_or(u32::MAX),
        });
        acked.fetch_add(1, Ordering::Relaxed);
    }
    samples
}

/// The readings' connections as `benches/ingest.rs` drives them: `count`
/// readings in all (rounded up to a multiple of the connections), each
/// connection keeping up to `window` lines unanswered. Returns the
/// readings acknowledged and the time taken.
pub fn ingest(addr: SocketAddr, plan: Plan, connections: usize, window: usize, count: u64) -> (u64, Duration) {
    let per = count.div_ceil(connections as u64);
    let barrier = Arc::new(Barrier::new(connections + 1));
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let barrier = barrier.clone();
            std::thread::Builder::new()
                .name(format!("conn-{c}"))
                .spawn(move || pipelined(c, addr, plan, per, window, &barrier))
                .expect("spawn a connection thread")
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let acked = threads.into_iter().map(|t| t.join().expect("a connection failed")).sum();
    (acked, started.elapsed())
}

/// One connection sending its first `count` readings of `plan`, up to
/// `window` unanswered; every answer must be ok.
fn pipelined(c: usize, addr: SocketAddr, plan: Plan, count: u64, window: usize, barrier: &Barrier) -> u64 {
    let (mut writer, mut reader) = connect(addr);
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut out = Vec::with_capacity(window * 160);
    let mut answer = String::new();
    barrier.wait();
    while acked < count {
        if sent < count && sent - acked < window as u64 {
            out.clear();
            while sent < count && sent - acked < window as u64 {
                plan.line(c as u64, sent, &mut out);
                sent += 1;
            }
            writer.write_all(&out).unwrap_or_else(|e| panic!("connection {c}: send: {e}"));
        }
        // One blocking read, then whatever answers are already buffered.
        loop {
            answer.clear();
            match reader.read_line(&mut answer) {
                Ok(0) => panic!("connection {c}: the host closed with {} lines unanswered", sent - acked),
                Ok(_) => {}
                Err(e) => panic!("connection {c}: reading answer {}: {e}", acked + 1),
            }
            acked += 1;
            check_answer(c, &answer, acked);
            if !reader.buffer().contains(&b'\n') {
                break;
            }
        }
    }
    acked
}

/// Call `f` every `every` for `length` (a bench watching its hosts while a
/// [`Feeder`] runs).
pub fn run_for(length: Duration, every: Duration, mut f: impl FnMut()) {
    let end = Instant::now() + length;
    loop {
        f();
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep(every.min(end - now));
    }
}

/// A connection to the listener: its writing half and its buffered reader.
fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).expect("read timeout");
    let writer = stream.try_clone().expect("clone the socket");
    (writer, BufReader::with_capacity(64 * 1024, stream))
}

/// `{"ok":true,"line":<line>,...}` or a panic naming what came instead.
fn check_answer(c: usize, answer: &str, line: u64) {
    let ok = answer
        .strip_prefix(r#"{"ok":true,"line":"#)
        .and_then(|rest| rest.split([',', '}']).next())
        .is_some_and(|n| n.parse() == Ok(line));
    assert!(ok, "connection {c}: line {line} was answered {answer:?}, expected ok for line {line}");
}

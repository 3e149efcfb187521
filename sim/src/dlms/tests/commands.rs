//! The command exchange of `docs/dlms-commands.md` against a real meter
//! task over loopback TCP: the test is the client (the rbgu driver's
//! side), writes the spec's bytes and checks the bytes answered, and that
//! the pushes after a SET carry the new clock and period. Every wait is
//! on a condition with a deadline.

use std::time::Duration;

use meterhub_plugin_api::hex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::until;
use crate::dlms::apdu::DateTime;
use crate::dlms::{Dlms, DlmsError, Handled, Options, Report, Stats};

/// The client's wPort (the СПОДЭС reader association) and the meter's.
const CLIENT: u16 = 0x20;
const METER: u16 = 0x01;

/// The spec's InitiateRequest: DLMS 6, get and set, 1024.
const INITIATE: &str = "01 00 00 00 06 5F 1F 04 00 00 00 18 04 00";
/// The spec's AARE, accepted with get and set.
const AARE_ACCEPTED: &str = "61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 \
    BE 10 04 0E 08 00 06 5F 1F 04 00 00 00 18 04 00 00 07";
/// A SET of the clock: 2026-12-06 (a Sunday) 13:00:00 local, deviation
/// -180 (UTC+3), status 0: 10:00:00Z.
const SET_CLOCK: &str = "C1 01 C1 0008 0000010000FF 02 00 09 0C 07EA 0C 06 07 0D 00 00 00 FF4C 00";
const CLOCK_WRITTEN: &str = "07EA 0C 06 07 0D 00 00 00 FF4C 00";
/// A SET of the push schedule: every 30 minutes.
const SET_EVERY_30: &str = "C1 01 C2 0016 00000F0004FF 04 00 01 02 \
    02 02 09 04 FF 00 00 00 09 05 FF FF FF FF FF 02 02 09 04 FF 1E 00 00 09 05 FF FF FF FF FF";

fn unhex(text: &str) -> Vec<u8> {
    hex::decode_spaced(text).unwrap()
}

/// An AARQ: LN without ciphering, sender-acse-requirements, `mechanism`
/// (OID contents) and `password` when given, the spec's InitiateRequest.
fn aarq(mechanism: Option<&str>, password: Option<&[u8]>) -> Vec<u8> {
    let mut body = unhex("A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80");
    if let Some(oid) = mechanism {
        let oid = unhex(oid);
        body.extend_from_slice(&[0x8B, oid.len() as u8]);
        body.extend_from_slice(&oid);
    }
    if let Some(password) = password {
        body.extend_from_slice(&[0xAC, password.len() as u8 + 2, 0x80, password.len() as u8]);
        body.extend_from_slice(password);
    }
    body.extend_from_slice(&unhex(&format!("BE 10 04 0E {INITIATE}")));
    [vec![0x60, body.len() as u8], body].concat()
}

const LLS: &str = "60 85 74 05 08 02 01";

/// A refused AARE with `diagnostic`.
fn aare_refused(diagnostic: u8) -> Vec<u8> {
    let mut aare = unhex("61 17 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01");
    aare.push(diagnostic);
    aare
}

/// The instant a push's data-notification carries (a plain push: the
/// date-time at bytes 6..18).
fn push_time(apdu: &[u8]) -> DateTime {
    assert_eq!((apdu[0], apdu[5]), (0x0F, 12), "a data-notification with its date-time");
    DateTime::from_bytes(apdu[6..18].try_into().unwrap(), 0).expect("a valid date-time")
}

/// The client's end of a meter's connection, cutting it into wrapper
/// frames.
struct Client {
    stream: TcpStream,
    inbox: Vec<u8>,
}

/// How long any one wait may take.
const DEADLINE: Duration = Duration::from_secs(10);

impl Client {
    /// The meter's connection, accepted.
    async fn accept(listener: &TcpListener) -> Client {
        let (stream, _) = tokio::time::timeout(DEADLINE, listener.accept()).await.expect("a meter connects").unwrap();
        Client { stream, inbox: Vec::new() }
    }

    /// Send `apdu` in the wrapper of `version` from `source` to `destination`.
    async fn send_raw(&mut self, version: u16, source: u16, destination: u16, apdu: &[u8]) {
        let mut frame = Vec::new();
        for field in [version, source, destination, apdu.len() as u16] {
            frame.extend_from_slice(&field.to_be_bytes());
        }
        frame.extend_from_slice(apdu);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// Send `apdu` as the spec's driver does.
    async fn send(&mut self, apdu: &[u8]) {
        self.send_raw(1, CLIENT, METER, apdu).await;
    }

    /// The next frame's wPorts and APDU.
    async fn frame(&mut self) -> (u16, u16, Vec<u8>) {
        loop {
            if self.inbox.len() >= 8 {
                let field = |i: usize| u16::from_be_bytes([self.inbox[2 * i], self.inbox[2 * i + 1]]);
                assert_eq!(field(0), 1, "wrapper version 1: {:02X?}", self.inbox);
                let end = 8 + usize::from(field(3));
                if self.inbox.len() >= end {
                    let (source, destination) = (field(1), field(2));
                    let apdu = self.inbox[8..end].to_vec();
                    self.inbox.drain(..end);
                    return (source, destination, apdu);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(DEADLINE, self.stream.read(&mut chunk))
                .await
                .expect("a frame within the deadline")
                .unwrap();
            assert!(n > 0, "the meter hung up");
            self.inbox.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next push (wPorts 1 and 1).
    async fn push(&mut self) -> Vec<u8> {
        let (source, destination, apdu) = self.frame().await;
        assert_eq!((source, destination, apdu[0]), (1, 1, 0x0F), "a push: {apdu:02X?}");
        apdu
    }

    /// The next answer (the wPorts swapped), and the pushes before it.
    async fn answer(&mut self) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut pushes = Vec::new();
        loop {
            let (source, destination, apdu) = self.frame().await;
            if apdu[0] == 0x0F {
                assert_eq!((source, destination), (1, 1), "a push");
                pushes.push(apdu);
                continue;
            }
            assert_eq!((source, destination), (METER, CLIENT), "an answer, wPorts swapped: {apdu:02X?}");
            return (apdu, pushes);
        }
    }

    /// Send `request` and take its answer.
    async fn ask(&mut self, request: &[u8]) -> Vec<u8> {
        self.send(request).await;
        self.answer().await.0
    }

    /// Wait for the meter to hang up (reading past its last frames).
    async fn hung_up(&mut self) {
        let mut chunk = [0u8; 4096];
        loop {
            let n = tokio::time::timeout(DEADLINE, self.stream.read(&mut chunk)).await.expect("a hang-up").unwrap_or(0);
            if n == 0 {
                return;
            }
        }
    }
}

/// A run of one plain meter against `listener`, stopped by the sender.
struct Run {
    stats: std::sync::Arc<Stats>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<Report, DlmsError>>,
}

async fn start(listener: &TcpListener, options: Options) -> Run {
    let connect = listener.local_addr().unwrap().to_string();
    let dlms = Dlms::new(Options { connect, meters: 1, ..options }).unwrap();
    let stats = dlms.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(dlms.run_until(async {
        let _ = stopped.await;
    }));
    Run { stats, stop, task }
}

impl Run {
    async fn report(self) -> Report {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn a_client_sets_the_clock_and_the_push_period_between_pushes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let run = start(&listener, Options { pushes: 1_000_000, interval_ms: 10, ..Options::default() }).await;
    let mut client = Client::accept(&listener).await;
    let first = client.push().await;
    assert_eq!(push_time(&first).utc_text(), "2025-12-31T21:00:00Z", "--start");

    assert_eq!(client.ask(&aarq(Some(LLS), Some(b"12345678"))).await, unhex(AARE_ACCEPTED));

    // The clock: the next push carries the time written, byte for byte.
    assert_eq!(client.ask(&unhex(SET_CLOCK)).await, [0xC5, 0x01, 0xC1, 0x00]);
    let set = client.push().await;
    assert_eq!(set[6..18], unhex(CLOCK_WRITTEN), "the local time and deviation written");
    assert_eq!(push_time(&set).utc_text(), "2026-12-06T10:00:00Z");
    let next = client.push().await;
    assert_eq!(push_time(&next).utc_ms - push_time(&set).utc_ms, 900_000, "still --period-s");

    // The period: every push after the answer is 30 min after the one before.
    client.send(&unhex(SET_EVERY_30)).await;
    let (answer, before) = client.answer().await;
    assert_eq!(answer, [0xC5, 0x01, 0xC2, 0x00]);
    let mut times = vec![push_time(before.last().unwrap_or(&next)).utc_ms];
    for _ in 0..3 {
        times.push(push_time(&client.push().await).utc_ms);
    }
    assert!(times.windows(2).all(|w| w[1] - w[0] == 1_800_000), "every 30 min: {times:?}");

    // Read back: the schedule written.
    let get_schedule = unhex("C0 01 C3 0016 00000F0004FF 04 00");
    let schedule = &unhex(SET_EVERY_30)[13..];
    assert_eq!(client.ask(&get_schedule).await, [&[0xC4, 0x01, 0xC3, 0x00][..], schedule].concat());

    // Released: a SET is then denied.
    assert_eq!(client.ask(&unhex("62 03 80 01 00")).await, unhex("63 03 80 01 00"));
    let mut late = unhex(SET_CLOCK);
    late[2] = 0xC4;
    assert_eq!(client.ask(&late).await, [0xC5, 0x01, 0xC4, 0x03]);

    let report = run.report().await;
    let requests = (
        report.associations_accepted,
        report.associations_refused,
        report.sets_clock,
        report.sets_push_schedule,
        report.sets_refused,
        report.gets,
        report.releases,
        report.unreadable_requests,
    );
    assert_eq!(requests, (1, 0, 1, 1, 1, 1, 1, 0), "{report:#?}");
    assert_eq!((report.dlms_sim.as_str(), report.errors, report.connections), ("stopped", 0, 1), "{report:#?}");
    assert_eq!(report.frames, report.pushes + 6, "the pushes and six answers");
}

#[tokio::test]
async fn a_held_meter_refuses_what_it_must_with_the_specs_codes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let run = start(&listener, Options { pushes: 1, interval_ms: 0, hold: true, ..Options::default() }).await;
    let mut client = Client::accept(&listener).await;
    client.push().await;
    until("the meter holding", || (run.stats.finished() == 1).then_some(())).await;

    // No association yet: denied.
    assert_eq!(client.ask(&unhex(SET_CLOCK)).await, [0xC5, 0x01, 0xC1, 0x03]);
    // Refused associations: a wrong password, none, another mechanism, none named.
    assert_eq!(client.ask(&aarq(Some(LLS), Some(b"87654321"))).await, aare_refused(13));
    assert_eq!(client.ask(&aarq(Some(LLS), None)).await, aare_refused(14));
    assert_eq!(client.ask(&aarq(Some("60 85 74 05 08 02 05"), Some(b"12345678"))).await, aare_refused(11));
    assert_eq!(client.ask(&aarq(None, Some(b"12345678"))).await, aare_refused(12));
    // Malformed: a length past the end.
    let mut malformed = aarq(Some(LLS), Some(b"12345678"));
    malformed[1] += 4;
    assert_eq!(client.ask(&malformed).await, aare_refused(1));
    // Still no association.
    assert_eq!(client.ask(&unhex(SET_CLOCK)).await, [0xC5, 0x01, 0xC1, 0x03]);

    assert_eq!(client.ask(&aarq(Some(LLS), Some(b"12345678"))).await, unhex(AARE_ACCEPTED));
    let serial_number = unhex("C1 01 C1 0001 0000600100FF 02 00 09 08 3030303030303031");
    assert_eq!(client.ask(&serial_number).await, [0xC5, 0x01, 0xC1, 0x04], "object-undefined");
    let clock_as_u32 = unhex("C1 01 C2 0008 0000010000FF 02 00 06 00000001");
    assert_eq!(client.ask(&clock_as_u32).await, [0xC5, 0x01, 0xC2, 0x0C], "type-unmatched");
    let clock_of_class_1 = unhex("C1 01 C3 0001 0000010000FF 02 00 09 0C 07EA0C06070D000000FF4C00");
    assert_eq!(client.ask(&clock_of_class_1).await, [0xC5, 0x01, 0xC3, 0x09], "object-class-inconsistent");
    let every_7 = unhex(
        "C1 01 C4 0016 00000F0004FF 04 00 01 02 \
         02 02 09 04 FF 00 00 00 09 05 FF FF FF FF FF 02 02 09 04 FF 07 00 00 09 05 FF FF FF FF FF",
    );
    assert_eq!(client.ask(&every_7).await, [0xC5, 0x01, 0xC4, 0xFA], "a schedule the spec does not allow");
    let action = unhex("C3 01 C5 0046 0000600300FF 01 00");
    assert_eq!(client.ask(&action).await, [0xD8, 0x01, 0x02], "a service not served");

    // Dropped unanswered: another wrapper version, another logical device.
    client.send_raw(2, CLIENT, METER, &unhex(SET_CLOCK)).await;
    until("the other version counted", || (run.stats.requests(Handled::Unreadable) == 3).then_some(())).await;
    client.send_raw(1, CLIENT, 0x11, &unhex(SET_CLOCK)).await;
    until("the other wPort counted", || (run.stats.requests(Handled::Unreadable) == 4).then_some(())).await;
    // The association survived them.
    assert_eq!(client.ask(&unhex(SET_EVERY_30)).await, [0xC5, 0x01, 0xC2, 0x00]);

    let report = run.report().await;
    let requests = (
        report.associations_accepted,
        report.associations_refused,
        report.sets_clock,
        report.sets_push_schedule,
        report.sets_refused,
        report.unreadable_requests,
    );
    assert_eq!(requests, (1, 4, 0, 1, 6, 4), "{report:#?}");
    assert_eq!((report.held, report.pushes), (Some(1), 1));
}

#[tokio::test]
async fn after_its_last_push_a_meter_serves_its_association_to_the_release() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Two pushes 5 s apart: the client associates between them (in
    // milliseconds over loopback; 5 s leaves room for a loaded machine).
    let run = start(&listener, Options { pushes: 2, interval_ms: 5000, ..Options::default() }).await;
    let mut client = Client::accept(&listener).await;
    client.push().await;
    assert_eq!(client.ask(&aarq(Some(LLS), Some(b"12345678"))).await, unhex(AARE_ACCEPTED));
    let last = client.push().await;
    assert_eq!(run.stats.finished(), 0, "the meter waits for the release");
    // After its last push: the clock read back is the next push's time.
    let answer = client.ask(&unhex("C0 01 C1 0008 0000010000FF 02 00")).await;
    let next = push_time(&last).utc_ms + 900_000;
    let bytes = DateTime { utc_ms: next, offset_minutes: 180 }.bytes();
    assert_eq!(answer, [&[0xC4, 0x01, 0xC1, 0x00, 0x09, 0x0C][..], &bytes].concat());
    assert_eq!(client.ask(&unhex("62 03 80 01 00")).await, unhex("63 03 80 01 00"));
    client.hung_up().await;
    let report = tokio::time::timeout(DEADLINE, run.task).await.expect("the run ends").unwrap().unwrap();
    assert_eq!((report.dlms_sim.as_str(), report.pushes, report.releases, report.gets), ("done", 2, 1, 1));
}

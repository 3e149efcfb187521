//! Unit tests of the DLMS emulator: the APDU is the `spodes-daily` layout
//! byte for byte (a frozen vector, and the COSEM date-time of dlms-codec's
//! own fixture); ciphering is the Green Book's (its published example)
//! and opens with aes-gcm; FCS-16 is RFC 1662's; HDLC and the wrapper are
//! what the rbgu driver reads; the options, amounts and misbehaviours; and
//! whole runs against a TCP receiver in the test that cuts the stream
//! into frames (torn, replay, bad tag, wrong key, per-connection, hold,
//! connect failures, determinism); and, in [`commands`], the command
//! exchange against a meter over loopback TCP.

mod commands;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::consts::U12;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, AesGcm, KeyInit, Nonce, Tag};
use meterhub_plugin_api::hex;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::apdu::{BAD_TAG, DateTime, Push, REGISTERS, push_apdu};
use super::cipher::{glo_cipher, glo_clear};
use super::faults::Faults;
use super::framing::{fcs16, fcs16_update, hdlc, wrap};
use super::options::{Amount, Framing, Keys, Misbehaviour, Options, Security};
use super::{Dlms, DlmsError, Meter, Report};

fn unhex(text: &str) -> Vec<u8> {
    hex::decode_spaced(text).unwrap()
}

type Gcm = AesGcm<Aes128, U12, U12>;

/// The APDU inside general-glo-ciphering `glo` (SC 0x30) opened with
/// `keys` directly with aes-gcm, or `None` when authentication fails.
fn open(glo: &[u8], keys: &Keys) -> Option<Vec<u8>> {
    assert_eq!((glo[0], glo[1]), (0xDB, 8), "general-glo-ciphering, title of 8");
    let title: [u8; 8] = glo[2..10].try_into().unwrap();
    let (len, at) = if glo[10] < 0x80 { (usize::from(glo[10]), 11) } else { (usize::from(glo[11]), 12) };
    assert_eq!(glo.len() - at, len, "the A-XDR length is the rest");
    let (control, counter) = (glo[at], u32::from_be_bytes(glo[at + 1..at + 5].try_into().unwrap()));
    assert_eq!(control, 0x30);
    let (information, tag) = glo[at + 5..].split_at(glo.len() - at - 5 - 12);
    let mut iv = title.to_vec();
    iv.extend_from_slice(&counter.to_be_bytes());
    let mut aad = vec![control];
    aad.extend_from_slice(&keys.ak.0);
    let mut plain = information.to_vec();
    let gcm = Gcm::new(&keys.ek.0.into());
    let iv = Nonce::<U12>::try_from(iv.as_slice()).unwrap();
    let tag = Tag::<U12>::try_from(tag).unwrap();
    gcm.decrypt_inout_detached(&iv, &aad, plain.as_mut_slice().into(), &tag).ok().map(|()| plain)
}

/// The invocation counter of a general-glo-ciphering APDU.
fn counter(glo: &[u8]) -> u32 {
    let at = if glo[10] < 0x80 { 11 } else { 12 };
    u32::from_be_bytes(glo[at + 1..at + 5].try_into().unwrap())
}

// ---- APDU -----------------------------------------------------------------

/// Meter 0's first push under the default options, frozen: any change to
/// the bytes is a change of what the codec gets.
const FIRST_PUSH: &str = "0F 00000001 0C 07EA01010400000000FF4C00 0209 \
    0906 0000190900FF 0908 3030303030303031 090C 07EA01010400000000FF4C00 \
    06 02D8F926 06 0228A481 06 00B054A5 06 00015612 06 00F2FDB7 06 0000500D";

#[test]
fn the_push_is_the_spodes_daily_layout_byte_for_byte() {
    let options = Options::default();
    let start = options.check().unwrap();
    let mut meter = Meter::new(&options, start, 0);
    assert_eq!(meter.title_hex(), "4D48420000000001");
    let push = meter.next_push();
    let apdu = push_apdu(&push);
    assert_eq!(hex::encode_upper(&apdu), FIRST_PUSH.replace(' ', ""));
    // The layout, read back field by field.
    assert_eq!(apdu[0], 0x0F, "data-notification");
    assert_eq!(apdu[1..5], [0, 0, 0, 1], "invoke id 1");
    assert_eq!(apdu[5], 12, "date-time present");
    assert_eq!(apdu[18..20], [0x02, 9], "a structure of the layout's 9 elements");
    assert_eq!(apdu[20..28], [0x09, 6, 0, 0, 25, 9, 0, 255], "the daily push setup's logical name");
    assert_eq!(&apdu[28..38], b"\x09\x0800000001", "the serial, an octet-string");
    assert_eq!(apdu[38..40], [0x09, 12]);
    assert_eq!(apdu[40..52], apdu[6..18], "the clock is the notification's date-time");
    let registers: Vec<u32> = apdu[52..]
        .chunks(5)
        .map(|c| (c[0] == 0x06).then(|| u32::from_be_bytes(c[1..].try_into().unwrap())).unwrap())
        .collect();
    assert_eq!(registers, push.registers);
    assert_eq!(registers.len(), REGISTERS.len());
    assert_eq!(registers[0], registers[1] + registers[2], "A+ is the sum of its tariffs");
}

#[test]
fn the_date_time_is_dlms_codecs_moscow_time() {
    // plugins/dlms-codec/fixtures/cases/spodes-energy-layout.hex: 2026-03-01
    // 00:00 Moscow, a Sunday, deviation -180, status 0, which the codec
    // reads as 2026-02-28T21:00:00Z.
    let at = DateTime { utc_ms: 1_772_312_400_000, offset_minutes: 180 };
    assert_eq!(hex::encode_upper(&at.bytes()), "07EA03010700000000FF4C00");
    assert_eq!(at.utc_text(), "2026-02-28T21:00:00Z");
    let utc = DateTime { utc_ms: 1_772_312_400_000 + 3_723_000, offset_minutes: 0 };
    assert_eq!(
        hex::encode_upper(&utc.bytes()),
        "07EA 021C 06 16 02 03 00 0000 00".replace(' ', ""),
        "Saturday 22:02:03Z, deviation 0"
    );
    // Read back, as a meter reads a clock written to it.
    assert_eq!(DateTime::from_bytes(at.bytes(), 0), Some(at));
    assert_eq!(DateTime::from_bytes(utc.bytes(), 180), Some(utc));
    let unspecified = unhex("07EA03010700000000800000").try_into().unwrap();
    assert_eq!(DateTime::from_bytes(unspecified, 180), Some(at), "deviation 0x8000: the meter's own offset");
    for bad in [
        "07EA02 1D 0700000000FF4C00",
        "07EA0301 07 18 000000FF4C00",
        "FFFF03010700000000FF4C00",
        "07EA0301070000000003C100",
    ] {
        let bytes = unhex(bad).try_into().unwrap();
        assert_eq!(DateTime::from_bytes(bytes, 0), None, "{bad}");
    }
}

#[test]
fn registers_grow_and_repeat_under_the_same_seed() {
    let options = Options { pushes: 200, period_s: 3600, ..Options::default() };
    let start = options.check().unwrap();
    let pushes = |options: &Options, index| {
        let mut meter = Meter::new(options, start, index);
        (0..options.pushes).map(|_| meter.next_push()).collect::<Vec<Push>>()
    };
    let run = pushes(&options, 1);
    assert_eq!(run, pushes(&options, 1), "the same options, the same pushes");
    assert_ne!(run[0].registers, pushes(&Options { seed: 2, ..options.clone() }, 1)[0].registers);
    assert_ne!(run[0].registers, pushes(&options, 0)[0].registers, "meters differ");
    for pair in run.windows(2) {
        let (a, b) = (pair[0].registers, pair[1].registers);
        assert!(b[0] > a[0], "A+ grows every push: {a:?} -> {b:?}");
        assert!(a.iter().zip(b).all(|(x, y)| y >= *x), "no register goes down: {a:?} -> {b:?}");
        assert_eq!(b[0], b[1] + b[2], "A+ = T1 + T2");
        assert!(b[0] - a[0] <= 1000, "at most an average 1 kW over an hour: {}", b[0] - a[0]);
        assert_eq!(pair[1].time.utc_ms - pair[0].time.utc_ms, 3_600_000);
        assert_eq!(pair[1].invoke_id, pair[0].invoke_id + 1);
    }
    let night = run.iter().zip(&run[1..]).filter(|(a, b)| b.registers[2] > a.registers[2]).count();
    assert!(night > 0 && night < run.len() / 2, "tariff 2 grows at night only: {night}");
}

// ---- ciphering ------------------------------------------------------------

#[test]
fn the_green_book_example_seals_as_published() {
    // Green Book Table 40 (as dlms-codec's tests and public DLMS libraries
    // reproduce it): system title 4D4D4D0000BC614E, IC 0x01234567, SC 0x30,
    // the example keys.
    let title: [u8; 8] = unhex("4D4D4D0000BC614E").try_into().unwrap();
    let sealed = glo_cipher(&title, 0x0123_4567, &Keys::example(), &unhex("c0010000080000010000ff0200"));
    let want = "DB 08 4D4D4D0000BC614E 1E 30 01234567 411312ff935a47566827c467bc 7d825c3be4a77c3fcc056b6b";
    assert_eq!(sealed, unhex(want));
}

/// Meter 0's first push sealed with invocation counter 1 and the default
/// keys, frozen: header, ciphertext (82 bytes), tag (12). Computed once;
/// Python's `cryptography` AESGCM gives the same (its 16-byte tag cut to 12).
const FIRST_SEALED: &str = "DB 08 4D48420000000001 63 30 00000001 \
    2D7EF2B8E938ECF7F4834E03C45A0BCD9799F112C5403F99A18283D4E454098EF60009C35DD4628B02 \
    23348732F6644553BF98D25867E3A6624208BCA25B12EE94DB91426370034116A43036CE41E98F8EDA \
    E6D28ACEA8A9B837A204CB76";

#[test]
fn a_ciphered_push_opens_with_aes_gcm_and_only_with_its_keys() {
    let options = Options::default();
    let start = options.check().unwrap();
    let mut meter = Meter::new(&options, start, 0);
    let apdu = push_apdu(&meter.next_push());
    let sealed = meter.seal(Security::Ciphered, &options.keys, &apdu);
    assert_eq!(hex::encode_upper(&sealed), FIRST_SEALED.replace(' ', ""));
    assert_eq!(sealed[2..10], meter.title, "the system title in clear");
    assert_eq!(counter(&sealed), 1, "--first-counter");
    assert_eq!(sealed.len(), apdu.len() + 2 + 8 + 1 + 5 + 12);
    assert_eq!(open(&sealed, &options.keys), Some(apdu.clone()), "opens to the APDU");
    assert_eq!(open(&sealed, &options.keys.wrong()), None, "not with other keys");
    let other_ak = Keys { ak: options.keys.wrong().ak, ..options.keys.clone() };
    assert_eq!(open(&sealed, &other_ak), None, "the AK is authenticated");
    let mut changed = sealed.clone();
    changed[30] ^= 1;
    assert_eq!(open(&changed, &options.keys), None, "a changed byte is refused");
    // The next APDU takes the next counter; glo-clear carries the APDU as is.
    assert_eq!(counter(&meter.seal(Security::Ciphered, &options.keys, &apdu)), 2);
    let clear = glo_clear(&meter.title, 7, &apdu);
    assert_eq!(clear[..12], [0xDB, 8, 0x4D, 0x48, 0x42, 0, 0, 0, 0, 1, apdu.len() as u8 + 5, 0x00]);
    assert_eq!((counter(&clear), &clear[16..]), (7, &apdu[..]));
}

// ---- framing --------------------------------------------------------------

#[test]
fn fcs16_is_the_ppp_fcs_of_rfc_1662() {
    assert_eq!(fcs16(b"123456789"), 0x906E, "CRC-16/X-25's check value");
    // RFC 1662 C.2: the FCS run over a frame and its own FCS (low byte
    // first) leaves the good-FCS residue 0xF0B8.
    let data = b"meterhub";
    let frame = [&data[..], &fcs16(data).to_le_bytes()].concat();
    assert_eq!(fcs16_update(0xFFFF, &frame), 0xF0B8);
    // A public SNRM frame (u9n/dlms-cosem tests, as rbgu's): 7E A0 08 02 23 21 93 BD 64 7E.
    assert_eq!(fcs16(&unhex("a008022321 93")), 0x64BD);
}

#[test]
fn hdlc_frames_carry_the_apdu_after_the_llc_header() {
    let apdu = unhex("0f 00000001 00 0600000001");
    let frame = hdlc(&apdu);
    let len = frame.len() - 2;
    assert_eq!((frame[0], frame[frame.len() - 1]), (0x7E, 0x7E));
    assert_eq!(u16::from_be_bytes([frame[1], frame[2]]), 0xA000 | len as u16, "type 3, no segmentation, length");
    assert_eq!(frame[3..7], [0x21, 0x02, 0x23, 0x13], "client 16, server 1/17, UI");
    assert_eq!(u16::from_le_bytes([frame[7], frame[8]]), fcs16(&frame[1..7]), "HCS");
    assert_eq!(frame[9..12], [0xE6, 0xE7, 0x00], "LLC");
    assert_eq!(frame[12..len - 1], apdu[..]);
    assert_eq!(u16::from_le_bytes([frame[len - 1], frame[len]]), fcs16(&frame[1..len - 1]), "FCS");
    // Too long for one frame: segments, all but the last with the bit.
    let long = vec![0x5A; 3000];
    let frames = hdlc(&long);
    let mut rest = &frames[..];
    let mut information = Vec::new();
    let mut segmented = Vec::new();
    while !rest.is_empty() {
        let format = u16::from_be_bytes([rest[1], rest[2]]);
        let len = usize::from(format & 0x07FF);
        segmented.push(format & 0x0800 != 0);
        assert_eq!(rest[len + 1], 0x7E);
        assert_eq!(u16::from_le_bytes([rest[len - 1], rest[len]]), fcs16(&rest[1..len - 1]));
        information.extend_from_slice(&rest[9..len - 1]);
        rest = &rest[len + 2..];
    }
    assert_eq!(segmented, [true, false]);
    assert_eq!(information, [&[0xE6, 0xE7, 0x00][..], &long].concat());
}

#[test]
fn the_wrapper_header_is_version_1_wports_1_and_the_length() {
    let framed = wrap(&[0x0F; 300]).unwrap();
    assert_eq!(framed[..8], [0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x01, 0x2C]);
    assert_eq!(framed.len(), 308);
    let err = wrap(&vec![0; 70_000]).unwrap_err();
    assert_eq!(err.to_string(), "wrapper frame: APDU of 70000 bytes exceeds the 65535 bytes it can carry");
}

// ---- options --------------------------------------------------------------

#[test]
fn amounts_are_counts_or_shares() {
    let parse = |t: &str| t.parse::<Amount>();
    assert_eq!(parse("12"), Ok(Amount::Count(12)));
    assert_eq!(parse("2.5%"), Ok(Amount::Share { basis_points: 250 }));
    assert_eq!(parse("100%"), Ok(Amount::Share { basis_points: 10_000 }));
    assert_eq!(parse("0.05%").unwrap().of(10_000), 5);
    assert_eq!(parse("2.5%").unwrap().of(39), 0, "rounded down");
    assert_eq!(parse("101%"), Err("\"101%\" is more than 100%".to_owned()));
    for bad in ["", "x", "-1", "1.234%", "%", ".5%", "1.%"] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn options_that_cannot_work_are_refused_by_name() {
    let refused = |options: Options| match Dlms::new(options) {
        Err(DlmsError::Option { option, problem }) => format!("{option}: {problem}"),
        other => panic!("not refused: {other:?}"),
    };
    assert_eq!(refused(Options { meters: 0, ..Options::default() }), "--meters: must be at least 1");
    let wrong_key = Misbehaviour { wrong_key: Amount::Count(1), ..Misbehaviour::default() };
    assert!(
        refused(Options { misbehaviour: wrong_key, ..Options::default() }).starts_with("--wrong-key: needs --ciphered")
    );
    let torn = Misbehaviour { torn: Amount::Count(21), ..Misbehaviour::default() };
    assert_eq!(
        refused(Options { misbehaviour: torn, ..Options::default() }),
        "--torn: 21 is more than the 20 planned pushes"
    );
    assert!(refused(Options { start: "2026-01-01T00:00:00".into(), ..Options::default() }).starts_with("--start:"));
    assert!(refused(Options { first_serial: (1 << 40) - 2, ..Options::default() }).starts_with("--first-serial:"));
    assert!(refused(Options { per_connection: Some(0), ..Options::default() }).starts_with("--per-connection"));
    for password in ["", "пароль", "tab\there"] {
        let keys = Keys { password: password.into(), ..Keys::example() };
        assert!(refused(Options { keys, ..Options::default() }).starts_with("--password: must be printable ASCII"));
    }
    let many = Options { meters: 10_000, open_files_limit: Some(1024), ..Options::default() };
    assert!(refused(many).contains("the limit is 1024: raise the hard limit"));
    let start = Options { start: "2026-01-01T00:00:00Z".into(), ..Options::default() }.check().unwrap();
    assert_eq!(start.offset_minutes, 0);
    let start = Options { start: "2026-01-01T00:00:00-05:30".into(), ..Options::default() }.check().unwrap();
    assert_eq!(start.offset_minutes, -330);
}

#[test]
fn misbehaviours_go_where_the_seed_says() {
    let m = Misbehaviour {
        torn: Amount::Count(3),
        bad_tag: Amount::Share { basis_points: 1000 },
        replay: Amount::Count(40),
        wrong_key: Amount::Count(0),
    };
    let options = Options { meters: 10, pushes: 4, misbehaviour: m, ..Options::default() };
    let slots = |faults: &Faults| {
        (0..10).flat_map(|i| (0..4).map(move |p| (i, p))).map(|(i, p)| faults.at(i, p)).collect::<Vec<_>>()
    };
    let a = Faults::plan(&options);
    assert_eq!(a.counts(), [3, 0, 4, 40], "torn, wrong key, bad tag (10% of 40), replay (all)");
    assert_eq!(slots(&a), slots(&Faults::plan(&options)), "the same seed, the same places");
    assert_ne!(slots(&a), slots(&Faults::plan(&Options { seed: 9, ..options })));
}

// ---- whole runs -------------------------------------------------------------

/// One connection the receiver accepted.
#[derive(Debug, Clone, Default)]
struct Conn {
    /// Whole frames, in order.
    frames: Vec<Vec<u8>>,
    /// Bytes of a frame not completed (at the end: a torn frame).
    partial: usize,
    /// Whether the meter has closed it.
    closed: bool,
}

type Conns = Arc<Mutex<Vec<Conn>>>;

/// Frames cut from the front of `buf` by `framing` (whole ones only).
fn cut(framing: Framing, buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let len = match framing {
            Framing::Wrapper if buf.len() >= 8 => 8 + usize::from(u16::from_be_bytes([buf[6], buf[7]])),
            Framing::Hdlc if buf.len() >= 3 => {
                assert_eq!(buf[0], 0x7E, "a frame starts with a flag");
                2 + usize::from(u16::from_be_bytes([buf[1], buf[2]]) & 0x07FF)
            }
            _ => return out,
        };
        if buf.len() < len {
            return out;
        }
        out.push(buf.drain(..len).collect());
    }
}

/// The APDU a frame carries (the wrapper's, or a single HDLC frame's after
/// its LLC header, checked).
fn apdu_of(framing: Framing, frame: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Wrapper => {
            assert_eq!(frame[..6], [0, 1, 0, 1, 0, 1]);
            frame[8..].to_vec()
        }
        Framing::Hdlc => {
            let n = frame.len();
            assert_eq!(u16::from_le_bytes([frame[n - 3], frame[n - 2]]), fcs16(&frame[1..n - 3]), "FCS");
            assert_eq!(frame[9..12], [0xE6, 0xE7, 0x00]);
            frame[12..n - 3].to_vec()
        }
    }
}

/// A receiver on a free port cutting each connection into frames; with
/// `close_first`, it hangs up the first connection once a frame came.
async fn receiver(framing: Framing, close_first: bool) -> (String, Conns) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let conns: Conns = Arc::default();
    let all = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let conns = all.clone();
            let at = {
                let mut c = conns.lock().unwrap();
                c.push(Conn::default());
                c.len() - 1
            };
            tokio::spawn(async move {
                let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    buf.extend_from_slice(&chunk[..n]);
                    let frames = cut(framing, &mut buf);
                    let mut c = conns.lock().unwrap();
                    let conn = &mut c[at];
                    conn.frames.extend(frames);
                    conn.partial = buf.len();
                    conn.closed = n == 0;
                    if n == 0 || (close_first && at == 0 && !conn.frames.is_empty()) {
                        return;
                    }
                }
            });
        }
    });
    (address, conns)
}

/// Wait for `what` until `deadline` (no sleeping for timing: a poll).
async fn until<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn snapshot(conns: &Conns) -> Vec<Conn> {
    conns.lock().unwrap().clone()
}

/// Every connection closed by the meters, then what they carried.
async fn settled(conns: &Conns, count: u64) -> Vec<Conn> {
    until("every connection closed", || {
        let c = snapshot(conns);
        (c.len() as u64 == count && c.iter().all(|c| c.closed)).then_some(c)
    })
    .await
}

fn fast(connect: String) -> Options {
    Options { connect, interval_ms: 0, meters: 3, pushes: 4, ..Options::default() }
}

#[tokio::test]
async fn ciphered_pushes_arrive_whole_per_connection_with_rising_counters() {
    let (address, conns) = receiver(Framing::Wrapper, false).await;
    let options = Options { security: Security::Ciphered, per_connection: Some(2), ..fast(address) };
    let report = Dlms::new(options.clone()).unwrap().run().await.unwrap();
    assert_eq!((report.dlms_sim.as_str(), report.pushes, report.connections), ("done", 12, 6), "{report:#?}");
    assert_eq!((report.expected_readings, report.readings_per_push, report.frames), (72, 6, 12));
    assert!(report.complete() && report.errors == 0 && report.failed_meters == 0);
    assert_eq!(report.first_title, "4D48420000000001");
    assert_eq!(report.last_title, "4D48420000000003");
    assert_eq!(
        (report.first_push_time.as_str(), report.last_push_time.as_str()),
        ("2025-12-31T21:00:00Z", "2025-12-31T21:45:00Z")
    );
    let conns = settled(&conns, 6).await;
    assert!(conns.iter().all(|c| c.frames.len() == 2 && c.partial == 0), "{conns:?}");
    let mut by_title: std::collections::BTreeMap<Vec<u8>, Vec<u32>> = Default::default();
    for frame in conns.iter().flat_map(|c| &c.frames) {
        let glo = apdu_of(Framing::Wrapper, frame);
        let apdu = open(&glo, &options.keys).expect("opens");
        assert_eq!(apdu[0], 0x0F);
        by_title.entry(glo[2..10].to_vec()).or_default().push(counter(&glo));
    }
    assert_eq!(by_title.len(), 3);
    for counters in by_title.values_mut() {
        counters.sort_unstable();
        assert_eq!(*counters, [1, 2, 3, 4]);
    }
}

#[tokio::test]
async fn torn_replayed_bad_tag_and_wrong_key_pushes_are_where_the_report_says() {
    let (address, conns) = receiver(Framing::Wrapper, false).await;
    let misbehaviour = Misbehaviour {
        torn: Amount::Count(2),
        bad_tag: Amount::Count(1),
        replay: Amount::Count(2),
        wrong_key: Amount::Count(1),
    };
    let options =
        Options { meters: 2, pushes: 5, security: Security::Ciphered, misbehaviour, seed: 3, ..fast(address) };
    let report = Dlms::new(options.clone()).unwrap().run().await.unwrap();
    let counts = (report.pushes, report.torn, report.bad_tag, report.replayed, report.wrong_key);
    assert_eq!(counts, (10, 2, 1, 2, 1), "{report:#?}");
    assert_eq!(report.connections, 2 + 2 + 2, "one per meter, one after each tear, one per replay");
    assert_eq!((report.frames, report.expected_readings), (10 + 1 + 2 + 1, 60));
    let conns = settled(&conns, 6).await;
    assert_eq!(conns.iter().filter(|c| c.partial > 0).count(), 2, "two connections end inside a frame: {conns:?}");
    let (mut good, mut wrong, mut bad) = (Vec::new(), 0, 0);
    for (at, conn) in conns.iter().enumerate() {
        for (i, frame) in conn.frames.iter().enumerate() {
            let apdu = apdu_of(Framing::Wrapper, frame);
            if apdu[0] == BAD_TAG {
                bad += 1;
            } else if open(&apdu, &options.keys).is_some() {
                good.push((apdu, at, i));
            } else {
                assert!(open(&apdu, &options.keys.wrong()).is_some(), "sealed with the other keys");
                wrong += 1;
            }
        }
    }
    assert_eq!((good.len(), wrong, bad), (12, 1, 1));
    let mut replays = 0;
    for (apdu, at, i) in &good {
        let copies: Vec<_> = good.iter().filter(|(other, ..)| other == apdu).collect();
        if copies.len() == 2 && (copies[0].1, copies[0].2) != (*at, *i) {
            replays += 1;
            assert_ne!(copies[0].1, *at, "the copy is on another connection");
            assert_eq!(*i, 0, "first on its new connection");
        }
    }
    assert_eq!(replays, 2);
    // The same options again: the same frames (deterministic).
    let (address, again) = receiver(Framing::Wrapper, false).await;
    Dlms::new(Options { connect: address, ..options }).unwrap().run().await.unwrap();
    let frames = |conns: &[Conn]| {
        let mut all: Vec<Vec<u8>> = conns.iter().flat_map(|c| c.frames.clone()).collect();
        all.sort();
        all
    };
    assert_eq!(frames(&settled(&again, 6).await), frames(&conns));
}

#[tokio::test]
async fn held_connections_stay_open_until_stopped() {
    let (address, conns) = receiver(Framing::Hdlc, true).await;
    let options =
        Options { pushes: 1, hold: true, security: Security::GloClear, framing: Framing::Hdlc, ..fast(address) };
    let dlms = Dlms::new(options).unwrap();
    let stats = dlms.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(dlms.run_until(async {
        let _ = stopped.await;
    }));
    until("every meter pushed and holding", || (stats.finished() == 3).then_some(())).await;
    // The receiver hangs up on the first connection: the meter counts it.
    until("the closed one counted", || (stats.holding() == (3, 1)).then_some(())).await;
    let conns_now = until("three frames", || {
        let c = snapshot(&conns);
        (c.iter().map(|c| c.frames.len()).sum::<usize>() == 3).then_some(c)
    })
    .await;
    assert!(conns_now.iter().all(|c| !c.closed), "the meters hold every connection: {conns_now:?}");
    for frame in conns_now.iter().flat_map(|c| &c.frames) {
        let apdu = apdu_of(Framing::Hdlc, frame);
        assert_eq!((apdu[0], apdu[11], counter(&apdu)), (0xDB, 0x00, 1), "glo-clear, counter 1");
        assert_eq!(apdu[16], 0x0F, "the data-notification in clear");
    }
    stop.send(()).unwrap();
    let report: Report = run.await.unwrap().unwrap();
    assert_eq!((report.held, report.held_closed_by_peer, report.pushes), (Some(3), Some(1), 3), "{report:#?}");
    assert_eq!(report.dlms_sim, "done");
    until("the other two closed after the stop", || snapshot(&conns)[1..].iter().all(|c| c.closed).then_some(())).await;
}

#[tokio::test]
async fn a_meter_that_cannot_connect_gives_up_and_says_why() {
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().to_string();
    let options = Options { connect_timeout_ms: 100, meters: 2, ..fast(free.clone()) };
    let report = Dlms::new(options).unwrap().run().await.unwrap();
    assert_eq!((report.pushes, report.failed_meters, report.connections), (0, 2, 0), "{report:#?}");
    assert!(!report.complete());
    assert!(report.errors >= 2);
    assert!(report.error_reasons.keys().all(|r| r.starts_with(&format!("connect {free}: "))), "{report:#?}");
}

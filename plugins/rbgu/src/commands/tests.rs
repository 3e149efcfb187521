//! The command exchange on the simulated host: identification (only by a
//! push sealed with the device's keys), the whole exchange byte for byte
//! (`fixtures/commands/exchange.hex`, also cut at every byte of the
//! meter's stream), and every way it can fail.

use aes_gcm::aead::consts::U12;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, AesGcm, KeyInit};
use meterhub_plugin_api::testing::{Answers, SimHost};
use meterhub_plugin_api::{Action, Command, Event, Plugin, Transport};
use serde_json::{Value, json};

use crate::Rbgu;
use crate::dlms::SystemTitle;
use crate::framing::testing::unhex;
use crate::framing::wrapper;

type Host = SimHost<Rbgu>;

/// Vector 1's system title, in the secrets file of these tests.
const TITLE: &str = "2F19229199164103";
const PASSWORD: &str = "12345678";
/// The keys of [`TITLE`] in the secrets file of these tests (the Green
/// Book's example keys): the global unicast encryption key ...
pub(super) const EK: &str = "000102030405060708090A0B0C0D0E0F";
/// ... and the authentication key.
pub(super) const AK: &str = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF";
/// Another key.
const OTHER_KEY: &str = "FFEEDDCCBBAA99887766554433221100";
const PEER: &str = "192.0.2.20:50000";
const FIXTURE: &str = include_str!("../../fixtures/commands/exchange.hex");

/// The spec's accepted AARE.
const AARE_OK: &str = "61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00
                       BE 10 04 0E 08 00 06 5F 1F 04 00 00 00 18 04 00 00 07";
/// An AARE refusing: rejected-permanent, authentication-failure (13).
const AARE_REFUSED: &str = "61 17 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 0D";
const RLRE: &str = "63 03 80 01 00";
const RLRQ: &str = "62 03 80 01 00";
const CLOCK_ARGS: &str = r#"{"time": "2026-12-06T10:00:00Z"}"#;
const CLOCK_SET: &str = "C1 01 C1 00 08 00 00 01 00 00 FF 02 00 09 0C 07 EA 0C 06 07 0D 00 00 00 FF 4C 00";

fn settings(extra: Value) -> String {
    let device = json!({ "password": PASSWORD, "ek": EK, "ak": AK });
    let mut s = json!({ "framing": "wrapper", "secrets": { "devices": { TITLE: device } } });
    for (k, v) in extra.as_object().expect("an object") {
        s[k] = v.clone();
    }
    s.to_string()
}

fn instance(extra: Value) -> Host {
    Host::new(&settings(extra)).expect("settings")
}

/// A wrapper frame of the meter (wPorts 1 -> 32) carrying `apdu`.
fn meter(apdu: &str) -> Vec<u8> {
    wrapper::encode(1, 32, &unhex(apdu))
}

/// A wrapper frame of the driver (wPorts 32 -> 1) carrying `apdu`.
fn driver(apdu: &str) -> Vec<u8> {
    wrapper::encode(32, 1, &unhex(apdu))
}

/// The SET-RESPONSE to invoke-id `id` with data-access-result `result`.
fn set_response(id: u8, result: u8) -> Vec<u8> {
    meter(&format!("C5 01 {:02X} {result:02X}", 0xC0 | id))
}

/// `plain` as a `general-glo-ciphering` APDU of `title` under security
/// control `control` (suite 0: 0x30, 0x20, 0x10 or none) and invocation
/// counter `ic`, sealed the way the Green Book says with aes-gcm directly
/// (encrypting, where the driver verifies): information ‖ tag.
pub(super) fn seal(title: SystemTitle, control: u8, ic: u32, plain: &[u8], ek: &str, ak: &str) -> Vec<u8> {
    let key = |k: &str| <[u8; 16]>::try_from(unhex(k)).expect("a 128-bit key");
    let gcm = AesGcm::<Aes128, U12, U12>::new(&key(ek).into());
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&title.0);
    iv[8..].copy_from_slice(&ic.to_be_bytes());
    let mut aad = vec![control];
    aad.extend(key(ak));
    let mut body = plain.to_vec();
    match control & 0x30 {
        0x30 => {
            let tag = gcm.encrypt_inout_detached(&iv.into(), &aad, body.as_mut_slice().into()).expect("sealed");
            body.extend_from_slice(&tag);
        }
        0x20 => {
            gcm.encrypt_inout_detached(&iv.into(), &[], body.as_mut_slice().into()).expect("sealed");
        }
        0x10 => {
            aad.extend_from_slice(plain);
            let tag = gcm.encrypt_inout_detached(&iv.into(), &aad, (&mut [][..]).into()).expect("sealed");
            body.extend_from_slice(&tag);
        }
        _ => {}
    }
    let mut apdu = vec![crate::dlms::GENERAL_GLO_CIPHERING, 8];
    apdu.extend(title.0);
    apdu.push(u8::try_from(5 + body.len()).expect("a short push"));
    apdu.push(control);
    apdu.extend(ic.to_be_bytes());
    apdu.extend(body);
    apdu
}

/// [`TITLE`].
fn title() -> SystemTitle {
    SystemTitle(unhex(TITLE).try_into().expect("8 bytes"))
}

/// A push of [`TITLE`] (wrapper 1 -> 1): vector 2's data-notification
/// under security control `control` and invocation counter `ic`, sealed
/// with `ek` and `ak`.
fn sealed_push(control: u8, ic: u32, ek: &str, ak: &str) -> Vec<u8> {
    wrapper::encode(1, 1, &seal(title(), control, ic, &plain_push()[8..], ek, ak))
}

/// A push of [`TITLE`] authenticated and encrypted with its keys, with
/// invocation counter `ic` (the fixture's first frame at 0x1E5).
fn push(ic: u32) -> Vec<u8> {
    sealed_push(0x30, ic, EK, AK)
}

/// Vector 2, a plain data-notification, in a wrapper frame 1 -> 1.
fn plain_push() -> Vec<u8> {
    conversation()[4].1.clone()
}

/// The fixture's frames: `true` for the meter's.
fn conversation() -> Vec<(bool, Vec<u8>)> {
    let mut frames: Vec<(bool, String)> = Vec::new();
    for line in FIXTURE.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        match line.chars().next() {
            Some('<') => frames.push((true, line[1..].to_owned())),
            Some('>') => frames.push((false, line[1..].to_owned())),
            Some(_) => frames.last_mut().expect("a marker first").1.push_str(&format!(" {line}")),
            None => {}
        }
    }
    frames.into_iter().map(|(from_meter, text)| (from_meter, unhex(&text))).collect()
}

/// The fixture as turns: the meter's bytes, then what the driver sends.
fn turns() -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut turns: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    for (from_meter, frame) in conversation() {
        match (from_meter, turns.last_mut()) {
            (true, Some((bytes, sent))) if sent.is_empty() => bytes.extend(frame),
            (true, _) => turns.push((frame, Vec::new())),
            (false, Some((_, sent))) => sent.push(frame),
            (false, None) => panic!("the fixture starts with the driver"),
        }
    }
    turns
}

/// A host with the fixture's two commands queued, and their ids.
fn fixture_host() -> (Host, u64, u64) {
    let mut host = instance(json!({}));
    let clock = host.queue_command(TITLE, "set_clock", CLOCK_ARGS);
    let period = host.queue_command(TITLE, "set_push_period", r#"{"minutes": 30}"#);
    (host, clock, period)
}

/// Play the fixture's meter stream in `chunks` (cut anywhere, but a turn
/// never before the driver's request it answers); everything answered.
fn play(chunks: &[Vec<u8>]) -> (Answers, Host) {
    let (mut host, _, _) = fixture_host();
    let mut all = host.open(Transport::Tcp, PEER);
    for chunk in chunks {
        all.absorb(host.data(chunk));
    }
    all.absorb(host.close());
    (all, host)
}

fn outcome(host: &Host, id: u64) -> Option<Result<String, String>> {
    host.done().get(&id).cloned()
}

fn err(text: &str) -> Option<Result<String, String>> {
    Some(Err(text.to_owned()))
}

#[test]
fn the_whole_exchange_byte_for_byte() {
    let (mut host, clock, period) = fixture_host();
    host.open(Transport::Tcp, PEER);
    let turns = turns();
    assert_eq!(turns.len(), 5, "push, AARE, push and SET-RESPONSE, SET-RESPONSE, RLRE");
    for (i, (bytes, sent)) in turns.iter().enumerate() {
        let out = host.data(bytes);
        assert_eq!(out.sent, *sent, "turn {i}");
        assert!(out.rejects.is_empty() && out.closes.is_empty(), "turn {i}: {out:?}");
        assert_eq!(out.timers, sent.iter().map(|_| (i as u32 + 1, 30_000)).collect::<Vec<_>>(), "turn {i}");
        match i {
            0 => assert_eq!(out.identified, vec![TITLE.to_owned()]),
            _ => assert!(out.identified.is_empty()),
        }
    }
    let aarq = crate::commands::apdu::aarq(PASSWORD.as_bytes());
    assert_eq!(turns[0], (push(0x1E5), vec![wrapper::encode(32, 1, &aarq)]), "a push sealed with the keys");
    assert_eq!(turns[1].1, vec![driver(CLOCK_SET)]);
    assert_eq!(turns[3].1, vec![driver(RLRQ)]);
    assert_eq!(outcome(&host, clock), Some(Ok("clock set to 2026-12-06T13:00:00+03:00".to_owned())));
    assert_eq!(outcome(&host, period), Some(Ok("push every 30 min".to_owned())));
    // The pushes are committed, the answers are not.
    let journal: Vec<(&str, &[u8])> =
        host.journal().iter().map(|f| (f.meta(crate::frame::DLMS_APDU).unwrap_or_default(), &f.payload[..])).collect();
    assert_eq!(journal, [("general-glo-ciphering", &push(0x1E5)[..]), ("data-notification", &plain_push()[..])]);
    let quiet = host.close();
    assert!(quiet.is_quiet());
    assert!(host.queued(TITLE).is_empty());
}

#[test]
fn the_exchange_does_not_depend_on_how_the_meter_s_bytes_are_cut() {
    let turns = turns();
    let stream: Vec<u8> = turns.iter().flat_map(|(bytes, _)| bytes.clone()).collect();
    let mut bounds = Vec::new();
    let mut at = 0;
    for (bytes, _) in &turns {
        at += bytes.len();
        bounds.push(at);
    }
    let cut = |cuts: &[usize]| -> Vec<Vec<u8>> {
        let (mut chunks, mut start) = (Vec::new(), 0);
        for &end in cuts {
            if end > start {
                chunks.push(stream[start..end].to_vec());
                start = end;
            }
        }
        chunks
    };
    let (whole, host) = play(&cut(&bounds));
    assert_eq!(whole.done.len(), 2);
    assert_eq!(host.journal().len(), 2);
    for k in 1..stream.len() {
        let mut cuts = bounds.clone();
        cuts.push(k);
        cuts.sort_unstable();
        let (answers, other) = play(&cut(&cuts));
        assert_eq!(answers, whole, "cut at byte {k}");
        assert_eq!(other.journal(), host.journal(), "cut at byte {k}");
    }
    let bytes: Vec<Vec<u8>> = stream.chunks(1).map(<[u8]>::to_vec).collect();
    assert_eq!(play(&bytes).0, whole, "byte by byte");
}

#[test]
fn a_refused_association_fails_every_command_naming_the_diagnostic() {
    let (mut host, clock, period) = fixture_host();
    host.open(Transport::Tcp, PEER);
    assert_eq!(host.data(&push(0x1E5)).sent.len(), 1);
    let out = host.data(&meter(AARE_REFUSED));
    assert!(out.sent.is_empty() && out.commits.is_empty() && out.rejects.is_empty(), "{out:?}");
    let why = "the meter refused the association: rejected-permanent (1), authentication-failure (13)";
    assert_eq!((outcome(&host, clock), outcome(&host, period)), (err(why), err(why)));
    // Nothing more is awaited: a late answer is refused.
    let out = host.data(&meter(RLRE));
    assert_eq!(out.rejects.len(), 1);
    assert!(host.timer(1).is_quiet(), "the AARQ's timer after the exchange ended");
    // Refusing the InitiateRequest: the user-information's
    // confirmed-service-error is named too.
    let (mut host, clock, _) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    host.data(&meter(
        "61 1F A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 01 BE 06 04 04 0E 01 06 02",
    ));
    assert_eq!(
        outcome(&host, clock),
        err("the meter refused the association: rejected-permanent (1), no-reason-given (1); \
             confirmed-service-error: initiateError (1), initiate (6): incompatible-conformance (2)")
    );
}

#[test]
fn a_refused_set_fails_its_command_and_the_next_is_still_sent() {
    let (mut host, clock, period) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    assert_eq!(host.data(&meter(AARE_OK)).sent, vec![driver(CLOCK_SET)]);
    let out = host.data(&set_response(1, 3));
    assert_eq!(outcome(&host, clock), err("read-write-denied (3)"));
    assert_eq!(out.sent.len(), 1);
    assert_eq!(out.sent[0][8..11], [0xC1, 0x01, 0xC2], "the next SET, invoke-id 2");
    assert_eq!(host.data(&set_response(2, 0)).sent, vec![driver(RLRQ)]);
    assert_eq!(outcome(&host, period), Some(Ok("push every 30 min".to_owned())));
    assert!(host.data(&meter(RLRE)).is_quiet());
}

#[test]
fn exception_responses_and_service_errors_fail_what_they_answer() {
    let (mut host, clock, period) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    host.data(&meter(AARE_OK));
    let out = host.data(&meter("D8 01 02"));
    assert_eq!(
        outcome(&host, clock),
        err(
            "the meter answered the SET of set_clock with exception-response: service-not-allowed (1), service-not-supported (2)"
        )
    );
    assert_eq!(out.sent.len(), 1, "the next SET");
    host.data(&meter("0E 06 05 03"));
    assert_eq!(
        outcome(&host, period),
        err("the meter answered the SET of set_push_period with confirmed-service-error: write (6), access (5): 3")
    );
    // An unreadable one is refused too, and fails the AARQ here.
    let (mut host, clock, _) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    let out = host.data(&meter("D8 01"));
    let why = "exception-response of 2 bytes, expected at least 3";
    assert_eq!(outcome(&host, clock), err(&format!("the meter's answer to the AARQ cannot be read: {why}")));
    assert_eq!(
        out.rejects[0].0,
        format!("wrapper offset 78: exception-response (0xD8) from device {TITLE} not committed: unreadable: {why}")
    );
}

#[test]
fn no_answer_in_time_fails_the_command_and_those_after_it() {
    // To the AARQ.
    let (mut host, clock, period) = fixture_host();
    host.open(Transport::Tcp, PEER);
    assert_eq!(host.data(&push(0x1E5)).timers, vec![(1, 30_000)]);
    let out = host.timer(1);
    let why = "no answer from the meter within 30 s to the AARQ";
    assert_eq!((outcome(&host, clock), outcome(&host, period)), (err(why), err(why)));
    assert!(out.sent.is_empty());
    let out = host.data(&meter(AARE_OK));
    assert_eq!(
        out.rejects,
        vec![(
            format!("wrapper offset 78: aare (0x61) from device {TITLE} not committed: no command exchange under way"),
            meter(AARE_OK)
        )]
    );
    assert!(out.commits.is_empty());

    // To a SET, with command_timeout_s 5.
    let mut host = host_with(json!({ "command_timeout_s": 5 }));
    let (clock, period) = (1, 2);
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    assert_eq!(host.data(&meter(AARE_OK)).timers, vec![(2, 5_000)]);
    assert!(host.timer(1).is_quiet(), "the AARQ's timer: answered already");
    host.timer(2);
    let why = "no answer from the meter within 5 s to the SET of set_clock";
    assert_eq!((outcome(&host, clock), outcome(&host, period)), (err(why), err(why)));
    assert_eq!(host.data(&set_response(1, 0)).rejects.len(), 1, "a late answer is refused");
    assert!(host.timer(2).is_quiet());

    // To the RLRQ: nothing left to fail.
    let (mut host, _, _) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    host.data(&meter(AARE_OK));
    host.data(&set_response(1, 0));
    assert_eq!(host.data(&set_response(2, 0)).timers, vec![(4, 30_000)]);
    assert!(host.timer(4).is_quiet());
    assert_eq!(host.done().len(), 2);
}

/// A host with `extra` settings and the fixture's two commands (ids 1, 2).
fn host_with(extra: Value) -> Host {
    let mut host = instance(extra);
    host.queue_command(TITLE, "set_clock", CLOCK_ARGS);
    host.queue_command(TITLE, "set_push_period", r#"{"minutes": 30}"#);
    host
}

#[test]
fn pushes_are_committed_during_the_exchange_and_answers_are_not() {
    let (mut host, _, _) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    let mut chunk = plain_push();
    chunk.extend(meter(AARE_OK));
    chunk.extend(push(0x1E6));
    let out = host.data(&chunk);
    assert_eq!(out.commits.len(), 2, "both pushes around the AARE");
    assert_eq!(out.sent, vec![driver(CLOCK_SET)]);
    assert!(out.identified.is_empty(), "once per session");
    let mut chunk = set_response(1, 0);
    chunk.extend(plain_push());
    chunk.extend(set_response(2, 0));
    let out = host.data(&chunk);
    assert_eq!((out.commits.len(), out.done.len(), out.sent.len()), (1, 2, 2), "{out:?}");
    assert_eq!(out.sent[1], driver(RLRQ));
    assert_eq!(host.journal().len(), 4);
    assert!(host.journal().iter().all(|f| f.payload[8] != 0x61 && f.payload[8] != 0xC5));
}

#[test]
fn answers_outside_an_exchange_or_not_awaited_are_refused() {
    // No device identified: no secrets file.
    let mut host = Host::new(r#"{"framing": "wrapper"}"#).expect("settings");
    host.open(Transport::Tcp, PEER);
    let out = host.data(&meter(AARE_OK));
    assert_eq!(
        out.rejects,
        vec![(
            "wrapper offset 0: aare (0x61) from an unidentified device not committed: no command exchange under way"
                .to_owned(),
            meter(AARE_OK)
        )]
    );
    assert!(out.commits.is_empty() && out.closes.is_empty());
    // Identified, nothing queued: the host hands no commands.
    let mut host = instance(json!({}));
    host.open(Transport::Tcp, PEER);
    let out = host.data(&push(0x1E5));
    assert_eq!((out.identified.len(), out.sent.len(), out.commits.len()), (1, 0, 1));
    for (apdu, name) in [
        (RLRE, "rlre (0x63)"),
        ("C5 01 C1 00", "set-response (0xC5)"),
        ("0E 06 05 03", "confirmed-service-error (0x0E)"),
    ] {
        let out = host.data(&meter(apdu));
        let [(reason, _)] = &out.rejects[..] else { panic!("{out:?}") };
        assert!(
            reason.ends_with(&format!("{name} from device {TITLE} not committed: no command exchange under way")),
            "{reason}"
        );
    }
    // During an exchange: another answer than the one awaited, another invoke-id.
    let (mut host, clock, _) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    let out = host.data(&meter(RLRE));
    assert_eq!(
        out.rejects[0].0,
        format!(
            "wrapper offset 78: rlre (0x63) from device {TITLE} not committed: not the answer awaited: the exchange awaits the answer to the AARQ"
        )
    );
    assert_eq!(host.data(&meter(AARE_OK)).sent, vec![driver(CLOCK_SET)], "still awaiting the AARE");
    let out = host.data(&set_response(5, 0));
    assert!(out.rejects[0].0.ends_with("not committed: invoke-id 5, but the SET awaited has 1"), "{:?}", out.rejects);
    assert!(out.done.is_empty() && out.sent.is_empty());
    host.data(&set_response(1, 0));
    assert!(outcome(&host, clock).is_some_and(|o| o.is_ok()));
}

#[test]
fn a_device_without_a_password_fails_every_command() {
    let mut host = Host::new(
        &json!({ "framing": "wrapper", "secrets": { "devices": { TITLE: { "ek": EK, "ak": AK } } } }).to_string(),
    )
    .expect("settings");
    let ids = [host.queue_command(TITLE, "set_clock", "{}"), host.queue_command(TITLE, "nonsense", "{}")];
    host.open(Transport::Tcp, PEER);
    let out = host.data(&push(0x1E5));
    assert!(out.sent.is_empty());
    let why = format!("device {TITLE} has no password in the secrets file; LLS needs one");
    for id in ids {
        assert_eq!(outcome(&host, id), err(&why));
    }
}

#[test]
fn other_framings_identify_and_fail_every_command_naming_why() {
    // An HDLC UI frame (server 1/17 to client 16) with LLC E6 E7 00 and the
    // sealed push's APDU.
    let crc = crate::framing::hdlc::frame::crc16;
    let mut body = unhex("a0 53 21 02 23 13");
    body.extend(crc(&body).to_le_bytes());
    body.extend(unhex("e6 e7 00"));
    body.extend(&push(0x1E5)[8..]);
    body.extend(crc(&body).to_le_bytes());
    let push = [&[0x7E][..], &body, &[0x7E]].concat();
    let mut host = instance(json!({ "framing": "hdlc" }));
    let id = host.queue_command(TITLE, "set_clock", "{}");
    host.open(Transport::Tcp, PEER);
    let out = host.data(&push);
    assert_eq!((out.commits.len(), out.identified.clone(), out.sent.len()), (1, vec![TITLE.to_owned()], 0));
    assert_eq!(
        outcome(&host, id),
        err("commands need framing = \"wrapper\" and content = \"dlms\"; instance has framing \"hdlc\"")
    );
    // The texts for the other cases, straight to the plugin.
    for (settings, has) in [
        (r#"{"framing": "stuffed"}"#, "framing \"stuffed\" and content \"opaque\""),
        (r#"{"framing": "wrapper", "content": "opaque"}"#, "content \"opaque\""),
    ] {
        let mut plugin = Rbgu::init(settings).expect("settings");
        plugin.handle(1, 0, Event::Opened { transport: Transport::Tcp, peer: PEER.to_owned() });
        let command = Command { id: 7, name: "set_clock".to_owned(), args: "{}".to_owned() };
        let actions = plugin.handle(1, 0, Event::Commands(vec![command]));
        let want = format!("commands need framing = \"wrapper\" and content = \"dlms\"; instance has {has}");
        assert_eq!(actions, vec![Action::CommandDone(meterhub_plugin_api::CommandDone { id: 7, outcome: Err(want) })]);
    }
}

#[test]
fn push_periods_by_the_rule_and_bad_commands_without_disturbing_the_others() {
    let mut host = instance(json!({}));
    let good = [1, 15, 30, 60, 120, 1440];
    let mut ids = Vec::new();
    for minutes in [1, 7, 15, 30, 45, 60, 90, 120, 1440] {
        ids.push((minutes, host.queue_command(TITLE, "set_push_period", &format!(r#"{{"minutes": {minutes}}}"#))));
    }
    let reboot = host.queue_command(TITLE, "reboot", "{}");
    let bad_clock = host.queue_command(TITLE, "set_clock", r#"{"time": 5}"#);
    host.open(Transport::Tcp, PEER);
    let out = host.data(&push(0x1E5));
    assert_eq!(out.done.len(), 5, "7, 45, 90, reboot and the bad clock at once");
    assert_eq!(out.sent.len(), 1, "then the AARQ");
    for (minutes, id) in &ids {
        if !good.contains(minutes) {
            let o = outcome(&host, *id).expect("done").unwrap_err();
            assert!(
                o.starts_with(&format!(
                    "set_push_period: argument \"minutes\": {minutes} is no push period: it must divide 60"
                )),
                "{o}"
            );
        }
    }
    assert_eq!(outcome(&host, reboot), err("unknown command \"reboot\"; rbgu has set_clock, set_push_period"));
    assert_eq!(outcome(&host, bad_clock), err("set_clock: argument \"time\": expected a string, got 5"));
    let mut sent = host.data(&meter(AARE_OK)).sent;
    let mut entries = Vec::new();
    for id in 1..=good.len() as u8 {
        let [set] = &sent[..] else { panic!("{sent:?}") };
        assert_eq!(set[10], 0xC0 | id);
        assert_eq!(set[8 + 13], 0x01, "an array");
        entries.push(set[8 + 14]);
        sent = host.data(&set_response(id, 0)).sent;
    }
    assert_eq!(entries, [60, 4, 2, 1, 12, 1]);
    assert_eq!(sent, vec![driver(RLRQ)]);
    for (minutes, id) in ids {
        if good.contains(&minutes) {
            assert_eq!(outcome(&host, id), Some(Ok(format!("push every {minutes} min"))));
        }
    }
}

#[test]
fn invoke_ids_count_per_session_from_1_to_15() {
    let mut host = instance(json!({}));
    for _ in 0..16 {
        host.queue_command(TITLE, "set_push_period", r#"{"minutes": 30}"#);
    }
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    let mut sent = host.data(&meter(AARE_OK)).sent;
    let mut seen = Vec::new();
    for _ in 0..16 {
        let id = sent[0][10] & 0x0F;
        seen.push(id);
        sent = host.data(&set_response(id, 0)).sent;
    }
    assert_eq!(seen, (1..=15).chain([1]).collect::<Vec<u8>>());
    assert_eq!(host.done().values().filter(|o| o.is_ok()).count(), 16);
}

#[test]
fn only_a_known_device_s_new_push_identifies_once_per_session() {
    // Not in the registry: accepted, pending, not identified.
    for unknown in ["accept", "pending"] {
        let settings = json!({ "framing": "wrapper", "unknown_devices": unknown,
            "secrets": { "devices": { "4D48420000000001": { "password": PASSWORD } } } });
        let mut host = Host::new(&settings.to_string()).expect("settings");
        host.queue_command(TITLE, "set_clock", "{}");
        host.open(Transport::Tcp, PEER);
        let out = host.data(&push(0x1E5));
        assert_eq!((out.commits.len(), out.identified.len()), (1, 0), "{unknown}");
        assert_eq!(out.commits[0].meta("device.pending").is_some(), unknown == "pending");
    }
    // A replay does not identify; the next new push does, once.
    let mut host = instance(json!({}));
    host.open(Transport::Tcp, PEER);
    assert_eq!(host.data(&push(0x1E5)).identified.len(), 1);
    host.close();
    host.open(Transport::Tcp, PEER);
    let out = host.data(&push(0x1E5));
    assert_eq!((out.commits[0].meta("dlms.replay"), out.identified.len()), (Some("1"), 0));
    assert_eq!(host.data(&plain_push()).identified.len(), 0, "a plain push names no title itself");
    assert_eq!(host.data(&push(0x1E6)).identified, vec![TITLE.to_owned()]);
    assert_eq!(host.data(&push(0x1E7)).identified.len(), 0);
}

#[test]
fn only_a_push_sealed_with_the_device_s_keys_identifies() {
    let mut host = instance(json!({}));
    let clock = host.queue_command(TITLE, "set_clock", CLOCK_ARGS);
    host.open(Transport::Tcp, PEER);
    // Each with its own, new counter (a committed counter is seen, proven
    // or not); the genuine one last, above them.
    let genuine = push(0x200);
    // What a commit's metadata says, but where, which bytes and which
    // counter.
    let said = |meta: &[(String, String)]| -> Vec<(String, String)> {
        let varies = ["stream.offset", "frame.content", "dlms.invocation_counter"];
        meta.iter().filter(|(k, _)| !varies.contains(&k.as_str())).cloned().collect()
    };
    let mut reference = instance(json!({}));
    reference.open(Transport::Tcp, PEER);
    reference.data(&genuine);
    let proven = said(&reference.journal()[0].meta);
    assert!(proven.contains(&("dlms.system_title".to_owned(), TITLE.to_owned())), "{proven:?}");
    let mut forged_tag = push(0x100);
    *forged_tag.last_mut().expect("a tag") ^= 0x01;
    let mut made_up = push(0x101);
    made_up[24..32].copy_from_slice(b"made up!");
    let mut other_counter = push(0x102);
    other_counter[20..24].copy_from_slice(&0x103_u32.to_be_bytes());
    let unproven = [
        ("a forged tag", forged_tag),
        ("a made-up ciphertext under a genuine tag", made_up),
        ("a genuine push's tag under another counter", other_counter),
        ("a wrong ek", sealed_push(0x30, 0x104, OTHER_KEY, AK)),
        ("a wrong ak", sealed_push(0x30, 0x105, EK, OTHER_KEY)),
        ("authenticated only, a wrong ak", sealed_push(0x10, 0x106, EK, OTHER_KEY)),
        ("encryption only", sealed_push(0x20, 0x107, EK, AK)),
        ("no protection", sealed_push(0x00, 0x108, EK, AK)),
        ("suite 1", sealed_push(0x31, 0x109, EK, AK)),
    ];
    for (i, (what, frame)) in unproven.iter().enumerate() {
        let out = host.data(frame);
        assert_eq!((out.commits.len(), out.identified.len(), out.sent.len()), (1, 0, 0), "{what}");
        assert!(out.rejects.is_empty() && out.closes.is_empty() && out.done.is_empty(), "{what}: {out:?}");
        let journal = host.journal();
        assert_eq!(journal[i].payload, *frame, "{what}: committed as it came");
        // Committed as a proven push is: nothing new said.
        assert_eq!(said(&journal[i].meta), proven, "{what}");
    }
    assert_eq!(host.queued(TITLE).len(), 1, "nothing handed over yet");
    // The genuine push, later on the same connection, identifies.
    let out = host.data(&genuine);
    assert_eq!(out.identified, vec![TITLE.to_owned()]);
    assert_eq!(out.sent, vec![wrapper::encode(32, 1, &crate::commands::apdu::aarq(PASSWORD.as_bytes()))]);
    assert_eq!(host.data(&meter(AARE_OK)).sent, vec![driver(CLOCK_SET)]);
    host.data(&set_response(1, 0));
    assert!(outcome(&host, clock).is_some_and(|o| o.is_ok()));
}

#[test]
fn authenticated_only_pushes_prove_too() {
    let mut host = instance(json!({}));
    host.queue_command(TITLE, "set_clock", CLOCK_ARGS);
    host.open(Transport::Tcp, PEER);
    let push = sealed_push(0x10, 0x1E5, EK, AK);
    assert_eq!(push[24..24 + 42], plain_push()[8..], "the information in clear");
    let out = host.data(&push);
    assert_eq!((out.commits.len(), out.identified.clone(), out.sent.len()), (1, vec![TITLE.to_owned()], 1));
}

#[test]
fn a_device_without_both_keys_is_never_sent_commands() {
    for device in [
        json!({ "password": PASSWORD, "ek": EK }),
        json!({ "password": PASSWORD }),
        json!({ "password": PASSWORD, "ak": AK }),
    ] {
        let settings = json!({ "framing": "wrapper", "secrets": { "devices": { TITLE: device } } });
        let mut host = Host::new(&settings.to_string()).expect("settings");
        host.queue_command(TITLE, "set_clock", CLOCK_ARGS);
        host.open(Transport::Tcp, PEER);
        for control in [0x30, 0x10, 0x20] {
            let out = host.data(&sealed_push(control, 0x1E5 + u32::from(control), EK, AK));
            assert_eq!(
                (out.commits.len(), out.identified.len(), out.sent.len()),
                (1, 0, 0),
                "{device} 0x{control:02X}"
            );
        }
        assert!(host.done().is_empty());
        assert_eq!(host.queued(TITLE).len(), 1, "{device}: kept for when the keys are there");
    }
}

#[test]
fn the_keys_are_never_shown() {
    let mut host = instance(json!({}));
    let mut all = host.open(Transport::Tcp, PEER);
    all.absorb(host.data(&sealed_push(0x30, 1, OTHER_KEY, AK)));
    all.absorb(host.data(&push(2)));
    let shown = format!("{:?} {all:?}", host.plugin());
    for key in [EK, AK] {
        assert!(!shown.contains(key) && !shown.contains(&key.to_lowercase()), "{shown}");
    }
    assert!(shown.contains("SecretKey(..)"), "{shown}");
    // Nor in an error: a key that is not 32 hex digits names the setting.
    for (name, bad) in [("ek", json!("0001020304050607SECRET")), ("ak", json!(EK.repeat(2))), ("ek", json!(12))] {
        let settings = json!({ "framing": "wrapper", "secrets": { "devices": { TITLE: { name: bad } } } });
        let e = Rbgu::init(&settings.to_string()).expect_err("a bad key");
        assert_eq!(
            e,
            format!("setting \"secrets\".\"devices\".\"{TITLE}\".\"{name}\": expected 32 hex digits (a 128-bit key)")
        );
    }
}

#[test]
fn a_session_closed_mid_exchange_leaves_its_commands_to_the_host() {
    let (mut host, clock, period) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    host.data(&meter(AARE_OK));
    assert!(host.close().done.is_empty());
    let queued: Vec<u64> = host.queued(TITLE).iter().map(|c| c.id).collect();
    assert_eq!(queued, vec![clock, period]);
    assert!(host.timer(2).is_quiet(), "a timer of the closed session");
    host.open(Transport::Tcp, PEER);
    assert_eq!(host.data(&push(0x1E6)).sent.len(), 1, "the AARQ again");
    assert_eq!(host.data(&meter(AARE_OK)).sent, vec![driver(CLOCK_SET)], "invoke-ids count per session");
}

#[test]
fn what_the_meter_negotiates_limits_what_is_sent() {
    // Get only: no SET; released.
    let (mut host, clock, _) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    let out = host.data(&meter(&AARE_OK.replace("00 00 00 18 04 00 00 07", "00 00 00 10 04 00 00 07")));
    assert_eq!(
        outcome(&host, clock),
        err("the meter accepted the association but not SET (negotiated conformance 0x000010)")
    );
    assert_eq!((out.done.len(), out.sent.clone()), (2, vec![driver(RLRQ)]));
    // A meter taking 256 bytes: the hourly schedule of 1 minute (915
    // bytes) fails, the next is sent.
    let mut host = instance(json!({}));
    let every_minute = host.queue_command(TITLE, "set_push_period", r#"{"minutes": 1}"#);
    host.queue_command(TITLE, "set_push_period", r#"{"minutes": 30}"#);
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    let out = host.data(&meter(&AARE_OK.replace("04 00 00 07", "01 00 00 07")));
    assert_eq!(
        outcome(&host, every_minute),
        err(
            "the SET of set_push_period is 915 bytes, more than the meter takes (server-max-receive-pdu-size 256); block transfer is not supported"
        )
    );
    assert_eq!(out.sent.len(), 1);
    assert_eq!(out.sent[0][10], 0xC1, "invoke-id 1: the refused SET was never sent");
    // An accepted AARE without user-information.
    let (mut host, clock, _) = fixture_host();
    host.open(Transport::Tcp, PEER);
    host.data(&push(0x1E5));
    let out = host.data(&meter("61 17 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00"));
    assert_eq!(
        outcome(&host, clock),
        err(
            "the meter accepted the association without an InitiateResponse: no user-information (no InitiateResponse)"
        )
    );
    assert_eq!(out.sent, vec![driver(RLRQ)]);
}

#[test]
fn set_clock_writes_the_host_s_clock_when_sent_at_the_offsets() {
    let mut host = instance(json!({ "utc_offset_minutes": 0, "command_client_sap": 16, "command_server_sap": 17 }));
    let now = host.queue_command(TITLE, "set_clock", "{}");
    let moscow = host.queue_command(TITLE, "set_clock", r#"{"utc_offset_minutes": 180}"#);
    host.open(Transport::Tcp, PEER);
    let aarq = host.data(&push(0x1E5)).sent;
    assert_eq!(aarq[0][..8], [0, 1, 0, 16, 0, 17, 0, 0x38], "wPorts 16 -> 17");
    host.set_now_ms(1_796_551_200_000);
    let sent = host.data(&wrapper::encode(17, 16, &unhex(AARE_OK))).sent;
    assert_eq!(sent[0][8 + 15..8 + 27], [0x07, 0xEA, 12, 6, 7, 10, 0, 0, 0, 0, 0, 0]);
    host.set_now_ms(1_796_551_200_000 + 61_000);
    host.data(&wrapper::encode(17, 16, &unhex("C5 01 C1 00")));
    host.data(&wrapper::encode(17, 16, &unhex("C5 01 C2 00")));
    assert_eq!(outcome(&host, now), Some(Ok("clock set to 2026-12-06T10:00:00+00:00".to_owned())));
    assert_eq!(outcome(&host, moscow), Some(Ok("clock set to 2026-12-06T13:01:01+03:00".to_owned())));
}

#[test]
fn the_password_is_never_shown() {
    let (mut host, _, _) = fixture_host();
    let mut all = host.open(Transport::Tcp, PEER);
    all.absorb(host.data(&push(0x1E5)));
    all.absorb(host.data(&meter(AARE_REFUSED)));
    all.absorb(host.data(&meter(RLRE)));
    let shown =
        format!("{:?} {:?} {:?}", host.plugin(), all.done, all.rejects.iter().map(|r| &r.0).collect::<Vec<_>>());
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(all.sent[0].windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()), "only in the AARQ");
}

#[test]
fn the_manifest_lists_every_command_with_a_description() {
    let manifest = include_str!("../../plugin.toml");
    let table = manifest.split("\n[commands]\n").nth(1).expect("a [commands] table");
    let keys: Vec<&str> = table
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line.split_once(" = ").expect("key = \"description\"");
            assert!(value.starts_with('"') && value.len() > 40, "{line}");
            key
        })
        .collect();
    assert_eq!(keys, crate::commands::NAMES);
}

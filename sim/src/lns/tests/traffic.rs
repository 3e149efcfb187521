//! Devices, counters and the behaviours' counts.

use std::collections::HashSet;

use super::{documented_time, json, options, unbase64};
use crate::lns::bodies::Kind;
use crate::lns::devices::{Device, dev_eui, read_si12};
use crate::lns::{Options, Server, Traffic};

#[test]
fn dev_euis_depend_only_on_the_seed_and_never_collide() {
    let euis: HashSet<u64> = (0..20_000).map(|i| dev_eui(1, i)).collect();
    assert_eq!(euis.len(), 20_000);
    assert_eq!(dev_eui(1, 5), dev_eui(1, 5));
    assert_ne!(dev_eui(1, 5), dev_eui(2, 5));
    let a = Traffic::new(&options(Server::ChirpstackV4));
    let b = Traffic::new(&options(Server::TtsV3));
    let euis = |t: &Traffic| t.devices().iter().map(Device::dev_eui_hex).collect::<Vec<_>>();
    assert_eq!(euis(&a), euis(&b), "the same devices whatever the server");
}

#[test]
fn counters_grow_and_times_follow_the_uplinks() {
    let mut traffic = Traffic::new(&options(Server::ChirpstackV4));
    let mut previous: Option<[u32; 4]> = None;
    for round in 0..50i64 {
        let at = documented_time().plus_ms(round * 300_000);
        let events = traffic.slot(2, at);
        let (_, _, time, _, inputs) = read_si12(&unbase64(&json(&events[0].body)["data"])).unwrap();
        assert_eq!(i64::from(time), at.secs());
        if let Some(before) = previous {
            assert!(inputs[0] > before[0], "input 1 grows with every uplink");
            assert!(inputs.iter().zip(before).all(|(now, then)| *now >= then));
        }
        previous = Some(inputs);
    }
    assert_eq!(traffic.devices()[2].fcnt, 50);
    assert_eq!(traffic.devices()[0].fcnt, 0, "the others did not send");
}

#[test]
fn without_joins_sessions_are_already_running() {
    let traffic = Traffic::new(&Options { joins: false, ..options(Server::ChirpstackV4) });
    assert!(traffic.devices().iter().all(|d| d.fcnt > 0));
}

#[test]
fn behaviours_come_at_their_rates() {
    let options =
        Options { devices: 4, repeat_every: 3, status_every: 2, faults_every: 5, ..options(Server::ChirpstackV4) };
    let mut traffic = Traffic::new(&options);
    let mut events = Vec::new();
    for round in 0..5i64 {
        for device in 0..4 {
            events.extend(traffic.slot(device, documented_time().plus_ms(round * 60_000 + i64::from(device) * 15_000)));
        }
    }
    let count = |kind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(traffic.uplinks(), 20);
    assert_eq!(count(Kind::Up), 20);
    assert_eq!(count(Kind::Repeat), 6, "uplinks 3, 6, ..., 18");
    assert_eq!(count(Kind::Status), 8, "each device after its 2nd and 4th uplink");
    assert_eq!((count(Kind::Malformed), count(Kind::UnknownEvent), count(Kind::BadBase64)), (2, 1, 1));
    let kinds: Vec<Kind> = events.iter().map(|e| e.kind).collect();
    // Uplink 3 is device 2's first: the uplink, then its repeat.
    let third = kinds.iter().enumerate().filter(|(_, k)| **k == Kind::Up).nth(2).unwrap().0;
    assert_eq!(kinds[third + 1], Kind::Repeat);
    let repeats: Vec<_> = events.iter().enumerate().filter(|(_, e)| e.kind == Kind::Repeat).collect();
    let (first_at, first) = repeats[0];
    assert_eq!(first.body, events[first_at - 1].body, "the first repeat is the same body (a retried push)");
    let (second_at, second) = repeats[1];
    let (up, again) = (json(&events[second_at - 1].body), json(&second.body));
    assert_ne!(up["deduplicationId"], again["deduplicationId"], "the second is another event of the same uplink");
    assert_ne!(up["rxInfo"][0]["gatewayId"], again["rxInfo"][0]["gatewayId"], "heard by another gateway");
    assert_eq!((&up["fCnt"], &up["data"]), (&again["fCnt"], &again["data"]), "the same uplink");
}

//! RFC 3339 forms, UUIDs, ULIDs.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::is_uuid;
use crate::lns::Stamp;
use crate::lns::clock::{ulid, uuid};

#[test]
fn chirpstack_v4_times_are_chronos_rfc3339() {
    // The documented `up` event's time.
    assert_eq!(Stamp::from_parts(1_658_136_855, 775_023_242).chirpstack_v4(), "2022-07-18T09:34:15.775023242+00:00");
    assert_eq!(Stamp::from_ms(1_658_136_855_775).chirpstack_v4(), "2022-07-18T09:34:15.775+00:00");
    assert_eq!(Stamp::from_parts(1_658_136_855, 775_023_000).chirpstack_v4(), "2022-07-18T09:34:15.775023+00:00");
    assert_eq!(Stamp::from_parts(1_658_136_855, 0).chirpstack_v4(), "2022-07-18T09:34:15+00:00");
}

#[test]
fn go_times_trim_trailing_zeros() {
    // ChirpStack v3's and The Things Stack's documented times.
    assert_eq!(Stamp::from_parts(1_480_091_077, 295_915_988).go(), "2016-11-25T16:24:37.295915988Z");
    assert_eq!(Stamp::from_ms(1_581_520_545_787).go(), "2020-02-12T15:15:45.787Z");
    assert_eq!(Stamp::from_parts(1_581_520_545, 780_000_000).go(), "2020-02-12T15:15:45.78Z");
    assert_eq!(Stamp::from_parts(1_581_520_545, 0).go(), "2020-02-12T15:15:45Z");
}

#[test]
fn calendar_edges() {
    assert_eq!(Stamp::from_parts(1_709_251_199, 0).go(), "2024-02-29T23:59:59Z");
    assert_eq!(Stamp::from_parts(-1, 0).go(), "1969-12-31T23:59:59Z");
    assert_eq!(Stamp::from_parts(4_107_542_400, 0).go(), "2100-03-01T00:00:00Z");
    assert_eq!(Stamp::from_ms(-1).go(), "1969-12-31T23:59:59.999Z");
    assert_eq!(Stamp::from_parts(10, 999_999_999).plus_nanos(1), Stamp::from_parts(11, 0));
    assert_eq!(Stamp::from_parts(10, 0).plus_ms(-1).ms(), 9_999);
    assert_eq!(Stamp::from_parts(5_000_000_000, 0).unix_u32(), u32::MAX, "clamped");
}

#[test]
fn uuids_and_ulids_have_their_shapes() {
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..100 {
        let id = uuid(&mut rng);
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4", "version 4: {id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "RFC 4122 variant: {id}");
    }
    let at = Stamp::from_ms(1_581_520_545_787);
    let a = ulid(at, &mut rng);
    let b = ulid(at, &mut rng);
    assert_eq!(a.len(), 26);
    assert!(a.bytes().all(|c| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&c)), "{a}");
    assert_eq!(a[..10], b[..10], "the time part is the same for the same millisecond");
    assert_ne!(a, b);
    // 1581520545787 ms = 0x17039F867FB: the time part of The Things Stack's documented ids of that second.
    assert_eq!(&a[..10], "01E0WZGSZV");
}

//! The journal's record reader: a segment's bytes, scanned strictly and
//! salvaged, and each record's payload decoded.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meterhub_storage::journal::codec::decode_entry;
use meterhub_storage::journal::salvage::salvage;
use meterhub_storage::journal::segment::{SeqBounds, scan};

fuzz_target!(|data: &[u8]| {
    let _ = decode_entry(data, 1);
    let _ = scan(Path::new("fuzz.seg"), data, SeqBounds { after: 0, before: None });
    for bounds in [SeqBounds { after: 0, before: None }, SeqBounds { after: 0, before: Some(1 << 20) }] {
        let found = salvage(data, bounds);
        for record in found.records {
            let _ = decode_entry(&data[record.payload], record.seq);
        }
    }
});

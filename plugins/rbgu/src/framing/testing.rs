//! What the framers' unit tests share: running a framer over a stream cut
//! into chunks, and the check that every cut gives the same outputs.

use super::{Frame, Framer, Output, Refusal};

/// The bytes of hex `text` (spaces allowed).
pub fn unhex(text: &str) -> Vec<u8> {
    meterhub_plugin_api::hex::decode_spaced(text).unwrap_or_else(|e| panic!("test data {text:?}: {e}"))
}

/// Push `chunks` to `framer`, then finish it; everything it yielded.
pub fn run(framer: &mut dyn Framer, chunks: &[&[u8]]) -> Vec<Output> {
    let mut out = Vec::new();
    for chunk in chunks {
        framer.push(chunk, &mut out);
    }
    framer.finish(&mut out);
    out
}

/// The outputs of `stream` in one chunk, after checking that a cut at every
/// byte and byte-by-byte chunks give the same.
pub fn same_at_every_split<F: Framer>(new: impl Fn() -> F, stream: &[u8]) -> Vec<Output> {
    let whole = run(&mut new(), &[stream]);
    for at in 1..stream.len() {
        let (a, b) = stream.split_at(at);
        assert_eq!(run(&mut new(), &[a, b]), whole, "split at byte {at}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(&mut new(), &bytes), whole, "byte by byte");
    whole
}

/// The frames among `out`.
pub fn frames(out: &[Output]) -> Vec<&Frame> {
    out.iter()
        .filter_map(|o| match o {
            Output::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// The refusals among `out`, fatal or not.
pub fn refusals(out: &[Output]) -> Vec<&Refusal> {
    out.iter()
        .filter_map(|o| match o {
            Output::Refused(r) | Output::Fatal(r) => Some(r),
            Output::Frame(_) => None,
        })
        .collect()
}

//! The `meterhub` binary.
fn main() {}

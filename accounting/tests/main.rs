//! The crate's one integration-test binary: the golden scenarios in
//! `golden/*.toml` and the properties every computation must keep.

mod golden;
mod properties;
mod support;

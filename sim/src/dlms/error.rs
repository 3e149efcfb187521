//! Why the DLMS meter emulator could not run: each message names what and
//! where (the option, the address, the frame). Failures of single
//! connections are not errors of the run: they are counted in the
//! report ([`super::report::Report::error_reasons`]).

/// A failure of the emulator as a whole.
#[derive(Debug, thiserror::Error)]
pub enum DlmsError {
    /// Options that cannot work (together).
    #[error("option {option}: {problem}")]
    Option {
        /// The option (its command-line flag).
        option: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The address to connect to names no socket address.
    #[error("--connect {address:?}: {problem}")]
    Address {
        /// The address given.
        address: String,
        /// What the resolver said.
        problem: String,
    },
    /// A frame that its framing cannot carry.
    #[error("{framing} frame: APDU of {len} bytes exceeds the {max} bytes it can carry")]
    TooLong {
        /// The framing profile (`wrapper`).
        framing: &'static str,
        /// The APDU's length.
        len: usize,
        /// The most it carries.
        max: usize,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

//! The `meterhub` binary: see `meterhub --help`.

/// mimalloc rather than glibc's malloc: under sustained ingest glibc's
/// per-thread arenas kept freed pages, and the host's memory only grew.
/// (`--features system-allocator` leaves it out for heap profilers.)
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    meterhub::memory::tune_for_a_long_run();
    meterhub::cli::main()
}

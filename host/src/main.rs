//! The `meterhub` binary: see `meterhub --help`.

fn main() -> std::process::ExitCode {
    meterhub::cli::main()
}

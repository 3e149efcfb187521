//! `meterhub check`: validate the configuration and its plugins.

use crate::cli::output::say;
use std::path::Path;
use std::process::ExitCode;

/// Print every problem as `file:line:col: cause`; non-zero exit if any.
pub fn run(path: &Path) -> ExitCode {
    let config = match super::load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    super::logging::init(crate::config::LogFormat::Human, "warn");
    let catalog = crate::app::scan_plugins(&config);
    let problems = crate::app::check(&config, &catalog);
    if problems.is_empty() {
        say!(
            "{}: ok ({} driver instance(s), {} plugin(s) loaded from {})",
            path.display(),
            config.drivers.len(),
            catalog.loaded.len(),
            config.plugins_dir.display()
        );
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        eprintln!("{p}");
    }
    eprintln!("meterhub: {} problem(s)", problems.len());
    ExitCode::from(2)
}

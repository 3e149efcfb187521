//! `meterhub redecode`: run the codecs again over stored frames. Asks the
//! running host through its API when one runs (it holds the archive);
//! otherwise opens the archive itself.

use std::path::Path;
use std::process::ExitCode;

use crate::app::{self, RunInfo};
use crate::cli::output::say;
use crate::pipeline::{RedecodeSelection, Stage};

/// Re-decode quarantined frames or a time range.
pub fn run(path: &Path, quarantined: bool, from: Option<String>, to: Option<String>) -> ExitCode {
    let config = match super::load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    super::logging::init(config.log.format, "warn");
    let selection = match (quarantined, from, to) {
        (true, _, _) => RedecodeSelection::Quarantined,
        (false, Some(from), Some(to)) => {
            match (meterhub_http::query::timestamp("--from", &from), meterhub_http::query::timestamp("--to", &to)) {
                (Ok(from_ms), Ok(to_ms)) => RedecodeSelection::Received { from_ms, to_ms },
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("meterhub: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => {
            eprintln!("meterhub: say what to re-decode: --quarantined, or --from and --to");
            return ExitCode::from(2);
        }
    };
    let result = match super::client::running_host(&config) {
        Some(info) => via_api(&info, selection),
        None => offline(&config, selection),
    };
    match result {
        Ok(report) => {
            say!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meterhub: {e}");
            ExitCode::FAILURE
        }
    }
}

fn via_api(info: &RunInfo, selection: RedecodeSelection) -> Result<String, String> {
    let body = serde_json::to_string(&selection).map_err(|e| e.to_string())?;
    match super::client::request(&info.api, "POST", "/api/v1/redecode", &body)? {
        (200, body) => Ok(body.trim().to_owned()),
        (_, body) => Err(format!("the host refused: {}", body.trim())),
    }
}

fn offline(config: &crate::config::Config, selection: RedecodeSelection) -> Result<String, String> {
    let catalog = app::scan_plugins(config);
    let codecs = app::codecs(&catalog, config);
    let archive = app::open_archive(config).map_err(|e| format!("{e:#}"))?;
    let stage = Stage::new(archive, codecs);
    let report = stage.redecode(&selection).map_err(|e| e.to_string())?;
    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
}

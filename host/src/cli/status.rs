//! `meterhub status`: every plugin instance of the running host, like
//! supervisorctl: state, kind, version, uptime, calls, failures, last error;
//! then the per-source counters.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

/// Print the running host's status; `--json` prints the API's answer as is.
pub fn run(path: &Path, json: bool) -> ExitCode {
    let config = match super::load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(info) = super::client::running_host(&config) else {
        eprintln!(
            "meterhub: no host is running for {} (no live {})",
            path.display(),
            crate::app::run_file(&config).display()
        );
        return ExitCode::from(3);
    };
    let body = match super::client::request(&info.api, "GET", "/api/v1/status", "") {
        Ok((200, body)) => body,
        Ok((status, body)) => {
            eprintln!("meterhub: the host answered {status}: {}", body.trim());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("meterhub: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{}", body.trim());
        return ExitCode::SUCCESS;
    }
    let Ok(status) = serde_json::from_str::<Value>(&body) else {
        eprintln!("meterhub: the host's status is not JSON");
        return ExitCode::FAILURE;
    };
    println!("host pid {} api {} up {} s", info.pid, info.api, status["uptime_s"]);
    println!(
        "{:<34} {:<12} {:<7} {:<8} {:>9} {:>9} {:>8}  LAST ERROR",
        "INSTANCE", "STATE", "KIND", "VERSION", "UPTIME", "CALLS", "FAILS"
    );
    for i in status["instances"].as_array().into_iter().flatten() {
        println!(
            "{:<34} {:<12} {:<7} {:<8} {:>8}s {:>9} {:>8}  {}",
            format!("{} ({})", i["name"].as_str().unwrap_or("?"), i["plugin"].as_str().unwrap_or("?")),
            i["state"].as_str().unwrap_or("?"),
            i["kind"].as_str().unwrap_or("?"),
            i["version"].as_str().unwrap_or("?"),
            i["uptime_s"].to_string(),
            i["calls"].to_string(),
            i["failures"].to_string(),
            i["last_error"].as_str().unwrap_or("-"),
        );
    }
    println!();
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "SOURCE", "RECEIVED", "ARCHIVED", "DUPLICATE", "QUARANTINED", "REJECTED"
    );
    for (source, c) in status["sources"].as_object().into_iter().flatten() {
        println!(
            "{:<20} {:>10} {:>10} {:>10} {:>12} {:>10}",
            source,
            c["received"].to_string(),
            c["archived"].to_string(),
            c["duplicate"].to_string(),
            c["quarantined"].to_string(),
            c["rejected"].to_string()
        );
    }
    ExitCode::SUCCESS
}

/// Ask the running host to `action` (restart, stop, start) `instance`.
pub fn request(path: &Path, instance: &str, action: &str) -> ExitCode {
    let config = match super::load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(info) = super::client::running_host(&config) else {
        eprintln!("meterhub: no host is running for {}", path.display());
        return ExitCode::from(3);
    };
    let Some((driver, role)) = instance.split_once('/') else {
        eprintln!("meterhub: name the instance as <driver instance>/<driver|codec>, e.g. devices-tcp/codec");
        return ExitCode::from(2);
    };
    match super::client::request(&info.api, "POST", &format!("/api/v1/instances/{driver}/{role}/{action}"), "") {
        Ok((202, _)) => {
            println!("{instance}: {action} requested; carried out at its next call");
            ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            eprintln!("meterhub: the host answered {status}: {}", body.trim());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("meterhub: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `meterhub status`: every plugin instance of the running host, like
//! supervisorctl: state, kind, version, pid (a native runner), uptime, calls,
//! failures, last error;
//! then the per-source counters, then the sinks (state, position, lag,
//! counts, and the last error under each).

use std::path::Path;
use std::process::ExitCode;

use crate::cli::output::say;
use serde_json::Value;

/// Print the running host's status; `--json` prints the API's answer as is.
pub fn run(path: &Path, json: bool) -> ExitCode {
    let config = match super::load_for_client(path) {
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
        say!("{}", body.trim());
        return ExitCode::SUCCESS;
    }
    let Ok(status) = serde_json::from_str::<Value>(&body) else {
        eprintln!("meterhub: the host's status is not JSON");
        return ExitCode::FAILURE;
    };
    say!("host pid {} api {} up {} s", info.pid, info.api, status["uptime_s"]);
    print_config(&status["config"]);
    say!(
        "{:<34} {:<12} {:<7} {:<8} {:>8} {:>9} {:>9} {:>8}  LAST ERROR",
        "INSTANCE",
        "STATE",
        "KIND",
        "VERSION",
        "PID",
        "UPTIME",
        "CALLS",
        "FAILS"
    );
    for i in status["instances"].as_array().into_iter().flatten() {
        say!(
            "{:<34} {:<12} {:<7} {:<8} {:>8} {:>8}s {:>9} {:>8}  {}",
            format!("{} ({})", i["name"].as_str().unwrap_or("?"), i["plugin"].as_str().unwrap_or("?")),
            i["state"].as_str().unwrap_or("?"),
            i["kind"].as_str().unwrap_or("?"),
            i["version"].as_str().unwrap_or("?"),
            i["pid"].as_u64().map_or_else(|| "-".to_owned(), |p| p.to_string()),
            i["uptime_s"].to_string(),
            i["calls"].to_string(),
            i["failures"].to_string(),
            i["last_error"].as_str().unwrap_or("-"),
        );
    }
    say!();
    say!(
        "{:<20} {:>10} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "SOURCE",
        "RECEIVED",
        "ARCHIVED",
        "DUPLICATE",
        "QUARANTINED",
        "REJECTED",
        "FRAMES/S",
        "READINGS/S"
    );
    for (source, c) in status["sources"].as_object().into_iter().flatten() {
        let rate = &status["rates"][source];
        say!(
            "{:<20} {:>10} {:>10} {:>10} {:>12} {:>10} {:>10.1} {:>10.1}",
            source,
            c["received"].to_string(),
            c["archived"].to_string(),
            c["duplicate"].to_string(),
            c["quarantined"].to_string(),
            c["rejected"].to_string(),
            rate["frames_per_s"].as_f64().unwrap_or(0.0),
            rate["readings_per_s"].as_f64().unwrap_or(0.0)
        );
    }
    print_sinks(&status["sinks"]);
    print_sync(&status["sync"]);
    ExitCode::SUCCESS
}

/// The sync links at a glance: this host's to its centers, and, at a
/// center, its sites (docs/sync.md).
fn print_sync(sync: &Value) {
    let links = sync["links"].as_array().map_or(&[][..], Vec::as_slice);
    let sites = sync["sites"].as_array().map_or(&[][..], Vec::as_slice);
    let number = |v: &Value| v.as_u64().map_or_else(|| "-".to_owned(), |n| n.to_string());
    let time = |v: &Value| v.as_i64().map_or_else(|| "-".to_owned(), meterhub_plugin_api::time::format_rfc3339_ms);
    let check = |c: &Value| {
        if c.is_null() {
            return "-".to_owned();
        }
        match c["different"].as_u64() {
            Some(0) => format!("clean ({} days, {})", number(&c["days"]), time(&c["at_ms"])),
            Some(n) => format!("{n} days DIFFER ({})", time(&c["at_ms"])),
            None => "?".to_owned(),
        }
    };
    if !links.is_empty() {
        say!();
        say!(
            "{:<34} {:<12} {:>12} {:>10} {:>10} {:>9}  LAST CHECK",
            "SYNC LINK",
            "STATE",
            "LAG RECORDS",
            "LAG S",
            "RATE/S",
            "ETA S"
        );
        for l in links {
            let s = &l["sink"];
            say!(
                "{:<34} {:<12} {:>12} {:>10.1} {:>10.1} {:>9}  {}",
                s["target"].as_str().unwrap_or("?"),
                l["state"].as_str().unwrap_or("?"),
                number(&s["lag_records"]),
                s["lag_seconds"].as_f64().unwrap_or(0.0),
                s["rate_rps"].as_f64().unwrap_or(0.0),
                s["eta_seconds"].as_f64().map_or_else(|| "-".to_owned(), |e| format!("{e:.0}")),
                check(&s["last_check"]),
            );
        }
    }
    if !sites.is_empty() {
        say!();
        say!(
            "{:<20} {:<12} {:>12} {:>10} {:>10} {:>9} {:>12}  {:<24}  LAST CHECK",
            "SITE",
            "STATE",
            "LAG RECORDS",
            "LAG S",
            "RATE/S",
            "ETA S",
            "READINGS",
            "LAST CONTACT"
        );
        for s in sites {
            say!(
                "{:<20} {:<12} {:>12} {:>10.1} {:>10.1} {:>9} {:>12}  {:<24}  {}",
                s["site"].as_str().unwrap_or("?"),
                s["state"].as_str().unwrap_or("?"),
                number(&s["lag_records"]),
                s["lag_seconds"].as_f64().unwrap_or(0.0),
                s["throughput_rps"].as_f64().unwrap_or(0.0),
                s["eta_seconds"].as_f64().map_or_else(|| "-".to_owned(), |e| format!("{e:.0}")),
                number(&s["readings"]),
                time(&s["last_contact_ms"]),
                check(&s["last_check"]),
            );
            if let Some(text) = s["alarm"]["message"].as_str() {
                say!("  alarm: {text}");
            }
            if let Some(text) = s["warning"].as_str() {
                say!("  warning: {text}");
            }
            if let Some(error) = s.get("last_error").filter(|e| !e.is_null()) {
                say!("  last error at {}: {}", time(&error["at_ms"]), error["message"].as_str().unwrap_or("?"));
            }
        }
    }
}

/// The sinks: state, position, lag, counts; the last error, when there
/// is one, on an indented line under its sink.
fn print_sinks(sinks: &Value) {
    say!();
    let sinks = sinks.as_array().map_or(&[][..], Vec::as_slice);
    if sinks.is_empty() {
        say!("SINKS: none ([sinks.<id>] in the configuration, docs/sinks.md)");
        return;
    }
    say!(
        "{:<34} {:<12} {:>12} {:>12} {:>10} {:>12} {:>9} {:>9}  LAST SUCCESS",
        "SINK",
        "STATE",
        "POSITION",
        "LAG RECORDS",
        "LAG S",
        "DELIVERED",
        "RETRIED",
        "REJECTED"
    );
    let number = |v: &Value| v.as_u64().map_or_else(|| "-".to_owned(), |n| n.to_string());
    for s in sinks {
        // The lag is unknown until the sink has read its position from its database.
        let known = s["position"].is_u64();
        say!(
            "{:<34} {:<12} {:>12} {:>12} {:>10} {:>12} {:>9} {:>9}  {}",
            format!("{} ({})", s["id"].as_str().unwrap_or("?"), s["plugin"].as_str().unwrap_or("?")),
            s["state"].as_str().unwrap_or("?"),
            number(&s["position"]),
            if known { number(&s["lag_records"]) } else { "-".to_owned() },
            if known { format!("{:.1}", s["lag_seconds"].as_f64().unwrap_or(0.0)) } else { "-".to_owned() },
            number(&s["delivered"]),
            number(&s["retried"]),
            number(&s["rejected"]),
            s["last_success_ms"].as_i64().map_or_else(|| "-".to_owned(), meterhub_plugin_api::time::format_rfc3339_ms),
        );
        if let Some(error) = s.get("last_error").filter(|e| !e.is_null()) {
            let mut lines = error["message"].as_str().unwrap_or("?").lines();
            say!(
                "  last error at {}: {}",
                meterhub_plugin_api::time::format_rfc3339_ms(error["at_ms"].as_i64().unwrap_or(0)),
                lines.next().unwrap_or("")
            );
            for line in lines {
                say!("    {line}");
            }
        }
    }
}

/// The configuration in effect, the last change and a refused one.
fn print_config(config: &Value) {
    say!("config {} (generation {})", config["file"].as_str().unwrap_or("?"), config["generation"]);
    if let Some(applied) = config.get("last_applied").filter(|a| !a.is_null()) {
        let changes = applied["changes"].as_array().map_or(0, Vec::len);
        say!(
            "  last change: {} at {}, {} change(s), applied in {:.1} ms",
            applied["trigger"].as_str().unwrap_or("?"),
            meterhub_plugin_api::time::format_rfc3339_ms(applied["at_ms"].as_i64().unwrap_or(0)),
            changes,
            applied["apply_ms"].as_f64().unwrap_or(0.0)
        );
        for change in applied["changes"].as_array().into_iter().flatten() {
            say!("    {}", change.as_str().unwrap_or("?"));
        }
    }
    if let Some(refused) = config.get("last_error").filter(|e| !e.is_null()) {
        say!(
            "  LAST CHANGE REFUSED ({} at {}); the configuration above keeps running:",
            refused["trigger"].as_str().unwrap_or("?"),
            meterhub_plugin_api::time::format_rfc3339_ms(refused["at_ms"].as_i64().unwrap_or(0))
        );
        for error in refused["errors"].as_array().into_iter().flatten() {
            say!("    {}", error.as_str().unwrap_or("?"));
        }
    }
    say!();
}

/// Ask the running host to `action` (restart, stop, start) `instance`.
pub fn request(path: &Path, instance: &str, action: &str) -> ExitCode {
    let config = match super::load_for_client(path) {
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
            say!("{instance}: {action} requested; carried out at its next call");
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

//! `meterhub meter`: the running host's meter registry through its API:
//! list, show, set metadata fields, add replacement and reset events, show
//! the change history.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::output::say;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

/// What to do with meters.
#[derive(Debug, Subcommand)]
pub enum MeterCommand {
    /// List registered meters.
    List(Common),
    /// Show one meter: channels, module, metadata, events.
    Show {
        /// Meter id.
        id: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// Set metadata fields: `field=value` (an empty value clears the field).
    /// Fields: name, address, resource (gas, electricity, heat, cold_water,
    /// hot_water), consumer_account, site, time_zone, pulse_weight,
    /// register_capacity, initial_value and installed_at (together: the
    /// register value when the meter was put into service), billing_channel.
    Set {
        /// Meter id.
        id: String,
        /// `field=value` pairs.
        #[arg(required = true)]
        fields: Vec<String>,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// Add a register event (its deltas are recomputed).
    Event {
        /// Meter id.
        id: String,
        /// What happened.
        #[command(subcommand)]
        event: EventArgs,
    },
    /// Recompute every delta of a meter (lifts a hold once its readings can
    /// be read again).
    Recompute {
        /// Meter id.
        id: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// Show every change of a meter's metadata and events.
    History {
        /// Meter id.
        id: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
}

/// A register event.
#[derive(Debug, Subcommand)]
pub enum EventArgs {
    /// The meter was replaced.
    Replacement {
        /// When (RFC 3339 or ms since the epoch).
        #[arg(long)]
        at: String,
        /// The old meter's last register value.
        #[arg(long)]
        old_final: String,
        /// The new meter's first register value.
        #[arg(long)]
        new_initial: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// The register was set to a value.
    Reset {
        /// When (RFC 3339 or ms since the epoch).
        #[arg(long)]
        at: String,
        /// The value just before, when known.
        #[arg(long)]
        value_before: Option<String>,
        /// The value just after.
        #[arg(long)]
        value_after: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
}

/// Options of every `meter` command.
#[derive(Debug, Args)]
pub struct Common {
    /// Configuration file (it says where the running host is).
    #[arg(short, long, default_value = "configs/meterhub.toml")]
    config: PathBuf,
    /// Who makes the change (recorded in the history); default `cli:$USER`.
    #[arg(long)]
    actor: Option<String>,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
}

fn actor(common: &Common) -> String {
    common
        .actor
        .clone()
        .unwrap_or_else(|| format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())))
}

/// A path segment, percent-encoded.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs a `meter` command.
pub fn run(command: MeterCommand) -> ExitCode {
    let (common, method, path, body) = match &command {
        MeterCommand::List(common) => (common, "GET", "/api/v1/meters".to_owned(), None),
        MeterCommand::Show { id, common } => (common, "GET", format!("/api/v1/meters/{}", segment(id)), None),
        MeterCommand::History { id, common } => {
            (common, "GET", format!("/api/v1/meters/{}/history", segment(id)), None)
        }
        MeterCommand::Recompute { id, common } => (
            common,
            "POST",
            format!("/api/v1/meters/{}/recompute", segment(id)),
            Some(json!({ "actor": actor(common) })),
        ),
        MeterCommand::Set { id, fields, common } => {
            let mut body = Map::new();
            for pair in fields {
                let Some((field, value)) = pair.split_once('=') else {
                    eprintln!("meterhub: {pair:?}: expected field=value");
                    return ExitCode::from(2);
                };
                let value = if value.is_empty() { Value::Null } else { json!(value) };
                body.insert(field.to_owned(), value);
            }
            body.insert("actor".into(), json!(actor(common)));
            (common, "PATCH", format!("/api/v1/meters/{}", segment(id)), Some(Value::Object(body)))
        }
        MeterCommand::Event { id, event } => {
            let (common, body) = match event {
                EventArgs::Replacement { at, old_final, new_initial, common } => (
                    common,
                    json!({"kind": "replacement", "at": at, "old_final": old_final, "new_initial": new_initial}),
                ),
                EventArgs::Reset { at, value_before, value_after, common } => (
                    common,
                    json!({"kind": "reset", "at": at, "value_before": value_before, "value_after": value_after}),
                ),
            };
            let mut body = body;
            body["actor"] = json!(actor(common));
            (common, "POST", format!("/api/v1/meters/{}/events", segment(id)), Some(body))
        }
    };
    let answer = match ask(&common.config, method, &path, body.map(|b| b.to_string()).unwrap_or_default().as_str()) {
        Ok(answer) => answer,
        Err(code) => return code,
    };
    if common.json {
        say!("{}", answer.trim());
        return ExitCode::SUCCESS;
    }
    let Ok(value) = serde_json::from_str::<Value>(&answer) else {
        say!("{}", answer.trim());
        return ExitCode::SUCCESS;
    };
    match &command {
        MeterCommand::List(_) => print_list(&value),
        MeterCommand::History { .. } => print_history(&value),
        _ => say!("{}", serde_json::to_string_pretty(&value).unwrap_or_default()),
    }
    ExitCode::SUCCESS
}

/// The running host's answer to one request; exit codes as `status`.
fn ask(config: &Path, method: &str, path: &str, body: &str) -> Result<String, ExitCode> {
    let config_file = config;
    let config = super::load_for_client(config)?;
    let Some(info) = super::client::running_host(&config) else {
        eprintln!("meterhub: no host is running for {}", config_file.display());
        return Err(ExitCode::from(3));
    };
    match super::client::request(&info.api, method, path, body) {
        Ok((200..=202, body)) => Ok(body),
        Ok((status, body)) => {
            let message = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(body);
            eprintln!("meterhub: the host answered {status}: {}", message.trim());
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("meterhub: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn print_list(meters: &Value) {
    say!(
        "{:<24} {:<12} {:<16} {:<12} {:<16} {:<20}  CHANNELS",
        "METER",
        "RESOURCE",
        "SITE",
        "MODULE",
        "ZONE",
        "LAST SEEN"
    );
    for m in meters.as_array().into_iter().flatten() {
        let channels: Vec<&str> = m["channels"].as_object().into_iter().flatten().map(|(k, _)| k.as_str()).collect();
        say!(
            "{:<24} {:<12} {:<16} {:<12} {:<16} {:<20}  {}",
            text(&m["id"]),
            text(&m["metadata"]["resource"]),
            text(&m["metadata"]["site"]),
            text(&m["module"]),
            text(&m["metadata"]["time_zone"]),
            text(&m["last_seen"]),
            channels.join(",")
        );
    }
}

fn print_history(entries: &Value) {
    say!("{:>4} {:<25} {:<16} {:<18} CHANGE", "SEQ", "AT", "ACTOR", "FIELD");
    for e in entries.as_array().into_iter().flatten() {
        say!(
            "{:>4} {:<25} {:<16} {:<18} {} -> {}",
            e["seq"],
            text(&e["at"]),
            text(&e["actor"]),
            text(&e["field"]),
            e["old"],
            e["new"]
        );
    }
}

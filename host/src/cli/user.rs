//! `meterhub user`: add, passwd, grant, revoke, list, remove. Through the
//! running host's API with its local admin token; when no host runs, on the
//! user database `<data_dir>/users` directly, with the same
//! [`crate::auth::Auth`] functions the API uses.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{self, encode_component};
use crate::auth::password::PasswordHashing;
use crate::auth::{Actor, Auth, AuthError, AuthSettings, Role};
use crate::cli::output::say;

/// What to do with users.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (asks for the password, or reads it with --password-stdin).
    Add {
        /// Login name.
        name: String,
        /// admin, operator, dispatcher or viewer.
        #[arg(long)]
        role: String,
        /// A registry subtree the user may see: resource/site/module/meter,
        /// `*` for any one component (`gas`, `*/Kazan-1`, `*/*/mod-17`); repeatable.
        #[arg(long = "grant", value_name = "PATTERN")]
        grants: Vec<String>,
        /// Password options.
        #[command(flatten)]
        password: PasswordArgs,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// Set a user's password; their sessions end.
    Passwd {
        /// Login name.
        name: String,
        /// Password options.
        #[command(flatten)]
        password: PasswordArgs,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// Let a user see a registry subtree.
    Grant {
        /// Login name.
        name: String,
        /// resource/site/module/meter pattern.
        pattern: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// Take a grant back.
    Revoke {
        /// Login name.
        name: String,
        /// The pattern as granted.
        pattern: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// List users.
    List {
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
    /// Remove a user; their sessions end.
    Remove {
        /// Login name.
        name: String,
        /// Common options.
        #[command(flatten)]
        common: Common,
    },
}

/// Where the password comes from.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from standard input (its first line) instead of the terminal.
    #[arg(long)]
    password_stdin: bool,
}

/// Options of every `user` command.
#[derive(Debug, Args)]
pub struct Common {
    /// Configuration file (it says where the host and its data are).
    #[arg(short, long, default_value = "configs/meterhub.toml")]
    config: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// What one command does, independent of where it is done.
enum Action {
    Add { name: String, role: Role, grants: Vec<String>, password: String },
    Passwd { name: String, password: String },
    Grant { name: String, pattern: String },
    Revoke { name: String, pattern: String },
    List,
    Remove { name: String },
}

impl Action {
    /// Through the running host's API.
    fn over_api(&self, api: &str) -> Result<Value, String> {
        let user_path = |name: &str| format!("/api/v1/users/{}", encode_component(name));
        let (method, path, body) = match self {
            Action::Add { name, role, grants, password } => (
                "POST",
                "/api/v1/users".to_owned(),
                json!({ "name": name, "role": role, "grants": grants, "password": password }),
            ),
            Action::Passwd { name, password } => ("PATCH", user_path(name), json!({ "password": password })),
            Action::Grant { name, pattern } => {
                ("POST", format!("{}/grants", user_path(name)), json!({ "pattern": pattern }))
            }
            Action::Revoke { name, pattern } => {
                ("DELETE", format!("{}/grants?pattern={}", user_path(name), encode_component(pattern)), Value::Null)
            }
            Action::List => ("GET", "/api/v1/users".to_owned(), Value::Null),
            Action::Remove { name } => ("DELETE", user_path(name), Value::Null),
        };
        let body = if body.is_null() { String::new() } else { body.to_string() };
        let (status, answer) = client::request(api, method, &path, &body)?;
        let value: Value = serde_json::from_str(&answer).unwrap_or(Value::String(answer));
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(value["error"]
                .as_str()
                .map_or_else(|| format!("the host answered {status}: {value}"), ToOwned::to_owned))
        }
    }

    /// On the database, with the same functions the API calls.
    fn on_database(&self, auth: &Auth) -> Result<Value, AuthError> {
        let actor = Actor {
            name: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
            address: None,
        };
        let view = match self {
            Action::Add { name, role, grants, password } => auth.add_user(&actor, name, *role, password, grants)?,
            Action::Passwd { name, password } => auth.set_password(&actor, name, password)?,
            Action::Grant { name, pattern } => auth.grant(&actor, name, pattern)?,
            Action::Revoke { name, pattern } => auth.revoke(&actor, name, pattern)?,
            Action::List => return Ok(serde_json::to_value(auth.users()?).unwrap_or_default()),
            Action::Remove { name } => {
                auth.remove_user(&actor, name)?;
                return Ok(json!({ "ok": true, "removed": name }));
            }
        };
        auth.flush()?;
        Ok(serde_json::to_value(view).unwrap_or_default())
    }
}

fn read_password(name: &str, args: &PasswordArgs) -> Result<String, String> {
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        text.lines().next().unwrap_or_default().to_owned()
    } else {
        let first = rpassword::prompt_password(format!("Password for {name}: "))
            .map_err(|e| format!("cannot read the password from the terminal (use --password-stdin): {e}"))?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    };
    PasswordHashing::check_new(&password)?;
    Ok(password)
}

fn print(action: &Action, value: &Value, json: bool) {
    if json {
        say!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        return;
    }
    let grants = |v: &Value| {
        v["grants"]
            .as_array()
            .map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    match action {
        Action::List => {
            say!("{:<24} {:<11} {:<9} {:<8} GRANTS", "NAME", "ROLE", "DISABLED", "SESSIONS");
            for user in value.as_array().into_iter().flatten() {
                say!(
                    "{:<24} {:<11} {:<9} {:<8} {}",
                    user["name"].as_str().unwrap_or("?"),
                    user["role"].as_str().unwrap_or("?"),
                    user["disabled"].as_bool().unwrap_or(false),
                    user["sessions"].as_u64().unwrap_or(0),
                    grants(user)
                );
            }
        }
        Action::Remove { name } => say!("user {name} removed; their sessions ended"),
        Action::Passwd { name, .. } => say!("password of {name} changed; their sessions ended"),
        Action::Add { .. } | Action::Grant { .. } | Action::Revoke { .. } => say!(
            "{}: {}, grants [{}]",
            value["name"].as_str().unwrap_or("?"),
            value["role"].as_str().unwrap_or("?"),
            grants(value)
        ),
    }
}

/// Runs a `user` command.
pub fn run(command: UserCommand) -> ExitCode {
    let fail = |message: String, code: u8| {
        eprintln!("meterhub: {message}");
        ExitCode::from(code)
    };
    let (common, action) = match command {
        UserCommand::Add { name, role, grants, password, common } => {
            let role = match Role::parse(&role) {
                Ok(r) => r,
                Err(e) => return fail(e, 2),
            };
            match read_password(&name, &password) {
                Ok(password) => (common, Action::Add { name, role, grants, password }),
                Err(e) => return fail(e, 2),
            }
        }
        UserCommand::Passwd { name, password, common } => match read_password(&name, &password) {
            Ok(password) => (common, Action::Passwd { name, password }),
            Err(e) => return fail(e, 2),
        },
        UserCommand::Grant { name, pattern, common } => (common, Action::Grant { name, pattern }),
        UserCommand::Revoke { name, pattern, common } => (common, Action::Revoke { name, pattern }),
        UserCommand::List { common } => (common, Action::List),
        UserCommand::Remove { name, common } => (common, Action::Remove { name }),
    };
    let config = match super::load_for_client(&common.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = match client::running_host(&config) {
        Some(info) => action.over_api(&info.api),
        None => Auth::open(&config.data_dir, AuthSettings::of(&config.web), None)
            .map_err(|e| format!("no host runs, and {e} (is a host starting?)"))
            .and_then(|auth| {
                let result = action.on_database(&auth).map_err(|e| e.to_string());
                // Sealed again, as a host leaves it at a clean stop.
                auth.close();
                result
            }),
    };
    match result {
        Ok(value) => {
            print(&action, &value, common.json);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

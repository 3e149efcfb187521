//! The `meterhub` command line: one sub-command per file.

mod check;
mod client;
mod codec;
mod diagram;
mod logging;
mod meter;
pub mod output;
mod plugin_new;
mod plugins;
mod redecode;
#[cfg(feature = "sim")]
mod sim;
mod status;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cli::output::say;
use crate::config::{self, Config, LogFormat};

/// meterhub: the central server of an automated metering system.
#[derive(Debug, Parser)]
#[command(name = "meterhub", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output formats on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the host.
    Run {
        /// Configuration file.
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
        /// Log format (overrides `[log] format`).
        #[arg(long)]
        log_format: Option<LogFormatArg>,
    },
    /// Validate the configuration and the plugins it uses; exit non-zero on any problem.
    Check {
        /// Configuration file.
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
    },
    /// List the plugins that load and those refused, with the reason.
    Plugins {
        /// Configuration file.
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the codecs again over quarantined frames, or over frames received in a time range.
    Redecode {
        /// Configuration file.
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
        /// Every quarantined frame.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        quarantined: bool,
        /// Start of the range (ms since the epoch or RFC 3339).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// End of the range, exclusive.
        #[arg(long, requires = "from")]
        to: Option<String>,
    },
    /// Show the running host's plugin instances and counters.
    Status {
        /// Configuration file (it says where the running host is).
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restart a plugin instance of the running host (a fresh instance;
    /// failures and quarantine forgotten), e.g. `devices-tcp/codec`.
    Restart {
        /// `<driver instance>/<driver|codec>`.
        instance: String,
        /// Configuration file (it says where the running host is).
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
    },
    /// Stop a plugin instance: its calls fail fast (a codec's frames are
    /// quarantined, a driver's sessions closed) until `start`.
    Stop {
        /// `<driver instance>/<driver|codec>`.
        instance: String,
        /// Configuration file.
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
    },
    /// Start a stopped plugin instance.
    Start {
        /// `<driver instance>/<driver|codec>`.
        instance: String,
        /// Configuration file.
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
    },
    /// The running host's meters: list, show, set metadata, add events, history.
    #[command(subcommand)]
    Meter(meter::MeterCommand),
    /// Users of the API: add, passwd, grant, revoke, list, remove (through the
    /// running host, or on its user database when none runs).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Try codec plugins on payloads.
    #[command(subcommand)]
    Codec(CodecCommand),
    /// Check mimic diagrams.
    #[command(subcommand)]
    Diagram(DiagramCommand),
    /// Write plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Simulate devices, for demos and manual checks.
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Sim(SimCommand),
    /// Serve one native plugin library to its host over stdin and stdout
    /// (started by the host for every untrusted native plugin instance).
    #[command(hide = true)]
    PluginRunner {
        /// The plugin's library.
        library: PathBuf,
    },
}

/// What to do with a mimic diagram.
#[derive(Debug, Subcommand)]
pub enum DiagramCommand {
    /// Read diagram files as the host does; every problem at file:line:col.
    Check(diagram::CheckArgs),
    /// Convert an SVG drawing into a diagram; what it leaves out as warnings at file:line:col.
    Import(diagram::ImportArgs),
}

/// What to do with a codec.
#[derive(Debug, Subcommand)]
pub enum CodecCommand {
    /// Decode one payload and print the fields, readings and telemetry as JSON.
    Decode(codec::DecodeArgs),
}

/// What to do with the configuration.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Put the last good configuration back into the file: the one running
    /// when the file holds an edit that did not take effect, else the one
    /// before the last change. A running host reloads it.
    Rollback {
        /// Configuration file.
        #[arg(short, long, default_value = "configs/meterhub.toml")]
        config: PathBuf,
    },
}

/// What to do with plugins' sources.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write a working plugin folder (crate, plugin.toml, an example of the
    /// role, a passing fixture test) to start a new plugin from.
    New {
        /// The plugin id: its folder name, the end of its crate name.
        id: String,
        /// What it does.
        #[arg(long, value_enum)]
        role: plugin_new::NewRole,
        /// The plugins folder of the workspace.
        #[arg(long, default_value = "plugins")]
        dir: PathBuf,
    },
}

/// What to simulate.
#[cfg(feature = "sim")]
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Meters sending JSON readings to a listener driver over TCP.
    Listener(sim::ListenerSim),
    /// An IOT Vega Server emulator (WebSocket API, simulated Vega devices, control API).
    Vega(sim::VegaSim),
    /// A LoRaWAN network server (ChirpStack v4/v3, The Things Stack v3) pushing
    /// simulated Vega SI-12 events over HTTP or MQTT.
    Lns(sim::LnsSim),
    /// DLMS/COSEM meters pushing daily data-notifications (plain or ciphered,
    /// wrapper or HDLC) to an rbgu driver over TCP.
    Dlms(sim::DlmsSim),
}

/// Run the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, log_format } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let format = match log_format {
                Some(LogFormatArg::Human) => LogFormat::Human,
                Some(LogFormatArg::Json) => LogFormat::Json,
                None => config.log.format,
            };
            logging::init(format, &config.log.level);
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("meterhub: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(crate::app::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "meterhub stopped");
                    eprintln!("meterhub: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { config } => check::run(&config),
        Command::Plugins { config, json } => plugins::run(&config, json),
        Command::Redecode { config, quarantined, from, to } => redecode::run(&config, quarantined, from, to),
        Command::Status { config, json } => status::run(&config, json),
        Command::Restart { instance, config } => status::request(&config, &instance, "restart"),
        Command::Stop { instance, config } => status::request(&config, &instance, "stop"),
        Command::Start { instance, config } => status::request(&config, &instance, "start"),
        Command::Plugin(PluginCommand::New { id, role, dir }) => plugin_new::run(&id, role, &dir),
        Command::Config(ConfigCommand::Rollback { config }) => match crate::lifecycle::history::rollback(&config) {
            Ok(done) => {
                say!("{done}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("meterhub: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Meter(command) => meter::run(command),
        Command::User(command) => user::run(command),
        #[cfg(feature = "sim")]
        Command::Sim(SimCommand::Listener(options)) => sim::run(&options),
        #[cfg(feature = "sim")]
        Command::Sim(SimCommand::Vega(options)) => sim::run_vega(&options),
        #[cfg(feature = "sim")]
        Command::Sim(SimCommand::Lns(options)) => sim::run_lns(&options),
        #[cfg(feature = "sim")]
        Command::Sim(SimCommand::Dlms(options)) => sim::run_dlms(&options),
        Command::Codec(CodecCommand::Decode(args)) => codec::decode(&args),
        Command::Diagram(DiagramCommand::Check(args)) => diagram::check(&args),
        Command::Diagram(DiagramCommand::Import(args)) => diagram::import(&args),
        Command::PluginRunner { library } => crate::plugin::runner::main(&library),
    }
}

/// The configuration for finding a running host: the file, or when an edit
/// broke it, the last good one the host recorded (the one it runs).
fn load_for_client(path: &std::path::Path) -> Result<Config, ExitCode> {
    match config::load(path) {
        Ok(c) => Ok(c),
        Err(e) => {
            let last_good = crate::lifecycle::history::last_good(path);
            let recorded = std::fs::read_to_string(&last_good).ok().and_then(|t| config::load::parse(path, &t).ok());
            match recorded {
                Some(c) => {
                    eprintln!(
                        "meterhub: {} does not load ({}); using the last good configuration {}",
                        path.display(),
                        e.diagnostics.first().map(ToString::to_string).unwrap_or_default(),
                        last_good.display()
                    );
                    Ok(c)
                }
                None => load(path),
            }
        }
    }
}

/// Load and validate the config, printing every diagnostic on failure.
fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    config::load(path).map_err(|e| {
        for d in &e.diagnostics {
            eprintln!("{d}");
        }
        eprintln!("meterhub: {} has {} problem(s); nothing was started", path.display(), e.diagnostics.len());
        ExitCode::from(2)
    })
}

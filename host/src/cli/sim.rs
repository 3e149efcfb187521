//! `meterhub sim ...`: the command-line flags of the simulators in
//! [`crate::sim`] (`listener`: meters sending JSON lines to a listener
//! driver; `vega`: an IOT Vega Server emulator).

use std::process::ExitCode;

use meterhub_sim::{listener, vega};

/// Options of the listener simulator.
#[derive(Debug, clap::Args)]
pub struct ListenerSim {
    /// Address of a listener driver instance on TCP.
    #[arg(long, default_value = "127.0.0.1:7001")]
    pub tcp: String,
    /// Number of simulated meters.
    #[arg(long, default_value_t = 5)]
    pub devices: u32,
    /// Time between two rounds of readings, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Stop after this many rounds (forever when absent).
    #[arg(long)]
    pub rounds: Option<u64>,
}

/// Run the listener simulator until its rounds are done (or forever).
pub fn run(sim: &ListenerSim) -> ExitCode {
    listener::run(&listener::Options {
        tcp: sim.tcp.clone(),
        devices: sim.devices,
        interval_ms: sim.interval_ms,
        rounds: sim.rounds,
    })
}

/// How the Vega emulator frames its JSON messages.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FrameModeArg {
    /// One object per text frame.
    Single,
    /// Sometimes two objects in a frame, sometimes one object over two frames.
    Mixed,
}

fn model(name: &str) -> Result<vega::Model, String> {
    vega::Model::parse(name).ok_or_else(|| {
        let known: Vec<&str> = vega::Model::ALL.iter().map(|m| m.cli_name()).collect();
        format!("unknown model {name:?}; known: {}", known.join(","))
    })
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("{text:?} is not a positive number of uplinks per second")),
    }
}

/// Options of the IOT Vega Server emulator (see `meterhub_sim::vega` for the
/// control API).
#[derive(Debug, clap::Args)]
pub struct VegaSim {
    /// WebSocket address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8002")]
    pub listen: String,
    /// Control API address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8003")]
    pub control: String,
    /// Number of simulated devices.
    #[arg(long, default_value_t = 12)]
    pub devices: u32,
    /// Device models, cycled over the devices.
    #[arg(long, value_delimiter = ',', value_parser = model, default_value = "si11,si12,gm2,sgbm,shve,spbzip,td11,mbus2")]
    pub models: Vec<vega::Model>,
    /// Every device sends one data uplink per this many milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub interval_ms: u64,
    /// Data uplinks per second in total, spread over the devices (overrides --interval-ms).
    #[arg(long, value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// Hours of history per device generated before serving.
    #[arg(long, default_value_t = 0.0)]
    pub history_hours: f64,
    /// Minutes between two pre-generated uplinks of a device.
    #[arg(long, default_value_t = 60)]
    pub history_interval_min: u32,
    /// Keep only the newest N uplinks per device (0: all).
    #[arg(long, default_value_t = 0)]
    pub history_limit: usize,
    /// A user `login:password[:rights[:devices]]`; repeatable (default `root:123`, every right).
    #[arg(long = "user")]
    pub users: Vec<vega::UserSpec>,
    /// WebSocket ping period, milliseconds (0: none).
    #[arg(long, default_value_t = 30_000)]
    pub ping_ms: u64,
    /// How JSON messages are framed.
    #[arg(long, value_enum, default_value = "single")]
    pub frame_mode: FrameModeArg,
    /// Seed of the device identifiers and of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Every N-th device has a clock 600 s ahead (0: none).
    #[arg(long, default_value_t = 4)]
    pub drift_every: u32,
    /// Start with uplink generation paused (`POST /resume` or `/generate` on the control API).
    #[arg(long)]
    pub paused: bool,
}

/// Run the Vega emulator until SIGINT or SIGTERM.
pub fn run_vega(sim: &VegaSim) -> ExitCode {
    vega::run(vega::Options {
        listen: sim.listen.clone(),
        control: sim.control.clone(),
        devices: sim.devices,
        models: sim.models.clone(),
        interval_ms: sim.interval_ms.max(1),
        rate: sim.rate,
        history_hours: sim.history_hours.max(0.0),
        history_interval_min: sim.history_interval_min.max(1),
        history_limit: sim.history_limit,
        users: sim.users.clone(),
        ping_ms: sim.ping_ms,
        frame_mode: match sim.frame_mode {
            FrameModeArg::Single => vega::FrameMode::Single,
            FrameModeArg::Mixed => vega::FrameMode::Mixed,
        },
        seed: sim.seed,
        drift_every: sim.drift_every,
        start_paused: sim.paused,
    })
}

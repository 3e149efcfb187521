//! `meterhub sim ...`: the command-line flags of the simulators in
//! [`crate::sim`] (`listener`: meters sending JSON lines to a listener
//! driver; `vega`: an IOT Vega Server emulator; `lns`: a LoRaWAN
//! network server pushing events to an lw640 driver).

use std::process::ExitCode;

use meterhub_sim::{listener, lns, vega};

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

/// The network server the LNS emulator is.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LnsServerArg {
    /// ChirpStack v4 (HTTP integration, MQTT integration).
    ChirpstackV4,
    /// ChirpStack Application Server v3 ("JSON v3" marshaler).
    ChirpstackV3,
    /// The Things Stack v3 (webhooks, MQTT server).
    TtsV3,
}

/// How ChirpStack v4 encodes its events.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LnsEncodingArg {
    /// JSON.
    Json,
    /// Binary Protobuf (ChirpStack v4 only).
    Protobuf,
}

/// Options of the LoRaWAN network-server emulator (see `meterhub_sim::lns`
/// for what each behaviour sends and the summary it prints). One of
/// `--http` and `--mqtt` is needed, except with `--storage` (The Things
/// Stack with its webhook off: the uplinks only land in its storage).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("transport").args(["http", "mqtt"])))]
pub struct LnsSim {
    /// The network server whose events are sent.
    #[arg(long, value_enum)]
    pub server: LnsServerArg,
    /// ChirpStack v4's encoding.
    #[arg(long, value_enum, default_value = "json")]
    pub encoding: LnsEncodingArg,
    /// POST each event to this URL (ChirpStack adds `?event=`).
    #[arg(long)]
    pub http: Option<String>,
    /// The authentication header's value, e.g. "Bearer s3cret".
    #[arg(long, requires = "http")]
    pub auth: Option<String>,
    /// The authentication header's name.
    #[arg(long, default_value = "Authorization")]
    pub auth_header: String,
    /// HTTP connections used at once (a device always uses the same one).
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Publish each event at QoS 1 to this MQTT broker, mqtt://host[:port].
    #[arg(long)]
    pub mqtt: Option<String>,
    /// Topic levels before ChirpStack's topics.
    #[arg(long, requires = "mqtt")]
    pub topic_prefix: Option<String>,
    /// The broker's user name.
    #[arg(long, requires = "mqtt")]
    pub mqtt_username: Option<String>,
    /// The broker's password.
    #[arg(long, requires = "mqtt_username")]
    pub mqtt_password: Option<String>,
    /// Number of simulated devices (Vega SI-12).
    #[arg(long, default_value_t = 20)]
    pub devices: u32,
    /// Every device sends one uplink per this many milliseconds (of simulated time).
    #[arg(long, default_value_t = 5000)]
    pub interval_ms: u64,
    /// Stop after this many rounds (one uplink per device each).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Stop after this many uplinks in all.
    #[arg(long)]
    pub count: Option<u64>,
    /// Send without waiting; the simulated time still advances by --interval-ms per round, ending now.
    #[arg(long)]
    pub fast: bool,
    /// A join event per device at the start.
    #[arg(long)]
    pub joins: bool,
    /// Send every K-th uplink again (a retried push, or a second gateway's event); 0: never.
    #[arg(long, default_value_t = 0)]
    pub repeat_every: u64,
    /// A status event (battery, margin) after every K-th uplink of each device; 0: never.
    #[arg(long, default_value_t = 0)]
    pub status_every: u64,
    /// A fault after every K-th uplink (malformed body, unknown event, bad base64, in turn); 0: never.
    #[arg(long, default_value_t = 0)]
    pub faults_every: u64,
    /// The device-profile name the server sends (The Things Stack: the model id, or brand/model).
    #[arg(long, default_value = "SI-12")]
    pub profile: String,
    /// Seed of the DevEUIs, ids and every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How long to keep trying to reach the URL or broker, milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub connect_timeout_ms: u64,
    /// A progress line on stderr this often, milliseconds (0: none).
    #[arg(long, default_value_t = 10_000)]
    pub progress_ms: u64,
    /// Serve The Things Stack's Storage Integration API on this address, e.g. 127.0.0.1:7011 (port 0: any);
    /// tts-v3 only. With it a failed push is counted and the run goes on.
    #[arg(long, value_name = "ADDR", requires = "storage_key")]
    pub storage: Option<String>,
    /// The API key the storage API requires (Authorization: Bearer KEY).
    #[arg(long, value_name = "KEY", requires = "storage")]
    pub storage_key: Option<String>,
    /// After the run ends by itself, keep serving the storage API until SIGINT/SIGTERM.
    #[arg(long, requires = "storage")]
    pub hold: bool,
}

/// Run the LNS emulator until its rounds or count are done (or SIGINT/SIGTERM).
pub fn run_lns(sim: &LnsSim) -> ExitCode {
    let target = match (&sim.http, &sim.mqtt) {
        (Some(url), _) => lns::Target::Http {
            url: url.clone(),
            auth: sim.auth.clone(),
            auth_header: sim.auth_header.clone(),
            connections: sim.connections,
        },
        (None, Some(url)) => lns::Target::Mqtt {
            url: url.clone(),
            topic_prefix: sim.topic_prefix.clone(),
            username: sim.mqtt_username.clone(),
            password: sim.mqtt_password.clone(),
        },
        (None, None) if sim.storage.is_some() => lns::Target::Off,
        (None, None) => {
            eprintln!("lns-sim: give --http URL or --mqtt URL (or --storage ADDR with --server tts-v3)");
            return ExitCode::FAILURE;
        }
    };
    let storage = match (&sim.storage, &sim.storage_key) {
        (Some(listen), Some(key)) => Some(lns::StorageOptions { listen: listen.clone(), key: key.clone() }),
        (Some(_), None) => {
            eprintln!("lns-sim: option --storage-key: required with --storage (the API key the storage API takes)");
            return ExitCode::FAILURE;
        }
        (None, _) => None,
    };
    lns::run(lns::Options {
        server: match sim.server {
            LnsServerArg::ChirpstackV4 => lns::Server::ChirpstackV4,
            LnsServerArg::ChirpstackV3 => lns::Server::ChirpstackV3,
            LnsServerArg::TtsV3 => lns::Server::TtsV3,
        },
        encoding: match sim.encoding {
            LnsEncodingArg::Json => lns::Encoding::Json,
            LnsEncodingArg::Protobuf => lns::Encoding::Protobuf,
        },
        target,
        devices: sim.devices,
        interval_ms: sim.interval_ms,
        rounds: sim.rounds,
        count: sim.count,
        fast: sim.fast,
        joins: sim.joins,
        repeat_every: sim.repeat_every,
        status_every: sim.status_every,
        faults_every: sim.faults_every,
        profile: sim.profile.clone(),
        seed: sim.seed,
        connect_timeout_ms: sim.connect_timeout_ms,
        progress_ms: sim.progress_ms,
        storage,
        hold: sim.hold,
        ..lns::Options::default()
    })
}

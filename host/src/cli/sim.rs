//! `meterhub sim ...`: the command-line flags of the simulators in
//! [`crate::sim`] (`listener`: meters sending JSON lines to a listener
//! driver; `vega`: an IOT Vega Server emulator; `lns`: a LoRaWAN
//! network server pushing events to an lw640 driver; `dlms`: DLMS/COSEM
//! meters pushing to an rbgu driver).

use std::process::ExitCode;

use meterhub_sim::{dlms, listener, lns, vega};

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

/// How the DLMS emulator frames its pushes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DlmsFramingArg {
    /// IEC 62056-47 wrapper (version 1, wPorts 1 and 1).
    Wrapper,
    /// IEC 62056-46 HDLC UI frames with HCS and FCS.
    Hdlc,
}

fn dlms_key(text: &str) -> Result<dlms::Key, String> {
    dlms::Key::from_hex(text)
}

/// Options of the DLMS/COSEM meter emulator (see `meterhub_sim::dlms` for
/// the APDUs, the misbehaviours and the summary it prints).
#[derive(Debug, clap::Args)]
pub struct DlmsSim {
    /// Address of an rbgu driver instance on TCP.
    #[arg(long, default_value = "127.0.0.1:7010")]
    pub connect: String,
    /// Number of simulated meters.
    #[arg(long, default_value_t = 5)]
    pub meters: u32,
    /// The first meter's serial; meter k (from 0) has serial first-serial + k, its system title "MHB" and the
    /// serial in 5 bytes (serial 1: 4D48420000000001).
    #[arg(long, default_value_t = 1)]
    pub first_serial: u64,
    /// How pushes are framed (the rbgu driver's `framing`).
    #[arg(long, value_enum, default_value = "wrapper")]
    pub framing: DlmsFramingArg,
    /// Cipher every push: general-glo-ciphering, security control 0x30 (AES-128-GCM under --ek/--ak).
    #[arg(long, conflicts_with = "glo_clear")]
    pub ciphered: bool,
    /// Send every push as general-glo-ciphering with security control 0x00: the system title and
    /// invocation counter in clear, no protection (identified by the driver without keys).
    #[arg(long)]
    pub glo_clear: bool,
    /// The meters' global encryption key, 32 hex digits.
    #[arg(long, value_parser = dlms_key, default_value = "000102030405060708090A0B0C0D0E0F")]
    pub ek: dlms::Key,
    /// The meters' authentication key, 32 hex digits.
    #[arg(long, value_parser = dlms_key, default_value = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")]
    pub ak: dlms::Key,
    /// The meters' LLS password (printable ASCII), which a client's AARQ must carry to set their clock or push
    /// schedule.
    #[arg(long, default_value = "12345678")]
    pub password: String,
    /// Every meter's first invocation counter (+1 per ciphered APDU).
    #[arg(long, default_value_t = 1)]
    pub first_counter: u32,
    /// Pushes per meter.
    #[arg(long, default_value_t = 4)]
    pub pushes: u64,
    /// Wall time between a meter's pushes, milliseconds (0: as fast as possible).
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Pushes per connection before hanging up and reconnecting (default: all on one connection).
    #[arg(long)]
    pub per_connection: Option<u64>,
    /// Keep every connection open after its last push until SIGINT/SIGTERM.
    #[arg(long)]
    pub hold: bool,
    /// At most this many connects in flight at once.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// How long a meter keeps trying to connect or write before giving up, milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub connect_timeout_ms: u64,
    /// The meters' clock advances this many seconds per push.
    #[arg(long, default_value_t = 900)]
    pub period_s: u32,
    /// The first push's time, RFC 3339 with the meters' UTC offset.
    #[arg(long, default_value = "2026-01-01T00:00:00+03:00")]
    pub start: String,
    /// Seed of the register values and of where misbehaviours go.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Connections hung up in the middle of a frame: a count, or a share of the pushes (2.5%).
    #[arg(long, default_value = "0")]
    pub torn: dlms::Amount,
    /// Extra frames whose APDU has the unknown tag 0x55: a count or a share.
    #[arg(long, default_value = "0")]
    pub bad_tag: dlms::Amount,
    /// Pushes sent again byte for byte (same invocation counter) on a new connection: a count or a share.
    #[arg(long, default_value = "0")]
    pub replay: dlms::Amount,
    /// Extra ciphered pushes under other keys (needs --ciphered): a count or a share.
    #[arg(long, default_value = "0")]
    pub wrong_key: dlms::Amount,
    /// A progress line on stderr this often, milliseconds (0: none).
    #[arg(long, default_value_t = 10_000)]
    pub progress_ms: u64,
}

/// Run the DLMS emulator until every meter is done (with --hold, until
/// SIGINT/SIGTERM). The open-file limit is raised to the hard limit first,
/// as the host does, so that --hold can keep thousands of connections.
pub fn run_dlms(sim: &DlmsSim) -> ExitCode {
    let open_files_limit = crate::open_files::raise_to_hard_limit();
    let security = match (sim.ciphered, sim.glo_clear) {
        (true, _) => dlms::Security::Ciphered,
        (false, true) => dlms::Security::GloClear,
        (false, false) => dlms::Security::Plain,
    };
    let options = dlms::Options {
        connect: sim.connect.clone(),
        meters: sim.meters,
        first_serial: sim.first_serial,
        framing: match sim.framing {
            DlmsFramingArg::Wrapper => dlms::Framing::Wrapper,
            DlmsFramingArg::Hdlc => dlms::Framing::Hdlc,
        },
        security,
        keys: dlms::Keys { ek: sim.ek, ak: sim.ak, password: sim.password.clone() },
        first_counter: sim.first_counter,
        pushes: sim.pushes,
        interval_ms: sim.interval_ms,
        per_connection: sim.per_connection,
        hold: sim.hold,
        connect_concurrency: sim.connect_concurrency,
        connect_timeout_ms: sim.connect_timeout_ms,
        period_s: sim.period_s,
        start: sim.start.clone(),
        seed: sim.seed,
        misbehaviour: dlms::Misbehaviour {
            torn: sim.torn,
            bad_tag: sim.bad_tag,
            replay: sim.replay,
            wrong_key: sim.wrong_key,
        },
        open_files_limit: u64::try_from(open_files_limit).ok(),
    };
    dlms::main(options, sim.progress_ms)
}

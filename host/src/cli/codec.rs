//! `meterhub codec decode`: run a codec plugin over one payload and print
//! the decoded fields, readings and module telemetry as JSON, for
//! integrators checking payloads against a device's documentation.

use std::process::ExitCode;

use base64::Engine as _;
use meterhub_plugin_api::{RawFrame, Role, Transport};

use crate::cli::output::say;
use crate::lifecycle::plan::resolve;

/// What to decode.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Configuration file (for its plugins folder and isolation settings).
    #[arg(short, long, default_value = "configs/meterhub.toml")]
    pub config: std::path::PathBuf,
    /// Codec plugin id.
    #[arg(long)]
    pub plugin: String,
    /// The payload in hex.
    #[arg(long, conflicts_with = "base64", required_unless_present = "base64")]
    pub hex: Option<String>,
    /// The payload in base64.
    #[arg(long)]
    pub base64: Option<String>,
    /// LoRaWAN fPort (frame metadata `fport`).
    #[arg(long)]
    pub fport: Option<u32>,
    /// Device model (frame metadata `model`), for codecs of several models.
    #[arg(long)]
    pub model: Option<String>,
    /// DevEUI (frame metadata `deveui`).
    #[arg(long, default_value = "0000000000000000")]
    pub deveui: String,
    /// AppEUI (frame metadata `appeui`).
    #[arg(long)]
    pub appeui: Option<String>,
    /// Codec settings, a JSON object.
    #[arg(long, default_value = "{}")]
    pub settings: String,
}

/// Decode one payload; exit 1 when the codec refuses it (it would be
/// quarantined), 2 when the codec or the input cannot be had.
pub fn decode(args: &DecodeArgs) -> ExitCode {
    let config = match super::load(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    super::logging::init(crate::config::LogFormat::Human, "error");
    let payload = match (&args.hex, &args.base64) {
        (Some(hex), _) => hex_bytes(hex.trim()),
        (None, Some(b64)) => {
            base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| format!("--base64: {e}"))
        }
        (None, None) => Err("give --hex or --base64".to_owned()),
    };
    let payload = match payload {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let catalog = crate::app::scan_plugins(&config);
    let plugin = match resolve(&catalog, &args.plugin, Role::Codec) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let mut codec = match plugin.instantiate(&args.settings, crate::plugin::Isolation::of(&config, &args.plugin)) {
        Ok(c) => c,
        Err(e) => return fail(&format!("codec {:?} refused the settings: {e}", args.plugin)),
    };
    let now_ms = meterhub_storage::clock::now_ms();
    let mut meta = vec![("deveui".to_owned(), args.deveui.clone()), ("ts".to_owned(), now_ms.to_string())];
    meta.extend(args.fport.map(|p| ("fport".to_owned(), p.to_string())));
    meta.extend(args.model.clone().map(|m| ("model".to_owned(), m)));
    meta.extend(args.appeui.clone().map(|a| ("appeui".to_owned(), a)));
    let frame = RawFrame {
        seq: 0,
        source: "codec-decode".into(),
        peer: "command line".into(),
        received_at_ms: now_ms,
        transport: Transport::Tcp,
        content_type: "application/octet-stream".into(),
        meta,
        payload,
    };
    let result = match codec.decode(&frame) {
        Ok(result) => result,
        Err(fault) => return fail(&format!("codec {:?} failed: {fault}", args.plugin)),
    };
    let (output, code) = match result {
        Ok(decoded) => {
            let fields = decoded.fields.as_deref().map(|f| {
                serde_json::from_str::<serde_json::Value>(f).unwrap_or_else(|_| serde_json::Value::String(f.to_owned()))
            });
            let value = serde_json::json!({
                "fields": fields,
                "readings": decoded.readings,
                "telemetry": decoded.telemetry,
            });
            (value, ExitCode::SUCCESS)
        }
        Err(e) => (serde_json::json!({ "quarantined": e.reason }), ExitCode::from(1)),
    };
    say!("{}", serde_json::to_string_pretty(&output).unwrap_or_default());
    code
}

fn fail(message: &str) -> ExitCode {
    eprintln!("meterhub codec decode: {message}");
    ExitCode::from(2)
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    meterhub_plugin_api::hex::decode_spaced(text).map_err(|e| format!("--hex: {e}"))
}

//! `/api/v1/diagrams` (`docs/diagrams.md`): the mimic diagrams of
//! `host.diagrams_dir`, read as they change.
//!
//! - `GET /api/v1/diagrams`: each diagram's name, whether its file reads,
//!   its errors at `file:line:col`, whether a compiled form is served (the
//!   last good one while the file is refused), counts, and (for
//!   dispatchers and up) its bindings to meters or channels the host does
//!   not know;
//! - `GET /api/v1/diagrams/{name}`: the compiled form served, JSON, with
//!   `hidden`: the signals the user may not see (the viewer leaves their
//!   values blank and never runs their actions);
//! - `GET /api/v1/diagram-images/{file}`: an image the diagrams' `Image`
//!   elements name, from the diagrams folder (PNG, JPEG, GIF, WebP).

use std::collections::{BTreeMap, BTreeSet};

use hyper::StatusCode;

use super::state::ApiState;
use super::visibility::Visibility;
use crate::auth::{Principal, Role};
use meterhub_http::HttpResponse;

/// Every meter the host knows, with its channels: the archive's and the
/// registry's.
fn known_meters(state: &ApiState) -> BTreeMap<String, BTreeSet<String>> {
    let mut known: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for device in state.archive.devices().unwrap_or_default() {
        known.entry(device.device).or_default().extend(device.channels);
    }
    for meter in state.accounting.store.meters().unwrap_or_default() {
        known.entry(meter.id.clone()).or_default().extend(meter.channels.keys().cloned());
    }
    known
}

/// `GET /api/v1/diagrams`.
pub fn list(state: &ApiState, principal: &Principal) -> HttpResponse {
    let dir = state.view().diagrams_dir.clone();
    let plant = principal.role.includes(Role::Dispatcher);
    let known = if plant { known_meters(state) } else { BTreeMap::new() };
    let mut diagrams = tokio::task::block_in_place(|| state.diagrams.list(&dir, &known));
    if !plant {
        for d in &mut diagrams {
            d.dangling.clear();
        }
    }
    meterhub_http::json(StatusCode::OK, &serde_json::json!({ "dir": dir.display().to_string(), "diagrams": diagrams }))
}

/// `GET /api/v1/diagrams/{name}`.
pub fn one(state: &ApiState, visibility: &Visibility, name: &str) -> HttpResponse {
    let dir = state.view().diagrams_dir.clone();
    match tokio::task::block_in_place(|| state.diagrams.get(&dir, name)) {
        Some(compiled) => {
            let hidden: Vec<usize> = compiled
                .signals
                .iter()
                .enumerate()
                .filter(|(_, (device, _))| !visibility.meter(&state.accounting, device))
                .map(|(i, _)| i)
                .collect();
            meterhub_http::response(StatusCode::OK, "application/json", with_hidden(&compiled.json, &hidden))
        }
        None => meterhub_http::coded_error(
            StatusCode::NOT_FOUND,
            "diagram_not_found",
            &format!("no diagram {name:?} served (GET /api/v1/diagrams lists them and their errors)"),
        ),
    }
}

/// Largest image served, bytes.
const IMAGE_LIMIT: u64 = 16 << 20;

/// The content type of an image file the diagrams folder serves, by its
/// extension; none for anything else (SVG is not served: it can carry
/// scripts, and `meterhub diagram import` converts it instead).
fn image_type(file: &str) -> Option<&'static str> {
    let (_, extension) = file.rsplit_once('.')?;
    match extension.to_ascii_lowercase().as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// `GET /api/v1/diagram-images/{file}`: a file of the diagrams folder
/// itself (no sub-folders, nothing outside it), an image by its extension.
pub fn image(state: &ApiState, file: &str) -> HttpResponse {
    let not_found = |why: &str| meterhub_http::coded_error(StatusCode::NOT_FOUND, "diagram_image_not_found", why);
    let plain = !file.is_empty() && !file.starts_with('.') && !file.contains(['/', '\\']);
    let Some(content_type) = image_type(file).filter(|_| plain) else {
        return not_found(&format!(
            "{file:?} is not an image file of the diagrams folder (a .png, .jpg, .gif or .webp in the folder itself)"
        ));
    };
    let path = state.view().diagrams_dir.join(file);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() && meta.len() <= IMAGE_LIMIT => match std::fs::read(&path) {
            Ok(bytes) => meterhub_http::response(StatusCode::OK, content_type, bytes),
            Err(e) => not_found(&format!("{}: {e}", path.display())),
        },
        Ok(meta) if meta.is_file() => meterhub_http::coded_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "diagram_image_too_large",
            &format!("{}: {} bytes, more than the {IMAGE_LIMIT} served", path.display(), meta.len()),
        ),
        _ => not_found(&format!("no image {file:?} in the diagrams folder")),
    }
}

/// The compiled form `json` (an object) with `"hidden": [signal indexes]`
/// added as its last key, without parsing it again.
fn with_hidden(json: &str, hidden: &[usize]) -> String {
    let Some(body) = json.strip_suffix('}') else { return json.to_owned() };
    let list: Vec<String> = hidden.iter().map(usize::to_string).collect();
    format!("{body},\"hidden\":[{}]}}", list.join(","))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_images_of_the_folder_itself_are_served() {
        assert_eq!(super::image_type("pump.PNG"), Some("image/png"));
        assert_eq!(super::image_type("photo.jpeg"), Some("image/jpeg"));
        assert_eq!(super::image_type("drawing.svg"), None, "SVG can carry scripts");
        assert_eq!(super::image_type("grp-1.xml"), None);
        assert_eq!(super::image_type("png"), None);
    }

    #[test]
    fn hidden_signals_are_the_last_key_of_the_compiled_form() {
        let json = super::with_hidden(r#"{"version":1,"signals":[]}"#, &[0, 2]);
        let value: serde_json::Value = serde_json::from_str(&json).expect("still JSON");
        assert_eq!(value["hidden"], serde_json::json!([0, 2]));
        assert_eq!(value["version"], 1);
    }
}

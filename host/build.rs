//! Embeds the dispatcher UI (`ui/` at the workspace root) into the binary:
//! writes `$OUT_DIR/ui_files.rs`, a table of every file with its content
//! type and its bytes (`include_bytes!`), which `src/web/files.rs`
//! includes. `ui/vendor/` (uPlot, built by `scripts/build-ui`) is embedded
//! when it is there; npm's own files and the UI's node tests are not.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files and folders of `ui/` that are not served.
const NOT_SERVED: &[&str] = &["node_modules", "package.json", "package-lock.json", "tests"];

/// The `Content-Type` of a file by its extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || NOT_SERVED.contains(&name.as_ref()) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui = manifest.parent().expect("host/ has a parent").join("ui");
    // A directory: cargo looks at every file under it.
    println!("cargo:rerun-if-changed={}", ui.display());
    let mut files = Vec::new();
    collect(&ui, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for file in &files {
        let served = file.strip_prefix(&ui).expect("under ui/").to_string_lossy().replace('\\', "/");
        let _ = writeln!(
            table,
            "    UiFile {{ path: {served:?}, content_type: {:?}, body: include_bytes!({:?}) }},",
            content_type(file),
            file.display().to_string()
        );
    }
    table.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("ui_files.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

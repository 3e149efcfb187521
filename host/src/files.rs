//! Writing a file so that readers see the old content or the new, never a
//! part: a temporary file beside it, synced, then renamed over it.

use std::path::Path;

/// Write `bytes` to `path` atomically (through `<name>.tmp` beside it).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

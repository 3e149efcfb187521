//! The local admin token: written by the host at every start to
//! `<data_dir>/local-admin.token` (mode 0600, atomically); a request with
//! `Authorization: Bearer <token>` acts as the built-in admin `local`. Only
//! who can read the data directory (the command line on this machine) has it.

use std::path::{Path, PathBuf};

/// The token file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("local-admin.token")
}

/// Makes a fresh token and writes it to [`path`]; returns it.
pub fn create(data_dir: &Path) -> std::io::Result<String> {
    let token = super::token::random_token();
    meterhub_storage::files::write_private_atomically(&path(data_dir), token.as_bytes())?;
    Ok(token)
}

/// The token a running host wrote, if it can be read.
pub fn read(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path(data_dir)).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// The bearer token in an `Authorization` header value, if it is one.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_is_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let token = create(dir.path()).unwrap();
        assert_eq!(read(dir.path()).as_deref(), Some(token.as_str()));
        let mode = std::fs::metadata(path(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = create(dir.path()).unwrap();
        assert_ne!(token, again, "a new token at each start");
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("basic abc"), None);
    }
}

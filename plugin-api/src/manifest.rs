//! The head of a plugin's `plugin.toml`, read at compile time: what
//! [`export_plugin!`](crate::export_plugin) takes the plugin's `id` and
//! `roles` from, and the `version` it checks against the crate's own, so
//! that a plugin states each fact once.
//!
//! Everything here is `const fn`: a malformed head, or a `version` other
//! than `CARGO_PKG_VERSION`, fails the plugin's build (`cargo check` too)
//! with an `evaluation panicked: plugin.toml:<line>: ...` error.
//!
//! This is not a TOML parser, and the host still reads the whole file with
//! one. It is a strict reader of the three keys, and careful to find them
//! only where TOML would:
//!
//! - only the top-level table counts: reading stops at the first `[table]`
//!   or `[[array]]` header;
//! - `id` and `version` are one-line strings without escapes (`"..."` or
//!   `'...'`); `roles` is an array of such strings (it may span lines and
//!   hold comments), each one of `driver`, `codec`, `sink`, at most once,
//!   at least one;
//! - each of the three is given once, never as a dotted key;
//! - any other key's value (strings of every kind, multi-line ones, arrays,
//!   inline tables, numbers, dates) is skipped by its syntax, so a
//!   `description = """ id = "x" """` cannot pass for an `id`;
//! - keys are bare (`a-z`, `A-Z`, `0-9`, `_`, `-`, dotted); a quoted key is
//!   refused rather than guessed at;
//! - `#` comments, blank lines and CRLF line ends are fine.

use crate::plugin::{Role, Roles};

/// What `export_plugin!` reads from `plugin.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestHead<'a> {
    /// `id`: the plugin id, equal to its folder name.
    pub id: &'a str,
    /// `version`: the plugin's version as the manifest states it.
    pub version: &'a str,
    /// The line of `version` (1-based), for messages.
    pub version_line: u32,
    /// `roles`, in the order written.
    pub roles: Roles,
}

/// Why the head of a `plugin.toml` cannot be used, and on which line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestError<'a> {
    /// 1-based line of the problem; 0 when it concerns the whole file (a
    /// missing key).
    pub line: u32,
    /// What is wrong.
    pub problem: Problem<'a>,
}

/// What is wrong with the head of a `plugin.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem<'a> {
    /// The key is not in the top-level table.
    Missing(&'static str),
    /// The key is given twice.
    Twice(&'static str),
    /// `id` or `version` is not a one-line string.
    NotText(&'static str),
    /// `id` or `version` (or a role) holds a backslash escape.
    Escape(&'static str),
    /// `id` or `version` is the empty string.
    Empty(&'static str),
    /// `roles` is not an array of strings.
    NotArray,
    /// A role that is not `driver`, `codec` or `sink`.
    UnknownRole(&'a str),
    /// A role listed twice.
    RoleTwice(&'a str),
    /// `roles = []`.
    NoRoles,
    /// `id`, `version` or `roles` used as a table (`id.x = ...`).
    NotPlain(&'static str),
    /// A quoted key before the first table.
    QuotedKey,
    /// Not TOML as this reader knows it; says what was expected.
    Syntax(&'static str),
    /// `version` differs from the version the crate is built as.
    VersionMismatch {
        /// What `plugin.toml` says.
        manifest: &'a str,
        /// `CARGO_PKG_VERSION` of the plugin crate.
        built: &'a str,
    },
}

/// Read the head of `plugin_toml` and check its `version` against
/// `built_version` (the plugin crate's `CARGO_PKG_VERSION`).
pub const fn check<'a>(plugin_toml: &'a str, built_version: &'a str) -> Result<ManifestHead<'a>, ManifestError<'a>> {
    let head = match parse(plugin_toml) {
        Ok(head) => head,
        Err(e) => return Err(e),
    };
    if !str_eq(head.version, built_version) {
        return Err(ManifestError {
            line: head.version_line,
            problem: Problem::VersionMismatch { manifest: head.version, built: built_version },
        });
    }
    Ok(head)
}

/// Read `id`, `version` and `roles` from the top-level table of
/// `plugin_toml` (see the module documentation for the rules).
pub const fn parse(plugin_toml: &str) -> Result<ManifestHead<'_>, ManifestError<'_>> {
    let b = plugin_toml.as_bytes();
    let mut at = Pos { i: 0, line: 1 };
    if b.len() >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
        at.i = 3;
    }
    let mut id: Option<&str> = None;
    let mut version: Option<(&str, u32)> = None;
    let mut roles: Option<Roles> = None;
    loop {
        at.i = skip_blanks(b, at.i);
        if at.i >= b.len() {
            break;
        }
        match b[at.i] {
            b'\n' => {
                at = at.newline();
                continue;
            }
            b'#' => {
                at.i = skip_comment(b, at.i);
                continue;
            }
            b'[' => break,
            b'"' | b'\'' => return Err(at.error(Problem::QuotedKey)),
            _ => {}
        }
        let line = at.line;
        let start = at.i;
        at.i = skip_bare_key(b, at.i);
        if at.i == start {
            return Err(at.error(Problem::Syntax("expected a key")));
        }
        let key = known_key(sub(plugin_toml, start, at.i));
        at.i = skip_blanks(b, at.i);
        while at.i < b.len() && b[at.i] == b'.' {
            if let Some(key) = key {
                return Err(at.error(Problem::NotPlain(key)));
            }
            at.i = skip_blanks(b, at.i + 1);
            if at.i < b.len() && (b[at.i] == b'"' || b[at.i] == b'\'') {
                return Err(at.error(Problem::QuotedKey));
            }
            let segment = at.i;
            at.i = skip_bare_key(b, at.i);
            if at.i == segment {
                return Err(at.error(Problem::Syntax("expected a key after `.`")));
            }
            at.i = skip_blanks(b, at.i);
        }
        if at.i >= b.len() || b[at.i] != b'=' {
            return Err(at.error(Problem::Syntax("expected `=` after the key")));
        }
        at.i = skip_blanks(b, at.i + 1);
        match key {
            Some(name) if str_eq(name, "id") || str_eq(name, "version") => {
                let (text, end) = match one_line_string(plugin_toml, at, name) {
                    Ok(found) => found,
                    Err(e) => return Err(e),
                };
                at.i = end;
                if text.is_empty() {
                    return Err(at.error(Problem::Empty(name)));
                }
                if str_eq(name, "id") {
                    if id.is_some() {
                        return Err(at.error(Problem::Twice("id")));
                    }
                    id = Some(text);
                } else {
                    if version.is_some() {
                        return Err(at.error(Problem::Twice("version")));
                    }
                    version = Some((text, line));
                }
            }
            Some(_) => {
                let (list, end) = match roles_array(plugin_toml, at) {
                    Ok(found) => found,
                    Err(e) => return Err(e),
                };
                if roles.is_some() {
                    return Err(ManifestError { line, problem: Problem::Twice("roles") });
                }
                roles = Some(list);
                at = end;
            }
            None => {
                at = match skip_value(b, at) {
                    Ok(end) => end,
                    Err(e) => return Err(e),
                };
            }
        }
        at.i = skip_blanks(b, at.i);
        if at.i < b.len() && b[at.i] == b'#' {
            at.i = skip_comment(b, at.i);
        }
        if at.i < b.len() && b[at.i] != b'\n' {
            return Err(at.error(Problem::Syntax("unexpected text after the value")));
        }
    }
    let Some(id) = id else { return Err(ManifestError { line: 0, problem: Problem::Missing("id") }) };
    let Some((version, version_line)) = version else {
        return Err(ManifestError { line: 0, problem: Problem::Missing("version") });
    };
    let Some(roles) = roles else { return Err(ManifestError { line: 0, problem: Problem::Missing("roles") }) };
    Ok(ManifestHead { id, version, version_line, roles })
}

impl ManifestError<'_> {
    /// The message, `plugin.toml:<line>: <problem>`; usable in `const`
    /// (the compile-time error of `export_plugin!` is this text).
    pub const fn message(&self) -> ErrorText {
        let mut m = ErrorText { buf: [0; ErrorText::CAPACITY], len: 0 };
        m.push("plugin.toml:");
        if self.line > 0 {
            m.push_u32(self.line);
            m.push(":");
        }
        m.push(" ");
        match self.problem {
            Problem::Missing(key) => {
                m.push_key(key);
                m.push(" is missing: export_plugin! reads `id`, `version` and `roles` from the top of plugin.toml, before any [table]");
            }
            Problem::Twice(key) => {
                m.push_key(key);
                m.push(" is given twice");
            }
            Problem::NotText(key) => {
                m.push_key(key);
                m.push(" must be a string on one line, like ");
                m.push(key);
                m.push(" = \"...\"");
            }
            Problem::Escape(key) => {
                m.push_key(key);
                m.push(": escapes are not supported here; write the text as is");
            }
            Problem::Empty(key) => {
                m.push_key(key);
                m.push(" is empty");
            }
            Problem::NotArray => m.push("`roles` must be an array of strings, like roles = [\"codec\"]"),
            Problem::UnknownRole(role) => {
                m.push("role \"");
                m.push(role);
                m.push("\" is not one of \"driver\", \"codec\", \"sink\"");
            }
            Problem::RoleTwice(role) => {
                m.push("role \"");
                m.push(role);
                m.push("\" is listed twice");
            }
            Problem::NoRoles => m.push("`roles` must name at least one role"),
            Problem::NotPlain(key) => {
                m.push_key(key);
                m.push(" must be a plain value, not a table");
            }
            Problem::QuotedKey => {
                m.push("quoted keys are not supported before the first [table]; write the key bare");
            }
            Problem::Syntax(expected) => m.push(expected),
            Problem::VersionMismatch { manifest, built } => {
                m.push("version \"");
                m.push(manifest);
                m.push("\" differs from the crate's version \"");
                m.push(built);
                m.push("\" (Cargo.toml); a plugin reports the version it is built as, so make them equal");
            }
        }
        m
    }
}

impl std::fmt::Display for ManifestError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message().as_str())
    }
}

impl std::error::Error for ManifestError<'_> {}

/// A message built in `const` (no allocation there): at most
/// [`ErrorText::CAPACITY`] bytes, cut at a character boundary with `...`.
#[derive(Clone, Copy)]
pub struct ErrorText {
    buf: [u8; ErrorText::CAPACITY],
    len: usize,
}

impl ErrorText {
    /// The longest message kept.
    pub const CAPACITY: usize = 400;

    /// The text.
    pub const fn as_str(&self) -> &str {
        match std::str::from_utf8(self.buf.split_at(self.len).0) {
            Ok(text) => text,
            // `push` only ever copies whole characters.
            Err(_) => "plugin.toml: (unprintable message)",
        }
    }

    const fn push(&mut self, text: &str) {
        const ELLIPSIS: usize = 3;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let width = utf8_width(bytes[i]);
            if self.len + width > ErrorText::CAPACITY - ELLIPSIS {
                // Truncated: end with "..." once.
                if self.len <= ErrorText::CAPACITY - ELLIPSIS {
                    let mut k = 0;
                    while k < ELLIPSIS {
                        self.buf[self.len] = b'.';
                        self.len += 1;
                        k += 1;
                    }
                }
                return;
            }
            let mut k = 0;
            while k < width {
                self.buf[self.len] = bytes[i + k];
                self.len += 1;
                k += 1;
            }
            i += width;
        }
    }

    const fn push_key(&mut self, key: &str) {
        self.push("`");
        self.push(key);
        self.push("`");
    }

    const fn push_u32(&mut self, n: u32) {
        let mut digits = [0u8; 10];
        let mut count = 0;
        let mut rest = n;
        loop {
            digits[count] = b'0' + (rest % 10) as u8;
            count += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        while count > 0 {
            count -= 1;
            let digit = [digits[count]];
            match std::str::from_utf8(&digit) {
                Ok(d) => self.push(d),
                Err(_) => return,
            }
        }
    }
}

impl std::fmt::Debug for ErrorText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

// ---- the reader -------------------------------------------------------------

/// A byte offset and its 1-based line.
#[derive(Clone, Copy)]
struct Pos {
    i: usize,
    line: u32,
}

impl Pos {
    const fn newline(self) -> Pos {
        Pos { i: self.i + 1, line: self.line + 1 }
    }

    const fn error<'a>(self, problem: Problem<'a>) -> ManifestError<'a> {
        ManifestError { line: self.line, problem }
    }
}

/// Width of the UTF-8 sequence a leading byte starts (1 for anything else,
/// which a `&str` never holds at a character start).
const fn utf8_width(lead: u8) -> usize {
    if lead >= 0xF0 {
        4
    } else if lead >= 0xE0 {
        3
    } else if lead >= 0xC0 {
        2
    } else {
        1
    }
}

/// Whether `a` and `b` are the same text (`==` is not `const`).
pub(crate) const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `text[start..end]`, where both are offsets of ASCII bytes.
const fn sub(text: &str, start: usize, end: usize) -> &str {
    text.split_at(end).0.split_at(start).1
}

/// Which of the three keys `key` is.
const fn known_key(key: &str) -> Option<&'static str> {
    if str_eq(key, "id") {
        Some("id")
    } else if str_eq(key, "version") {
        Some("version")
    } else if str_eq(key, "roles") {
        Some("roles")
    } else {
        None
    }
}

const fn role(name: &str) -> Option<Role> {
    if str_eq(name, "driver") {
        Some(Role::Driver)
    } else if str_eq(name, "codec") {
        Some(Role::Codec)
    } else if str_eq(name, "sink") {
        Some(Role::Sink)
    } else {
        None
    }
}

/// Past spaces, tabs and carriage returns.
const fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t' || b[i] == b'\r') {
        i += 1;
    }
    i
}

/// To the newline ending the comment at `i` (not past it).
const fn skip_comment(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

const fn skip_bare_key(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
        i += 1;
    }
    i
}

/// Past blanks, newlines and comments.
const fn skip_space(b: &[u8], mut at: Pos) -> Pos {
    loop {
        at.i = skip_blanks(b, at.i);
        if at.i >= b.len() {
            return at;
        }
        match b[at.i] {
            b'\n' => at = at.newline(),
            b'#' => at.i = skip_comment(b, at.i),
            _ => return at,
        }
    }
}

/// The one-line string without escapes at `at` (the value of `key`), and
/// the offset past its closing quote.
const fn one_line_string<'a>(text: &'a str, at: Pos, key: &'static str) -> Result<(&'a str, usize), ManifestError<'a>> {
    let b = text.as_bytes();
    let not_text = if str_eq(key, "roles") { Problem::NotArray } else { Problem::NotText(key) };
    if at.i >= b.len() || (b[at.i] != b'"' && b[at.i] != b'\'') {
        return Err(at.error(not_text));
    }
    let quote = b[at.i];
    if at.i + 2 < b.len() && b[at.i + 1] == quote && b[at.i + 2] == quote {
        return Err(at.error(not_text));
    }
    let mut j = at.i + 1;
    while j < b.len() {
        if b[j] == quote {
            return Ok((sub(text, at.i + 1, j), j + 1));
        }
        if b[j] == b'\n' {
            break;
        }
        if quote == b'"' && b[j] == b'\\' {
            return Err(at.error(Problem::Escape(key)));
        }
        j += 1;
    }
    Err(at.error(Problem::Syntax("unterminated string")))
}

/// The `roles` array at `at`, and the position past its `]`.
const fn roles_array(text: &str, at: Pos) -> Result<(Roles, Pos), ManifestError<'_>> {
    let b = text.as_bytes();
    if at.i >= b.len() || b[at.i] != b'[' {
        return Err(at.error(Problem::NotArray));
    }
    let start_line = at.line;
    let mut roles = Roles::NONE;
    let mut at = skip_space(b, Pos { i: at.i + 1, line: at.line });
    loop {
        if at.i >= b.len() {
            return Err(ManifestError { line: start_line, problem: Problem::Syntax("unterminated array") });
        }
        if b[at.i] == b']' {
            break;
        }
        let (name, end) = match one_line_string(text, at, "roles") {
            Ok(found) => found,
            Err(e) => return Err(e),
        };
        let Some(role) = role(name) else { return Err(at.error(Problem::UnknownRole(name))) };
        roles = match roles.with(role) {
            Some(more) => more,
            None => return Err(at.error(Problem::RoleTwice(name))),
        };
        at = skip_space(b, Pos { i: end, line: at.line });
        if at.i < b.len() && b[at.i] == b',' {
            at = skip_space(b, Pos { i: at.i + 1, line: at.line });
        } else if at.i < b.len() && b[at.i] != b']' {
            return Err(at.error(Problem::Syntax("expected `,` or `]` in `roles`")));
        }
    }
    if roles.is_empty() {
        return Err(ManifestError { line: start_line, problem: Problem::NoRoles });
    }
    Ok((roles, Pos { i: at.i + 1, line: at.line }))
}

/// Past the value (of a key this reader does not use) at `at`.
const fn skip_value(b: &[u8], at: Pos) -> Result<Pos, ManifestError<'static>> {
    if at.i >= b.len() || b[at.i] == b'\n' || b[at.i] == b'#' {
        return Err(at.error(Problem::Syntax("expected a value")));
    }
    match b[at.i] {
        b'"' | b'\'' => skip_string(b, at),
        b'[' | b'{' => skip_nested(b, at),
        _ => {
            // A number, boolean or date: to the comment or the line's end
            // (a date may hold a space).
            let mut i = at.i;
            while i < b.len() && b[i] != b'\n' && b[i] != b'#' {
                i += 1;
            }
            Ok(Pos { i, line: at.line })
        }
    }
}

/// Past the string of any kind at `at`.
const fn skip_string(b: &[u8], at: Pos) -> Result<Pos, ManifestError<'static>> {
    let quote = b[at.i];
    let basic = quote == b'"';
    let multi = at.i + 2 < b.len() && b[at.i + 1] == quote && b[at.i + 2] == quote;
    let mut j = if multi { at.i + 3 } else { at.i + 1 };
    let mut line = at.line;
    loop {
        if j >= b.len() {
            return Err(at.error(Problem::Syntax("unterminated string")));
        }
        let c = b[j];
        if c == b'\n' {
            if !multi {
                return Err(at.error(Problem::Syntax("unterminated string")));
            }
            line += 1;
        } else if basic && c == b'\\' {
            // The escaped character cannot close the string; a line-ending
            // backslash (multi-line strings only) is still a newline.
            j += 1;
            if j < b.len() && b[j] == b'\n' {
                if !multi {
                    return Err(at.error(Problem::Syntax("unterminated string")));
                }
                line += 1;
            }
        } else if c == quote {
            if !multi {
                return Ok(Pos { i: j + 1, line });
            }
            if j + 2 < b.len() && b[j + 1] == quote && b[j + 2] == quote {
                // Up to two more quotes belong to the content.
                let mut end = j + 3;
                let mut extra = 0;
                while extra < 2 && end < b.len() && b[end] == quote {
                    end += 1;
                    extra += 1;
                }
                return Ok(Pos { i: end, line });
            }
        }
        j += 1;
    }
}

/// Past the array or inline table at `at`, whatever it nests.
const fn skip_nested(b: &[u8], at: Pos) -> Result<Pos, ManifestError<'static>> {
    let mut depth = 0u32;
    let mut pos = at;
    loop {
        if pos.i >= b.len() {
            return Err(at.error(Problem::Syntax("unterminated array or inline table")));
        }
        match b[pos.i] {
            b'[' | b'{' => {
                depth += 1;
                pos.i += 1;
            }
            b']' | b'}' => {
                depth -= 1;
                pos.i += 1;
                if depth == 0 {
                    return Ok(pos);
                }
            }
            b'"' | b'\'' => {
                pos = match skip_string(b, pos) {
                    Ok(end) => end,
                    Err(e) => return Err(e),
                };
            }
            b'#' => pos.i = skip_comment(b, pos.i),
            b'\n' => pos = pos.newline(),
            _ => pos.i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// `text` as the `toml` crate reads it: `(id, version, roles)` of the
    /// top-level table.
    fn by_toml(text: &str) -> (String, String, Vec<String>) {
        let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("toml refuses {text:?}: {e}"));
        let string = |key: &str| table[key].as_str().unwrap().to_owned();
        let roles = table["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
        (string("id"), string("version"), roles)
    }

    /// Both readers accept `text` and agree.
    fn agree(text: &str) {
        let head = parse(text).unwrap_or_else(|e| panic!("refused {text:?}: {e}"));
        let ours = (
            head.id.to_owned(),
            head.version.to_owned(),
            head.roles.as_slice().iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>(),
        );
        assert_eq!(ours, by_toml(text), "{text:?}");
    }

    fn refusal(text: &str) -> String {
        match parse(text) {
            Ok(head) => panic!("accepted {text:?}: {head:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_plugin_toml_of_the_workspace_reads_as_toml_reads_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut count = 0;
        for folder in ["plugins", "tests/plugins"] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let path = entry.unwrap().path().join("plugin.toml");
                if let Ok(text) = std::fs::read_to_string(&path) {
                    agree(&text);
                    count += 1;
                }
            }
        }
        assert!(count >= 7, "only {count} plugin.toml files found");
    }

    #[test]
    fn the_keys_are_found_only_where_toml_has_them() {
        let cases = [
            // The plain form, and the keys in another order.
            "id = \"a\"\nversion = \"1.0.0\"\nroles = [\"codec\"]\n",
            "roles = ['sink', 'driver']\nversion='2'\nid='b'",
            // Comments, blank lines, CRLF, a BOM, blanks around `=`.
            "\u{feff}# id = \"no\"\r\n\r\n  id\t=  \"c\"  # id = \"no\"\r\nversion = \"1\"\r\nroles = [\"codec\"]\r\n",
            // Roles over lines, with comments and a trailing comma.
            "id = \"d\"\nversion = \"1\"\nroles = [\n  \"driver\", # the transport side\n  # \"sink\",\n  \"codec\",\n]\n",
            // Other values of every kind, holding text that looks like ours.
            "description = \"\"\"\nid = \"evil\"\n[table]\n\"\"\"\nid = \"e\"\nversion = \"1\"\nroles = [\"codec\"]\n",
            "description = '''\nversion = \"6.6.6\" '''''\nid = \"f\"\nversion = \"1\"\nroles = [\"codec\"]\n",
            "note = \"quote \\\" id = \\\"x\\\" \\\\\"\nid = \"g\"\nversion = \"1\"\nroles = [\"codec\"]\n",
            "x = \"\"\"a \\\"\"\" id = \"no\" \\\n  b\"\"\"\nid = \"h\"\nversion = \"1\"\nroles = [\"codec\"]\n",
            "nested = [[1, \"]\"], {a = \"}\"}, '[', # ]\n]\nid = \"i\"\nversion = \"1\"\nroles = [\"sink\"]\n",
            "point = { x = 1, y = \"id = 'z'\" }\nid = \"j\"\nversion = \"1\"\nroles = [\"sink\"]\n",
            "when = 1979-05-27 07:32:00Z # a date with a space\nn = -1_000.5e3\nok = true\nid = \"k\"\nversion = \"1\"\nroles = [\"sink\"]\n",
            // Dotted keys of other names; tables after the head.
            "capabilities.clocks = true\nmeta . kind = \"x\"\nid = \"l\"\nversion = \"1\"\nroles = [\"codec\"]\n",
            "id = \"m\"\nversion = \"1\"\nroles = [\"codec\"]\n[capabilities]\nid = \"no\"\n[[more]]\nversion = \"9\"\n",
            "id = \"n\"\nversion = \"1\"\nroles = [\"codec\"]\n  [ table ]\n",
            // Text is kept as written, multi-byte too.
            "id = \"zähler\"\nversion = \"1.0.0-rc.1+build.5\"\nroles = [\"codec\"]",
        ];
        for text in cases {
            agree(text);
        }
    }

    #[test]
    fn refusals_name_the_line_and_the_problem() {
        let head = "id = \"a\"\nversion = \"1\"\nroles = [\"codec\"]\n";
        let cases: [(String, &str); 25] = [
            (
                "version = \"1\"\nroles = [\"codec\"]\n".into(),
                "plugin.toml: `id` is missing: export_plugin! reads `id`, `version` and `roles` from the top of plugin.toml, before any [table]",
            ),
            (
                "id = \"a\"\nroles = [\"codec\"]\n[t]\nversion = \"1\"\n".into(),
                "plugin.toml: `version` is missing: export_plugin! reads `id`, `version` and `roles` from the top of plugin.toml, before any [table]",
            ),
            (
                "id = \"a\"\nversion = \"1\"\n".into(),
                "plugin.toml: `roles` is missing: export_plugin! reads `id`, `version` and `roles` from the top of plugin.toml, before any [table]",
            ),
            (format!("{head}id = \"b\"\n"), "plugin.toml:4: `id` is given twice"),
            (format!("{head}roles = [\"sink\"]\n"), "plugin.toml:4: `roles` is given twice"),
            (
                "id = \"a\"\nversion = 1\nroles = [\"codec\"]\n".into(),
                "plugin.toml:2: `version` must be a string on one line, like version = \"...\"",
            ),
            ("id = \"\"\"a\"\"\"\n".into(), "plugin.toml:1: `id` must be a string on one line, like id = \"...\""),
            ("id = \"a\\u0041\"\n".into(), "plugin.toml:1: `id`: escapes are not supported here; write the text as is"),
            ("id = ''\n".into(), "plugin.toml:1: `id` is empty"),
            (
                "roles = \"codec\"\n".into(),
                "plugin.toml:1: `roles` must be an array of strings, like roles = [\"codec\"]",
            ),
            ("roles = [1]\n".into(), "plugin.toml:1: `roles` must be an array of strings, like roles = [\"codec\"]"),
            (
                "roles = [\n\"codec\",\n\"parser\"]\n".into(),
                "plugin.toml:3: role \"parser\" is not one of \"driver\", \"codec\", \"sink\"",
            ),
            ("roles = [\"codec\", 'codec']\n".into(), "plugin.toml:1: role \"codec\" is listed twice"),
            ("roles = [ # none\n]\n".into(), "plugin.toml:1: `roles` must name at least one role"),
            ("roles = [\"codec\"\n".into(), "plugin.toml:1: unterminated array"),
            ("roles = [\"codec\" \"sink\"]\n".into(), "plugin.toml:1: expected `,` or `]` in `roles`"),
            ("id.x = \"a\"\n".into(), "plugin.toml:1: `id` must be a plain value, not a table"),
            (
                "\"id\" = \"a\"\n".into(),
                "plugin.toml:1: quoted keys are not supported before the first [table]; write the key bare",
            ),
            (
                "a.\"b\" = 1\n".into(),
                "plugin.toml:1: quoted keys are not supported before the first [table]; write the key bare",
            ),
            ("id \"a\"\n".into(), "plugin.toml:1: expected `=` after the key"),
            ("id = \"a\" \"b\"\n".into(), "plugin.toml:1: unexpected text after the value"),
            ("id = \"a\n\"\n".into(), "plugin.toml:1: unterminated string"),
            ("\n\ndescription = \"open\nid = \"a\"\n".into(), "plugin.toml:3: unterminated string"),
            ("x = [1, 2\n\n".into(), "plugin.toml:1: unterminated array or inline table"),
            ("= 1\n".into(), "plugin.toml:1: expected a key"),
        ];
        for (text, message) in &cases {
            assert_eq!(refusal(text), *message, "{text:?}");
        }
        assert_eq!(refusal("x =\n"), "plugin.toml:1: expected a value");
        assert_eq!(refusal("x = '''open\n\n"), "plugin.toml:1: unterminated string");
    }

    #[test]
    fn the_version_must_be_the_crates() {
        let text = "# the meter\nid = \"a\"\nversion = \"0.2.0\"\nroles = [\"codec\"]\n";
        assert_eq!(check(text, "0.2.0").map(|h| h.version), Ok("0.2.0"));
        assert_eq!(
            check(text, "0.1.0").unwrap_err().to_string(),
            "plugin.toml:3: version \"0.2.0\" differs from the crate's version \"0.1.0\" (Cargo.toml); a plugin reports the version it is built as, so make them equal"
        );
        const IDENTITY: crate::Identity = crate::Identity::from_manifest(
            "id = \"a\"\nversion = \"0.2.0\"\nroles = [\"driver\", \"codec\"]\n",
            "0.2.0",
        );
        let info = IDENTITY.info();
        assert_eq!((info.id.as_str(), info.version.as_str()), ("a", "0.2.0"));
        assert_eq!(info.roles, vec![Role::Driver, Role::Codec]);
    }

    #[test]
    fn long_messages_are_cut_at_a_character() {
        let role = "é".repeat(300);
        let message = refusal(&format!("roles = [\"{role}\"]\n"));
        assert!(message.len() <= ErrorText::CAPACITY && message.ends_with("é..."), "{message}");
        assert!(message.starts_with("plugin.toml:1: role \"éé"), "{message}");
        let mut text = ErrorText { buf: [0; ErrorText::CAPACITY], len: 0 };
        text.push_u32(0);
        text.push(" ");
        text.push_u32(u32::MAX);
        assert_eq!(text.as_str(), "0 4294967295");
    }
}

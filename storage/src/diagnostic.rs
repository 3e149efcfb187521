//! Positioned diagnostics: one problem at one place of a text file,
//! rendered `file:line:col: cause` (configuration files, plugin manifests).

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl Pos {
    /// The position of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let before = &text[..text.floor_char_boundary(offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos { line, col: before[line_start..].chars().count() + 1 }
    }
}

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `pos` of `file`.
    pub fn new(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_path_buf(), pos, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.pos.line, self.pos.col, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nщ = \"x\"\n";
        assert_eq!(Pos::of_offset(text, 0), Pos { line: 1, col: 1 });
        assert_eq!(Pos::of_offset(text, 6), Pos { line: 2, col: 1 });
        // 'щ' is two bytes: the '=' after it is the third character.
        assert_eq!(Pos::of_offset(text, 9), Pos { line: 2, col: 3 });
        assert_eq!(Pos::of_offset(text, 1000), Pos { line: 3, col: 1 });
    }

    #[test]
    fn renders_file_line_col() {
        let d = Diagnostic::new(Path::new("configs/x.toml"), Pos { line: 3, col: 7 }, "unknown key `y`");
        assert_eq!(d.to_string(), "configs/x.toml:3:7: unknown key `y`");
    }
}

//! Positioned configuration diagnostics: `file:line:col: cause`.

use std::fmt;

pub use meterhub_storage::diagnostic::{Diagnostic, Pos};

/// Why a configuration was refused: one or more diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Every problem found, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl From<Diagnostic> for ConfigError {
    fn from(d: Diagnostic) -> Self {
        ConfigError { diagnostics: vec![d] }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

//! [`Language`]: the language a user reads the dispatcher UI in, kept with
//! the user (`PATCH /api/v1/session`), so it follows them to any browser.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The UI language of a user; Russian unless they chose otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Russian: the dispatchers' language, the default.
    #[default]
    Ru,
    /// English.
    En,
}

impl Language {
    /// Every language, the default first.
    pub const ALL: [Language; 2] = [Language::Ru, Language::En];

    /// The code used in the API and the database (`ru`, `en`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Ru => "ru",
            Language::En => "en",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_json_and_anything_else_is_refused() {
        for language in Language::ALL {
            let json = serde_json::to_string(&language).unwrap();
            assert_eq!(json, format!("\"{language}\""));
            assert_eq!(serde_json::from_str::<Language>(&json).unwrap(), language);
        }
        assert_eq!(Language::default(), Language::Ru);
        assert!(serde_json::from_str::<Language>("\"de\"").is_err());
        assert!(serde_json::from_str::<Language>("\"EN\"").is_err());
    }
}

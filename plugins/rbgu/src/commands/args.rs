//! A command's arguments: the JSON object text the host hands with it,
//! read strictly (an argument the command does not take, or one given
//! twice, is refused), each error starting with the command's name so the
//! operator reads `set_clock: argument "tz": unknown; set_clock takes
//! "time", "utc_offset_minutes"`.

use serde_json::value::RawValue;

use crate::settings::snippet;

/// The arguments of one command.
#[derive(Debug)]
pub struct Args<'a> {
    command: &'static str,
    members: Vec<(String, &'a RawValue)>,
}

impl<'a> Args<'a> {
    /// The arguments of `command` in `text`: a JSON object (empty text is
    /// `{}`) whose members are among `allowed`, each once.
    pub fn parse(command: &'static str, text: &'a str, allowed: &[&str]) -> Result<Args<'a>, String> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        let members = serde_json::from_str::<&RawValue>(text)
            .ok()
            .and_then(|raw| meterhub_plugin_api::json::members(raw).ok())
            .ok_or_else(|| format!("{command}: args: expected a JSON object, got {}", snippet(text)))?;
        for (i, (name, _)) in members.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                let takes: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
                return Err(format!("{command}: argument {name:?}: unknown; {command} takes {}", takes.join(", ")));
            }
            if members[..i].iter().any(|(other, _)| other == name) {
                return Err(format!("{command}: argument {name:?}: given more than once"));
            }
        }
        Ok(Args { command, members })
    }

    /// The error `why` about argument `name`.
    pub fn error(&self, name: &str, why: &str) -> String {
        format!("{}: argument {name:?}: {why}", self.command)
    }

    /// Argument `name`, an integer, if given.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, String> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        let text = raw.get().trim();
        let whole = text.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'));
        match text.parse::<i64>() {
            Ok(n) if whole => Ok(Some(n)),
            _ => Err(self.error(name, &format!("expected an integer, got {}", snippet(text)))),
        }
    }

    /// Argument `name`, a string, if given.
    pub fn string(&self, name: &str) -> Result<Option<String>, String> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        match serde_json::from_str::<String>(raw.get()) {
            Ok(text) => Ok(Some(text)),
            Err(_) => Err(self.error(name, &format!("expected a string, got {}", snippet(raw.get())))),
        }
    }

    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.members.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_read_strictly() {
        let allowed = ["time", "n"];
        let args = Args::parse("cmd", r#"{"time": "x", "n": -12}"#, &allowed).unwrap();
        assert_eq!((args.string("time"), args.integer("n")), (Ok(Some("x".to_owned())), Ok(Some(-12))));
        let none = Args::parse("cmd", " ", &allowed).unwrap();
        assert_eq!((none.string("time"), none.integer("n")), (Ok(None), Ok(None)));
        let cases = [
            ("[1]", "cmd: args: expected a JSON object, got [1]"),
            ("{", "cmd: args: expected a JSON object, got {"),
            (r#"{"tz": 1}"#, r#"cmd: argument "tz": unknown; cmd takes "time", "n""#),
            (r#"{"n": 1, "n": 2}"#, r#"cmd: argument "n": given more than once"#),
        ];
        for (text, want) in cases {
            assert_eq!(Args::parse("cmd", text, &allowed).unwrap_err(), want, "{text}");
        }
        let bad = Args::parse("cmd", r#"{"time": 5, "n": 1.5}"#, &allowed).unwrap();
        assert_eq!(bad.string("time").unwrap_err(), r#"cmd: argument "time": expected a string, got 5"#);
        assert_eq!(bad.integer("n").unwrap_err(), r#"cmd: argument "n": expected an integer, got 1.5"#);
        let bad = Args::parse("cmd", r#"{"n": "30"}"#, &allowed).unwrap();
        assert_eq!(bad.integer("n").unwrap_err(), r#"cmd: argument "n": expected an integer, got "30""#);
        let bad = Args::parse("cmd", r#"{"n": 99999999999999999999}"#, &allowed).unwrap();
        assert!(bad.integer("n").is_err());
    }
}

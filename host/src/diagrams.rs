//! The mimic diagrams of `host.diagrams_dir` (`docs/diagrams.md`): each
//! `*.xml` file read and compiled when it changed (by size and modification
//! time) at the next look, so an edit takes effect without a restart; a
//! file that no longer reads keeps its last good compiled form served, with
//! its errors beside it. Each diagram's signals are checked against the
//! meters the host knows (a binding no anchor checks is a dangling one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::folder::{Entry, Folder, stem};

/// A compiled diagram and what the list shows of it.
#[derive(Debug)]
pub struct Compiled {
    /// The compiled form, JSON.
    pub json: String,
    /// Elements, actions.
    pub elements: usize,
    /// Actions.
    pub actions: usize,
    /// Its signals (`device`, `channel`).
    pub signals: Vec<(String, String)>,
}

/// What `/api/v1/diagrams` shows of one diagram.
#[derive(Debug, Clone, Serialize)]
pub struct DiagramStatus {
    /// Its name: the file name without `.xml`.
    pub name: String,
    /// The file.
    pub file: String,
    /// Whether the file as it is now reads without error.
    pub ok: bool,
    /// What is wrong with it (`file:line:col: cause`); the last good form
    /// is served meanwhile.
    pub errors: Vec<String>,
    /// Whether a compiled form is served (the file's, or its last good one).
    pub served: bool,
    /// Elements of the form served.
    pub elements: usize,
    /// Actions of the form served.
    pub actions: usize,
    /// Signals it binds.
    pub signals: usize,
    /// Bindings to a meter or channel the host does not know.
    pub dangling: Vec<String>,
}

/// The diagrams folder, read as it changes. `Send + Sync`.
#[derive(Debug)]
pub struct Diagrams {
    folder: Folder<Compiled>,
}

impl Default for Diagrams {
    fn default() -> Self {
        Diagrams { folder: Folder::new("diagram", "xml") }
    }
}

/// A diagram file compiled.
fn compile(file: &Path) -> Result<Compiled, Vec<String>> {
    let diagram = meterhub_diagram::parse_file(file)?;
    Ok(Compiled {
        json: serde_json::to_string(&diagram).unwrap_or_default(),
        elements: diagram.elements.len(),
        actions: diagram.actions.len(),
        signals: diagram.signals.iter().map(|s| (s.device.clone(), s.channel.clone())).collect(),
    })
}

impl Diagrams {
    /// Looks at `dir` (only at diagram `only`'s file when given).
    fn refresh(&self, dir: &Path, only: Option<&str>) -> BTreeMap<std::path::PathBuf, Entry<Compiled>> {
        match only {
            Some(name) => self.folder.refresh(dir, Some(&|p: &Path| stem(p) == name), compile),
            None => self.folder.refresh(dir, None, compile),
        }
    }

    /// Every diagram in `dir`, each with its bindings checked against
    /// `known` (meter -> its channels).
    pub fn list(&self, dir: &Path, known: &BTreeMap<String, BTreeSet<String>>) -> Vec<DiagramStatus> {
        self.refresh(dir, None)
            .into_iter()
            .map(|(file, entry)| {
                let good = entry.good.as_deref();
                let dangling = good.map(|g| dangling(&g.signals, known)).unwrap_or_default();
                DiagramStatus {
                    name: stem(&file),
                    file: file.display().to_string(),
                    ok: entry.errors.is_empty(),
                    errors: entry.errors,
                    served: good.is_some(),
                    elements: good.map_or(0, |g| g.elements),
                    actions: good.map_or(0, |g| g.actions),
                    signals: good.map_or(0, |g| g.signals.len()),
                    dangling,
                }
            })
            .collect()
    }

    /// The compiled form served for diagram `name` in `dir` (only its own
    /// file is read again when it changed, not the folder's others).
    pub fn get(&self, dir: &Path, name: &str) -> Option<Arc<Compiled>> {
        self.refresh(dir, Some(name)).into_values().next().and_then(|e| e.good)
    }
}

/// The bindings of `signals` to a meter or channel not in `known`.
fn dangling(signals: &[(String, String)], known: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    signals
        .iter()
        .filter_map(|(device, channel)| match known.get(device) {
            None => Some(format!("{device}/{channel}: no meter {device:?}")),
            Some(channels) if !channels.contains(channel) => {
                let has: Vec<&str> = channels.iter().map(String::as_str).collect();
                Some(format!(
                    "{device}/{channel}: meter {device:?} has no channel {channel:?} (it has: {})",
                    has.join(", ")
                ))
            }
            Some(_) => None,
        })
        .collect()
}

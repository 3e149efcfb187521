//! [`Fixtures`]: tests as data, walked by one check with a bless mode.
//!
//! A fixture folder (a plugin's `fixtures/`) holds one kind of case per
//! sub-folder. A case `<name>` of kind `<kind>` is its main file
//! `<kind>/<name><main suffix>` (e.g. `tcp/crlf.in`), optional companion
//! files `<kind>/<name><extra suffix>` (e.g. `tcp/crlf.case.json`), and its
//! expected output `<kind>/<name>.out.json`. Any other file in the folder
//! is an error (a stray file is a case nobody runs).
//!
//! The test runs each case to a JSON value; the walker writes it
//! pretty-printed with a final newline and compares it with the
//! `.out.json` text exactly. With `METERHUB_BLESS=1` in the environment
//! ([`BLESS_VAR`]) it writes the `.out.json` files instead: review the diff
//! and commit it. All cases run; the check fails once, listing each
//! failing case and the first line that differs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The environment variable that, set to `1`, rewrites expectations.
pub const BLESS_VAR: &str = "METERHUB_BLESS";

/// The suffix of expected outputs.
pub const OUT_SUFFIX: &str = ".out.json";

/// One walk over a fixture folder; see the module documentation.
///
/// ```no_run
/// use meterhub_plugin_api::testing::Fixtures;
/// let mut fixtures = Fixtures::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
/// fixtures.check("codec", ".in", &[".case.json"], |case| {
///     let payload = case.read(".in")?;
///     Ok(serde_json::json!({ "bytes": payload.len() }))
/// });
/// fixtures.finish();
/// ```
#[derive(Debug)]
pub struct Fixtures {
    root: PathBuf,
    bless: bool,
    count: usize,
    failures: Vec<String>,
}

/// One case of a kind: where its files are.
#[derive(Debug, Clone)]
pub struct Case {
    dir: PathBuf,
    name: String,
}

impl Fixtures {
    /// A walk over `root`, blessing when [`BLESS_VAR`] is `1`.
    pub fn new(root: impl Into<PathBuf>) -> Fixtures {
        let bless = std::env::var_os(BLESS_VAR).is_some_and(|v| v == "1");
        Fixtures { root: root.into(), bless, count: 0, failures: Vec::new() }
    }

    /// Bless (`true`) or compare, whatever the environment says.
    pub fn blessing(mut self, bless: bool) -> Fixtures {
        self.bless = bless;
        self
    }

    /// Run every case of `kind` (files `<kind>/<name><main_suffix>`, with
    /// companions `<name><extra_suffixes>`) through `run`, and compare (or
    /// bless) its output. An `Err` of `run` is the case's failure.
    pub fn check(
        &mut self,
        kind: &str,
        main_suffix: &str,
        extra_suffixes: &[&str],
        mut run: impl FnMut(&Case) -> Result<Value, String>,
    ) {
        let dir = self.root.join(kind);
        let names = match case_names(&dir, main_suffix, extra_suffixes) {
            Ok(names) => names,
            Err(e) => {
                self.failures.push(e);
                return;
            }
        };
        for name in names {
            self.count += 1;
            let case = Case { dir: dir.clone(), name };
            let got = match run(&case).and_then(|v| serde_json::to_string_pretty(&v).map_err(|e| e.to_string())) {
                Ok(got) => got + "\n",
                Err(e) => {
                    self.failures.push(format!("{kind}/{}: {e}", case.name));
                    continue;
                }
            };
            let out = case.path(OUT_SUFFIX);
            if self.bless {
                if let Err(e) = std::fs::write(&out, &got) {
                    self.failures.push(format!("{}: {e}", out.display()));
                }
                continue;
            }
            let want = std::fs::read_to_string(&out).unwrap_or_default();
            if want != got {
                let line = want
                    .lines()
                    .zip(got.lines())
                    .position(|(w, g)| w != g)
                    .unwrap_or(want.lines().count().min(got.lines().count()));
                let got_line = got.lines().nth(line).unwrap_or("<end>");
                let name = &case.name;
                self.failures.push(format!(
                    "{kind}/{name}: differs from {name}{OUT_SUFFIX} at line {}: got {got_line}",
                    line + 1
                ));
            }
        }
    }

    /// End the walk.
    ///
    /// # Panics
    ///
    /// When a case failed (listing every failure), or no case ran.
    pub fn finish(self) {
        assert!(self.count > 0, "no fixtures under {}", self.root.display());
        assert!(
            self.failures.is_empty(),
            "{} of {} fixtures failed ({BLESS_VAR}=1 rewrites expectations):\n{}",
            self.failures.len(),
            self.count,
            self.failures.join("\n")
        );
    }
}

impl Case {
    /// Case `name` in `dir` (a kind's folder), for tests that go over
    /// [`case_names`] themselves.
    pub fn new(dir: impl Into<PathBuf>, name: impl Into<String>) -> Case {
        Case { dir: dir.into(), name: name.into() }
    }

    /// The case's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The folder of its kind.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its file with `suffix` (e.g. `.in`).
    pub fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", self.name))
    }

    /// The bytes of its file with `suffix`; the error names the file.
    pub fn read(&self, suffix: &str) -> Result<Vec<u8>, String> {
        let path = self.path(suffix);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The bytes of its file with `suffix`, `None` when there is none.
    pub fn read_optional(&self, suffix: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.path(suffix);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Its file with `suffix` as JSON options, `T::default()` when there is
    /// none; errors name the file.
    pub fn options<T: DeserializeOwned + Default>(&self, suffix: &str) -> Result<T, String> {
        match self.read_optional(suffix)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", self.path(suffix).display())),
            None => Ok(T::default()),
        }
    }
}

/// The main file of every case in `dir` (see [`case_names`]), read as
/// text, in name order: what robustness tests feed a plugin besides the
/// expected outputs.
pub fn case_texts(dir: &Path, main_suffix: &str, extra_suffixes: &[&str]) -> Result<Vec<String>, String> {
    let read = |name: String| {
        let file = dir.join(format!("{name}{main_suffix}"));
        std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))
    };
    case_names(dir, main_suffix, extra_suffixes)?.into_iter().map(read).collect()
}

/// The case names in `dir` (files ending in `main_suffix`, sorted), after
/// checking that every file there is a case's main file, companion
/// (`extra_suffixes`) or expected output.
pub fn case_names(dir: &Path, main_suffix: &str, extra_suffixes: &[&str]) -> Result<Vec<String>, String> {
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        files.insert(entry.file_name().to_string_lossy().into_owned());
    }
    let names: Vec<String> = files.iter().filter_map(|f| f.strip_suffix(main_suffix).map(str::to_owned)).collect();
    for file in &files {
        let belongs = [main_suffix]
            .iter()
            .chain(extra_suffixes)
            .chain(&[OUT_SUFFIX])
            .any(|suffix| file.strip_suffix(suffix).is_some_and(|name| names.iter().any(|n| n == name)));
        if !belongs {
            return Err(format!("{}: stray file (no matching {main_suffix})", dir.join(file).display()));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    /// A fresh folder under the system's temporary one, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(files: &[(&str, &str)]) -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let root = std::env::temp_dir().join(format!("meterhub-fixtures-{}-{n}", std::process::id()));
            for (path, text) in files {
                let path = root.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Scratch(root)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn length(case: &Case) -> Result<Value, String> {
        #[derive(Default, serde::Deserialize)]
        struct Options {
            double: bool,
        }
        let options: Options = case.options(".case.json")?;
        let n = case.read(".in")?.len();
        Ok(json!({ "length": if options.double { 2 * n } else { n } }))
    }

    fn failure(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let e = std::panic::catch_unwind(f).unwrap_err();
        e.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn bless_writes_what_a_check_then_compares() {
        let dir = Scratch::new(&[("k/a.in", "abc"), ("k/b.in", "de"), ("k/b.case.json", r#"{"double":true}"#)]);
        let mut blessing = Fixtures::new(&dir.0).blessing(true);
        blessing.check("k", ".in", &[".case.json"], length);
        blessing.finish();
        assert_eq!(std::fs::read_to_string(dir.0.join("k/a.out.json")).unwrap(), "{\n  \"length\": 3\n}\n");
        assert_eq!(std::fs::read_to_string(dir.0.join("k/b.out.json")).unwrap(), "{\n  \"length\": 4\n}\n");
        let mut checking = Fixtures::new(&dir.0).blessing(false);
        checking.check("k", ".in", &[".case.json"], length);
        checking.finish();
    }

    #[test]
    fn a_check_names_each_failure_and_where_it_differs() {
        let dir = Scratch::new(&[
            ("k/a.in", "abc"),
            ("k/a.out.json", "{\n  \"length\": 4\n}\n"),
            ("k/b.in", "x"),
            ("k/b.case.json", "{\"double\":1}"),
            ("k/c.in", "xy"),
            ("k/c.out.json", "{\n  \"length\": 2\n}\n"),
        ]);
        let message = failure(|| {
            let mut f = Fixtures::new(&dir.0).blessing(false);
            f.check("k", ".in", &[".case.json"], length);
            f.finish();
        });
        let first = message.lines().next().unwrap();
        assert_eq!(first, "2 of 3 fixtures failed (METERHUB_BLESS=1 rewrites expectations):");
        assert!(message.contains("\nk/a: differs from a.out.json at line 2: got   \"length\": 3"), "{message}");
        assert!(message.contains("\nk/b: ") && message.contains("b.case.json: invalid type"), "{message}");
    }

    #[test]
    fn stray_files_and_empty_walks_fail() {
        let dir = Scratch::new(&[("k/a.in", "abc"), ("k/a.out.json", "{}"), ("k/orphan.out.json", "{}")]);
        let e = case_names(&dir.0.join("k"), ".in", &[]).unwrap_err();
        assert!(e.ends_with("orphan.out.json: stray file (no matching .in)"), "{e}");
        let message = failure(|| Fixtures::new(&dir.0).blessing(false).finish());
        assert!(message.starts_with("no fixtures under "), "{message}");
        let ok = Scratch::new(&[("k/a.in", ""), ("k/a.http.json", "{}")]);
        assert_eq!(case_names(&ok.0.join("k"), ".in", &[".http.json"]).unwrap(), vec!["a".to_owned()]);
        assert_eq!(Case::new(ok.0.join("k"), "a").read_optional(".x").unwrap(), None);
    }
}

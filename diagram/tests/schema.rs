//! The schema (`diagram/schema/diagram.rng`) and the parser agree on every
//! fixture: each under `fixtures/` is valid for both, each under
//! `fixtures/invalid/` is refused by both. xmllint (Debian's
//! libxml2-utils, installed by `scripts/install-browser`) checks the schema.

use std::path::{Path, PathBuf};
use std::process::Command;

const XMLLINT: &str = "/usr/bin/xmllint";

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

fn schema_accepts(file: &Path) -> bool {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/diagram.rng");
    let out =
        Command::new(XMLLINT).arg("--noout").arg("--relaxng").arg(&schema).arg(file).output().expect("xmllint runs");
    out.status.success()
}

#[test]
fn the_schema_and_the_parser_agree_on_every_fixture() {
    assert!(Path::new(XMLLINT).exists(), "{XMLLINT} is needed: run scripts/install-browser (scripts/test does)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut valid = fixtures(&root);
    // The standard object library is written in the language too.
    valid.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("library/standard.xml"));
    let invalid = fixtures(&root.join("invalid"));
    assert!(valid.len() >= 2 && invalid.len() >= 4);
    for file in valid {
        assert!(schema_accepts(&file), "the schema refuses {}", file.display());
        if let Err(errors) = meterhub_diagram::parse_file(&file) {
            panic!("the parser refuses {}: {errors:#?}", file.display());
        }
    }
    for file in invalid {
        assert!(!schema_accepts(&file), "the schema takes {}", file.display());
        let errors = meterhub_diagram::parse_file(&file).expect_err("the parser refuses it");
        let prefix = format!("{}:", file.display());
        assert!(errors.iter().all(|e| e.starts_with(&prefix)), "{errors:#?}");
    }
}

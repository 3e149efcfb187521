//! `meterhub diagram check <file>...`: read mimic diagrams as the host
//! does (`docs/diagrams.md`) and say what is wrong with each, at
//! `file:line:col`; `--compiled` prints the compiled form the browser loads.
//! `meterhub diagram import <drawing.svg>`: convert an SVG drawing into a
//! diagram, with a warning at `file:line:col` for what it leaves out.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::output::say;

/// What to check.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Diagram files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print each diagram's compiled form (JSON) when it is good.
    #[arg(long)]
    pub compiled: bool,
}

/// Checks every file; fails when one has a problem.
pub fn check(args: &CheckArgs) -> ExitCode {
    let mut failed = false;
    for file in &args.files {
        match meterhub_diagram::parse_file(file) {
            Ok(diagram) => {
                if args.compiled {
                    say!("{}", serde_json::to_string(&diagram).unwrap_or_default());
                } else {
                    say!(
                        "{}: ok ({} elements, {} groups, {} objects, {} actions, {} signals)",
                        file.display(),
                        diagram.elements.len(),
                        diagram.groups.len(),
                        diagram.objects.len(),
                        diagram.actions.len(),
                        diagram.signals.len()
                    );
                }
            }
            Err(errors) => {
                failed = true;
                for error in errors {
                    eprintln!("{error}");
                }
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// What to import.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The SVG drawing (Inkscape's or any SVG editor's).
    pub file: PathBuf,
    /// Where to write the diagram (written whole or not at all); standard
    /// output when not given.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The diagram's name; the drawing's file name without its extension
    /// when not given.
    #[arg(long)]
    pub name: Option<String>,
}

/// Converts an SVG drawing into a diagram; what it leaves out is listed
/// on standard error as `file:line:col: warning: ...`. Fails when the
/// drawing cannot be read.
pub fn import(args: &ImportArgs) -> ExitCode {
    let file = &args.file;
    let svg = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let stem = || file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = args.name.clone().unwrap_or_else(stem);
    let imported = match meterhub_diagram::import::import(&svg, &name) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("{}:{e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    for w in &imported.warnings {
        eprintln!("{}:{}:{}: warning: {}: {}", file.display(), w.line, w.col, w.element, w.message);
    }
    // Read back as the host will; refused, it is the import's bug, not the drawing's.
    let diagram = match meterhub_diagram::parse(imported.xml.as_bytes()) {
        Ok(diagram) => diagram,
        Err(errors) => {
            for e in errors {
                eprintln!("{}: the imported diagram does not read (a bug of the import): {e}", file.display());
            }
            return ExitCode::FAILURE;
        }
    };
    let Some(output) = &args.output else {
        say!("{}", imported.xml.trim_end());
        return ExitCode::SUCCESS;
    };
    // Atomically: the host may be reading the diagrams folder.
    if let Err(e) = meterhub_storage::files::write_atomically(output, imported.xml.as_bytes()) {
        eprintln!("{}: cannot write: {e}", output.display());
        return ExitCode::FAILURE;
    }
    say!(
        "{}: {} elements, {} groups; {} warnings",
        output.display(),
        diagram.elements.len(),
        diagram.groups.len(),
        imported.warnings.len()
    );
    ExitCode::SUCCESS
}

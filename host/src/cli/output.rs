//! What the command line prints on standard output. A reader that goes away
//! (`meterhub codec decode ... | head -3`) ends the command quietly with
//! success, as `cat` would, instead of a panic on the broken pipe; any other
//! write error is reported on standard error with exit code 1.

use std::io::Write;

/// Writes one line (like `println!`) to standard output; see the module doc.
macro_rules! say {
    () => {
        $crate::cli::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Writes `args` and a newline to standard output, or ends the process.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        gone(&e);
    }
}

/// Ends the process after a failed write to standard output.
fn gone(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("meterhub: cannot write to standard output: {e}");
    std::process::exit(1);
}

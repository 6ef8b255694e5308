//! The `rust-stream` CLI: `generate`, `inspect`, `scaffold`. See `rust-stream --help`.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match rust_stream_build::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` go to stdout and exit 0, usage errors to stderr with 2.
        // clap's `exit` would panic on a closed stdout; `print` returns the failure.
        Err(err) => {
            return match err.print() {
                Ok(()) => ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2)),
                Err(io) => {
                    complain(&format!("rust-stream: writing the output: {io}"));
                    ExitCode::FAILURE
                }
            };
        }
    };
    match rust_stream_build::cli::run(cli) {
        Ok(output) => print(&output),
        Err(err) => {
            for diagnostic in err.diagnostics() {
                complain(&format!("rust-stream: {diagnostic}"));
            }
            ExitCode::FAILURE
        }
    }
}

/// Writes `output` to stdout. `print!` would panic on a closed or full stdout (`| head`,
/// `> /dev/full`); this says so and fails instead.
fn print(output: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            complain(&format!("rust-stream: writing the output: {err}"));
            ExitCode::FAILURE
        }
    }
}

/// Writes a line to stderr; if stderr is gone too, there is no one left to tell.
fn complain(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

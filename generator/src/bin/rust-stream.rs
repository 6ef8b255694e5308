//! The `rust-stream` CLI: `generate`, `inspect`, `scaffold`. See `rust-stream --help`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = rust_stream_build::cli::Cli::parse();
    match rust_stream_build::cli::run(cli) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("rust-stream: {err}");
            ExitCode::FAILURE
        }
    }
}

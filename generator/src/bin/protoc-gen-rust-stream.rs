//! `protoc-gen-rust-stream`: rust-stream's protoc plugin.
//!
//! ```text
//! protoc --rust-stream_out=OUT_DIR --rust-stream_opt=include_file=mod.rs -I proto proto/x.proto
//! ```
//!
//! Reads a `CodeGeneratorRequest` on stdin and writes a `CodeGeneratorResponse` on stdout.
//! Problems with the protos or parameters are reported in the response (exit 0); input that
//! is not a request, or an I/O failure, exits 1 with a message on stderr.

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    // The plugin answers every panic itself (a caught one goes into the response's
    // `error`, naming it), so the default hook's message and backtrace would only be noise
    // on protoc's stderr. This process is ours, so replacing the process-wide hook is safe.
    std::panic::set_hook(Box::new(|_| {}));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => {
            eprintln!(
                "protoc-gen-rust-stream: internal error (a bug in rust-stream, please report it)"
            );
            ExitCode::FAILURE
        }
    }
}

fn run() -> ExitCode {
    let mut request = Vec::new();
    if let Err(err) = std::io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-rust-stream: reading the request from stdin failed: {err}");
        return ExitCode::FAILURE;
    }
    let response = match rust_stream_build::plugin::respond_bytes(&request) {
        Ok(response) => response,
        Err(err) => {
            eprintln!(
                "protoc-gen-rust-stream: {err}\n(this program is a protoc plugin: run it through \
                 `protoc --rust-stream_out=DIR`, or use the `rust-stream` CLI)"
            );
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(&response).and_then(|()| stdout.flush()) {
        eprintln!("protoc-gen-rust-stream: writing the response failed: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

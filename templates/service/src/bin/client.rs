//! Calls the service from the command line, any RPC of `proto/`, with JSON in and out:
//! `list` shows the methods, `call <Method> '<json>'` calls one (streams read JSON lines on
//! stdin and print one line per message), `--upload FILE` streams a file to a chunk-shaped
//! upload. `--help` has the rest.

use {{crate_name}}::pb::FILE_DESCRIPTOR_SET;

/// Where the server is unless `--addr` says otherwise.
const DEFAULT_ADDR: &str = "http://{{listen_addr}}";

fn main() -> std::process::ExitCode {
    rust_stream::client_cli::main(FILE_DESCRIPTOR_SET, DEFAULT_ADDR)
}

//! A command-line client for every method of a descriptor set, driven by reflection
//! (feature `client-cli`).
//!
//! [`main`] takes an encoded `FileDescriptorSet` (imports included, as protox's
//! `encode_file_descriptor_set` or `protoc --include_imports --descriptor_set_out` write
//! it) and a default server address, and gives a whole client program in the spirit of
//! grpcurl: nothing in it is written per method, so it never goes stale when the proto
//! changes.
//!
//! A service crate's build script writes the set with protox (`Compiler::new(["proto"])?`,
//! `.include_imports(true)`, `.open_file("proto/service.proto")?`, then
//! `.encode_file_descriptor_set()` into `$OUT_DIR/file_descriptor_set.bin`); its library
//! embeds it as `pub const FILE_DESCRIPTOR_SET: &[u8] =
//! include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));`, and its client
//! binary is then, whatever the proto holds:
//!
//! ```no_run
//! # mod my_service { pub const FILE_DESCRIPTOR_SET: &[u8] = &[]; }
//! fn main() -> std::process::ExitCode {
//!     rust_stream::client_cli::main(my_service::FILE_DESCRIPTOR_SET, "http://127.0.0.1:50051")
//! }
//! ```
//!
//! # Commands
//!
//! ```text
//! client [--addr URL] list
//! client [--addr URL] [--timeout SECS] [-H key:value]... call METHOD [JSON]
//! ```
//!
//! An `https://` address connects over TLS, trusting the platform's roots or the CA
//! certificates of `--ca FILE`; `--cert FILE --key FILE` present a client certificate
//! (mTLS) and `--tls-name NAME` verifies the server for a name other than the address's
//! host. A bearer token goes in a header: `-H 'authorization:Bearer TOKEN'`.
//!
//! - `list` prints one line per method: its path (`package.Service/Method`), its pattern
//!   (`unary`, `server streaming`, `client streaming` or `bidi`), and its request and
//!   response types.
//! - `call` names the method as `package.Service/Method`, `Service/Method`, or by the
//!   method's name alone (as in the proto, `GetUser`, or in snake_case, `get_user`) when it
//!   is unique; an unknown or ambiguous name is refused with the list of valid ones.
//!
//! # Requests and responses
//!
//! JSON in and out follows the proto3 JSON mapping: responses use the lowerCamelCase JSON
//! names (`bytesReceived`), leave out fields holding their default value, and write 64-bit
//! integers as strings, as protoc's and grpcurl's JSON printers do (`--proto-names` and
//! `--emit-defaults` change the first two). Requests accept JSON names and proto names;
//! unknown fields are refused.
//!
//! | pattern | requests | stdout |
//! |---|---|---|
//! | unary, server streaming | the JSON argument (default `{}`), or all of stdin for `-` | one line of JSON per response, as each arrives |
//! | client streaming, bidi | one message per non-empty line of stdin (the default, or `-`), or the JSON argument as the only message | the same; bidi prints while it still sends |
//!
//! A client-streaming method whose request holds exactly one `bytes` field takes
//! `--upload FILE` instead: the file is streamed in 64 KiB chunks (`--chunk-size`), with a
//! progress bar on stderr when stderr is a terminal. `--limit N` stops a stream after `N`
//! responses, cancelling the call. `--timeout` bounds the whole call (sent as
//! `grpc-timeout`); `-H key:value` adds request metadata.
//!
//! # Errors and exit codes
//!
//! Errors go to stderr as one line (a status as its canonical code name then its message,
//! `NOT_FOUND: User not found`), and the exit code tells their class:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the call ended `OK` (or whoever read stdout stopped reading) |
//! | 1 | the call ended with another status, from the server, the transport or `--timeout` |
//! | 2 | usage: bad arguments, unknown or ambiguous method, bad request JSON, unreadable input |
//! | 3 | the server could not be reached (the message names the address) |
//! | 4 | the program is broken: its descriptor set does not decode, or stdout failed |

mod args;
mod call;
mod catalog;
mod codec;
mod error;
#[cfg(test)]
mod fixture;
mod input;
mod output;

use args::{CallArgs, Cli, Command};
use call::Call;
use catalog::{Catalog, Method, Pattern};
use clap::FromArgMatches;
use error::CliError;
use input::{RequestParser, Requests};
use output::Printer;
use prost_reflect::{DynamicMessage, FieldDescriptor};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the client on the process's command line, calling the services of
/// `descriptor_set` (an encoded `FileDescriptorSet`, imports included) on `default_addr`
/// unless `--addr` says otherwise. Returns the exit code the module docs list; never
/// panics on any input, a malformed descriptor set included.
pub fn main(descriptor_set: &[u8], default_addr: &str) -> ExitCode {
    let cli = match parse(std::env::args_os(), default_addr) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help to stdout and errors to stderr, each in its own format.
            let _ = err.print();
            return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
        }
    };
    match run(cli, descriptor_set) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !matches!(err, CliError::OutputClosed) {
                eprintln!("{err}");
            }
            err.exit_code()
        }
    }
}

/// The command line, parsed, with `default_addr` as `--addr`'s default.
fn parse(args: impl IntoIterator<Item = OsString>, default_addr: &str) -> Result<Cli, clap::Error> {
    let matches = Cli::command_with_default_addr(default_addr).try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Runs `cli` on a single-threaded runtime.
fn run(cli: Cli, descriptor_set: &[u8]) -> Result<(), CliError> {
    let catalog = Catalog::decode(descriptor_set)?;
    let args = match cli.command {
        Command::List => return print_listing(&catalog),
        Command::Call(ref args) => args,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::Internal(format!("starting the async runtime failed: {err}")))?;
    let result = runtime.block_on(call(&cli, args, &catalog));
    // A stdin read can block forever; the process is about to exit anyway.
    runtime.shutdown_background();
    result
}

/// `list`'s output.
fn print_listing(catalog: &Catalog) -> Result<(), CliError> {
    use std::io::Write;
    std::io::stdout()
        .write_all(catalog.listing().as_bytes())
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::OutputClosed,
            _ => CliError::Internal(format!("writing to stdout failed: {err}")),
        })
}

/// What `call` will send, decided (and the arguments checked) before connecting.
enum Plan {
    /// A unary call of this request.
    Unary(DynamicMessage),
    /// A server-streaming call of this request.
    ServerStreaming(DynamicMessage),
    /// A client-streaming call of the JSON argument or stdin's lines.
    ClientStreaming(Requests),
    /// A client-streaming call of this file's bytes, in this field of each request.
    Upload(PathBuf, FieldDescriptor),
    /// A bidi call of the JSON argument or stdin's lines.
    Bidi(Requests),
}

impl Plan {
    /// The plan for `method`, refusing flags that do not fit its pattern; the requests are
    /// read (a streaming call's from stdin as it goes), so bad JSON in the argument fails
    /// before connecting.
    async fn new(
        args: &CallArgs,
        method: &Method,
        parser: &RequestParser,
    ) -> Result<Self, CliError> {
        let pattern = method.pattern();
        let misfit = |what: &str| {
            CliError::usage(format!(
                "{what}; {} is {pattern} with request {}",
                method.path(),
                method.input().full_name()
            ))
        };
        if args.limit.is_some() && matches!(pattern, Pattern::Unary | Pattern::ClientStreaming) {
            return Err(misfit("--limit applies to streamed responses"));
        }
        let json = args.json.as_deref();
        Ok(match (pattern, &args.upload) {
            (Pattern::ClientStreaming, Some(file)) => match method.chunk_field() {
                Some(field) => Plan::Upload(file.clone(), field),
                None => return Err(misfit(UPLOAD_NEEDS)),
            },
            (_, Some(_)) => return Err(misfit(UPLOAD_NEEDS)),
            (Pattern::Unary, None) => Plan::Unary(parser.single(json).await?),
            (Pattern::ServerStreaming, None) => Plan::ServerStreaming(parser.single(json).await?),
            (Pattern::ClientStreaming, None) => Plan::ClientStreaming(parser.stream(json)?),
            (Pattern::Bidi, None) => Plan::Bidi(parser.stream(json)?),
        })
    }
}

/// Why `--upload` was refused.
const UPLOAD_NEEDS: &str =
    "--upload needs a client-streaming method whose request is one `bytes` field";

/// `call`: plans the call, connects, and runs the method's pattern, all within
/// `--timeout`.
async fn call(cli: &Cli, args: &CallArgs, catalog: &Catalog) -> Result<(), CliError> {
    let method = catalog.find(&args.method)?;
    let parser = RequestParser::new(method);
    let plan = Plan::new(args, method, &parser).await?;
    let run = async {
        let channel = call::connect(&cli.addr, cli.connect_timeout, &cli.tls).await?;
        let printer = Printer::new(args.emit_defaults, args.proto_names);
        let call = Call::new(
            channel,
            method,
            &cli.headers,
            cli.timeout,
            printer,
            args.limit,
        )?;
        match plan {
            Plan::Unary(request) => call.unary(request).await,
            Plan::ServerStreaming(request) => call.server_streaming(request).await,
            Plan::Upload(file, field) => call.upload(&file, args.chunk_size, field).await,
            Plan::ClientStreaming(requests) => call.client_streaming(requests).await,
            Plan::Bidi(requests) => call.bidi(requests).await,
        }
    };
    match cli.timeout {
        None => run.await,
        // tonic's own timer covers only the wait for the response headers; this one
        // covers the whole call, streams included.
        Some(timeout) => tokio::time::timeout(timeout, run)
            .await
            .unwrap_or_else(|_| {
                Err(CliError::Status(tonic::Status::deadline_exceeded(
                    "deadline exceeded (client timer)",
                )))
            }),
    }
}

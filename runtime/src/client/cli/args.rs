//! The command line, parsed by clap: global connection options, then `list` or `call`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use tonic::metadata::{Ascii, Binary, MetadataKey, MetadataMap, MetadataValue};

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    about = "Calls gRPC methods with JSON requests and responses (proto3 JSON mapping)",
    after_help = "Exit codes: 0 the call ended OK; 1 it ended with another status; 2 usage \
                  (bad arguments, unknown method, bad JSON, unreadable input); 3 the server \
                  could not be reached; 4 the program's descriptor set is invalid."
)]
pub(super) struct Cli {
    // The default is the program's, set by `Cli::command_with_default_addr`.
    /// Server address, `http://host:port` (a bare `host:port` means `http://`), or
    /// `https://host:port` for TLS.
    #[arg(long, global = true, value_name = "URL")]
    pub addr: String,
    /// TLS settings, for an `https://` address.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Deadline of the whole call in seconds, sent to the server as `grpc-timeout`.
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
    /// How long to wait for the connection, in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    pub connect_timeout: Duration,
    /// Request metadata as `key:value`; repeatable. The value of a `-bin` key is sent as the
    /// bytes of the text given.
    #[arg(short = 'H', long = "header", global = true, value_name = "KEY:VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The clap command, with `default_addr` as `--addr`'s default (shown in `--help`).
    pub(super) fn command_with_default_addr(default_addr: &str) -> clap::Command {
        // clap keeps defaults as `&'static str`; this runs once per process.
        let default_addr: &'static str = default_addr.to_owned().leak();
        <Cli as clap::CommandFactory>::command().mut_arg("addr", |arg| {
            arg.default_value(default_addr).required(false)
        })
    }
}

/// How to verify an `https://` server, and the client's own certificate (mTLS).
#[derive(Debug, Args)]
pub(super) struct TlsArgs {
    /// Trust only the CA certificates in this PEM file (default: the platform's roots).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Present this PEM certificate chain to the server (mTLS); needs `--key`.
    #[arg(long, global = true, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The PEM private key of `--cert`.
    #[arg(long, global = true, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Verify the server's certificate for this name instead of the address's host.
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_name: Option<String>,
}

impl TlsArgs {
    /// Whether any TLS setting was given.
    pub(super) fn given(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.tls_name.is_some()
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// List every method with its streaming pattern and its request and response types.
    List,
    /// Call a method and print each response as one line of JSON.
    Call(CallArgs),
}

/// `call`'s arguments.
#[derive(Debug, Args)]
pub(super) struct CallArgs {
    /// `package.Service/Method`, `Service/Method`, or the method's name alone (as in the
    /// proto or in snake_case) when no other service has a method of that name.
    pub method: String,
    /// The request in proto3 JSON, or `-` to read it from stdin. Unary and server-streaming
    /// calls default to `{}`; client-streaming and bidi calls default to stdin, one JSON
    /// message per line.
    pub json: Option<String>,
    /// For a client-streaming method whose request holds one `bytes` field: upload FILE
    /// in chunks of `--chunk-size` bytes.
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    pub upload: Option<PathBuf>,
    /// Bytes per chunk with `--upload`.
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_CHUNK_SIZE, value_parser = parse_chunk_size, requires = "upload")]
    pub chunk_size: usize,
    /// Stop after N responses, cancelling the call (for streams that do not end).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print fields that hold their default value too (the mapping leaves them out).
    #[arg(long)]
    pub emit_defaults: bool,
    /// Print fields by their proto names (`bytes_received`) instead of their JSON names
    /// (`bytesReceived`).
    #[arg(long)]
    pub proto_names: bool,
}

/// One `-H key:value`, checked as gRPC metadata when parsed.
#[derive(Clone, Debug)]
pub(super) enum Header {
    /// A text value.
    Ascii(MetadataKey<Ascii>, MetadataValue<Ascii>),
    /// A `-bin` key's value.
    Binary(MetadataKey<Binary>, MetadataValue<Binary>),
}

impl Header {
    /// Adds this header to `metadata`, keeping earlier values of the same key.
    pub(super) fn append_to(&self, metadata: &mut MetadataMap) {
        match self {
            Header::Ascii(key, value) => metadata.append(key.clone(), value.clone()),
            Header::Binary(key, value) => metadata.append_bin(key.clone(), value.clone()),
        };
    }
}

/// Parses `key:value` (spaces around either part are dropped).
fn parse_header(text: &str) -> Result<Header, String> {
    let (key, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not `key:value`"))?;
    let (key, value) = (key.trim(), value.trim());
    let bad_key = |_| format!("`{key}` is not a valid metadata key");
    if key.ends_with("-bin") {
        let key = MetadataKey::from_bytes(key.as_bytes()).map_err(bad_key)?;
        Ok(Header::Binary(
            key,
            MetadataValue::from_bytes(value.as_bytes()),
        ))
    } else {
        let key = MetadataKey::from_bytes(key.as_bytes()).map_err(bad_key)?;
        let value = MetadataValue::try_from(value)
            .map_err(|_| format!("the value of `{key}` is not valid metadata text"))?;
        Ok(Header::Ascii(key, value))
    }
}

/// Parses a non-negative number of seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds"))
}

/// Parses a chunk size of at least one byte.
fn parse_chunk_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(size) if size > 0 => Ok(size),
        _ => Err(format!(
            "`{text}` is not a chunk size (a number of bytes, at least 1)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command_with_default_addr("http://127.0.0.1:1").debug_assert();
    }

    #[test]
    fn the_address_defaults_to_the_programs() {
        use clap::FromArgMatches;
        let parse = |args: &[&str]| {
            let matches = Cli::command_with_default_addr("http://[::1]:7")
                .try_get_matches_from(args)
                .unwrap();
            Cli::from_arg_matches(&matches).unwrap().addr
        };
        assert_eq!(parse(&["cli", "list"]), "http://[::1]:7");
        assert_eq!(parse(&["cli", "list", "--addr", "h:1"]), "h:1");
    }

    #[test]
    fn headers_are_key_colon_value() {
        let mut metadata = MetadataMap::new();
        for text in ["x-user: alice", "x-user:bob", "trace-bin:\u{1}\u{2}"] {
            parse_header(text).unwrap().append_to(&mut metadata);
        }
        let users: Vec<_> = metadata.get_all("x-user").iter().collect();
        assert_eq!(users, ["alice", "bob"]);
        let trace = metadata.get_bin("trace-bin").unwrap().to_bytes().unwrap();
        assert_eq!(&trace[..], [1, 2]);
    }

    #[test]
    fn malformed_headers_are_refused() {
        for text in ["no-colon", "bad key:v", "x:\u{7f}bad", ":empty-key"] {
            assert!(parse_header(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn seconds_and_chunk_sizes_are_checked() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert_eq!(parse_chunk_size("65536"), Ok(65536));
        assert!(parse_chunk_size("0").is_err());
    }
}

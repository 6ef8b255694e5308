//! Why a command failed, and the exit code each kind of failure gives.

use std::fmt;
use std::process::ExitCode;

/// A failed command: what the user reads on stderr, and its class of exit code.
#[derive(Debug)]
pub(super) enum CliError {
    /// The call ended with a status other than `OK` (from the server, the transport, or the
    /// client's own deadline).
    Status(tonic::Status),
    /// The command line or its input is wrong: unknown method, bad JSON, unreadable file.
    Usage(String),
    /// The server could not be reached.
    Connect {
        /// The address as the user gave it (or the default).
        addr: String,
        /// Why not.
        reason: String,
    },
    /// The program itself is broken: its descriptor set does not decode, or stdout failed.
    Internal(String),
    /// Whoever read stdout went away (`client ... | head -3`): not a failure, the command
    /// stops quietly.
    OutputClosed,
}

/// The exit code of each class of failure, documented in the module's docs.
pub(super) mod exit {
    /// The call ended with a non-`OK` gRPC status.
    pub const STATUS: u8 = 1;
    /// Bad arguments or input (clap uses the same code for its own usage errors).
    pub const USAGE: u8 = 2;
    /// The server could not be reached.
    pub const CONNECT: u8 = 3;
    /// The program's descriptor set is invalid, or its output could not be written.
    pub const INTERNAL: u8 = 4;
}

impl CliError {
    /// A usage error from anything that displays.
    pub(super) fn usage(message: impl fmt::Display) -> Self {
        CliError::Usage(message.to_string())
    }

    /// The process exit code for this failure.
    pub(super) fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::OutputClosed => 0,
            CliError::Status(_) => exit::STATUS,
            CliError::Usage(_) => exit::USAGE,
            CliError::Connect { .. } => exit::CONNECT,
            CliError::Internal(_) => exit::INTERNAL,
        })
    }
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        CliError::Status(crate::client::glue::client_status(status))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Status(status) => f.write_str(&crate::status_line(status)),
            CliError::Usage(message) | CliError::Internal(message) => f.write_str(message),
            CliError::OutputClosed => f.write_str("stdout was closed"),
            CliError::Connect { addr, reason } => {
                write!(f, "cannot connect to {addr}: {reason}")
            }
        }
    }
}

//! A status as text, the way gRPC's own tools print it: `NOT_FOUND: User not found`.

use tonic::{Code, Status};

/// The gRPC name of `code` as the spec and other implementations' tools print it, such as
/// `NOT_FOUND` or `DEADLINE_EXCEEDED`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// `status` the way a command-line client reports a failed call: `NOT_FOUND: User not
/// found` (just the code's name when there is no message).
///
/// ```
/// let status = rust_stream::Status::not_found("User not found");
/// assert_eq!(rust_stream::status_line(&status), "NOT_FOUND: User not found");
/// ```
pub fn status_line(status: &Status) -> String {
    match status.message() {
        "" => code_name(status.code()).to_owned(),
        message => format!("{}: {message}", code_name(status.code())),
    }
}

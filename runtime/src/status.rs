//! Rich error statuses: `grpc-status-details-bin`, a `google.rpc.Status` with typed
//! details, in both directions.
//!
//! | grpcio (Python, `grpcio-status`) | rust-stream |
//! |---|---|
//! | `context.abort_with_status(rpc_status.to_status(rich))` | `return Err(rich_status(code, message, details))` |
//! | `rpc_status.from_call(call)` | `status_details(&status)` |
//!
//! The message travels in `grpc-message`, percent-encoded as the spec requires (tonic
//! encodes and decodes it, any Unicode text survives); the details travel as the encoded
//! `google.rpc.Status` in `grpc-status-details-bin`, whose code and message repeat the
//! status's own.

use tonic::{Code, Status};

/// `google.rpc.Status`: a code, a message and typed details, as `grpc-status-details-bin`
/// carries them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    /// The status code (`google.rpc.Code`, the same numbers as gRPC's).
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The developer-facing message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Typed details (`google.rpc.ErrorInfo`, `BadRequest`, or a message of your own).
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}

/// A status with `code`, `message` and `details`, sent as `grpc-status-details-bin`.
///
/// ```
/// use rust_stream::{rich_status, status_details};
/// use rust_stream::Code;
///
/// let detail = prost_types::Any { type_url: "type.googleapis.com/demo.Hint".into(), value: b"\x0a\x02hi".to_vec() };
/// let status = rich_status(Code::InvalidArgument, "bad id ✗", vec![detail.clone()]);
/// let details = status_details(&status).unwrap();
/// assert_eq!(details.code, Code::InvalidArgument as i32);
/// assert_eq!(details.details, [detail]);
/// ```
pub fn rich_status(
    code: Code,
    message: impl Into<String>,
    details: Vec<prost_types::Any>,
) -> Status {
    let message = message.into();
    let encoded = prost::Message::encode_to_vec(&RpcStatus {
        code: code as i32,
        message: message.clone(),
        details,
    });
    Status::with_details(code, message, encoded.into())
}

/// The `google.rpc.Status` a status carries in `grpc-status-details-bin`, if any and if it
/// decodes.
pub fn status_details(status: &Status) -> Option<RpcStatus> {
    if status.details().is_empty() {
        return None;
    }
    prost::Message::decode(status.details()).ok()
}

//! The guide's `StreamingExamples` service on rust-stream: the generated protobuf and tonic
//! code, the stream layer, and the guide's server behaviour, shared by the
//! `streaming-server` and `streaming-client` binaries and by the project's tests.

/// Messages, tonic client and server for `proto/streaming.proto`.
#[allow(missing_docs)]
pub mod pb {
    tonic::include_proto!("streaming");
}

pub mod adapter;
pub mod guide;

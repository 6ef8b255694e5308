//! The guide's `StreamingExamples` service on rust-stream: the code `build.rs` generates from
//! `proto/streaming.proto`, and the guide's server behaviour, shared by the
//! `streaming-server` and `streaming-client` binaries and by the project's tests and
//! benchmarks.

/// Messages, tonic client and server, and the stream layer for `proto/streaming.proto`, as
/// rust-stream-build generates them.
#[allow(missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/streaming.rs"));
}

/// The generated stream layer of `StreamingExamples`: `StreamingExamplesHandler`,
/// `StreamingExamplesService`, `StreamingExamplesStreamClient`, `TUNING`, `server_builder`.
pub use pb::streaming_examples_stream as adapter;

pub mod guide;

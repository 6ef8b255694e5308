//! The guide's `StreamingExamples` service on rust-stream: the code `build.rs` generates from
//! `proto/streaming.proto`, and the guide's server behaviour, shared by the
//! `streaming-server` and `streaming-client` binaries and by the project's tests and
//! benchmarks; the same service on `#[derive(StreamService)]` ([`derived`]); and the
//! proto's descriptor set, which the reflection-driven `streaming-cli` runs on.

// The derive's code names the messages by the crate's absolute path (`extern_path`).
extern crate self as rust_stream_examples;

/// Messages, tonic client and server, and the stream layer for `proto/streaming.proto`, as
/// rust-stream-build generates them.
#[allow(missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/streaming.rs"));
}

/// The generated stream layer of `StreamingExamples`: `StreamingExamplesHandler`,
/// `StreamingExamplesService`, `StreamingExamplesStreamClient`, `TUNING`, `server_builder`.
pub use pb::streaming_examples_stream as adapter;

/// The encoded `FileDescriptorSet` of `proto/streaming.proto` (imports included), as protox
/// writes it: what the reflection-driven `streaming-cli` calls the service with.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/streaming_descriptor_set.bin"));

pub mod derived;
pub mod guide;

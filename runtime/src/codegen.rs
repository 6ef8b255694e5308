//! The whole surface generated code may use, and nothing a handler needs. Everything
//! generated refers to the runtime through this module, so the rest of the runtime can
//! change without breaking generated files. Hidden from the docs: handlers and clients use
//! the crate root.

pub use crate::call::adapters::{bidi_streaming, client_streaming, server_streaming, unary};
pub use crate::call::{
    CallConfig, CallContext, Chunk, Compression, DEFAULT_CHUNK_SIZE, Encoding, InboundLimits,
    RequestStream, ResponseSink, ResponseStream,
};
pub use crate::client::glue::{
    call_with_metadata, client_grpc, client_status, open_call, request, with_retry, with_timeout,
};
pub use crate::client::{
    ClientChannel, ClientTls, Fleet, FleetChannel, FleetError, OutgoingRequests, Progress, Reply,
    Requests, Responses, RetryPolicy, TargetError, UploadError, bidi, upload,
};
pub use crate::server::{StreamService, TunedRouter, TunedServer};
pub use crate::testing::probe::{Answer, answer_once, answer_stream, assert_answers};
pub use crate::tuning::Tuning;
pub use bytes::Bytes;
pub use futures_util::Stream;
/// Google's well-known types: generated code names them through here (prost-build's
/// `prost_types_path`), so a crate needs no `prost-types` dependency of its own.
pub use prost_types;
pub use tokio::io::AsyncRead;
pub use tokio_stream::once;
pub use {prost, tokio, tonic};

/// The chunk stream upload helpers hand to the generated call (the name generated files
/// use for it).
pub type BoxStream<T> = crate::client::UploadChunks<T>;

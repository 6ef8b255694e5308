//! The whole surface generated code may use. Everything generated refers to the runtime
//! through this module, so the rest of the runtime can change without breaking generated
//! files.

pub use crate::call::{CallConfig, bidi_streaming, client_streaming, server_streaming, unary};
pub use crate::chunk::{Chunk, DEFAULT_CHUNK_SIZE, Progress, UploadError, upload};
pub use crate::client::{
    OutgoingRequests, Reply, Requests, Responses, bidi, call_with_metadata, client_grpc,
    client_status, request, with_timeout,
};
pub use crate::compression::{Compression, Encoding};
pub use crate::context::CallContext;
pub use crate::inbound::{InboundLimits, RequestStream};
pub use crate::server::TunedServer;
pub use crate::service::StreamService;
pub use crate::sink::{ResponseSink, ResponseStream};
pub use crate::tuning::Tuning;
pub use bytes::Bytes;
pub use futures_util::Stream;
/// Google's well-known types: generated code names them through here (prost-build's
/// `prost_types_path`), so a crate needs no `prost-types` dependency of its own.
pub use prost_types;
pub use tokio::io::AsyncRead;
pub use tokio_stream::once;
pub use {prost, tokio, tonic};

/// A boxed, sendable stream, as upload helpers hand to tonic clients.
pub type BoxStream<T> = std::pin::Pin<Box<dyn futures_util::Stream<Item = T> + Send>>;

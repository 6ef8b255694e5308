//! The call side: one call as its handler sees it.
//!
//! Takes a request tonic decoded and the method's [`CallConfig`]; gives the handler its
//! [`CallContext`] (deadline, cancellation, metadata both ways, compression), its
//! [`RequestStream`] (inbound messages under byte, count and idle limits, and for
//! [`Chunk`]-shaped messages an `AsyncRead`) and its [`ResponseSink`] (bounded outbound
//! messages that fail promptly once the client is gone). The adapters that generated code
//! calls, one per streaming pattern, run the handler under these guards: the call's
//! deadline as `DEADLINE_EXCEEDED`, a client that left, and a panic as `INTERNAL` for that
//! call only.

pub(crate) mod adapters;
pub(crate) mod batch;
pub(crate) mod chunk;
pub(crate) mod compression;
pub(crate) mod context;
pub(crate) mod deadline;
pub(crate) mod frames;
pub(crate) mod handoff;
pub(crate) mod inbound;
pub(crate) mod metadata;
pub(crate) mod sink;

pub use adapters::CallConfig;
pub use chunk::{Chunk, ChunkReader, DEFAULT_CHUNK_SIZE};
pub use compression::{Compression, Encoding};
pub use context::{CallContext, EndReason};
pub use deadline::{GRPC_TIMEOUT_HEADER, parse_grpc_timeout};
pub use inbound::{InboundLimits, RequestStream};
pub use metadata::LateMetadata;
pub use sink::{ResponseSink, ResponseStream, SendError, SendPermit};

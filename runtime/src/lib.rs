//! The run-time half of rust-stream: what generated services and their handlers use.
//!
//! rust-stream generates, from a `.proto`, a handler trait per service whose methods are
//! shaped by their streaming pattern, and an adapter that runs them under guards
//! (cancellation, bounded backpressure, upload limits, deadlines, contained panics). This
//! crate is what those methods take and return. A handler method of a bidirectional RPC,
//! written against it and run here with the [`testing`] kit, as a unit test would:
//!
//! ```
//! use rust_stream::{CallContext, Code, EndReason, InboundLimits, RequestStream, ResponseSink};
//! use rust_stream::{Status, testing};
//!
//! // The guide's Chat: answer every message, for as long as the client sends.
//! async fn chat(
//!     ctx: CallContext,
//!     mut requests: RequestStream<String>,
//!     sink: ResponseSink<String>,
//! ) -> Result<(), Status> {
//!     while let Some(text) = requests.message().await? {
//!         if text.is_empty() {
//!             return Err(Status::invalid_argument("empty message"));
//!         }
//!         sink.send(format!("Delivered: {text}")).await?;
//!     }
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let ctx = testing::context("/streaming.StreamingExamples/Chat").build();
//! let requests = testing::requests(&ctx, InboundLimits::DEFAULT, ["hello".to_owned(), "world".to_owned()]);
//! let (sink, mut replies) = testing::response_sink(&ctx, 8);
//! testing::run(&ctx, chat(ctx.clone(), requests, sink)).await.unwrap();
//! assert_eq!(replies.next().await.unwrap().unwrap(), "Delivered: hello");
//! assert_eq!(replies.next().await.unwrap().unwrap(), "Delivered: world");
//! assert_eq!(ctx.end_reason(), Some(EndReason::Finished));
//!
//! let ctx = testing::context("/streaming.StreamingExamples/Chat").build();
//! let requests = testing::requests(&ctx, InboundLimits::DEFAULT, [String::new()]);
//! let (sink, _replies) = testing::response_sink(&ctx, 8);
//! let status = testing::run(&ctx, chat(ctx.clone(), requests, sink)).await.unwrap_err();
//! assert_eq!(status.code(), Code::InvalidArgument);
//! # }
//! ```
//!
//! In a service the generated trait's method has the same body, with `&self` and the
//! proto's messages; the guide (`docs/` in the repository) shows each pattern served over a
//! socket. The handler writer's API, all at this crate's root:
//!
//! - [`CallContext`]: the guide's `context`: [`is_active`](CallContext::is_active),
//!   [`cancelled`](CallContext::cancelled), time remaining, metadata, peer address, and the
//!   response's metadata ([`set_initial_metadata`](CallContext::set_initial_metadata),
//!   [`set_trailing_metadata`](CallContext::set_trailing_metadata)) and compression.
//! - Statuses in full: [`rich_status`] and [`status_details`] (`grpc-status-details-bin`);
//!   [`Compression`] per method in gzip or zstd.
//! - [`ResponseSink`]: bounded outbound stream for server-streaming and bidi handlers whose
//!   `send` fails promptly once the client is gone or the deadline passed.
//! - [`RequestStream`]: inbound stream with byte / message / idle limits and counters, and
//!   for chunk-shaped messages ([`Chunk`]) a bridge to `AsyncRead` / `AsyncWrite`.
//! - [`Tuning`]: one type with presets that configures both the client [`tonic::transport::Endpoint`] and
//!   the runtime's server ([`TunedServer`] / [`TunedRouter`]: tonic's routes on hyper, with
//!   safe limits, accept backoff, a handshake timeout and a shutdown that ends open streams).
//! - Client helpers: [`upload`] from any `AsyncRead` in 64 KiB chunks with progress,
//!   [`Responses`] for server streams (with their headers and trailers), [`Reply`] for a
//!   unary or client-streaming answer with its metadata, [`bidi`] for deadlock-free
//!   bidirectional calls.
//!
//! - [`StreamService`](trait@StreamService): a handler served as its gRPC service, with
//!   `serve` in one call; `#[derive(StreamService)]` (default `derive` feature) implements it
//!   from a `.proto` read at compile time.
//! - [`testing`]: the same request streams, sinks and contexts built in a plain
//!   `#[tokio::test]`, to unit-test handlers without a server.
//! - `client_cli` (feature `client-cli`, off by default): a whole command-line client for
//!   every method of an encoded `FileDescriptorSet`, driven by reflection (grpcurl-like:
//!   `list`, `call METHOD JSON` for all four patterns, uploads from a file), so a service's
//!   client binary is one line and never goes stale.
//! - Exposing a service: TLS and mTLS with rustls ([`ServerTls`] on
//!   [`TunedServer::tls`], certificates reloadable while serving; [`ClientTls`] on
//!   [`Tuning::connect_tls`]), the client's verified certificate in
//!   [`CallContext::peer_identity`], and an async auth hook ([`Auth`] on
//!   [`TunedServer::auth`]) that admits or refuses each call before its handler starts
//!   and before its body is read, handing the handler an [`Identity`]
//!   ([`CallContext::identity`]). `docs/production.md` in the repository walks through it.
//! - [`CallLayer`]: starts each call's clock when its headers arrive and tells a finished
//!   upload from an abandoned one ([`Tuning::server`] installs it).
//! - `Metrics` (feature `metrics`, off by default): gRFC A66's OpenTelemetry instruments
//!   (`grpc.server.call.duration`, `grpc.client.attempt.started`, ...) and the runtime's own
//!   (`rust_stream.server.call.ended` by end reason, messages per call, time a streaming
//!   handler waited for a slow client), for a server (`TunedServer::with_metrics`) and for
//!   client channels (`Metrics::channel`), from the `MeterProvider` you export with.
//!   Without the feature no OpenTelemetry crate is built and no call pays for it;
//!   `docs/metrics.md` lists every instrument and shows OTLP and Prometheus export.
//!
//! Handlers are run by the runtime's adapters, which generated code calls: they enforce
//! `grpc-timeout` for the whole call with `DEADLINE_EXCEEDED`, drop a streaming handler as
//! soon as its client goes away, and turn a handler panic into `INTERNAL` for that call only.
//! Everything generated code uses is in `codegen`, hidden from these docs: it is not for
//! handlers, which need only the items here (tonic's [`Status`], [`Code`] and metadata types
//! included).
//!
//! The source follows the same split: `server/` (serving services), `call/` (one call as a
//! handler sees it), `client/` (calling services) and `testing/` (handlers without a server),
//! each with a module doc saying what it takes and gives.

mod call;
mod client;
#[doc(hidden)]
pub mod codegen;
#[cfg(feature = "metrics")]
mod metrics;
mod server;
mod status;
pub mod testing;
mod tuning;

pub use call::{
    CallConfig, CallContext, Chunk, ChunkReader, Compression, DEFAULT_CHUNK_SIZE, Encoding,
    EndReason, GRPC_TIMEOUT_HEADER, InboundLimits, LateMetadata, RequestStream, ResponseSink,
    SendError, SendPermit, parse_grpc_timeout,
};
#[cfg(feature = "client-cli")]
pub use client::cli as client_cli;
pub use client::{
    BoxError, ClientChannel, ClientFuture, ClientTls, DEFAULT_RE_RESOLVE_INTERVAL, DnsResolver,
    Fleet, FleetChannel, FleetError, FleetFuture, ManualResolver, OutgoingRequests, Progress,
    Reply, Requests, Resolve, ResolveFuture, Responses, RetryBudget, RetryPolicy, StaticResolver,
    Target, TargetError, UploadChunks, UploadError, bidi, code_name, status_line, upload,
};
#[cfg(feature = "metrics")]
pub use metrics::{MeteredChannel, MeteredFuture, Metrics};
/// Google's well-known types (`Timestamp`, `Duration`, `Any`, `Struct`, ...), the very types
/// generated code uses: a handler names them from here without a `prost-types` dependency of
/// its own.
pub use prost_types;
/// The certificate and key types [`ServerTls::new`] and [`ServerTls::reload`] take, and
/// [`PeerIdentity::chain`] gives (rustls's).
pub use rustls_pki_types::{CertificateDer, PrivateKeyDer};
pub use server::{
    ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN, Auth, AuthCall, AuthLayer, AuthService, CallFuture,
    CallLayer, CallService, DEFAULT_SHUTDOWN_GRACE, Denied, GrpcStatusLayer, GrpcStatusService,
    Identity, PeerIdentity, RequestGuard, ServerTls, StreamService, TlsError, TunedRouter,
    TunedServer,
};
pub use status::{RpcStatus, rich_status, status_details};
/// tonic's metadata types, which [`CallContext`] and [`Reply`] carry.
pub use tonic::metadata::{MetadataMap, MetadataValue};
/// tonic's status, which every handler returns on failure, its code, and the request a
/// generated client's `*_with_metadata` methods take.
pub use tonic::{Code, Request, Status};
pub use tuning::{TCP_KEEPALIVE_INTERVAL, TCP_KEEPALIVE_RETRIES, Tuning};

/// `#[derive(StreamService)]`: implements the [`StreamService`](trait@StreamService) trait
/// for a handler struct from a `.proto` read at compile time, with no build script. Keys of
/// `#[stream_service(..)]`: `proto` (a file, or a directory of protos) and `include` (relative
/// to `CARGO_MANIFEST_DIR`, repeatable), `service`, `module`, `crate`, `serve = false` (the
/// code only, nothing served), and the generator's parameters by their plugin names
/// (`tuning`, `buffer`, `extern_path`, ...); the guide's front-end page (`docs/front-ends.md`)
/// has the details.
#[cfg(feature = "derive")]
pub use rust_stream_macros::StreamService;

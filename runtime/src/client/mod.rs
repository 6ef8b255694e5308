//! The client side: calling a service through its generated client.
//!
//! Takes a tonic channel (from [`Tuning::connect`](crate::Tuning::connect), or over TLS
//! [`Tuning::connect_tls`](crate::Tuning::connect_tls) with a [`ClientTls`]) or a call's
//! response; gives [`Responses`] for server streams (with their headers and trailers),
//! [`Reply`] for a unary or client-streaming answer with its metadata, [`bidi`] for
//! bidirectional calls that never deadlock against a server that sends headers late,
//! [`upload`] from any `AsyncRead` in chunks with progress, and [`status_line`] to print a
//! failed call the way gRPC's tools do. `client_cli` (feature `client-cli`) is a whole
//! command-line client driven by a descriptor set. What only generated clients call lives
//! in `glue`, reached through `codegen`.

mod channel;
#[cfg(feature = "client-cli")]
pub mod cli;
mod direct;
mod fleet;
pub(crate) mod glue;
mod status_text;
mod streams;
mod tls;
pub(crate) mod upload;

pub use channel::{ClientChannel, ClientFuture};
pub use fleet::{
    BoxError, DEFAULT_RE_RESOLVE_INTERVAL, DnsResolver, Fleet, FleetChannel, FleetError,
    FleetFuture, ManualResolver, Resolve, ResolveFuture, RetryBudget, RetryPolicy, StaticResolver,
    Target, TargetError,
};
pub use status_text::{code_name, status_line};
pub use streams::{OutgoingRequests, Reply, Requests, Responses, bidi};
pub use tls::ClientTls;
pub use upload::{Progress, UploadChunks, UploadError, upload};

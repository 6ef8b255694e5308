//! The server side: what turns generated services into a running server.
//!
//! Takes tonic's routes (each generated service, or any tower service with a name) and a
//! [`Tuning`](crate::Tuning); gives [`TunedServer`] / [`TunedRouter`], which serve them over
//! hyper from an accept loop the runtime owns, with accept backoff, a handshake timeout,
//! bounded send buffers, a shutdown that ends open calls and streams, TLS and mTLS
//! ([`ServerTls`]) and an async auth hook ([`Auth`]). The layers every
//! request passes ([`CallLayer`]: each call's clock and how its body ended;
//! [`GrpcStatusLayer`]: the spec's status codes where tonic's differ) are usable on tonic's
//! own `Server` too. [`StreamService`](trait@StreamService) serves one handler in one call.

pub(crate) mod auth;
pub(crate) mod budget;
pub(crate) mod call_layer;
mod gate;
mod overload;
mod router;
mod service;
pub(crate) mod shutdown;
mod socket;
pub(crate) mod status_layer;
pub(crate) mod tls;
mod wrapping;

pub use auth::{Auth, AuthCall, AuthLayer, AuthService, Denied, Identity};
pub use call_layer::{CallFuture, CallLayer, CallService};
pub use router::{
    ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN, DEFAULT_SHUTDOWN_GRACE, TunedRouter, TunedServer,
};
pub use service::StreamService;
pub use status_layer::{GrpcStatusLayer, GrpcStatusService, RequestGuard};
pub use tls::{PeerIdentity, ServerTls, TlsError};

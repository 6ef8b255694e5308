//! A client over a fleet of replicas: one target name resolving to many addresses, a tuned
//! connection to each, calls balanced round robin, re-resolution, and retries where they
//! are safe (gRFC A6).
//!
//! - [`Target`] parses gRPC's naming (`dns:///host:port`, `ipv4:a:p,b:p`, `ipv6:[a]:p`, or a
//!   plain `http(s)://host:port`); a [`Resolve`] turns it into addresses ([`DnsResolver`],
//!   [`StaticResolver`], or a [`ManualResolver`] your own discovery, or a test, updates).
//! - [`Fleet`] builds a [`FleetChannel`] with a [`Tuning`], optional [`ClientTls`] and a
//!   [`RetryBudget`]; [`Tuning::fleet`] starts one from a target.
//! - [`RetryPolicy`] says which failures of a method are retried; generated clients attach
//!   the proto's policy to each call (idempotent methods, or `(rust_stream.method).retry`).
//!   Calls the server never saw are retried transparently, whatever the method.

mod balancer;
mod classify;
mod replay;
mod resolve;
mod retry;
mod target;
#[cfg(test)]
mod tests;

pub use resolve::{DnsResolver, ManualResolver, Resolve, ResolveFuture, StaticResolver};
pub use retry::{RetryBudget, RetryPolicy};
pub use target::{Target, TargetError};

use crate::client::ClientTls;
use crate::tuning::Tuning;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::body::Body;
use tower_service::Service;

/// The error type of the client channels: what a call failed with before it had a
/// response (a `tonic::Status` when the fleet gave up, a transport error otherwise).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How often a fleet re-resolves its target when nothing failed: 30 s, the floor gRPC's DNS
/// resolvers keep between resolutions. A connection failure re-resolves at once.
pub const DEFAULT_RE_RESOLVE_INTERVAL: Duration = Duration::from_secs(30);

/// Builds a [`FleetChannel`]: where the replicas are ([`Resolve`]), how to connect to each
/// ([`Tuning`], [`ClientTls`]) and how much retrying the whole client may do
/// ([`RetryBudget`]).
#[derive(Clone)]
pub struct Fleet {
    resolver: Arc<dyn Resolve>,
    /// `https` when the target said so or TLS was set.
    tls: Option<ClientTls>,
    tuning: Tuning,
    re_resolve_every: Duration,
    budget: RetryBudget,
    /// The name calls carry as `:authority` (and TLS verifies, unless `ClientTls` names
    /// another): the target's host.
    authority: String,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("authority", &self.authority)
            .field("tls", &self.tls.is_some())
            .field("tuning", &self.tuning)
            .field("re_resolve_every", &self.re_resolve_every)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// A fleet for `target` (see [`Target`]) with [`Tuning::BALANCED`]; an `https://`
    /// target connects over TLS trusting the platform's roots until [`tls`](Self::tls)
    /// says otherwise.
    pub fn new(target: &str) -> Result<Fleet, TargetError> {
        let target: Target = target.parse()?;
        let fleet = Fleet::with_resolver(target.authority(), target.resolver());
        Ok(match target.is_tls() {
            true => fleet.tls(ClientTls::native_roots()),
            false => fleet,
        })
    }

    /// A fleet whose addresses `resolver` gives; `authority` (`host[:port]`) is the name
    /// calls carry as `:authority` and TLS verifies (its host), whichever replica they go to.
    pub fn with_resolver(authority: impl Into<String>, resolver: impl Resolve) -> Fleet {
        Fleet {
            resolver: Arc::new(resolver),
            tls: None,
            tuning: Tuning::BALANCED,
            re_resolve_every: DEFAULT_RE_RESOLVE_INTERVAL,
            budget: RetryBudget::DEFAULT,
            authority: authority.into(),
        }
    }

    /// Connects to every replica with `tuning` (windows, keepalive, timeouts, message size).
    pub fn tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Connects to every replica over TLS with `tls`, verifying the fleet's host unless
    /// [`ClientTls::domain_name`] names another.
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Re-resolves the target this often when nothing failed (default
    /// [`DEFAULT_RE_RESOLVE_INTERVAL`]).
    pub fn re_resolve_every(mut self, interval: Duration) -> Self {
        self.re_resolve_every = interval;
        self
    }

    /// Bounds the retries of the whole channel (default [`RetryBudget::DEFAULT`]).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Resolves the target and connects to all its replicas at once; succeeds as soon as
    /// those attempts are over if at least one replica connected (the others are retried in
    /// the background). Fails when the target resolves to no address, or no replica accepts
    /// a connection within the tuning's connect timeout.
    pub async fn connect(self) -> Result<FleetChannel, FleetError> {
        let balanced = balancer::Balanced::connect(self.balancer_config()).await?;
        Ok(FleetChannel::new(balanced, self.budget))
    }

    /// As [`connect`](Self::connect), without waiting: the target is resolved and its
    /// replicas connected in the background, and calls wait for a connected replica up to
    /// the connect timeout (or their deadline, if sooner). Must be called within a Tokio
    /// runtime.
    pub fn connect_lazy(self) -> FleetChannel {
        let balanced = balancer::Balanced::connect_lazy(self.balancer_config());
        FleetChannel::new(balanced, self.budget)
    }

    fn balancer_config(&self) -> balancer::Config {
        balancer::Config {
            resolver: Arc::clone(&self.resolver),
            tls: self.tls.clone(),
            tuning: self.tuning.clone(),
            re_resolve_every: self.re_resolve_every,
            authority: self.authority.clone(),
        }
    }
}

impl Tuning {
    /// A [`Fleet`] for `target` (`dns:///host:port`, `ipv4:a:p,b:p`, ...) with these
    /// settings on every connection.
    pub fn fleet(&self, target: &str) -> Result<Fleet, TargetError> {
        Ok(Fleet::new(target)?.tuning(self.clone()))
    }
}

/// Why a [`Fleet`] could not connect.
#[derive(Debug)]
pub enum FleetError {
    /// The target is not one [`Target`] understands (generated clients' `connect_fleet`
    /// parses it and connects in one step).
    Target(TargetError),
    /// The target resolved to no address, or resolving it failed.
    Resolve(std::io::Error),
    /// No replica accepted a connection; the last replica's error.
    Connect(BoxError),
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Transparent: the target's error already names it and what is wrong.
            FleetError::Target(error) => std::fmt::Display::fmt(error, f),
            FleetError::Resolve(error) => write!(f, "could not resolve the target: {error}"),
            FleetError::Connect(error) => write!(f, "no replica accepted a connection: {error}"),
        }
    }
}

impl std::error::Error for FleetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FleetError::Target(error) => error.source(),
            FleetError::Resolve(error) => Some(error),
            FleetError::Connect(error) => Some(error.as_ref()),
        }
    }
}

impl From<TargetError> for FleetError {
    fn from(error: TargetError) -> Self {
        FleetError::Target(error)
    }
}

/// A channel over every replica a [`Fleet`] resolved: calls go round robin to the
/// connected ones, and fail over and retry as [`RetryPolicy`] and [`RetryBudget`] allow.
/// Cheap to clone; clones share the connections and the budget.
#[derive(Clone, Debug)]
pub struct FleetChannel {
    retrying: retry::Retrying<balancer::Balanced>,
}

impl FleetChannel {
    fn new(balanced: balancer::Balanced, budget: RetryBudget) -> Self {
        FleetChannel {
            retrying: retry::Retrying::new(balanced, budget),
        }
    }

    /// The addresses the channel has now, with whether each is connected.
    pub fn replicas(&self) -> Vec<(SocketAddr, bool)> {
        self.retrying.attempts().replicas()
    }
}

impl Service<http::Request<Body>> for FleetChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = FleetFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is per replica, decided when the call picks one.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        FleetFuture {
            inner: Box::pin(self.retrying.call(request)),
        }
    }
}

/// The response future of [`FleetChannel`].
pub struct FleetFuture {
    inner: Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>,
}

impl std::fmt::Debug for FleetFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetFuture").finish_non_exhaustive()
    }
}

impl Future for FleetFuture {
    type Output = Result<http::Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

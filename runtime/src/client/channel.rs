//! The channel a generated stream client calls through: a plain tonic channel, a
//! [`FleetChannel`] over many replicas, or (feature `metrics`) either of them with gRFC
//! A66's client metrics recording every call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::transport::channel::ResponseFuture;
use tower_service::Service;

use super::fleet::{BoxError, FleetChannel, FleetFuture};

#[cfg(feature = "metrics")]
use crate::metrics::{MeteredChannel, MeteredFuture};

/// The channel a generated `*StreamClient` calls through. Made from a `Channel` (as
/// [`Tuning::connect`](crate::Tuning::connect) returns), a [`FleetChannel`] (as
/// [`Fleet::connect`](crate::Fleet::connect) returns) or, with the `metrics` feature, from
/// a [`MeteredChannel`] of either (as [`Metrics::channel`](crate::Metrics::channel)
/// returns), so `Client::from_channel(metrics.channel(channel, target))` records every call
/// the client makes. Cheap to clone, like the channel it holds.
#[derive(Clone, Debug)]
pub struct ClientChannel {
    inner: Inner,
}

/// Which channel calls go through; matched once per call rather than boxed.
#[derive(Clone, Debug)]
enum Inner {
    Plain(Channel),
    Fleet(FleetChannel),
    #[cfg(feature = "metrics")]
    Metered(MeteredChannel<Channel>),
    #[cfg(feature = "metrics")]
    MeteredFleet(MeteredChannel<FleetChannel>),
}

impl From<Channel> for ClientChannel {
    fn from(channel: Channel) -> Self {
        ClientChannel {
            inner: Inner::Plain(channel),
        }
    }
}

impl From<FleetChannel> for ClientChannel {
    fn from(channel: FleetChannel) -> Self {
        ClientChannel {
            inner: Inner::Fleet(channel),
        }
    }
}

#[cfg(feature = "metrics")]
impl From<MeteredChannel<FleetChannel>> for ClientChannel {
    fn from(channel: MeteredChannel<FleetChannel>) -> Self {
        ClientChannel {
            inner: Inner::MeteredFleet(channel),
        }
    }
}

#[cfg(feature = "metrics")]
impl From<MeteredChannel<Channel>> for ClientChannel {
    fn from(channel: MeteredChannel<Channel>) -> Self {
        ClientChannel {
            inner: Inner::Metered(channel),
        }
    }
}

impl Service<http::Request<Body>> for ClientChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ClientFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.inner {
            Inner::Plain(channel) => channel.poll_ready(cx).map_err(Into::into),
            Inner::Fleet(channel) => channel.poll_ready(cx),
            #[cfg(feature = "metrics")]
            Inner::Metered(channel) => channel.poll_ready(cx).map_err(Into::into),
            #[cfg(feature = "metrics")]
            Inner::MeteredFleet(channel) => channel.poll_ready(cx),
        }
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        super::direct::send_directly(&mut request);
        let inner = match &mut self.inner {
            Inner::Plain(channel) => FutureInner::Plain(channel.call(request)),
            Inner::Fleet(channel) => FutureInner::Fleet(channel.call(request)),
            #[cfg(feature = "metrics")]
            Inner::Metered(channel) => FutureInner::Metered(channel.call(request)),
            #[cfg(feature = "metrics")]
            Inner::MeteredFleet(channel) => FutureInner::MeteredFleet(channel.call(request)),
        };
        ClientFuture { inner }
    }
}

/// The response future of [`ClientChannel`].
pub struct ClientFuture {
    inner: FutureInner,
}

// Every future is `Unpin` (tonic's and the fleet's box their inner future), so no pin projection is needed.
enum FutureInner {
    Plain(ResponseFuture),
    Fleet(FleetFuture),
    #[cfg(feature = "metrics")]
    Metered(MeteredFuture<ResponseFuture>),
    #[cfg(feature = "metrics")]
    MeteredFleet(MeteredFuture<FleetFuture>),
}

impl std::fmt::Debug for ClientFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientFuture").finish_non_exhaustive()
    }
}

impl Future for ClientFuture {
    type Output = Result<http::Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            FutureInner::Plain(future) => Pin::new(future).poll(cx).map_err(Into::into),
            FutureInner::Fleet(future) => Pin::new(future).poll(cx),
            #[cfg(feature = "metrics")]
            FutureInner::Metered(future) => Pin::new(future).poll(cx).map_err(Into::into),
            #[cfg(feature = "metrics")]
            FutureInner::MeteredFleet(future) => Pin::new(future).poll(cx),
        }
    }
}

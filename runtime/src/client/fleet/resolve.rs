//! Resolvers: where a target's replicas are now. A trait rather than DNS alone, so that a
//! service registry of your own (or a test) can steer a fleet through [`ManualResolver`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

/// What [`Resolve::resolve`] returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Gives a fleet's addresses; asked again periodically and after connection failures.
/// Addresses missing from an answer are dropped (their open calls finish first). An error
/// or an empty answer keeps the addresses the fleet has: a failing resolver should not take
/// a working fleet down.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses now.
    fn resolve(&self) -> ResolveFuture;
}

/// The same addresses every time (`ipv4:` and `ipv6:` targets).
#[derive(Clone, Debug)]
pub struct StaticResolver {
    addresses: Vec<SocketAddr>,
}

impl StaticResolver {
    /// Always answers `addresses`.
    pub fn new(addresses: Vec<SocketAddr>) -> Self {
        StaticResolver { addresses }
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self) -> ResolveFuture {
        let addresses = self.addresses.clone();
        Box::pin(async move { Ok(addresses) })
    }
}

/// DNS (`dns:///host:port`): every A and AAAA record of `host`, with `port` (an IP
/// address as the host resolves to itself).
#[derive(Clone, Debug)]
pub struct DnsResolver {
    host: String,
    port: u16,
}

impl DnsResolver {
    /// Resolves `host` and pairs every address with `port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        DnsResolver {
            host: host.into(),
            port,
        }
    }
}

impl Resolve for DnsResolver {
    fn resolve(&self) -> ResolveFuture {
        let (host, port) = (self.host.clone(), self.port);
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Addresses your code sets ([`ManualResolver::set`]): for a discovery system of your own,
/// or a test. Clones share the addresses:
/// keep one, give the fleet another, and the fleet follows the next resolution.
#[derive(Clone, Debug, Default)]
pub struct ManualResolver {
    addresses: std::sync::Arc<std::sync::Mutex<Vec<SocketAddr>>>,
}

impl ManualResolver {
    /// A resolver answering `addresses` until [`set`](Self::set) changes them.
    pub fn new(addresses: Vec<SocketAddr>) -> Self {
        ManualResolver {
            addresses: std::sync::Arc::new(std::sync::Mutex::new(addresses)),
        }
    }

    /// Answers `addresses` from now on.
    pub fn set(&self, addresses: Vec<SocketAddr>) {
        *self.addresses.lock().unwrap_or_else(|p| p.into_inner()) = addresses;
    }
}

impl Resolve for ManualResolver {
    fn resolve(&self) -> ResolveFuture {
        let addresses = self
            .addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Box::pin(async move { Ok(addresses) })
    }
}

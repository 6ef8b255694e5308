//! Replicas and round robin: a tuned connection to every address the resolver gives,
//! re-resolution on a timer and after failures, and the pick of the next connected replica
//! for each attempt.
//!
//! Each address has a task of its own that connects, publishes the connection to the list
//! picks read, and after an attempt finds the connection dead reconnects with backoff. The
//! list is a `watch` channel so that an attempt finding no replica connected can wait for
//! one instead of failing at once. Every task stops when the last clone of the channel is
//! dropped ([`Tasks`]), so a dropped client leaves nothing running.

use super::classify::{NotSent, chain, describe};
use super::retry::{Attempt, Attempts};
use super::{BoxError, FleetError, Resolve};
use crate::call::deadline::request_timeout;
use crate::client::ClientTls;
use crate::tuning::Tuning;
use std::collections::HashMap;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower_service::Service;

/// Fewest time between two resolutions, however many connections fail: one a second, so a
/// fleet whose replicas all refuse does not hammer its DNS server.
const MIN_RE_RESOLVE_INTERVAL: Duration = Duration::from_secs(1);
/// The pause after a replica's first failed reconnection, doubled after each further one
/// (gRPC's connection backoff starts there too).
const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// The longest pause between reconnections to one replica (gRPC's).
const BACKOFF_MAX: Duration = Duration::from_secs(120);

/// What the balancer needs from the [`Fleet`](super::Fleet).
pub(crate) struct Config {
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) tls: Option<ClientTls>,
    pub(crate) tuning: Tuning,
    pub(crate) re_resolve_every: Duration,
    pub(crate) authority: String,
}

/// The replicas of one fleet; clones share them.
#[derive(Clone)]
pub(crate) struct Balanced {
    shared: Arc<Shared>,
    _tasks: Arc<Tasks>,
}

impl std::fmt::Debug for Balanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balanced")
            .field("authority", &self.shared.config.authority)
            .field("replicas", &self.replicas())
            .finish()
    }
}

/// A connected replica, as picks see it.
#[derive(Clone)]
struct Ready {
    addr: SocketAddr,
    /// Tells this connection from a later one to the same address, so that a failure seen
    /// on an old connection does not unpublish its successor.
    id: u64,
    channel: Channel,
}

/// An address the fleet has, and the task that keeps it connected.
struct Member {
    /// Tells this member's task from one a later resolution starts for the same address.
    generation: u64,
    task: AbortHandle,
    /// Wakes the task to reconnect after an attempt found its connection dead.
    failed: Arc<Notify>,
}

/// How a member's task begins.
enum Start {
    /// With a connection made while the fleet connected, published at once so that
    /// `connect` returns a channel with its replicas in the picks.
    Connected(Channel),
    /// With a pause: its first connection already failed.
    Failed,
    /// By connecting.
    Fresh,
}

/// What the channel's clones, its attempts and its tasks share.
struct Shared {
    config: Config,
    /// The connected replicas, in the order picks go round.
    ready: watch::Sender<Arc<Vec<Ready>>>,
    /// The round robin's position.
    next: AtomicUsize,
    /// Ids of connections and generations of members.
    ids: AtomicU64,
    /// Every address of the last resolution; `None` once the channel is dropped.
    members: Mutex<Option<HashMap<SocketAddr, Member>>>,
    /// Asks the resolver task for a resolution now (rate-limited).
    resolve_now: Notify,
}

/// Stops every task of a fleet when the last clone of its channel goes.
struct Tasks {
    shared: Arc<Shared>,
    resolver: AbortHandle,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.resolver.abort();
        let members = self.shared.members().take();
        members
            .into_iter()
            .flatten()
            .for_each(|(_, m)| m.task.abort());
        self.shared.ready.send_replace(Arc::new(Vec::new()));
    }
}

impl Balanced {
    /// Resolves, connects to every address at once, and starts the background tasks if at
    /// least one replica connected.
    pub(crate) async fn connect(config: Config) -> Result<Balanced, FleetError> {
        let shared = Shared::new(config);
        let addrs = shared.resolve().await.map_err(FleetError::Resolve)?;
        let connecting = addrs.iter().map(|addr| shared.connect_replica(*addr));
        let results = futures_util::future::join_all(connecting).await;
        let mut last_error = None;
        let starts: Vec<_> = addrs
            .into_iter()
            .zip(results)
            .map(|(addr, result)| match result {
                Ok(channel) => (addr, Start::Connected(channel)),
                Err(error) => {
                    last_error = Some(error);
                    (addr, Start::Failed)
                }
            })
            .collect();
        if !starts.iter().any(|(_, s)| matches!(s, Start::Connected(_))) {
            let error = last_error.unwrap_or_else(|| "no address".into());
            return Err(FleetError::Connect(error));
        }
        Ok(Balanced::start(shared, starts))
    }

    /// Starts the background tasks; the first resolution happens at once, in the
    /// background. Needs a Tokio runtime.
    pub(crate) fn connect_lazy(config: Config) -> Balanced {
        Balanced::start(Shared::new(config), Vec::new())
    }

    fn start(shared: Arc<Shared>, starts: Vec<(SocketAddr, Start)>) -> Balanced {
        let resolve_first = starts.is_empty();
        for (addr, start) in starts {
            shared.add_member(addr, start);
        }
        let resolver = tokio::spawn(Arc::clone(&shared).run_resolver(resolve_first));
        let tasks = Tasks {
            shared: Arc::clone(&shared),
            resolver: resolver.abort_handle(),
        };
        Balanced {
            shared,
            _tasks: Arc::new(tasks),
        }
    }

    /// Every address of the last resolution, with whether it is connected now.
    pub(crate) fn replicas(&self) -> Vec<(SocketAddr, bool)> {
        let ready = self.shared.ready.borrow().clone();
        let mut replicas: Vec<_> = self
            .shared
            .members()
            .iter()
            .flatten()
            .map(|(addr, _)| (*addr, ready.iter().any(|r| r.addr == *addr)))
            .collect();
        replicas.sort();
        replicas
    }
}

impl Attempts for Balanced {
    fn attempt(
        &self,
        request: http::Request<Body>,
        avoid: Option<SocketAddr>,
    ) -> impl std::future::Future<Output = Attempt> + Send + 'static {
        Arc::clone(&self.shared).attempt(request, avoid)
    }

    fn replica_count(&self) -> usize {
        self.replicas().len().max(1)
    }
}

impl Shared {
    fn new(config: Config) -> Arc<Shared> {
        Arc::new(Shared {
            config,
            ready: watch::Sender::new(Arc::new(Vec::new())),
            next: AtomicUsize::new(0),
            ids: AtomicU64::new(0),
            members: Mutex::new(Some(HashMap::new())),
            resolve_now: Notify::new(),
        })
    }

    fn members(&self) -> MutexGuard<'_, Option<HashMap<SocketAddr, Member>>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// One attempt: the next connected replica (waiting for one within the connect timeout
    /// or the call's deadline), then the request on it.
    async fn attempt(
        self: Arc<Self>,
        request: http::Request<Body>,
        avoid: Option<SocketAddr>,
    ) -> Attempt {
        let wait = self.wait_limit(&request);
        let Some(ready) = self.pick_or_wait(avoid, wait).await else {
            let error = format!(
                "no replica of {} is connected (waited {wait:?})",
                self.config.authority
            );
            return Attempt {
                replica: None,
                result: Err(Box::new(NotSent(error.into()))),
            };
        };
        let result = self.send(&ready, request).await;
        Attempt {
            replica: Some(ready.addr),
            result,
        }
    }

    /// How long an attempt waits for a connected replica: the connect timeout, or what is
    /// left of the call's `grpc-timeout` if that is sooner.
    fn wait_limit(&self, request: &http::Request<Body>) -> Duration {
        let deadline = request_timeout(request.headers());
        let connect = self.config.tuning.connect_timeout;
        deadline.map_or(connect, |deadline| deadline.min(connect))
    }

    async fn pick_or_wait(&self, avoid: Option<SocketAddr>, wait: Duration) -> Option<Ready> {
        let mut ready = self.ready.subscribe();
        let connected = tokio::time::timeout(wait, ready.wait_for(|list| !list.is_empty()));
        let list = Arc::clone(&*connected.await.ok()?.ok()?);
        Some(self.pick(&list, avoid))
    }

    /// The next replica of `list` (not empty) round robin, skipping `avoid` when another
    /// one is there.
    fn pick(&self, list: &[Ready], avoid: Option<SocketAddr>) -> Ready {
        let mut at = self.next.fetch_add(1, Ordering::Relaxed) % list.len();
        if list.len() > 1 && Some(list[at].addr) == avoid {
            at = (at + 1) % list.len();
        }
        list[at].clone()
    }

    /// Sends `request` on `ready`'s connection. A connection found dead marks the replica
    /// failing; if it died before the request left, the error is [`NotSent`].
    async fn send(
        &self,
        ready: &Ready,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, BoxError> {
        let mut channel = ready.channel.clone();
        // tonic's channel is a buffer: a request may only be given once it has room.
        if let Err(error) = std::future::poll_fn(|cx| channel.poll_ready(cx)).await {
            self.mark_failing(ready);
            return Err(not_sent(ready.addr, error.into()));
        }
        let error: BoxError = match channel.call(request).await {
            Ok(response) => return Ok(response),
            Err(error) => error.into(),
        };
        if is_connect_error(error.as_ref()) {
            self.mark_failing(ready);
            return Err(not_sent(ready.addr, error));
        }
        if is_connection_lost(error.as_ref()) {
            self.mark_failing(ready);
        }
        Err(error)
    }

    /// Takes `ready`'s connection out of the picks, has its task reconnect and the target
    /// re-resolved (the replica may have moved). Once per connection, however many
    /// attempts failed on it.
    fn mark_failing(&self, ready: &Ready) {
        let removed = self.ready.send_if_modified(|list| {
            let before = list.len();
            let kept: Vec<_> = list.iter().filter(|r| r.id != ready.id).cloned().collect();
            *list = Arc::new(kept);
            list.len() != before
        });
        if !removed {
            return;
        }
        #[cfg(feature = "tracing")]
        tracing::debug!(replica = %ready.addr, "fleet replica failing, reconnecting");
        if let Some(member) = self
            .members()
            .iter()
            .flatten()
            .find(|(a, _)| **a == ready.addr)
        {
            member.1.failed.notify_one();
        }
        self.resolve_now.notify_one();
    }

    /// The endpoint of the replica at `addr`: its address in the URI (that is where tonic
    /// connects), the fleet's name as `:authority` and as the TLS name.
    fn endpoint(&self, addr: SocketAddr) -> Result<Endpoint, BoxError> {
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let authority = &self.config.authority;
        let origin: http::Uri = format!("{scheme}://{authority}")
            .parse()
            .map_err(|e| format!("`{authority}` is not a valid authority: {e}"))?;
        let endpoint = self
            .config
            .tuning
            .endpoint(format!("{scheme}://{addr}"))?
            .origin(origin.clone());
        let Some(tls) = &self.config.tls else {
            return Ok(endpoint);
        };
        let host = origin.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(endpoint.tls_config(tls.config_for_host(host))?)
    }

    /// A connection to the replica at `addr`; the error names the address.
    async fn connect_replica(&self, addr: SocketAddr) -> Result<Channel, BoxError> {
        let connected = match self.endpoint(addr) {
            Ok(endpoint) => endpoint.connect().await.map_err(BoxError::from),
            Err(error) => Err(error),
        };
        connected.map_err(|source| Box::new(ReplicaError { addr, source }) as BoxError)
    }

    /// The resolver's addresses, without duplicates, in its order; none is an error.
    async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        let mut addrs = self.config.resolver.resolve().await?;
        let mut seen = std::collections::HashSet::new();
        addrs.retain(|addr| seen.insert(*addr));
        if addrs.is_empty() {
            let authority = &self.config.authority;
            return Err(std::io::Error::other(format!(
                "{authority} resolved to no address"
            )));
        }
        Ok(addrs)
    }

    /// Re-resolves every `re_resolve_every`, and at once (rate-limited) when asked.
    async fn run_resolver(self: Arc<Self>, resolve_first: bool) {
        let mut earliest = Instant::now();
        let mut wait = if resolve_first {
            Duration::ZERO
        } else {
            self.config.re_resolve_every
        };
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.resolve_now.notified() => {}
            }
            tokio::time::sleep_until(earliest).await;
            earliest = Instant::now() + MIN_RE_RESOLVE_INTERVAL;
            // A failed resolution is tried again soon: the fleet may have nothing else.
            wait = match self.resolve().await {
                Ok(addrs) => {
                    self.apply(&addrs);
                    self.config.re_resolve_every
                }
                Err(_) => MIN_RE_RESOLVE_INTERVAL,
            };
        }
    }

    /// Drops the members `addrs` no longer has (their open calls finish on their own
    /// clones of the connection) and starts one for every new address.
    fn apply(self: &Arc<Self>, addrs: &[SocketAddr]) {
        let gone: Vec<SocketAddr> = {
            let mut members = self.members();
            let Some(members) = members.as_mut() else {
                return;
            };
            let gone: Vec<_> = members
                .keys()
                .filter(|addr| !addrs.contains(addr))
                .copied()
                .collect();
            for addr in &gone {
                if let Some(member) = members.remove(addr) {
                    member.task.abort();
                }
            }
            gone
        };
        self.ready.send_if_modified(|list| {
            let before = list.len();
            *list = Arc::new(
                list.iter()
                    .filter(|r| !gone.contains(&r.addr))
                    .cloned()
                    .collect(),
            );
            list.len() != before
        });
        #[cfg(feature = "tracing")]
        if !gone.is_empty() {
            tracing::debug!(?gone, "fleet replicas left the resolution");
        }
        for addr in addrs {
            self.add_member(*addr, Start::Fresh);
        }
    }

    /// Starts the task of a new address (nothing if the fleet has it, or is dropped).
    fn add_member(self: &Arc<Self>, addr: SocketAddr, start: Start) {
        let mut members = self.members();
        let Some(members) = members.as_mut() else {
            return;
        };
        if members.contains_key(&addr) {
            return;
        }
        let generation = self.next_id();
        let failed = Arc::new(Notify::new());
        let published = match &start {
            Start::Connected(channel) => Some(channel.clone()),
            _ => None,
        };
        let task =
            tokio::spawn(Arc::clone(self).run_member(addr, generation, Arc::clone(&failed), start));
        let task = task.abort_handle();
        members.insert(
            addr,
            Member {
                generation,
                task,
                failed,
            },
        );
        if let Some(channel) = published {
            self.publish_locked(addr, channel);
        }
    }

    /// Keeps the replica at `addr` connected: publishes each connection, waits until an
    /// attempt finds it dead, reconnects at once and then with backoff.
    async fn run_member(
        self: Arc<Self>,
        addr: SocketAddr,
        generation: u64,
        failed: Arc<Notify>,
        start: Start,
    ) {
        let mut backoff = Backoff::default();
        match start {
            Start::Connected(channel) => {
                // Published by `add_member`; this copy must not keep the connection alive.
                drop(channel);
                failed.notified().await;
            }
            Start::Failed => tokio::time::sleep(backoff.next()).await,
            Start::Fresh => {}
        }
        loop {
            let Ok(channel) = self.connect_replica(addr).await else {
                self.resolve_now.notify_one();
                tokio::time::sleep(backoff.next()).await;
                continue;
            };
            backoff = Backoff::default();
            if !self.publish(addr, generation, channel) {
                return;
            }
            failed.notified().await;
        }
    }

    /// Adds a connection to the picks, if its member is still the fleet's.
    fn publish(&self, addr: SocketAddr, generation: u64, channel: Channel) -> bool {
        let members = self.members();
        let current = members
            .iter()
            .flatten()
            .any(|(a, m)| *a == addr && m.generation == generation);
        if current {
            self.publish_locked(addr, channel);
        }
        current
    }

    /// Adds a connection to the picks; the caller holds the members' lock and knows the
    /// member is the fleet's.
    fn publish_locked(&self, addr: SocketAddr, channel: Channel) {
        let ready = Ready {
            addr,
            id: self.next_id(),
            channel,
        };
        self.ready.send_modify(|list| {
            let mut grown = list.to_vec();
            grown.push(ready);
            *list = Arc::new(grown);
        });
    }
}

/// Whether `error` is a failure to connect: the request never left this client. tonic's
/// channel answers a request with its reconnection's error when the connection it had is
/// gone and the new one failed (`Reconnect` keeps the error for the next call).
fn is_connect_error(error: &(dyn Error + 'static)) -> bool {
    chain(error).any(|e| e.is::<tonic::ConnectError>())
}

/// Whether `error` says the connection itself is unusable (not just one stream): an I/O
/// error, or hyper finding the connection closed.
fn is_connection_lost(error: &(dyn Error + 'static)) -> bool {
    chain(error).any(|e| {
        e.is::<std::io::Error>()
            || e.downcast_ref::<hyper::Error>()
                .is_some_and(|e| e.is_closed() || e.is_canceled() || e.is_incomplete_message())
    })
}

/// `error`, which happened before the request left for `addr`, as [`NotSent`] naming the
/// replica and every cause.
fn not_sent(addr: SocketAddr, source: BoxError) -> BoxError {
    Box::new(NotSent(Box::new(ReplicaError { addr, source })))
}

/// A replica's connection failure, naming the replica and every cause (tonic's own
/// message is only "transport error").
#[derive(Debug)]
struct ReplicaError {
    addr: SocketAddr,
    source: BoxError,
}

impl std::fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.addr, describe(self.source.as_ref()))
    }
}

impl Error for ReplicaError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Pauses between reconnections to one replica: [`BACKOFF_INITIAL`] doubling to
/// [`BACKOFF_MAX`], each jittered by up to 20% either way so that the clients of a replica
/// that restarts do not all come back in the same instant.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = BACKOFF_INITIAL
            .saturating_mul(1 << self.failures.min(8))
            .min(BACKOFF_MAX);
        self.failures += 1;
        base.mul_f64(0.8 + 0.4 * fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let pauses: Vec<_> = (0..12).map(|_| backoff.next()).collect();
        let within = |pause: Duration, base: Duration| {
            pause >= base.mul_f64(0.8) && pause <= base.mul_f64(1.2)
        };
        assert!(within(pauses[0], Duration::from_secs(1)), "{pauses:?}");
        assert!(within(pauses[1], Duration::from_secs(2)), "{pauses:?}");
        assert!(within(pauses[6], Duration::from_secs(64)), "{pauses:?}");
        assert!(within(pauses[11], BACKOFF_MAX), "{pauses:?}");
        let first: Vec<_> = (0..8).map(|_| Backoff::default().next()).collect();
        assert!(
            first.windows(2).any(|w| w[0] != w[1]),
            "no jitter: {first:?}"
        );
    }

    #[test]
    fn connect_errors_are_told_from_other_transport_errors() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let connect: BoxError = Box::new(tonic::ConnectError(Box::new(refused)));
        let wrapped = ReplicaError {
            addr: "127.0.0.2:1".parse().unwrap(),
            source: connect,
        };
        assert!(is_connect_error(&wrapped));
        assert!(
            wrapped.to_string().starts_with("127.0.0.2:1: "),
            "{wrapped}"
        );
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!is_connect_error(&reset));
        assert!(is_connection_lost(&reset));
        let status = tonic::Status::unavailable("busy");
        assert!(!is_connect_error(&status) && !is_connection_lost(&status));
    }
}

//! A fleet channel over real replicas on 127.0.0.2..4: calls spread round robin under the
//! fleet's authority, follow the resolver as replicas join and leave, avoid a replica that
//! died, resolve `dns:` targets, and stop every background task when dropped.

use rust_stream::{Fleet, FleetChannel, ManualResolver, Resolve, ResolveFuture, Tuning};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::server::NamedService;
use tower_service::Service;

/// Longest any step of these tests may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {PATIENCE:?} waiting for {what}"),
    }
}

/// A gRPC service answering every call `OK` (trailers-only), counting the calls and
/// keeping the `:authority` they carried.
#[derive(Clone, Default)]
struct Counter {
    calls: Arc<AtomicUsize>,
    authorities: Arc<Mutex<Vec<String>>>,
}

impl NamedService for Counter {
    const NAME: &'static str = "test.Counter";
}

impl Service<http::Request<Body>> for Counter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let authority = request.uri().authority().map(|a| a.to_string());
        self.authorities
            .lock()
            .unwrap()
            .push(authority.unwrap_or_default());
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "0")
            .body(Body::empty())
            .unwrap();
        Box::pin(async move { Ok(response) })
    }
}

/// A replica served by the runtime's own server until stopped.
struct Replica {
    addr: SocketAddr,
    counter: Counter,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<std::io::Result<()>>,
}

impl Replica {
    /// A replica on `ip`, port 0 (or `port`).
    async fn start(ip: &str, port: u16) -> Replica {
        let listener = tokio::net::TcpListener::bind((ip, port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counter = Counter::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let router = Tuning::BALANCED.server().add_service(counter.clone());
        let signal = async {
            let _ = stopped.await;
        };
        let serving = tokio::spawn(router.serve_with_shutdown(listener, signal, Duration::ZERO));
        Replica {
            addr,
            counter,
            stop: Some(stop),
            serving,
        }
    }

    fn calls(&self) -> usize {
        self.counter.calls.load(Ordering::SeqCst)
    }

    /// Stops the server: its connections get a GOAWAY and its port refuses.
    async fn stop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        within("the replica to stop", &mut self.serving)
            .await
            .unwrap()
            .unwrap();
    }
}

async fn three_replicas() -> Vec<Replica> {
    let mut replicas = Vec::new();
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        replicas.push(Replica::start(ip, 0).await);
    }
    replicas
}

fn addrs(replicas: &[Replica]) -> Vec<SocketAddr> {
    replicas.iter().map(|r| r.addr).collect()
}

/// One unary call through the fleet: whether it was answered `OK`, or the error.
async fn call(channel: &mut FleetChannel) -> Result<(), String> {
    let request = http::Request::builder()
        .method("POST")
        .uri("/test.Counter/Call")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Body::empty())
        .unwrap();
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| e.to_string())?;
    let response = within("a call", channel.call(request))
        .await
        .map_err(|e| e.to_string())?;
    match response.headers().get("grpc-status") {
        Some(status) if status == "0" => Ok(()),
        other => Err(format!("answered {other:?}")),
    }
}

async fn calls(channel: &mut FleetChannel, n: usize) {
    for i in 0..n {
        call(channel)
            .await
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
    }
}

/// Waits until the channel's replicas are `expected` (address, connected).
async fn until_replicas(channel: &FleetChannel, expected: &[(SocketAddr, bool)]) {
    let mut expected = expected.to_vec();
    expected.sort();
    let settled = async {
        while channel.replicas() != expected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    within(&format!("replicas {expected:?}"), settled).await;
}

fn connected(replicas: &[Replica]) -> Vec<(SocketAddr, bool)> {
    replicas.iter().map(|r| (r.addr, true)).collect()
}

#[tokio::test]
async fn calls_go_round_robin_under_the_fleets_authority() {
    let replicas = three_replicas().await;
    let resolver = ManualResolver::new(addrs(&replicas));
    let fleet = Fleet::with_resolver("orders.test:50051", resolver);
    let mut channel = within("connect", fleet.connect()).await.unwrap();
    assert_eq!(channel.replicas(), connected(&replicas));
    calls(&mut channel, 300).await;
    for replica in &replicas {
        assert_eq!(replica.calls(), 100, "{}", replica.addr);
        let authorities = replica.counter.authorities.lock().unwrap();
        assert!(
            authorities.iter().all(|a| a == "orders.test:50051"),
            "{authorities:?}"
        );
    }
}

#[tokio::test]
async fn replicas_join_and_leave_with_the_resolver() {
    let mut replicas = three_replicas().await;
    let resolver = ManualResolver::new(addrs(&replicas));
    let fleet = Fleet::with_resolver("orders.test", resolver.clone())
        .re_resolve_every(Duration::from_millis(50));
    let mut channel = within("connect", fleet.connect()).await.unwrap();

    replicas.push(Replica::start("127.0.0.5", 0).await);
    resolver.set(addrs(&replicas));
    until_replicas(&channel, &connected(&replicas)).await;
    calls(&mut channel, 400).await;
    assert_eq!(replicas[3].calls(), 100);

    let left = replicas.remove(1);
    resolver.set(addrs(&replicas));
    until_replicas(&channel, &connected(&replicas)).await;
    let before = left.calls();
    calls(&mut channel, 30).await;
    assert_eq!(left.calls(), before, "a replica that left still gets calls");
}

#[tokio::test]
async fn a_dead_replica_is_marked_failing_avoided_and_reconnected_when_back() {
    let mut replicas = three_replicas().await;
    let fleet = Fleet::with_resolver("orders.test", ManualResolver::new(addrs(&replicas)));
    let mut channel = within("connect", fleet.connect()).await.unwrap();
    calls(&mut channel, 3).await;

    let dead = replicas[1].addr;
    replicas[1].stop().await;
    // The first call to reach the dead replica finds its connection gone (without the
    // retry layer it fails); from then on it is out of the picks.
    let mut failures = Vec::new();
    for _ in 0..30 {
        if let Err(error) = call(&mut channel).await {
            failures.push(error);
        }
    }
    assert!(failures.len() <= 1, "{failures:?}");
    let named = format!("not sent: {dead}: transport error: ");
    assert!(failures.iter().all(|f| f.contains(&named)), "{failures:?}");
    let mut expected = connected(&replicas);
    expected[1].1 = false;
    assert_eq!(channel.replicas(), expected);
    let dead_calls = replicas[1].calls();
    calls(&mut channel, 30).await;
    assert_eq!(replicas[1].calls(), dead_calls);

    // Back on the same address: the background reconnection finds it.
    replicas[1] = Replica::start(&dead.ip().to_string(), dead.port()).await;
    until_replicas(&channel, &connected(&replicas)).await;
    calls(&mut channel, 30).await;
    assert_eq!(replicas[1].calls(), 10);
}

#[tokio::test]
async fn a_dns_target_resolves_and_carries_its_name() {
    let replica = Replica::start("127.0.0.1", 0).await;
    let target = format!("dns:///localhost:{}", replica.addr.port());
    let fleet = Tuning::BALANCED.fleet(&target).unwrap();
    let mut channel = within("connect", fleet.connect()).await.unwrap();
    assert!(
        channel.replicas().contains(&(replica.addr, true)),
        "{:?}",
        channel.replicas()
    );
    calls(&mut channel, 5).await;
    assert_eq!(replica.calls(), 5);
    let authority = format!("localhost:{}", replica.addr.port());
    assert!(
        replica
            .counter
            .authorities
            .lock()
            .unwrap()
            .iter()
            .all(|a| *a == authority)
    );
}

/// A port on `ip` where nothing listens.
async fn closed_port(ip: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn no_replica_fails_connect_and_makes_calls_fail_within_the_connect_timeout() {
    let nowhere = closed_port("127.0.0.6").await;
    let fleet = Fleet::with_resolver("orders.test", ManualResolver::new(vec![nowhere]));
    let error = within("connect", fleet.connect()).await.unwrap_err();
    assert!(error.to_string().contains(&nowhere.to_string()), "{error}");

    let empty = Fleet::with_resolver("orders.test", ManualResolver::default());
    let error = within("connect", empty.connect()).await.unwrap_err();
    assert!(
        error.to_string().contains("resolved to no address"),
        "{error}"
    );

    let quick = Tuning {
        connect_timeout: Duration::from_millis(300),
        ..Tuning::BALANCED
    };
    let mut lazy = Fleet::with_resolver("orders.test", ManualResolver::new(vec![nowhere]))
        .tuning(quick)
        .connect_lazy();
    let started = tokio::time::Instant::now();
    let error = call(&mut lazy).await.unwrap_err();
    assert!(error.contains("no replica"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(lazy.replicas(), [(nowhere, false)]);
}

#[tokio::test]
async fn a_lazy_fleet_connects_in_the_background() {
    let replicas = three_replicas().await;
    let mut channel =
        Fleet::with_resolver("orders.test", ManualResolver::new(addrs(&replicas))).connect_lazy();
    calls(&mut channel, 3).await;
    until_replicas(&channel, &connected(&replicas)).await;
}

/// A resolver that reports, by closing `alive`, when the fleet has dropped it.
struct Watched {
    inner: ManualResolver,
    _alive: tokio::sync::mpsc::Sender<()>,
}

impl Resolve for Watched {
    fn resolve(&self) -> ResolveFuture {
        self.inner.resolve()
    }
}

#[tokio::test]
async fn dropping_the_channel_ends_its_background_tasks() {
    let replicas = three_replicas().await;
    let (alive, mut dropped) = tokio::sync::mpsc::channel::<()>(1);
    let resolver = Watched {
        inner: ManualResolver::new(addrs(&replicas)),
        _alive: alive,
    };
    let fleet =
        Fleet::with_resolver("orders.test", resolver).re_resolve_every(Duration::from_millis(20));
    let mut channel = within("connect", fleet.connect()).await.unwrap();
    let clone = channel.clone();
    calls(&mut channel, 3).await;
    drop(channel);
    // A clone keeps the tasks, and so the resolver, alive.
    assert_eq!(clone.replicas(), connected(&replicas));
    assert_eq!(dropped.try_recv(), Err(TryRecvError::Empty));
    drop(clone);
    // The resolver is owned by the tasks: it goes when the last of them has ended.
    assert_eq!(within("the tasks to end", dropped.recv()).await, None);
}

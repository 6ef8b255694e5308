//! The retry loop over real servers on loopback, reached through tonic channels: a test
//! [`Attempts`] sends round robin over a list of replicas, as the balancer does.

use super::classify::{NotSent, Reach, reach};
use super::retry::{Attempt, Attempts, Retrying};
use super::{RetryBudget, RetryPolicy};
use crate::tuning::Tuning;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt as _;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower_service::Service;

/// How a test server answers its `n`th call (from 1).
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// `UNAVAILABLE` trailers-only for the first calls, then `OK` with the request's bytes.
    FailFirst(usize),
    /// A response message, then `UNAVAILABLE` in the trailers.
    StreamThenFail,
}

/// What a test server saw: when each call's headers arrived, and its request body.
#[derive(Default)]
struct Seen {
    calls: Mutex<Vec<(Instant, Bytes)>>,
}

impl Seen {
    fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

/// A gRPC service answering by its [`Behaviour`] once it has read the whole request.
#[derive(Clone)]
struct TestService {
    behaviour: Behaviour,
    seen: Arc<Seen>,
}

impl tonic::server::NamedService for TestService {
    const NAME: &'static str = "test.Svc";
}

impl Service<http::Request<Body>> for TestService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move {
            let arrived = Instant::now();
            let body = match request.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(status) => return Ok(status.into_http()),
            };
            let n = {
                let mut calls = service.seen.calls.lock().unwrap();
                calls.push((arrived, body.clone()));
                calls.len()
            };
            Ok(match service.behaviour {
                Behaviour::FailFirst(failures) if n <= failures => unavailable(),
                Behaviour::FailFirst(_) => answer(body, Code::Ok),
                Behaviour::StreamThenFail => answer(body, Code::Unavailable),
            })
        })
    }
}

fn unavailable() -> http::Response<Body> {
    Status::unavailable("try another").into_http()
}

/// Headers, `data`, then `code` in the trailers.
fn answer(data: Bytes, code: Code) -> http::Response<Body> {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", (code as i32).into());
    let frames: Vec<Result<Frame<Bytes>, Status>> =
        vec![Ok(Frame::data(data)), Ok(Frame::trailers(trailers))];
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(Body::new(body))
        .unwrap()
}

/// A runtime server on `ip`, shut down gracefully when dropped or [`stop`](Self::stop)ped.
struct Server {
    addr: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(ip: &str, behaviour: Behaviour) -> Server {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let service = TestService {
            behaviour,
            seen: Arc::clone(&seen),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = Tuning::BALANCED.server().add_service(service);
        let signal = async move {
            let _ = stopped.await;
        };
        let done =
            tokio::spawn(router.serve_with_shutdown(listener, signal, Duration::from_secs(1)));
        Server {
            addr,
            seen,
            stop: Some(stop),
            done,
        }
    }

    async fn stop(&mut self) {
        self.stop.take();
        (&mut self.done).await.unwrap().unwrap();
    }
}

/// Round robin over channels to `replicas`, skipping `avoid` when it can, as the balancer
/// does; counts attempts and notes how far each failed one got.
#[derive(Clone)]
struct Pool {
    replicas: Arc<Vec<(SocketAddr, Channel)>>,
    next: Arc<AtomicUsize>,
    sent: Arc<AtomicUsize>,
    failed: Arc<Mutex<Vec<Reach>>>,
    /// Each attempt's `grpc-timeout`, as the retry loop sent it.
    timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
}

impl Pool {
    fn new(addrs: &[SocketAddr]) -> Pool {
        let replicas = addrs
            .iter()
            .map(|addr| {
                let endpoint = Tuning::BALANCED.endpoint(format!("http://{addr}")).unwrap();
                (*addr, endpoint.connect_lazy())
            })
            .collect();
        Pool {
            replicas: Arc::new(replicas),
            next: Arc::default(),
            sent: Arc::default(),
            failed: Arc::default(),
            timeouts: Arc::default(),
        }
    }

    fn pick(&self, avoid: Option<SocketAddr>) -> (SocketAddr, Channel) {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed) % self.replicas.len();
            let (addr, channel) = &self.replicas[n];
            if Some(*addr) != avoid || self.replicas.len() == 1 {
                return (*addr, channel.clone());
            }
        }
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Attempts for Pool {
    fn attempt(
        &self,
        request: http::Request<Body>,
        avoid: Option<SocketAddr>,
    ) -> impl Future<Output = Attempt> + Send + 'static {
        let pool = self.clone();
        async move {
            let (addr, mut channel) = pool.pick(avoid);
            pool.sent.fetch_add(1, Ordering::Relaxed);
            let timeout = crate::call::deadline::request_timeout(request.headers());
            pool.timeouts.lock().unwrap().push(timeout);
            let ready = futures_util::future::poll_fn(|cx| channel.poll_ready(cx)).await;
            let result = match ready {
                Err(error) => Err(Box::new(NotSent(Box::new(error))) as _),
                Ok(()) => channel.call(request).await.map_err(|error| {
                    pool.failed.lock().unwrap().push(reach(&error));
                    Box::new(error) as _
                }),
            };
            Attempt {
                replica: Some(addr),
                result,
            }
        }
    }

    fn replica_count(&self) -> usize {
        self.replicas.len()
    }
}

/// A call to the test service carrying `body`, `policy` and `timeout`.
fn request(
    body: Body,
    policy: Option<RetryPolicy>,
    timeout: Option<Duration>,
) -> http::Request<Body> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri("/test.Svc/Call")
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(timeout) = timeout {
        request = request.header("grpc-timeout", format!("{}m", timeout.as_millis()));
    }
    if let Some(policy) = policy {
        request = request.extension(policy);
    }
    request.body(body).unwrap()
}

fn bytes_body(data: Bytes) -> Body {
    // Several frames, so that a replay has several to keep.
    let frames: Vec<Result<Frame<Bytes>, Status>> = data
        .chunks(16 * 1024)
        .map(|chunk| Ok(Frame::data(data.slice_ref(chunk))))
        .collect();
    Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
        frames,
    )))
}

/// A call's status (trailers-only or in the trailers) and the data it carried.
async fn outcome(response: http::Response<Body>) -> (Code, Bytes) {
    if let Some(status) = Status::from_header_map(response.headers()) {
        return (status.code(), Bytes::new());
    }
    let body = response.into_body().collect().await.unwrap();
    let code = body
        .trailers()
        .and_then(Status::from_header_map)
        .map_or(Code::Unknown, |s| s.code());
    (code, body.to_bytes())
}

/// Retries with pauses short enough for tests.
const QUICK: RetryPolicy = RetryPolicy::new(
    5,
    Duration::from_millis(2),
    Duration::from_millis(10),
    2.0,
    &[Code::Unavailable],
);

const PLENTY: RetryBudget = RetryBudget {
    max_tokens: 1000.0,
    token_ratio: 1.0,
};

#[tokio::test]
async fn an_unavailable_answer_is_retried_under_a_policy_and_returned_without_one() {
    let server = Server::start("127.0.0.2", Behaviour::FailFirst(1)).await;
    let retrying = Retrying::new(Pool::new(&[server.addr]), PLENTY);
    let data = Bytes::from_static(b"hello");

    let without = retrying.call(request(bytes_body(data.clone()), None, None));
    let (code, _) = outcome(without.await.unwrap()).await;
    assert_eq!(
        code,
        Code::Unavailable,
        "no policy: the app sees the status"
    );
    assert_eq!(server.seen.count(), 1);

    let server = Server::start("127.0.0.2", Behaviour::FailFirst(1)).await;
    let retrying = Retrying::new(Pool::new(&[server.addr]), PLENTY);
    let with = retrying.call(request(bytes_body(data.clone()), Some(QUICK), None));
    let (code, echoed) = outcome(with.await.unwrap()).await;
    assert_eq!((code, echoed), (Code::Ok, data));
    assert_eq!(server.seen.count(), 2);
}

#[tokio::test]
async fn while_every_replica_fails_the_budget_allows_four_retries_in_all() {
    let mut servers = Vec::new();
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        servers.push(Server::start(ip, Behaviour::FailFirst(usize::MAX)).await);
    }
    let addrs: Vec<_> = servers.iter().map(|s| s.addr).collect();
    let pool = Pool::new(&addrs);
    let retrying = Retrying::new(pool.clone(), RetryBudget::DEFAULT);
    for _ in 0..50 {
        let call = retrying.call(request(Body::empty(), Some(QUICK), None));
        assert_eq!(outcome(call.await.unwrap()).await.0, Code::Unavailable);
    }
    // 10 tokens: failures leave 9, 8, 7, 6 (retried), then 5 and less (not retried).
    let seen: usize = servers.iter().map(|s| s.seen.count()).sum();
    assert_eq!((pool.sent(), seen), (54, 54));
}

#[tokio::test]
async fn no_attempt_starts_after_the_deadline() {
    let server = Server::start("127.0.0.2", Behaviour::FailFirst(usize::MAX)).await;
    let policy = RetryPolicy::new(
        5,
        Duration::from_millis(100),
        Duration::from_secs(1),
        2.0,
        &[Code::Unavailable],
    );
    let pool = Pool::new(&[server.addr]);
    let retrying = Retrying::new(pool.clone(), PLENTY);
    let timeout = Duration::from_millis(250);
    let mut calls = Vec::new();
    for _ in 0..20 {
        let call = retrying.call(request(Body::empty(), Some(policy), Some(timeout)));
        calls.push(tokio::spawn(async move {
            let start = Instant::now();
            let code = match call.await {
                Ok(response) => outcome(response).await.0,
                Err(error) => error.downcast::<Status>().unwrap().code(),
            };
            (start.elapsed(), code)
        }));
    }
    for call in calls {
        let (took, code) = call.await.unwrap();
        // The last answer, or the deadline when the last attempt had too little time.
        assert!(
            matches!(code, Code::Unavailable | Code::DeadlineExceeded),
            "{code:?}"
        );
        assert!(took < timeout + Duration::from_millis(200), "{took:?}");
    }
    assert!(server.seen.count() > 20, "some calls were retried");
    // Every attempt, retries included, left with time before its call's deadline: what
    // was left of it, never nothing (an attempt after the deadline would carry none).
    let timeouts = pool.timeouts.lock().unwrap().clone();
    assert_eq!(timeouts.len(), pool.sent());
    for left in timeouts {
        assert!(
            left.is_some_and(|left| !left.is_zero() && left <= timeout),
            "{left:?}"
        );
    }
}

#[tokio::test]
async fn a_response_that_has_begun_is_never_retried() {
    let server = Server::start("127.0.0.2", Behaviour::StreamThenFail).await;
    let retrying = Retrying::new(Pool::new(&[server.addr]), PLENTY);
    let data = Bytes::from_static(b"first message");
    let call = retrying.call(request(bytes_body(data.clone()), Some(QUICK), None));
    let (code, received) = outcome(call.await.unwrap()).await;
    assert_eq!((code, received), (Code::Unavailable, data));
    assert_eq!(server.seen.count(), 1);
}

#[tokio::test]
async fn bodies_up_to_the_replay_limit_are_sent_again_byte_for_byte() {
    let limit = super::replay::REPLAY_LIMIT;
    let data: Bytes = (0..limit).map(|i| (i * 7 % 251) as u8).collect();
    let server = Server::start("127.0.0.2", Behaviour::FailFirst(1)).await;
    let retrying = Retrying::new(Pool::new(&[server.addr]), PLENTY);
    let call = retrying.call(request(bytes_body(data.clone()), Some(QUICK), None));
    let (code, _) = outcome(call.await.unwrap()).await;
    assert_eq!(code, Code::Ok);
    let calls = server.seen.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|(_, body)| *body == data));

    let larger: Bytes = (0..=limit).map(|i| (i % 13) as u8).collect();
    let server = Server::start("127.0.0.2", Behaviour::FailFirst(1)).await;
    let retrying = Retrying::new(Pool::new(&[server.addr]), PLENTY);
    let call = retrying.call(request(bytes_body(larger.clone()), Some(QUICK), None));
    let (code, _) = outcome(call.await.unwrap()).await;
    assert_eq!(code, Code::Unavailable, "too large to keep: not retried");
    assert_eq!(server.seen.count(), 1);
    assert_eq!(server.seen.calls.lock().unwrap()[0].1, larger);
}

#[tokio::test]
async fn a_replica_refusing_connections_is_skipped_transparently() {
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.3:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let server = Server::start("127.0.0.2", Behaviour::FailFirst(0)).await;
    let pool = Pool::new(&[dead, server.addr]);
    let retrying = Retrying::new(pool.clone(), RetryBudget::DEFAULT);
    for _ in 0..4 {
        let call = retrying.call(request(Body::empty(), None, None));
        assert_eq!(outcome(call.await.unwrap()).await.0, Code::Ok);
    }
    assert_eq!(server.seen.count(), 4);
    // Round robin sends each call to the dead replica first, then to the other.
    assert_eq!(pool.sent(), 8);
    assert!(
        pool.failed
            .lock()
            .unwrap()
            .iter()
            .all(|r| *r == Reach::NotSent)
    );
}

/// A server speaking plain h2 that refuses every stream with `REFUSED_STREAM`, as a server
/// over its concurrency limit does; counts the streams.
async fn refusing_server(ip: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let streams = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&streams);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else {
                    return;
                };
                while let Some(Ok((_request, mut respond))) = connection.accept().await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    respond.send_reset(h2::Reason::REFUSED_STREAM);
                }
            });
        }
    });
    (addr, streams)
}

#[tokio::test]
async fn a_refused_stream_is_retried_transparently_on_another_replica() {
    let (refusing, refused) = refusing_server("127.0.0.3").await;
    let server = Server::start("127.0.0.2", Behaviour::FailFirst(0)).await;
    let pool = Pool::new(&[refusing, server.addr]);
    let retrying = Retrying::new(pool.clone(), RetryBudget::DEFAULT);
    for _ in 0..4 {
        let call = retrying.call(request(bytes_body(Bytes::from_static(b"x")), None, None));
        assert_eq!(outcome(call.await.unwrap()).await.0, Code::Ok);
    }
    // Round robin sends each call to the refusing replica first.
    assert_eq!(refused.load(Ordering::SeqCst), 4);
    assert_eq!(server.seen.count(), 4);
    // What the real stack reported for the refusals.
    assert_eq!(*pool.failed.lock().unwrap(), [Reach::Unprocessed; 4]);
}

/// A streaming request whose messages are still being produced when its first replica
/// refuses it goes to the other with every message, those sent before the refusal (kept by
/// the replay) and those after.
#[tokio::test]
async fn a_refused_streaming_request_is_replayed_with_every_message() {
    let (refusing, refused) = refusing_server("127.0.0.3").await;
    let server = Server::start("127.0.0.2", Behaviour::FailFirst(0)).await;
    let retrying = Retrying::new(Pool::new(&[refusing, server.addr]), RetryBudget::DEFAULT);
    let (messages, source) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(4);
    let body = Body::new(http_body_util::StreamBody::new(
        tokio_stream::wrappers::ReceiverStream::new(source),
    ));
    let send =
        |text: &'static str| messages.send(Ok(Frame::data(Bytes::from_static(text.as_bytes()))));
    send("first ").await.unwrap();
    // No policy: only a transparent retry can save it.
    let call = tokio::spawn(retrying.call(request(body, None, None)));
    tokio::time::timeout(Duration::from_secs(60), async {
        while refused.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the first replica refused the stream");
    send("second ").await.unwrap();
    send("third").await.unwrap();
    drop(messages);
    let response = call.await.unwrap().expect("retried on the other replica");
    assert_eq!(outcome(response).await.0, Code::Ok);
    let calls = server.seen.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, Bytes::from_static(b"first second third"));
}

#[tokio::test]
async fn a_refused_stream_is_retried_once_then_fails_with_the_attempts_named() {
    let (refusing, refused) = refusing_server("127.0.0.3").await;
    let retrying = Retrying::new(Pool::new(&[refusing]), RetryBudget::DEFAULT);
    let call = retrying.call(request(Body::empty(), None, None));
    let error = call.await.unwrap_err();
    let status = error.downcast::<Status>().unwrap();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("2 attempts"), "{status:?}");
    assert_eq!(refused.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_racing_a_graceful_shutdown_are_each_processed_once() {
    let mut leaving = Server::start("127.0.0.2", Behaviour::FailFirst(0)).await;
    let staying = Server::start("127.0.0.3", Behaviour::FailFirst(0)).await;
    let pool = Pool::new(&[leaving.addr, staying.addr]);
    let retrying = Retrying::new(pool.clone(), RetryBudget::DEFAULT);
    let (workers, each) = (16, 40);
    let started = Arc::new(tokio::sync::Barrier::new(workers + 1));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (retrying, started) = (retrying.clone(), Arc::clone(&started));
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for n in 0..each {
                if n == each / 4 {
                    started.wait().await;
                }
                let call = retrying.call(request(bytes_body(Bytes::from_static(b"x")), None, None));
                codes.push(match call.await {
                    Ok(response) => outcome(response).await.0,
                    Err(error) => panic!("{error}"),
                });
            }
            codes
        }));
    }
    // Every worker is mid-way: shut the first replica down under their feet.
    started.wait().await;
    leaving.stop().await;
    for task in tasks {
        assert!(task.await.unwrap().iter().all(|c| *c == Code::Ok));
    }
    let processed = leaving.seen.count() + staying.seen.count();
    assert_eq!(processed, workers * each, "no call processed twice");
    let failed = pool.failed.lock().unwrap().clone();
    assert!(
        pool.sent() > workers * each,
        "calls were retried: {failed:?}"
    );
    assert!(
        failed.iter().all(|r| *r != Reach::MaybeProcessed),
        "{failed:?}"
    );
}

/// A TCP relay on `ip` to `server` whose client-to-server direction can be paused: what
/// the client sends while paused is never forwarded, and each such read is reported.
async fn relay(
    ip: &str,
    server: SocketAddr,
) -> (
    SocketAddr,
    tokio::sync::watch::Sender<bool>,
    tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (pause, paused) = tokio::sync::watch::channel(false);
    let (held, held_reads) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let upstream = tokio::net::TcpStream::connect(server).await.unwrap();
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_server, mut to_server) = upstream.into_split();
        tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = from_client.read(&mut buffer).await {
            if *paused.borrow() {
                let _ = held.send(());
            } else if to_server.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    });
    (addr, pause, held_reads)
}

/// A plain h2 server answering its first stream `OK` and holding the second until `go`
/// resolves, then sending `GOAWAY` (last stream: the held one) and closing; counts streams.
async fn goaway_server(
    ip: &str,
    go: tokio::sync::oneshot::Receiver<()>,
    holding: tokio::sync::oneshot::Sender<()>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let streams = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&streams);
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut connection = h2::server::handshake(socket).await.unwrap();
        let ok = || {
            http::Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "0")
                .body(())
                .unwrap()
        };
        let (_, mut respond) = connection.accept().await.unwrap().unwrap();
        counted.fetch_add(1, Ordering::SeqCst);
        respond.send_response(ok(), true).unwrap();
        let (_, _held) = connection.accept().await.unwrap().unwrap();
        counted.fetch_add(1, Ordering::SeqCst);
        holding.send(()).unwrap();
        tokio::select! {
            _ = go => connection.abrupt_shutdown(h2::Reason::NO_ERROR),
            _ = connection.accept() => panic!("a stream the test did not expect"),
        }
        while let Some(Ok(_)) = connection.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, streams)
}

#[tokio::test]
async fn a_stream_above_a_goaway_last_stream_is_retried_transparently() {
    let (go, go_received) = tokio::sync::oneshot::channel();
    let (holding_sender, holding) = tokio::sync::oneshot::channel();
    let (h2_addr, streams) = goaway_server("127.0.0.6", go_received, holding_sender).await;
    let (relayed, pause, mut held) = relay("127.0.0.7", h2_addr).await;
    let staying = Server::start("127.0.0.2", Behaviour::FailFirst(0)).await;
    let pool = Pool::new(&[relayed, staying.addr]);
    let retrying = Retrying::new(pool.clone(), RetryBudget::DEFAULT);
    let empty = || request(Body::empty(), None, None);

    // Round robin: even calls go through the relay, odd ones to `staying`.
    assert_eq!(
        outcome(retrying.call(empty()).await.unwrap()).await.0,
        Code::Ok
    );
    assert_eq!(
        outcome(retrying.call(empty()).await.unwrap()).await.0,
        Code::Ok
    );
    let held_call = tokio::spawn(retrying.call(empty()));
    holding.await.unwrap();
    assert_eq!(
        outcome(retrying.call(empty()).await.unwrap()).await.0,
        Code::Ok
    );
    // The next call's HEADERS leave the client but never reach the server.
    pause.send(true).unwrap();
    let above = tokio::spawn(retrying.call(empty()));
    held.recv().await.unwrap();
    go.send(()).unwrap();

    assert_eq!(outcome(above.await.unwrap().unwrap()).await.0, Code::Ok);
    let cut = held_call.await.unwrap().unwrap_err();
    assert_eq!(cut.downcast::<Status>().unwrap().code(), Code::Unavailable);
    assert_eq!(
        streams.load(Ordering::SeqCst),
        2,
        "the server never saw the retried call"
    );
    assert_eq!(staying.seen.count(), 3);
    let failed = pool.failed.lock().unwrap().clone();
    assert!(failed.contains(&Reach::Unprocessed), "{failed:?}");
    assert_eq!(pool.sent(), 6);
}

//! The runtime's server ([`rust_stream::TunedRouter`]) over real loopback sockets:
//! shutdown that ends open calls and the streams of every service (ours, tonic-health,
//! tonic-reflection, a plain tonic one), refusing only the streams over the concurrency limit,
//! handshake timeout, accept backoff under a file-descriptor limit, and the request guard.

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use prost::Message;
use rust_stream::{CallContext, EndReason, RequestStream, ResponseSink, TunedRouter, Tuning};
use rust_stream_examples::adapter::{
    StreamingExamplesHandler, StreamingExamplesService, StreamingExamplesStreamClient,
};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_examples::pb::streaming_examples_client::StreamingExamplesClient;
use rust_stream_examples::pb::streaming_examples_server::{
    StreamingExamples, StreamingExamplesServer,
};
use rust_stream_tests::within;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

/// A server run by `serve_with_shutdown`: `stop` triggers the shutdown, `done` is the serve
/// future's task.
/// A shutdown grace no test outlives ([`PATIENCE`](rust_stream_tests::PATIENCE) bounds every
/// wait): a server that waits for it fails the test, whatever the machine's load, and one
/// that ends its calls at once passes without any timer deciding.
const NEVER_OVER: Duration = Duration::from_secs(3600);

pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) done: JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn start<H: StreamingExamplesHandler>(
    handler: Arc<H>,
    tuning: &Tuning,
    grace: Duration,
) -> Running {
    let router = tuning
        .server()
        .add_service(StreamingExamplesService::from_arc(handler).into_server());
    start_router(router, grace).await
}

async fn start_router(router: TunedRouter, grace: Duration) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(router.serve_with_shutdown(
        listener,
        async {
            let _ = stopped.await;
        },
        grace,
    ));
    Running { addr, stop, done }
}

async fn client(addr: SocketAddr) -> StreamingExamplesStreamClient {
    within(
        "connect",
        StreamingExamplesStreamClient::connect(format!("http://{addr}")),
    )
    .await
    .expect("connect")
}

/// A plain tonic channel, for the clients of services that are not ours.
async fn channel(addr: SocketAddr) -> Channel {
    let endpoint = Channel::from_shared(format!("http://{addr}")).expect("a valid URI");
    within("connect", endpoint.connect())
        .await
        .expect("connect")
}

/// Where unary handlers wait until the test lets them answer.
#[derive(Default)]
struct Gate {
    /// How many handlers have reached the gate.
    entered: watch::Sender<usize>,
    open: watch::Sender<bool>,
}

impl Gate {
    async fn pass(&self) {
        self.entered.send_modify(|n| *n += 1);
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }

    async fn reached_by(&self, handlers: usize) {
        let mut entered = self.entered.subscribe();
        within(
            "the handlers to reach the gate",
            entered.wait_for(|n| *n >= handlers),
        )
        .await
        .unwrap();
    }

    fn open(&self) {
        self.open.send_replace(true);
    }
}

// ---------------------------------------------------------------- shutdown

/// The guide's service, recording how each call ended and when an upload is under way.
struct Observed {
    guide: GuideServer,
    ended: watch::Sender<Vec<(&'static str, EndReason)>>,
    uploading: watch::Sender<bool>,
}

impl Observed {
    fn watch(&self, ctx: &CallContext) {
        let (ended, method) = (self.ended.clone(), ctx.method());
        ctx.on_end(move |reason| ended.send_modify(|all| all.push((method, reason))));
    }
}

impl StreamingExamplesHandler for Observed {
    async fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), tonic::Status> {
        self.watch(&ctx);
        self.guide.list_events(ctx, request, sink).await
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, tonic::Status> {
        self.watch(&ctx);
        let mut received = 0;
        while let Some(chunk) = requests.message().await? {
            received += chunk.data.len() as u64;
            self.uploading.send_replace(true);
        }
        Ok(pb::UploadResult {
            bytes_received: received,
        })
    }
}

#[tokio::test]
async fn shutdown_ends_an_endless_stream_and_a_mid_flight_upload_with_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let handler = Arc::new(Observed {
        guide: GuideServer::new(dir.path()),
        ended: watch::Sender::new(Vec::new()),
        uploading: watch::Sender::new(false),
    });
    let grace = Duration::from_millis(500);
    let server = start(Arc::clone(&handler), &Tuning::BALANCED, grace).await;
    let client = client(server.addr).await;

    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .expect("ListEvents starts");
    within("an event", events.message())
        .await
        .expect("an event")
        .expect("the stream is open");

    // An upload that sent one chunk and waits to send the rest.
    let (more, chunks) = tokio::sync::mpsc::channel::<pb::Chunk>(1);
    more.send(pb::Chunk {
        data: Bytes::from_static(&[7; 1024]),
    })
    .await
    .unwrap();
    let uploader = client.clone();
    let upload = tokio::spawn(async move {
        uploader
            .upload_chunks(tokio_stream::wrappers::ReceiverStream::new(chunks))
            .await
    });
    let mut uploading = handler.uploading.subscribe();
    within(
        "the upload to start",
        uploading.wait_for(|started| *started),
    )
    .await
    .unwrap();

    let stopping = Instant::now();
    server.stop.send(()).unwrap();

    // The stream ends with UNAVAILABLE after whatever was already buffered.
    ends_unavailable("the endless stream", &mut events).await;

    let status = within("the upload to end", upload)
        .await
        .unwrap()
        .expect_err("an upload cut by shutdown must not succeed");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // An upload answers once: it had the grace to finish before it was cut (a timer never
    // fires early, so this holds on any machine; how late it fired is not asserted).
    assert!(
        stopping.elapsed() >= grace,
        "the upload was cut before its grace"
    );
    drop(more);

    // The client is still connected: serve returns because it closes the connections
    // after the grace and flush, which `within` bounds generously.
    within("serve to return", server.done)
        .await
        .unwrap()
        .expect("serve ends cleanly");

    let ended = handler.ended.borrow().clone();
    for method in ["ListEvents", "UploadChunks"] {
        assert!(
            ended
                .iter()
                .any(|(m, reason)| m.ends_with(method) && *reason == EndReason::ServerShutdown),
            "{method} did not observe the shutdown: {ended:?}"
        );
    }

    // New calls are refused.
    let status = within("a call after shutdown", client.get_user(user("42")))
        .await
        .expect_err("the server is gone");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

pub(crate) fn user(id: &str) -> pb::UserRequest {
    pb::UserRequest { id: id.into() }
}

/// Reads `stream` to its end, which must be shutdown's `UNAVAILABLE` (carried in the
/// trailers: a reset would read as another code).
async fn ends_unavailable<T>(
    what: &str,
    mut stream: impl Stream<Item = Result<T, Status>> + Unpin,
) {
    let status = within(what, async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                None => panic!("{what} ended cleanly"),
                Some(Err(status)) => break status,
            }
        }
    })
    .await;
    assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
    assert_eq!(status.message(), "the server is shutting down", "{what}");
}

/// Stops `server` while a unary call holds it: once `streams_end` returns, the server
/// must still be serving that call; released, the call completes, and serving returns
/// without waiting for the streams: the server's grace is [`NEVER_OVER`], so waiting for it
/// would fail the test.
async fn shut_down_around_a_unary_call<F>(
    server: Running,
    gate: &Gate,
    call: JoinHandle<Result<(), Status>>,
    streams_end: F,
) where
    F: Future<Output = ()>,
{
    gate.reached_by(1).await;
    server.stop.send(()).unwrap();
    streams_end.await;
    assert!(
        !server.done.is_finished(),
        "serve returned while a unary call was running"
    );
    assert!(
        !call.is_finished(),
        "the unary call ended before its answer"
    );
    gate.open();
    within("the unary call", call)
        .await
        .unwrap()
        .expect("a unary call running at shutdown completes within the grace");
    within("serve to return", server.done)
        .await
        .unwrap()
        .expect("serve ends cleanly");
}

/// Our service with a call of each kind held open: GetUser waits at a gate, ListEvents
/// sends one event and then waits for its call to end.
struct HeldOpen(Gate);

impl StreamingExamplesHandler for HeldOpen {
    async fn get_user(
        &self,
        _ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        self.0.pass().await;
        Ok(pb::UserResponse::default())
    }

    async fn list_events(
        &self,
        ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        sink.send(pb::Event::default()).await?;
        ctx.cancelled().await;
        Ok(())
    }
}

fn list_services() -> ServerReflectionRequest {
    ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    }
}

#[tokio::test]
async fn shutdown_ends_a_health_watch_and_a_reflection_stream_and_lets_a_unary_call_finish() {
    let handler = Arc::new(HeldOpen(Gate::default()));
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .build_v1()
        .expect("the reflection service");
    let router = Tuning::BALANCED
        .server()
        .add_service(StreamingExamplesService::from_arc(Arc::clone(&handler)).into_server())
        .add_service(health)
        .add_service(reflection);
    let server = start_router(router, NEVER_OVER).await;
    let channel = channel(server.addr).await;

    // A health Watch: the current status, then nothing until it changes, which it never
    // does by itself.
    let mut watch = within(
        "Watch",
        HealthClient::new(channel.clone()).watch(HealthCheckRequest::default()),
    )
    .await
    .expect("Watch starts")
    .into_inner();
    let status = within("the first status", watch.message())
        .await
        .unwrap()
        .expect("a status");
    assert_eq!(status.status, ServingStatus::Serving as i32);

    // Reflection: one answer, the request stream left open.
    let (ask, questions) = mpsc::channel(1);
    ask.send(list_services()).await.unwrap();
    let mut answers = within(
        "ServerReflectionInfo",
        ServerReflectionClient::new(channel.clone())
            .server_reflection_info(ReceiverStream::new(questions)),
    )
    .await
    .expect("ServerReflectionInfo starts")
    .into_inner();
    within("the list of services", answers.message())
        .await
        .unwrap()
        .expect("an answer");

    // Our own stream, and a unary call in flight.
    let client = StreamingExamplesStreamClient::from_channel(channel);
    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .expect("ListEvents starts");
    within("an event", events.message())
        .await
        .unwrap()
        .expect("the stream is open");
    let call = tokio::spawn(async move { client.get_user(user("42")).await.map(drop) });

    // As a server does when its shutdown begins: watchers learn it before their stream ends.
    reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    shut_down_around_a_unary_call(server, &handler.0, call, async {
        let status = within("NOT_SERVING", watch.message())
            .await
            .expect("the new status")
            .expect("a status");
        assert_eq!(status.status, ServingStatus::NotServing as i32);
        ends_unavailable("the health Watch", &mut watch).await;
        ends_unavailable("the reflection stream", &mut answers).await;
        ends_unavailable("our ListEvents", &mut events).await;
    })
    .await;
    drop(ask);
}

/// The guide's service written against tonic's own trait, so the runtime registers none of
/// its calls: GetUser waits at a gate, ListEvents streams without ever waiting for its
/// producer, Chat echoes each message.
struct PlainTonic(Gate);

type Plain<T> = futures_util::stream::BoxStream<'static, Result<T, Status>>;

#[tonic::async_trait]
impl StreamingExamples for PlainTonic {
    async fn get_user(
        &self,
        _request: tonic::Request<pb::UserRequest>,
    ) -> Result<tonic::Response<pb::UserResponse>, Status> {
        self.0.pass().await;
        Ok(tonic::Response::new(pb::UserResponse::default()))
    }

    type ListEventsStream = Plain<pb::Event>;

    async fn list_events(
        &self,
        _request: tonic::Request<pb::EventFilter>,
    ) -> Result<tonic::Response<Self::ListEventsStream>, Status> {
        let events = futures_util::stream::repeat_with(|| Ok(pb::Event::default()));
        Ok(tonic::Response::new(Box::pin(events)))
    }

    async fn upload_chunks(
        &self,
        _request: tonic::Request<tonic::Streaming<pb::Chunk>>,
    ) -> Result<tonic::Response<pb::UploadResult>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    type ChatStream = Plain<pb::Message>;

    async fn chat(
        &self,
        request: tonic::Request<tonic::Streaming<pb::Message>>,
    ) -> Result<tonic::Response<Self::ChatStream>, Status> {
        Ok(tonic::Response::new(Box::pin(request.into_inner())))
    }
}

#[tokio::test]
async fn shutdown_ends_the_streams_of_a_plain_tonic_service_and_lets_its_unary_call_finish() {
    let handler = Arc::new(PlainTonic(Gate::default()));
    let router = Tuning::BALANCED
        .server()
        .add_service(StreamingExamplesServer::from_arc(Arc::clone(&handler)));
    let server = start_router(router, NEVER_OVER).await;
    let mut client = StreamingExamplesClient::new(channel(server.addr).await);

    // A stream that is never idle: the client reads it as fast as it comes.
    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .expect("ListEvents starts")
        .into_inner();
    within("an event", events.message())
        .await
        .unwrap()
        .expect("the stream is open");

    // A bidi stream waiting for the client's next message.
    let (say, said) = mpsc::channel(1);
    let hello = pb::Message {
        text: "hello".into(),
        user: "test".into(),
    };
    say.send(hello.clone()).await.unwrap();
    let mut replies = within("Chat", client.chat(ReceiverStream::new(said)))
        .await
        .expect("Chat starts")
        .into_inner();
    let echo = within("the echo", replies.message()).await.unwrap();
    assert_eq!(echo, Some(hello));

    let mut unary = client.clone();
    let call = tokio::spawn(async move { unary.get_user(user("42")).await.map(drop) });

    shut_down_around_a_unary_call(server, &handler.0, call, async {
        ends_unavailable("the endless ListEvents", &mut events).await;
        ends_unavailable("Chat", &mut replies).await;
    })
    .await;
    drop(say);
}

// ---------------------------------------------------------------- raw HTTP/2 client

/// A raw HTTP/2 connection, driven by its own task.
async fn h2_connect(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = within("TCP connect", TcpStream::connect(addr))
        .await
        .expect("TCP connect");
    let (send, connection) = within("HTTP/2 handshake", h2::client::handshake(tcp))
        .await
        .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    send
}

/// A gRPC request head for `method` of the guide's service.
pub(crate) fn grpc_request(method: &str, content_type: Option<&str>) -> http::Request<()> {
    let mut request = http::Request::post(format!(
        "http://127.0.0.1/streaming.StreamingExamples/{method}"
    ))
    .header("te", "trailers");
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.body(()).unwrap()
}

/// One length-prefixed gRPC message.
pub(crate) fn grpc_frame(message: &impl Message) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(message.encoded_len() as u32);
    message.encode(&mut buf).unwrap();
    buf.freeze()
}

/// What a raw call got back: the HTTP status and the `grpc-status` (from the headers of
/// a trailers-only answer, or from the trailers).
pub(crate) async fn finish(
    response: h2::client::ResponseFuture,
) -> Result<(http::StatusCode, Option<String>), h2::Error> {
    let response = response.await?;
    let status = response.status();
    let grpc = |headers: &http::HeaderMap| {
        headers
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    if let Some(code) = grpc(response.headers()) {
        return Ok((status, Some(code)));
    }
    let mut body = response.into_body();
    while let Some(data) = body.data().await {
        let data = data?;
        let _ = body.flow_control().release_capacity(data.len());
    }
    let trailers = body.trailers().await?;
    Ok((status, trailers.as_ref().and_then(grpc)))
}

/// Sends a whole unary GetUser call on `send`.
fn get_user_raw(
    send: &mut h2::client::SendRequest<Bytes>,
    request: http::Request<()>,
) -> h2::client::ResponseFuture {
    let (response, mut body) = send.send_request(request, false).expect("open a stream");
    body.send_data(grpc_frame(&user("42")), true)
        .expect("send the request message");
    response
}

// ---------------------------------------------------------------- concurrency limit

/// GetUser waits at a gate, so calls stay open until the test releases them.
struct Gated(Gate);

impl StreamingExamplesHandler for Gated {
    async fn get_user(
        &self,
        _ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, tonic::Status> {
        self.0.pass().await;
        Ok(pb::UserResponse::default())
    }
}

#[tokio::test]
async fn streams_over_the_concurrency_limit_are_refused_and_the_rest_complete() {
    let tuning = Tuning::BALANCED;
    let limit = tuning.max_concurrent_streams as usize;
    // Each refused stream counts twice against h2's local-reset guard (its HEADERS and
    // its DATA), so this many trip a guard sized at the stream limit.
    let excess = limit;
    let handler = Arc::new(Gated(Gate::default()));
    let server = start(Arc::clone(&handler), &tuning, Duration::ZERO).await;

    // Every stream is opened before the connection task runs, so none waits for the
    // server's SETTINGS: the server sees limit + excess streams at once.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    // The client's own guard against floods of small DATA frames must not count the
    // burst of small answers.
    let handshake = h2::client::Builder::new()
        .data_frame_budget(usize::MAX / 2)
        .handshake(tcp);
    let (mut send, connection) = within("HTTP/2 handshake", handshake).await.unwrap();
    let responses: Vec<_> = (0..limit + excess)
        .map(|_| get_user_raw(&mut send, grpc_request("GetUser", Some("application/grpc"))))
        .collect();
    tokio::spawn(connection);
    let outcomes: Vec<_> = responses
        .into_iter()
        .map(|response| tokio::spawn(finish(response)))
        .collect();

    handler.0.reached_by(limit).await;
    handler.0.open();

    let (mut ok, mut refused) = (0, 0);
    for outcome in outcomes {
        match within("a call to end", outcome).await.unwrap() {
            Ok((status, code)) => {
                assert_eq!((status, code.as_deref()), (http::StatusCode::OK, Some("0")));
                ok += 1;
            }
            Err(err) if err.reason() == Some(h2::Reason::REFUSED_STREAM) => refused += 1,
            Err(err) => panic!("a call failed other than by refusal: {err:?}"),
        }
    }
    assert_eq!((ok, refused), (limit, excess));

    // The connection survived.
    let after = get_user_raw(&mut send, grpc_request("GetUser", Some("application/grpc")));
    let (status, code) = within("a call after the burst", finish(after))
        .await
        .expect("the connection is still open");
    assert_eq!((status, code.as_deref()), (http::StatusCode::OK, Some("0")));
}

/// GetUser that never answers, except for the id `ok`.
struct Stalls;

impl StreamingExamplesHandler for Stalls {
    async fn get_user(
        &self,
        _ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, tonic::Status> {
        if request.id == "ok" {
            return Ok(pb::UserResponse::default());
        }
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_flood_of_expiring_deadlines_fails_only_by_deadline() {
    let server = start(Arc::new(Stalls), &Tuning::BALANCED, Duration::ZERO).await;
    let client = client(server.addr).await;
    for round in 0..3 {
        let calls: Vec<_> = (0..1000)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut request = tonic::Request::new(user("42"));
                    request.set_timeout(Duration::from_millis(1));
                    client.get_user_with_metadata(request).await
                })
            })
            .collect();
        for call in calls {
            let status = within("a call to expire", call)
                .await
                .unwrap()
                .expect_err("the handler never answers");
            assert!(
                matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
                "round {round}: {status:?}"
            );
        }
    }
    // The connection is still usable.
    within("a last call", client.clone().get_user(user("ok")))
        .await
        .expect("the connection survived the flood");
}

// ---------------------------------------------------------------- handshake timeout

/// Waits until the server closes `tcp` (end of file or a reset).
async fn closed_by_server(what: &str, tcp: &mut TcpStream) {
    let mut buf = [0u8; 256];
    within(what, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                // The server's SETTINGS, sent once the preface is in: keep reading.
                Ok(_) => continue,
            }
        }
    })
    .await;
}

#[tokio::test]
async fn connections_that_do_not_finish_the_handshake_are_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tuning = Tuning {
        handshake_timeout: Duration::from_millis(300),
        ..Tuning::BALANCED
    };
    let server = start(
        Arc::new(GuideServer::new(dir.path())),
        &tuning,
        Duration::ZERO,
    )
    .await;
    let good = client(server.addr).await;
    good.get_user(user("42")).await.expect("a good call");

    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..12])
        .await
        .unwrap();
    closed_by_server("the silent connection to be closed", &mut silent).await;
    closed_by_server("the half-preface connection to be closed", &mut half).await;

    // The good connection, older than the timeout, is untouched.
    good.get_user(user("42"))
        .await
        .expect("a good call after the timeout");
}

#[tokio::test]
async fn idle_connections_are_closed_and_busy_ones_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tuning = Tuning {
        idle_timeout: Some(Duration::from_millis(300)),
        ..Tuning::BALANCED
    };
    let server = start(
        Arc::new(GuideServer::new(dir.path())),
        &tuning,
        Duration::ZERO,
    )
    .await;
    // A connection with a stream open all along (an endless feed it reads no further,
    // whose stream window fills while the connection's still has room for another call).
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let handshake = h2::client::Builder::new()
        .initial_connection_window_size(16 << 20)
        .handshake(tcp);
    let (mut busy, connection) = within("HTTP/2 handshake", handshake).await.unwrap();
    tokio::spawn(connection);
    let (feed, mut request) = busy
        .send_request(grpc_request("ListEvents", Some("application/grpc")), false)
        .unwrap();
    request
        .send_data(grpc_frame(&pb::EventFilter::default()), true)
        .unwrap();
    let feed = within("the feed's headers", feed)
        .await
        .expect("the feed starts");
    assert_eq!(feed.status(), http::StatusCode::OK);

    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (mut send, connection) = within("HTTP/2 handshake", h2::client::handshake(tcp))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let response = get_user_raw(&mut send, grpc_request("GetUser", Some("application/grpc")));
    let (status, code) = within("a call", finish(response)).await.unwrap();
    assert_eq!((status, code.as_deref()), (http::StatusCode::OK, Some("0")));
    // Idle from now on: the server sends GOAWAY and closes, which ends the client's
    // connection future.
    within("the idle connection to be closed", connection)
        .await
        .unwrap()
        .expect("closed with GOAWAY, not an error");

    // The connection with an open stream, as old, still takes new calls.
    let response = get_user_raw(&mut busy, grpc_request("GetUser", Some("application/grpc")));
    let (status, code) = within("a call on the busy connection", finish(response))
        .await
        .expect("the busy connection was kept");
    assert_eq!((status, code.as_deref()), (http::StatusCode::OK, Some("0")));
}

// ---------------------------------------------------------------- accept backoff

const CHILD_ENV: &str = "RUST_STREAM_ACCEPT_BACKOFF_CHILD";
const CHILD_SOFT_LIMIT: u32 = 32;
const CHILD_HARD_LIMIT: u32 = 128;
const WINDOW: Duration = Duration::from_secs(1);

/// Run by [`failed_accepts_back_off_under_a_file_descriptor_limit`] in a child process
/// whose open-file limit is low; does nothing in a normal test run.
#[tokio::test]
async fn accept_backoff_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    let accepted = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_failure = Arc::new(tokio::sync::Notify::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("child: port={}", listener.local_addr().unwrap().port());
    let counted = {
        let (accepted, failed, first_failure) = (
            Arc::clone(&accepted),
            Arc::clone(&failed),
            Arc::clone(&first_failure),
        );
        Tuning::BALANCED
            .incoming(listener)
            .inspect(move |accept| match accept {
                Ok(_) => {
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) => {
                    if failed.fetch_add(1, Ordering::SeqCst) == 0 {
                        first_failure.notify_one();
                    }
                }
            })
    };
    let dir = tempfile::tempdir().unwrap();
    let router = Tuning::BALANCED
        .server()
        .add_service(StreamingExamplesService::new(GuideServer::new(dir.path())).into_server());
    tokio::spawn(router.serve_with_incoming(counted));
    first_failure.notified().await;
    let at_first = failed.load(Ordering::SeqCst);
    tokio::time::sleep(WINDOW).await;
    println!(
        "child: accepted={} failed_in_window={}",
        accepted.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst) - at_first
    );
    // Serve on until the parent is done with its connections (it closes standard input).
    let _ =
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await;
}

/// The harness's name of `accept_backoff_child`: its module path in the test binary, without
/// the crate's name, so the filter finds it wherever this file sits.
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_crate, module)) => format!("{module}::accept_backoff_child"),
        None => "accept_backoff_child".to_owned(),
    }
}

#[tokio::test]
async fn failed_accepts_back_off_under_a_file_descriptor_limit() {
    let exe = std::env::current_exe().unwrap();
    // The hard limit bounds the child; the soft limit is what the server must raise.
    let script = format!(
        "ulimit -Sn {CHILD_SOFT_LIMIT} && ulimit -Hn {CHILD_HARD_LIMIT} && exec \"$0\" \"$@\""
    );
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(exe)
        .args([
            "--exact",
            &child_test_name(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            // The harness may print the test's name on the same line first.
            if let Some((_, rest)) = line.split_once("child: ") {
                let _ = line_tx.send(rest.trim().to_owned());
            }
        }
    });
    let mut next_line = async || {
        within("a line from the child", line_rx.recv())
            .await
            .expect("the child exited early")
    };
    let port: u16 = next_line()
        .await
        .strip_prefix("port=")
        .unwrap()
        .parse()
        .unwrap();

    // More connections than the hard limit lets the child hold. Each waits in its own
    // task: those the kernel cannot queue either are simply dropped at the end.
    let mut held = tokio::task::JoinSet::new();
    for _ in 0..CHILD_HARD_LIMIT + 32 {
        held.spawn(async move {
            let _connection = TcpStream::connect(("127.0.0.1", port)).await;
            std::future::pending::<()>().await
        });
    }
    let report = next_line().await;
    let field = |name: &str| -> u64 {
        report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {report:?}"))
            .parse()
            .unwrap()
    };
    let (accepted, failed) = (field("accepted"), field("failed_in_window"));
    // Raised to the hard limit: far more than the soft limit's worth were accepted.
    assert!(
        accepted > u64::from(CHILD_SOFT_LIMIT),
        "only {accepted} accepted: the soft limit was not raised"
    );
    // 5 ms doubling: about 8 retries in a second (a spinning loop makes tens of thousands).
    assert!(
        (1..=20).contains(&failed),
        "{failed} failed accepts in {WINDOW:?}"
    );
    drop((held, stdin));
    let _ = child.wait();
}

// ---------------------------------------------------------------- request guard

#[tokio::test]
async fn requests_that_are_not_grpc_get_415_and_oversized_metadata_a_grpc_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(
        Arc::new(GuideServer::new(dir.path())),
        &Tuning::BALANCED,
        Duration::ZERO,
    )
    .await;
    let mut send = h2_connect(server.addr).await;
    let mut call = async |request| {
        let response = get_user_raw(&mut send, request);
        within("an answer", finish(response))
            .await
            .expect("an answer")
    };

    for content_type in [Some("text/plain"), Some("application/json"), None] {
        let (status, code) = call(grpc_request("GetUser", content_type)).await;
        assert_eq!(
            (status, code.as_deref()),
            (http::StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("13")),
            "{content_type:?}"
        );
    }
    for content_type in ["application/grpc", "application/grpc+proto"] {
        let (status, code) = call(grpc_request("GetUser", Some(content_type))).await;
        assert_eq!(
            (status, code.as_deref()),
            (http::StatusCode::OK, Some("0")),
            "{content_type}"
        );
    }
    for size in [20 * 1024, 60 * 1024, 500 * 1024] {
        let mut request = grpc_request("GetUser", Some("application/grpc"));
        request.headers_mut().insert(
            "x-big",
            http::HeaderValue::from_str(&"a".repeat(size)).unwrap(),
        );
        let (status, code) = call(request).await;
        assert_eq!(
            (status, code.as_deref()),
            (http::StatusCode::OK, Some("8")),
            "{size} bytes of metadata"
        );
    }
    // Metadata under the limit still passes, on the same connection.
    let mut request = grpc_request("GetUser", Some("application/grpc"));
    request
        .headers_mut()
        .insert("x-small", http::HeaderValue::from_static("ok"));
    let (status, code) = call(request).await;
    assert_eq!((status, code.as_deref()), (http::StatusCode::OK, Some("0")));
}

//! Each call's own guards, driven by raw HTTP/2 frames where tonic's client cannot produce
//! the input: deadlines from the first byte, malformed `grpc-timeout`, unary calls with two
//! messages, uploads reset at every early point, end callbacks that panic, and the reason
//! the server records for each way a call ends.

use bytes::{BufMut, Bytes, BytesMut};
use rust_stream::{CallConfig, CallContext, EndReason, InboundLimits, RequestStream, ResponseSink};
use rust_stream_examples::adapter::StreamingExamplesHandler;
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::Front;
use rust_stream_tests::{TestServer, pseudo_random, wait_for, within};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tonic::{Code, Status};

const GET_USER: &str = "/streaming.StreamingExamples/GetUser";
const LIST_EVENTS: &str = "/streaming.StreamingExamples/ListEvents";
const UPLOAD: &str = "/streaming.StreamingExamples/UploadChunks";

// ---------------------------------------------------------------- raw HTTP/2 client

/// One HTTP/2 connection driven frame by frame; the connection task ends when dropped.
struct Raw {
    send: h2::client::SendRequest<Bytes>,
    connection: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        let tcp = within("connect", tokio::net::TcpStream::connect(addr))
            .await
            .expect("connect");
        let (send, connection) = within("handshake", h2::client::handshake(tcp))
            .await
            .expect("HTTP/2 handshake");
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        Raw {
            send,
            connection,
            addr,
        }
    }

    /// Opens a gRPC call to `path` with extra headers; the request body stays open.
    async fn open(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
        let mut request = http::Request::post(format!("http://{}{path}", self.addr))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).expect("a valid request");
        let ready = within("a stream slot", self.send.clone().ready())
            .await
            .expect("the connection is up");
        self.send = ready;
        self.send
            .send_request(request, false)
            .expect("the stream opens")
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // Closes the socket at once, as when the client process is killed.
        self.connection.abort();
    }
}

/// `message` with gRPC's 5-byte length prefix.
fn framed(message: &impl prost::Message) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(message.encoded_len() as u32);
    message.encode(&mut buf).expect("encode");
    buf.freeze()
}

/// The `grpc-status` and `grpc-message` the server answered, from the trailers (or the
/// headers of a trailers-only answer).
async fn grpc_status(response: h2::client::ResponseFuture) -> (Code, String) {
    let response = within("the response headers", response)
        .await
        .expect("a response");
    assert_eq!(response.status(), http::StatusCode::OK);
    let (parts, mut body) = response.into_parts();
    let headers = if parts.headers.contains_key("grpc-status") {
        parts.headers
    } else {
        while let Some(data) = within("the response body", body.data()).await {
            let data = data.expect("body data");
            let _ = body.flow_control().release_capacity(data.len());
        }
        within("the trailers", body.trailers())
            .await
            .expect("trailers")
            .expect("trailers with grpc-status")
    };
    let code = headers["grpc-status"]
        .to_str()
        .expect("ascii")
        .parse::<i32>()
        .expect("a number");
    let message = headers
        .get("grpc-message")
        .map(|m| percent_decode(m.as_bytes()))
        .unwrap_or_default();
    (Code::from_i32(code), message)
}

/// `grpc-message` is percent-encoded on the wire.
fn percent_decode(encoded: &[u8]) -> String {
    let mut out = Vec::with_capacity(encoded.len());
    let mut bytes = encoded.iter();
    while let Some(&b) = bytes.next() {
        let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
        match b {
            b'%' => match (hex(bytes.next()), hex(bytes.next())) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => out.push(b'?'),
            },
            b => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn guide() -> (Arc<GuideServer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (Arc::new(GuideServer::new(dir.path())), dir)
}

// ---------------------------------------------------------------- deadlines

async fn a_request_arriving_after_its_deadline_gets_deadline_exceeded_not_cancelled(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let mut raw = Raw::connect(server.addr).await;
    let late = Duration::from_millis(150);
    let cases: [(&str, Bytes); 3] = [
        (GET_USER, framed(&pb::UserRequest { id: "42".into() })),
        (LIST_EVENTS, framed(&pb::EventFilter::default())),
        (
            UPLOAD,
            framed(&pb::Chunk {
                data: vec![1; 10].into(),
            }),
        ),
    ];
    for (path, message) in cases {
        let (response, mut body) = raw.open(path, &[("grpc-timeout", "100m")]).await;
        // The client's own pace: the request message leaves 50 ms after the deadline.
        tokio::time::sleep(late).await;
        // The server may have answered and reset the stream already.
        let _ = body.send_data(message, true);
        let (code, message) = grpc_status(response).await;
        assert_eq!(code, Code::DeadlineExceeded, "{path}: {message}");
    }
}

/// GetUser and UploadChunks that never answer, recording how many calls reached them and
/// how the last one ended.
#[derive(Default)]
struct Stalled {
    entered: watch::Sender<usize>,
    /// The reason, and whether the call ended before the deadline the server computed.
    ended: watch::Sender<Option<(EndReason, bool)>>,
}

impl Stalled {
    async fn stall(&self, ctx: &CallContext) -> ! {
        let (ended, deadline) = (self.ended.clone(), ctx.deadline());
        ctx.on_end(move |reason| {
            let early = deadline.is_some_and(|at| tokio::time::Instant::now() < at);
            ended.send_replace(Some((reason, early)));
        });
        self.entered.send_modify(|n| *n += 1);
        std::future::pending().await
    }

    /// Waits for the next call to end and returns how.
    async fn next_end(&self) -> (EndReason, bool) {
        wait_for("the call to end", &self.ended, Option::is_some).await;
        self.ended.send_replace(None).expect("an end")
    }
}

impl StreamingExamplesHandler for Stalled {
    async fn get_user(
        &self,
        ctx: CallContext,
        _: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        self.stall(&ctx).await
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        _: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        self.stall(&ctx).await
    }
}

async fn a_client_resetting_at_its_deadline_ends_the_call_by_the_deadline(front: Front) {
    let handler = Arc::new(Stalled::default());
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let mut raw = Raw::connect(server.addr).await;
    let user = framed(&pb::UserRequest { id: "42".into() });
    let chunk = framed(&pb::Chunk {
        data: vec![1; 10].into(),
    });
    let timeout = Duration::from_millis(300);
    // The client's timer fires this long before the server's, as when the request took
    // that long to arrive: its reset reaches the server first, unless load delays it past
    // the server's own timer. Either way the call ended because of the deadline, so the
    // outcome does not depend on which timer wins; which instants count as the client's
    // deadline is unit-tested in the runtime (`deadline.rs`).
    let lead = Duration::from_millis(20);
    for (path, message, end_stream) in [(GET_USER, &user, true), (UPLOAD, &chunk, false)] {
        let sent = tokio::time::Instant::now();
        let (_response, mut body) = raw.open(path, &[("grpc-timeout", "300m")]).await;
        body.send_data(message.clone(), end_stream).expect("send");
        // Not a synchronisation: the moment of the reset is what is under test.
        tokio::time::sleep_until(sent + timeout - lead).await;
        body.send_reset(h2::Reason::CANCEL);
        let (reason, reset_first) = handler.next_end().await;
        assert_eq!(
            reason,
            EndReason::DeadlineExceeded,
            "{path} (the reset arrived first: {reset_first})"
        );
    }

    // A client that cancels long before its deadline left of its own accord.
    for (path, message, end_stream) in [(GET_USER, &user, true), (UPLOAD, &chunk, false)] {
        let reached = *handler.entered.borrow() + 1;
        let (_response, mut body) = raw.open(path, &[("grpc-timeout", "10S")]).await;
        body.send_data(message.clone(), end_stream).expect("send");
        wait_for("the handler to run", &handler.entered, |n| *n == reached).await;
        body.send_reset(h2::Reason::CANCEL);
        assert_eq!(
            handler.next_end().await,
            (EndReason::ClientGone, true),
            "{path}"
        );
    }
}

async fn a_malformed_grpc_timeout_answers_internal(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let mut raw = Raw::connect(server.addr).await;
    let request = framed(&pb::UserRequest { id: "42".into() });
    for timeout in [
        "abc",
        "-1S",
        "99999999999H",
        "123456789S",
        "10",
        "1.5S",
        "S",
    ] {
        let (response, mut body) = raw.open(GET_USER, &[("grpc-timeout", timeout)]).await;
        let _ = body.send_data(request.clone(), true);
        let (code, message) = grpc_status(response).await;
        assert_eq!(code, Code::Internal, "{timeout}: {message}");
        assert!(message.contains("grpc-timeout"), "{timeout}: {message}");
    }
    // Well-formed ones, up to the spec's 8 digits, are served.
    for timeout in ["5S", "99999999H", "30000000u"] {
        let (response, mut body) = raw.open(GET_USER, &[("grpc-timeout", timeout)]).await;
        body.send_data(request.clone(), true).expect("send");
        assert_eq!(grpc_status(response).await.0, Code::Ok, "{timeout}");
    }
}

// ---------------------------------------------------------------- unary requests

async fn a_unary_request_with_two_messages_answers_internal(front: Front) {
    let (guide, _dir) = guide();
    let stats = guide.stats();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let mut raw = Raw::connect(server.addr).await;
    let user = framed(&pb::UserRequest { id: "42".into() });
    let filter = framed(&pb::EventFilter::default());
    for (path, message) in [(GET_USER, &user), (LIST_EVENTS, &filter)] {
        // Both in one DATA frame, then in two.
        let (response, mut body) = raw.open(path, &[]).await;
        body.send_data([message.clone(), message.clone()].concat().into(), true)
            .expect("send");
        let (code, text) = grpc_status(response).await;
        assert_eq!(code, Code::Internal, "{path}: {text}");
        assert!(text.contains("one request message"), "{path}: {text}");

        let (response, mut body) = raw.open(path, &[]).await;
        body.send_data(message.clone(), false).expect("send");
        body.send_data(message.clone(), true).expect("send");
        assert_eq!(grpc_status(response).await.0, Code::Internal, "{path}");
    }
    assert_eq!(*stats.feeds_running.borrow(), 0, "no producer ran");
    // One message is still a normal call.
    let (response, mut body) = raw.open(GET_USER, &[]).await;
    body.send_data(user, true).expect("send");
    assert_eq!(grpc_status(response).await.0, Code::Ok);
}

// ---------------------------------------------------------------- uploads

/// Records what the handler read last and how the call ended.
#[derive(Default)]
struct UploadProbe {
    /// `Some(Ok(n))`: the stream ended cleanly after `n` chunks; `Some(Err(code))`: it failed.
    outcome: watch::Sender<Option<Result<u64, Code>>>,
    chunks: watch::Sender<u64>,
    ended: watch::Sender<Option<EndReason>>,
}

struct ReadsUploads(UploadProbe);

impl StreamingExamplesHandler for ReadsUploads {
    async fn upload_chunks(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        let ended = self.0.ended.clone();
        ctx.on_end(move |reason| {
            ended.send_replace(Some(reason));
        });
        loop {
            // Reported in the same poll that read it: hyper may drop the handler next.
            match requests.chunk().await {
                Ok(Some(_)) => {
                    self.0.chunks.send_modify(|n| *n += 1);
                }
                Ok(None) => {
                    let n = requests.messages_received();
                    self.0.outcome.send_replace(Some(Ok(n)));
                    return Ok(pb::UploadResult { bytes_received: n });
                }
                Err(status) => {
                    self.0.outcome.send_replace(Some(Err(status.code())));
                    return Err(status);
                }
            }
        }
    }
}

async fn an_upload_reset_by_its_client_is_never_seen_as_finished(front: Front) {
    let handler = Arc::new(ReadsUploads(UploadProbe::default()));
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let chunk = framed(&pb::Chunk {
        data: vec![7; 1000].into(),
    });
    for sent in [1u64, 2] {
        handler.0.chunks.send_replace(0);
        handler.0.outcome.send_replace(None);
        handler.0.ended.send_replace(None);
        let mut raw = Raw::connect(server.addr).await;
        let (_response, mut body) = raw.open(UPLOAD, &[]).await;
        for _ in 0..sent {
            body.send_data(chunk.clone(), false).expect("send");
        }
        wait_for("the chunks to arrive", &handler.0.chunks, |n| *n == sent).await;
        body.send_reset(h2::Reason::CANCEL);
        wait_for("the handler's verdict", &handler.0.outcome, Option::is_some).await;
        assert_eq!(
            *handler.0.outcome.borrow(),
            Some(Err(Code::Cancelled)),
            "a reset after {sent} chunks must not read as the end of the upload"
        );
        wait_for("the call to end", &handler.0.ended, Option::is_some).await;
        assert_eq!(*handler.0.ended.borrow(), Some(EndReason::ClientGone));
    }
    // A finished upload still ends cleanly.
    handler.0.outcome.send_replace(None);
    let mut raw = Raw::connect(server.addr).await;
    let (response, mut body) = raw.open(UPLOAD, &[]).await;
    body.send_data(chunk.clone(), false).expect("send");
    body.send_data(chunk, true).expect("send");
    assert_eq!(grpc_status(response).await.0, Code::Ok);
    assert_eq!(*handler.0.outcome.borrow(), Some(Ok(2)));
}

/// Many uploads reset at every early point (before any data, after 1-3 DATA frames, in the
/// middle of a message), interleaved with finished ones, against the guide's store.
fn reset_uploads_leave_no_file_and_finished_ones_arrive_byte_exact(front: Front) {
    const UPLOADS: u64 = 240;
    let dir = tempfile::tempdir().expect("temp dir");
    let guide = Arc::new(GuideServer::new(dir.path()));
    let stats = guide.stats();
    // The server runs on its own runtime: dropping it waits for every blocking file
    // operation, so the directory is checked only once nothing can still touch it.
    let server_rt = tokio::runtime::Runtime::new().expect("server runtime");
    let server: TestServer = server_rt.block_on(front.serve(guide, CallConfig::DEFAULT));
    let client_rt = tokio::runtime::Runtime::new().expect("client runtime");
    let finished: Vec<Vec<u8>> = client_rt.block_on(async {
        let mut raw = Raw::connect(server.addr).await;
        let mut finished = Vec::new();
        let mut answers = Vec::new();
        for i in 0..UPLOADS {
            if i % 10 == 0 {
                // A few resets per connection, far below the server's rapid-reset guard.
                for response in answers.drain(..) {
                    assert_eq!(grpc_status(response).await.0, Code::Ok);
                }
                raw = Raw::connect(server.addr).await;
            }
            let payload = pseudo_random(3000 + i as usize, i + 1);
            let message = framed(&pb::Chunk {
                data: payload.clone().into(),
            });
            let (response, mut body) = raw.open(UPLOAD, &[]).await;
            let frames = i % 5;
            if frames == 4 {
                // Finished: two chunks, then END_STREAM.
                body.send_data(message.clone(), false).expect("send");
                body.send_data(message, true).expect("send");
                finished.push([payload.clone(), payload].concat());
                answers.push(response);
                continue;
            }
            for _ in 0..frames {
                let _ = body.send_data(message.clone(), false);
            }
            if i % 2 == 1 {
                // Half a message more: the reset lands mid-message.
                let _ = body.send_data(message.slice(..message.len() / 2), false);
            }
            body.send_reset(h2::Reason::CANCEL);
        }
        for response in answers {
            assert_eq!(grpc_status(response).await.0, Code::Ok);
        }
        finished
    });
    client_rt.block_on(wait_for(
        "every upload handler to stop",
        &stats.uploads_running,
        |n| *n == 0,
    ));
    drop(server);
    drop(server_rt);
    drop(client_rt);

    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("read the store") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.ends_with(".partial"), "left behind: {name}");
        stored.push(std::fs::read(&path).expect("read an upload"));
    }
    stored.sort();
    let mut expected = finished;
    expected.sort();
    assert_eq!(
        stored.len(),
        expected.len(),
        "only the {} finished uploads may be stored",
        expected.len()
    );
    assert!(
        stored == expected,
        "stored uploads differ from the finished ones"
    );
}

// ---------------------------------------------------------------- end callbacks

/// The guide's server, with an end callback on every call that panics, as `println!` does
/// once stdout's reader is gone.
struct PanickingCallbacks(GuideServer);

fn panic_at_end(ctx: &CallContext) {
    ctx.on_end(|reason| panic!("the end callback of a call that ended {reason} panics"));
}

impl StreamingExamplesHandler for PanickingCallbacks {
    async fn get_user(
        &self,
        ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        panic_at_end(&ctx);
        self.0.get_user(ctx, request).await
    }

    async fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        panic_at_end(&ctx);
        self.0.list_events(ctx, request, sink).await
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        panic_at_end(&ctx);
        self.0.upload_chunks(ctx, requests).await
    }

    async fn chat(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        panic_at_end(&ctx);
        self.0.chat(ctx, requests, sink).await
    }
}

async fn a_panicking_end_callback_leaves_every_call_served(front: Front) {
    let dir = tempfile::tempdir().expect("temp dir");
    let guide = GuideServer::new(dir.path());
    let stats = guide.stats();
    let server = front
        .serve(Arc::new(PanickingCallbacks(guide)), CallConfig::DEFAULT)
        .await;
    let client = server.client().await;
    for round in 0..3u64 {
        let user = within(
            "GetUser",
            client.get_user(pb::UserRequest { id: "42".into() }),
        )
        .await
        .unwrap_or_else(|s| panic!("round {round}: {s:?}"));
        assert_eq!(user.name, "Ada Lovelace");
        let status = within(
            "GetUser",
            client.get_user(pb::UserRequest { id: "7".into() }),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "round {round}: {status:?}");

        let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
            .await
            .unwrap_or_else(|s| panic!("round {round}: {s:?}"));
        for id in 1..=3u64 {
            let event = within("an event", events.message()).await.unwrap().unwrap();
            assert_eq!(event.id, id.to_string());
        }
        drop(events);
        wait_for("the feed to stop", &stats.feeds_running, |n| *n == 0).await;

        let data = pseudo_random(100_000, round + 1);
        let uploaded = within(
            "UploadChunks",
            client.upload_chunks_from(std::io::Cursor::new(data.clone()), 4096, |_| {}),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(uploaded.bytes_received, data.len() as u64);

        let (requests, mut replies) = client.chat();
        requests
            .send(pb::Message {
                text: "hi".into(),
                user: "a".into(),
            })
            .await
            .unwrap();
        drop(requests);
        let reply = within("a reply", replies.message()).await.unwrap().unwrap();
        assert_eq!(reply.text, "Delivered: hi");
        assert!(
            within("the end", replies.message())
                .await
                .unwrap()
                .is_none()
        );
    }
}

// ---------------------------------------------------------------- end reasons

/// Records the reason every call ended with, in the order they ended.
#[derive(Default)]
struct Reasons(watch::Sender<Vec<(&'static str, EndReason)>>);

impl Reasons {
    fn watch(&self, ctx: &CallContext) {
        let (reasons, method) = (self.0.clone(), ctx.method());
        ctx.on_end(move |reason| reasons.send_modify(|r| r.push((method, reason))));
    }

    async fn next(&self, seen: &mut usize) -> (&'static str, EndReason) {
        let want = *seen + 1;
        wait_for("a call to end", &self.0, |r| r.len() >= want).await;
        *seen = want;
        self.0.borrow()[want - 1]
    }
}

struct Recorded(GuideServer, Reasons);

impl StreamingExamplesHandler for Recorded {
    async fn get_user(
        &self,
        ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        self.1.watch(&ctx);
        if request.id == "panic" {
            panic!("handler bug");
        }
        self.0.get_user(ctx, request).await
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        self.1.watch(&ctx);
        self.0.upload_chunks(ctx, requests).await
    }
}

async fn the_server_records_exactly_how_each_call_ended(front: Front) {
    let dir = tempfile::tempdir().expect("temp dir");
    let handler = Arc::new(Recorded(GuideServer::new(dir.path()), Reasons::default()));
    let limits = InboundLimits {
        max_total_bytes: Some(10_000),
        max_messages: None,
        idle_timeout: Some(Duration::from_millis(300)),
    };
    let server = front
        .serve(
            Arc::clone(&handler),
            CallConfig::DEFAULT.with_limits(limits),
        )
        .await;
    let reasons = &handler.1;
    let mut seen = 0;
    let chunk = |n: usize| {
        framed(&pb::Chunk {
            data: vec![3; n].into(),
        })
    };

    // A finished call, a handler error, a panic.
    let client = server.client().await;
    within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "42".into() }),
    )
    .await
    .unwrap();
    assert_eq!(
        reasons.next(&mut seen).await,
        (GET_USER, EndReason::Finished)
    );
    within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "7".into() }),
    )
    .await
    .unwrap_err();
    let failed = EndReason::Failed(Code::NotFound);
    assert_eq!(reasons.next(&mut seen).await, (GET_USER, failed));
    within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "panic".into() }),
    )
    .await
    .unwrap_err();
    assert_eq!(
        reasons.next(&mut seen).await,
        (GET_USER, EndReason::Panicked)
    );

    // An upload whose client process dies mid-way: its connection closes under it.
    let mut raw = Raw::connect(server.addr).await;
    let (_response, mut body) = raw.open(UPLOAD, &[]).await;
    body.send_data(chunk(1000), false).expect("send");
    let running = handler.0.stats();
    wait_for("the upload to run", &running.uploads_running, |n| *n == 1).await;
    drop((body, raw));
    assert_eq!(
        reasons.next(&mut seen).await,
        (UPLOAD, EndReason::ClientGone)
    );

    // An upload that stalls past the idle limit.
    let mut raw = Raw::connect(server.addr).await;
    let (response, mut body) = raw.open(UPLOAD, &[]).await;
    body.send_data(chunk(1000), false).expect("send");
    let (code, _) = grpc_status(response).await;
    assert_eq!(code, Code::DeadlineExceeded);
    assert_eq!(
        reasons.next(&mut seen).await,
        (UPLOAD, EndReason::IdleTimeout)
    );

    // An upload over the byte limit.
    let (response, mut body) = raw.open(UPLOAD, &[]).await;
    body.send_data(chunk(6000), false).expect("send");
    body.send_data(chunk(6000), false).expect("send");
    let (code, _) = grpc_status(response).await;
    assert_eq!(code, Code::ResourceExhausted);
    assert_eq!(
        reasons.next(&mut seen).await,
        (UPLOAD, EndReason::LimitExceeded)
    );

    // A finished upload, and one reset by its client.
    let (response, mut body) = raw.open(UPLOAD, &[]).await;
    body.send_data(chunk(1000), true).expect("send");
    assert_eq!(grpc_status(response).await.0, Code::Ok);
    assert_eq!(reasons.next(&mut seen).await, (UPLOAD, EndReason::Finished));
    let (_response, mut body) = raw.open(UPLOAD, &[]).await;
    body.send_data(chunk(1000), false).expect("send");
    wait_for("the upload to run", &running.uploads_running, |n| *n == 1).await;
    body.send_reset(h2::Reason::CANCEL);
    assert_eq!(
        reasons.next(&mut seen).await,
        (UPLOAD, EndReason::ClientGone)
    );

    // A deadline that passes while the handler runs.
    let (response, mut body) = raw.open(UPLOAD, &[("grpc-timeout", "200m")]).await;
    body.send_data(chunk(1000), false).expect("send");
    assert_eq!(grpc_status(response).await.0, Code::DeadlineExceeded);
    assert_eq!(
        reasons.next(&mut seen).await,
        (UPLOAD, EndReason::DeadlineExceeded)
    );
}

// ---------------------------------------------------------------- the options' defaults

/// Each method option's default as the generator declares it (what `rust-stream inspect
/// --json` shows where no level sets it) is the runtime's own: generated code names the
/// runtime's constants, so the two must agree. An option declared without its runtime
/// default here fails.
#[test]
fn declared_option_defaults_are_the_runtimes() {
    use rust_stream::codegen::{Compression, DEFAULT_CHUNK_SIZE};
    use rust_stream_build::options::{MethodOptions, OptionValue, ServiceOptions};
    let config = CallConfig::DEFAULT;
    let millis = |d: Option<Duration>| d.map_or(0, |d| u64::try_from(d.as_millis()).unwrap());
    let count = |n: Option<u64>| OptionValue::Number(n.unwrap_or(0));
    for option in MethodOptions::OPTIONS {
        let runtime = match option.name {
            "buffer" => OptionValue::Number(config.buffer as u64),
            "max_total_bytes" => count(config.limits.max_total_bytes),
            "max_messages" => count(config.limits.max_messages),
            "idle_timeout_ms" => OptionValue::Number(millis(config.limits.idle_timeout)),
            "deadline_ms" => OptionValue::Number(millis(config.default_deadline)),
            "chunk_size" => OptionValue::Number(DEFAULT_CHUNK_SIZE as u64),
            "compression" => {
                assert_eq!(config.compression, Compression::NONE);
                OptionValue::Word("none")
            }
            other => panic!("option `{other}`: add the runtime's default here"),
        };
        assert_eq!(option.default, Some(runtime), "{}", option.name);
    }
    // The tuning preset decides the service options' defaults.
    assert!(ServiceOptions::OPTIONS.iter().all(|o| o.default.is_none()));
}

super::through_both_fronts!(
    tokio a_request_arriving_after_its_deadline_gets_deadline_exceeded_not_cancelled,
    tokio a_client_resetting_at_its_deadline_ends_the_call_by_the_deadline,
    tokio a_malformed_grpc_timeout_answers_internal,
    tokio a_unary_request_with_two_messages_answers_internal,
    tokio an_upload_reset_by_its_client_is_never_seen_as_finished,
    tokio a_panicking_end_callback_leaves_every_call_served,
    tokio the_server_records_exactly_how_each_call_ended,
    sync reset_uploads_leave_no_file_and_finished_ones_arrive_byte_exact,
);

//! The runtime's guards, observed over real loopback sockets with the guide's service.

use futures_util::StreamExt;
use rust_stream::{
    CallConfig, CallContext, EndReason, InboundLimits, RequestStream, ResponseSink, Tuning,
    UploadError,
};
use rust_stream_examples::adapter::{StreamingExamplesHandler, StreamingExamplesStreamClient};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_examples::pb::streaming_examples_client::StreamingExamplesClient;
use rust_stream_tests::Front;
use rust_stream_tests::{PATIENCE, pseudo_random, wait_for, within};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tonic::{Code, Status};

fn guide() -> (Arc<GuideServer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (Arc::new(GuideServer::new(dir.path())), dir)
}

/// Sends on `tx` when dropped: proves a handler's future was dropped (or finished).
struct Dropped(Option<oneshot::Sender<()>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Hands out one drop signal per call and records how each call ended.
#[derive(Default)]
struct Probe {
    dropped: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    ended: watch::Sender<Option<EndReason>>,
}

impl Probe {
    fn arm(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        *self.dropped.lock().unwrap() = Some(tx);
        rx
    }

    fn enter(&self, ctx: &CallContext) -> Dropped {
        let ended = self.ended.clone();
        ctx.on_end(move |reason| {
            ended.send_replace(Some(reason));
        });
        Dropped(self.dropped.lock().unwrap().take())
    }
}

// ---------------------------------------------------------------- server streaming

async fn cancelled_server_stream_stops_the_producer_within_one_item(front: Front) {
    let (guide, _dir) = guide();
    let stats = guide.stats();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let client = server.client().await;
    for round in 0..5 {
        let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
            .await
            .expect("ListEvents starts");
        for expected in 1..=100u64 {
            let event = within("an event", events.message()).await.unwrap().unwrap();
            assert_eq!(event.id, expected.to_string());
            assert_eq!(event.data.len(), 64);
        }
        wait_for("the producer to run", &stats.feeds_running, |n| *n == 1).await;
        drop(events);
        wait_for("the producer to stop", &stats.feeds_running, |n| *n == 0).await;
        let report = stats.last_feed.borrow().expect("a feed report");
        assert!(
            report.produced_after_end() <= 1,
            "round {round}: {report:?} produced more than one event after the server saw the cancel"
        );
        assert!(report.produced >= 100);
    }
}

struct NeverChecks(Probe);

impl StreamingExamplesHandler for NeverChecks {
    /// Never sends, never checks `is_active`: only the runtime can stop it.
    async fn list_events(
        &self,
        ctx: CallContext,
        _request: pb::EventFilter,
        _sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        let _dropped = self.0.enter(&ctx);
        loop {
            tokio::task::yield_now().await;
        }
    }

    /// Waits forever without looking at its context.
    async fn get_user(
        &self,
        ctx: CallContext,
        _: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        let _dropped = self.0.enter(&ctx);
        std::future::pending().await
    }
}

async fn a_handler_that_never_checks_is_dropped_when_the_client_cancels(front: Front) {
    let handler = Arc::new(NeverChecks(Probe::default()));
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let client = server.client().await;

    let dropped = handler.0.arm();
    let events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    drop(events);
    within("the streaming handler to be dropped", dropped)
        .await
        .unwrap();
    assert_eq!(*handler.0.ended.borrow(), Some(EndReason::ClientGone));

    // A unary call abandoned by its client: tonic drops the handler, and the context says so.
    handler.0.ended.send_replace(None);
    let dropped = handler.0.arm();
    let unary = client.clone();
    let call = async move { unary.get_user(pb::UserRequest::default()).await };
    let (abandon, abandoned) = oneshot::channel::<()>();
    let watcher = handler.0.ended.subscribe();
    tokio::spawn(async move {
        tokio::select! {
            _ = call => {}
            _ = abandoned => {}
        }
    });
    // Abandon once the handler is running (its end callback is registered).
    while handler.0.dropped.lock().unwrap().is_some() {
        tokio::task::yield_now().await;
    }
    drop(abandon);
    within("the unary handler to be dropped", dropped)
        .await
        .unwrap();
    assert_eq!(*watcher.borrow(), Some(EndReason::ClientGone));
}

async fn a_handler_that_never_checks_is_dropped_when_the_connection_closes(front: Front) {
    let handler = Arc::new(NeverChecks(Probe::default()));
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let dropped = handler.0.arm();
    let events = {
        let client = server.client().await;
        within("ListEvents", client.list_events(pb::EventFilter::default()))
            .await
            .unwrap()
    };
    // Dropping the last handle closes the channel's connection, not just the stream.
    drop(events);
    within("the handler to be dropped", dropped).await.unwrap();
    assert_eq!(*handler.0.ended.borrow(), Some(EndReason::ClientGone));
}

// ---------------------------------------------------------------- deadlines

#[derive(Default)]
struct Slow(Probe);

impl StreamingExamplesHandler for Slow {
    async fn get_user(
        &self,
        ctx: CallContext,
        _: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        let _dropped = self.0.enter(&ctx);
        std::future::pending().await
    }

    /// Sends one event, then nothing: the deadline must end the call.
    async fn list_events(
        &self,
        ctx: CallContext,
        _: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        let _dropped = self.0.enter(&ctx);
        sink.send(pb::Event::default()).await?;
        std::future::pending().await
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        let _dropped = self.0.enter(&ctx);
        while requests.message().await?.is_some() {}
        std::future::pending().await
    }

    async fn chat(
        &self,
        ctx: CallContext,
        _: RequestStream<pb::Message>,
        _: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        let _dropped = self.0.enter(&ctx);
        std::future::pending().await
    }
}

fn with_timeout<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    rust_stream::codegen::request(message, Some(timeout))
}

/// Waits until the handler's call ended and checks the server's own verdict.
async fn ended_by_deadline(handler: &Slow, dropped: oneshot::Receiver<()>) {
    within("the handler to be stopped", dropped).await.unwrap();
    assert_eq!(*handler.0.ended.borrow(), Some(EndReason::DeadlineExceeded));
}

async fn deadlines_end_every_pattern_with_deadline_exceeded(front: Front) {
    let handler = Arc::new(Slow::default());
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let timeout = Duration::from_millis(300);
    let client = server.client().await.with_timeout(timeout);

    // Unary: tonic's client timer races the server's; either way the caller sees
    // DEADLINE_EXCEEDED, and the server records the deadline as the reason, even when the
    // client's reset came first (`calls.rs` forces that order).
    let dropped = handler.0.arm();
    let status = within("GetUser", client.get_user(pb::UserRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    ended_by_deadline(&handler, dropped).await;

    // Streams: only the server enforces the deadline once the response has started.
    let dropped = handler.0.arm();
    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .expect("the stream starts");
    assert!(
        within("first event", events.message())
            .await
            .unwrap()
            .is_some()
    );
    let status = within("the deadline", events.message()).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    ended_by_deadline(&handler, dropped).await;

    let dropped = handler.0.arm();
    let (_requests, mut replies) = client.chat();
    let status = within("Chat", replies.message()).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    ended_by_deadline(&handler, dropped).await;

    let dropped = handler.0.arm();
    let chunks = futures_util::stream::iter([pb::Chunk {
        data: vec![1; 10].into(),
    }]);
    let status = within(
        "UploadChunks",
        client.upload_chunks_with_metadata(with_timeout(chunks, timeout)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    ended_by_deadline(&handler, dropped).await;
}

async fn the_service_default_deadline_applies_when_the_client_sends_none(front: Front) {
    let config = CallConfig::DEFAULT.with_default_deadline(Some(Duration::from_millis(200)));
    let server = front.serve(Arc::new(Slow::default()), config).await;
    let client = server.client().await;
    let status = within("GetUser", client.get_user(pb::UserRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}

// ---------------------------------------------------------------- uploads

/// An endless upload that reports how many chunks were taken from it and when it is dropped.
fn endless_chunks(
    chunk: usize,
    taken: Arc<AtomicU64>,
    dropped: oneshot::Sender<()>,
) -> impl futures_util::Stream<Item = pb::Chunk> + Send + 'static {
    let guard = Dropped(Some(dropped));
    futures_util::stream::repeat_with(move || {
        let _keep = &guard;
        taken.fetch_add(1, Ordering::SeqCst);
        pb::Chunk {
            data: vec![7u8; chunk].into(),
        }
    })
}

async fn an_upload_over_the_byte_limit_is_refused_and_reading_stops(front: Front) {
    const LIMIT: u64 = 1 << 20;
    let config = CallConfig::DEFAULT.with_limits(InboundLimits {
        max_total_bytes: Some(LIMIT),
        ..InboundLimits::DEFAULT
    });
    let (guide, dir) = guide();
    let stats = guide.stats();
    let server = front.serve(guide, config).await;
    let client = server.client().await;

    let taken = Arc::new(AtomicU64::new(0));
    let (dropped_tx, dropped) = oneshot::channel();
    let chunks = endless_chunks(64 * 1024, Arc::clone(&taken), dropped_tx);
    let status = within("UploadChunks", client.upload_chunks(chunks))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("limit of 1048576 bytes"),
        "{status:?}"
    );
    // The endless upload is dropped: nobody reads it any more.
    within("the upload to be dropped", dropped).await.unwrap();
    // What the client managed to queue is bounded by the limit plus the windows in flight,
    // not by the (endless) upload.
    let sent = taken.load(Ordering::SeqCst) * 64 * 1024;
    let bound = LIMIT + 2 * u64::from(Tuning::BALANCED.stream_window) + (1 << 20);
    assert!(
        sent <= bound,
        "client queued {sent} bytes, more than {bound}"
    );
    wait_for(
        "the upload handler to finish",
        &stats.uploads_running,
        |n| *n == 0,
    )
    .await;
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a partial file was left"
    );
}

async fn message_count_and_idle_limits_answer_with_clear_statuses(front: Front) {
    let config = CallConfig::DEFAULT.with_limits(InboundLimits {
        max_messages: Some(3),
        idle_timeout: Some(Duration::from_millis(200)),
        ..InboundLimits::DEFAULT
    });
    let (guide, _dir) = guide();
    let server = front.serve(guide, config).await;
    let client = server.client().await;

    let four = futures_util::stream::iter((0..4).map(|_| pb::Chunk {
        data: vec![1; 8].into(),
    }));
    let status = within("UploadChunks", client.upload_chunks(four))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("3 messages"), "{status:?}");

    // Steady traffic for twice the idle limit never trips it: each message restarts the wait.
    let steady = CallConfig::DEFAULT.with_limits(InboundLimits {
        idle_timeout: Some(Duration::from_secs(1)),
        ..InboundLimits::DEFAULT
    });
    let (guide, _dir2) = self::guide();
    let steady_server = front.serve(guide, steady).await;
    let steady_client = steady_server.client().await;
    let paced = tokio_stream::StreamExt::take(
        tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(Duration::from_millis(
            50,
        ))),
        40,
    )
    .map(|_| pb::Chunk {
        data: vec![1; 8].into(),
    });
    let started = std::time::Instant::now();
    let result = within("a paced upload", steady_client.upload_chunks(paced))
        .await
        .expect("an upload that never idles for 1 s succeeds");
    assert_eq!(result.bytes_received, 320);
    assert!(started.elapsed() >= Duration::from_millis(1950));

    // One chunk, then silence with the stream left open.
    let stalled = futures_util::stream::iter([pb::Chunk {
        data: vec![1; 8].into(),
    }])
    .chain(futures_util::stream::pending());
    let status = within("UploadChunks", client.upload_chunks(stalled))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("idle"), "{status:?}");
}

async fn a_64_mib_upload_arrives_byte_exact_through_the_chunk_bridge(front: Front) {
    let (guide, dir) = guide();
    let stored = guide.upload_path(1);
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let client = server.client().await;

    let data = pseudo_random(64 << 20, 42);
    let expected = Sha256::digest(&data);
    let progress = Arc::new(watch::Sender::new(rust_stream::Progress {
        bytes: 0,
        chunks: 0,
    }));
    let seen = Arc::clone(&progress);
    let result = within(
        "the upload",
        client.upload_chunks_from(
            std::io::Cursor::new(data),
            rust_stream::DEFAULT_CHUNK_SIZE,
            move |p| {
                seen.send_replace(p);
            },
        ),
    )
    .await
    .expect("upload succeeds");
    assert_eq!(result.bytes_received, 64 << 20);
    assert_eq!(
        *progress.borrow(),
        rust_stream::Progress {
            bytes: 64 << 20,
            chunks: 1024
        }
    );
    let copy = std::fs::read(&stored).expect("the stored upload");
    assert_eq!(Sha256::digest(&copy), expected, "stored bytes differ");
    drop(dir);
}

/// Hashes the upload through `into_reader`, the `AsyncRead` side of the bridge.
struct HashingReader;

impl StreamingExamplesHandler for HashingReader {
    async fn upload_chunks(
        &self,
        _: CallContext,
        requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        use tokio::io::AsyncReadExt;
        let mut reader = requests.into_reader();
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 10_000]; // deliberately not a multiple of the chunk size
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| Status::internal(e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        // Counted bytes are encoded message sizes: payload plus 2 to 4 bytes of field header.
        let (counted, messages) = (
            reader.get_ref().bytes_received(),
            reader.get_ref().messages_received(),
        );
        assert!(
            (total + 2 * messages..=total + 4 * messages).contains(&counted),
            "{counted} for {total}"
        );
        // The digest's first 8 bytes, so the client can compare.
        let digest = hasher.finalize();
        let prefix = u64::from_be_bytes(digest[..8].try_into().unwrap());
        Ok(pb::UploadResult {
            bytes_received: prefix ^ total,
        })
    }
}

async fn the_async_read_bridge_yields_the_exact_bytes(front: Front) {
    let server = front
        .serve(Arc::new(HashingReader), CallConfig::DEFAULT)
        .await;
    let client = server.client().await;
    upload_arrives_exact(&client, pseudo_random(3 * 65536 + 123, 7)).await;
}

/// A reader that fails after `good` bytes.
struct FailingReader {
    good: usize,
}

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.good == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")));
        }
        let n = self.good.min(buf.remaining());
        buf.put_slice(&vec![3u8; n]);
        self.good -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

async fn a_failed_source_resets_the_upload_and_the_server_keeps_nothing(front: Front) {
    let (guide, dir) = guide();
    let stats = guide.stats();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let client = server.client().await;
    let err = within(
        "the upload",
        client.upload_chunks_from(FailingReader { good: 300_000 }, 65536, |_| {}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UploadError::Read(_)), "{err}");
    wait_for("the upload handler to end", &stats.uploads_running, |n| {
        *n == 0
    })
    .await;
    assert_eq!(stats.uploads_stored.load(Ordering::SeqCst), 0);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a partial file was left"
    );
}

async fn an_oversized_message_gets_resource_exhausted_and_the_server_goes_on(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let mut client = server.client().await;
    let too_big = Tuning::BALANCED.max_message_size + 1;
    // tonic's own client, whose encoding limit can be lifted: the helpers keep the tuning's.
    let mut raw = within("connect", StreamingExamplesClient::connect(server.uri()))
        .await
        .expect("connect")
        .max_encoding_message_size(usize::MAX);
    let chunks = futures_util::stream::iter([pb::Chunk {
        data: vec![0; too_big].into(),
    }]);
    let status = within("UploadChunks", raw.upload_chunks(chunks))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(user_name(&mut client, "42").await, "Ada Lovelace");
}

/// The generated client sends every request stream without tonic's encoder, so a request
/// over the server's message size is answered by the server in every pattern:
/// `RESOURCE_EXHAUSTED`, and the server goes on.
async fn an_oversized_request_in_any_pattern_gets_resource_exhausted(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let mut client = server.client().await;
    let huge = "x".repeat(Tuning::BALANCED.max_message_size);

    let request = pb::UserRequest { id: huge.clone() };
    let unary = within("GetUser", client.get_user(request)).await;
    assert_eq!(unary.unwrap_err().code(), Code::ResourceExhausted);

    let filter = pb::EventFilter {
        after: huge.clone(),
    };
    let streamed = match within("ListEvents", client.list_events(filter)).await {
        Err(status) => status,
        Ok(mut events) => within("the events", events.message()).await.unwrap_err(),
    };
    assert_eq!(streamed.code(), Code::ResourceExhausted, "{streamed:?}");

    let (requests, mut replies) = client.chat();
    let message = pb::Message {
        text: huge,
        user: "me".into(),
    };
    // The send may already fail if the server answered first; the answer is what counts.
    let _ = requests.send(message).await;
    let chatted = loop {
        match within("the chat", replies.message()).await {
            Ok(Some(_greeting)) => continue,
            Ok(None) => panic!("the chat ended OK"),
            Err(status) => break status,
        }
    };
    assert_eq!(chatted.code(), Code::ResourceExhausted, "{chatted:?}");
    assert_eq!(user_name(&mut client, "42").await, "Ada Lovelace");
}

/// The upload helper sends chunks without tonic's encoder, so no client-side limit stops
/// a chunk over the server's message size: the server's own check answers.
async fn an_upload_chunk_over_the_message_size_gets_resource_exhausted(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let mut client = server.client().await;
    a_chunk_over_the_message_size_is_refused(&client).await;
    assert_eq!(user_name(&mut client, "42").await, "Ada Lovelace");
}

/// Uploads one chunk a byte over the message size: the server answers `RESOURCE_EXHAUSTED`.
async fn a_chunk_over_the_message_size_is_refused(client: &StreamingExamplesStreamClient) {
    let too_big = Tuning::BALANCED.max_message_size + 1;
    let data = std::io::Cursor::new(vec![1u8; too_big]);
    let err = within(
        "the upload",
        client.upload_chunks_from(data, too_big, |_| {}),
    )
    .await
    .unwrap_err();
    let UploadError::Status(status) = err else {
        panic!("expected a status, got {err}");
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

/// With request compression on, the chunks go through tonic's encoder (compressed) and the
/// server decodes them through tonic (decompressed): the upload arrives byte-exact.
#[tokio::test]
async fn a_compressed_upload_takes_tonics_path_both_ways_and_arrives_byte_exact() {
    let (client, _server) = gzip_client_and_server(Arc::new(HashingReader)).await;
    upload_arrives_exact(&client, pseudo_random(2 * 65536 + 99, 11)).await;
}

/// A compressed request takes tonic's encoder, which the client lets send what the server
/// will judge: a chunk over the message size is answered `RESOURCE_EXHAUSTED` when the
/// server decompresses it, as an uncompressed one is.
#[tokio::test]
async fn a_compressed_chunk_over_the_message_size_gets_resource_exhausted() {
    let (guide, _dir) = guide();
    let (client, _server) = gzip_client_and_server(guide).await;
    a_chunk_over_the_message_size_is_refused(&client).await;
}

/// A server of `handler` that accepts gzip, and a client that compresses every request.
async fn gzip_client_and_server(
    handler: Arc<impl StreamingExamplesHandler>,
) -> (StreamingExamplesStreamClient, rust_stream_tests::TestServer) {
    use rust_stream::{Compression, Encoding};
    use rust_stream_examples::adapter::{StreamingExamplesConfig, StreamingExamplesService};
    let config = CallConfig::DEFAULT.with_compression(Compression {
        accept: &[Encoding::Gzip],
        send: None,
    });
    let service =
        StreamingExamplesService::from_arc(handler).with_config(StreamingExamplesConfig {
            get_user: config,
            list_events: config,
            upload_chunks: config,
            chat: config,
        });
    let tonic_server = service
        .into_server()
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let server =
        rust_stream_tests::serve_router(Tuning::BALANCED.server().add_service(tonic_server)).await;
    let client = server.client().await.with_compression(Encoding::Gzip);
    (client, server)
}

/// Uploads `data` in 64 KiB chunks to a `HashingReader` server and checks that the digest it
/// answers is that of `data`: every byte arrived, in order.
async fn upload_arrives_exact(client: &StreamingExamplesStreamClient, data: Vec<u8>) {
    let digest = Sha256::digest(&data);
    let expected = u64::from_be_bytes(digest[..8].try_into().unwrap()) ^ data.len() as u64;
    let result = within(
        "the upload",
        client.upload_chunks_from(std::io::Cursor::new(data), 65536, |_| {}),
    )
    .await
    .unwrap();
    assert_eq!(result.bytes_received, expected);
}

// ---------------------------------------------------------------- unary and bad input

/// The name `GetUser` answers for `id`: how a test shows the server still serves.
async fn user_name(client: &mut StreamingExamplesStreamClient, id: &str) -> String {
    let request = pb::UserRequest { id: id.into() };
    within("GetUser", client.get_user(request))
        .await
        .unwrap()
        .name
}

async fn get_user_answers_the_demo_user_and_not_found(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let client = server.client().await;
    let user = within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "42".into() }),
    )
    .await
    .unwrap();
    assert_eq!(
        (user.name.as_str(), user.email.as_str()),
        ("Ada Lovelace", "ada@example.com")
    );
    let status = within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "7".into() }),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::NotFound, "User not found")
    );
}

struct Panics;

impl StreamingExamplesHandler for Panics {
    async fn get_user(
        &self,
        _: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        if request.id == "boom" {
            panic!("handler bug");
        }
        Ok(pb::UserResponse {
            name: request.id,
            email: String::new(),
        })
    }

    async fn list_events(
        &self,
        _: CallContext,
        _: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        sink.send(pb::Event {
            id: "1".into(),
            ..Default::default()
        })
        .await?;
        panic!("stream handler bug");
    }
}

async fn a_panicking_handler_fails_its_call_with_internal_and_the_server_goes_on(front: Front) {
    let server = front.serve(Arc::new(Panics), CallConfig::DEFAULT).await;
    let mut client = server.client().await;
    let status = within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "boom".into() }),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains("GetUser"), "{status:?}");

    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    let status = loop {
        match within("events", events.message()).await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without the panic's status"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::Internal, "{status:?}");

    assert_eq!(user_name(&mut client, "ok").await, "ok");
}

async fn unimplemented_methods_answer_unimplemented(front: Front) {
    let server = front.serve(Arc::new(Panics), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let (_requests, mut replies) = client.chat();
    let status = within("Chat", replies.message()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}

async fn a_malformed_request_gets_a_clear_status_and_the_server_goes_on(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let channel = Tuning::BALANCED.connect(server.uri()).await.unwrap();
    // `UploadResult` has a varint where `UserRequest` has a string: not decodable as one.
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    within("ready", grpc.ready()).await.unwrap();
    let codec = tonic_prost::ProstCodec::<pb::UploadResult, pb::UserResponse>::default();
    let path = http::uri::PathAndQuery::from_static("/streaming.StreamingExamples/GetUser");
    let status = within(
        "the malformed call",
        grpc.unary(
            tonic::Request::new(pb::UploadResult { bytes_received: 5 }),
            path,
            codec,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains("decode"), "{status:?}");
    let mut client = StreamingExamplesStreamClient::from_channel(channel);
    assert_eq!(user_name(&mut client, "42").await, "Ada Lovelace");
}

// ---------------------------------------------------------------- call context

struct Introspect;

impl StreamingExamplesHandler for Introspect {
    async fn get_user(
        &self,
        ctx: CallContext,
        _: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        let who = ctx
            .metadata()
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        let remaining = ctx.time_remaining().map_or(0, |t| t.as_millis());
        let peer = ctx
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        Ok(pb::UserResponse {
            name: format!("{who} {} {}", ctx.method(), ctx.is_active()),
            email: format!("{peer} {remaining}"),
        })
    }
}

async fn the_call_context_shows_metadata_peer_method_and_time_left(front: Front) {
    let server = front.serve(Arc::new(Introspect), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let mut request = with_timeout(pb::UserRequest::default(), Duration::from_secs(20));
    request
        .metadata_mut()
        .insert("x-user", "bob".parse().unwrap());
    let user = within("GetUser", client.get_user_with_metadata(request))
        .await
        .unwrap()
        .message;
    assert_eq!(user.name, "bob /streaming.StreamingExamples/GetUser true");
    let (peer, remaining) = user.email.split_once(' ').unwrap();
    assert_eq!(peer, "127.0.0.1");
    let remaining: u128 = remaining.parse().unwrap();
    assert!(
        (10_000..=20_000).contains(&remaining),
        "time remaining {remaining} ms"
    );
}

// ---------------------------------------------------------------- bidirectional

struct GreetFirst(Probe);

impl StreamingExamplesHandler for GreetFirst {
    /// Sends before it reads anything, then echoes.
    async fn chat(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        let _dropped = self.0.enter(&ctx);
        sink.send(pb::Message {
            text: "welcome".into(),
            user: "server".into(),
        })
        .await?;
        while let Some(message) = requests.message().await? {
            sink.send(pb::Message {
                text: message.text,
                user: "echo".into(),
            })
            .await?;
        }
        Ok(())
    }
}

async fn chat_directions_are_independent(front: Front) {
    let handler = Arc::new(GreetFirst(Probe::default()));
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let dropped = handler.0.arm();
    let (requests, mut replies) = client.chat();
    // The server speaks first, while the client has sent nothing.
    let first = within("the greeting", replies.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.text, "welcome");
    for text in ["one", "two"] {
        requests
            .send(pb::Message {
                text: text.into(),
                user: "me".into(),
            })
            .await
            .unwrap();
        let reply = within("the echo", replies.message())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.text, text);
    }
    // Half-close: the server finishes normally.
    drop(requests);
    assert_eq!(within("the end", replies.message()).await.unwrap(), None);
    within("the handler to finish", dropped).await.unwrap();
    assert_eq!(*handler.0.ended.borrow(), Some(EndReason::Finished));
}

async fn a_reset_mid_chat_stops_the_handler_and_other_calls_go_on(front: Front) {
    let handler = Arc::new(GreetFirst(Probe::default()));
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let dropped = handler.0.arm();
    let (requests, mut replies) = client.chat();
    within("the greeting", replies.message())
        .await
        .unwrap()
        .unwrap();
    requests
        .send(pb::Message {
            text: "hi".into(),
            user: "me".into(),
        })
        .await
        .unwrap();
    // Reset: drop the responses while the request side is still open.
    drop(replies);
    within("the handler to be dropped", dropped).await.unwrap();
    assert_eq!(*handler.0.ended.borrow(), Some(EndReason::ClientGone));

    let dropped = handler.0.arm();
    let (_requests, mut replies) = client.chat();
    assert_eq!(
        within("a new chat", replies.message())
            .await
            .unwrap()
            .unwrap()
            .text,
        "welcome"
    );
    drop(replies);
    within("the second handler to be dropped", dropped)
        .await
        .unwrap();
}

async fn guide_chat_delivers_every_message_in_order(front: Front) {
    let (guide, _dir) = guide();
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    let client = server.client().await;
    let (requests, replies) = client.chat();
    let texts: Vec<String> = (0..200).map(|i| format!("message {i}")).collect();
    let sent = texts.clone();
    tokio::spawn(async move {
        for text in sent {
            requests
                .send(pb::Message {
                    text,
                    user: "alice".into(),
                })
                .await
                .unwrap();
        }
    });
    let got: Vec<String> = within("all replies", replies.collect_at_most(1000))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    let want: Vec<String> = texts.iter().map(|t| format!("Delivered: {t}")).collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------- tuning on the wire

/// Produces as fast as the window allows, tracking how far it runs ahead of the client.
#[derive(Default)]
struct RunAhead {
    produced: watch::Sender<u64>,
    received: AtomicU64,
    most_ahead: AtomicU64,
}

impl StreamingExamplesHandler for RunAhead {
    async fn list_events(
        &self,
        _: CallContext,
        _: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        loop {
            let ahead = *self.produced.borrow() - self.received.load(Ordering::SeqCst);
            self.most_ahead.fetch_max(ahead, Ordering::SeqCst);
            sink.send(pb::Event {
                data: vec![0; 64],
                ..Default::default()
            })
            .await?;
            self.produced.send_modify(|n| *n += 1);
        }
    }
}

/// An event is 66 bytes of message plus 5 of gRPC framing.
const EVENT_ON_WIRE: u64 = 71;

async fn a_large_client_window_lets_the_producer_run_ahead_of_an_idle_client(front: Front) {
    let handler = Arc::new(RunAhead::default());
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let client = server.client_with(&Tuning::BALANCED).await;
    let events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    // Half the 1 MiB window's worth of events flows without the client reading any.
    let target = u64::from(Tuning::BALANCED.stream_window) / EVENT_ON_WIRE / 2;
    wait_for("the window to admit events", &handler.produced, |n| {
        *n >= target
    })
    .await;
    drop(events);
}

async fn a_small_client_window_bounds_how_far_the_producer_runs_ahead(front: Front) {
    let handler = Arc::new(RunAhead::default());
    let server = front.serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let client = server.client_with(&Tuning::LOW_LATENCY).await;
    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    for _ in 0..20_000 {
        within("an event", events.message()).await.unwrap().unwrap();
        handler.received.fetch_add(1, Ordering::SeqCst);
    }
    // In flight: the 64 KiB window, the sink buffer (twice, for the batch being handed over), and h2's frame being written.
    let bound = u64::from(Tuning::LOW_LATENCY.stream_window) / EVENT_ON_WIRE
        + u64::from(Tuning::LOW_LATENCY.max_frame_size) / EVENT_ON_WIRE
        + 2 * CallConfig::DEFAULT.buffer as u64;
    let most_ahead = handler.most_ahead.load(Ordering::SeqCst);
    assert!(
        most_ahead <= bound,
        "the producer ran {most_ahead} events ahead, bound {bound}"
    );
    let _ = PATIENCE;
}

/// Not a front's matter: the socket options come from the tuning.
#[tokio::test]
async fn accepted_connections_get_the_tunings_socket_options() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = Tuning::BALANCED.incoming(listener);
    let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accepted = within("a connection", incoming.next())
        .await
        .unwrap()
        .unwrap();
    assert!(accepted.nodelay().unwrap(), "TCP_NODELAY");
    let socket = socket2::SockRef::from(&accepted);
    assert!(socket.keepalive().unwrap(), "SO_KEEPALIVE");
    assert_eq!(
        socket.tcp_keepalive_time().unwrap(),
        Tuning::BALANCED.tcp_keepalive.unwrap()
    );
    assert_eq!(
        socket.tcp_keepalive_interval().unwrap(),
        rust_stream::TCP_KEEPALIVE_INTERVAL
    );
    assert_eq!(
        socket.tcp_keepalive_retries().unwrap(),
        rust_stream::TCP_KEEPALIVE_RETRIES
    );
}

super::through_both_fronts!(
    tokio cancelled_server_stream_stops_the_producer_within_one_item,
    tokio a_handler_that_never_checks_is_dropped_when_the_client_cancels,
    tokio a_handler_that_never_checks_is_dropped_when_the_connection_closes,
    tokio deadlines_end_every_pattern_with_deadline_exceeded,
    tokio the_service_default_deadline_applies_when_the_client_sends_none,
    tokio an_upload_over_the_byte_limit_is_refused_and_reading_stops,
    tokio message_count_and_idle_limits_answer_with_clear_statuses,
    tokio a_64_mib_upload_arrives_byte_exact_through_the_chunk_bridge,
    tokio the_async_read_bridge_yields_the_exact_bytes,
    tokio a_failed_source_resets_the_upload_and_the_server_keeps_nothing,
    tokio an_oversized_message_gets_resource_exhausted_and_the_server_goes_on,
    tokio an_upload_chunk_over_the_message_size_gets_resource_exhausted,
    tokio an_oversized_request_in_any_pattern_gets_resource_exhausted,
    tokio get_user_answers_the_demo_user_and_not_found,
    tokio a_panicking_handler_fails_its_call_with_internal_and_the_server_goes_on,
    tokio unimplemented_methods_answer_unimplemented,
    tokio a_malformed_request_gets_a_clear_status_and_the_server_goes_on,
    tokio the_call_context_shows_metadata_peer_method_and_time_left,
    tokio chat_directions_are_independent,
    tokio a_reset_mid_chat_stops_the_handler_and_other_calls_go_on,
    tokio guide_chat_delivers_every_message_in_order,
    tokio a_large_client_window_lets_the_producer_run_ahead_of_an_idle_client,
    tokio a_small_client_window_bounds_how_far_the_producer_runs_ahead,
);

//! The runtime's per-call `tracing` span, captured by a subscriber in this test process:
//! its fields when the call starts and what is recorded when it is over.

use rust_stream::{CallConfig, CallContext, EndReason, RequestStream, ResponseSink, Tuning};
use rust_stream_examples::adapter::{StreamingExamplesHandler, StreamingExamplesStreamClient};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::{serve, wait_for, within};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use tonic::Status;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The fields of one span or event, as text.
type Fields = BTreeMap<String, String>;

#[derive(Default)]
struct Capture {
    /// Every `grpc_call` span, with all its fields, once it closed.
    closed: watch::Sender<Vec<Fields>>,
    /// Every `grpc_client_call` span (a fleet client's call), once it closed.
    client_closed: watch::Sender<Vec<Fields>>,
    /// Every event's message.
    events: watch::Sender<Vec<String>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct CaptureLayer(&'static Capture);

impl<S> tracing_subscriber::Layer<S> for CaptureLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(&mut Collect(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        if let Some(message) = fields.remove("message") {
            self.0.events.send_modify(|e| e.push(message));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let list = match span.name() {
            "grpc_call" => &self.0.closed,
            "grpc_client_call" => &self.0.client_closed,
            _ => return,
        };
        if let Some(fields) = span.extensions().get::<Fields>() {
            let fields = fields.clone();
            list.send_modify(|c| c.push(fields));
        }
    }
}

/// Installs the capturing subscriber for the whole process: the server's calls run on
/// other threads.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::default());
        let subscriber = tracing_subscriber::registry().with(CaptureLayer(capture));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        capture
    })
}

/// The tests share the process's subscriber: one at a time, so spans are told apart by
/// their order.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The span of the next call to close, the `n`-th (from 1) of this test.
async fn closed_call(capture: &Capture, n: usize) -> Fields {
    wait_for("the call's span to close", &capture.closed, |c| {
        c.len() >= n
    })
    .await;
    let closed = capture.closed.borrow();
    assert_eq!(closed.len(), n, "one span per call: {closed:?}");
    closed[n - 1].clone()
}

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

#[tokio::test]
async fn every_call_has_a_span_with_its_end_reason_and_traffic_each_way() {
    let _serial = SERIAL.lock().await;
    let capture = capture();
    let dir = tempfile::tempdir().expect("temp dir");
    let guide = Arc::new(GuideServer::new(dir.path()));
    let server = serve(guide, CallConfig::DEFAULT).await;
    let client = server.client().await;
    let mut n = capture.closed.borrow().len();
    let mut next = async || {
        n += 1;
        closed_call(capture, n).await
    };

    let request = rust_stream::codegen::request(
        pb::UserRequest { id: "42".into() },
        Some(Duration::from_secs(20)),
    );
    within("GetUser", client.get_user_with_metadata(request))
        .await
        .unwrap();
    let span = next().await;
    assert_eq!(
        field(&span, "method"),
        "/streaming.StreamingExamples/GetUser"
    );
    assert!(field(&span, "peer").starts_with("127.0.0.1:"), "{span:?}");
    assert!(field(&span, "deadline").ends_with('s'), "{span:?}");
    assert_eq!(field(&span, "end_reason"), "finished");
    assert_eq!(field(&span, "messages_in"), "1");
    // The request `{ id: "42" }` is 4 bytes, behind gRPC's 5-byte prefix.
    assert_eq!(field(&span, "bytes_in"), "9");
    assert_eq!(field(&span, "messages_out"), "1");
    let reply = pb::UserResponse {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
    };
    let reply_len = 5 + prost::Message::encoded_len(&reply);
    assert_eq!(field(&span, "bytes_out"), reply_len.to_string());

    within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "7".into() }),
    )
    .await
    .unwrap_err();
    let span = next().await;
    assert_eq!(field(&span, "end_reason"), "failed: NOT_FOUND");
    assert_eq!(field(&span, "messages_out"), "0");
    assert!(!span.contains_key("deadline"), "{span:?}");

    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    for _ in 0..3 {
        within("an event", events.message()).await.unwrap().unwrap();
    }
    drop(events);
    let span = next().await;
    assert_eq!(
        field(&span, "method"),
        "/streaming.StreamingExamples/ListEvents"
    );
    assert_eq!(field(&span, "end_reason"), "client gone");
    let sent: u64 = field(&span, "messages_out").parse().unwrap();
    assert!(sent >= 3, "{span:?}");

    let data = vec![5u8; 200_000];
    let framed: usize = data
        .chunks(65_536)
        .map(|c| {
            5 + prost::Message::encoded_len(&pb::Chunk {
                data: bytes::Bytes::copy_from_slice(c),
            })
        })
        .sum();
    within(
        "UploadChunks",
        client.upload_chunks_from(std::io::Cursor::new(data), 65_536, |_| {}),
    )
    .await
    .unwrap();
    let span = next().await;
    assert_eq!(field(&span, "end_reason"), "finished");
    assert_eq!(field(&span, "messages_in"), "4");
    assert_eq!(field(&span, "bytes_in"), framed.to_string());
}

#[tokio::test]
async fn every_list_events_call_logs_its_report_even_when_they_end_together() {
    // Few enough that their unread events fit the client's connection window together.
    const FEEDS: usize = 4;
    let _serial = SERIAL.lock().await;
    let capture = capture();
    let dir = tempfile::tempdir().expect("temp dir");
    let guide = Arc::new(GuideServer::new(dir.path()));
    let stats = guide.stats();
    let server = serve(guide, CallConfig::DEFAULT).await;
    let client = server.client().await;
    let reports = || {
        capture
            .events
            .borrow()
            .iter()
            .filter(|m| m.starts_with("list_events ended:"))
            .count()
    };
    let before = reports();
    let mut feeds = Vec::new();
    for _ in 0..FEEDS {
        let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
            .await
            .unwrap();
        within("an event", events.message()).await.unwrap().unwrap();
        feeds.push(events);
    }
    wait_for("every feed to run", &stats.feeds_running, |n| {
        *n == FEEDS as u64
    })
    .await;
    drop(feeds);
    wait_for("every feed to stop", &stats.feeds_running, |n| *n == 0).await;
    assert_eq!(reports() - before, FEEDS);
}

/// Streams large responses until its sink is full and reports each time a send has to wait
/// for room; records how each call ended, as its `on_end` callback and its context see it.
struct BlockedInSend {
    /// The calls started so far, to number them.
    calls: std::sync::atomic::AtomicUsize,
    /// The number of the call, for each send that found the buffer full.
    blocked: tokio::sync::mpsc::UnboundedSender<usize>,
    /// `(on_end's reason, ctx.end_reason())` of each call.
    ended: tokio::sync::mpsc::UnboundedSender<(EndReason, Option<EndReason>)>,
}

impl BlockedInSend {
    /// The handler's body in both streaming patterns: `send(..).await?` until the call ends.
    async fn produce<T>(
        &self,
        ctx: CallContext,
        sink: ResponseSink<T>,
        item: impl Fn() -> T,
    ) -> Result<(), Status> {
        let call = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ended = self.ended.clone();
        let seen = ctx.clone();
        ctx.on_end(move |reason| {
            let _ = ended.send((reason, seen.end_reason()));
        });
        loop {
            let mut send = std::pin::pin!(sink.send(item()));
            let mut first = true;
            std::future::poll_fn(|cx| {
                let poll = send.as_mut().poll(cx);
                if poll.is_pending() && std::mem::take(&mut first) {
                    let _ = self.blocked.send(call);
                }
                poll
            })
            .await?;
        }
    }
}

const BLOCKED_PAYLOAD: usize = 16 * 1024;

impl StreamingExamplesHandler for BlockedInSend {
    async fn list_events(
        &self,
        ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        self.produce(ctx, sink, || pb::Event {
            data: vec![7; BLOCKED_PAYLOAD],
            ..Default::default()
        })
        .await
    }

    async fn chat(
        &self,
        ctx: CallContext,
        _requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        self.produce(ctx, sink, || pb::Message {
            text: "x".repeat(BLOCKED_PAYLOAD),
            ..Default::default()
        })
        .await
    }
}

/// Waits until call number `call` waits in `send`, skipping what earlier calls reported.
async fn blocked_in_send(blocked: &mut tokio::sync::mpsc::UnboundedReceiver<usize>, call: usize) {
    let waiting = async {
        while let Some(seen) = blocked.recv().await {
            if seen == call {
                return;
            }
        }
        panic!("the handler lives as long as the server");
    };
    within("the handler to wait in send", waiting).await;
}

/// Issue 18: a client's cancel while the handler waits in `sink.send(..).await?` was
/// sometimes recorded as `Failed(Cancelled)`: the handler saw its send fail and returned
/// on another worker before the call recorded that the client left. Every one of many such
/// cancels, in both streaming patterns, on several workers, must end `ClientGone` in the
/// end callback, the context and the call's span.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_while_the_handler_waits_in_send_always_ends_client_gone() {
    const CALLS: usize = 120;
    let _serial = SERIAL.lock().await;
    let capture = capture();
    let (blocked_tx, mut blocked) = tokio::sync::mpsc::unbounded_channel();
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
    let handler = Arc::new(BlockedInSend {
        calls: Default::default(),
        blocked: blocked_tx,
        ended: ended_tx,
    });
    // A buffer of one and a small client window: the handler blocks after a few sends.
    let server = serve(handler, CallConfig::DEFAULT.with_buffer(1)).await;
    let tuning = Tuning {
        stream_window: 65_535,
        adaptive_window: false,
        ..Tuning::BALANCED
    };
    let client = server.client_with(&tuning).await;
    let spans_before = capture.closed.borrow().len();
    for call in 0..2 * CALLS {
        let call_ends = if call % 2 == 0 {
            let events = within("ListEvents", client.list_events(pb::EventFilter::default()))
                .await
                .expect("ListEvents starts");
            blocked_in_send(&mut blocked, call).await;
            Box::new(events) as Box<dyn Send>
        } else {
            let (requests, replies) = client.chat();
            blocked_in_send(&mut blocked, call).await;
            Box::new((requests, replies)) as Box<dyn Send>
        };
        drop(call_ends);
        let (reason, in_context) = within("the call to end", ended.recv())
            .await
            .expect("the handler lives as long as the server");
        assert_eq!(reason, EndReason::ClientGone, "call {call}");
        assert_eq!(in_context, Some(EndReason::ClientGone), "call {call}");
    }
    wait_for("every call's span to close", &capture.closed, |c| {
        c.len() >= spans_before + 2 * CALLS
    })
    .await;
    let closed = capture.closed.borrow();
    for span in &closed[spans_before..] {
        assert_eq!(field(span, "end_reason"), "client gone", "{span:?}");
    }
}

/// Answers every `GetUser` with `UNAVAILABLE`, as a replica that is draining.
struct Draining;

impl StreamingExamplesHandler for Draining {
    async fn get_user(
        &self,
        _ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        Err(Status::unavailable("draining"))
    }
}

/// A fleet client's call that was retried says so in its span: how many attempts, the
/// replica that answered, and an event naming why it retried and which replica failed.
#[tokio::test]
async fn a_retried_call_shows_its_attempts_and_why_in_its_span() {
    let _serial = SERIAL.lock().await;
    let capture = capture();
    let dir = tempfile::tempdir().expect("temp dir");
    let draining = serve(Arc::new(Draining), CallConfig::DEFAULT).await;
    let serving = serve(Arc::new(GuideServer::new(dir.path())), CallConfig::DEFAULT).await;
    let resolver = rust_stream::StaticResolver::new(vec![draining.addr, serving.addr]);
    let fleet = within(
        "the fleet to connect",
        rust_stream::Fleet::with_resolver("guide.test:50051", resolver).connect(),
    )
    .await
    .expect("both replicas accept connections");
    let client = StreamingExamplesStreamClient::from_channel(fleet);
    let before = capture.client_closed.borrow().len();
    // Round robin sends at least one of two consecutive calls to the draining replica
    // first; `GetUser` has no side effects, so such a call is retried on the other.
    for _ in 0..2 {
        let user = within(
            "GetUser",
            client.get_user(pb::UserRequest { id: "42".into() }),
        )
        .await
        .expect("a draining replica's answer is retried on the other");
        assert_eq!(user.name, "Ada Lovelace");
    }
    wait_for("both client spans to close", &capture.client_closed, |c| {
        c.len() >= before + 2
    })
    .await;
    let spans = capture.client_closed.borrow()[before..].to_vec();
    for span in &spans {
        assert!(field(span, "method").ends_with("/GetUser"), "{span:?}");
        assert_eq!(field(span, "replica"), serving.addr.to_string(), "{span:?}");
        assert!(["1", "2"].contains(&field(span, "attempts")), "{span:?}");
    }
    assert!(
        spans.iter().any(|s| field(s, "attempts") == "2"),
        "a call went to the draining replica first: {spans:?}"
    );
    let why = format!("retrying: UNAVAILABLE from {}", draining.addr);
    assert!(
        capture.events.borrow().iter().any(|e| e == &why),
        "no event {why:?} in {:?}",
        capture.events.borrow()
    );
}

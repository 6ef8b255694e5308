//! gRFC A66 metrics (feature `metrics`) seen by OpenTelemetry's in-memory exporter: every
//! instrument, for OK, failed, cancelled and deadline-exceeded calls of each pattern, on the
//! server, on a client channel and on a generated stream client, with the names, units and
//! buckets of the gRFC's text.

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use rust_stream::{CallConfig, CallContext, Metrics, RequestStream, ResponseSink, Status, Tuning};
use rust_stream_examples::adapter::{
    StreamingExamplesConfig, StreamingExamplesHandler, StreamingExamplesService,
    StreamingExamplesStreamClient,
};
use rust_stream_examples::pb;
use rust_stream_examples::pb::streaming_examples_client::StreamingExamplesClient;
use rust_stream_tests::{TestServer, serve_router, wait_for, within};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

/// A handler told by its first request what to do: `ok`, `fail` (NOT_FOUND), `hang` (after
/// one response, if it streams them) or, for `ListEvents`, `flood` (outrun the client).
#[derive(Default)]
struct Scripted {
    /// Handlers that reached the point where they hang.
    hanging: watch::Sender<u64>,
    /// Set once a `flood` handler's send had to wait for the client.
    flood_blocked: watch::Sender<bool>,
}

const FLOOD_EVENTS: usize = 64;

impl Scripted {
    async fn hang<T>(&self) -> Result<T, Status> {
        self.hanging.send_modify(|n| *n += 1);
        std::future::pending().await
    }

    /// Sends until a send has to wait, says so, then sends the rest.
    async fn flood(&self, sink: &ResponseSink<pb::Event>) -> Result<(), Status> {
        for n in 0..FLOOD_EVENTS {
            let event = pb::Event {
                id: n.to_string(),
                data: vec![0; 256 * 1024],
                ..pb::Event::default()
            };
            let mut send = std::pin::pin!(sink.send(event));
            match futures_util::poll!(send.as_mut()) {
                std::task::Poll::Ready(sent) => sent?,
                std::task::Poll::Pending => {
                    self.flood_blocked.send_replace(true);
                    send.await?;
                }
            }
        }
        Ok(())
    }
}

fn not_found() -> Status {
    Status::not_found("scripted failure")
}

impl StreamingExamplesHandler for Scripted {
    async fn get_user(
        &self,
        _: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        match request.id.as_str() {
            "ok" => Ok(pb::UserResponse::default()),
            "hang" => self.hang().await,
            _ => Err(not_found()),
        }
    }

    async fn list_events(
        &self,
        _: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        if request.after == "flood" {
            return self.flood(&sink).await;
        }
        sink.send(pb::Event::default()).await?;
        match request.after.as_str() {
            "ok" => Ok(()),
            "hang" => self.hang().await,
            _ => Err(not_found()),
        }
    }

    async fn upload_chunks(
        &self,
        _: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        let first = requests.message().await?.unwrap_or_default();
        match &first.data[..] {
            b"ok" => {
                while requests.message().await?.is_some() {}
                Ok(pb::UploadResult::default())
            }
            b"hang" => self.hang().await,
            _ => Err(not_found()),
        }
    }

    async fn chat(
        &self,
        _: CallContext,
        mut requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        let first = requests.message().await?.unwrap_or_default();
        match first.text.as_str() {
            "ok" => {
                sink.send(first).await?;
                while let Some(message) = requests.message().await? {
                    sink.send(message).await?;
                }
                Ok(())
            }
            "hang" => {
                sink.send(first).await?;
                self.hang().await
            }
            _ => Err(not_found()),
        }
    }
}

/// A provider whose metrics the test reads.
struct Exported {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

/// One data point, flattened: a counter's value or a histogram's count and sum.
#[derive(Clone, Debug)]
struct Point {
    attributes: BTreeMap<String, String>,
    count: u64,
    sum: f64,
    bounds: Vec<f64>,
}

/// What one instrument exported.
#[derive(Clone, Debug)]
struct Instrument {
    unit: String,
    histogram: bool,
    points: Vec<Point>,
}

impl Exported {
    fn new() -> Exported {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        Exported { provider, exporter }
    }

    /// Everything recorded so far, by instrument name.
    async fn read(&self) -> BTreeMap<String, Instrument> {
        let (provider, exporter) = (self.provider.clone(), self.exporter.clone());
        // The SDK's flush blocks its caller until the reader's thread has exported.
        tokio::task::spawn_blocking(move || {
            provider.force_flush().expect("flush");
            let exported = exporter.get_finished_metrics().expect("metrics");
            exported.last().map(flatten).unwrap_or_default()
        })
        .await
        .expect("flush task")
    }

    /// Reads until `done` holds for what was exported.
    async fn read_until(
        &self,
        what: &str,
        done: impl Fn(&BTreeMap<String, Instrument>) -> bool,
    ) -> BTreeMap<String, Instrument> {
        let give_up = tokio::time::Instant::now() + rust_stream_tests::PATIENCE;
        loop {
            let read = self.read().await;
            if done(&read) {
                return read;
            }
            let ended = ["rust_stream.server.call.ended", "grpc.client.call.duration"]
                .map(|name| read.get(name).map(|i| &i.points));
            assert!(
                tokio::time::Instant::now() < give_up,
                "timed out waiting for {what}; recorded: {ended:#?}"
            );
            // Polling the exporter: the server records a call once its stream is closed,
            // on the connection's task, after the client has seen the end.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn flatten(resource: &ResourceMetrics) -> BTreeMap<String, Instrument> {
    let attributes = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
        kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let mut out = BTreeMap::new();
    for metric in resource.scope_metrics().flat_map(|s| s.metrics()) {
        let (histogram, points) = match metric.data() {
            AggregatedMetrics::U64(MetricData::Sum(sum)) => (
                false,
                sum.data_points()
                    .map(|p| Point {
                        attributes: attributes(&mut p.attributes()),
                        count: p.value(),
                        sum: p.value() as f64,
                        bounds: Vec::new(),
                    })
                    .collect(),
            ),
            AggregatedMetrics::U64(MetricData::Histogram(h)) => (
                true,
                h.data_points()
                    .map(|p| Point {
                        attributes: attributes(&mut p.attributes()),
                        count: p.count(),
                        sum: p.sum() as f64,
                        bounds: p.bounds().collect(),
                    })
                    .collect(),
            ),
            AggregatedMetrics::F64(MetricData::Histogram(h)) => (
                true,
                h.data_points()
                    .map(|p| Point {
                        attributes: attributes(&mut p.attributes()),
                        count: p.count(),
                        sum: p.sum(),
                        bounds: p.bounds().collect(),
                    })
                    .collect(),
            ),
            other => panic!("unexpected aggregation for {}: {other:?}", metric.name()),
        };
        let instrument = Instrument {
            unit: metric.unit().to_owned(),
            histogram,
            points,
        };
        out.insert(metric.name().to_owned(), instrument);
    }
    out
}

/// The total count of `name`'s points whose attributes include `having`.
fn count(read: &BTreeMap<String, Instrument>, name: &str, having: &[(&str, &str)]) -> u64 {
    read.get(name)
        .map(|i| {
            i.points
                .iter()
                .filter(|p| {
                    having
                        .iter()
                        .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
                })
                .map(|p| p.count)
                .sum()
        })
        .unwrap_or(0)
}

async fn metered_server(metrics: &Metrics, handler: Arc<Scripted>) -> TestServer {
    // A short response buffer, so that a handler outrunning its client waits soon.
    let config = CallConfig::DEFAULT.with_buffer(4);
    let service = StreamingExamplesService::from_arc(handler)
        .with_config(StreamingExamplesConfig {
            get_user: config,
            list_events: config,
            upload_chunks: config,
            chat: config,
        })
        .into_server();
    serve_router(
        Tuning::BALANCED
            .server()
            .with_metrics(metrics)
            .add_service(service),
    )
    .await
}

type Client = StreamingExamplesClient<rust_stream::MeteredChannel<tonic::transport::Channel>>;

const TARGET: &str = "dns:///metrics.test";

async fn metered_client(metrics: &Metrics, server: &TestServer) -> Client {
    let channel = within("connect", Tuning::BALANCED.connect(server.uri()))
        .await
        .expect("connect");
    StreamingExamplesClient::new(metrics.channel(channel, TARGET))
}

/// A request stream of `first`; when `open`, it stays open until the returned sender is
/// dropped (with the call's task: a stream that never ends would keep the call alive in
/// the client's connection whatever the application drops).
fn requests<T: Send + 'static>(
    first: T,
    open: bool,
) -> (ReceiverStream<T>, Option<mpsc::Sender<T>>) {
    let (tx, rx) = mpsc::channel(1);
    tx.try_send(first).expect("room for the first message");
    (ReceiverStream::new(rx), open.then_some(tx))
}

/// Drains a response stream, returning its status code.
async fn drain<T>(stream: Result<tonic::Response<tonic::Streaming<T>>, Status>) -> tonic::Code {
    let mut stream = match stream {
        Ok(response) => response.into_inner(),
        Err(status) => return status.code(),
    };
    loop {
        match stream.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return tonic::Code::Ok,
            Err(status) => return status.code(),
        }
    }
}

/// One call of `method` following `script`, driven to its end; `timeout` sent with it.
async fn call(
    mut client: Client,
    method: &'static str,
    script: &'static str,
    timeout: Option<Duration>,
) {
    let open = script == "hang";
    fn request<T>(message: T, timeout: Option<Duration>) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(timeout) = timeout {
            request.set_timeout(timeout);
        }
        request
    }
    let script = script.to_owned();
    match method {
        "GetUser" => {
            let _ = client
                .get_user(request(pb::UserRequest { id: script }, timeout))
                .await;
        }
        "ListEvents" => {
            let filter = pb::EventFilter { after: script };
            drain(client.list_events(request(filter, timeout)).await).await;
        }
        "UploadChunks" => {
            let chunk = pb::Chunk {
                data: script.into_bytes().into(),
            };
            let (requests, _open) = requests(chunk, open);
            let _ = client.upload_chunks(request(requests, timeout)).await;
        }
        _ => {
            let message = pb::Message {
                text: script,
                ..pb::Message::default()
            };
            let (requests, _open) = requests(message, open);
            drain(client.chat(request(requests, timeout)).await).await;
        }
    }
}

const METHODS: [&str; 4] = ["GetUser", "ListEvents", "UploadChunks", "Chat"];

/// The outcomes under test: script, how the client ends it, the status it ends with and
/// the runtime's end reason on the server.
const OUTCOMES: [(&str, &str, &str); 4] = [
    ("ok", "OK", "finished"),
    ("fail", "NOT_FOUND", "failed"),
    ("cancel", "CANCELLED", "client_gone"),
    ("deadline", "DEADLINE_EXCEEDED", "deadline_exceeded"),
];

async fn run_outcome(
    client: &Client,
    handler: &Scripted,
    method: &'static str,
    outcome: &'static str,
) {
    let what = format!("{method} {outcome}");
    match outcome {
        "cancel" => {
            let hanging = *handler.hanging.borrow();
            let call = tokio::spawn(call(client.clone(), method, "hang", None));
            wait_for(&what, &handler.hanging, |n| *n > hanging).await;
            call.abort();
            let _ = call.await;
        }
        "deadline" => {
            let timeout = Some(Duration::from_millis(300));
            within(&what, call(client.clone(), method, "hang", timeout)).await;
        }
        script => within(&what, call(client.clone(), method, script, None)).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instrument_sees_every_outcome_of_every_pattern() {
    let exported = Exported::new();
    let metrics = Metrics::new(&exported.provider);
    let handler = Arc::new(Scripted::default());
    let server = metered_server(&metrics, Arc::clone(&handler)).await;
    let client = metered_client(&metrics, &server).await;
    for method in METHODS {
        for (outcome, _, _) in OUTCOMES {
            run_outcome(&client, &handler, method, outcome).await;
        }
    }
    let calls = (METHODS.len() * OUTCOMES.len()) as u64;
    let read = exported
        .read_until("every call to be recorded", |read| {
            count(read, "rust_stream.server.call.ended", &[]) == calls
                && count(read, "grpc.client.call.duration", &[]) == calls
        })
        .await;

    for method in METHODS {
        let full = format!("streaming.StreamingExamples/{method}");
        let m = ("grpc.method", full.as_str());
        let t = ("grpc.target", TARGET);
        assert_eq!(
            count(&read, "grpc.server.call.started", &[m]),
            4,
            "{method}"
        );
        assert_eq!(count(&read, "grpc.client.attempt.started", &[m, t]), 4);
        for (outcome, status, reason) in OUTCOMES {
            let s = ("grpc.status", status);
            let why = format!("{method} {outcome}: {read:#?}");
            for name in [
                "grpc.server.call.duration",
                "grpc.server.call.sent_total_compressed_message_size",
                "grpc.server.call.rcvd_total_compressed_message_size",
                "rust_stream.server.call.sent_messages",
                "rust_stream.server.call.rcvd_messages",
            ] {
                assert_eq!(count(&read, name, &[m, s]), 1, "{name} {why}");
            }
            for name in [
                "grpc.client.attempt.duration",
                "grpc.client.call.duration",
                "grpc.client.attempt.sent_total_compressed_message_size",
                "grpc.client.attempt.rcvd_total_compressed_message_size",
            ] {
                assert_eq!(count(&read, name, &[m, t, s]), 1, "{name} {why}");
            }
            let r = ("rust_stream.end_reason", reason);
            let ended = count(&read, "rust_stream.server.call.ended", &[m, s, r]);
            assert_eq!(ended, 1, "{why}");
        }
    }
}

/// A generated stream client built on a metered channel: every call it makes is recorded
/// with its method, the channel's target and the call's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_stream_client_on_a_metered_channel_records_its_calls() {
    let exported = Exported::new();
    let metrics = Metrics::new(&exported.provider);
    let server = metered_server(&metrics, Arc::new(Scripted::default())).await;
    let channel = within("connect", Tuning::BALANCED.connect(server.uri()))
        .await
        .expect("connect");
    let target = "dns:///stream-client.test";
    let client = StreamingExamplesStreamClient::from_channel(metrics.channel(channel, target));

    let user = |id: &str| pb::UserRequest { id: id.into() };
    within("GetUser ok", client.get_user(user("ok")))
        .await
        .expect("GetUser ok");
    let failed = within("GetUser fail", client.get_user(user("fail"))).await;
    assert_eq!(failed.unwrap_err().code(), tonic::Code::NotFound);
    for (script, code) in [("ok", tonic::Code::Ok), ("fail", tonic::Code::NotFound)] {
        let filter = pb::EventFilter {
            after: script.into(),
        };
        let events = within("ListEvents", client.list_events(filter)).await;
        let drained = within(
            "the events",
            events.expect("ListEvents opens").collect_at_most(8),
        )
        .await;
        assert_eq!(drained.err().map_or(tonic::Code::Ok, |s| s.code()), code);
    }

    let read = exported
        .read_until("the stream client's calls to be recorded", |read| {
            count(read, "grpc.client.call.duration", &[]) == 4
        })
        .await;
    let t = ("grpc.target", target);
    for method in ["GetUser", "ListEvents"] {
        let full = format!("streaming.StreamingExamples/{method}");
        let m = ("grpc.method", full.as_str());
        assert_eq!(count(&read, "grpc.client.attempt.started", &[m, t]), 2);
        for status in ["OK", "NOT_FOUND"] {
            let s = ("grpc.status", status);
            for name in ["grpc.client.attempt.duration", "grpc.client.call.duration"] {
                assert_eq!(
                    count(&read, name, &[m, t, s]),
                    1,
                    "{name} {method} {status}"
                );
            }
        }
    }
}

/// The sum of `name`'s single point with `having`.
fn sum(read: &BTreeMap<String, Instrument>, name: &str, having: &[(&str, &str)]) -> f64 {
    let points: Vec<&Point> = read[name]
        .points
        .iter()
        .filter(|p| {
            having
                .iter()
                .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert_eq!(points.len(), 1, "{name} {having:?}: {points:?}");
    points[0].sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_exclude_framing_unknown_methods_are_other_and_slow_clients_are_timed() {
    let exported = Exported::new();
    let metrics = Metrics::new(&exported.provider);
    let handler = Arc::new(Scripted::default());
    let server = metered_server(&metrics, Arc::clone(&handler)).await;
    let mut client = metered_client(&metrics, &server).await;

    let request = pb::UserRequest { id: "ok".into() };
    let request_len = prost::Message::encoded_len(&request) as f64;
    within("GetUser", client.get_user(request)).await.unwrap();

    let mut raw = tonic::client::Grpc::new(metrics.channel(
        Tuning::BALANCED.connect(server.uri()).await.unwrap(),
        TARGET,
    ));
    within("ready", raw.ready()).await.unwrap();
    let unknown = raw.unary(
        tonic::Request::new(pb::UserRequest::default()),
        http::uri::PathAndQuery::from_static("/streaming.StreamingExamples/Nope"),
        tonic_prost::ProstCodec::<pb::UserRequest, pb::UserResponse>::default(),
    );
    let status = within("an unknown method", unknown).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    // Refused by the call layer itself, before any service sees it.
    within("ready", raw.ready()).await.unwrap();
    let mut malformed = tonic::Request::new(pb::UserRequest::default());
    malformed
        .metadata_mut()
        .insert("grpc-timeout", "abc".parse().unwrap());
    let refused = raw.unary(
        malformed,
        http::uri::PathAndQuery::from_static("/streaming.StreamingExamples/GetUser"),
        tonic_prost::ProstCodec::<pb::UserRequest, pb::UserResponse>::default(),
    );
    let status = within("a malformed grpc-timeout", refused)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");

    let filter = pb::EventFilter {
        after: "flood".into(),
    };
    let mut events = within("ListEvents", client.list_events(filter))
        .await
        .unwrap()
        .into_inner();
    // The client reads nothing until the handler has had to wait for it.
    wait_for("the handler to wait", &handler.flood_blocked, |b| *b).await;
    let mut received = 0;
    while within("an event", events.message())
        .await
        .unwrap()
        .is_some()
    {
        received += 1;
    }
    assert_eq!(received, FLOOD_EVENTS);

    let read = exported
        .read_until("the calls to be recorded", |read| {
            count(read, "rust_stream.server.call.ended", &[]) == 4
                && count(read, "grpc.client.call.duration", &[]) == 4
        })
        .await;
    let get_user = ("grpc.method", "streaming.StreamingExamples/GetUser");
    let ok = ("grpc.status", "OK");
    let rcvd = "grpc.server.call.rcvd_total_compressed_message_size";
    assert_eq!(sum(&read, rcvd, &[get_user, ok]), request_len);
    let sent = "grpc.client.attempt.sent_total_compressed_message_size";
    assert_eq!(sum(&read, sent, &[get_user, ok]), request_len);

    // Unregistered, so `other` on the server; the client names what it called.
    let other = [("grpc.method", "other"), ("grpc.status", "UNIMPLEMENTED")];
    assert_eq!(count(&read, "grpc.server.call.started", &[other[0]]), 2);
    assert_eq!(count(&read, "grpc.server.call.duration", &other), 1);
    // So is the call the layer refused for its malformed `grpc-timeout`.
    let refused = [("grpc.method", "other"), ("grpc.status", "INTERNAL")];
    assert_eq!(count(&read, "grpc.server.call.duration", &refused), 1);
    let nope = ("grpc.method", "streaming.StreamingExamples/Nope");
    let unimplemented = ("grpc.status", "UNIMPLEMENTED");
    let duration = "grpc.client.attempt.duration";
    assert_eq!(count(&read, duration, &[nope, unimplemented]), 1);

    let list = ("grpc.method", "streaming.StreamingExamples/ListEvents");
    let wait = "rust_stream.server.call.send_wait_duration";
    assert!(sum(&read, wait, &[list, ok]) > 0.0, "{:?}", read.get(wait));
    // Calls whose sends never waited record no wait at all.
    assert_eq!(count(&read, wait, &[get_user]), 0);
    let sent_messages = "rust_stream.server.call.sent_messages";
    assert_eq!(sum(&read, sent_messages, &[list, ok]), FLOOD_EVENTS as f64);
}

/// gRFC A66's instruments, copied from its text: name, type, unit and attributes.
const A66: [(&str, &str, &str, &[&str]); 9] = [
    (
        "grpc.client.attempt.started",
        "Counter",
        "{attempt}",
        &["grpc.method", "grpc.target"],
    ),
    (
        "grpc.client.attempt.duration",
        "Histogram",
        "s",
        &["grpc.method", "grpc.target", "grpc.status"],
    ),
    (
        "grpc.client.attempt.sent_total_compressed_message_size",
        "Histogram",
        "By",
        &["grpc.method", "grpc.target", "grpc.status"],
    ),
    (
        "grpc.client.attempt.rcvd_total_compressed_message_size",
        "Histogram",
        "By",
        &["grpc.method", "grpc.target", "grpc.status"],
    ),
    (
        "grpc.client.call.duration",
        "Histogram",
        "s",
        &["grpc.method", "grpc.target", "grpc.status"],
    ),
    (
        "grpc.server.call.started",
        "counter",
        "{call}",
        &["grpc.method"],
    ),
    (
        "grpc.server.call.sent_total_compressed_message_size",
        "Histogram",
        "By",
        &["grpc.method", "grpc.status"],
    ),
    (
        "grpc.server.call.rcvd_total_compressed_message_size",
        "Histogram",
        "By",
        &["grpc.method", "grpc.status"],
    ),
    (
        "grpc.server.call.duration",
        "Histogram",
        "s",
        &["grpc.method", "grpc.status"],
    ),
];

/// gRFC A66's latency buckets, copied from its text.
const A66_LATENCY: &str = "0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002,
    0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03,
    0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65,
    0.8, 1, 2, 5, 10, 20, 50, 100";
/// gRFC A66's size buckets, copied from its text.
const A66_SIZE: &str = "0, 1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304,
    16777216, 67108864, 268435456, 1073741824, 4294967296";

fn buckets(text: &str) -> Vec<f64> {
    text.split(',').map(|b| b.trim().parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_units_attributes_and_buckets_are_gfrc_a66s_letter_for_letter() {
    let exported = Exported::new();
    let metrics = Metrics::new(&exported.provider);
    let handler = Arc::new(Scripted::default());
    let server = metered_server(&metrics, Arc::clone(&handler)).await;
    let client = metered_client(&metrics, &server).await;
    within("GetUser", call(client, "GetUser", "ok", None)).await;
    let read = exported
        .read_until("the call to be recorded", |read| {
            count(read, "rust_stream.server.call.ended", &[]) == 1
                && count(read, "grpc.client.call.duration", &[]) == 1
        })
        .await;
    for (name, kind, unit, attributes) in A66 {
        let instrument = read
            .get(name)
            .unwrap_or_else(|| panic!("{name} not exported: {:?}", read.keys()));
        assert_eq!(instrument.unit, unit, "{name}");
        assert_eq!(instrument.histogram, kind == "Histogram", "{name}");
        for point in &instrument.points {
            let keys: Vec<&str> = point.attributes.keys().map(String::as_str).collect();
            let mut expected = attributes.to_vec();
            expected.sort_unstable();
            assert_eq!(keys, expected, "{name}");
            if instrument.histogram {
                let text = if unit == "s" { A66_LATENCY } else { A66_SIZE };
                assert_eq!(point.bounds, buckets(text), "{name}");
            }
        }
    }
    // Whatever else is exported is the runtime's own, under its prefix.
    for name in read.keys().filter(|n| !A66.iter().any(|(a, ..)| a == n)) {
        assert!(name.starts_with("rust_stream."), "{name}");
    }
}

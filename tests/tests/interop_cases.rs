//! gRPC's standard interop cases (grpc/grpc's `doc/interop-test-descriptions.md`), in both
//! directions against grpcio:
//!
//! - our `grpc.testing.TestService` on generated code (below) against the Python case runner
//!   `tests/interop/interop_client.py`;
//! - our case runner on the generated client helpers (below) against the Python servicer
//!   `tests/interop/interop_server.py`, and against our own TestService, for what grpcio
//!   cannot observe (whether a request arrived compressed);
//! - response compression counted on the wire through a proxy, and a request in an encoding
//!   the service does not accept (`UNIMPLEMENTED` with `grpc-accept-encoding`).
//!
//! Every process binds `127.0.0.1:0` and reports the port it got. grpcio comes from the
//! virtual environment `tests/interop/setup-venv.sh` makes under cargo's target dir.

use rust_stream::{CallContext, Encoding, RequestStream, ResponseSink, Tuning};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

// Generated for a service this file uses only in part.
#[allow(dead_code)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/grpc.testing.rs"));
}

use pb::test_service_stream::{TestServiceHandler, TestServiceService, TestServiceStreamClient};
use pb::unimplemented_service_stream::UnimplementedServiceStreamClient;

/// The cases this file runs, in the order of the descriptions document.
const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_streaming",
    "client_compressed_streaming",
    "server_streaming",
    "server_compressed_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    // Not in the document: a rich status (`grpc-status-details-bin`) both ways.
    "status_details",
];

const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";
const ECHO_DETAILS: &str = "x-rust-stream-echo-details";
const SPECIAL_MESSAGE: &str =
    "\t\ntest with whitespace\r\nand Unicode BMP \u{263a} and non-BMP \u{1f608}\t\n";
/// Longest a whole direction may take on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Python case runner -> Rust TestService
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_cases_pass_against_the_rust_test_service() {
    let (uri, server) = rust_server().await;
    let port = uri.rsplit(':').next().unwrap().to_owned();
    let mut command = python_command("interop_client.py");
    command
        .args(["--server_host", "127.0.0.1", "--server_port", &port])
        .arg("--server_checks_compression");
    let lines = run_to_end(command).await;
    server.abort();
    check_report("Python client -> Rust server", &lines);
}

/// gRPC's interop `TestService`, on the generated stream layer.
struct RustTestService;

impl TestServiceHandler for RustTestService {
    async fn empty_call(&self, ctx: CallContext, _request: pb::Empty) -> Result<pb::Empty, Status> {
        echo_metadata(&ctx)?;
        Ok(pb::Empty {})
    }

    async fn unary_call(
        &self,
        ctx: CallContext,
        request: pb::SimpleRequest,
    ) -> Result<pb::SimpleResponse, Status> {
        echo_metadata(&ctx)?;
        check_compressed(&ctx, request.expect_compressed.as_ref())?;
        if let Some(status) = &request.response_status {
            return Err(echo_status(&ctx, status));
        }
        // The service compresses for clients that accept gzip; only on request here.
        if !request.response_compressed.is_some_and(|c| c.value) {
            ctx.disable_compression();
        }
        Ok(pb::SimpleResponse {
            payload: Some(payload(request.response_size)),
        })
    }

    async fn streaming_output_call(
        &self,
        ctx: CallContext,
        request: pb::StreamingOutputCallRequest,
        sink: ResponseSink<pb::StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_metadata(&ctx)?;
        if let Some(status) = &request.response_status {
            return Err(echo_status(&ctx, status));
        }
        respond(&sink, &request.response_parameters).await
    }

    async fn streaming_input_call(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::StreamingInputCallRequest>,
    ) -> Result<pb::StreamingInputCallResponse, Status> {
        echo_metadata(&ctx)?;
        let mut total = 0;
        while let Some(request) = requests.message().await? {
            check_compressed(&ctx, request.expect_compressed.as_ref())?;
            total += body_len(request.payload.as_ref());
        }
        Ok(pb::StreamingInputCallResponse {
            aggregated_payload_size: total,
        })
    }

    async fn full_duplex_call(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::StreamingOutputCallRequest>,
        sink: ResponseSink<pb::StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        // Before the first wait: the echoed initial metadata goes out with the headers.
        echo_metadata(&ctx)?;
        while let Some(request) = requests.message().await? {
            if let Some(status) = &request.response_status {
                return Err(echo_status(&ctx, status));
            }
            respond(&sink, &request.response_parameters).await?;
        }
        Ok(())
    }
}

/// Echo Metadata: `x-grpc-test-echo-initial` back in the headers,
/// `x-grpc-test-echo-trailing-bin` back in the trailers.
fn echo_metadata(ctx: &CallContext) -> Result<(), Status> {
    if let Some(value) = ctx.metadata().get(ECHO_INITIAL) {
        let mut initial = MetadataMap::new();
        initial.insert(ECHO_INITIAL, value.clone());
        ctx.set_initial_metadata(initial)?;
    }
    if let Some(value) = ctx.metadata().get_bin(ECHO_TRAILING) {
        let mut trailing = MetadataMap::new();
        trailing.insert_bin(ECHO_TRAILING, value.clone());
        ctx.set_trailing_metadata(trailing)?;
    }
    Ok(())
}

/// CompressedRequest: a request expected compressed that was not answers `INVALID_ARGUMENT`.
fn check_compressed(ctx: &CallContext, expect: Option<&pb::BoolValue>) -> Result<(), Status> {
    let compressed = ctx
        .metadata()
        .get("grpc-encoding")
        .is_some_and(|e| e != "identity");
    if expect.is_some_and(|e| e.value) && !compressed {
        return Err(Status::invalid_argument(
            "the request was expected compressed",
        ));
    }
    Ok(())
}

/// Echo Status, with a rich status when the request asks for one.
fn echo_status(ctx: &CallContext, status: &pb::EchoStatus) -> Status {
    let code = Code::from_i32(status.code);
    if ctx.metadata().contains_key(ECHO_DETAILS) {
        let detail = prost_types_any(status);
        rust_stream::rich_status(code, status.message.clone(), vec![detail])
    } else {
        Status::new(code, status.message.clone())
    }
}

fn prost_types_any(status: &pb::EchoStatus) -> prost_types::Any {
    prost_types::Any {
        type_url: "type.googleapis.com/grpc.testing.EchoStatus".to_owned(),
        value: prost::Message::encode_to_vec(status),
    }
}

/// One response per parameter, each after its interval.
async fn respond(
    sink: &ResponseSink<pb::StreamingOutputCallResponse>,
    parameters: &[pb::ResponseParameters],
) -> Result<(), Status> {
    for parameter in parameters {
        if parameter.interval_us > 0 {
            let interval = Duration::from_micros(u64::try_from(parameter.interval_us).unwrap_or(0));
            tokio::time::sleep(interval).await;
        }
        sink.send(pb::StreamingOutputCallResponse {
            payload: Some(payload(parameter.size)),
        })
        .await?;
    }
    Ok(())
}

fn payload(size: i32) -> pb::Payload {
    pb::Payload {
        r#type: pb::PayloadType::Compressable as i32,
        body: vec![0; usize::try_from(size).unwrap_or(0)],
    }
}

fn body_len(payload: Option<&pb::Payload>) -> i32 {
    payload.map_or(0, |p| i32::try_from(p.body.len()).unwrap_or(i32::MAX))
}

// ---------------------------------------------------------------------------------------------
// Rust case runner (generated client helpers) -> Python TestService
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_cases_pass_against_the_python_test_service() {
    let mut server = PythonServer::start().await;
    let uri = format!("http://{}", server.addr);
    let lines = run_cases(&uri, Peer::Grpcio).await;
    server.stop();
    check_report("Rust client -> Python server", &lines);
}

/// Our own client against our own server: the checks grpcio cannot make of our server
/// (whether a request arrived compressed, whether a response was).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_cases_pass_against_the_rust_test_service() {
    let (uri, server) = rust_server().await;
    let lines = run_cases(&uri, Peer::Ours).await;
    server.abort();
    check_report("Rust client -> Rust server", &lines);
}

/// A request compressed with an encoding the service does not accept (it accepts gzip) is
/// refused with `UNIMPLEMENTED`, and `grpc-accept-encoding` names what it accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_an_encoding_the_server_does_not_accept_is_unimplemented() {
    let (uri, server) = rust_server().await;
    let client = TestServiceStreamClient::connect(uri).await.unwrap();
    let status = client
        .clone()
        .with_compression(Encoding::Zstd)
        .unary_call(large_request(None, None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    let accepted = status
        .metadata()
        .get("grpc-accept-encoding")
        .map(|v| v.to_str().unwrap());
    assert_eq!(accepted, Some("gzip,identity"), "{status:?}");
    // gzip itself is accepted.
    let response = client
        .with_compression(Encoding::Gzip)
        .unary_call(large_request(Some(true), None))
        .await
        .unwrap();
    check_large(&response).unwrap();
    server.abort();
}

/// Response compression, measured on the wire: a 314,159-byte payload of zeros takes a few
/// hundred bytes compressed. tonic hides the message flag, so a proxy counts what the server
/// sends: compressed when asked, uncompressed (`ctx.disable_compression()`) when not, and a
/// whole response stream compressed by the service's setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_compresses_only_when_asked() {
    let (uri, server) = rust_server().await;
    let (proxy_uri, sent) = counting_proxy(uri.trim_start_matches("http://").to_owned()).await;
    let client = TestServiceStreamClient::connect(proxy_uri).await.unwrap();
    let measure = async |compressed: bool| {
        let before = sent.load(Ordering::SeqCst);
        let response = client
            .unary_call(large_request(None, Some(compressed)))
            .await
            .unwrap();
        check_large(&response).unwrap();
        sent.load(Ordering::SeqCst) - before
    };
    let compressed = measure(true).await;
    let uncompressed = measure(false).await;
    assert!(
        compressed < 20_000,
        "compressed response took {compressed} bytes"
    );
    assert!(
        uncompressed > 314_159,
        "uncompressed response took {uncompressed} bytes"
    );

    let before = sent.load(Ordering::SeqCst);
    let mut responses = client
        .streaming_output_call(output_request(&[31_415, 92_653], None))
        .await
        .unwrap();
    assert_eq!(read_sizes(&mut responses).await.unwrap(), [31_415, 92_653]);
    let streamed = sent.load(Ordering::SeqCst) - before;
    assert!(streamed < 20_000, "compressed stream took {streamed} bytes");
    server.abort();
}

/// A TCP proxy to `target` on a free port; counts the bytes the target sends back.
async fn counting_proxy(target: String) -> (String, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                }
            });
        }
    });
    (uri, sent)
}

/// The TestService on this process's runtime, on a free port.
async fn rust_server() -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        Tuning::BALANCED
            .server()
            .add_service(TestServiceService::new(RustTestService).into_server())
            .serve(listener),
    );
    (uri, server)
}

/// Who serves the cases: what can be checked differs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// grpcio: cannot tell whether a request arrived compressed, and compresses a response
    /// stream only message by message, without `grpc-encoding` in the headers.
    Grpcio,
    /// Our TestService: checks `expect_compressed`, and compresses a whole response stream.
    Ours,
}

/// Runs every case, each on a fresh channel, and reports one line each.
async fn run_cases(uri: &str, peer: Peer) -> Vec<String> {
    let mut lines = Vec::new();
    for case in CASES {
        let outcome = tokio::time::timeout(PATIENCE, run_case(case, uri, peer)).await;
        let line = match outcome {
            Ok(Ok(())) => format!("{case}: ok"),
            Ok(Err(problem)) => format!("{case}: FAILED {problem}"),
            Err(_) => format!("{case}: FAILED timed out"),
        };
        eprintln!("{line}");
        lines.push(line);
    }
    lines
}

/// Runs one case against the TestService at `uri` on a fresh channel.
async fn run_case(case: &str, uri: &str, peer: Peer) -> Result<(), String> {
    let client = TestServiceStreamClient::connect(uri.to_owned())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    match case {
        "empty_unary" => empty_unary(client).await,
        "large_unary" => large_unary(client).await,
        "client_compressed_unary" => client_compressed_unary(client, peer).await,
        "server_compressed_unary" => server_compressed_unary(client).await,
        "client_streaming" => client_streaming(client).await,
        "client_compressed_streaming" => client_compressed_streaming(client, peer).await,
        "server_streaming" => server_streaming(client).await,
        "server_compressed_streaming" => server_compressed_streaming(client, peer).await,
        "ping_pong" => ping_pong(client).await,
        "empty_stream" => empty_stream(client).await,
        "custom_metadata" => custom_metadata(client).await,
        "status_code_and_message" => status_code_and_message(client, "test status message").await,
        "special_status_message" => status_code_and_message(client, SPECIAL_MESSAGE).await,
        "unimplemented_method" => unimplemented_method(client).await,
        "unimplemented_service" => unimplemented_service(uri).await,
        "cancel_after_begin" => cancel_after_begin(client).await,
        "cancel_after_first_response" => cancel_after_first_response(client).await,
        "timeout_on_sleeping_server" => timeout_on_sleeping_server(client).await,
        "status_details" => status_details(client).await,
        other => Err(format!("unknown case {other}")),
    }
}

/// Fails with `what` unless `condition` holds.
fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

fn failed(what: &str) -> impl FnOnce(Status) -> String + '_ {
    move |status| format!("{what}: {}", rust_stream::status_line(&status))
}

fn large_request(
    expect_compressed: Option<bool>,
    response_compressed: Option<bool>,
) -> pb::SimpleRequest {
    pb::SimpleRequest {
        response_size: 314_159,
        payload: Some(payload(271_828)),
        expect_compressed: expect_compressed.map(|value| pb::BoolValue { value }),
        response_compressed: response_compressed.map(|value| pb::BoolValue { value }),
        ..Default::default()
    }
}

fn check_large(response: &pb::SimpleResponse) -> Result<(), String> {
    let body = response
        .payload
        .as_ref()
        .map(|p| &p.body[..])
        .unwrap_or_default();
    ensure(
        body.len() == 314_159 && body.iter().all(|b| *b == 0),
        || format!("response payload of {} bytes", body.len()),
    )
}

async fn empty_unary(client: TestServiceStreamClient) -> Result<(), String> {
    client
        .empty_call(pb::Empty {})
        .await
        .map_err(failed("EmptyCall"))?;
    Ok(())
}

async fn large_unary(client: TestServiceStreamClient) -> Result<(), String> {
    let response = client
        .unary_call(large_request(None, None))
        .await
        .map_err(failed("UnaryCall"))?;
    check_large(&response)
}

/// The probe tells whether the server checks compression (grpcio's servicer API does not show
/// it; ours does); the compressed and uncompressed calls must succeed either way.
async fn client_compressed_unary(
    client: TestServiceStreamClient,
    peer: Peer,
) -> Result<(), String> {
    let probe = client.unary_call(large_request(Some(true), None)).await;
    probe_result(probe.map(|_| ()), peer)?;
    let compressed = client.clone().with_compression(Encoding::Gzip);
    let response = compressed
        .unary_call(large_request(Some(true), None))
        .await
        .map_err(failed("compressed UnaryCall"))?;
    check_large(&response)?;
    let response = client
        .unary_call(large_request(Some(false), None))
        .await
        .map_err(failed("uncompressed UnaryCall"))?;
    check_large(&response)
}

fn probe_result(probe: Result<(), Status>, peer: Peer) -> Result<(), String> {
    match probe {
        Err(status) if status.code() == Code::InvalidArgument => Ok(()),
        Ok(()) if peer == Peer::Grpcio => Ok(()),
        Ok(()) => Err("the uncompressed probe was accepted".into()),
        Err(status) => Err(format!("probe: {}", rust_stream::status_line(&status))),
    }
}

/// The message flag is not visible through tonic; the response's `grpc-encoding` is. A
/// server may name an encoding and still send a message uncompressed (tonic does), so only a
/// compressed response is checked here; `our_server_compresses_only_when_asked` counts bytes.
async fn server_compressed_unary(client: TestServiceStreamClient) -> Result<(), String> {
    for compressed in [true, false] {
        let reply = client
            .unary_call_with_metadata(tonic::Request::new(large_request(None, Some(compressed))))
            .await
            .map_err(failed("UnaryCall"))?;
        check_large(&reply.message)?;
        let encoding = reply
            .headers
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok());
        let was = encoding.is_some_and(|e| e != "identity");
        ensure(was || !compressed, || {
            format!("response_compressed {compressed}, grpc-encoding {encoding:?}")
        })?;
    }
    Ok(())
}

fn input(size: usize, expect_compressed: Option<bool>) -> pb::StreamingInputCallRequest {
    pb::StreamingInputCallRequest {
        payload: Some(payload(i32::try_from(size).unwrap())),
        expect_compressed: expect_compressed.map(|value| pb::BoolValue { value }),
    }
}

async fn client_streaming(client: TestServiceStreamClient) -> Result<(), String> {
    let requests: Vec<_> = [27_182, 8, 1_828, 45_904].map(|n| input(n, None)).into();
    let response = client
        .streaming_input_call(futures_util::stream::iter(requests))
        .await
        .map_err(failed("StreamingInputCall"))?;
    ensure(response.aggregated_payload_size == 74_922, || {
        format!(
            "aggregated_payload_size {}",
            response.aggregated_payload_size
        )
    })
}

/// tonic compresses every message of a call or none, so the second message goes compressed
/// too (the document asks for it uncompressed).
async fn client_compressed_streaming(
    client: TestServiceStreamClient,
    peer: Peer,
) -> Result<(), String> {
    let probe = client
        .streaming_input_call(futures_util::stream::iter([input(27_182, Some(true))]))
        .await;
    probe_result(probe.map(|_| ()), peer)?;
    let compressed = client.with_compression(Encoding::Gzip);
    let requests = [input(27_182, Some(true)), input(45_904, Some(false))];
    let response = compressed
        .streaming_input_call(futures_util::stream::iter(requests))
        .await
        .map_err(failed("compressed StreamingInputCall"))?;
    ensure(response.aggregated_payload_size == 73_086, || {
        format!(
            "aggregated_payload_size {}",
            response.aggregated_payload_size
        )
    })
}

fn output_request(sizes: &[i32], compressed: Option<bool>) -> pb::StreamingOutputCallRequest {
    pb::StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| pb::ResponseParameters {
                size,
                compressed: compressed.map(|value| pb::BoolValue { value }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

async fn read_sizes(
    responses: &mut rust_stream::Responses<pb::StreamingOutputCallResponse>,
) -> Result<Vec<usize>, String> {
    let mut sizes = Vec::new();
    while let Some(response) = responses.message().await.map_err(failed("reading"))? {
        sizes.push(response.payload.map_or(0, |p| p.body.len()));
    }
    Ok(sizes)
}

async fn server_streaming(client: TestServiceStreamClient) -> Result<(), String> {
    let mut responses = client
        .streaming_output_call(output_request(&[31_415, 9, 2_653, 58_979], None))
        .await
        .map_err(failed("StreamingOutputCall"))?;
    let sizes = read_sizes(&mut responses).await?;
    ensure(sizes == [31_415, 9, 2_653, 58_979], || {
        format!("sizes {sizes:?}")
    })?;
    ensure(responses.trailers().is_some(), || {
        "no trailers after OK".into()
    })
}

/// The per-message flag is not visible through tonic: from our server, the call's
/// `grpc-encoding` says the stream was compressed (grpcio names none in its headers).
async fn server_compressed_streaming(
    client: TestServiceStreamClient,
    peer: Peer,
) -> Result<(), String> {
    let mut request = output_request(&[31_415], Some(true));
    request
        .response_parameters
        .extend(output_request(&[92_653], Some(false)).response_parameters);
    let mut responses = client
        .streaming_output_call(request)
        .await
        .map_err(failed("StreamingOutputCall"))?;
    let encoding = responses
        .headers()
        .and_then(|h| h.get("grpc-encoding"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if peer == Peer::Ours {
        ensure(encoding.as_deref() == Some("gzip"), || {
            format!("grpc-encoding {encoding:?}")
        })?;
    }
    let sizes = read_sizes(&mut responses).await?;
    ensure(sizes == [31_415, 92_653], || format!("sizes {sizes:?}"))
}

fn duplex_request(size: i32, body: i32) -> pb::StreamingOutputCallRequest {
    pb::StreamingOutputCallRequest {
        payload: Some(payload(body)),
        ..output_request(&[size], None)
    }
}

async fn ping_pong(client: TestServiceStreamClient) -> Result<(), String> {
    let (requests, mut responses) = client.full_duplex_call();
    for (size, body) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)] {
        requests
            .send(duplex_request(size, body))
            .await
            .map_err(failed("send"))?;
        let response = responses
            .message()
            .await
            .map_err(failed("reading"))?
            .ok_or("the stream ended early")?;
        let got = response.payload.map_or(0, |p| p.body.len());
        ensure(got == usize::try_from(size).unwrap(), || {
            format!("size {got}, want {size}")
        })?;
    }
    drop(requests);
    ensure(
        responses.message().await.map_err(failed("end"))?.is_none(),
        || "more than four responses".into(),
    )
}

async fn empty_stream(client: TestServiceStreamClient) -> Result<(), String> {
    let (requests, mut responses) = client.full_duplex_call();
    drop(requests);
    let sizes = read_sizes(&mut responses).await?;
    ensure(sizes.is_empty(), || format!("responses {sizes:?}"))
}

fn echo_request_metadata(metadata: &mut MetadataMap) {
    metadata.insert(ECHO_INITIAL, "test_initial_metadata_value".parse().unwrap());
    metadata.insert_bin(
        ECHO_TRAILING,
        MetadataValue::from_bytes(&[0xab, 0xab, 0xab]),
    );
}

fn check_echoed(
    what: &str,
    headers: Option<&MetadataMap>,
    trailers: Option<&MetadataMap>,
) -> Result<(), String> {
    let initial = headers
        .and_then(|h| h.get(ECHO_INITIAL))
        .and_then(|v| v.to_str().ok());
    ensure(initial == Some("test_initial_metadata_value"), || {
        format!("{what}: initial metadata {initial:?} in {headers:?}")
    })?;
    let trailing = trailers
        .and_then(|t| t.get_bin(ECHO_TRAILING))
        .and_then(|v| v.to_bytes().ok());
    ensure(trailing.as_deref() == Some(&[0xab, 0xab, 0xab][..]), || {
        format!("{what}: trailing metadata {trailing:?} in {trailers:?}")
    })
}

async fn custom_metadata(client: TestServiceStreamClient) -> Result<(), String> {
    let mut request = tonic::Request::new(large_request(None, None));
    echo_request_metadata(request.metadata_mut());
    let reply = client
        .unary_call_with_metadata(request)
        .await
        .map_err(failed("UnaryCall"))?;
    check_large(&reply.message)?;
    check_echoed("UnaryCall", Some(&reply.headers), Some(&reply.trailers))?;

    let mut metadata = MetadataMap::new();
    echo_request_metadata(&mut metadata);
    let (requests, mut responses) = client.full_duplex_call_with_metadata(metadata);
    requests
        .send(duplex_request(314_159, 271_828))
        .await
        .map_err(failed("send"))?;
    drop(requests);
    let sizes = read_sizes(&mut responses).await?;
    ensure(sizes == [314_159], || format!("sizes {sizes:?}"))?;
    check_echoed("FullDuplexCall", responses.headers(), responses.trailers())
}

fn echo_status_request(message: &str) -> pb::EchoStatus {
    pb::EchoStatus {
        code: 2,
        message: message.to_owned(),
    }
}

fn check_status(what: &str, status: &Status, message: &str) -> Result<(), String> {
    ensure(
        status.code() == Code::Unknown && status.message() == message,
        || format!("{what}: got {:?} {:?}", status.code(), status.message()),
    )
}

async fn status_code_and_message(
    client: TestServiceStreamClient,
    message: &str,
) -> Result<(), String> {
    let request = pb::SimpleRequest {
        response_status: Some(echo_status_request(message)),
        ..Default::default()
    };
    let status = client
        .unary_call(request)
        .await
        .err()
        .ok_or("UnaryCall succeeded")?;
    check_status("UnaryCall", &status, message)?;

    let (requests, mut responses) = client.full_duplex_call();
    requests
        .send(pb::StreamingOutputCallRequest {
            response_status: Some(echo_status_request(message)),
            ..Default::default()
        })
        .await
        .map_err(failed("send"))?;
    drop(requests);
    let status = loop {
        match responses.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return Err("FullDuplexCall ended with OK".into()),
            Err(status) => break status,
        }
    };
    check_status("FullDuplexCall", &status, message)
}

async fn unimplemented_method(client: TestServiceStreamClient) -> Result<(), String> {
    let status = client
        .unimplemented_call(pb::Empty {})
        .await
        .err()
        .ok_or("UnimplementedCall succeeded")?;
    ensure(status.code() == Code::Unimplemented, || {
        format!("got {status:?}")
    })
}

async fn unimplemented_service(uri: &str) -> Result<(), String> {
    let client = UnimplementedServiceStreamClient::connect(uri.to_owned())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let status = client
        .unimplemented_call(pb::Empty {})
        .await
        .err()
        .ok_or("UnimplementedService/UnimplementedCall succeeded")?;
    ensure(status.code() == Code::Unimplemented, || {
        format!("got {status:?}")
    })
}

/// The call is started (its request body is being polled), then cancelled by dropping it:
/// the future never answers, and the channel serves the next call.
async fn cancel_after_begin(client: TestServiceStreamClient) -> Result<(), String> {
    let (started, begun) = tokio::sync::oneshot::channel::<()>();
    let mut started = Some(started);
    let requests = futures_util::stream::poll_fn(move |_| {
        if let Some(started) = started.take() {
            let _ = started.send(());
        }
        std::task::Poll::Pending::<Option<pb::StreamingInputCallRequest>>
    });
    let again = client.clone();
    let call = tokio::spawn(async move { client.streaming_input_call(requests).await });
    begun
        .await
        .map_err(|_| "the call never started".to_owned())?;
    call.abort();
    match call.await {
        Err(join) if join.is_cancelled() => {}
        other => return Err(format!("the call ended on its own: {other:?}")),
    }
    again
        .empty_call(pb::Empty {})
        .await
        .map_err(failed("EmptyCall after the cancel"))?;
    Ok(())
}

/// Dropping the responses after the first one resets the call; the requests half sees it
/// end.
async fn cancel_after_first_response(client: TestServiceStreamClient) -> Result<(), String> {
    let (requests, mut responses) = client.full_duplex_call();
    requests
        .send(duplex_request(31_415, 27_182))
        .await
        .map_err(failed("send"))?;
    let first = responses
        .message()
        .await
        .map_err(failed("reading"))?
        .ok_or("no response")?;
    ensure(first.payload.map_or(0, |p| p.body.len()) == 31_415, || {
        "size".into()
    })?;
    drop(responses);
    within("the request stream to close", requests.closed()).await
}

async fn timeout_on_sleeping_server(client: TestServiceStreamClient) -> Result<(), String> {
    let client = client.with_timeout(Duration::from_millis(1));
    let (requests, mut responses) = client.full_duplex_call();
    // The send may fail once the deadline has already ended the call.
    let _ = requests
        .send(pb::StreamingOutputCallRequest {
            payload: Some(payload(27_182)),
            ..Default::default()
        })
        .await;
    let outcome = loop {
        match responses.message().await {
            Ok(Some(_)) => {}
            other => break other,
        }
    };
    match outcome {
        Err(status) if status.code() == Code::DeadlineExceeded => Ok(()),
        other => Err(format!("got {other:?}")),
    }
}

async fn status_details(client: TestServiceStreamClient) -> Result<(), String> {
    let echo = pb::EchoStatus {
        code: Code::FailedPrecondition as i32,
        message: "d\u{e9}tails \u{263a}".to_owned(),
    };
    let mut request = tonic::Request::new(pb::SimpleRequest {
        response_status: Some(echo.clone()),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert(ECHO_DETAILS, "1".parse().unwrap());
    let status = client
        .unary_call_with_metadata(request)
        .await
        .err()
        .ok_or("UnaryCall succeeded")?;
    ensure(
        status.code() == Code::FailedPrecondition && status.message() == echo.message,
        || format!("status {status:?}"),
    )?;
    let details = rust_stream::status_details(&status).ok_or("no grpc-status-details-bin")?;
    ensure(
        details.code == echo.code
            && details.message == echo.message
            && details.details == [prost_types_any(&echo)],
        || format!("details {details:?}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Every case reported `ok`, one line each, nothing else failed.
fn check_report(direction: &str, lines: &[String]) {
    let report = lines.join("\n");
    for case in CASES {
        let line = format!("{case}: ok");
        assert!(
            lines.contains(&line),
            "{direction}: `{case}` did not pass:\n{report}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("FAILED")),
        "{direction}:\n{report}"
    );
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(PATIENCE, future)
        .await
        .map_err(|_| format!("timed out waiting for {what}"))
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The venv's Python, creating the venv on first use (and after requirements change).
fn python() -> &'static Path {
    rust_stream_tests::interop_python(env!("CARGO_TARGET_TMPDIR"))
}

fn python_command(script: &str) -> Command {
    let mut command = Command::new(python());
    command
        .arg("-u")
        .arg(interop_dir().join(script))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("GRPC_VERBOSITY", "ERROR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

/// Runs `command` to its end (on a blocking thread, so the server in this process keeps
/// serving) and returns its lines.
async fn run_to_end(mut command: Command) -> Vec<String> {
    let output = tokio::time::timeout(
        PATIENCE,
        tokio::task::spawn_blocking(move || command.output().expect("start the Python runner")),
    )
    .await
    .expect("the Python case runner did not finish")
    .unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        output.status.success(),
        "the Python case runner failed ({}):\n{}",
        output.status,
        lines.join("\n")
    );
    lines
}

/// The Python servicer, on a free port it reports.
struct PythonServer {
    child: Child,
    addr: String,
}

impl PythonServer {
    async fn start() -> PythonServer {
        tokio::task::spawn_blocking(|| {
            let mut child = python_command("interop_server.py")
                .args(["--port", "0"])
                .spawn()
                .expect("start the Python server");
            let stdout = child.stdout.take().unwrap();
            let mut line = String::new();
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("read the Python server's address");
            let addr = line
                .trim()
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
                .to_owned();
            PythonServer { child, addr }
        })
        .await
        .unwrap()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn the_cases_match_the_python_runner() {
    let runner = std::fs::read_to_string(interop_dir().join("interop_client.py")).unwrap();
    for case in CASES {
        assert!(
            runner.contains(&format!("def {case}(")),
            "interop_client.py lacks {case}"
        );
    }
}

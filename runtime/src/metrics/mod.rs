//! gRFC A66's metrics, and the runtime's own, through OpenTelemetry (feature `metrics`).
//!
//! [`Metrics`] holds every instrument, made once from the `MeterProvider` a user hands in;
//! `server` records one server call from what `CallLayer` already counts, `client` one
//! client call through [`MeteredChannel`]. Without the feature none of this is compiled, and
//! a server or channel not given a [`Metrics`] records nothing.

mod client;
pub(crate) mod server;

pub use client::{MeteredChannel, MeteredFuture};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use std::sync::Arc;
use tonic::Code;

/// The attribute naming the method (gRFC A66).
const METHOD: &str = "grpc.method";
/// The attribute naming the status code (gRFC A66).
const STATUS: &str = "grpc.status";
/// The attribute naming a client's target (gRFC A66).
const TARGET: &str = "grpc.target";
/// The attribute naming how a server call ended, beyond its status (the runtime's own).
const END_REASON: &str = "rust_stream.end_reason";
/// The `grpc.method` of a call no registered handler served (gRFC A66).
const OTHER: &str = "other";

/// gRFC A66's latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 41] = [
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
    0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16,
    0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];
/// gRFC A66's size buckets, in bytes.
const SIZE_BUCKETS: [f64; 14] = [
    0.0, 1024.0, 2048.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0, 268435456.0, 1073741824.0, 4294967296.0,
];
/// gRFC A66's count buckets.
const COUNT_BUCKETS: [f64; 18] = [
    0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
    8192.0, 16384.0, 32768.0, 65536.0,
];

/// The instruments of gRFC A66 (and the runtime's own), for a server
/// ([`TunedServer::with_metrics`](crate::TunedServer::with_metrics)) and for clients
/// ([`Metrics::channel`]).
///
/// Made from the `MeterProvider` the application exports with (an OpenTelemetry SDK
/// provider with an OTLP or Prometheus exporter): as gRFC A66 asks, nothing falls back on
/// OpenTelemetry's global provider. Cloning is cheap; one `Metrics` serves any number of
/// servers and channels. `docs/metrics.md` lists every instrument.
///
/// Server calls are named by their method when a generated (or derived) handler served
/// them; anything else (an unknown method, or a service without the runtime's adapters,
/// such as tonic-health) is recorded as `other`, so a client cannot grow the metrics'
/// cardinality with made-up method names.
#[derive(Clone)]
pub struct Metrics {
    instruments: Arc<Instruments>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Instruments {
    server_started: Counter<u64>,
    server_duration: Histogram<f64>,
    server_sent: Histogram<u64>,
    server_rcvd: Histogram<u64>,
    server_ended: Counter<u64>,
    server_sent_messages: Histogram<u64>,
    server_rcvd_messages: Histogram<u64>,
    server_send_wait: Histogram<f64>,
    client_attempt_started: Counter<u64>,
    client_attempt_duration: Histogram<f64>,
    client_call_duration: Histogram<f64>,
    client_sent: Histogram<u64>,
    client_rcvd: Histogram<u64>,
}

impl Metrics {
    /// Makes every instrument from `provider`'s meter `rust-stream` (with the crate's
    /// version, as gRFC A66 asks of a gRPC library).
    pub fn new(provider: &impl MeterProvider) -> Metrics {
        let scope = opentelemetry::InstrumentationScope::builder("rust-stream")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let meter = provider.meter_with_scope(scope);
        Metrics {
            instruments: Arc::new(Instruments::new(&meter)),
        }
    }

    /// Wraps a client channel (tonic's `Channel`, or any service a tonic client calls
    /// through) so that every call made through it is recorded, with `target` (the URI the
    /// channel was made for, such as `dns:///api.example.com:443`) as its `grpc.target`.
    pub fn channel<S>(&self, inner: S, target: impl Into<String>) -> MeteredChannel<S> {
        MeteredChannel::new(inner, self.clone(), target.into())
    }
}

impl Instruments {
    fn new(meter: &Meter) -> Instruments {
        let latency = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_description(description)
                .with_unit("s")
                .with_boundaries(LATENCY_BUCKETS.to_vec())
                .build()
        };
        let size = |name: &'static str, description: &'static str| {
            meter
                .u64_histogram(name)
                .with_description(description)
                .with_unit("By")
                .with_boundaries(SIZE_BUCKETS.to_vec())
                .build()
        };
        let messages = |name: &'static str, description: &'static str| {
            meter
                .u64_histogram(name)
                .with_description(description)
                .with_unit("{message}")
                .with_boundaries(COUNT_BUCKETS.to_vec())
                .build()
        };
        let counter = |name: &'static str, unit: &'static str, description: &'static str| {
            meter
                .u64_counter(name)
                .with_description(description)
                .with_unit(unit)
                .build()
        };
        Instruments {
            server_started: counter(
                "grpc.server.call.started",
                "{call}",
                "The total number of RPCs started, including those that have not completed.",
            ),
            server_duration: latency(
                "grpc.server.call.duration",
                "End-to-end time an RPC takes from the server transport's perspective.",
            ),
            server_sent: size(
                "grpc.server.call.sent_total_compressed_message_size",
                "Compressed bytes sent across all response messages per RPC, framing excluded.",
            ),
            server_rcvd: size(
                "grpc.server.call.rcvd_total_compressed_message_size",
                "Compressed bytes received across all request messages per RPC, framing excluded.",
            ),
            server_ended: counter(
                "rust_stream.server.call.ended",
                "{call}",
                "RPCs ended, by how they ended (rust_stream.end_reason) and their status.",
            ),
            server_sent_messages: messages(
                "rust_stream.server.call.sent_messages",
                "Response messages sent per RPC.",
            ),
            server_rcvd_messages: messages(
                "rust_stream.server.call.rcvd_messages",
                "Request messages received per RPC (the chunks of an upload).",
            ),
            server_send_wait: latency(
                "rust_stream.server.call.send_wait_duration",
                "Time a streaming handler's sends waited for a slow client per RPC.",
            ),
            client_attempt_started: counter(
                "grpc.client.attempt.started",
                "{attempt}",
                "The total number of RPC attempts started, including those that have not completed.",
            ),
            client_attempt_duration: latency(
                "grpc.client.attempt.duration",
                "End-to-end time taken to complete an RPC attempt.",
            ),
            client_call_duration: latency(
                "grpc.client.call.duration",
                "End-to-end time the gRPC library takes to complete an RPC.",
            ),
            client_sent: size(
                "grpc.client.attempt.sent_total_compressed_message_size",
                "Compressed bytes sent across all request messages per attempt, framing excluded.",
            ),
            client_rcvd: size(
                "grpc.client.attempt.rcvd_total_compressed_message_size",
                "Compressed bytes received across all response messages per attempt, framing excluded.",
            ),
        }
    }
}

/// gRPC's name of `code`, as `grpc.status` carries it (`OK`, `NOT_FOUND`).
fn status_name(code: Code) -> &'static str {
    crate::client::code_name(code)
}

/// The status code in a `grpc-status` header or trailer.
pub(crate) fn sent_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
    Some(Code::from_i32(value))
}

/// The bytes of `messages` gRPC messages whose wire form (5-byte prefix each) took `bytes`:
/// A66's sizes exclude gRPC's framing.
fn payload(bytes: u64, messages: u64) -> u64 {
    bytes.saturating_sub(messages.saturating_mul(5))
}

/// `/pkg.Service/Method` as A66's `grpc.method` spells it: `pkg.Service/Method`.
fn method_name(path: &str) -> String {
    path.strip_prefix('/').unwrap_or(path).to_owned()
}

fn attr(key: &'static str, value: impl Into<opentelemetry::Value>) -> KeyValue {
    KeyValue::new(key, value)
}

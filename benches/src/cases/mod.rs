//! The benchmark cases, one module each.

pub mod cancel;
pub mod codegen;
pub mod derive;
pub mod events;
pub mod fleet;
pub mod link;
pub mod metrics;
pub mod pingpong;
pub mod pinned;
pub mod slow;
pub mod upload;

use crate::plain::PlainConfig;
use crate::report::Report;
use crate::servers::{self, Kind, Running};
use crate::{Case, Plan};
use std::net::{IpAddr, Ipv4Addr};

/// Any error of a case.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs `case`, adding its rows to `report`.
pub async fn run(case: Case, plan: &Plan, report: &mut Report) -> Result<(), Error> {
    match case {
        Case::Upload => upload::run(plan, report).await,
        Case::Link => link::run(plan, report).await,
        Case::Events => events::run(plan, report).await,
        Case::Pingpong => pingpong::run(plan, report).await,
        Case::Cancel => cancel::run(plan, report).await,
        Case::Slow => slow::run(plan, report).await,
        Case::Codegen => codegen::run(plan, report).await,
        Case::Pinned => pinned::run(plan, report).await,
        Case::Derive => derive::run(plan, report).await,
        Case::Metrics => metrics::run(plan, report).await,
        Case::Fleet => fleet::run(plan, report).await,
    }
}

/// The order in which `n` subjects run in repetition `rep`: rotated every repetition, so no
/// subject always runs first (on a warm or a busy machine).
pub fn order(rep: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + rep) % n)
}

/// Runs `subjects` subjects interleaved for the plan's repetitions, in [`order`], after one
/// warm-up round (not counted, and skipped in smoke mode) so that no subject pays for
/// first-touch page faults: `measure(subject, warmup)` runs one subject once and gives its
/// figure, with a smaller workload when `warmup` is true. Gives each subject's figures.
pub async fn interleaved<F, Fut>(
    plan: &Plan,
    subjects: usize,
    mut measure: F,
) -> Result<Vec<Vec<f64>>, Error>
where
    F: FnMut(usize, bool) -> Fut,
    Fut: std::future::Future<Output = Result<f64, Error>>,
{
    let mut figures = vec![Vec::new(); subjects];
    let warmup = usize::from(!plan.smoke);
    for rep in 0..plan.reps + warmup {
        for subject in order(rep, subjects) {
            let figure = measure(subject, rep < warmup).await?;
            if rep >= warmup {
                figures[subject].push(figure);
            }
        }
    }
    Ok(figures)
}

/// The subjects of the event-feed cases (3, 5, 6): both generated presets and their plain
/// tonic reference, which is last.
pub const FEED_SUBJECTS: [(&str, Kind); 3] = [
    ("generated (LOW_LATENCY)", Kind::Generated("low_latency")),
    ("generated (BALANCED)", Kind::Generated("balanced")),
    ("plain tonic", Kind::Plain(PlainConfig::Default)),
];

/// Starts one in-process server per subject, in order.
pub async fn start_all(subjects: &[(&str, Kind)]) -> Result<Vec<Running>, Error> {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut running = Vec::new();
    for (_, kind) in subjects {
        running.push(servers::start(kind, ip).await?);
    }
    Ok(running)
}

/// MiB/s for `bytes` in `secs`.
pub fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / secs
}

/// How each case is measured, printed under the table.
pub const METHOD: &str = "## How each case is measured

- Servers: \"plain\" is the hand-written tonic service in `benches/src/plain.rs` (tonic's default
  codegen and builders, `mpsc` + `ReceiverStream` as in tonic's examples); \"generated\" is the
  service on `rust_stream_examples::adapter` (the names the generator emits) with the handler in
  `benches/src/generated.rs`, doing the same work. Both count bytes or events and discard them.
- 1. Upload, loopback: client and server in this process on 127.0.0.1, a fresh connection per
  transfer, timed from the call's start to its response. Plain: tonic defaults, a reader task
  copies 64 KiB chunks into `Vec<u8>` messages. Generated: the service's `TUNING` (BALANCED) on
  both sides and `upload_chunks_from` over the same in-memory reader. Raw TCP: the same bytes in
  64 KiB writes on a bare socket, ended by the server's 8-byte answer, once from one static
  buffer (the link's limit) and once with each write first read from the same reader as the
  uploads (the copy a file upload cannot skip).
- 2. Upload over a long link: the server runs in a child process (in a network namespace when
  it can be created, see the note), the client connects through the harness's delay proxy
  (`benches/src/proxy.rs`), which delivers every byte a fixed one-way delay after it arrived,
  in each direction, holding up to 512 MiB per direction and limiting nothing else. Raw TCP
  through the same proxy is the link's limit.
- 3. Server streaming: one call streams N events (64-byte payload, an id and a type), timed from
  the call to the last event read; events/s.
- 4. Ping-pong: one bidi call per run, 100 warm-up rounds, then each round sends one message and
  waits for its echo; p50 and p99 of the rounds of each run.
- 5. Cancellation: a producer as fast as it can go; the client reads 100 events and drops the
  stream. \"After the server learned\": events produced after the instant the server learned of
  the cancel (generated: `CallContext::on_end`; plain: the instant hyper dropped the response
  stream, observed by a wrapper). \"After the client's cancel\": events produced after the
  client dropped the stream (the server's counter read at that instant, in the same process).
  \"Time to stop\": from the client's cancel until the producer stopped. Each run uses a fresh
  connection; the worst of the runs is judged.
- 6. Slow consumer: each server in its own child process; the client reads 10 events/s from an
  endless feed; the server process's resident set (VmRSS) is sampled every 100 ms and the peak
  growth over its value before the call is reported, with the growth during the second half
  (zero when memory is bounded).
- 7. Code generation: a synthetic FileDescriptorSet (one file per 15 services, 8 methods per
  service, two of each streaming pattern, a request and a response message per method),
  each generator run in a fresh child process: wall time and peak resident set (VmHWM), on all
  the machine's cores and pinned to one core (`taskset --cpu-list 0`; both generators then see
  one core), each pair back to back in the same repetition.
- 8. Non-reading client: each server in a fresh child process, its resident set (VmRSS) taken
  once it stopped growing (no 1% rise for 1 s), idle (the reference) and then with one
  connection that opened N endless ListEvents streams in raw HTTP/2 frames, granted windows of
  2^31 - 1 bytes and never reads the socket; with 64 B, 64 KiB and 1 MiB events (plain tonic
  with 64 B only: it buffers 128 events a stream). The generated handler reserves room in its
  sink before building each event.
- 9. Derive vs build.rs: crates with the same proto and the same handler file, one with
  `#[derive(StreamService)]` (once as is, once with `[profile.dev.build-override] opt-level = 3`,
  which compiles the macro and the generator optimized), one with a `build.rs` calling the
  build API, built by cargo in the dev profile in one shared target directory with every
  dependency already compiled (in smoke mode the optimized derive optimizes only the macro
  crate, `[profile.dev.package.rust-stream-macros]`, so that the runtime's dependencies are not
  compiled a second time for the build scripts the override changes). Clean
  build: `cargo clean -p <crate>` then `cargo build`. Incremental check: `cargo check` after
  rewriting the handler file (a new string in one method's body), which expands the derive
  again and does not rerun the build script. For `proto/streaming.proto` and a generated
  400-method service (the patterns in turn on two messages).
- 10. Metrics: case 3's stream of small events from the generated server (BALANCED) without
  metrics, from the same server given `Metrics` (gRFC A66 and the runtime's own instruments,
  aggregated by the OpenTelemetry SDK), and from plain tonic, in rotating order per
  repetition. The harness builds the runtime with its `metrics` feature, so \"off\" is the
  feature compiled in but not enabled: an upper bound on the cost of a build without it,
  where none of the code exists.
- 11. Fleet: three generated servers (BALANCED) in this process on 127.0.0.2, .3 and .4; the
  generated client over one connection to the first, and over a `FleetChannel` resolving to
  all three (round robin, the methods' retry policies armed). Unary `GetUser` calls, 32 in
  flight at once, and 8 concurrent `ListEvents` streams sharing the case-3 event count; then
  one more unary run through the fleet alone, counting the calls each replica answered.
  Client and servers share the machine's cores, so the fleet cannot win by adding capacity:
  the ratio is the cost of balancing and of the retry layer.
";

//! The guide's `StreamingExamples` server on rust-stream.
//!
//! Prints `listening on <addr>` once bound (use `--addr 127.0.0.1:0` for a free port). Then it
//! logs through `tracing` to stdout, filtered by `RUST_LOG` (default `info`), one line per
//! event with the message first so scripts can match lines: a line per call as it ends
//! (`call <method> ended: <reason>`, the moment the server learned it, the reason as
//! `EndReason`'s `Debug`), a line per finished `ListEvents` call with the producer's
//! counters, and each call's span as it closes (`grpc_call{method=.. peer=.. deadline=..
//! end_reason=.. messages_in=.. bytes_in=.. messages_out=.. bytes_out=..}`).
//!
//! SIGINT or SIGTERM shuts it down: new calls are refused, open streams end with
//! `UNAVAILABLE`, other calls get `--shutdown-grace` seconds to finish, then it exits.
//!
//! `--max-upload-bytes` and `--max-message-bytes` tighten the service's limits (the interop
//! tests use them to check the statuses a client gets when it goes over);
//! `--max-connection-age` recycles connections sooner than the service's tuning does (the
//! fleet tests use it to move clients between replicas under load).

use clap::Parser;
use rust_stream::{CallContext, RequestStream, ResponseSink, Status};
use rust_stream_examples::adapter::{
    StreamingExamplesConfig, StreamingExamplesHandler, StreamingExamplesService, TUNING,
};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Serve the guide's StreamingExamples service")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    /// Directory where uploads are stored.
    #[arg(long, default_value_os_t = std::env::temp_dir().join("rust-stream-uploads"))]
    store_dir: PathBuf,
    /// Most payload bytes one `UploadChunks` call may carry; beyond it the upload fails with
    /// `RESOURCE_EXHAUSTED`. Default: the runtime's (1 GiB).
    #[arg(long)]
    max_upload_bytes: Option<u64>,
    /// Largest single request message accepted, in bytes. Default: the service's tuning
    /// (16 MiB).
    #[arg(long)]
    max_message_bytes: Option<usize>,
    /// On SIGINT or SIGTERM, how long open calls get to finish before they are ended with
    /// `UNAVAILABLE` (streams end at once), in seconds.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    shutdown_grace: Duration,
    /// How long a connection lives before the server sends it a GOAWAY (jittered by 10%),
    /// in seconds; its open calls finish on it. Default: the service's tuning (30 minutes).
    #[arg(long, value_parser = parse_seconds)]
    max_connection_age: Option<Duration>,
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("not a number of seconds: {value}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    init_logging();
    let guide = GuideServer::new(&args.store_dir);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on {}", listener.local_addr()?);
    tracing::info!(parent: None, "storing uploads in {}", args.store_dir.display());

    let mut config = StreamingExamplesConfig::DEFAULT;
    if let Some(max) = args.max_upload_bytes {
        config.upload_chunks.limits.max_total_bytes = Some(max);
    }
    let mut service = StreamingExamplesService::new(LogCallEnds(guide))
        .with_config(config)
        .into_server();
    if let Some(max) = args.max_message_bytes {
        service = service.max_decoding_message_size(max);
    }

    let mut tuning = TUNING;
    if let Some(max) = args.max_message_bytes {
        // Client-streaming requests are decoded by the runtime from the DATA frames, under
        // the server's tuning; the tonic service's limit covers the other patterns.
        tuning.max_message_size = max;
    }
    if let Some(age) = args.max_connection_age {
        tuning.max_connection_age = Some(age);
    }
    tuning
        .server()
        .add_service(service)
        .serve_with_shutdown(listener, shutdown_signal(), args.shutdown_grace)
        .await?;
    println!("shut down");
    Ok(())
}

/// Logs to stdout, filtered by `RUST_LOG`: the message first, no time or level, so the
/// lines scripts look for start with what they match.
fn init_logging() {
    use tracing_subscriber::fmt::format::FmtSpan;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_ansi(false)
        .init();
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM (what service managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The guide's server, logging how and when each call ended.
struct LogCallEnds(GuideServer);

fn log_end(ctx: &CallContext) {
    let method = ctx.method();
    // A root event: the line starts with its message, not with the call's span.
    ctx.on_end(move |reason| tracing::info!(parent: None, "call {method} ended: {reason:?}"));
}

impl StreamingExamplesHandler for LogCallEnds {
    async fn get_user(
        &self,
        ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        log_end(&ctx);
        self.0.get_user(ctx, request).await
    }

    async fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        log_end(&ctx);
        self.0.list_events(ctx, request, sink).await
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        log_end(&ctx);
        self.0.upload_chunks(ctx, requests).await
    }

    async fn chat(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        log_end(&ctx);
        self.0.chat(ctx, requests, sink).await
    }
}

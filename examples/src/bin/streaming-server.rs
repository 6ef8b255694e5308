//! The guide's `StreamingExamples` server on rust-stream.
//!
//! Prints `listening on <addr>` once bound (use `--addr 127.0.0.1:0` for a free port), a line
//! per call as it ends (`call <method> ended: <ClientGone|DeadlineExceeded|Finished>`, the
//! moment the server learned it), and a line per finished `ListEvents` call with the producer's
//! counters.
//!
//! SIGINT or SIGTERM shuts it down: new calls are refused, open streams end with
//! `UNAVAILABLE`, other calls get `--shutdown-grace` seconds to finish, then it exits.
//!
//! `--max-upload-bytes` and `--max-message-bytes` tighten the service's limits (the interop
//! tests use them to check the statuses a client gets when it goes over).

use clap::Parser;
use rust_stream::{CallContext, RequestStream, ResponseSink};
use rust_stream_examples::adapter::{
    StreamingExamplesConfig, StreamingExamplesHandler, StreamingExamplesService, server_builder,
};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tonic::Status;

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
    let guide = GuideServer::new(&args.store_dir);
    let stats = guide.stats();
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on {}", listener.local_addr()?);
    println!("storing uploads in {}", args.store_dir.display());

    let mut feeds = stats.last_feed.subscribe();
    tokio::spawn(async move {
        while feeds.changed().await.is_ok() {
            if let Some(report) = *feeds.borrow_and_update() {
                println!(
                    "list_events ended: produced={} produced_after_end={}",
                    report.produced,
                    report.produced_after_end()
                );
            }
        }
    });

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

    server_builder()
        .add_service(service)
        .serve_with_shutdown(listener, shutdown_signal(), args.shutdown_grace)
        .await?;
    println!("shut down");
    Ok(())
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

/// The guide's server, printing how and when each call ended.
struct LogCallEnds(GuideServer);

fn log_end(ctx: &CallContext) {
    let method = ctx.method();
    ctx.on_end(move |reason| println!("call {method} ended: {reason:?}"));
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

//! The guide's `StreamingExamples` server on rust-stream.
//!
//! Prints `listening on <addr>` once bound (use `--addr 127.0.0.1:0` for a free port), and a
//! line per finished `ListEvents` call with the producer's counters.

use clap::Parser;
use rust_stream_examples::adapter::{StreamingExamplesService, server_builder};
use rust_stream_examples::guide::GuideServer;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_stream::wrappers::TcpListenerStream;

#[derive(Parser)]
#[command(about = "Serve the guide's StreamingExamples service")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    /// Directory where uploads are stored.
    #[arg(long, default_value_os_t = std::env::temp_dir().join("rust-stream-uploads"))]
    store_dir: PathBuf,
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

    server_builder()
        .add_service(StreamingExamplesService::new(guide).into_server())
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

//! A client for the guide's `StreamingExamples` service: one subcommand per pattern.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rust_stream::DEFAULT_CHUNK_SIZE;
use rust_stream_examples::adapter::StreamingExamplesStreamClient;
use rust_stream_examples::pb;
use std::path::PathBuf;
use tokio::io::AsyncBufReadExt;

#[derive(Parser)]
#[command(about = "Call the guide's StreamingExamples service")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Unary: look up one user.
    GetUser {
        /// The user's id (the demo server knows `42`).
        id: String,
    },
    /// Server streaming: print events, then cancel the stream.
    ListEvents {
        /// Only events after this one.
        #[arg(long, default_value = "")]
        after: String,
        /// How many events to print before cancelling.
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// Client streaming: upload a file in chunks, with a progress bar.
    Upload {
        /// The file to upload.
        file: PathBuf,
        /// Bytes per chunk.
        #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE)]
        chunk_size: usize,
    },
    /// Bidirectional: send each message (or each line of stdin) and print the replies.
    Chat {
        /// Messages to send; without any, lines are read from stdin.
        messages: Vec<String>,
        /// Name to send as.
        #[arg(long, default_value = "alice")]
        user: String,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", describe(&*err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// A failed call the way a CLI reports it: `NOT_FOUND: User not found`.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    match err.downcast_ref::<rust_stream::Status>() {
        Some(status) => rust_stream::status_line(status),
        None => match err.downcast_ref::<rust_stream::UploadError>() {
            Some(rust_stream::UploadError::Status(status)) => rust_stream::status_line(status),
            _ => err.to_string(),
        },
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let client = StreamingExamplesStreamClient::connect(args.addr).await?;
    match args.command {
        Command::GetUser { id } => {
            let user = client.get_user(pb::UserRequest { id }).await?;
            println!("{} <{}>", user.name, user.email);
        }
        Command::ListEvents { after, count } => {
            let mut events = client.list_events(pb::EventFilter { after }).await?;
            for _ in 0..count {
                let Some(event) = events.message().await? else {
                    break;
                };
                println!(
                    "event {} {} ({} bytes)",
                    event.id,
                    event.r#type,
                    event.data.len()
                );
            }
            // Dropping the stream cancels the call; the server's producer stops.
        }
        Command::Upload { file, chunk_size } => {
            let source = tokio::fs::File::open(&file).await?;
            let total = source.metadata().await?.len();
            let bar = ProgressBar::new(total).with_style(ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
            )?);
            let shown = bar.clone();
            let result = client
                .upload_chunks_from(source, chunk_size, move |p| shown.set_position(p.bytes))
                .await?;
            bar.finish();
            println!("Uploaded {} bytes", result.bytes_received);
        }
        Command::Chat { messages, user } => {
            let (requests, mut replies) = client.chat();
            let sender = tokio::spawn(async move {
                if messages.is_empty() {
                    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
                    while let Some(text) = lines.next_line().await? {
                        requests
                            .send(pb::Message {
                                text,
                                user: user.clone(),
                            })
                            .await?;
                    }
                } else {
                    for text in messages {
                        requests
                            .send(pb::Message {
                                text,
                                user: user.clone(),
                            })
                            .await?;
                    }
                }
                Ok::<(), Error>(())
            });
            while let Some(reply) = replies.message().await? {
                println!("{}: {}", reply.user, reply.text);
            }
            sender.await??;
        }
    }
    Ok(())
}

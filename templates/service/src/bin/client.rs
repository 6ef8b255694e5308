//! Calls {% if proto == 'guide' %}`{{package}}.{{service}}`{% else %}the `{{package}}` services{% endif %} with the generated tuned clients: one subcommand per
//! RPC.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use tokio::io::AsyncBufReadExt;
use {{crate_name}}::pb;
{%- if proto == "guide" %}
use {{crate_name}}::pb::{{service_snake}}_stream::{{service}}StreamClient;
{%- else %}
use {{crate_name}}::pb::inventory_stream::InventoryStreamClient;
use {{crate_name}}::pb::transfer_stream::TransferStreamClient;
{%- endif %}

#[derive(Parser)]
#[command(about = "Call the {% if proto == 'guide' %}{{package}}.{{service}} gRPC service{% else %}{{package}} gRPC services{% endif %}")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "http://{{listen_addr}}")]
    addr: String,
    #[command(subcommand)]
    command: Command,
}

{% if proto == "guide" -%}
#[derive(Subcommand)]
enum Command {
    /// GetUser (unary): look up one user.
    GetUser {
        /// The user's id (the server knows `42`).
        id: String,
    },
    /// ListEvents (server streaming): print events, then cancel the stream.
    ListEvents {
        /// Only events after this id.
        #[arg(long, default_value = "")]
        after: String,
        /// How many events to print before cancelling.
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// UploadChunks (client streaming): upload a file in chunks, with a progress bar.
    UploadChunks {
        /// The file to upload.
        file: PathBuf,
        /// Bytes per chunk.
        #[arg(long, default_value_t = {{service}}StreamClient::UPLOAD_CHUNKS_CHUNK_SIZE)]
        chunk_size: usize,
    },
    /// Chat (bidirectional): send each message (or each line of stdin), print the replies.
    Chat {
        /// Messages to send; without any, lines are read from stdin.
        messages: Vec<String>,
        /// Name to send as.
        #[arg(long, default_value = "alice")]
        user: String,
    },
}

{%- else -%}
#[derive(Subcommand)]
enum Command {
    /// Inventory.GetItem (unary): look up one item.
    GetItem {
        /// The item's id.
        id: String,
    },
    /// Inventory.WatchStock (server streaming): print stock levels, then cancel the stream.
    WatchStock {
        /// The item's id.
        id: String,
        /// How many levels to print before cancelling.
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// Transfer.UploadImage (client streaming): upload a file in chunks, with a progress bar.
    UploadImage {
        /// The file to upload.
        file: PathBuf,
        /// Bytes per chunk.
        #[arg(long, default_value_t = TransferStreamClient::UPLOAD_IMAGE_CHUNK_SIZE)]
        chunk_size: usize,
    },
    /// Transfer.Sync (bidirectional): send each change (or each line of stdin), print the
    /// replies.
    Sync {
        /// Changes to send; without any, lines are read from stdin.
        changes: Vec<String>,
    },
}

{%- endif %}
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

/// A failed call the way a command line reports it: `NOT_FOUND: User not found`.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    match err.downcast_ref::<tonic::Status>() {
        Some(status) => rust_stream::status_line(status),
        None => match err.downcast_ref::<rust_stream::UploadError>() {
            Some(rust_stream::UploadError::Status(status)) => rust_stream::status_line(status),
            _ => err.to_string(),
        },
    }
}

{% if proto == "guide" -%}
async fn run(args: Args) -> Result<(), Error> {
    let client = {{service}}StreamClient::connect(args.addr).await?;
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
                println!("event {} {} ({} bytes)", event.id, event.r#type, event.data.len());
            }
            // Dropping the stream cancels the call; the server's producer stops.
        }
        Command::UploadChunks { file, chunk_size } => {
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
            println!("uploaded {} bytes", result.bytes_received);
        }
        Command::Chat { messages, user } => {
            let (requests, mut replies) = client.chat();
            let sender = tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
                let mut given = messages.into_iter();
                let from_stdin = given.len() == 0;
                loop {
                    let text = if from_stdin {
                        lines.next_line().await?
                    } else {
                        given.next()
                    };
                    let Some(text) = text else { break };
                    let user = user.clone();
                    requests.send(pb::Message { text, user }).await?;
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
{%- else -%}
async fn run(args: Args) -> Result<(), Error> {
    match args.command {
        Command::GetItem { id } => {
            let client = InventoryStreamClient::connect(args.addr).await?;
            let item = client.get_item(pb::ItemRequest { id }).await?;
            println!("{} {}", item.id, item.title);
        }
        Command::WatchStock { id, count } => {
            let client = InventoryStreamClient::connect(args.addr).await?;
            let mut levels = client.watch_stock(pb::ItemRequest { id }).await?;
            for _ in 0..count {
                let Some(level) = levels.message().await? else {
                    break;
                };
                println!("{} {}", level.id, level.units);
            }
            // Dropping the stream cancels the call; the server's producer stops.
        }
        Command::UploadImage { file, chunk_size } => {
            let client = TransferStreamClient::connect(args.addr).await?;
            let source = tokio::fs::File::open(&file).await?;
            let total = source.metadata().await?.len();
            let bar = ProgressBar::new(total).with_style(ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
            )?);
            let shown = bar.clone();
            let summary = client
                .upload_image_from(source, chunk_size, move |p| shown.set_position(p.bytes))
                .await?;
            bar.finish();
            println!("uploaded {} bytes", summary.bytes);
        }
        Command::Sync { changes } => {
            let client = TransferStreamClient::connect(args.addr).await?;
            let (requests, mut replies) = client.sync();
            let sender = tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
                let mut given = changes.into_iter();
                let from_stdin = given.len() == 0;
                loop {
                    let what = if from_stdin {
                        lines.next_line().await?
                    } else {
                        given.next()
                    };
                    let Some(what) = what else { break };
                    requests.send(pb::Change { what }).await?;
                }
                Ok::<(), Error>(())
            });
            while let Some(reply) = replies.message().await? {
                println!("{}", reply.what);
            }
            sender.await??;
        }
    }
    Ok(())
}
{%- endif %}

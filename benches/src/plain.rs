//! The reference: `proto/streaming.proto` implemented by hand on plain tonic, the way tonic's
//! own examples do it (a spawned producer, `mpsc` + `ReceiverStream`, tonic's default
//! codegen with `Vec<u8>` for `bytes`, tonic's default builders).
//!
//! The only additions are measurement probes that both stacks carry: a relaxed atomic
//! increment per produced event, and a wrapper around the response stream that records when
//! hyper drops it (the moment the server learns the client cancelled).

use crate::common::{self, CHUNK_SIZE, FeedStats};
use futures_util::{Stream, StreamExt};
use pb::streaming_examples_client::StreamingExamplesClient;
use pb::streaming_examples_server::{StreamingExamples, StreamingExamplesServer};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

/// tonic-prost-build's output for `proto/streaming.proto`, default options.
#[allow(missing_docs, dead_code)]
pub mod pb {
    tonic::include_proto!("streaming");
}

/// Channel capacity of tonic's streaming examples.
const CHANNEL: usize = 128;

/// How the plain client and server are configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainConfig {
    /// tonic's defaults: nothing set.
    Default,
    /// tonic's defaults plus `http2_adaptive_window(true)` on both sides.
    Adaptive,
}

/// The hand-written service.
#[derive(Debug, Default)]
pub struct PlainServer {
    /// The feed's counters.
    pub feed: Arc<FeedStats>,
}

/// A response stream that records when it is dropped: hyper drops the body when the client
/// resets the stream, which is when the server learns of a cancel.
pub struct Observed<S> {
    inner: S,
    feed: Arc<FeedStats>,
}

impl<S: Stream + Unpin> Stream for Observed<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<S> Drop for Observed<S> {
    fn drop(&mut self) {
        self.feed.mark_ended();
    }
}

fn event(i: u64, payload: usize) -> pb::Event {
    let (id, r#type, data) = common::event_fields(i, payload);
    pb::Event { id, r#type, data }
}

#[tonic::async_trait]
impl StreamingExamples for PlainServer {
    async fn get_user(
        &self,
        request: Request<pb::UserRequest>,
    ) -> Result<Response<pb::UserResponse>, Status> {
        match request.into_inner().id.as_str() {
            "42" => Ok(Response::new(pb::UserResponse {
                name: "Ada Lovelace".into(),
                email: "ada@example.com".into(),
            })),
            _ => Err(Status::not_found("User not found")),
        }
    }

    type ListEventsStream = Observed<ReceiverStream<Result<pb::Event, Status>>>;

    async fn list_events(
        &self,
        request: Request<pb::EventFilter>,
    ) -> Result<Response<Self::ListEventsStream>, Status> {
        let after = request.into_inner().after;
        let (limit, payload) = (common::event_limit(&after), common::event_payload(&after));
        let (tx, rx) = mpsc::channel(CHANNEL);
        let guard = self.feed.start();
        let feed = Arc::clone(&self.feed);
        tokio::spawn(async move {
            let _guard = guard;
            let mut i = 0;
            while limit.is_none_or(|limit| i < limit) {
                feed.count_one();
                if tx.send(Ok(event(i, payload))).await.is_err() {
                    break; // the client went away
                }
                i += 1;
            }
        });
        Ok(Response::new(Observed {
            inner: ReceiverStream::new(rx),
            feed: Arc::clone(&self.feed),
        }))
    }

    async fn upload_chunks(
        &self,
        request: Request<Streaming<pb::Chunk>>,
    ) -> Result<Response<pb::UploadResult>, Status> {
        let mut stream = request.into_inner();
        let mut bytes_received = 0u64;
        while let Some(chunk) = stream.message().await? {
            bytes_received += chunk.data.len() as u64;
        }
        Ok(Response::new(pb::UploadResult { bytes_received }))
    }

    type ChatStream = ReceiverStream<Result<pb::Message, Status>>;

    async fn chat(
        &self,
        request: Request<Streaming<pb::Message>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let mut in_stream = request.into_inner();
        let (tx, rx) = mpsc::channel(CHANNEL);
        tokio::spawn(async move {
            while let Some(result) = in_stream.next().await {
                let reply = result.map(|m| pb::Message {
                    text: m.text,
                    user: "server".into(),
                });
                if tx.send(reply).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// The server builder for `config`.
pub fn server_builder(config: PlainConfig) -> tonic::transport::Server {
    let builder = tonic::transport::Server::builder();
    match config {
        PlainConfig::Default => builder,
        PlainConfig::Adaptive => builder.http2_adaptive_window(Some(true)),
    }
}

/// The tonic service for `server`.
pub fn service(server: PlainServer) -> StreamingExamplesServer<PlainServer> {
    StreamingExamplesServer::new(server)
}

/// A plain client.
pub type Client = StreamingExamplesClient<Channel>;

/// Connects a plain client to `uri` with `config`.
pub async fn connect(uri: String, config: PlainConfig) -> Result<Client, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(uri)?;
    let endpoint = match config {
        PlainConfig::Default => endpoint,
        PlainConfig::Adaptive => endpoint.http2_adaptive_window(true),
    };
    Ok(StreamingExamplesClient::new(endpoint.connect().await?))
}

/// Uploads everything `reader` yields in 64 KiB chunks; returns what the server counted.
pub async fn upload(
    client: &mut Client,
    mut reader: impl AsyncRead + Unpin + Send + 'static,
) -> Result<u64, Status> {
    let (tx, rx) = mpsc::channel(CHANNEL);
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK_SIZE];
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => filled += n,
                }
            }
            if filled == 0 {
                break;
            }
            let chunk = pb::Chunk {
                data: buf[..filled].to_vec(),
            };
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let response = client.upload_chunks(ReceiverStream::new(rx)).await?;
    Ok(response.into_inner().bytes_received)
}

/// Opens a feed of `after` (see [`common::event_limit`]).
pub async fn list_events(client: &mut Client, after: &str) -> Result<Streaming<pb::Event>, Status> {
    let request = pb::EventFilter {
        after: after.to_owned(),
    };
    Ok(client.list_events(request).await?.into_inner())
}

/// A chat call's two halves: the sender and the replies.
pub async fn chat(
    client: &mut Client,
) -> Result<(mpsc::Sender<pb::Message>, Streaming<pb::Message>), Status> {
    let (tx, rx) = mpsc::channel(CHANNEL);
    let replies = client.chat(ReceiverStream::new(rx)).await?.into_inner();
    Ok((tx, replies))
}

/// A chat message.
pub fn message(text: String) -> pb::Message {
    pb::Message {
        text,
        user: "client".into(),
    }
}

//! The stream layer for `streaming.StreamingExamples`, written by hand.
//!
//! This is the code rust-stream's generator emits for the reference proto: a handler trait in
//! pattern-shaped form, the adapter from tonic's server trait to the runtime's guards, the
//! window-tuned server and client constructors, and the client helpers.

use super::pb;
use pb::streaming_examples_client::StreamingExamplesClient;
use pb::streaming_examples_server::{StreamingExamples, StreamingExamplesServer};
use rust_stream::codegen::{
    self, BoxStream, Bytes, CallConfig, CallContext, Progress, RequestStream, Requests,
    ResponseSink, ResponseStream, Responses, Tuning, UploadError,
};
use std::future::Future;
use std::sync::Arc;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

/// Full gRPC path of each method, as the call context reports it.
pub mod paths {
    /// `GetUser`.
    pub const GET_USER: &str = "/streaming.StreamingExamples/GetUser";
    /// `ListEvents`.
    pub const LIST_EVENTS: &str = "/streaming.StreamingExamples/ListEvents";
    /// `UploadChunks`.
    pub const UPLOAD_CHUNKS: &str = "/streaming.StreamingExamples/UploadChunks";
    /// `Chat`.
    pub const CHAT: &str = "/streaming.StreamingExamples/Chat";
}

/// The window tuning of this service: `Tuning::BALANCED` unless the proto says otherwise.
pub const TUNING: Tuning = Tuning::BALANCED;

/// What a `StreamingExamples` server does, one method per RPC in the shape of its pattern.
/// Every method answers `UNIMPLEMENTED` until it is implemented.
pub trait StreamingExamplesHandler: Send + Sync + 'static {
    /// Unary `GetUser`: one request, one response.
    fn get_user(
        &self,
        ctx: CallContext,
        request: pb::UserRequest,
    ) -> impl Future<Output = Result<pb::UserResponse, Status>> + Send {
        let _ = (ctx, request);
        async { Err(Status::unimplemented("GetUser is not implemented")) }
    }

    /// Server-streaming `ListEvents`: send responses to `sink` until done or the client goes.
    fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = (ctx, request, sink);
        async { Err(Status::unimplemented("ListEvents is not implemented")) }
    }

    /// Client-streaming `UploadChunks`: read `requests` to the end, answer once.
    fn upload_chunks(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Chunk>,
    ) -> impl Future<Output = Result<pb::UploadResult, Status>> + Send {
        let _ = (ctx, requests);
        async { Err(Status::unimplemented("UploadChunks is not implemented")) }
    }

    /// Bidirectional `Chat`: read `requests` and send to `sink`, independently.
    fn chat(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = (ctx, requests, sink);
        async { Err(Status::unimplemented("Chat is not implemented")) }
    }
}

/// The guards of each method of `StreamingExamples`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamingExamplesConfig {
    /// `GetUser`.
    pub get_user: CallConfig,
    /// `ListEvents`.
    pub list_events: CallConfig,
    /// `UploadChunks`.
    pub upload_chunks: CallConfig,
    /// `Chat`.
    pub chat: CallConfig,
}

impl StreamingExamplesConfig {
    /// The configuration the proto's options describe.
    pub const DEFAULT: StreamingExamplesConfig = StreamingExamplesConfig {
        get_user: CallConfig::DEFAULT,
        list_events: CallConfig::DEFAULT,
        upload_chunks: CallConfig::DEFAULT,
        chat: CallConfig::DEFAULT,
    };
}

impl Default for StreamingExamplesConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Serves a [`StreamingExamplesHandler`] through tonic with rust-stream's guards.
#[derive(Debug)]
pub struct StreamingExamplesService<H> {
    handler: Arc<H>,
    config: StreamingExamplesConfig,
}

impl<H: StreamingExamplesHandler> StreamingExamplesService<H> {
    /// Wraps `handler` with the proto's configuration.
    pub fn new(handler: H) -> Self {
        Self::from_arc(Arc::new(handler))
    }

    /// Wraps a shared `handler`.
    pub fn from_arc(handler: Arc<H>) -> Self {
        StreamingExamplesService {
            handler,
            config: StreamingExamplesConfig::DEFAULT,
        }
    }

    /// Replaces the per-method configuration.
    pub fn with_config(mut self, config: StreamingExamplesConfig) -> Self {
        self.config = config;
        self
    }

    /// The tonic service to add to a server, with [`TUNING`]'s message size limits.
    pub fn into_server(self) -> StreamingExamplesServer<Self> {
        StreamingExamplesServer::new(self)
            .max_decoding_message_size(TUNING.max_message_size)
            .max_encoding_message_size(TUNING.max_message_size)
    }
}

/// A tonic server builder with [`TUNING`] applied, ready for `add_service`.
pub fn server_builder() -> codegen::TunedServer {
    TUNING.server()
}

#[tonic::async_trait]
impl<H: StreamingExamplesHandler> StreamingExamples for StreamingExamplesService<H> {
    async fn get_user(
        &self,
        request: Request<pb::UserRequest>,
    ) -> Result<Response<pb::UserResponse>, Status> {
        let handler = Arc::clone(&self.handler);
        codegen::unary(
            paths::GET_USER,
            &self.config.get_user,
            request,
            move |ctx, request| async move { handler.get_user(ctx, request).await },
        )
        .await
    }

    type ListEventsStream = ResponseStream<pb::Event>;

    async fn list_events(
        &self,
        request: Request<pb::EventFilter>,
    ) -> Result<Response<Self::ListEventsStream>, Status> {
        let handler = Arc::clone(&self.handler);
        codegen::server_streaming(
            paths::LIST_EVENTS,
            &self.config.list_events,
            request,
            move |ctx, request, sink| async move { handler.list_events(ctx, request, sink).await },
        )
    }

    async fn upload_chunks(
        &self,
        request: Request<Streaming<pb::Chunk>>,
    ) -> Result<Response<pb::UploadResult>, Status> {
        let handler = Arc::clone(&self.handler);
        codegen::client_streaming(
            paths::UPLOAD_CHUNKS,
            &self.config.upload_chunks,
            request,
            move |ctx, requests| async move { handler.upload_chunks(ctx, requests).await },
        )
        .await
    }

    type ChatStream = ResponseStream<pb::Message>;

    async fn chat(
        &self,
        request: Request<Streaming<pb::Message>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let handler = Arc::clone(&self.handler);
        codegen::bidi_streaming(
            paths::CHAT,
            &self.config.chat,
            request,
            move |ctx, requests, sink| async move { handler.chat(ctx, requests, sink).await },
        )
    }
}

/// `Chunk` carries one `bytes` field, so uploads can be streamed from any reader.
impl codegen::Chunk for pb::Chunk {
    fn from_bytes(data: Bytes) -> Self {
        pb::Chunk { data }
    }

    fn into_bytes(self) -> Bytes {
        self.data
    }
}

/// A `StreamingExamples` client with [`TUNING`] and helpers shaped by each pattern.
#[derive(Clone, Debug)]
pub struct StreamingExamplesStreamClient {
    inner: StreamingExamplesClient<Channel>,
    timeout: Option<std::time::Duration>,
}

impl StreamingExamplesStreamClient {
    /// Connects to `uri` (for example `http://127.0.0.1:50051`) with [`TUNING`].
    pub async fn connect(uri: impl Into<String>) -> Result<Self, tonic::transport::Error> {
        Ok(Self::from_channel(TUNING.connect(uri).await?))
    }

    /// Uses an existing channel.
    pub fn from_channel(channel: Channel) -> Self {
        StreamingExamplesStreamClient {
            inner: StreamingExamplesClient::new(channel)
                .max_decoding_message_size(TUNING.max_message_size)
                .max_encoding_message_size(TUNING.max_message_size),
            timeout: None,
        }
    }

    /// Gives every call made through the helpers a deadline of `timeout` from its start,
    /// sent to the server as `grpc-timeout`; expiry surfaces as `DEADLINE_EXCEEDED`.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The plain tonic client underneath, for calls with custom metadata or deadlines.
    pub fn inner(&mut self) -> &mut StreamingExamplesClient<Channel> {
        &mut self.inner
    }

    /// Unary `GetUser`.
    pub async fn get_user(&mut self, request: pb::UserRequest) -> Result<pb::UserResponse, Status> {
        let request = codegen::request(request, self.timeout);
        let response = self.inner.get_user(request).await;
        Ok(response.map_err(codegen::client_status)?.into_inner())
    }

    /// Server-streaming `ListEvents`: read with `message()`; drop the result to cancel.
    pub async fn list_events(
        &mut self,
        request: pb::EventFilter,
    ) -> Result<Responses<pb::Event>, Status> {
        let request = codegen::request(request, self.timeout);
        let response = self.inner.list_events(request).await;
        Ok(response
            .map_err(codegen::client_status)?
            .into_inner()
            .into())
    }

    /// Client-streaming `UploadChunks` from any reader, in chunks of `chunk_size` bytes
    /// (the guide's 64 KiB is [`codegen::DEFAULT_CHUNK_SIZE`]), calling `progress` after each.
    pub async fn upload_chunks_from(
        &mut self,
        reader: impl codegen::AsyncRead + Send + Unpin + 'static,
        chunk_size: usize,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<pb::UploadResult, UploadError> {
        let mut inner = self.inner.clone();
        codegen::upload(
            reader,
            chunk_size,
            progress,
            move |chunks: BoxStream<pb::Chunk>| async move { inner.upload_chunks(chunks).await },
        )
        .await
    }

    /// Bidirectional `Chat`: returns at once; send on the first half, read the second.
    pub fn chat(&self) -> (Requests<pb::Message>, Responses<pb::Message>) {
        let mut inner = self.inner.clone();
        let timeout = self.timeout;
        codegen::bidi(TUNING_BIDI_BUFFER, move |requests| async move {
            inner.chat(codegen::request(requests, timeout)).await
        })
    }
}

/// Requests a bidi client buffers before `send` waits.
const TUNING_BIDI_BUFFER: usize = CallConfig::DEFAULT.buffer;

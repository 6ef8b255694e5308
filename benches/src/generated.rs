//! The subject: the same service on the generated stack (`rust_stream_examples::adapter`,
//! the names the generator emits), doing exactly the work of [`crate::plain`].

use crate::common::{self, FeedStats};
use rust_stream::{CallContext, RequestStream, ResponseSink, Tuning};
use rust_stream_examples::adapter::{
    StreamingExamplesHandler, StreamingExamplesService, StreamingExamplesStreamClient,
};
use rust_stream_examples::pb;
use std::sync::Arc;
use tonic::Status;

/// The benchmark's handler.
#[derive(Debug, Default)]
pub struct BenchHandler {
    /// The feed's counters.
    pub feed: Arc<FeedStats>,
}

fn event(i: u64, payload: usize) -> pb::Event {
    let (id, r#type, data) = common::event_fields(i, payload);
    pb::Event { id, r#type, data }
}

impl StreamingExamplesHandler for BenchHandler {
    async fn get_user(
        &self,
        _ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        self.feed.count_answer();
        Ok(pb::UserResponse {
            name: request.id,
            email: "bench@example.com".into(),
        })
    }

    async fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        let limit = common::event_limit(&request.after);
        let payload = common::event_payload(&request.after);
        let _guard = self.feed.start();
        let feed = Arc::clone(&self.feed);
        ctx.on_end(move |_| feed.mark_ended());
        let mut i = 0;
        while limit.is_none_or(|limit| i < limit) {
            self.feed.count_one();
            // Room first: a producer parked on a client that does not read holds no event.
            sink.reserve(payload).await?.send(event(i, payload)).await?;
            i += 1;
        }
        Ok(())
    }

    async fn upload_chunks(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        let mut bytes_received = 0u64;
        while let Some(data) = requests.chunk().await? {
            bytes_received += data.len() as u64;
        }
        Ok(pb::UploadResult { bytes_received })
    }

    async fn chat(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        while let Some(message) = requests.message().await? {
            let reply = pb::Message {
                text: message.text,
                user: "server".into(),
            };
            sink.send(reply).await?;
        }
        Ok(())
    }
}

/// The server builder the generated code offers for `tuning` (the service's `TUNING` is
/// what `server_builder()` applies; a service declaring another preset gets that one).
pub fn server_builder(tuning: &Tuning) -> rust_stream::TunedServer {
    tuning.server()
}

/// The generated tonic service around `handler`.
pub fn service(
    handler: BenchHandler,
) -> pb::streaming_examples_server::StreamingExamplesServer<StreamingExamplesService<BenchHandler>>
{
    StreamingExamplesService::new(handler).into_server()
}

/// Connects the generated client to `uri` with `tuning`.
pub async fn connect(
    uri: String,
    tuning: &Tuning,
) -> Result<StreamingExamplesStreamClient, tonic::transport::Error> {
    Ok(StreamingExamplesStreamClient::from_channel(
        tuning.connect(uri).await?,
    ))
}

/// A chat message.
pub fn message(text: String) -> pb::Message {
    pb::Message {
        text,
        user: "client".into(),
    }
}

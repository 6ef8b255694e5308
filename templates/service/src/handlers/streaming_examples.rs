//! The `streaming.StreamingExamples` service, scaffolded by `rust-stream scaffold`.
//!
//! This file is yours to edit. Running `rust-stream scaffold` again adds stubs for RPCs
//! added to the proto and leaves everything else as it is.
//!
//! Serve it with `StreamingExamplesService::new(StreamingExamplesImpl).into_server()`; `StreamingExamplesService` is in
//! `crate::pb::streaming::streaming_examples_stream`.

use crate::pb::streaming::streaming_examples_stream::StreamingExamplesHandler;
use crate::pb::streaming::{
    Chunk, Event, EventFilter, Message, UploadResult, UserRequest, UserResponse,
};
use ::rust_stream::{CallContext, RequestStream, ResponseSink, Status};

/// Implements `streaming.StreamingExamples`.
#[derive(Debug, Default)]
pub struct StreamingExamplesImpl;

impl StreamingExamplesHandler for StreamingExamplesImpl {
    // rust-stream: rpc GetUser
    async fn get_user(
        &self,
        ctx: CallContext,
        request: UserRequest,
    ) -> Result<UserResponse, Status> {
        let _ = &ctx;
        // The guide's `context.abort(NOT_FOUND, "User not found")` for unknown ids.
        let found = (request.id == "42").then(|| UserResponse {
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
        });
        match found {
            Some(response) => Ok(response),
            None => Err(Status::not_found("User not found")),
        }
    }

    // rust-stream: rpc ListEvents
    async fn list_events(
        &self,
        ctx: CallContext,
        request: EventFilter,
        sink: ResponseSink<Event>,
    ) -> Result<(), Status> {
        let _ = &ctx;
        // Events after the id `after` (from 1 if it is not a number), for as long as the
        // client stays: the guide's `if context.is_active(): yield ... else: return`.
        let mut id = request.after.parse::<u64>().map_or(1, |after| after + 1);
        while sink.is_active() {
            let event = Event {
                id: id.to_string(),
                r#type: ["login", "click", "logout"][(id % 3) as usize].into(),
                data: vec![(id % 251) as u8; 64],
            };
            // Fails at once when the client has gone; the bounded sink holds a fast
            // producer back for a slow client.
            sink.send(event).await?;
            id += 1;
        }
        Ok(())
    }

    // rust-stream: rpc UploadChunks
    async fn upload_chunks(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<Chunk>,
    ) -> Result<UploadResult, Status> {
        let _ = &ctx;
        // Read the upload chunk by chunk; limits end it with a clear status.
        let mut total: u64 = 0;
        while let Some(chunk) = requests.chunk().await? {
            total += chunk.len() as u64;
        }
        Ok(UploadResult {
            bytes_received: total,
        })
    }

    // rust-stream: rpc Chat
    async fn chat(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<Message>,
        sink: ResponseSink<Message>,
    ) -> Result<(), Status> {
        let _ = &ctx;
        // Receive and respond; the two directions are independent.
        while let Some(request) = requests.message().await? {
            let response = Message {
                text: format!("Delivered: {}", request.text),
                user: "server".into(),
            };
            sink.send(response).await?;
        }
        Ok(())
    }

    // rust-stream: new RPCs are added above this line.
}

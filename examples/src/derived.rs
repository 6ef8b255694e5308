//! The guide's service on `#[derive(StreamService)]`: the same proto, read at compile time
//! by the derive instead of `build.rs`. The derive generates its own tonic server, adapter
//! (with every guard), configuration and tuning; the messages are the build script's
//! (`extern_path`), so any handler of the build-script path, such as
//! [`GuideServer`](crate::guide::GuideServer), serves through it unchanged and the project's
//! wire tests run against both.

use rust_stream::{CallContext, RequestStream, ResponseSink, Status, StreamService};
use std::future::Future;
use std::sync::Arc;

use crate::adapter::StreamingExamplesHandler as BuildHandler;
use crate::pb;

/// A handler served through the derive's generated code: it forwards every RPC to `H`.
#[derive(StreamService)]
#[stream_service(
    proto = "../proto/streaming.proto",
    include = "../proto",
    module = "derived_pb",
    extern_path = ".streaming=::rust_stream_examples::pb"
)]
pub struct Derived<H>(pub Arc<H>);

/// The derive's handler trait, the one `Derived` implements.
pub use derived_pb::streaming::streaming_examples_stream::StreamingExamplesHandler;

impl<H: BuildHandler> StreamingExamplesHandler for Derived<H> {
    fn get_user(
        &self,
        ctx: CallContext,
        request: pb::UserRequest,
    ) -> impl Future<Output = Result<pb::UserResponse, Status>> + Send {
        self.0.get_user(ctx, request)
    }

    fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> impl Future<Output = Result<(), Status>> + Send {
        self.0.list_events(ctx, request, sink)
    }

    fn upload_chunks(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Chunk>,
    ) -> impl Future<Output = Result<pb::UploadResult, Status>> + Send {
        self.0.upload_chunks(ctx, requests)
    }

    fn chat(
        &self,
        ctx: CallContext,
        requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> impl Future<Output = Result<(), Status>> + Send {
        self.0.chat(ctx, requests, sink)
    }
}

/// The derive's per-method configuration of `StreamingExamples`.
pub type DerivedConfig = <Derived<crate::guide::GuideServer> as StreamService>::Config;

//! The `{{package}}.Transfer` service, scaffolded by `rust-stream scaffold`.
//!
//! This file is yours to edit. Running `rust-stream scaffold` again adds stubs for RPCs
//! added to the proto and leaves everything else as it is.
//!
//! Serve it with `TransferService::new(TransferImpl).into_server()`; `TransferService` is in
//! `crate::pb::transfer_stream`.

use crate::pb::transfer_stream::TransferHandler;
use crate::pb::{Change, ImageChunk, UploadSummary};
use ::rust_stream::codegen::tonic::Status;
use ::rust_stream::{CallContext, RequestStream, ResponseSink};

/// Implements `{{package}}.Transfer`.
#[derive(Debug, Default)]
pub struct TransferImpl;

impl TransferHandler for TransferImpl {
    // rust-stream: rpc UploadImage
    async fn upload_image(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<ImageChunk>,
    ) -> Result<UploadSummary, Status> {
        let _ = &ctx;
        // Read the upload chunk by chunk; limits end it with a clear status.
        let mut total: u64 = 0;
        while let Some(chunk) = requests.chunk().await? {
            total += chunk.len() as u64;
        }
        let message = format!("UploadImage is not implemented yet ({total} bytes received)");
        Err(Status::unimplemented(message))
    }

    // rust-stream: rpc Sync
    async fn sync(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<Change>,
        sink: ResponseSink<Change>,
    ) -> Result<(), Status> {
        let _ = &ctx;
        // Receive and respond; the two directions are independent.
        while let Some(request) = requests.message().await? {
            let response: Option<Change> = None;
            let _ = request;
            if let Some(response) = response {
                sink.send(response).await?;
            }
        }
        Err(Status::unimplemented("Sync is not implemented yet"))
    }

    // rust-stream: new RPCs are added above this line.
}

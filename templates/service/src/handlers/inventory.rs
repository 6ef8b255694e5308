//! The `{{package}}.Inventory` service, scaffolded by `rust-stream scaffold`.
//!
//! This file is yours to edit. Running `rust-stream scaffold` again adds stubs for RPCs
//! added to the proto and leaves everything else as it is.
//!
//! Serve it with `InventoryService::new(InventoryImpl).into_server()`; `InventoryService` is in
//! `crate::pb::inventory_stream`.

use crate::pb::inventory_stream::InventoryHandler;
use crate::pb::{Item, ItemRequest, StockLevel};
use ::rust_stream::codegen::tonic::Status;
use ::rust_stream::{CallContext, ResponseSink};

/// Implements `{{package}}.Inventory`.
{%- if codegen == "derive" %}
// Generates the proto's code into `generated` (`crate::pb` re-exports it) and serves this.
#[derive(::rust_stream::StreamService)]
#[stream_service(proto = "proto/service.proto", service = "Inventory", module = "generated")]
{%- endif %}
#[derive(Debug, Default)]
pub struct InventoryImpl;

impl InventoryHandler for InventoryImpl {
    // rust-stream: rpc GetItem
    async fn get_item(&self, ctx: CallContext, request: ItemRequest) -> Result<Item, Status> {
        let _ = (&ctx, &request);
        // Look the request up; answer NOT_FOUND for what does not exist, as the
        // guide's `context.abort(NOT_FOUND, ...)` does.
        let found: Option<Item> = None;
        match found {
            Some(response) => Ok(response),
            None => Err(Status::unimplemented("GetItem is not implemented yet")),
        }
    }

    // rust-stream: rpc WatchStock
    async fn watch_stock(
        &self,
        ctx: CallContext,
        request: ItemRequest,
        sink: ResponseSink<StockLevel>,
    ) -> Result<(), Status> {
        let _ = (&ctx, &request);
        // Stream until done or until the client goes away.
        while sink.is_active() {
            let next: Option<StockLevel> = None;
            match next {
                Some(response) => sink.send(response).await?,
                None => break,
            }
        }
        Err(Status::unimplemented("WatchStock is not implemented yet"))
    }

    // rust-stream: new RPCs are added above this line.
}

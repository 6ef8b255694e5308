{% if proto == "guide" -%}
//! The handlers without a server, through `rust_stream::testing`: a call context, request
//! streams and response sinks built in the test, with the runtime's limits and guards.

use rust_stream::{EndReason, InboundLimits, testing};
use {{crate_name}}::handlers::{{service_snake}}::{{service}}Impl;
use {{crate_name}}::pb;
use {{crate_name}}::pb::{{service_snake}}_stream::paths;
use {{crate_name}}::pb::{{service_snake}}_stream::{{service}}Handler;
use tonic::Code;

#[tokio::test]
async fn get_user_answers_not_found_for_unknown_ids() {
    let ctx = testing::context(paths::GET_USER).build();
    let request = pb::UserRequest { id: "7".into() };
    let status = testing::run(&ctx, {{service}}Impl.get_user(ctx.clone(), request))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(ctx.end_reason(), Some(EndReason::Failed(Code::NotFound)));
}

#[tokio::test]
async fn list_events_stops_when_the_client_goes_away() {
    let ctx = testing::context(paths::LIST_EVENTS).build();
    let (sink, mut events) = testing::response_sink(&ctx, 4);
    let request = pb::EventFilter { after: String::new() };
    let call = ctx.clone();
    let handler =
        tokio::spawn(async move { {{service}}Impl.list_events(call, request, sink).await });
    let first = events.next().await.expect("an event").expect("not an error");
    assert_eq!(first.id, "1");
    drop(events);
    // The send that finds the client gone fails the loop: the handler ends by itself.
    assert!(handler.await.expect("no panic").is_err());
    assert_eq!(ctx.end_reason(), Some(EndReason::ClientGone));
}

#[tokio::test]
async fn upload_chunks_sums_the_chunk_sizes() {
    let ctx = testing::context(paths::UPLOAD_CHUNKS).build();
    let chunks = [3usize, 5, 7].map(|n| pb::Chunk { data: vec![1; n] });
    let requests = testing::requests(&ctx, InboundLimits::DEFAULT, chunks);
    let result = testing::run(&ctx, {{service}}Impl.upload_chunks(ctx.clone(), requests)).await;
    assert_eq!(result.expect("uploaded").bytes_received, 15);
}

#[tokio::test]
async fn chat_replies_delivered_to_each_message() {
    let ctx = testing::context(paths::CHAT).build();
    let messages = ["a", "b"].map(|text| pb::Message { text: text.into(), user: "bob".into() });
    let requests = testing::requests(&ctx, InboundLimits::DEFAULT, messages);
    let (sink, replies) = testing::response_sink(&ctx, 4);
    testing::run(&ctx, {{service}}Impl.chat(ctx.clone(), requests, sink))
        .await
        .expect("chat ends cleanly");
    let texts: Vec<String> = replies
        .collect_all()
        .await
        .into_iter()
        .map(|reply| reply.expect("a reply").text)
        .collect();
    assert_eq!(texts, ["Delivered: a", "Delivered: b"]);
}
{%- else -%}
//! The handlers without a server, through `rust_stream::testing`: a call context, request
//! streams and response sinks built in the test, with the runtime's limits and guards.

use rust_stream::{InboundLimits, testing};
use {{crate_name}}::handlers::inventory::InventoryImpl;
use {{crate_name}}::handlers::transfer::TransferImpl;
use {{crate_name}}::pb;
use {{crate_name}}::pb::inventory_stream::{self, InventoryHandler};
use {{crate_name}}::pb::transfer_stream::{self, TransferHandler};
use tonic::Code;

#[tokio::test]
async fn get_item_is_unimplemented() {
    let ctx = testing::context(inventory_stream::paths::GET_ITEM).build();
    let request = pb::ItemRequest::default();
    let status = testing::run(&ctx, InventoryImpl.get_item(ctx.clone(), request))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn watch_stock_sends_nothing_and_is_unimplemented() {
    let ctx = testing::context(inventory_stream::paths::WATCH_STOCK).build();
    let (sink, levels) = testing::response_sink(&ctx, 4);
    let request = pb::ItemRequest::default();
    let status = testing::run(&ctx, InventoryImpl.watch_stock(ctx.clone(), request, sink))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(levels.collect_all().await.is_empty());
}

#[tokio::test]
async fn upload_image_counts_the_bytes_it_read() {
    let ctx = testing::context(transfer_stream::paths::UPLOAD_IMAGE).build();
    let chunks = [3usize, 5].map(|n| pb::ImageChunk { data: vec![1; n] });
    let requests = testing::requests(&ctx, InboundLimits::DEFAULT, chunks);
    let status = testing::run(&ctx, TransferImpl.upload_image(ctx.clone(), requests))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("8 bytes received"), "{status:?}");
}

#[tokio::test]
async fn sync_reads_every_change_and_is_unimplemented() {
    let ctx = testing::context(transfer_stream::paths::SYNC).build();
    let changes = ["a", "b"].map(|what| pb::Change { what: what.into() });
    let requests = testing::requests(&ctx, InboundLimits::DEFAULT, changes);
    let (sink, replies) = testing::response_sink(&ctx, 4);
    let status = testing::run(&ctx, TransferImpl.sync(ctx.clone(), requests, sink))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(replies.collect_all().await.is_empty());
}
{%- endif %}

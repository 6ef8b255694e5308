//! The handlers without a server, through `rust_stream::testing`: a call context, request
//! streams and response sinks built in the test, with the runtime's limits and guards.

use rust_stream::{EndReason, InboundLimits, testing};
use tonic::Code;

use {{crate_name}}::handlers::streaming_examples::StreamingExamplesImpl;
use {{crate_name}}::pb::streaming as pb;
use {{crate_name}}::pb::streaming::streaming_examples_stream::StreamingExamplesHandler;
use {{crate_name}}::pb::streaming::streaming_examples_stream::paths;

#[tokio::test]
async fn get_user_answers_not_found_for_unknown_ids() {
    let ctx = testing::context(paths::GET_USER).build();
    let request = pb::UserRequest { id: "7".into() };
    let status = testing::run(&ctx, StreamingExamplesImpl.get_user(ctx.clone(), request))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(ctx.end_reason(), Some(EndReason::Failed(Code::NotFound)));
}

#[tokio::test]
async fn list_events_stops_when_the_client_goes_away() {
    let ctx = testing::context(paths::LIST_EVENTS).build();
    let (sink, mut events) = testing::response_sink(&ctx, 4);
    let request = pb::EventFilter {
        after: String::new(),
    };
    let call = ctx.clone();
    let handler =
        tokio::spawn(async move { StreamingExamplesImpl.list_events(call, request, sink).await });
    let first = events
        .next()
        .await
        .expect("an event")
        .expect("not an error");
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
    let result = testing::run(
        &ctx,
        StreamingExamplesImpl.upload_chunks(ctx.clone(), requests),
    )
    .await;
    assert_eq!(result.expect("uploaded").bytes_received, 15);
}

#[tokio::test]
async fn chat_replies_delivered_to_each_message() {
    let ctx = testing::context(paths::CHAT).build();
    let messages = ["a", "b"].map(|text| pb::Message {
        text: text.into(),
        user: "bob".into(),
    });
    let requests = testing::requests(&ctx, InboundLimits::DEFAULT, messages);
    let (sink, replies) = testing::response_sink(&ctx, 4);
    testing::run(
        &ctx,
        StreamingExamplesImpl.chat(ctx.clone(), requests, sink),
    )
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

//! The guide's handlers run in plain `#[tokio::test]`s through `rust_stream::testing`: no
//! server, no socket, the same limits, counters and cancellation.

use futures_util::StreamExt;
use rust_stream::Code;
use rust_stream::{CallContext, EndReason, InboundLimits, testing};
use rust_stream_examples::adapter::StreamingExamplesHandler;
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::{pseudo_random, wait_for, within};
use std::sync::Arc;
use std::time::Duration;

fn guide() -> (Arc<GuideServer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (Arc::new(GuideServer::new(dir.path())), dir)
}

fn chunks(data: &[u8], size: usize) -> Vec<pb::Chunk> {
    data.chunks(size)
        .map(|c| pb::Chunk {
            data: bytes::Bytes::copy_from_slice(c),
        })
        .collect()
}

#[tokio::test]
async fn get_user_answers_from_a_test_context() {
    let (guide, _dir) = guide();
    let ctx = testing::context("/streaming.StreamingExamples/GetUser").build();
    let request = pb::UserRequest { id: "42".into() };
    let user = testing::run(&ctx, guide.get_user(ctx.clone(), request)).await;
    assert_eq!(user.unwrap().name, "Ada Lovelace");
    assert_eq!(ctx.end_reason(), Some(EndReason::Finished));

    let ctx = testing::context("/streaming.StreamingExamples/GetUser").build();
    let request = pb::UserRequest { id: "7".into() };
    let status = testing::run(&ctx, guide.get_user(ctx.clone(), request))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::NotFound, "User not found")
    );
    assert_eq!(ctx.end_reason(), Some(EndReason::Failed(Code::NotFound)));
}

#[tokio::test]
async fn list_events_streams_into_a_collector_and_stops_when_it_is_dropped() {
    let (guide, _dir) = guide();
    let stats = guide.stats();
    let ctx = testing::context("/streaming.StreamingExamples/ListEvents").build();
    let (sink, mut events) = testing::response_sink(&ctx, 4);
    let request = pb::EventFilter { after: "10".into() };
    let handler = {
        let (guide, ctx) = (Arc::clone(&guide), ctx.clone());
        tokio::spawn(async move { guide.list_events(ctx, request, sink).await })
    };
    let ids: Vec<String> = (&mut events)
        .take(5)
        .map(|event| event.expect("an event").id)
        .collect()
        .await;
    assert_eq!(ids, ["11", "12", "13", "14", "15"]);
    drop(events);
    let status = within("the handler to stop", handler)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert_eq!(ctx.end_reason(), Some(EndReason::ClientGone));
    wait_for("the feed to stop", &stats.feeds_running, |n| *n == 0).await;
    let report = stats.last_feed.borrow().expect("a feed report");
    assert!(report.produced_after_end() <= 1, "{report:?}");
}

#[tokio::test]
async fn list_events_is_cancelled_by_the_test() {
    let (guide, _dir) = guide();
    let ctx = testing::context("/streaming.StreamingExamples/ListEvents").build();
    let (sink, mut events) = testing::response_sink(&ctx, 1);
    let handler = {
        let (guide, ctx) = (Arc::clone(&guide), ctx.clone());
        tokio::spawn(testing::run(&ctx.clone(), async move {
            guide
                .list_events(ctx, pb::EventFilter::default(), sink)
                .await
        }))
    };
    assert_eq!(events.next().await.unwrap().unwrap().id, "1");
    ctx.end(EndReason::ClientGone);
    // The guide's loop checks `is_active` and returns quietly once the call is over.
    within("the handler", handler).await.unwrap().unwrap();
    assert_eq!(ctx.end_reason(), Some(EndReason::ClientGone));
}

#[tokio::test]
async fn an_upload_from_an_iterator_is_stored_byte_exact() {
    let (guide, _dir) = guide();
    let data = pseudo_random(300_000, 9);
    let ctx = testing::context("/streaming.StreamingExamples/UploadChunks").build();
    let requests = testing::requests(&ctx, InboundLimits::DEFAULT, chunks(&data, 65_536));
    let result = testing::run(&ctx, guide.upload_chunks(ctx.clone(), requests))
        .await
        .unwrap();
    assert_eq!(result.bytes_received, data.len() as u64);
    assert_eq!(std::fs::read(guide.upload_path(1)).unwrap(), data);
}

#[tokio::test]
async fn upload_limits_apply_to_a_test_stream() {
    let (guide, dir) = guide();
    let limits = InboundLimits {
        max_total_bytes: Some(100_000),
        ..InboundLimits::DEFAULT
    };
    let ctx = testing::context("/streaming.StreamingExamples/UploadChunks").build();
    let data = pseudo_random(300_000, 3);
    let requests = testing::requests(&ctx, limits, chunks(&data, 65_536));
    let status = testing::run(&ctx, guide.upload_chunks(ctx.clone(), requests))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(ctx.end_reason(), Some(EndReason::LimitExceeded));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn an_upload_abandoned_through_the_channel_is_cancelled_and_not_stored() {
    let (guide, dir) = guide();
    let ctx = testing::context("/streaming.StreamingExamples/UploadChunks").build();
    let (sender, requests) = testing::request_channel(&ctx, InboundLimits::DEFAULT);
    let upload = tokio::spawn(testing::run(&ctx, {
        let (guide, ctx) = (Arc::clone(&guide), ctx.clone());
        async move { guide.upload_chunks(ctx, requests).await }
    }));
    for chunk in chunks(&pseudo_random(10_000, 1), 1000) {
        sender.send(chunk).unwrap();
    }
    drop(sender);
    let status = within("the upload", upload).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert_eq!(ctx.end_reason(), Some(EndReason::ClientGone));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn an_idle_upload_ends_with_the_idle_limit() {
    let (guide, _dir) = guide();
    let limits = InboundLimits {
        idle_timeout: Some(Duration::from_millis(50)),
        ..InboundLimits::DEFAULT
    };
    let ctx = testing::context("/streaming.StreamingExamples/UploadChunks").build();
    let (sender, requests) = testing::request_channel::<pb::Chunk>(&ctx, limits);
    let status = within(
        "the idle limit",
        testing::run(&ctx, guide.upload_chunks(ctx.clone(), requests)),
    )
    .await
    .unwrap_err();
    drop(sender);
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(ctx.end_reason(), Some(EndReason::IdleTimeout));
}

#[tokio::test]
async fn chat_answers_a_channel_in_order_and_reads_metadata_and_deadline() {
    let (guide, _dir) = guide();
    let ctx: CallContext = testing::context("/streaming.StreamingExamples/Chat")
        .metadata("x-user", "alice")
        .timeout(Duration::from_secs(60))
        .build();
    assert_eq!(ctx.metadata().get("x-user").unwrap(), "alice");
    assert!(ctx.time_remaining().unwrap() > Duration::from_secs(50));
    let (sender, requests) = testing::request_channel(&ctx, InboundLimits::DEFAULT);
    let (sink, replies) = testing::response_sink(&ctx, 2);
    let chat = tokio::spawn(testing::run(&ctx, {
        let (guide, ctx) = (Arc::clone(&guide), ctx.clone());
        async move { guide.chat(ctx, requests, sink).await }
    }));
    for text in ["one", "two", "three"] {
        sender
            .send(pb::Message {
                text: text.into(),
                user: "alice".into(),
            })
            .unwrap();
    }
    sender.finish();
    let replies: Vec<String> = within("the replies", replies.collect_all())
        .await
        .into_iter()
        .map(|reply| reply.unwrap().text)
        .collect();
    assert_eq!(
        replies,
        ["Delivered: one", "Delivered: two", "Delivered: three"]
    );
    within("the chat", chat).await.unwrap().unwrap();
    assert_eq!(ctx.end_reason(), Some(EndReason::Finished));
}

/// The server drops a call's future when its client resets it. By the time the dropped
/// upload handler is gone, its temporary file must be too, whatever the writer thread was
/// doing at that moment.
#[tokio::test]
async fn an_upload_dropped_mid_way_leaves_no_file_once_its_handler_is_gone() {
    let (guide, dir) = guide();
    let stats = guide.stats();
    for round in 0..8 {
        let ctx = testing::context("/streaming.StreamingExamples/UploadChunks").build();
        let (sender, requests) = testing::request_channel(&ctx, InboundLimits::default());
        let handler = {
            let (guide, ctx) = (Arc::clone(&guide), ctx.clone());
            tokio::spawn(async move { guide.upload_chunks(ctx, requests).await })
        };
        // Big chunks keep the writer thread busy when the handler is dropped.
        for chunk in chunks(&pseudo_random(16 << 20, round), 2 << 20) {
            sender.send(chunk).expect("the handler takes chunks");
        }
        // Every other round, wait for the writer to have created its file first.
        if round % 2 == 0 {
            within("the temporary file to appear", async {
                while std::fs::read_dir(dir.path()).map_or(0, Iterator::count) == 0 {
                    tokio::task::yield_now().await;
                }
            })
            .await;
        }
        handler.abort();
        assert!(handler.await.unwrap_err().is_cancelled());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "round {round} left {left:?}");
        drop(sender);
    }
    assert_eq!(
        stats
            .uploads_stored
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

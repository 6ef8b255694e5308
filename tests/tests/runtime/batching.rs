//! Batched server streaming under the runtime's server: the sink encodes responses in the
//! handler's task into a buffer the response body takes whole. Order, exact bytes, a lone
//! response that goes out at once, a cancel between batches, and a response over the
//! message size limit.

use rust_stream::{CallConfig, CallContext, ResponseSink, Tuning};
use rust_stream_examples::adapter::{StreamingExamplesHandler, StreamingExamplesService};
use rust_stream_examples::pb;
use rust_stream_tests::{pseudo_random, serve_router, wait_for, within};
use std::sync::Arc;
use tokio::sync::watch;
use tonic::{Code, Status};

/// Data sizes that cross every boundary of the batch: empty, small, one over the size
/// that is encoded in a chunk of its own (16 KiB), one over a send buffer and a frame.
const SIZES: [usize; 7] = [0, 10, 64, 20_000, 100, 70_000, 1];

fn sized_event(i: usize) -> pb::Event {
    pb::Event {
        id: i.to_string(),
        r#type: "sized".into(),
        data: pseudo_random(SIZES[i % SIZES.len()], i as u64),
    }
}

struct Sized(usize);

impl StreamingExamplesHandler for Sized {
    async fn list_events(
        &self,
        _ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        for i in 0..self.0 {
            sink.send(sized_event(i)).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn events_of_every_size_arrive_in_order_and_byte_exact() {
    let count = 700;
    let server = rust_stream_tests::serve(Arc::new(Sized(count)), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    for i in 0..count {
        let event = within("an event", events.message()).await.unwrap();
        assert_eq!(event, Some(sized_event(i)), "event {i}");
    }
    assert_eq!(within("the end", events.message()).await.unwrap(), None);
}

/// Sends one event each time the test asks, and waits in between.
struct OnRequest {
    asked: watch::Sender<usize>,
}

impl StreamingExamplesHandler for OnRequest {
    async fn list_events(
        &self,
        _ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        let mut asked = self.asked.subscribe();
        let mut sent = 0;
        loop {
            let wanted = *asked
                .wait_for(|n| *n > sent)
                .await
                .map_err(|_| Status::internal("the test is gone"))?;
            while sent < wanted {
                sent += 1;
                sink.send(sized_event(sent)).await?;
            }
        }
    }
}

#[tokio::test]
async fn a_lone_event_goes_out_at_once_without_waiting_for_a_batch() {
    let handler = Arc::new(OnRequest {
        asked: watch::Sender::new(0),
    });
    let server = rust_stream_tests::serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    // The producer then waits for the test: only a flush per event lets each one through.
    for i in 1..=5 {
        handler.asked.send_replace(i);
        let event = within("the lone event", events.message()).await.unwrap();
        assert_eq!(event, Some(sized_event(i)));
    }
}

/// Sends small events in bursts as fast as the sink takes them, counting the sends that
/// succeeded, and how many had when the call ended.
#[derive(Default)]
struct Bursts {
    sent: watch::Sender<usize>,
    at_end: Arc<watch::Sender<Option<usize>>>,
    stopped: watch::Sender<bool>,
}

impl StreamingExamplesHandler for Bursts {
    async fn list_events(
        &self,
        ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        let at_end = Arc::clone(&self.at_end);
        let sent = self.sent.subscribe();
        ctx.on_end(move |_| {
            at_end.send_replace(Some(*sent.borrow()));
        });
        let _stopped = Stopped(&self.stopped);
        for i in 0.. {
            sink.send(sized_event(7 * i + 2)).await?;
            self.sent.send_modify(|n| *n += 1);
            if i % 50 == 49 {
                tokio::task::yield_now().await;
            }
        }
        Ok(())
    }
}

/// Marks the handler stopped when it is dropped or returns.
struct Stopped<'a>(&'a watch::Sender<bool>);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

#[tokio::test]
async fn a_cancel_between_batches_lets_at_most_one_event_through() {
    for round in 0..5 {
        let handler = Arc::new(Bursts::default());
        let server = rust_stream_tests::serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
        let client = server.client().await;
        let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
            .await
            .unwrap();
        for _ in 0..(300 + round * 37) {
            within("an event", events.message()).await.unwrap().unwrap();
        }
        drop(events);
        wait_for("the handler to stop", &handler.stopped, |stopped| *stopped).await;
        let at_end = handler.at_end.borrow().expect("the call ended");
        let sent = *handler.sent.borrow();
        assert!(
            sent <= at_end + 1,
            "round {round}: {} events sent after the server learned of the cancel",
            sent - at_end
        );
    }
}

/// Sends a small event, one over the message size limit, then another small one.
struct Oversize {
    second: watch::Sender<Option<Result<(), String>>>,
}

impl StreamingExamplesHandler for Oversize {
    async fn list_events(
        &self,
        _ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        sink.send(sized_event(1)).await?;
        let big = pb::Event {
            data: vec![7; 4096],
            ..sized_event(2)
        };
        let sent = sink.send(big).await;
        self.second
            .send_replace(Some(sent.map_err(|err| err.to_string())));
        sent?;
        sink.send(sized_event(3)).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_response_over_the_size_limit_ends_the_stream_with_resource_exhausted() {
    let handler = Arc::new(Oversize {
        second: watch::Sender::new(None),
    });
    let tuning = Tuning {
        max_message_size: 1024,
        ..Tuning::BALANCED
    };
    let router = tuning
        .server()
        .add_service(StreamingExamplesService::from_arc(Arc::clone(&handler)).into_server());
    let server = serve_router(router).await;
    let client = server.client().await;
    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    let first = within("the first event", events.message()).await.unwrap();
    assert_eq!(first, Some(sized_event(1)));
    let status = within("the end", events.message()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    wait_for("the second send", &handler.second, Option::is_some).await;
    assert!(
        matches!(&*handler.second.borrow(), Some(Err(_))),
        "the oversized send failed"
    );
}

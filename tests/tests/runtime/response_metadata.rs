//! Response metadata set from the call context, in all four patterns, over a loopback
//! socket: initial metadata in the headers before the first response, trailing metadata with
//! the status on success and on error, ASCII and `-bin` keys, read back through the generated
//! client helpers (`_with_metadata`, `Responses::headers` / `trailers`).

use rust_stream::{CallConfig, CallContext, LateMetadata, RequestStream, ResponseSink};
use rust_stream_examples::adapter::StreamingExamplesHandler;
use rust_stream_examples::pb;
use rust_stream_tests::{serve, within};
use std::sync::Arc;
use tokio::sync::Notify;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

const INITIAL_BIN: &[u8] = &[0, 1, 2, 0xff];
const TRAILER_BIN: &[u8] = &[0xff, 0, 0xab];

/// Sets headers and trailers naming its pattern; fails when the request says "fail".
#[derive(Default)]
struct Meta {
    /// `ListEvents` with `after: "wait"` waits for this before its first event.
    go: Notify,
}

fn set_metadata(ctx: &CallContext, pattern: &str) -> Result<(), Status> {
    let mut initial = MetadataMap::new();
    initial.insert("x-pattern", pattern.parse().unwrap());
    initial.insert_bin("x-initial-bin", MetadataValue::from_bytes(INITIAL_BIN));
    // Reserved names never reach the wire from metadata.
    initial.insert("grpc-status", "13".parse().unwrap());
    ctx.set_initial_metadata(initial)?;
    let mut trailing = MetadataMap::new();
    trailing.insert("x-trailer", pattern.parse().unwrap());
    trailing.insert_bin("x-trailer-bin", MetadataValue::from_bytes(TRAILER_BIN));
    ctx.set_trailing_metadata(trailing)?;
    Ok(())
}

fn outcome<T>(failing: bool, pattern: &str, value: T) -> Result<T, Status> {
    if failing {
        Err(Status::not_found(format!("no {pattern}")))
    } else {
        Ok(value)
    }
}

impl StreamingExamplesHandler for Meta {
    async fn get_user(
        &self,
        ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        set_metadata(&ctx, "unary")?;
        outcome(request.id == "fail", "unary", pb::UserResponse::default())
    }

    async fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        set_metadata(&ctx, "server streaming")?;
        if request.after == "wait" {
            self.go.notified().await;
        }
        for id in ["1", "2"] {
            let event = pb::Event {
                id: id.into(),
                ..Default::default()
            };
            sink.send(event).await?;
        }
        // The handler's first wait sends the headers (ahead of the queued events); after it,
        // initial metadata is refused, as grpcio refuses it once sent.
        tokio::task::yield_now().await;
        let late = ctx.set_initial_metadata(MetadataMap::new());
        let mut trailing = MetadataMap::new();
        let verdict = match late {
            Err(LateMetadata::HeadersSent) => "headers-sent",
            _ => "accepted",
        };
        trailing.insert("x-late", verdict.parse().unwrap());
        ctx.set_trailing_metadata(trailing)?;
        outcome(request.after == "fail", "server streaming", ())
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        set_metadata(&ctx, "client streaming")?;
        let mut total = 0;
        let mut failing = false;
        while let Some(chunk) = requests.message().await? {
            failing |= &chunk.data[..] == b"fail";
            total += chunk.data.len() as u64;
        }
        outcome(
            failing,
            "client streaming",
            pb::UploadResult {
                bytes_received: total,
            },
        )
    }

    async fn chat(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        set_metadata(&ctx, "bidirectional")?;
        while let Some(message) = requests.message().await? {
            if message.text == "fail" {
                return outcome(true, "bidirectional", ());
            }
            sink.send(message).await?;
        }
        Ok(())
    }
}

fn check_headers(pattern: &str, headers: &MetadataMap) {
    assert_eq!(headers.get("x-pattern").unwrap(), pattern, "{headers:?}");
    let bin = headers
        .get_bin("x-initial-bin")
        .unwrap()
        .to_bytes()
        .unwrap();
    assert_eq!(&bin[..], INITIAL_BIN);
    assert!(
        headers.get("x-trailer").is_none(),
        "trailers in the headers: {headers:?}"
    );
}

fn check_trailers(pattern: &str, trailers: &MetadataMap) {
    assert_eq!(trailers.get("x-trailer").unwrap(), pattern, "{trailers:?}");
    let bin = trailers
        .get_bin("x-trailer-bin")
        .unwrap()
        .to_bytes()
        .unwrap();
    assert_eq!(&bin[..], TRAILER_BIN);
    assert!(
        trailers.get("x-pattern").is_none(),
        "headers in the trailers: {trailers:?}"
    );
}

/// An error's status carries the trailers (and, answered without a response, the headers
/// too: a trailers-only response has one block).
fn check_error(pattern: &str, status: &Status) {
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(status.message(), format!("no {pattern}"));
    assert_eq!(status.metadata().get("x-trailer").unwrap(), pattern);
    let bin = status.metadata().get_bin("x-trailer-bin").unwrap();
    assert_eq!(&bin.to_bytes().unwrap()[..], TRAILER_BIN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_headers_and_trailers_arrive_apart_on_success_and_error() {
    let server = serve(Arc::new(Meta::default()), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let reply = within(
        "GetUser",
        client.get_user_with_metadata(tonic::Request::new(pb::UserRequest { id: "42".into() })),
    )
    .await
    .unwrap();
    check_headers("unary", &reply.headers);
    check_trailers("unary", &reply.trailers);
    assert!(reply.headers.get("grpc-status").is_none());

    let status = within(
        "GetUser",
        client.get_user(pb::UserRequest { id: "fail".into() }),
    )
    .await
    .unwrap_err();
    check_error("unary", &status);
    assert_eq!(status.metadata().get("x-pattern").unwrap(), "unary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_streaming_headers_go_out_before_the_first_event_and_trailers_with_the_status() {
    let meta = Arc::new(Meta::default());
    let server = serve(Arc::clone(&meta), CallConfig::DEFAULT).await;
    let client = server.client().await;
    // The handler waits before its first event: its headers are out already, so the helper
    // returns with them while the handler still waits.
    let filter = pb::EventFilter {
        after: "wait".into(),
    };
    let events = within("ListEvents", client.list_events(filter))
        .await
        .unwrap();
    check_headers("server streaming", events.headers().unwrap());
    assert!(events.trailers().is_none());
    meta.go.notify_one();
    let events_read = within("the events", events.collect_at_most(2)).await;
    assert_eq!(events_read.unwrap().len(), 2);

    let mut events = within("ListEvents", client.list_events(pb::EventFilter::default()))
        .await
        .unwrap();
    while within("an event", events.message())
        .await
        .unwrap()
        .is_some()
    {}
    let trailers = events.trailers().unwrap();
    check_trailers("server streaming", trailers);
    assert_eq!(trailers.get("x-late").unwrap(), "headers-sent");

    let filter = pb::EventFilter {
        after: "fail".into(),
    };
    let mut events = within("ListEvents", client.list_events(filter))
        .await
        .unwrap();
    let status = loop {
        match within("an event", events.message()).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the failing stream ended with OK"),
            Err(status) => break status,
        }
    };
    check_error("server streaming", &status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_streaming_headers_and_trailers_on_success_and_error() {
    let server = serve(Arc::new(Meta::default()), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let chunks = |data: &'static [u8]| {
        futures_util::stream::iter([pb::Chunk {
            data: bytes::Bytes::from_static(data),
        }])
    };
    let reply = within(
        "UploadChunks",
        client.upload_chunks_with_metadata(tonic::Request::new(chunks(b"hello"))),
    )
    .await
    .unwrap();
    assert_eq!(reply.message.bytes_received, 5);
    check_headers("client streaming", &reply.headers);
    check_trailers("client streaming", &reply.trailers);

    let status = within("UploadChunks", client.upload_chunks(chunks(b"fail")))
        .await
        .unwrap_err();
    check_error("client streaming", &status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidirectional_headers_and_trailers_on_success_and_error() {
    let server = serve(Arc::new(Meta::default()), CallConfig::DEFAULT).await;
    let client = server.client().await;
    let (requests, mut replies) = client.chat();
    let hello = pb::Message {
        text: "hello".into(),
        user: "alice".into(),
    };
    requests.send(hello.clone()).await.unwrap();
    assert_eq!(
        within("a reply", replies.message()).await.unwrap(),
        Some(hello)
    );
    check_headers("bidirectional", replies.headers().unwrap());
    drop(requests);
    assert_eq!(within("the end", replies.message()).await.unwrap(), None);
    check_trailers("bidirectional", replies.trailers().unwrap());

    let (requests, mut replies) = client.chat();
    let fail = pb::Message {
        text: "fail".into(),
        user: "alice".into(),
    };
    requests.send(fail).await.unwrap();
    let status = within("the error", replies.message()).await.unwrap_err();
    check_error("bidirectional", &status);
}

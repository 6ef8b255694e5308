//! The generated test harness (`<service>_stream::test_server`): the guide's handler served on
//! `127.0.0.1:0`, called through the connected client, and shut down by dropping the guard.

use rust_stream::{CallContext, RequestStream, ResponseSink};
use rust_stream::{Code, Status};
use rust_stream_examples::adapter::{
    StreamingExamplesHandler, StreamingExamplesService, test_server, test_server_with,
};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::within;

#[tokio::test]
async fn a_handler_is_tested_over_a_socket_in_three_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (client, server) = test_server(GuideServer::new(dir.path())).await.unwrap();
    let user = client
        .get_user(pb::UserRequest { id: "42".into() })
        .await
        .unwrap();
    assert_eq!(user.name, "Ada Lovelace");

    assert!(server.addr().ip().is_loopback());
    assert_ne!(server.addr().port(), 0);
    let status = client
        .get_user(pb::UserRequest { id: "7".into() })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::NotFound, "User not found")
    );
}

/// Dropping the guard shuts the server down: an open stream ends with `UNAVAILABLE` and the
/// address refuses new connections.
#[tokio::test]
async fn dropping_the_guard_ends_open_streams_and_stops_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (client, server) = test_server(GuideServer::new(dir.path())).await.unwrap();
    let addr = server.addr();
    let mut events = client
        .list_events(pb::EventFilter {
            after: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(events.message().await.unwrap().unwrap().id, "1");
    drop(server);
    let end = within("the open stream to end", async {
        loop {
            match events.message().await {
                Ok(Some(_)) => continue,
                other => break other,
            }
        }
    })
    .await;
    assert_eq!(end.unwrap_err().code(), Code::Unavailable);
    within("the address to refuse connections", async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// `shutdown()` waits until the server has stopped; `test_server_with` serves a service
/// with its own configuration.
#[tokio::test]
async fn shutdown_waits_for_the_server_and_configured_services_are_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = StreamingExamplesService::new(GuideServer::new(dir.path()));
    let (client, server) = test_server_with(service).await.unwrap();
    let (requests, mut replies) = client.chat();
    requests
        .send(pb::Message {
            text: "hi".into(),
            user: "ada".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        replies.message().await.unwrap().unwrap().text,
        "Delivered: hi"
    );
    let addr = server.addr();
    within("the server to stop", server.shutdown())
        .await
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// Sends one event, then waits for the end of the call without yielding (`is_active()` in
/// a loop inside one poll) and returns `Ok`: it sees the shutdown while it is being polled.
struct Spinner;

impl StreamingExamplesHandler for Spinner {
    async fn get_user(
        &self,
        _ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        Err(Status::unimplemented("not used"))
    }

    async fn list_events(
        &self,
        _ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        sink.send(pb::Event::default()).await?;
        // `block_in_place` hands this worker's other tasks to another thread meanwhile.
        tokio::task::block_in_place(|| {
            while sink.is_active() {
                std::hint::spin_loop();
            }
        });
        Ok(())
    }

    async fn upload_chunks(
        &self,
        _ctx: CallContext,
        _requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        Err(Status::unimplemented("not used"))
    }

    async fn chat(
        &self,
        _ctx: CallContext,
        _requests: RequestStream<pb::Message>,
        _sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        Err(Status::unimplemented("not used"))
    }
}

/// A stream whose handler returns `Ok` because it saw the server shut down still ends with
/// `UNAVAILABLE`: the client must not take the shutdown for the stream's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_returns_on_shutdown_ends_unavailable_not_ok() {
    let (client, server) = test_server(Spinner).await.unwrap();
    let mut events = client
        .list_events(pb::EventFilter::default())
        .await
        .unwrap();
    assert!(events.message().await.unwrap().is_some());
    within("the server to stop", server.shutdown())
        .await
        .unwrap();
    let end = within("the stream to end", events.message()).await;
    assert_eq!(end.unwrap_err().code(), Code::Unavailable);
}

/// Every one of many open streams ends with `UNAVAILABLE` when the server shuts down, while
/// their clients read as fast as they can: none may read the shutdown as the stream's end.
/// (The handler's task sends the status just before it closes the stream's buffer, and the
/// body must not take the close for an `OK` end.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open_stream_ends_unavailable_at_shutdown() {
    for round in 0..5 {
        let dir = tempfile::tempdir().expect("temp dir");
        let (client, server) = test_server(GuideServer::new(dir.path())).await.unwrap();
        let mut readers = Vec::new();
        let (started_tx, mut started) = tokio::sync::mpsc::channel(64);
        for _ in 0..64 {
            let (client, started_tx) = (client.clone(), started_tx.clone());
            readers.push(tokio::spawn(async move {
                let mut events = client.list_events(pb::EventFilter::default()).await?;
                events.message().await?;
                let _ = started_tx.send(()).await;
                loop {
                    if events.message().await?.is_none() {
                        return Ok::<_, Status>(());
                    }
                }
            }));
        }
        for _ in 0..64 {
            within("every stream's first event", started.recv()).await;
        }
        within("the server to stop", server.shutdown())
            .await
            .unwrap();
        for reader in readers {
            let end = within("a stream to end", reader).await.unwrap();
            let status = end.expect_err("a stream ended OK at shutdown");
            assert_eq!(
                status.code(),
                Code::Unavailable,
                "round {round}: {status:?}"
            );
        }
    }
}

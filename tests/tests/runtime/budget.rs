//! The per-connection send budget ([`Tuning::connection_send_budget`]): a client that opens
//! many streams with huge windows and reads none pins at most the budget (and two send
//! buffers a stream) on the server; the producers wait instead of failing, and everything
//! flows once the client reads.

use bytes::Bytes;
use prost::Message;
use rust_stream::{CallContext, ResponseSink, Tuning};
use rust_stream_examples::adapter::{StreamingExamplesHandler, StreamingExamplesService};
use rust_stream_examples::pb;
use rust_stream_tests::within;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

const MIB: usize = 1024 * 1024;
/// What the kernel may hold between the server and a peer that does not read: the
/// server's send buffer (at most `tcp_wmem`'s 4 MiB default) and the proxy's receive
/// buffer, set small below.
const KERNEL_SLACK: usize = 8 * 1024 * 1024;
/// A receive buffer small enough that the kernel holds little for the stalled client.
const PROXY_RECV_BUFFER: u32 = 64 * 1024;

/// What a test runs: `streams` ListEvents calls of `events` events of `data` bytes each, on
/// one connection with a send budget of `budget` bytes.
#[derive(Clone, Copy)]
struct Load {
    streams: usize,
    events: usize,
    data: usize,
    budget: usize,
    /// Whether the handler reserves room before building each event.
    reserve: bool,
}

/// ListEvents sends the load's events, counting what its sink accepted and any send that
/// failed.
struct Feed {
    load: Load,
    accepted: watch::Sender<usize>,
    failed: watch::Sender<usize>,
}

impl Feed {
    /// Sends `event`, after reserving room for it when the load says so.
    async fn send(
        &self,
        sink: &ResponseSink<pb::Event>,
        event: pb::Event,
    ) -> Result<(), tonic::Status> {
        let len = event.encoded_len();
        let sent = if self.load.reserve {
            match sink.reserve(len).await {
                Ok(permit) => permit.send(event).await,
                Err(err) => Err(err),
            }
        } else {
            sink.send(event).await
        };
        match sent {
            Ok(()) => {
                self.accepted.send_modify(|n| *n += len);
                Ok(())
            }
            Err(err) => {
                self.failed.send_modify(|n| *n += 1);
                Err(err.into())
            }
        }
    }
}

fn event(i: usize, data: usize) -> pb::Event {
    pb::Event {
        id: i.to_string(),
        r#type: "load".into(),
        data: vec![i as u8; data],
    }
}

impl StreamingExamplesHandler for Feed {
    async fn list_events(
        &self,
        _ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), tonic::Status> {
        for i in 0..self.load.events {
            self.send(&sink, event(i, self.load.data)).await?;
        }
        Ok(())
    }
}

/// A proxy for one connection that forwards the server's bytes only while `flowing`: a
/// client that stops reading, as the server sees it.
async fn stalling_proxy(upstream: SocketAddr, flowing: watch::Receiver<bool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(PROXY_RECV_BUFFER).unwrap();
        let server = socket.connect(upstream).await.unwrap();
        let (mut client_rx, mut client_tx) = client.into_split();
        let (mut server_rx, mut server_tx) = server.into_split();
        tokio::spawn(async move { tokio::io::copy(&mut client_rx, &mut server_tx).await });
        let mut flowing = flowing;
        let mut buf = vec![0; 64 * 1024];
        loop {
            if flowing.wait_for(|on| *on).await.is_err() {
                return;
            }
            match server_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if client_tx.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    addr
}

/// Resolves once `value` has not changed for a while: the server has stopped producing.
async fn settled(value: &watch::Sender<usize>) -> usize {
    let mut rx = value.subscribe();
    while let Ok(Ok(())) = tokio::time::timeout(Duration::from_millis(500), rx.changed()).await {}
    *rx.borrow()
}

/// Reads one ListEvents answer to its end: its data bytes and its `grpc-status`.
async fn drain(response: h2::client::ResponseFuture) -> (usize, Option<String>) {
    let mut body = response.await.expect("response headers").into_body();
    let mut bytes = 0;
    while let Some(data) = body.data().await {
        let data = data.expect("response data");
        bytes += data.len();
        let _ = body.flow_control().release_capacity(data.len());
    }
    let trailers = body.trailers().await.expect("trailers").unwrap_or_default();
    let status = trailers
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    (bytes, status)
}

#[tokio::test]
async fn a_client_that_reads_nothing_pins_at_most_the_budget_then_everything_flows() {
    pin_then_flow(Load {
        streams: 32,
        events: 48,
        data: 64 * 1024,
        budget: MIB,
        reserve: false,
    })
    .await;
}

#[tokio::test]
async fn producers_that_reserve_room_first_are_bounded_alike() {
    pin_then_flow(Load {
        streams: 32,
        events: 48,
        data: 64 * 1024,
        budget: MIB,
        reserve: true,
    })
    .await;
}

#[tokio::test]
async fn small_events_batched_together_are_bounded_in_bytes_alike() {
    pin_then_flow(Load {
        streams: 16,
        events: 12_000,
        data: 64,
        budget: 256 * 1024,
        reserve: false,
    })
    .await;
}

#[tokio::test]
async fn messages_larger_than_the_whole_budget_are_sent_one_at_a_time() {
    pin_then_flow(Load {
        streams: 4,
        events: 6,
        data: MIB,
        budget: 256 * 1024,
        reserve: false,
    })
    .await;
}

/// Runs `load` against a client that reads nothing until the server has stopped
/// producing, checks what the server accepted against the bound, then reads everything.
async fn pin_then_flow(load: Load) {
    let tuning = Tuning {
        connection_send_budget: load.budget,
        ..Tuning::BALANCED
    };
    let feed = Arc::new(Feed {
        load,
        accepted: watch::Sender::new(0),
        failed: watch::Sender::new(0),
    });
    let router = tuning
        .server()
        .add_service(StreamingExamplesService::from_arc(Arc::clone(&feed)).into_server());
    let server = rust_stream_tests::serve_router(router).await;
    let (flow, flowing) = watch::channel(false);
    let proxy = stalling_proxy(server.addr, flowing).await;

    const MAX_WINDOW: u32 = (1 << 31) - 1;
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let (mut send, connection) = h2::client::Builder::new()
        .initial_window_size(MAX_WINDOW)
        .initial_connection_window_size(MAX_WINDOW)
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let filter = Bytes::from_static(&[0, 0, 0, 0, 0]);
    let responses: Vec<_> = (0..load.streams)
        .map(|_| {
            let request =
                http::Request::post("http://127.0.0.1/streaming.StreamingExamples/ListEvents")
                    .header("content-type", "application/grpc")
                    .header("te", "trailers")
                    .body(())
                    .unwrap();
            let (response, mut body) = send.send_request(request, false).expect("open a stream");
            body.send_data(filter.clone(), true)
                .expect("send the request");
            response
        })
        .collect();

    let pinned = within("the server to stop producing", settled(&feed.accepted)).await;
    // A message larger than the budget is charged the budget, so one such may be
    // accepted beyond it.
    let bound = load.budget + load.data + 2 * tuning.max_send_buffer * load.streams + KERNEL_SLACK;
    let unbounded = load.streams * load.events * load.data;
    assert!(
        pinned <= bound,
        "{pinned} bytes accepted with nothing read, bound {bound} (all of it: {unbounded})"
    );
    assert_eq!(*feed.failed.borrow(), 0, "producers wait, they do not fail");

    flow.send_replace(true);
    let drains: Vec<_> = responses
        .into_iter()
        .map(|r| tokio::spawn(drain(r)))
        .collect();
    let expected: usize = (0..load.events)
        .map(|i| 5 + event(i, load.data).encoded_len())
        .sum();
    for drain in drains {
        let (bytes, status) = within("a stream to finish", drain).await.unwrap();
        assert_eq!((bytes, status.as_deref()), (expected, Some("0")));
    }
    assert_eq!(*feed.failed.borrow(), 0);
}

//! How the runtime's server moves clients off a connection, observed on the wire over
//! loopback: a connection past [`Tuning::max_connection_age`] gets a GOAWAY, its open
//! streams finish within [`Tuning::max_connection_age_grace`] and are cut after it, and a
//! tonic channel's calls carry on over new connections; at shutdown, every client reads the
//! GOAWAY before the `UNAVAILABLE` that ends its streams.

use crate::server::{Running, finish, grpc_frame, grpc_request, start, user};
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use rust_stream::Tuning;
use rust_stream_examples::adapter::{StreamingExamplesService, StreamingExamplesStreamClient};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::within;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;

/// The head of one frame a client received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
}

impl Frame {
    fn is_goaway(&self) -> bool {
        self.kind == GOAWAY
    }

    /// Whether this frame ends `stream` for the client: trailers, or a reset.
    fn ends(&self, stream: u32) -> bool {
        self.stream == stream
            && (self.kind == RST_STREAM || (self.kind == HEADERS && self.flags & END_STREAM != 0))
    }
}

/// A TCP connection that records, in wire order, the head of every frame read from it.
struct Tapped {
    io: TcpStream,
    /// Bytes read but not yet parsed into whole frames.
    unparsed: Vec<u8>,
    frames: watch::Sender<Vec<Frame>>,
}

impl Tapped {
    fn record(&mut self, read: &[u8]) {
        self.unparsed.extend_from_slice(read);
        loop {
            let mut head = &self.unparsed[..];
            if head.len() < 9 {
                return;
            }
            let len = head.get_uint(3) as usize;
            let (kind, flags) = (head.get_u8(), head.get_u8());
            let stream = head.get_u32() & 0x7fff_ffff;
            if self.unparsed.len() < 9 + len {
                return;
            }
            self.unparsed.drain(..9 + len);
            let frame = Frame {
                kind,
                flags,
                stream,
            };
            self.frames.send_modify(|frames| frames.push(frame));
        }
    }
}

impl AsyncRead for Tapped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.record(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for Tapped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A raw HTTP/2 client whose received frames are recorded.
struct Client {
    send: h2::client::SendRequest<Bytes>,
    frames: watch::Receiver<Vec<Frame>>,
    /// The connection's task: ends when the server closes the connection.
    connection: tokio::task::JoinHandle<Result<(), h2::Error>>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let io = within("TCP connect", TcpStream::connect(addr))
            .await
            .expect("TCP connect");
        let (frames, received) = watch::channel(Vec::new());
        let tapped = Tapped {
            io,
            unparsed: Vec::new(),
            frames,
        };
        let (send, connection) = within("HTTP/2 handshake", h2::client::handshake(tapped))
            .await
            .expect("HTTP/2 handshake");
        Client {
            send,
            frames: received,
            connection: tokio::spawn(connection),
        }
    }

    async fn goaway(&mut self) {
        within(
            "a GOAWAY",
            self.frames
                .wait_for(|frames| frames.iter().any(Frame::is_goaway)),
        )
        .await
        .expect("the connection's frames");
    }

    /// An upload that has sent one chunk and is left open.
    async fn open_upload(&mut self) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
        let (response, mut body) = self
            .send
            .send_request(
                grpc_request("UploadChunks", Some("application/grpc")),
                false,
            )
            .expect("open a stream");
        body.send_data(grpc_frame(&chunk()), false)
            .expect("send a chunk");
        (response, body)
    }
}

fn chunk() -> pb::Chunk {
    pb::Chunk {
        data: Bytes::from_static(&[7; 1024]),
    }
}

fn guide() -> (tempfile::TempDir, Arc<GuideServer>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let guide = Arc::new(GuideServer::new(dir.path()));
    (dir, guide)
}

const AGE: Duration = Duration::from_millis(300);
/// The age with its jitter at the shortest.
const YOUNGEST: Duration = Duration::from_millis(270);

#[tokio::test]
async fn an_aged_connection_gets_goaway_its_streams_finish_within_the_grace_and_are_cut_after() {
    let (_dir, guide) = guide();
    let grace = Duration::from_millis(1500);
    let tuning = Tuning {
        max_connection_age: Some(AGE),
        max_connection_age_grace: Some(grace),
        ..Tuning::BALANCED
    };
    let server = start(guide, &tuning, Duration::ZERO).await;

    // Finished within the grace: the upload opened before the GOAWAY completes.
    let mut finishing = Client::connect(server.addr).await;
    let (response, mut body) = finishing.open_upload().await;
    finishing.goaway().await;
    body.send_data(grpc_frame(&chunk()), true)
        .expect("the open stream still takes data after the GOAWAY");
    let (status, code) = within("the upload's answer", finish(response))
        .await
        .expect("the upload completes within the grace");
    assert_eq!((status, code.as_deref()), (http::StatusCode::OK, Some("0")));
    // New calls go elsewhere: the connection closes once its last stream is done.
    within("the finished connection to close", finishing.connection)
        .await
        .unwrap()
        .expect("closed with GOAWAY, not an error");

    // Still open at the end of the grace: cut with its connection.
    let opened = Instant::now();
    let mut lingering = Client::connect(server.addr).await;
    let (response, _body) = lingering.open_upload().await;
    lingering.goaway().await;
    let cut = within("the lingering upload to be cut", finish(response)).await;
    assert!(cut.is_err(), "the upload outlived its grace: {cut:?}");
    // The server's clock starts after the handshake this one started before.
    assert!(
        opened.elapsed() >= YOUNGEST + grace,
        "cut {:?} after connecting, before age and grace were over",
        opened.elapsed()
    );
}

/// Accepted connections, counted as the server takes them.
fn counted(
    listener: TcpListener,
    tuning: &Tuning,
) -> (
    Arc<AtomicUsize>,
    impl futures_util::Stream<Item = io::Result<TcpStream>> + use<>,
) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let incoming = tuning.incoming(listener).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (accepted, incoming)
}

#[tokio::test]
async fn a_channel_keeps_calling_across_connection_ages_on_new_connections() {
    let (_dir, guide) = guide();
    let tuning = Tuning {
        max_connection_age: Some(AGE),
        ..Tuning::BALANCED
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (accepted, incoming) = counted(listener, &tuning);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = tuning
        .server()
        .add_service(StreamingExamplesService::from_arc(guide).into_server());
    let serving = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    }));
    let client = within(
        "connect",
        StreamingExamplesStreamClient::connect(format!("http://{addr}")),
    )
    .await
    .expect("connect");

    // Calls paced (not timed) until the server has taken two connections after the first.
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    let calls = within("three connections", async {
        let mut calls = 0;
        while accepted.load(Ordering::SeqCst) < 3 {
            pace.tick().await;
            let answer = client.get_user(user("42")).await;
            assert!(answer.is_ok(), "call {calls} failed: {answer:?}");
            calls += 1;
        }
        calls
    })
    .await;
    // Each connection served calls: the channel moved on only when told to.
    assert!(calls >= 3, "{calls} calls over 3 connections");
    client
        .get_user(user("42"))
        .await
        .expect("a call on the newest connection");

    stop.send(()).unwrap();
    within("serve to return", serving)
        .await
        .unwrap()
        .expect("serve ends cleanly");
}

/// Opens an endless feed on `client` and reads its first event.
async fn open_feed(client: &mut Client) -> h2::RecvStream {
    let (response, mut body) = client
        .send
        .send_request(grpc_request("ListEvents", Some("application/grpc")), false)
        .expect("open a stream");
    body.send_data(grpc_frame(&pb::EventFilter::default()), true)
        .expect("send the filter");
    let response = within("the feed's headers", response)
        .await
        .expect("the feed starts");
    let mut events = response.into_body();
    within("an event", events.data())
        .await
        .expect("an event")
        .expect("the feed is open");
    events
}

/// Reads `events` to its end: the `grpc-status` of its trailers.
async fn feed_end(mut events: h2::RecvStream) -> Option<http::HeaderValue> {
    let trailers = within("the feed to end", async {
        while let Some(data) = events.data().await {
            let data = data?;
            let _ = events.flow_control().release_capacity(data.len());
        }
        events.trailers().await
    })
    .await
    .expect("the feed ends with trailers");
    trailers.and_then(|mut trailers| trailers.remove("grpc-status"))
}

/// Streams end on other worker threads than their connections' tasks: without the wait for
/// every GOAWAY, a stream's `UNAVAILABLE` could be written first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_shutdown_a_client_reads_the_goaway_before_its_stream_ends() {
    let (_dir, guide) = guide();
    let server: Running = start(guide, &Tuning::BALANCED, Duration::ZERO).await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        let mut client = Client::connect(server.addr).await;
        let events = open_feed(&mut client).await;
        clients.push((client, events));
    }

    server.stop.send(()).unwrap();
    for (n, (client, events)) in clients.into_iter().enumerate() {
        let stream = events.stream_id().as_u32();
        let code = feed_end(events).await;
        assert_eq!(
            code.as_ref().map(|c| c.as_bytes()),
            Some(&b"14"[..]),
            "client {n}"
        );
        let frames = client.frames.borrow().clone();
        let goaway = frames.iter().position(Frame::is_goaway);
        let end = frames.iter().position(|frame| frame.ends(stream));
        assert!(
            matches!((goaway, end), (Some(goaway), Some(end)) if goaway < end),
            "client {n}: the GOAWAY (frame {goaway:?}) must come before the stream's end \
             (frame {end:?})"
        );
    }
    within("serve to return", server.done)
        .await
        .unwrap()
        .expect("serve ends cleanly");
}

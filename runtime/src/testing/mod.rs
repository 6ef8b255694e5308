//! Running handlers in a plain `#[tokio::test]`, without a server or a network.
//!
//! tonic's `Streaming<T>` cannot be built outside a server, so a handler written against it
//! can only be tested over a socket. rust-stream's handlers take a [`CallContext`], a
//! [`RequestStream`] and a [`ResponseSink`], and this module builds each of them for a
//! test, with the same limits, counters and cancellation as on the wire:
//!
//! - [`context`]: a [`CallContext`] with metadata, a deadline and a peer; the test ends it
//!   with [`CallContext::end`] to play a client that goes away.
//! - [`requests`] (from an iterator) and [`request_channel`] (fed while the handler runs):
//!   a [`RequestStream`] with the given [`InboundLimits`].
//! - [`response_sink`]: a [`ResponseSink`] and the [`ResponseCollector`] that reads what the
//!   handler sends; dropping the collector is the client going away.
//! - [`run`]: runs a handler under the runtime's deadline and panic guard, ending the
//!   context with the reason the server would record.
//! - [`initial_metadata`] and [`trailing_metadata`]: the response metadata the handler set.
//!
//! # Unary
//!
//! ```
//! use rust_stream::testing;
//! use rust_stream::Status;
//!
//! async fn get_user(ctx: rust_stream::CallContext, id: String) -> Result<String, Status> {
//!     let tenant = ctx.metadata().get("tenant").and_then(|v| v.to_str().ok());
//!     match (tenant, id.as_str()) {
//!         (Some("demo"), "42") => Ok("Ada Lovelace".into()),
//!         _ => Err(Status::not_found("User not found")),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let ctx = testing::context("/demo.Users/GetUser")
//!     .metadata("tenant", "demo")
//!     .build();
//! let answer = testing::run(&ctx, get_user(ctx.clone(), "42".into())).await;
//! assert_eq!(answer.unwrap(), "Ada Lovelace");
//! assert_eq!(ctx.end_reason(), Some(rust_stream::EndReason::Finished));
//! # }
//! ```
//!
//! # Server streaming: collect, then leave
//!
//! ```
//! use futures_util::StreamExt;
//! use rust_stream::{testing, CallContext, EndReason, ResponseSink};
//! use rust_stream::Status;
//!
//! async fn count(ctx: CallContext, sink: ResponseSink<u64>) -> Result<(), Status> {
//!     let mut n = 0;
//!     while ctx.is_active() {
//!         n += 1;
//!         sink.send(n).await?;
//!     }
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let ctx = testing::context("/demo.Feed/Count").build();
//! let (sink, mut responses) = testing::response_sink(&ctx, 8);
//! let handler = tokio::spawn(count(ctx.clone(), sink));
//! let first: Vec<u64> = (&mut responses).take(3).map(|r| r.unwrap()).collect().await;
//! assert_eq!(first, [1, 2, 3]);
//! drop(responses); // the client goes away
//! let status = handler.await.unwrap().unwrap_err();
//! assert_eq!(status.code(), rust_stream::Code::Cancelled);
//! assert_eq!(ctx.end_reason(), Some(EndReason::ClientGone));
//! # }
//! ```
//!
//! # Client streaming: from an iterator, with limits
//!
//! ```
//! use rust_stream::{testing, InboundLimits, RequestStream};
//! use rust_stream::Status;
//!
//! async fn total(mut requests: RequestStream<u64>) -> Result<u64, Status> {
//!     let mut sum = 0;
//!     while let Some(n) = requests.message().await? {
//!         sum += n;
//!     }
//!     Ok(sum)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let ctx = testing::context("/demo.Sum/Total").build();
//! let requests = testing::requests(&ctx, InboundLimits::DEFAULT, [1u64, 2, 3]);
//! assert_eq!(testing::run(&ctx, total(requests)).await.unwrap(), 6);
//!
//! let limits = InboundLimits { max_messages: Some(2), ..InboundLimits::DEFAULT };
//! let ctx = testing::context("/demo.Sum/Total").build();
//! let requests = testing::requests(&ctx, limits, [1u64, 2, 3]);
//! let status = testing::run(&ctx, total(requests)).await.unwrap_err();
//! assert_eq!(status.code(), rust_stream::Code::ResourceExhausted);
//! assert_eq!(ctx.end_reason(), Some(rust_stream::EndReason::LimitExceeded));
//! # }
//! ```
//!
//! # Bidirectional: a channel the test feeds, finished or abandoned
//!
//! ```
//! use rust_stream::{testing, CallContext, InboundLimits, RequestStream, ResponseSink};
//! use rust_stream::Status;
//!
//! async fn echo(
//!     mut requests: RequestStream<String>,
//!     sink: ResponseSink<String>,
//! ) -> Result<(), Status> {
//!     while let Some(text) = requests.message().await? {
//!         sink.send(format!("Delivered: {text}")).await?;
//!     }
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let ctx = testing::context("/demo.Chat/Echo").build();
//! let (sender, requests) = testing::request_channel(&ctx, InboundLimits::DEFAULT);
//! let (sink, mut responses) = testing::response_sink(&ctx, 8);
//! let handler = tokio::spawn(testing::run(&ctx, echo(requests, sink)));
//! sender.send("hi".to_owned()).unwrap();
//! assert_eq!(responses.next().await.unwrap().unwrap(), "Delivered: hi");
//! // Dropping the sender without `finish` is a client that reset the call.
//! drop(sender);
//! let status = handler.await.unwrap().unwrap_err();
//! assert_eq!(status.code(), rust_stream::Code::Cancelled);
//! assert_eq!(ctx.end_reason(), Some(rust_stream::EndReason::ClientGone));
//! # }
//! ```
//!
//! # Deadlines
//!
//! ```
//! use rust_stream::{testing, EndReason};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let ctx = testing::context("/demo.Slow/Wait")
//!     .timeout(Duration::from_millis(50))
//!     .build();
//! let slow = async { std::future::pending::<Result<(), rust_stream::Status>>().await };
//! let status = testing::run(&ctx, slow).await.unwrap_err();
//! assert_eq!(status.code(), rust_stream::Code::DeadlineExceeded);
//! assert_eq!(ctx.end_reason(), Some(EndReason::DeadlineExceeded));
//! # }
//! ```

pub(crate) mod probe;

pub use probe::{ANSWER_TIMEOUT, Answer, FIRST_MESSAGE_WAIT};

use crate::call::adapters::run_once;
use crate::call::context::{CallContext, Caller};
use crate::call::deadline::CallDeadline;
use crate::call::inbound::{InboundLimits, RequestStream, Source};
use crate::call::sink::{ResponseSink, ResponseStream, outbound};
use crate::server::auth::Identity;
use crate::server::call_layer::BodyState;
use futures_util::Stream;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

/// Starts building a [`CallContext`] for a test of the handler of `method` (the full gRPC
/// path, such as `/streaming.StreamingExamples/ListEvents`).
pub fn context(method: &'static str) -> ContextBuilder {
    ContextBuilder {
        method,
        metadata: MetadataMap::new(),
        timeout: None,
        remote_addr: None,
        identity: None,
    }
}

/// Builds a [`CallContext`] for a test; see [`context`].
#[derive(Debug)]
pub struct ContextBuilder {
    method: &'static str,
    metadata: MetadataMap,
    timeout: Option<Duration>,
    remote_addr: Option<SocketAddr>,
    identity: Option<Identity>,
}

impl ContextBuilder {
    /// Adds a request header (ASCII metadata). A value that is not valid header text is
    /// skipped, as a server would never have received it.
    pub fn metadata(mut self, key: &'static str, value: &str) -> Self {
        if let Ok(value) = value.parse::<AsciiMetadataValue>() {
            self.metadata.append(key, value);
        }
        self
    }

    /// Gives the call a deadline `timeout` from when it is built, as a client's
    /// `grpc-timeout` does. [`run`] enforces it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the peer address the handler sees.
    pub fn remote_addr(mut self, addr: SocketAddr) -> Self {
        self.remote_addr = Some(addr);
        self
    }

    /// Gives the call the identity a server's auth hook would have
    /// ([`CallContext::identity`]).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The context, active until the test (or [`run`]) ends it.
    pub fn build(self) -> CallContext {
        let deadline = CallDeadline::new(self.timeout, None, Instant::now());
        CallContext::new(
            self.method,
            self.metadata,
            self.remote_addr,
            deadline,
            None,
            Caller {
                peer: None,
                identity: self.identity,
            },
        )
    }
}

/// Runs a handler's future as the server's adapters do: under the call's deadline
/// (`DEADLINE_EXCEEDED`) and panic guard (`INTERNAL`), then ends `ctx` with the reason the
/// server would record ([`EndReason`](crate::EndReason)).
///
/// The future holds its own clone of `ctx`, so it can be spawned.
pub fn run<T, F>(
    ctx: &CallContext,
    handler: F,
) -> impl Future<Output = Result<T, Status>> + use<T, F>
where
    F: Future<Output = Result<T, Status>>,
{
    let ctx = ctx.clone();
    async move { run_once(&ctx, handler).await }
}

/// The initial metadata (response headers) the handler of `ctx` set with
/// [`CallContext::set_initial_metadata`] or [`CallContext::send_initial_metadata`], whether or
/// not it was sent yet.
///
/// ```
/// use rust_stream::testing;
/// use rust_stream::MetadataMap;
///
/// let ctx = testing::context("/demo.Users/GetUser").build();
/// let mut headers = MetadataMap::new();
/// headers.insert("x-served-by", "replica-1".parse().unwrap());
/// ctx.set_initial_metadata(headers).unwrap();
/// let mut trailers = MetadataMap::new();
/// trailers.insert_bin("x-checksum-bin", rust_stream::MetadataValue::from_bytes(b"\x00\x01"));
/// ctx.set_trailing_metadata(trailers).unwrap();
/// assert_eq!(testing::initial_metadata(&ctx).get("x-served-by").unwrap(), "replica-1");
/// let trailers = testing::trailing_metadata(&ctx);
/// assert_eq!(trailers.get_bin("x-checksum-bin").unwrap().to_bytes().unwrap().as_ref(), b"\x00\x01");
/// ```
pub fn initial_metadata(ctx: &CallContext) -> MetadataMap {
    ctx.response().snapshot().0
}

/// The trailing metadata the handler of `ctx` set with
/// [`CallContext::set_trailing_metadata`]. (When the handler failed, the server's adapter
/// sends them in the error status's metadata instead; [`run`] leaves them here.)
pub fn trailing_metadata(ctx: &CallContext) -> MetadataMap {
    ctx.response().snapshot().1
}

/// A [`RequestStream`] that yields `messages` and then ends as a finished upload, with
/// `limits` applied as on the wire.
pub fn requests<T, I>(ctx: &CallContext, limits: InboundLimits, messages: I) -> RequestStream<T>
where
    T: prost::Message + 'static,
    I: IntoIterator<Item = T>,
    I::IntoIter: Send + 'static,
{
    let messages = futures_util::stream::iter(messages.into_iter().map(Ok));
    RequestStream::from_source(Source::Local(Box::pin(messages)), limits, ctx.clone(), None)
}

/// A [`RequestStream`] the test feeds while the handler runs, with `limits` applied as on
/// the wire.
///
/// [`RequestSender::finish`] ends it as a client that finished sending; dropping the sender
/// without finishing is a client that reset the call or vanished, which the stream reports
/// as `CANCELLED` (and the context as [`ClientGone`](crate::EndReason::ClientGone)).
pub fn request_channel<T>(
    ctx: &CallContext,
    limits: InboundLimits,
) -> (RequestSender<T>, RequestStream<T>)
where
    T: prost::Message + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let body = Arc::new(BodyState::default());
    let messages = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|message| (message, rx))
    });
    let stream = RequestStream::from_source(
        Source::Local(Box::pin(messages)),
        limits,
        ctx.clone(),
        Some(Arc::clone(&body)),
    );
    (RequestSender { tx, body }, stream)
}

/// The test's end of [`request_channel`]. Dropped without [`finish`](Self::finish), the
/// stream never saw its end: the client reset the call.
pub struct RequestSender<T> {
    tx: mpsc::UnboundedSender<Result<T, Status>>,
    body: Arc<BodyState>,
}

impl<T> fmt::Debug for RequestSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSender").finish_non_exhaustive()
    }
}

impl<T> RequestSender<T> {
    /// Sends one message; gives it back if the handler's stream is gone.
    pub fn send(&self, message: T) -> Result<(), T> {
        match self.tx.send(Ok(message)) {
            Err(mpsc::error::SendError(Ok(message))) => Err(message),
            _ => Ok(()),
        }
    }

    /// Fails the stream with `status`, as a transport error or a malformed message would.
    pub fn fail(self, status: Status) {
        let _ = self.tx.send(Err(status));
        self.body.finish();
    }

    /// Ends the stream as a client that finished sending (`END_STREAM`).
    pub fn finish(self) {
        self.body.finish();
    }
}

/// A [`ResponseSink`] for a handler under test, with room for `buffer` responses, and the
/// [`ResponseCollector`] reading what it sends.
pub fn response_sink<T>(
    ctx: &CallContext,
    buffer: usize,
) -> (ResponseSink<T>, ResponseCollector<T>) {
    // A sink under test has no connection, so no budget to charge.
    let out = outbound(ctx, buffer, |_| 0);
    (out.sink, ResponseCollector { stream: out.stream })
}

/// What a handler under test sent: a [`Stream`] of its responses, ending when every sink
/// is dropped. Dropping the collector plays a client that goes away: the context ends
/// with [`ClientGone`](crate::EndReason::ClientGone) and further sends fail.
pub struct ResponseCollector<T> {
    stream: ResponseStream<T>,
}

impl<T> fmt::Debug for ResponseCollector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseCollector").finish_non_exhaustive()
    }
}

impl<T> ResponseCollector<T> {
    /// The next response, `None` once every sink is dropped.
    pub async fn next(&mut self) -> Option<Result<T, Status>> {
        std::future::poll_fn(|cx| Pin::new(&mut self.stream).poll_next(cx)).await
    }

    /// Every response until every sink is dropped.
    pub async fn collect_all(mut self) -> Vec<Result<T, Status>> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item);
        }
        all
    }
}

impl<T> Stream for ResponseCollector<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }
}

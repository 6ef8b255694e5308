//! The inbound half of client-streaming and bidirectional calls: a request stream with
//! limits on bytes, message count and idle time, and byte counters.

use crate::call::context::{CallContext, EndReason};
use crate::call::frames::{Messages, Pieces};
use crate::server::call_layer::{BodyEnd, BodyState};
use futures_util::Stream;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tonic::{Code, Status, Streaming};

/// Limits applied to everything a client sends on one call.
///
/// A limit that is hit ends reading at once (the rest of the upload is never read) and
/// surfaces as an error from [`RequestStream::message`]; the handler returns it with `?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundLimits {
    /// Most bytes of message payload accepted on the call (`RESOURCE_EXHAUSTED` beyond).
    pub max_total_bytes: Option<u64>,
    /// Most messages accepted on the call (`RESOURCE_EXHAUSTED` beyond).
    pub max_messages: Option<u64>,
    /// Longest wait for the next message (`DEADLINE_EXCEEDED` beyond).
    pub idle_timeout: Option<Duration>,
}

impl InboundLimits {
    /// The defaults: 1 GiB and 60 s idle.
    ///
    /// 1 GiB bounds what one call can make a server store or process while leaving room for
    /// real file uploads; 60 s idle frees a slot held by a client that stalled without
    /// closing (a live connection keeps HTTP/2 keepalive happy, so only this notices).
    pub const DEFAULT: InboundLimits = InboundLimits {
        max_total_bytes: Some(1 << 30),
        max_messages: None,
        idle_timeout: Some(Duration::from_secs(60)),
    };

    /// No limits at all.
    pub const UNLIMITED: InboundLimits = InboundLimits {
        max_total_bytes: None,
        max_messages: None,
        idle_timeout: None,
    };
}

impl Default for InboundLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The messages a client streams to a handler, with limits and counters.
///
/// Read it with [`RequestStream::message`] (or as a [`Stream`]). After an error, reading has
/// stopped for good and every further read returns the same error.
///
/// The end of the stream (`Ok(None)`) means the client finished sending. An upload the
/// client reset or lost its connection in the middle of fails with `CANCELLED` instead
/// (and the call ends as [`ClientGone`](crate::EndReason::ClientGone)), so a handler never
/// takes an abandoned upload for a complete one. This needs [`CallLayer`](crate::CallLayer),
/// which [`Tuning::server`](crate::Tuning::server) installs.
pub struct RequestStream<T> {
    inner: Option<Source<T>>,
    limits: InboundLimits,
    ctx: CallContext,
    bytes: u64,
    messages: u64,
    idle: Option<Pin<Box<Sleep>>>,
    /// When the last message arrived. The idle timer is re-armed from it only when it
    /// fires, so a message costs a clock read instead of a timer-wheel update.
    last_message: Instant,
    failed: Option<Status>,
    /// How the request body ended, when something recorded it (the server's `CallLayer`,
    /// a test's [`RequestSender`](crate::testing::RequestSender)).
    body: Option<Arc<BodyState>>,
    /// Set once the [`Stream`] impl has yielded the error, after which it yields `None`.
    error_yielded: bool,
}

impl<T> fmt::Debug for RequestStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStream")
            .field("method", &self.ctx.method())
            .field("bytes", &self.bytes)
            .field("messages", &self.messages)
            .field("limits", &self.limits)
            .field("failed", &self.failed)
            .finish()
    }
}

/// Where the messages come from: the network, or a test (see [`crate::testing`]).
// One per call, held in place: boxing tonic's stream would cost an allocation per call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source<T> {
    Tonic(Streaming<T>),
    Local(Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>),
    /// Read straight from the DATA frames (see `call::frames`), decoded by `decode`.
    Frames(Messages, fn(Pieces) -> Result<T, Status>),
}

impl<T> Source<T> {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Status>>> {
        match self {
            Source::Tonic(streaming) => Pin::new(streaming).poll_next(cx),
            Source::Local(stream) => stream.as_mut().poll_next(cx),
            Source::Frames(messages, decode) => messages
                .poll_message(cx)
                .map(|message| message.map(|bytes| bytes.and_then(*decode))),
        }
    }
}

impl<T: prost::Message> RequestStream<T> {
    pub(crate) fn new(inner: Streaming<T>, limits: InboundLimits, ctx: CallContext) -> Self {
        let body = ctx.body_state();
        Self::from_source(Source::Tonic(inner), limits, ctx, body)
    }

    pub(crate) fn from_source(
        inner: Source<T>,
        limits: InboundLimits,
        ctx: CallContext,
        body: Option<Arc<BodyState>>,
    ) -> Self {
        let idle = limits.idle_timeout.map(|t| Box::pin(tokio::time::sleep(t)));
        RequestStream {
            inner: Some(inner),
            limits,
            ctx,
            bytes: 0,
            messages: 0,
            idle,
            last_message: Instant::now(),
            failed: None,
            body,
            error_yielded: false,
        }
    }

    /// The next message, `Ok(None)` once the client has finished sending, or the status the
    /// call should end with.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    /// Bytes of message payload received so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }

    /// Messages received so far.
    pub fn messages_received(&self) -> u64 {
        self.messages
    }

    /// The limits in force.
    pub fn limits(&self) -> InboundLimits {
        self.limits
    }

    /// The call this stream belongs to.
    pub fn context(&self) -> &CallContext {
        &self.ctx
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        if let Some(status) = &self.failed {
            return Poll::Ready(Err(status.clone()));
        }
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        let polled = inner.poll_next(cx);
        let outcome = match polled {
            Poll::Ready(Some(Ok(message))) => self.admit(message),
            Poll::Ready(Some(Err(status))) => Err(self.stream_failed(status)),
            Poll::Ready(None) => match self.body.as_ref().map(|body| body.end()) {
                // tonic ends the stream cleanly on a reset too: only `END_STREAM` is a
                // finished upload, so a handler never stores an abandoned one as complete.
                Some(BodyEnd::Open | BodyEnd::Abandoned) => {
                    self.ctx.end_by_client();
                    Err(Status::cancelled(
                        "the client abandoned the request stream before finishing it",
                    ))
                }
                Some(BodyEnd::Finished) | None => {
                    self.inner = None;
                    return Poll::Ready(Ok(None));
                }
            },
            Poll::Pending => {
                let (Some(idle), Some(timeout)) = (self.idle.as_mut(), self.limits.idle_timeout)
                else {
                    return Poll::Pending;
                };
                loop {
                    ready!(idle.as_mut().poll(cx));
                    let due = self.last_message + timeout;
                    if due <= Instant::now() {
                        break;
                    }
                    // Messages came since the timer was armed: wait from the last one.
                    idle.as_mut().reset(due);
                }
                self.ctx.note_inbound_failure(EndReason::IdleTimeout);
                Err(Status::deadline_exceeded(format!(
                    "no message from the client for {timeout:?} (idle limit)"
                )))
            }
        };
        Poll::Ready(
            outcome
                .map(Some)
                .inspect_err(|status| self.fail(status.clone())),
        )
    }

    fn admit(&mut self, message: T) -> Result<T, Status> {
        self.messages += 1;
        self.bytes += message.encoded_len() as u64;
        if let Some(max) = self.limits.max_messages
            && self.messages > max
        {
            self.ctx.note_inbound_failure(EndReason::LimitExceeded);
            return Err(Status::resource_exhausted(format!(
                "upload exceeds the limit of {max} messages"
            )));
        }
        if let Some(max) = self.limits.max_total_bytes
            && self.bytes > max
        {
            self.ctx.note_inbound_failure(EndReason::LimitExceeded);
            return Err(Status::resource_exhausted(format!(
                "upload exceeds the limit of {max} bytes"
            )));
        }
        if self.idle.is_some() {
            self.last_message = Instant::now();
        }
        Ok(message)
    }

    /// The status a failed read ends the call with. A transport error means the client
    /// (or its connection) is gone.
    fn stream_failed(&self, status: Status) -> Status {
        if self
            .body
            .as_ref()
            .is_some_and(|body| body.end() == BodyEnd::Abandoned)
        {
            self.ctx.end_by_client();
        }
        let status = map_decode_status(status);
        if status.code() == Code::ResourceExhausted {
            self.ctx.note_inbound_failure(EndReason::LimitExceeded);
        }
        status
    }

    /// Stops reading for good: dropping tonic's stream drops the request body, so nothing
    /// more of the upload is read or buffered.
    fn fail(&mut self, status: Status) {
        self.inner = None;
        self.idle = None;
        self.failed = Some(status);
    }
}

/// tonic reports an oversized message as `OUT_OF_RANGE`; gRPC (and every other
/// implementation) says `RESOURCE_EXHAUSTED`, which is what clients retry and alert on.
pub(crate) fn map_decode_status(status: Status) -> Status {
    if status.code() == Code::OutOfRange && status.message().contains("message length too large") {
        Status::resource_exhausted(status.message().to_owned())
    } else {
        status
    }
}

impl<T: prost::Message> Stream for RequestStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.error_yielded {
            return Poll::Ready(None);
        }
        let item = ready!(this.poll_message(cx)).transpose();
        this.error_yielded = matches!(item, Some(Err(_)));
        Poll::Ready(item)
    }
}

impl<T> Unpin for RequestStream<T> {}

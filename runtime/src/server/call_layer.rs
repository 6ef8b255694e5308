//! A server layer that starts each call's clock when its headers arrive and records how its
//! request body ends.

use crate::call::batch::{EncodedBody, Outgoing};
use crate::call::context::EndReason;
use crate::call::deadline::{GRPC_TIMEOUT_HEADER, parse_grpc_timeout};
use crate::call::metadata::{ResponseMetadata, append};
use crate::server::budget::CallBudget;
use crate::server::wrapping::{ready_when_inner_is, wrapping_layer};
use http_body::{Body as _, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

/// Makes deadlines and uploads exact from the first byte of a call.
///
/// - **Deadlines.** The call's clock starts when its headers arrive, not once the adapter
///   has decoded the request, and a call whose `grpc-timeout` passes while its request is
///   still arriving answers `DEADLINE_EXCEEDED`. Without it, tonic's own `grpc-timeout`
///   timer answers such a call `CANCELLED "Timeout expired"`.
/// - **Malformed `grpc-timeout`** (`abc`, `-1S`, more than 8 digits, no unit) answers
///   `INTERNAL` at once, as grpc-go does, instead of running the call without a deadline.
/// - **How the request ended.** tonic reports a client's `RST_STREAM(CANCEL)` as a clean end
///   of the request stream. This layer records whether the body really ended with
///   `END_STREAM`, so [`RequestStream`](crate::RequestStream) answers an abandoned upload
///   with `CANCELLED` instead of a short "finished" one, and counts request messages, so a
///   unary request carrying two answers `INTERNAL`.
///
/// - **Trailers.** The trailing metadata a handler set with
///   [`CallContext::set_trailing_metadata`](crate::CallContext::set_trailing_metadata) goes out
///   with its status, also on success, where tonic's trailers carry only `grpc-status`.
///
/// [`Tuning::server`](crate::Tuning::server) installs it; add it with `Server::layer` when
/// you build a tonic server yourself.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallLayer;

/// The service [`CallLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct CallService<S> {
    inner: S,
    /// Where the calls are recorded, when the server was given metrics.
    #[cfg(feature = "metrics")]
    metrics: Option<crate::Metrics>,
}

wrapping_layer!(CallLayer => CallService {
    #[cfg(feature = "metrics")]
    metrics: None,
});

impl<S> CallService<S> {
    /// `inner` behind the layer, its calls recorded in `metrics`.
    #[cfg(feature = "metrics")]
    pub(crate) fn metered(inner: S, metrics: Option<crate::Metrics>) -> Self {
        CallService { inner, metrics }
    }

    /// Records a call the layer answered itself with `code`, before any service saw it
    /// (so under the method `other`).
    #[cfg(feature = "metrics")]
    fn record_refused(&self, start: Instant, code: tonic::Code) {
        crate::metrics::server::CallMeter::new(self.metrics.clone()).record(
            &crate::metrics::server::CallTotals {
                start,
                status: Some(code),
                reason: None,
                bytes_in: 0,
                messages_in: 0,
                bytes_out: 0,
                messages_out: 0,
            },
        );
    }
}

/// What [`CallLayer`] learned about a call, handed to the adapters in the request's
/// extensions.
#[derive(Clone, Debug)]
pub(crate) struct CallStart {
    /// When the headers arrived.
    pub(crate) start: Instant,
    /// The client's `grpc-timeout`, already validated.
    pub(crate) timeout: Option<Duration>,
    /// How the request body is going, updated as it is read.
    pub(crate) body: Arc<BodyState>,
}

/// How a request body ended and how many gRPC messages it carried, and how the call ended,
/// shared by the layer and the call's context.
#[derive(Debug)]
pub(crate) struct BodyState {
    end: AtomicU8,
    messages: AtomicU64,
    bytes: AtomicU64,
    /// The reason the call's context ended with, for the call's span.
    reason: OnceLock<EndReason>,
    /// The call's span (disabled when nothing listens, or the feature is off).
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// The response metadata the call's handler sets; the layer writes its trailers.
    response: Arc<ResponseMetadata>,
    /// The call's metrics (recording nothing unless the server has metrics).
    #[cfg(feature = "metrics")]
    pub(crate) meter: crate::metrics::server::CallMeter,
    /// The call's account with its connection's send budget, under the runtime's server.
    pub(crate) budget: Option<Arc<CallBudget>>,
    /// The buffer of responses the call's sink encodes, which the response body takes
    /// ahead of tonic's body (whose stream then carries only the end).
    encoded: OnceLock<Arc<dyn Outgoing>>,
}

impl Default for BodyState {
    fn default() -> Self {
        BodyState {
            end: AtomicU8::new(OPEN),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            reason: OnceLock::new(),
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
            response: Arc::new(ResponseMetadata::new()),
            #[cfg(feature = "metrics")]
            meter: crate::metrics::server::CallMeter::default(),
            budget: None,
            encoded: OnceLock::new(),
        }
    }
}

const OPEN: u8 = 0;
const FINISHED: u8 = 1;
const ABANDONED: u8 = 2;

/// The end of a request body as the transport saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    /// Still being read.
    Open,
    /// The client sent `END_STREAM`: it finished sending.
    Finished,
    /// The stream was reset or the connection lost before `END_STREAM`.
    Abandoned,
}

impl BodyState {
    pub(crate) fn end(&self) -> BodyEnd {
        match self.end.load(Ordering::Acquire) {
            OPEN => BodyEnd::Open,
            FINISHED => BodyEnd::Finished,
            _ => BodyEnd::Abandoned,
        }
    }

    /// gRPC messages whose first byte has arrived.
    pub(crate) fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Bytes of the request body received, gRPC framing included.
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Records the reason the call ended with (the first one stands).
    pub(crate) fn set_reason(&self, reason: EndReason) {
        let _ = self.reason.set(reason);
    }

    /// The call's span, to run its handler in.
    #[cfg(feature = "tracing")]
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The response metadata of the call.
    pub(crate) fn response(&self) -> &Arc<ResponseMetadata> {
        &self.response
    }

    /// The response body takes the call's responses, already encoded, from `outgoing`.
    pub(crate) fn send_encoded(&self, outgoing: Arc<dyn Outgoing>) {
        let _ = self.encoded.set(outgoing);
    }

    /// Records that the client finished sending (`END_STREAM`).
    pub(crate) fn finish(&self) {
        self.set_end(FINISHED);
    }

    fn set_end(&self, end: u8) {
        // The first verdict stands: a body that finished cannot be abandoned afterwards.
        let _ = self
            .end
            .compare_exchange(OPEN, end, Ordering::AcqRel, Ordering::Acquire);
    }
}

type Body = tonic::body::Body;

impl<S> Service<http::Request<Body>> for CallService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    ready_when_inner_is!();

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let start = Instant::now();
        let timeout = match request.headers().get(GRPC_TIMEOUT_HEADER) {
            None => None,
            Some(value) => match value.to_str().ok().and_then(parse_grpc_timeout) {
                Some(timeout) => Some(timeout),
                None => {
                    let status = tonic::Status::internal(format!(
                        "malformed grpc-timeout header: {:?}",
                        String::from_utf8_lossy(value.as_bytes())
                    ));
                    #[cfg(feature = "metrics")]
                    self.record_refused(start, status.code());
                    return CallFuture::answered(status.into_http());
                }
            },
        };
        let state = Arc::new(BodyState {
            #[cfg(feature = "tracing")]
            span: call_span(&request, timeout),
            #[cfg(feature = "metrics")]
            meter: crate::metrics::server::CallMeter::new(self.metrics.clone()),
            budget: request.extensions().get::<Arc<CallBudget>>().cloned(),
            ..BodyState::default()
        });
        let (mut parts, body) = request.into_parts();
        let body = if body.is_end_stream() {
            state.set_end(FINISHED);
            body
        } else {
            let tracked = Body::new(TrackedBody {
                inner: body,
                state: Arc::clone(&state),
                framing: Framing::default(),
                messages: 0,
                bytes: 0,
            });
            // A client-streaming adapter may take the body back from tonic.
            crate::call::frames::lend(tracked, &mut parts.extensions)
        };
        parts.extensions.insert(CallStart {
            start,
            timeout,
            body: Arc::clone(&state),
        });
        // Beyond what an `Instant` can hold, a deadline is no deadline.
        let deadline = timeout.and_then(|t| start.checked_add(t));
        let summary = CallSummary {
            state,
            messages_out: 0,
            bytes_out: 0,
            framing: Framing::default(),
            #[cfg(feature = "metrics")]
            start,
            #[cfg(feature = "metrics")]
            status: None,
        };
        let inner = summary.in_span(|| self.inner.call(http::Request::from_parts(parts, body)));
        CallFuture {
            inner: Some(inner),
            deadline: deadline.map(|at| (at, Box::pin(tokio::time::sleep_until(at)))),
            answer: None,
            summary: Some(summary),
        }
    }
}

/// The span of one call: method, peer and deadline when it starts; the end reason and
/// what it carried each way when it is over.
#[cfg(feature = "tracing")]
fn call_span(request: &http::Request<Body>, timeout: Option<Duration>) -> tracing::Span {
    let peer = request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr());
    let span = tracing::info_span!(
        "grpc_call",
        method = request.uri().path(),
        peer = tracing::field::Empty,
        deadline = tracing::field::Empty,
        end_reason = tracing::field::Empty,
        messages_in = tracing::field::Empty,
        bytes_in = tracing::field::Empty,
        messages_out = tracing::field::Empty,
        bytes_out = tracing::field::Empty,
    );
    if let Some(peer) = peer {
        span.record("peer", tracing::field::display(peer));
    }
    if let Some(timeout) = timeout {
        span.record("deadline", tracing::field::debug(timeout));
    }
    span
}

/// Counts what a call sends and, when dropped (the call is over: answered and its body
/// sent or abandoned), records the call's totals and end reason on its span.
struct CallSummary {
    state: Arc<BodyState>,
    messages_out: u64,
    bytes_out: u64,
    framing: Framing,
    /// When the headers arrived.
    #[cfg(feature = "metrics")]
    start: Instant,
    /// The `grpc-status` the call sent, once it has.
    #[cfg(feature = "metrics")]
    status: Option<tonic::Code>,
}

impl CallSummary {
    /// Runs `f` inside the call's span.
    fn in_span<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        let _entered = self.state.span.enter();
        f()
    }

    fn sent(&mut self, data: &[u8]) {
        self.messages_out += self.framing.feed(data);
        self.bytes_out += data.len() as u64;
    }

    /// Notes the status in `headers` (the response's, or its trailers), if any, for the
    /// call's metrics.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn sent_status(&mut self, headers: &http::HeaderMap) {
        #[cfg(feature = "metrics")]
        if self.state.meter.is_on() {
            self.status = crate::metrics::sent_status(headers).or(self.status);
        }
    }
}

impl Drop for CallSummary {
    fn drop(&mut self) {
        #[cfg(feature = "tracing")]
        {
            let span = &self.state.span;
            match self.state.reason.get() {
                Some(reason) => span.record("end_reason", tracing::field::display(reason)),
                // No handler ran: the call was refused before it (or by the layer's deadline).
                None => span.record("end_reason", "not dispatched"),
            };
            span.record("messages_in", self.state.messages());
            span.record("bytes_in", self.state.bytes());
            span.record("messages_out", self.messages_out);
            span.record("bytes_out", self.bytes_out);
        }
        #[cfg(feature = "metrics")]
        self.state
            .meter
            .record(&crate::metrics::server::CallTotals {
                start: self.start,
                status: self.status,
                reason: self.state.reason.get().copied(),
                bytes_in: self.state.bytes(),
                messages_in: self.state.messages(),
                bytes_out: self.bytes_out,
                messages_out: self.messages_out,
            });
    }
}

pin_project! {
    /// The response future of [`CallService`].
    pub struct CallFuture<F> {
        // Dropped before `summary`, so the call's end reason is known when it is recorded.
        #[pin]
        inner: Option<F>,
        deadline: Option<(Instant, Pin<Box<Sleep>>)>,
        answer: Option<http::Response<Body>>,
        summary: Option<CallSummary>,
    }
}

impl<F> CallFuture<F> {
    fn answered(response: http::Response<Body>) -> Self {
        CallFuture {
            inner: None,
            deadline: None,
            answer: Some(response),
            summary: None,
        }
    }
}

impl<F> std::fmt::Debug for CallFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture")
            .field("deadline", &self.deadline.as_ref().map(|(at, _)| at))
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for CallFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (Some(inner), Some(summary)) = (this.inner.as_pin_mut(), this.summary.as_ref()) else {
            let status = tonic::Status::internal("the call was already answered");
            return Poll::Ready(Ok(this.answer.take().unwrap_or_else(|| status.into_http())));
        };
        if let Poll::Ready(outcome) = summary.in_span(|| inner.poll(cx)) {
            // The body carries the summary on: the call is over once it is sent.
            let mut summary = this.summary.take();
            return Poll::Ready(outcome.map(|response| {
                if let Some(summary) = &mut summary {
                    summary.sent_status(response.headers());
                }
                // A trailers-only answer (an error before any response) already carries the
                // handler's trailers: the adapter put them in the status.
                let encoded = summary
                    .as_ref()
                    .and_then(|s| s.state.encoded.get().cloned());
                response.map(|body| {
                    let inner = match encoded {
                        Some(outgoing) => Body::new(EncodedBody {
                            outgoing,
                            inner: body,
                            drained: false,
                        }),
                        None => body,
                    };
                    Body::new(CountedBody { inner, summary })
                })
            }));
        }
        if let Some((at, sleep)) = this.deadline {
            // tonic's own `grpc-timeout` timer wraps this future and started after ours, so
            // whenever it fires our deadline has passed too: the clock check makes sure we
            // answer first even if the timer driver has not marked our sleep yet.
            if sleep.as_mut().poll(cx).is_ready() || Instant::now() >= *at {
                summary.state.set_reason(EndReason::DeadlineExceeded);
                let status = tonic::Status::deadline_exceeded("deadline exceeded");
                return Poll::Ready(Ok(status.into_http()));
            }
        }
        Poll::Pending
    }
}

/// The response body, counting what the call sends for its summary.
struct CountedBody {
    // Dropped before `summary`: dropping a streaming body ends its call.
    inner: Body,
    summary: Option<CallSummary>,
}

impl http_body::Body for CountedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let mut frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let (Some(Ok(frame)), Some(summary)) = (&mut frame, this.summary.as_mut()) {
            if let Some(data) = frame.data_ref() {
                summary.sent(data);
            } else if let Some(trailers) = frame.trailers_mut() {
                // The status, success or error: the handler's trailers go with it.
                append(trailers, summary.state.response.take_trailing());
                summary.sent_status(trailers);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request body, recording how it ended and how many gRPC messages it carried.
struct TrackedBody {
    inner: Body,
    state: Arc<BodyState>,
    framing: Framing,
    /// The counts, kept here and published to `state` with plain stores: this body is
    /// their only writer, so a frame costs no locked read-modify-write.
    messages: u64,
    bytes: u64,
}

impl http_body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            // HTTP/2 trailers always carry END_STREAM.
            Some(Ok(frame)) if frame.is_trailers() => this.state.set_end(FINISHED),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let started = this.framing.feed(data);
                    if started > 0 {
                        this.messages += started;
                        this.state.messages.store(this.messages, Ordering::Relaxed);
                    }
                    this.bytes += data.len() as u64;
                    this.state.bytes.store(this.bytes, Ordering::Relaxed);
                }
            }
            Some(Err(_)) => this.state.set_end(ABANDONED),
            None => this.state.set_end(FINISHED),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        // Dropped before its end was read: nobody will see an `END_STREAM` for it now.
        self.state.set_end(ABANDONED);
    }
}

/// Follows gRPC's length-prefixed framing (1 flag byte, 4 length bytes, the message) across
/// DATA frames, to count messages without decoding them.
#[derive(Debug, Default)]
pub(crate) struct Framing {
    /// Bytes of the current message still to come.
    remaining: u64,
    /// Bytes of the current 5-byte prefix seen so far.
    prefix_seen: u8,
    /// The length being assembled from the prefix.
    length: u32,
}

impl Framing {
    /// Consumes `data`; returns how many messages began in it.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> u64 {
        let mut started = 0;
        while !data.is_empty() {
            if self.remaining > 0 {
                let skip = data
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                data = &data[skip..];
                self.remaining -= skip as u64;
                continue;
            }
            if self.prefix_seen == 0
                && let Some((prefix, rest)) = data.split_first_chunk::<5>()
            {
                // The common case: a whole prefix at hand, read at once.
                started += 1;
                let [_flag, length @ ..] = *prefix;
                self.remaining = u64::from(u32::from_be_bytes(length));
                data = rest;
                continue;
            }
            let byte = data[0];
            data = &data[1..];
            if self.prefix_seen == 0 {
                started += 1;
            } else {
                self.length = (self.length << 8) | u32::from(byte);
            }
            self.prefix_seen += 1;
            if self.prefix_seen == 5 {
                self.remaining = u64::from(self.length);
                self.prefix_seen = 0;
                self.length = 0;
            }
        }
        started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: u32) -> Vec<u8> {
        let mut framed = vec![0];
        framed.extend_from_slice(&len.to_be_bytes());
        framed.resize(5 + len as usize, 7);
        framed
    }

    #[test]
    fn framing_counts_messages_however_the_bytes_are_split() {
        let mut wire = message(3);
        wire.extend(message(0));
        wire.extend(message(300));
        wire.extend(message(1));
        for split in [1, 2, 5, 7, 64, wire.len()] {
            let mut framing = Framing::default();
            let started: u64 = wire.chunks(split).map(|c| framing.feed(c)).sum();
            assert_eq!(started, 4, "split {split}");
            assert_eq!((framing.remaining, framing.prefix_seen), (0, 0));
        }
        let mut framing = Framing::default();
        assert_eq!(framing.feed(&message(10)[..3]), 1);
    }

    #[test]
    fn the_first_end_of_a_body_stands() {
        let state = BodyState::default();
        assert_eq!(state.end(), BodyEnd::Open);
        state.set_end(FINISHED);
        state.set_end(ABANDONED);
        assert_eq!(state.end(), BodyEnd::Finished);
    }
}

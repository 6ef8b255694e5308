//! A server layer that starts each call's clock when its headers arrive and records how its
//! request body ends.

use crate::deadline::{GRPC_TIMEOUT_HEADER, parse_grpc_timeout};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
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
/// [`Tuning::server`](crate::Tuning::server) installs it; add it with `Server::layer` when
/// you build a tonic server yourself.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallLayer;

impl<S> Layer<S> for CallLayer {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallService { inner }
    }
}

/// The service [`CallLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct CallService<S> {
    inner: S,
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

/// How a request body ended, and how many gRPC messages it carried.
#[derive(Debug, Default)]
pub(crate) struct BodyState {
    end: AtomicU8,
    messages: AtomicU64,
    bytes: AtomicU64,
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
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Records that the client finished sending (`END_STREAM`).
    pub(crate) fn finish(&self) {
        self.set_end(FINISHED);
    }

    /// Records that the client abandoned the request (reset, disconnect).
    pub(crate) fn abandon(&self) {
        self.set_end(ABANDONED);
    }

    fn set_end(&self, end: u8) {
        // The first verdict stands: a body that finished cannot be abandoned afterwards.
        let _ = self
            .end
            .compare_exchange(OPEN, end, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl<S, ResBody> Service<http::Request<tonic::body::Body>> for CallService<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = CallFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
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
                    return CallFuture::answered(status.into_http());
                }
            },
        };
        let state = Arc::new(BodyState::default());
        let (mut parts, body) = request.into_parts();
        let body = if body.is_end_stream() {
            state.set_end(FINISHED);
            body
        } else {
            tonic::body::Body::new(TrackedBody {
                inner: body,
                state: Arc::clone(&state),
                framing: Framing::default(),
            })
        };
        parts.extensions.insert(CallStart {
            start,
            timeout,
            body: state,
        });
        // Beyond what an `Instant` can hold, a deadline is no deadline.
        let deadline = timeout.and_then(|t| start.checked_add(t));
        CallFuture {
            inner: Some(self.inner.call(http::Request::from_parts(parts, body))),
            deadline: deadline.map(|at| (at, Box::pin(tokio::time::sleep_until(at)))),
            answer: None,
        }
    }
}

pin_project! {
    /// The response future of [`CallService`].
    pub struct CallFuture<F, B> {
        #[pin]
        inner: Option<F>,
        deadline: Option<(Instant, Pin<Box<Sleep>>)>,
        answer: Option<http::Response<B>>,
    }
}

impl<F, B> CallFuture<F, B> {
    fn answered(response: http::Response<B>) -> Self {
        CallFuture {
            inner: None,
            deadline: None,
            answer: Some(response),
        }
    }
}

impl<F, B> std::fmt::Debug for CallFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture")
            .field("deadline", &self.deadline.as_ref().map(|(at, _)| at))
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for CallFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: Default,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            let status = tonic::Status::internal("the call was already answered");
            return Poll::Ready(Ok(this.answer.take().unwrap_or_else(|| status.into_http())));
        };
        if let ready @ Poll::Ready(_) = inner.poll(cx) {
            return ready;
        }
        if let Some((at, sleep)) = this.deadline {
            // tonic's own `grpc-timeout` timer wraps this future and started after ours, so
            // whenever it fires our deadline has passed too: the clock check makes sure we
            // answer first even if the timer driver has not marked our sleep yet.
            if sleep.as_mut().poll(cx).is_ready() || Instant::now() >= *at {
                let status = tonic::Status::deadline_exceeded("deadline exceeded");
                return Poll::Ready(Ok(status.into_http()));
            }
        }
        Poll::Pending
    }
}

/// The request body, recording how it ended and how many gRPC messages it carried.
struct TrackedBody {
    inner: tonic::body::Body,
    state: Arc<BodyState>,
    framing: Framing,
}

impl Body for TrackedBody {
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
                        this.state.messages.fetch_add(started, Ordering::Relaxed);
                    }
                    this.state
                        .bytes
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
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
struct Framing {
    /// Bytes of the current message still to come.
    remaining: u64,
    /// Bytes of the current 5-byte prefix seen so far.
    prefix_seen: u8,
    /// The length being assembled from the prefix.
    length: u32,
}

impl Framing {
    /// Consumes `data`; returns how many messages began in it.
    fn feed(&mut self, mut data: &[u8]) -> u64 {
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

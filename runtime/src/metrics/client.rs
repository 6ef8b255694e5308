//! A client channel that records gRFC A66's client metrics for every call made through it.
//!
//! One call is one attempt here (the channel makes no retries of its own), so every call
//! records both `grpc.client.attempt.*` and `grpc.client.call.duration`.

use super::{METHOD, Metrics, STATUS, TARGET, attr, method_name, payload, sent_status, status_name};
use crate::call::deadline::{GRPC_TIMEOUT_HEADER, parse_grpc_timeout};
use crate::server::call_layer::Framing;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use opentelemetry::KeyValue;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use tokio::time::Instant;
use tonic::Code;
use tonic::body::Body;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client channel whose calls are recorded by [`Metrics`] (made by
/// [`Metrics::channel`]). A tonic client takes it wherever it takes a `Channel`:
/// `MyServiceClient::new(metrics.channel(channel, target))`.
#[derive(Clone)]
pub struct MeteredChannel<S> {
    inner: S,
    metrics: Metrics,
    target: Arc<str>,
}

impl<S> std::fmt::Debug for MeteredChannel<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredChannel")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl<S> MeteredChannel<S> {
    pub(super) fn new(inner: S, metrics: Metrics, target: String) -> Self {
        MeteredChannel {
            inner,
            metrics,
            target: target.into(),
        }
    }
}

impl<S, B> Service<http::Request<Body>> for MeteredChannel<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>>,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let attempt = Attempt::start(&self.metrics, &self.target, &request);
        let sent = Arc::clone(&attempt.sent);
        let request = request.map(|body| {
            Body::new(SentBody {
                inner: body,
                sent,
                framing: Framing::default(),
            })
        });
        MeteredFuture {
            inner: self.inner.call(request),
            attempt: Some(attempt),
        }
    }
}

pin_project! {
    /// The response future of [`MeteredChannel`].
    pub struct MeteredFuture<F> {
        #[pin]
        inner: F,
        attempt: Option<Attempt>,
    }
}

impl<F> std::fmt::Debug for MeteredFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = ready!(this.inner.poll(cx));
        let mut attempt = this.attempt.take();
        Poll::Ready(match outcome {
            Ok(response) => {
                if let Some(attempt) = &mut attempt {
                    // A trailers-only answer carries its status in the headers.
                    attempt.status = sent_status(response.headers());
                }
                Ok(response.map(|body| {
                    Body::new(ReceivedBody {
                        inner: body,
                        attempt,
                        framing: Framing::default(),
                    })
                }))
            }
            Err(error) => {
                if let Some(attempt) = &mut attempt {
                    attempt.status = Some(attempt.failed());
                }
                Err(error)
            }
        })
    }
}

/// What is sent on one attempt, counted by its request body on the connection's task.
#[derive(Debug, Default)]
struct Sent {
    bytes: AtomicU64,
    messages: AtomicU64,
}

/// One attempt, recorded when dropped: with its response body once read or dropped, or
/// with its future when no response came.
struct Attempt {
    metrics: Metrics,
    method: KeyValue,
    target: KeyValue,
    start: Instant,
    deadline: Option<Instant>,
    sent: Arc<Sent>,
    rcvd_bytes: u64,
    rcvd_messages: u64,
    status: Option<Code>,
}

impl Attempt {
    fn start(metrics: &Metrics, target: &Arc<str>, request: &http::Request<Body>) -> Attempt {
        let start = Instant::now();
        let method = attr(METHOD, method_name(request.uri().path()));
        let target = attr(TARGET, target.to_string());
        let started = [method.clone(), target.clone()];
        metrics.instruments.client_attempt_started.add(1, &started);
        let timeout = request
            .headers()
            .get(GRPC_TIMEOUT_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        Attempt {
            metrics: metrics.clone(),
            method,
            target,
            start,
            deadline: timeout.and_then(|t| start.checked_add(t)),
            sent: Arc::default(),
            rcvd_bytes: 0,
            rcvd_messages: 0,
            status: None,
        }
    }

    /// The status of an attempt that ended without one from the server: its deadline's,
    /// once that passed (tonic's timer reports `CANCELLED`), else the transport's failure.
    fn failed(&self) -> Code {
        self.deadline_or(Code::Unavailable)
    }

    fn deadline_or(&self, code: Code) -> Code {
        match self.deadline {
            Some(at) if Instant::now() >= at => Code::DeadlineExceeded,
            _ => code,
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        // No status and no failure: the application dropped the call.
        let status = self
            .status
            .unwrap_or_else(|| self.deadline_or(Code::Cancelled));
        let attributes = [
            self.method.clone(),
            self.target.clone(),
            attr(STATUS, status_name(status)),
        ];
        let m = &self.metrics.instruments;
        let elapsed = self.start.elapsed().as_secs_f64();
        m.client_attempt_duration.record(elapsed, &attributes);
        m.client_call_duration.record(elapsed, &attributes);
        let sent = payload(
            self.sent.bytes.load(Ordering::Relaxed),
            self.sent.messages.load(Ordering::Relaxed),
        );
        m.client_sent.record(sent, &attributes);
        let rcvd = payload(self.rcvd_bytes, self.rcvd_messages);
        m.client_rcvd.record(rcvd, &attributes);
    }
}

/// The request body, counting what the attempt sends.
struct SentBody {
    inner: Body,
    sent: Arc<Sent>,
    framing: Framing,
}

impl http_body::Body for SentBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let started = this.framing.feed(data);
            this.sent.messages.fetch_add(started, Ordering::Relaxed);
            this.sent
                .bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
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

/// The response body, counting what the attempt receives and reading its status.
struct ReceivedBody<B> {
    inner: B,
    attempt: Option<Attempt>,
    framing: Framing,
}

impl<B> http_body::Body for ReceivedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(attempt) = &mut this.attempt {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        attempt.rcvd_messages += this.framing.feed(data);
                        attempt.rcvd_bytes += data.len() as u64;
                    } else if let Some(trailers) = frame.trailers_ref() {
                        attempt.status = sent_status(trailers);
                    }
                }
                Some(Err(_)) => attempt.status = Some(attempt.failed()),
                None => {}
            }
        }
        if matches!(frame, None | Some(Err(_))) || this.inner.is_end_stream() {
            // The attempt is over: record it now rather than when the body is dropped.
            this.attempt = None;
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

//! Client-side helpers: consuming server streams and starting bidirectional calls that
//! never deadlock against servers that send headers late.

use super::glue::client_status;
use futures_util::Stream;
use futures_util::task::AtomicWaker;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Response, Status, Streaming};

/// Responses of a server-streaming or bidirectional call.
///
/// Read with [`Responses::message`] or as a [`Stream`]. Dropping it cancels the call (the
/// server sees the stream reset), which is how a client stops a stream part-way.
pub struct Responses<T> {
    state: State<T>,
    /// The response headers, once the call has started.
    headers: Option<MetadataMap>,
    /// The trailers, once the stream ended with `OK` (an error status carries its own in
    /// [`Status::metadata`]).
    trailers: Option<MetadataMap>,
    /// For bidi calls: dropped with the responses, it ends the request stream, so the call
    /// is reset rather than left half-open.
    _close_requests: Option<CloseOnDrop>,
}

enum State<T> {
    /// The call is still starting in its own task (bidi).
    Starting(JoinHandle<Result<Response<Streaming<T>>, Status>>),
    Open(Box<Streaming<T>>),
    Done,
}

impl<T> fmt::Debug for Responses<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Starting(_) => "starting",
            State::Open(_) => "open",
            State::Done => "done",
        };
        f.debug_struct("Responses").field("state", &state).finish()
    }
}

impl<T> From<Streaming<T>> for Responses<T> {
    fn from(streaming: Streaming<T>) -> Self {
        Responses {
            state: State::Open(Box::new(streaming)),
            headers: None,
            trailers: None,
            _close_requests: None,
        }
    }
}

impl<T> From<Response<Streaming<T>>> for Responses<T> {
    /// Keeps the response's headers, for [`Responses::headers`].
    fn from(response: Response<Streaming<T>>) -> Self {
        let (headers, streaming, _) = response.into_parts();
        let mut responses = Responses::from(streaming);
        responses.headers = Some(headers);
        responses
    }
}

impl<T> Drop for Responses<T> {
    fn drop(&mut self) {
        if let State::Starting(task) = &self.state {
            task.abort();
        }
    }
}

impl<T> Responses<T> {
    /// The next response, `Ok(None)` when the server finished, or the call's error status.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    /// The response headers (the server's initial metadata), once the call has started:
    /// at once for a server-streaming helper, after the first [`message`](Self::message)
    /// for a bidirectional one. grpcio's `call.initial_metadata()`.
    pub fn headers(&self) -> Option<&MetadataMap> {
        self.headers.as_ref()
    }

    /// The trailers (the server's trailing metadata), once the stream ended with `OK`;
    /// grpcio's `call.trailing_metadata()`. A call that failed carries its trailers in the
    /// error's [`Status::metadata`].
    pub fn trailers(&self) -> Option<&MetadataMap> {
        self.trailers.as_ref()
    }

    /// Reads every remaining response into a vector, failing with `RESOURCE_EXHAUSTED`
    /// (and cancelling the call) if there are more than `max`.
    pub async fn collect_at_most(mut self, max: usize) -> Result<Vec<T>, Status> {
        let mut all = Vec::new();
        while let Some(item) = self.message().await? {
            if all.len() == max {
                return Err(Status::resource_exhausted(format!(
                    "the server sent more than {max} responses"
                )));
            }
            all.push(item);
        }
        Ok(all)
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        // The path of every message, kept apart from starting and ending so that it stays
        // a match and tonic's poll.
        if let State::Open(streaming) = &mut self.state {
            return match ready!(Pin::new(streaming.as_mut()).poll_next(cx)) {
                Some(Ok(message)) => Poll::Ready(Ok(Some(message))),
                Some(Err(status)) => Poll::Ready(self.end(Some(status), cx)),
                None => Poll::Ready(self.end(None, cx)),
            };
        }
        self.poll_start(cx)
    }

    /// Waits for a bidirectional call to start, then reads its first message.
    #[cold]
    fn poll_start(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        let State::Starting(task) = &mut self.state else {
            return Poll::Ready(Ok(None));
        };
        let started = ready!(Pin::new(task).poll(cx));
        self.state = State::Done;
        match started {
            Ok(Ok(response)) => {
                let (headers, streaming, _) = response.into_parts();
                self.headers = Some(headers);
                self.state = State::Open(Box::new(streaming));
                self.poll_message(cx)
            }
            Ok(Err(status)) => Poll::Ready(Err(client_status(status))),
            Err(join) => Poll::Ready(Err(Status::cancelled(format!(
                "the call's task ended: {join}"
            )))),
        }
    }

    /// Ends the open stream with its `error`, or with `OK` keeping its trailers.
    #[cold]
    fn end(&mut self, error: Option<Status>, cx: &mut Context<'_>) -> Result<Option<T>, Status> {
        let State::Open(mut streaming) = std::mem::replace(&mut self.state, State::Done) else {
            return Ok(None);
        };
        if let Some(status) = error {
            return Err(client_status(status));
        }
        // The stream read its trailers to learn the status: they are at hand, the future
        // resolves at once.
        let trailers = std::pin::pin!(streaming.trailers()).poll(cx);
        if let Poll::Ready(Ok(trailers)) = trailers {
            self.trailers = Some(trailers.unwrap_or_default());
        }
        Ok(None)
    }
}

impl<T> Stream for Responses<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx).map(Result::transpose)
    }
}

impl<T> Unpin for Responses<T> {}

/// The sending half of a bidirectional call started with [`bidi`].
///
/// Dropping every clone finishes the request stream (half-close); the responses go on.
pub struct Requests<T> {
    tx: mpsc::Sender<T>,
}

impl<T> Clone for Requests<T> {
    fn clone(&self) -> Self {
        Requests {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for Requests<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requests")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

impl<T> Requests<T> {
    /// Sends one request, waiting while the buffer is full. Fails once the call has ended.
    pub async fn send(&self, item: T) -> Result<(), Status> {
        self.tx
            .send(item)
            .await
            .map_err(|_| Status::cancelled("the call has ended"))
    }

    /// `true` while the call can still take requests.
    pub fn is_active(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Resolves once the call takes no more requests: it ended, or its responses were
    /// dropped (which cancels it).
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// The request stream of a bidirectional call, as handed to the tonic client: what is sent on
/// [`Requests`], ending when every `Requests` is dropped (half-close) or when the
/// [`Responses`] are dropped (which then resets the call).
pub struct OutgoingRequests<T> {
    rx: ReceiverStream<T>,
    /// Set when the [`Responses`] are dropped.
    held: Arc<Held>,
}

impl<T> fmt::Debug for OutgoingRequests<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingRequests").finish_non_exhaustive()
    }
}

impl<T> Stream for OutgoingRequests<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // A request goes out only while the responses are held. The waker is registered
        // with the watch only when there is nothing to send, the one time it must be.
        if self.held.dropped() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.rx).poll_next(cx) {
            Poll::Pending => {
                self.held.task.register(cx.waker());
                // Checked again after registering: a drop in between would not wake us.
                if self.held.dropped() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            }
            polled => polled,
        }
    }
}

/// Whether the [`Responses`] of a bidirectional call are still held: set when they are
/// dropped, which wakes the request stream. An atomic flag and a waker, where a oneshot
/// would cost its cooperative-budget bookkeeping on every poll of the request stream.
#[derive(Debug, Default)]
struct Held {
    dropped: AtomicBool,
    task: AtomicWaker,
}

impl Held {
    fn dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }
}

/// Held by the [`Responses`]: dropping them ends the request stream.
#[derive(Debug)]
struct CloseOnDrop(Arc<Held>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::Release);
        self.0.task.wake();
    }
}

/// Starts a bidirectional call and returns at once with both halves.
///
/// `start` receives the request stream and performs the call (`client.chat(stream)`). It
/// runs in its own task, so requests can be sent before the server has answered with
/// headers: grpcio sends its headers only with the first response, and a client that
/// awaited the call before sending would wait forever.
///
/// Dropping the [`Responses`] cancels the call (the server sees it reset) even while
/// [`Requests`] are still held.
pub fn bidi<Req, Res, F, Fut>(buffer: usize, start: F) -> (Requests<Req>, Responses<Res>)
where
    Req: Send + 'static,
    Res: Send + 'static,
    F: FnOnce(OutgoingRequests<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Streaming<Res>>, Status>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(buffer.max(1));
    let held = Arc::new(Held::default());
    let outgoing = OutgoingRequests {
        rx: ReceiverStream::new(rx),
        held: Arc::clone(&held),
    };
    let task = tokio::spawn(start(outgoing));
    (
        Requests { tx },
        Responses {
            state: State::Starting(task),
            headers: None,
            trailers: None,
            _close_requests: Some(CloseOnDrop(held)),
        },
    )
}

/// The answer of a unary or client-streaming call with its metadata: what the generated
/// `<method>_with_metadata` helpers return.
///
/// | grpcio (Python) | rust-stream |
/// |---|---|
/// | `response, call = stub.GetUser.with_call(request, metadata=md)` | `let reply = client.get_user_with_metadata(request).await?` |
/// | `response` | `reply.message` |
/// | `call.initial_metadata()` | `reply.headers` |
/// | `call.trailing_metadata()` | `reply.trailers` |
///
/// tonic's own unary client merges the trailers into the response's metadata; these helpers
/// keep the two apart, as the gRPC spec and other implementations do. A failed call carries
/// its trailers in the error's [`Status::metadata`].
#[derive(Clone, Debug)]
pub struct Reply<T> {
    /// The response headers: the server's initial metadata.
    pub headers: MetadataMap,
    /// The response message.
    pub message: T,
    /// The trailers: the server's trailing metadata, sent with the status.
    pub trailers: MetadataMap,
}

//! Server-wide shutdown: the open calls and streams a server must end when it stops.
//!
//! [`TunedRouter::serve_with_shutdown`](crate::TunedRouter::serve_with_shutdown) drives it.
//! Two kinds of thing are registered here:
//!
//! - **Calls of generated services**, by their adapters (through the request's extensions):
//!   when shutdown starts, each one ends with [`EndReason::ServerShutdown`], so its handler
//!   sees `is_active()` turn false and `cancelled()` resolve, and a streaming body ends with
//!   `UNAVAILABLE`.
//! - **Response bodies of any service**, by the server's connections ([`CallWatch`]), so a
//!   stream of a service the runtime did not generate (tonic-health's `Watch`,
//!   tonic-reflection, a user's tower service) ends at shutdown too, though nothing tells
//!   the server its method's kind.
//!
//! How a response shows itself a stream: it has answered (its headers went out) and then,
//! once shutdown started, either waits for its producer or brings a second message. A
//! unary answer does neither: tonic encodes it once the handler returned, and its body
//! yields its one message and its trailers without waiting. A stream that waits ends at
//! once; one that brings more sends the frame it just produced (a health `Watch` sends the
//! `NOT_SERVING` a server set as its shutdown began) and ends at the next poll. It ends with
//! `UNAVAILABLE` trailers, and its request body fails with the same status, so a handler
//! still reading a bidi stream stops and the HTTP/2 stream closes. Calls that have not
//! answered yet (unary calls, uploads) get the grace to.

use crate::call::context::{CallContext, EndReason};
use crate::server::call_layer::Framing;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http_body::{Frame, SizeHint};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tonic::Status;
use tonic::body::Body;

/// The error of a request body, as tonic's body takes it.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The open calls and streams of one server; cloned into every request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown {
    inner: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    next_id: AtomicU64,
    /// Set when shutdown starts; read without the lock on every poll of a response body.
    started: AtomicBool,
    /// `None` once shutdown started: what registers later is ended at once.
    open: Mutex<Option<HashMap<u64, Open>>>,
}

/// What shutdown ends.
#[derive(Debug)]
enum Open {
    /// A call of a generated service.
    Call(CallContext),
    /// A response body waiting for its producer: woken to see the shutdown.
    Response(Arc<Cut>),
}

impl Open {
    fn end(self) {
        match self {
            Open::Call(ctx) => ctx.end(EndReason::ServerShutdown),
            Open::Response(cut) => cut.response.wake(),
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            inner: Arc::new(Registry {
                next_id: AtomicU64::new(0),
                started: AtomicBool::new(false),
                open: Mutex::new(Some(HashMap::new())),
            }),
        }
    }
}

impl Shutdown {
    /// Registers a call of a generated service until it ends, or ends it now if shutdown
    /// has started.
    fn track(&self, ctx: &CallContext) {
        let Some(id) = self.register(Open::Call(ctx.clone())) else {
            return;
        };
        let registry = Arc::downgrade(&self.inner);
        ctx.on_end(move |_| {
            if let Some(registry) = registry.upgrade() {
                Shutdown { inner: registry }.deregister(id);
            }
        });
    }

    /// Keeps `open` until shutdown ends it, and returns its key; ends it now (returning
    /// `None`) if shutdown has started.
    fn register(&self, open: Open) -> Option<u64> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut guard = self.open();
        match guard.as_mut() {
            Some(all) => {
                all.insert(id, open);
                Some(id)
            }
            None => {
                drop(guard);
                open.end();
                None
            }
        }
    }

    fn deregister(&self, id: u64) {
        if let Some(all) = self.open().as_mut() {
            all.remove(&id);
        }
    }

    /// Ends every open call with [`EndReason::ServerShutdown`], wakes every waiting response
    /// body to end, and ends every later one at once.
    pub(crate) fn start(&self) {
        // Set before the registry is emptied: a body that registers too late finds it set.
        self.inner.started.store(true, Ordering::SeqCst);
        let open = self.open().take().unwrap_or_default();
        // Ended outside the lock: ending a call runs its callbacks, one of which deregisters
        // it from the (now absent) map.
        for open in open.into_values() {
            open.end();
        }
    }

    fn started(&self) -> bool {
        self.inner.started.load(Ordering::SeqCst)
    }

    /// Watches one call the server's connection carries, whatever service serves it.
    pub(crate) fn watch(&self) -> CallWatch {
        CallWatch {
            shutdown: self.clone(),
            cut: Arc::new(Cut::default()),
        }
    }

    fn open(&self) -> MutexGuard<'_, Option<HashMap<u64, Open>>> {
        // Nothing runs under this lock that can panic halfway through an update.
        self.inner
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Registers the call with the server's shutdown, when the request came through a server
/// that has one (tonic's own `Server` does not).
pub(crate) fn track(extensions: &http::Extensions, ctx: &CallContext) {
    if let Some(shutdown) = extensions.get::<Shutdown>() {
        shutdown.track(ctx);
    }
}

/// What the client of a call ended by shutdown receives.
pub(crate) fn unavailable() -> Status {
    Status::unavailable("the server is shutting down")
}

/// One call's two bodies, as the server's connection hands them to the service and to
/// hyper: see the [module docs](self).
pub(crate) struct CallWatch {
    shutdown: Shutdown,
    cut: Arc<Cut>,
}

/// Whether shutdown cut a call's response, shared by its two bodies.
#[derive(Debug, Default)]
struct Cut {
    /// Set once the response ended at shutdown.
    done: AtomicBool,
    /// Woken when shutdown starts: the response body waiting for its producer.
    response: AtomicWaker,
    /// Woken when the response is cut: whoever waits on the request body.
    request: AtomicWaker,
}

impl CallWatch {
    /// The request body the service reads: it fails with `UNAVAILABLE` once the response
    /// was cut.
    pub(crate) fn request<B>(&self, body: B) -> RequestBody<B> {
        RequestBody {
            inner: body,
            cut: Arc::clone(&self.cut),
            told: false,
        }
    }

    /// The response body hyper sends: it ends with `UNAVAILABLE` once shutdown starts, if
    /// it is a stream.
    pub(crate) fn response(self, body: Body) -> ResponseBody {
        ResponseBody {
            inner: Some(body),
            shutdown: self.shutdown,
            cut: self.cut,
            entry: None,
            framing: Framing::default(),
            messages: 0,
            streamed_past_shutdown: false,
        }
    }
}

/// A response body that ends with `UNAVAILABLE` trailers once shutdown has started and it
/// waits for its producer or has brought a second message (see the [module docs](self)).
pub(crate) struct ResponseBody {
    /// `None` once the body was cut (its trailers went out).
    inner: Option<Body>,
    shutdown: Shutdown,
    cut: Arc<Cut>,
    /// Its key in the registry, from its first wait for its producer on.
    entry: Option<u64>,
    framing: Framing,
    /// gRPC messages begun so far.
    messages: u64,
    /// Set once it showed itself a stream by a message: it ends at the next poll.
    streamed_past_shutdown: bool,
}

impl ResponseBody {
    /// Whether a body whose producer has nothing for it now must end: shutdown started.
    /// Otherwise registers the body to be woken when it does.
    fn waits_past_shutdown(&mut self, cx: &mut Context<'_>) -> bool {
        if self.shutdown.started() {
            return true;
        }
        if self.entry.is_none() {
            self.entry = self
                .shutdown
                .register(Open::Response(Arc::clone(&self.cut)));
        }
        self.cut.response.register(cx.waker());
        // Checked again after registering, so a shutdown that started meanwhile is seen.
        self.shutdown.started()
    }

    /// Notes whether `data` brings a second message after shutdown started.
    fn count(&mut self, data: &[u8]) {
        self.messages += self.framing.feed(data);
        if self.messages > 1 && self.shutdown.started() {
            self.streamed_past_shutdown = true;
        }
    }

    /// Drops the producer and cuts the request; returns the trailers to end with.
    fn cut(&mut self) -> Frame<Bytes> {
        self.inner = None;
        self.deregister();
        self.cut.done.store(true, Ordering::SeqCst);
        self.cut.request.wake();
        let mut trailers = http::HeaderMap::new();
        // Only custom metadata can fail to convert, and this status has none.
        let _ = unavailable().add_header(&mut trailers);
        Frame::trailers(trailers)
    }

    fn deregister(&mut self) {
        if let Some(id) = self.entry.take() {
            self.shutdown.deregister(id);
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if this.streamed_past_shutdown {
            return Poll::Ready(Some(Ok(this.cut())));
        }
        let polled = Pin::new(inner).poll_frame(cx);
        match &polled {
            Poll::Pending if this.waits_past_shutdown(cx) => {
                return Poll::Ready(Some(Ok(this.cut())));
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.count(data);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// A request body that fails with `UNAVAILABLE` once its call's response was cut at
/// shutdown: a handler still reading it stops, and drops it, which closes the stream.
pub(crate) struct RequestBody<B> {
    inner: B,
    cut: Arc<Cut>,
    /// Whether the failure was reported; the body ends after it.
    told: bool,
}

impl<B> RequestBody<B> {
    fn cut_frame(&mut self) -> Option<Result<Frame<Bytes>, BoxError>> {
        if std::mem::replace(&mut self.told, true) {
            None
        } else {
            Some(Err(Box::new(unavailable())))
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.done.load(Ordering::SeqCst)
    }
}

impl<B> http_body::Body for RequestBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.is_cut() {
            return Poll::Ready(this.cut_frame());
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                this.cut.request.register(cx.waker());
                // Checked again after registering, so a cut that came meanwhile is seen.
                if this.is_cut() {
                    Poll::Ready(this.cut_frame())
                } else {
                    Poll::Pending
                }
            }
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.is_cut() {
            self.told
        } else {
            self.inner.is_end_stream()
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::task::{Wake, Waker};

    /// A body that yields its frames, then ends (`ends`) or waits for ever.
    struct Scripted {
        frames: VecDeque<Frame<Bytes>>,
        ends: bool,
    }

    impl http_body::Body for Scripted {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            match self.frames.pop_front() {
                Some(frame) => Poll::Ready(Some(Ok(frame))),
                None if self.ends => Poll::Ready(None),
                None => Poll::Pending,
            }
        }
    }

    fn scripted(frames: impl IntoIterator<Item = Frame<Bytes>>, ends: bool) -> Scripted {
        Scripted {
            frames: frames.into_iter().collect(),
            ends,
        }
    }

    /// One gRPC message of one byte.
    fn message() -> Frame<Bytes> {
        Frame::data(Bytes::from_static(&[0, 0, 0, 0, 1, 7]))
    }

    fn trailers(code: &'static str) -> Frame<Bytes> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static(code));
        Frame::trailers(trailers)
    }

    /// Records whether it was woken.
    #[derive(Default)]
    struct Woken(AtomicBool);

    impl Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// What a body yields when polled once: a data frame's length, a status in trailers, an
    /// error, the end, or nothing yet.
    #[derive(Debug, PartialEq)]
    enum Polled {
        Data(usize),
        Status(String),
        Error,
        End,
        Pending,
    }

    fn poll<B>(body: &mut B, waker: &Waker) -> Polled
    where
        B: http_body::Body<Data = Bytes> + Unpin,
    {
        match Pin::new(body).poll_frame(&mut Context::from_waker(waker)) {
            Poll::Pending => Polled::Pending,
            Poll::Ready(None) => Polled::End,
            Poll::Ready(Some(Err(_))) => Polled::Error,
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Polled::Data(data.len()),
                Err(frame) => {
                    let trailers = frame.into_trailers().expect("data or trailers");
                    Polled::Status(trailers["grpc-status"].to_str().unwrap().to_owned())
                }
            },
        }
    }

    #[test]
    fn a_unary_answer_passes_whole_after_shutdown_started() {
        let shutdown = Shutdown::default();
        shutdown.start();
        let answer = scripted([message(), trailers("0")], true);
        let mut body = shutdown.watch().response(Body::new(answer));
        let waker = Waker::noop();
        assert_eq!(poll(&mut body, waker), Polled::Data(6));
        assert_eq!(poll(&mut body, waker), Polled::Status("0".into()));
        assert_eq!(poll(&mut body, waker), Polled::End);
    }

    #[test]
    fn a_waiting_stream_is_woken_and_cut_at_shutdown_and_its_request_fails() {
        let shutdown = Shutdown::default();
        let watch = shutdown.watch();
        let mut request = watch.request(scripted([], false));
        let mut body = watch.response(Body::new(scripted([message()], false)));
        let woken = Arc::new(Woken::default());
        let waker = Waker::from(Arc::clone(&woken));
        assert_eq!(poll(&mut body, &waker), Polled::Data(6));
        assert_eq!(poll(&mut body, &waker), Polled::Pending);
        assert_eq!(poll(&mut request, &waker), Polled::Pending);
        assert!(!woken.0.load(Ordering::SeqCst));

        shutdown.start();
        assert!(
            woken.0.load(Ordering::SeqCst),
            "shutdown wakes a waiting body"
        );
        assert_eq!(poll(&mut body, &waker), Polled::Status("14".into()));
        assert_eq!(poll(&mut body, &waker), Polled::End);
        assert!(http_body::Body::is_end_stream(&body));
        assert_eq!(poll(&mut request, &waker), Polled::Error);
        assert_eq!(poll(&mut request, &waker), Polled::End);
        assert!(shutdown.open().is_none());
    }

    #[test]
    fn a_stream_that_never_waits_ends_after_the_frame_it_produced_at_shutdown() {
        let shutdown = Shutdown::default();
        let endless = scripted(std::iter::repeat_with(message).take(10), false);
        let mut body = shutdown.watch().response(Body::new(endless));
        let waker = Waker::noop();
        assert_eq!(poll(&mut body, waker), Polled::Data(6));
        assert_eq!(poll(&mut body, waker), Polled::Data(6));
        shutdown.start();
        assert_eq!(poll(&mut body, waker), Polled::Data(6));
        assert_eq!(poll(&mut body, waker), Polled::Status("14".into()));
        assert_eq!(poll(&mut body, waker), Polled::End);
    }

    #[test]
    fn a_body_leaves_the_registry_when_dropped() {
        let shutdown = Shutdown::default();
        let mut body = shutdown.watch().response(Body::new(scripted([], false)));
        assert_eq!(poll(&mut body, Waker::noop()), Polled::Pending);
        assert_eq!(shutdown.open().as_ref().map(HashMap::len), Some(1));
        drop(body);
        assert_eq!(shutdown.open().as_ref().map(HashMap::len), Some(0));
    }

    #[test]
    fn start_ends_open_calls_and_every_later_one() {
        let shutdown = Shutdown::default();
        let open = CallContext::detached("/t/Open");
        let finished = CallContext::detached("/t/Finished");
        shutdown.track(&open);
        shutdown.track(&finished);
        finished.end(EndReason::Finished);
        assert_eq!(shutdown.open().as_ref().map(HashMap::len), Some(1));

        shutdown.start();
        assert_eq!(open.end_reason(), Some(EndReason::ServerShutdown));
        assert_eq!(finished.end_reason(), Some(EndReason::Finished));

        let late = CallContext::detached("/t/Late");
        shutdown.track(&late);
        assert_eq!(late.end_reason(), Some(EndReason::ServerShutdown));
    }
}

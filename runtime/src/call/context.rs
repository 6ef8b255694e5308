//! The per-call context handed to every handler, the Rust counterpart of grpcio's `context`.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use crate::call::deadline::CallDeadline;
use crate::call::metadata::{LateMetadata, ResponseMetadata};
use crate::server::auth::Identity;
use crate::server::call_layer::BodyState;
use crate::server::tls::PeerIdentity;

/// Why a call stopped being active.
///
/// The first reason recorded wins: a call the client abandoned stays
/// [`ClientGone`](EndReason::ClientGone) even though its handler then fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The client cancelled the call, reset the stream or closed the connection (an upload
    /// abandoned before its end, a client process killed mid-call).
    ClientGone,
    /// The call's deadline passed.
    DeadlineExceeded,
    /// The client sent nothing for longer than the call's idle limit
    /// ([`InboundLimits::idle_timeout`](crate::InboundLimits::idle_timeout)).
    IdleTimeout,
    /// The client sent more than the call's byte or message limit allows.
    LimitExceeded,
    /// The handler panicked; the client got `INTERNAL`.
    Panicked,
    /// The handler returned this error status.
    Failed(Code),
    /// The handler returned successfully and the call is complete.
    Finished,
    /// The server is shutting down (see
    /// [`TunedRouter::serve_with_shutdown`](crate::TunedRouter::serve_with_shutdown)); the
    /// client gets `UNAVAILABLE`.
    ServerShutdown,
}

impl EndReason {
    /// The reason a call ends with once its handler returned `outcome`.
    pub(crate) fn of<T>(outcome: &Result<T, Status>) -> EndReason {
        match outcome {
            Ok(_) => EndReason::Finished,
            Err(status) => EndReason::Failed(status.code()),
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::ClientGone => f.write_str("client gone"),
            EndReason::DeadlineExceeded => f.write_str("deadline exceeded"),
            EndReason::IdleTimeout => f.write_str("idle limit"),
            EndReason::LimitExceeded => f.write_str("limit exceeded"),
            EndReason::Panicked => f.write_str("handler panicked"),
            EndReason::ServerShutdown => f.write_str("server shutdown"),
            EndReason::Failed(code) => write!(f, "failed: {}", crate::client::code_name(*code)),
            EndReason::Finished => f.write_str("finished"),
        }
    }
}

/// What a handler knows about its call: whether the client is still there, how much time
/// is left, the request metadata and the peer's address.
///
/// Cloning is cheap (one `Arc`). Every clone observes the same cancellation, so a task the
/// handler spawns can hold a clone and stop when the call ends.
#[derive(Clone, Debug)]
pub struct CallContext {
    inner: Arc<Inner>,
}

struct Inner {
    /// Set when the call ends; what `is_active` reads. `CancellationToken::is_cancelled`
    /// takes a lock, too slow to check on every item of a stream.
    ended: AtomicBool,
    /// Wakes whoever awaits `cancelled()`.
    token: CancellationToken,
    reason: std::sync::OnceLock<EndReason>,
    deadline: CallDeadline,
    metadata: MetadataMap,
    remote_addr: Option<SocketAddr>,
    method: &'static str,
    on_end: Mutex<Vec<EndCallback>>,
    /// How the request body is going, when [`CallLayer`](crate::CallLayer) saw the call.
    body: Option<Arc<BodyState>>,
    /// Why reading the request failed (a limit), the reason the call ends with when the
    /// handler then fails.
    inbound_failure: std::sync::OnceLock<EndReason>,
    /// The response headers and trailers the handler sets; shared with `CallLayer`.
    response: Arc<ResponseMetadata>,
    caller: Caller,
}

/// Who is calling, as the connection (mTLS) and the auth hook found: each when known.
#[derive(Clone, Debug, Default)]
pub(crate) struct Caller {
    pub(crate) peer: Option<PeerIdentity>,
    pub(crate) identity: Option<Identity>,
}

impl Caller {
    /// What the server's connection and auth hook left in a request's extensions.
    pub(crate) fn of(extensions: &http::Extensions) -> Self {
        Caller {
            peer: extensions.get::<PeerIdentity>().cloned(),
            identity: extensions.get::<Identity>().cloned(),
        }
    }
}

type EndCallback = Box<dyn FnOnce(EndReason) + Send>;

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallContext")
            .field("method", &self.method)
            .field("active", &!self.ended.load(Ordering::Acquire))
            .field("reason", &self.reason.get())
            .field("deadline", &self.deadline)
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

impl CallContext {
    pub(crate) fn new(
        method: &'static str,
        metadata: MetadataMap,
        remote_addr: Option<SocketAddr>,
        deadline: CallDeadline,
        body: Option<Arc<BodyState>>,
        caller: Caller,
    ) -> Self {
        let response = body.as_ref().map_or_else(
            || Arc::new(ResponseMetadata::new()),
            |body| Arc::clone(body.response()),
        );
        CallContext {
            inner: Arc::new(Inner {
                ended: AtomicBool::new(false),
                token: CancellationToken::new(),
                reason: std::sync::OnceLock::new(),
                deadline,
                metadata,
                remote_addr,
                method,
                on_end: Mutex::new(Vec::new()),
                body,
                inbound_failure: std::sync::OnceLock::new(),
                response,
                caller,
            }),
        }
    }

    /// A context for code that runs outside a server call: no deadline, empty metadata, no
    /// peer, active until [`CallContext::end`] is called. For tests of handlers that need
    /// metadata, a deadline or a peer, see [`testing::context`](crate::testing::context).
    pub fn detached(method: &'static str) -> Self {
        Self::new(
            method,
            MetadataMap::new(),
            None,
            CallDeadline::default(),
            None,
            Caller::default(),
        )
    }

    /// `true` while the client is connected, the deadline has not passed and the call has not
    /// finished. One atomic load, no lock: cheap enough to check on every item of a stream.
    pub fn is_active(&self) -> bool {
        !self.inner.ended.load(Ordering::Acquire)
    }

    /// Resolves once the call is no longer active. Use it in `tokio::select!` to stop
    /// long-running work the moment the client goes away.
    pub async fn cancelled(&self) {
        self.inner.token.cancelled().await;
    }

    /// Why the call ended, or `None` while it is active.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.inner.reason.get().copied()
    }

    /// The instant the call must be finished by, if the client or the service set one.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline.at
    }

    /// Time left until the deadline; `None` when there is no deadline, zero once it passed.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The request's custom metadata (gRPC headers).
    pub fn metadata(&self) -> &MetadataMap {
        &self.inner.metadata
    }

    /// Adds `metadata` to the response's initial metadata (its headers); grpc-go's
    /// `SetHeader`.
    ///
    /// | grpcio (Python) | rust-stream |
    /// |---|---|
    /// | `context.send_initial_metadata((("k", "v"),))` | `ctx.send_initial_metadata(map)?` |
    /// | (none: grpcio sends at once) | `ctx.set_initial_metadata(map)?`, sent with the first response |
    ///
    /// The headers go out before the first response: for unary and client-streaming calls
    /// with the response (or, on an error, with the status: a trailers-only response carries
    /// them with the trailers); for streaming calls at the handler's first wait for anything
    /// (a request, a timer, room in the response buffer), its call of
    /// [`send_initial_metadata`](Self::send_initial_metadata) or its return, whichever comes
    /// first. Responses sent before then are queued behind the headers. So set them before
    /// the handler's first `.await` that waits.
    /// Keys ending in `-bin` carry binary values (`MetadataMap::insert_bin`). Names gRPC
    /// reserves (`grpc-*`, `content-type`, `te`) are left out.
    ///
    /// Fails with [`LateMetadata::HeadersSent`] once the headers went out (as grpcio raises).
    pub fn set_initial_metadata(&self, metadata: MetadataMap) -> Result<(), LateMetadata> {
        self.inner.response.add_initial(metadata)
    }

    /// Adds `metadata` to the initial metadata and, in a streaming call, sends the headers
    /// now; grpcio's `context.send_initial_metadata`, grpc-go's `SendHeader`. In a unary or
    /// client-streaming call they still go out with the response, which is the first thing
    /// such a call sends.
    pub fn send_initial_metadata(&self, metadata: MetadataMap) -> Result<(), LateMetadata> {
        self.set_initial_metadata(metadata)?;
        self.inner.response.release_initial();
        Ok(())
    }

    /// Adds `metadata` to the trailers sent with the call's status, on success and on error
    /// alike; grpcio's `context.set_trailing_metadata`, grpc-go's `SetTrailer`.
    ///
    /// | grpcio (Python) | rust-stream |
    /// |---|---|
    /// | `context.set_trailing_metadata((("k-bin", b"\x00"),))` | `ctx.set_trailing_metadata(map)?` |
    /// | `context.set_code(c); context.set_details(d)` | `return Err(Status::new(c, d))` |
    /// | `context.abort(c, d)` | `return Err(Status::new(c, d))` |
    /// | `context.abort_with_status(rich)` | `return Err(rust_stream::rich_status(c, d, details))` |
    ///
    /// Unlike grpcio's, repeated calls add to each other. Successful calls carry trailers
    /// through [`CallLayer`](crate::CallLayer), which [`Tuning::server`](crate::Tuning::server)
    /// installs; a handler's error carries them in any server. Fails with
    /// [`LateMetadata::TrailersSent`] once the status went out.
    pub fn set_trailing_metadata(&self, metadata: MetadataMap) -> Result<(), LateMetadata> {
        self.inner.response.add_trailing(metadata)
    }

    /// Sends this call's response uncompressed even where the method compresses responses;
    /// grpcio's `context.set_compression(grpc.Compression.NoCompression)`.
    ///
    /// Applies to unary and client-streaming calls (tonic compresses a response stream as a
    /// whole, by the service's setting); call it before the handler returns.
    pub fn disable_compression(&self) {
        self.inner.response.disable_compression();
    }

    /// The call's response metadata, shared with the adapter and `CallLayer`.
    pub(crate) fn response(&self) -> &ResponseMetadata {
        &self.inner.response
    }

    /// The peer's socket address, when the transport knows it (TCP does).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr
    }

    /// The client's verified TLS certificate, on a connection of a server that requires
    /// client certificates ([`ServerTls::require_client_certs`](crate::ServerTls::require_client_certs)).
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.inner.caller.peer.as_ref()
    }

    /// The identity the server's auth hook ([`Auth`](crate::Auth)) gave this call, if it
    /// holds a `T`: `None` without a hook, for an exempt method, or for another type.
    pub fn identity<T: std::any::Any>(&self) -> Option<&T> {
        self.inner.caller.identity.as_ref()?.get()
    }

    /// The full gRPC method path, for example `/streaming.StreamingExamples/ListEvents`.
    pub fn method(&self) -> &'static str {
        self.inner.method
    }

    /// Ends the call with `reason`; the first reason recorded wins.
    ///
    /// The runtime calls this when the client goes away, the deadline passes or the handler
    /// finishes; tests of handlers may call it to simulate a client leaving.
    pub fn end(&self, reason: EndReason) {
        let _ = self.inner.reason.set(reason);
        if let Some(body) = self.body() {
            body.set_reason(self.end_reason().unwrap_or(reason));
        }
        self.inner.ended.store(true, Ordering::Release);
        self.inner.token.cancel();
        let callbacks = std::mem::take(&mut *lock(&self.inner.on_end));
        let reason = self.end_reason().unwrap_or(reason);
        for callback in callbacks {
            run_callback(callback, reason);
        }
    }

    /// Ends the call because the client left: it reset the stream or closed the connection.
    ///
    /// A client that leaves at the call's deadline does so because of it (its own timer
    /// fired, which may happen just before ours), so the call ends as
    /// [`EndReason::DeadlineExceeded`] then, whichever timer won; as
    /// [`EndReason::ClientGone`] otherwise.
    pub(crate) fn end_by_client(&self) {
        if !self.is_active() {
            // The usual case, at the end of every call: nothing to decide, no clock to read.
            return;
        }
        let reason = if self.inner.deadline.explains_client_leaving(Instant::now()) {
            EndReason::DeadlineExceeded
        } else {
            EndReason::ClientGone
        };
        self.end(reason);
    }

    /// Ends the call with the reason its handler's `outcome` gives: a failure the request
    /// stream recorded (a limit) explains a handler error better than its status code.
    pub(crate) fn finish<T>(&self, outcome: &Result<T, Status>) {
        let reason = match (outcome, self.inner.inbound_failure.get()) {
            (Err(_), Some(failure)) => *failure,
            _ => EndReason::of(outcome),
        };
        self.end(reason);
    }

    /// Records why reading the request failed, for [`CallContext::finish`].
    pub(crate) fn note_inbound_failure(&self, reason: EndReason) {
        let _ = self.inner.inbound_failure.set(reason);
    }

    /// How the request body is going, when [`CallLayer`](crate::CallLayer) saw the call.
    pub(crate) fn body(&self) -> Option<&BodyState> {
        self.inner.body.as_deref()
    }

    /// The call's span, when [`CallLayer`](crate::CallLayer) opened one.
    #[cfg(feature = "tracing")]
    pub(crate) fn span(&self) -> tracing::Span {
        self.body()
            .map_or_else(tracing::Span::none, |body| body.span().clone())
    }

    /// The same, shared, for a request stream to keep.
    pub(crate) fn body_state(&self) -> Option<Arc<BodyState>> {
        self.inner.body.clone()
    }

    /// Runs `callback` synchronously at the moment the call ends (at once if it already
    /// has), with the reason. Useful to record exactly when the server learned of a cancel,
    /// or to release a resource without spawning a task; keep it short, it runs inside the
    /// runtime.
    pub fn on_end(&self, callback: impl FnOnce(EndReason) + Send + 'static) {
        let mut callbacks = lock(&self.inner.on_end);
        // Checked under the lock: `end` takes the list under the same lock after cancelling,
        // so a callback is either run by `end` or here, exactly once.
        if let Some(reason) = self.end_reason().filter(|_| !self.is_active()) {
            drop(callbacks);
            run_callback(Box::new(callback), reason);
        } else {
            callbacks.push(Box::new(callback));
        }
    }

    /// A guard that ends the call as a client that left when dropped (see
    /// [`end_by_client`](Self::end_by_client)), unless the call already ended for another
    /// reason. The response body or the handler future holds it,
    /// so that hyper dropping either (client reset or disconnect) is observed at once.
    pub(crate) fn end_on_drop(&self) -> EndOnDrop {
        EndOnDrop(self.clone())
    }
}

/// Runs an end callback under the same guard as a handler: a panic in it (a `println!` to
/// a closed pipe) is caught, so it cannot unwind into the runtime or the connection that
/// ended the call. The panic hook has already reported it.
fn run_callback(callback: EndCallback, reason: EndReason) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(reason)));
}

/// Locks the callback list; a callback that panicked cannot leave it inconsistent (it was
/// taken out of the list before running), so poisoning is ignored.
fn lock(callbacks: &Mutex<Vec<EndCallback>>) -> MutexGuard<'_, Vec<EndCallback>> {
    callbacks
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ends its call as a client that left when dropped (see [`CallContext::end_by_client`]),
/// unless it already ended: hyper drops the call's futures and bodies when the client
/// resets the stream or disconnects (and the server's deadline answer drops them too).
#[derive(Debug)]
pub(crate) struct EndOnDrop(CallContext);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.end_by_client();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_end_reason_wins_and_guard_marks_client_gone() {
        let ctx = CallContext::detached("/t/M");
        assert!(ctx.is_active());
        ctx.end(EndReason::DeadlineExceeded);
        drop(ctx.end_on_drop());
        assert!(!ctx.is_active());
        assert_eq!(ctx.end_reason(), Some(EndReason::DeadlineExceeded));

        let ctx = CallContext::detached("/t/M");
        drop(ctx.end_on_drop());
        assert_eq!(ctx.end_reason(), Some(EndReason::ClientGone));
    }

    #[test]
    fn end_callbacks_run_once_whether_registered_before_or_after_the_end() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let runs = Arc::new(AtomicUsize::new(0));
        let ctx = CallContext::detached("/t/M");
        let counted = |runs: &Arc<AtomicUsize>, want: EndReason| {
            let runs = Arc::clone(runs);
            move |reason| {
                assert_eq!(reason, want);
                runs.fetch_add(1, Ordering::SeqCst);
            }
        };
        ctx.on_end(counted(&runs, EndReason::DeadlineExceeded));
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        ctx.end(EndReason::DeadlineExceeded);
        ctx.end(EndReason::ClientGone);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        ctx.on_end(counted(&runs, EndReason::DeadlineExceeded));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_panicking_end_callback_does_not_stop_the_others_or_unwind_into_the_caller() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let runs = Arc::new(AtomicUsize::new(0));
        let ctx = CallContext::detached("/t/M");
        let counted = |runs: &Arc<AtomicUsize>| {
            let runs = Arc::clone(runs);
            move |_| {
                runs.fetch_add(1, Ordering::SeqCst);
            }
        };
        ctx.on_end(|_| panic!("the end callback panics"));
        ctx.on_end(counted(&runs));
        ctx.end(EndReason::Finished);
        ctx.on_end(|_| panic!("the late callback panics"));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(ctx.end_reason(), Some(EndReason::Finished));
    }
}

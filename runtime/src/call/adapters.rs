//! The server-side adapters generated code calls, one per streaming pattern. Each builds the
//! call's context and guards and runs the handler under them.

use crate::call::compression::Compression;
use crate::call::context::{CallContext, Caller, EndReason};
use crate::call::deadline::{CallDeadline, header_timeout};
use crate::call::frames;
use crate::call::inbound::{InboundLimits, RequestStream, Source};
use crate::call::metadata::merge_into_status;
use crate::call::sink::{Outbound, ResponseSink, ResponseStream, encoded_outbound};
use crate::server::call_layer::CallStart;
use futures_util::FutureExt;
use futures_util::future::{AbortHandle, Abortable};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tonic::{Request, Response, Status, Streaming};

/// Per-method settings of the guards: outbound buffer, inbound limits, default deadline.
///
/// Generated code builds one per method from the proto's `rust_stream` options, and users
/// can override them on the generated service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallConfig {
    /// Responses buffered between a streaming handler and the network before `send` waits.
    pub buffer: usize,
    /// Limits on what the client streams in.
    pub limits: InboundLimits,
    /// Deadline applied when the client sends none (a client's shorter one still wins).
    pub default_deadline: Option<Duration>,
    /// Encodings accepted on requests and used for responses.
    pub compression: Compression,
}

impl CallConfig {
    /// Buffer of 128 responses, [`InboundLimits::DEFAULT`], no default deadline, no
    /// compression.
    ///
    /// 128 lets a producer run a few frames ahead of the socket, so it is woken once per batch
    /// rather than per item (measured: 10% more small events per second than a buffer of 32),
    /// while still bounding memory per stream and the work wasted when a client cancels.
    pub const DEFAULT: CallConfig = CallConfig {
        buffer: 128,
        limits: InboundLimits::DEFAULT,
        default_deadline: None,
        compression: Compression::NONE,
    };

    /// Sets [`CallConfig::buffer`] (at least 1).
    pub const fn with_buffer(mut self, buffer: usize) -> Self {
        self.buffer = if buffer == 0 { 1 } else { buffer };
        self
    }

    /// Sets [`CallConfig::limits`].
    pub const fn with_limits(mut self, limits: InboundLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`CallConfig::compression`].
    pub const fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets [`CallConfig::default_deadline`].
    pub const fn with_default_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.default_deadline = deadline;
        self
    }
}

impl Default for CallConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Serves a unary call: `handler` runs under the deadline and panic guard.
pub async fn unary<Req, Res, Fut>(
    method: &'static str,
    config: &CallConfig,
    request: Request<Req>,
    handler: impl FnOnce(CallContext, Req) -> Fut,
) -> Result<Response<Res>, Status>
where
    Fut: Future<Output = Result<Res, Status>>,
{
    let (ctx, message) = begin(method, config, request);
    admit(&ctx, config, true)?;
    respond_once(ctx.clone(), config, handler(ctx, message)).await
}

/// Serves a client-streaming call: the handler reads a [`RequestStream`] with the
/// configured limits, under the deadline and panic guard.
pub async fn client_streaming<Req, Res, Fut>(
    method: &'static str,
    config: &CallConfig,
    mut request: Request<Streaming<Req>>,
    handler: impl FnOnce(CallContext, RequestStream<Req>) -> Fut,
) -> Result<Response<Res>, Status>
where
    Req: prost::Message + Default,
    Fut: Future<Output = Result<Res, Status>>,
{
    // Uncompressed requests are read from their DATA frames directly, without tonic's
    // decode buffer (see `call::frames`); tonic's stream is then dropped unread.
    let frames = frames::take_messages(&mut request);
    let (ctx, streaming) = begin(method, config, request);
    admit(&ctx, config, false)?;
    let requests = match frames {
        Some(messages) => RequestStream::from_source(
            Source::Frames(messages, frames::decode::<Req>),
            config.limits,
            ctx.clone(),
            ctx.body_state(),
        ),
        None => RequestStream::new(streaming, config.limits, ctx.clone()),
    };
    respond_once(ctx.clone(), config, handler(ctx, requests)).await
}

/// Serves a server-streaming call: the handler runs in its own task writing to a bounded
/// [`ResponseSink`]; it is dropped as soon as the client goes away or the deadline passes.
///
/// Resolves once the response headers can go out, with the initial metadata the handler
/// set: after its first poll (it sent, waited or returned), see
/// [`CallContext::set_initial_metadata`].
pub async fn server_streaming<Req, Res, Fut>(
    method: &'static str,
    config: &CallConfig,
    request: Request<Req>,
    handler: impl FnOnce(CallContext, Req, ResponseSink<Res>) -> Fut,
) -> Result<Response<ResponseStream<Res>>, Status>
where
    Res: prost::Message + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (ctx, message) = begin(method, config, request);
    admit(&ctx, config, true)?;
    let out = encoded_outbound(&ctx, config.buffer, config.compression.send.is_some());
    let handler = handler(ctx.clone(), message, out.sink.clone());
    Ok(streaming_response(ctx, handler, out).await)
}

/// Serves a bidirectional call: as [`server_streaming`], with the inbound side a
/// [`RequestStream`]. The two directions are independent: the handler may send before,
/// while or after it reads.
pub async fn bidi_streaming<Req, Res, Fut>(
    method: &'static str,
    config: &CallConfig,
    request: Request<Streaming<Req>>,
    handler: impl FnOnce(CallContext, RequestStream<Req>, ResponseSink<Res>) -> Fut,
) -> Result<Response<ResponseStream<Res>>, Status>
where
    Req: prost::Message,
    Res: prost::Message + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (ctx, streaming) = begin(method, config, request);
    admit(&ctx, config, false)?;
    let requests = RequestStream::new(streaming, config.limits, ctx.clone());
    let out = encoded_outbound(&ctx, config.buffer, config.compression.send.is_some());
    let handler = handler(ctx.clone(), requests, out.sink.clone());
    Ok(streaming_response(ctx, handler, out).await)
}

fn begin<M>(method: &'static str, config: &CallConfig, request: Request<M>) -> (CallContext, M) {
    let remote_addr = request.remote_addr();
    let (metadata, extensions, message) = request.into_parts();
    // With `CallLayer` the clock started when the headers arrived; without it, now.
    let (start, client_timeout, body) = match extensions.get::<CallStart>() {
        Some(call) => {
            #[cfg(feature = "metrics")]
            call.body.meter.dispatched(method);
            (call.start, call.timeout, Some(Arc::clone(&call.body)))
        }
        None => (Instant::now(), header_timeout(&metadata), None),
    };
    let deadline = CallDeadline::new(client_timeout, config.default_deadline, start);
    let caller = Caller::of(&extensions);
    let ctx = CallContext::new(method, metadata, remote_addr, deadline, body, caller);
    crate::server::shutdown::track(&extensions, &ctx);
    (ctx, message)
}

/// Refuses a call the method cannot serve, ending it with the status: a request compressed
/// with an encoding the method does not accept (`UNIMPLEMENTED`, with
/// `grpc-accept-encoding`), or, for a unary-request call (`single`), more than one request
/// message. tonic decodes the first and discards the rest; `CallLayer` counted them all, and
/// like grpc-java the call is refused with `INTERNAL` when there were more.
fn admit(ctx: &CallContext, config: &CallConfig, single: bool) -> Result<(), Status> {
    let refused = match config.compression.check_request(ctx.metadata()) {
        Err(status) => Some(status),
        Ok(()) => match ctx.body().map(|body| body.messages()) {
            Some(n) if single && n > 1 => Some(Status::internal(format!(
                "{} takes one request message, the client sent {n}",
                ctx.method()
            ))),
            _ => None,
        },
    };
    match refused {
        Some(status) => {
            ctx.end(EndReason::Failed(status.code()));
            Err(status)
        }
        None => Ok(()),
    }
}

/// Runs a handler that answers once. tonic drops this future when the client resets the
/// stream or disconnects; the guard then marks the context so tasks the handler spawned
/// with it stop too.
async fn respond_once<Res>(
    ctx: CallContext,
    config: &CallConfig,
    handler: impl Future<Output = Result<Res, Status>>,
) -> Result<Response<Res>, Status> {
    let outcome = run_once(&ctx, handler).await;
    let initial = ctx.response().take_initial();
    match outcome {
        Ok(message) => {
            let mut response = Response::from_parts(initial, message, http::Extensions::default());
            // The service may compress for another method, or the handler said no.
            if config.compression.send.is_none() || ctx.response().uncompressed() {
                response.disable_compression();
            }
            Ok(response)
        }
        // A trailers-only answer: what the handler set for headers and trailers goes with
        // the status.
        Err(mut status) => {
            merge_into_status(&mut status, initial.into_headers());
            merge_into_status(&mut status, ctx.response().take_trailing());
            Err(status)
        }
    }
}

/// [`respond_once`] without the response wrapper: the handler under the deadline and panic
/// guard, the call ended with the reason its outcome gives. Tests of handlers run it too.
pub(crate) async fn run_once<Res>(
    ctx: &CallContext,
    handler: impl Future<Output = Result<Res, Status>>,
) -> Result<Res, Status> {
    let _end_on_drop = ctx.end_on_drop();
    let outcome = guarded(ctx, handler).await.unwrap_or_else(Err);
    ctx.finish(&outcome);
    outcome
}

/// Starts a streaming handler (see [`spawn_streaming`]) and waits until its response
/// headers can go out: once the handler was polled for the first time, so the initial
/// metadata it set before its first wait goes with them.
async fn streaming_response<Res: Send + 'static>(
    ctx: CallContext,
    handler: impl Future<Output = Result<(), Status>> + Send + 'static,
    out: Outbound<Res>,
) -> Response<ResponseStream<Res>> {
    let headers = ctx.response().wait_initial();
    let stream = spawn_streaming(ctx, handler, out);
    // The task releases the headers in every outcome; a task that is gone has none to give.
    let initial = headers.await.unwrap_or_default();
    Response::from_parts(initial, stream, http::Extensions::default())
}

/// Polls `handler`, releasing the response headers after its first poll: by then it has
/// sent its first response, is waiting for something, or has returned.
async fn headers_after_first_poll<F: Future>(ctx: &CallContext, handler: F) -> F::Output {
    let mut handler = std::pin::pin!(handler);
    let mut first = true;
    std::future::poll_fn(|cx| {
        let poll = handler.as_mut().poll(cx);
        if std::mem::take(&mut first) {
            ctx.response().release_initial();
        }
        poll
    })
    .await
}

/// Runs a streaming handler in its own task, so it makes progress while tonic waits on the
/// network, and returns the body that carries what it sends.
fn spawn_streaming<Res: Send + 'static>(
    ctx: CallContext,
    handler: impl Future<Output = Result<(), Status>> + Send + 'static,
    out: Outbound<Res>,
) -> ResponseStream<Res> {
    let Outbound {
        sink,
        stream,
        abort,
    } = out;
    // The call's end aborts the handler: `Abortable` checks one atomic flag per poll, where
    // a `select!` on `ctx.cancelled()` would take a lock on every wake-up of the producer.
    #[cfg(feature = "tracing")]
    let ctx_span = ctx.span();
    let (abort_handler, registration) = AbortHandle::new_pair();
    ctx.on_end(move |_| abort_handler.abort());
    let task = async move {
        let handler = headers_after_first_poll(&ctx, handler);
        let outcome = Abortable::new(guarded(&ctx, handler), registration).await;
        // A handler aborted before its first poll released nothing: the headers go now.
        ctx.response().release_initial();
        // Aborted means the client is gone (or the deadline passed, which `guarded` already
        // reported): dropping the handler here is what stops one that never checks.
        let Ok(outcome) = outcome else {
            // A server shutting down tells the client (who is still there) why.
            if ctx.end_reason() == Some(EndReason::ServerShutdown) {
                abort.abort(crate::server::shutdown::unavailable());
            }
            return;
        };
        match outcome {
            // A handler that returned because it saw the shutdown while it ran (`is_active()`
            // turned false, or a send failed, before the abort reached it) did not finish the
            // stream: the client learns why it ended. A failed handler's own status would not
            // go out either, as the call has ended.
            Ok(_) if ctx.end_reason() == Some(EndReason::ServerShutdown) => {
                abort.abort(crate::server::shutdown::unavailable());
            }
            Ok(Ok(())) => ctx.finish(&Ok::<(), Status>(())),
            Ok(Err(mut status)) => {
                let reason = Err::<(), _>(status.clone());
                merge_into_status(&mut status, ctx.response().take_trailing());
                // The status goes after everything the handler sent before it.
                sink.finish_with(status);
                ctx.finish(&reason);
            }
            // The deadline or the panic guard already ended the call with its reason.
            Err(aborted) => abort.abort(aborted),
        }
    };
    // The handler's own events belong to its call's span.
    #[cfg(feature = "tracing")]
    let task = tracing::Instrument::instrument(task, ctx_span);
    tokio::spawn(task);
    stream
}

/// Runs `handler` under the call's deadline and catches its panic. The outer error is the
/// runtime's own verdict (deadline, panic), which ends a stream ahead of buffered items; the
/// inner result is the handler's.
async fn guarded<T>(
    ctx: &CallContext,
    handler: impl Future<Output = Result<T, Status>>,
) -> Result<Result<T, Status>, Status> {
    let caught = AssertUnwindSafe(handler).catch_unwind();
    let outcome = match ctx.deadline() {
        Some(deadline) => match tokio::time::timeout_at(deadline, caught).await {
            Ok(outcome) => outcome,
            Err(_) => {
                ctx.end(EndReason::DeadlineExceeded);
                return Err(Status::deadline_exceeded("deadline exceeded"));
            }
        },
        None => caught.await,
    };
    outcome.map_err(|_panic| {
        ctx.end(EndReason::Panicked);
        // The panic message went to the server's panic hook; the client learns only that
        // the call failed, not the server's internals.
        Status::internal(format!("the handler for {} panicked", ctx.method()))
    })
}

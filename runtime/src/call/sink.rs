//! The outbound half of server-streaming and bidirectional calls: a bounded sink the
//! handler writes to, and the response body stream tonic reads from.

use crate::call::batch::{Encoder, Outgoing, Refused, Shared};
use crate::call::context::{CallContext, EndReason};
use crate::call::frames::PREFIX;
use crate::server::budget::CallBudget;
use futures_util::Stream;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::{Code, Status};

/// Where a streaming handler sends its responses.
///
/// The buffer between the handler and the network is bounded (see
/// [`CallConfig::buffer`](crate::CallConfig::buffer)), so a fast producer waits for a slow
/// client instead of filling memory. Every send fails as soon as the call has ended
/// (client cancelled or disconnected, deadline passed), so `sink.send(item).await?` is all a
/// handler needs to stop promptly.
///
/// Under the runtime's server ([`Tuning::server`](crate::Tuning::server)), `send` encodes
/// the response in the handler's task, into a buffer the response body takes whole: the
/// network side is woken once per batch, not once per response, and a lone response goes
/// out at once. What the sink buffers also counts against its connection's
/// [`connection_send_budget`](crate::Tuning::connection_send_budget): `send` waits for the
/// budget as it waits for room in the buffer.
pub struct ResponseSink<T> {
    shared: Arc<Shared<T>>,
    ctx: CallContext,
    /// A response's encoded length.
    size: fn(&T) -> usize,
}

impl<T> Clone for ResponseSink<T> {
    fn clone(&self) -> Self {
        self.shared.add_sender();
        ResponseSink {
            shared: Arc::clone(&self.shared),
            ctx: self.ctx.clone(),
            size: self.size,
        }
    }
}

impl<T> Drop for ResponseSink<T> {
    /// The last sink dropped ends the stream after what it buffered.
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for ResponseSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseSink")
            .field("method", &self.ctx.method())
            .field("active", &self.is_active())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// A place in the buffer and the connection's budget, taken by [`ResponseSink::reserve`].
pub struct SendPermit<'a, T> {
    sink: &'a ResponseSink<T>,
    /// The budget held, `None` once sent.
    charge: Option<usize>,
}

impl<T> fmt::Debug for SendPermit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendPermit")
            .field("method", &self.sink.ctx.method())
            .finish_non_exhaustive()
    }
}

impl<T> SendPermit<'_, T> {
    /// Sends `item` in the room reserved for it. A response larger than the size reserved
    /// first waits for the rest of its charge; dropping the permit unused gives the room
    /// back.
    pub async fn send(mut self, item: T) -> Result<(), SendError> {
        let sink = self.sink;
        let len = (sink.size)(&item);
        let mut charge = self.charge.unwrap_or(0);
        if let Some(budget) = &sink.shared.budget {
            let more = budget.shortfall(charge, sink.charge_of(len));
            if more > 0 {
                charge += match budget.try_charge(more) {
                    Some(more) => more,
                    None => sink.charge(budget, more).await?,
                };
            }
        }
        self.charge = None;
        sink.push(item, len, charge)
    }
}

impl<T> Drop for SendPermit<'_, T> {
    /// Unused: its place and charge go back.
    fn drop(&mut self) {
        if let Some(charge) = self.charge {
            self.sink.shared.unplace(charge);
        }
    }
}

/// A send that failed because the call is over; the item was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError {
    /// Why the call ended.
    pub reason: EndReason,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            EndReason::ClientGone => f.write_str("the client cancelled or disconnected"),
            EndReason::DeadlineExceeded => f.write_str("the call's deadline passed"),
            EndReason::IdleTimeout => f.write_str("the client went idle for too long"),
            EndReason::LimitExceeded => f.write_str("the client sent more than the call allows"),
            EndReason::Panicked => f.write_str("the handler panicked"),
            EndReason::ServerShutdown => f.write_str("the server is shutting down"),
            EndReason::Failed(_) | EndReason::Finished => f.write_str("the call already finished"),
        }
    }
}

impl std::error::Error for SendError {}

impl From<SendError> for Status {
    /// Lets a handler write `sink.send(item).await?`: the status is what the call ends with
    /// (the client never sees it when it has gone).
    fn from(err: SendError) -> Status {
        match err.reason {
            EndReason::DeadlineExceeded | EndReason::IdleTimeout => {
                Status::deadline_exceeded(err.to_string())
            }
            EndReason::LimitExceeded => Status::resource_exhausted(err.to_string()),
            EndReason::Panicked => Status::internal(err.to_string()),
            EndReason::ServerShutdown => crate::server::shutdown::unavailable(),
            EndReason::ClientGone | EndReason::Failed(_) | EndReason::Finished => {
                Status::cancelled(err.to_string())
            }
        }
    }
}

impl<T> ResponseSink<T> {
    /// Sends one response, waiting while the buffer is full (backpressure).
    ///
    /// Fails without sending once the call has ended. While waiting for room it is released
    /// the moment the client goes away (hyper drops the response body, which closes the
    /// buffer). On a deadline the adapter drops the handler itself; a clone of the sink held
    /// by another task is released when the response body ends.
    pub async fn send(&self, item: T) -> Result<(), SendError> {
        self.check()?;
        // The first response takes the headers with it, even from a handler that goes on
        // working in the same poll (a loop under `block_in_place`, say).
        self.ctx.response().release_initial();
        let len = (self.size)(&item);
        let bytes = self.charge_of(len);
        let charge = match self.try_room(bytes)? {
            Some(charge) => charge,
            None => self.wait_room(bytes).await?,
        };
        self.push(item, len, charge)
    }

    /// Buffers `item`, `len` bytes encoded, in the place and `charge` taken for it.
    fn push(&self, item: T, len: usize, charge: usize) -> Result<(), SendError> {
        match self.shared.push(item, len, charge) {
            Ok(()) => Ok(()),
            Err(Refused::Over) => Err(self.ended()),
            Err(Refused::Oversize(len)) => Err(self.oversize(len)),
        }
    }

    /// What a response of `len` encoded bytes holds while buffered: its bytes, and when it
    /// is buffered as itself, its place in the queue.
    fn charge_of(&self, len: usize) -> usize {
        let place = if self.shared.encodes() {
            0
        } else {
            std::mem::size_of::<T>()
        };
        len + PREFIX + place
    }

    /// A place in the buffer and `bytes` of the budget if both are free now; `None` when
    /// one is not.
    fn try_room(&self, bytes: usize) -> Result<Option<usize>, SendError> {
        match self.shared.try_place() {
            Err(()) => return Err(self.ended()),
            Ok(false) => return Ok(None),
            Ok(true) => {}
        }
        let Some(budget) = &self.shared.budget else {
            return Ok(Some(0));
        };
        match budget.try_charge(bytes) {
            Some(charge) => Ok(Some(charge)),
            None => {
                self.shared.unplace(0);
                Ok(None)
            }
        }
    }

    /// As [`room`](Self::room), adding the time spent waiting to the call's metrics.
    async fn wait_room(&self, bytes: usize) -> Result<usize, SendError> {
        #[cfg(feature = "metrics")]
        if let Some(body) = self.ctx.body()
            && body.meter.is_on()
        {
            let waiting = tokio::time::Instant::now();
            let room = self.room(bytes).await;
            body.meter.waited(waiting.elapsed());
            return room;
        }
        self.room(bytes).await
    }

    /// Waits for a place in the buffer, then for `bytes` of the connection's budget (when
    /// the sink is charged), failing once the call has ended; returns the charge taken.
    ///
    /// The buffer closes exactly when the response body goes: hyper drops the body when
    /// the client resets or disconnects, and the body ends on a deadline, so a send waiting
    /// for room fails the moment the call ends.
    async fn room(&self, bytes: usize) -> Result<usize, SendError> {
        self.shared.place().await.map_err(|()| self.ended())?;
        let Some(budget) = &self.shared.budget else {
            return Ok(0);
        };
        if let Some(charge) = budget.try_charge(bytes) {
            return Ok(charge);
        }
        match self.charge(budget, bytes).await {
            Ok(charge) => Ok(charge),
            Err(err) => {
                self.shared.unplace(0);
                Err(err)
            }
        }
    }

    /// `bytes` of the connection's budget, waiting for them unless the call ends first.
    async fn charge(&self, budget: &CallBudget, bytes: usize) -> Result<usize, SendError> {
        tokio::select! {
            biased;
            charge = budget.charge(bytes) => Ok(charge),
            () = self.ctx.cancelled() => Err(self.ended()),
        }
    }

    /// Waits for room for one response of about `size` encoded bytes, before building it.
    ///
    /// [`send`](Self::send) waits with the response already built, so a handler parked on
    /// a slow client holds one response beside those buffered; with large responses and
    /// many streams that one can weigh more than the buffers. Reserving first keeps it
    /// unbuilt until there is room for it. Fails, like `send`, once the call has ended.
    pub async fn reserve(&self, size: usize) -> Result<SendPermit<'_, T>, SendError> {
        self.check()?;
        self.ctx.response().release_initial();
        let bytes = self.charge_of(size);
        let charge = match self.try_room(bytes)? {
            Some(charge) => charge,
            None => self.wait_room(bytes).await?,
        };
        Ok(SendPermit {
            sink: self,
            charge: Some(charge),
        })
    }

    /// `true` while the client can still receive; the guide's `context.is_active()`.
    pub fn is_active(&self) -> bool {
        self.ctx.is_active() && !self.shared.is_gone()
    }

    /// Resolves once the call has ended, for use in `tokio::select!`.
    pub async fn cancelled(&self) {
        // The body ends the call when it goes, so the context covers both.
        self.ctx.cancelled().await;
    }

    /// The call this sink belongs to.
    pub fn context(&self) -> &CallContext {
        &self.ctx
    }

    /// How many more items fit in the buffer right now without waiting.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Ends the stream with the handler's final error, after everything it sent before.
    pub(crate) fn finish_with(&self, status: Status) {
        self.shared.close_with(status);
    }

    fn check(&self) -> Result<(), SendError> {
        if self.is_active() {
            Ok(())
        } else {
            Err(self.ended())
        }
    }

    fn ended(&self) -> SendError {
        // The buffer closes only with the response body, after the body ended the call;
        // should a send see it first all the same, the client is what left.
        self.ctx.end_by_client();
        SendError {
            reason: self.ctx.end_reason().unwrap_or(EndReason::ClientGone),
        }
    }

    /// A response longer than the call may send ends the call with `RESOURCE_EXHAUSTED`,
    /// after what was sent before it, as a request over the limit does.
    fn oversize(&self, len: usize) -> SendError {
        let status = Status::resource_exhausted(format!(
            "{} tried to send a response of {len} bytes, over the message size limit",
            self.ctx.method()
        ));
        self.shared.close_with(status);
        self.ctx.end(EndReason::Failed(Code::ResourceExhausted));
        self.ended()
    }
}

/// The response body of a streaming call, as tonic's server trait wants it.
///
/// Yields what the handler sent, then the handler's error if it failed. A deadline or a
/// handler panic ends the stream at once with its status, ahead of anything still buffered.
/// Dropping it (hyper does so when the client resets the stream or disconnects) ends the
/// call, which stops the handler.
///
/// Under the runtime's server the responses are already encoded, and the server's body
/// takes them from the sink's buffer directly; this stream then yields only the end.
pub struct ResponseStream<T> {
    shared: Arc<Shared<T>>,
    /// Ends the call in [`Drop`], before the buffer closes (see there).
    end: CallContext,
}

impl<T> Drop for ResponseStream<T> {
    /// Records that the client left before the buffer closes: a handler waiting in `send`
    /// is woken by the close, possibly on another worker, and returns at once; had the
    /// close come first, its error would end the call as `Failed(Cancelled)`. Ending the
    /// call also aborts the handler, so it is usually dropped without being woken at all.
    fn drop(&mut self) {
        self.end.end_by_client();
        self.shared.body_gone();
    }
}

impl<T> fmt::Debug for ResponseStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseStream").finish_non_exhaustive()
    }
}

impl<T> Stream for ResponseStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.shared.poll_item(cx);
        if let Poll::Ready(Some(Err(status))) = &polled {
            // The handler's error or the runtime's abort, its last item: the call ends with
            // it now, before tonic sends it and hyper drops this body (which would end the
            // call as a client that left, ahead of the handler's task recording the
            // failure). An abort already ended the call, whose first reason stands.
            self.end.finish(&Err::<(), _>(status.clone()));
        }
        polled
    }
}

/// The ends of one streaming response: the handler's sink, the body for tonic, and the
/// handle that aborts the body with a status.
pub(crate) struct Outbound<T> {
    pub(crate) sink: ResponseSink<T>,
    pub(crate) stream: ResponseStream<T>,
    pub(crate) abort: Abort<T>,
}

/// Ends a streaming response with a status at once, ahead of what is buffered.
pub(crate) struct Abort<T>(Arc<Shared<T>>);

impl<T> Abort<T> {
    pub(crate) fn abort(self, status: Status) {
        self.0.abort(status);
    }
}

/// The ends of a streaming response for the call `ctx`, buffering `buffer` messages as
/// themselves (tonic encodes them); `size` is a message's encoded length, charged to the
/// call's connection budget when it has one.
pub(crate) fn outbound<T>(ctx: &CallContext, buffer: usize, size: fn(&T) -> usize) -> Outbound<T> {
    let budget = ctx.body().and_then(|body| body.budget.clone());
    ends(ctx, Shared::new(buffer, None, budget), size)
}

/// As [`outbound`] for a protobuf message, encoded in the sink when the body can take the
/// bytes: under the runtime's server (which knows the message size limit and takes the
/// bytes), for responses sent uncompressed.
pub(crate) fn encoded_outbound<T: prost::Message + Send + 'static>(
    ctx: &CallContext,
    buffer: usize,
    compressed: bool,
) -> Outbound<T> {
    let size = <T as prost::Message>::encoded_len;
    let Some((body, budget)) = ctx
        .body()
        .and_then(|body| Some((body, body.budget.clone()?)))
        .filter(|_| !compressed)
    else {
        return outbound(ctx, buffer, size);
    };
    let encoding = Encoder {
        encode: encode::<T>,
        max_message: budget.max_message(),
    };
    let shared = Shared::new(buffer, Some(encoding), Some(budget));
    body.send_encoded(Arc::clone(&shared) as Arc<dyn Outgoing>);
    ends(ctx, shared, size)
}

fn encode<T: prost::Message>(message: &T, buf: &mut Vec<u8>) {
    // The length is in the header already and the room reserved: `encode` would compute
    // the length a second time only to check the room a `Vec` has anyway.
    message.encode_raw(buf);
}

fn ends<T>(ctx: &CallContext, shared: Arc<Shared<T>>, size: fn(&T) -> usize) -> Outbound<T> {
    let abort = Abort(Arc::clone(&shared));
    Outbound {
        sink: ResponseSink {
            shared: Arc::clone(&shared),
            ctx: ctx.clone(),
            size,
        },
        stream: ResponseStream {
            shared,
            end: ctx.clone(),
        },
        abort,
    }
}

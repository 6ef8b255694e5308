//! The outbound half of server-streaming and bidirectional calls: a bounded sink the
//! handler writes to, and the response body stream tonic reads from.

use crate::call::context::{CallContext, EndReason};
use crate::server::budget::CallBudget;
use futures_util::Stream;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tonic::Status;

/// A buffered response and its charge on the connection's budget, given back when it is
/// dropped unsent.
struct Queued<T> {
    item: Result<T, Status>,
    charge: Option<OwnedSemaphorePermit>,
}

/// The gRPC message header before every encoded message.
const MESSAGE_HEADER: usize = 5;

/// How a sink charges its messages to its connection's budget.
struct Charging<T> {
    budget: Arc<CallBudget>,
    /// A message's encoded length.
    size: fn(&T) -> usize,
}

impl<T> Clone for Charging<T> {
    fn clone(&self) -> Self {
        Charging {
            budget: Arc::clone(&self.budget),
            size: self.size,
        }
    }
}

impl<T> Charging<T> {
    /// What `item` holds while buffered: its encoded bytes and its slot in the buffer.
    fn bytes(&self, item: &T) -> usize {
        (self.size)(item) + MESSAGE_HEADER + std::mem::size_of::<Queued<T>>()
    }
}

/// Where a streaming handler sends its responses.
///
/// The buffer between the handler and the network is bounded (see
/// [`CallConfig::buffer`](crate::CallConfig::buffer)), so a fast producer waits for a slow
/// client instead of filling memory. Every send fails as soon as the call has ended
/// (client cancelled or disconnected, deadline passed), so `sink.send(item).await?` is all a
/// handler needs to stop promptly.
///
/// Under [`Tuning::server`](crate::Tuning::server), what the sink buffers also counts
/// against its connection's
/// [`connection_send_budget`](crate::Tuning::connection_send_budget): `send` waits for the
/// budget as it waits for room in the buffer.
pub struct ResponseSink<T> {
    tx: mpsc::Sender<Queued<T>>,
    ctx: CallContext,
    charging: Option<Charging<T>>,
}

impl<T> Clone for ResponseSink<T> {
    fn clone(&self) -> Self {
        ResponseSink {
            tx: self.tx.clone(),
            ctx: self.ctx.clone(),
            charging: self.charging.clone(),
        }
    }
}

impl<T> fmt::Debug for ResponseSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseSink")
            .field("method", &self.ctx.method())
            .field("active", &self.is_active())
            .field("capacity", &self.tx.capacity())
            .finish()
    }
}

/// A slot in the buffer and the connection's budget, taken by [`ResponseSink::reserve`].
pub struct SendPermit<'a, T> {
    sink: &'a ResponseSink<T>,
    slot: mpsc::Permit<'a, Queued<T>>,
    charge: Option<OwnedSemaphorePermit>,
}

/// A slot in a sink's buffer and the message's charge.
type Room<'a, T> = (mpsc::Permit<'a, Queued<T>>, Option<OwnedSemaphorePermit>);

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
        if let (Some(charging), Some(charge)) = (&self.sink.charging, &mut self.charge) {
            let more = charging
                .budget
                .shortfall(charge.num_permits(), charging.bytes(&item));
            if more > 0 {
                charge.merge(self.sink.charge(&charging.budget, more).await?);
            }
        }
        self.slot.send(Queued {
            item: Ok(item),
            charge: self.charge,
        });
        Ok(())
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
        #[cfg(feature = "metrics")]
        if let Some(body) = self.ctx.body()
            && body.meter.is_on()
        {
            return self.send_timed(item, &body.meter).await;
        }
        self.enqueue(item).await
    }

    /// Buffers `item` once there is room for it, in the buffer and in the connection's
    /// budget.
    ///
    /// The receiver lives exactly as long as the response body: hyper drops the body when
    /// the client resets or disconnects, and the body closes it on a deadline, so a send
    /// waiting for room fails the moment the call ends. A streaming handler itself is also
    /// dropped by its adapter then.
    async fn enqueue(&self, item: T) -> Result<(), SendError> {
        let bytes = self
            .charging
            .as_ref()
            .map_or(0, |charging| charging.bytes(&item));
        let (slot, charge) = self.room(bytes).await?;
        slot.send(Queued {
            item: Ok(item),
            charge,
        });
        Ok(())
    }

    /// Waits for a slot in the buffer, then for `bytes` of the connection's budget (when
    /// the sink is charged), failing once the call has ended.
    async fn room(&self, bytes: usize) -> Result<Room<'_, T>, SendError> {
        let slot = self.tx.reserve().await.map_err(|_| self.ended())?;
        let Some(charging) = &self.charging else {
            return Ok((slot, None));
        };
        let charge = self.charge(&charging.budget, bytes).await?;
        Ok((slot, Some(charge)))
    }

    /// `bytes` of the connection's budget, waiting for them unless the call ends first.
    async fn charge(
        &self,
        budget: &CallBudget,
        bytes: usize,
    ) -> Result<OwnedSemaphorePermit, SendError> {
        if let Some(charge) = budget.try_charge(bytes) {
            return Ok(charge);
        }
        tokio::select! {
            biased;
            charge = budget.charge(bytes) => Ok(charge),
            () = self.tx.closed() => Err(self.ended()),
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
        let bytes = size + MESSAGE_HEADER + std::mem::size_of::<Queued<T>>();
        let (slot, charge) = self.room(bytes).await?;
        Ok(SendPermit {
            sink: self,
            slot,
            charge,
        })
    }

    /// Buffers `item` if there is room for it now; gives it back otherwise.
    #[cfg(feature = "metrics")]
    fn try_enqueue(&self, item: T) -> Result<(), mpsc::error::TrySendError<T>> {
        use tokio::sync::mpsc::error::TrySendError;
        let slot = match self.tx.try_reserve() {
            Ok(slot) => slot,
            Err(TrySendError::Full(())) => return Err(TrySendError::Full(item)),
            Err(TrySendError::Closed(())) => return Err(TrySendError::Closed(item)),
        };
        let charge = match &self.charging {
            None => None,
            Some(charging) => match charging.budget.try_charge(charging.bytes(&item)) {
                Some(charge) => Some(charge),
                None => return Err(TrySendError::Full(item)),
            },
        };
        slot.send(Queued {
            item: Ok(item),
            charge,
        });
        Ok(())
    }

    /// As `send`, adding the time spent waiting for room to the call's metrics.
    #[cfg(feature = "metrics")]
    async fn send_timed(
        &self,
        item: T,
        meter: &crate::metrics::server::CallMeter,
    ) -> Result<(), SendError> {
        use tokio::sync::mpsc::error::TrySendError;
        match self.try_enqueue(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(_)) => Err(self.ended()),
            Err(TrySendError::Full(item)) => {
                let waiting = tokio::time::Instant::now();
                let sent = self.enqueue(item).await;
                meter.waited(waiting.elapsed());
                sent
            }
        }
    }

    /// `true` while the client can still receive; the guide's `context.is_active()`.
    pub fn is_active(&self) -> bool {
        self.ctx.is_active() && !self.tx.is_closed()
    }

    /// Resolves once the call has ended, for use in `tokio::select!`.
    pub async fn cancelled(&self) {
        tokio::select! {
            () = self.ctx.cancelled() => {}
            () = self.tx.closed() => {}
        }
    }

    /// The call this sink belongs to.
    pub fn context(&self) -> &CallContext {
        &self.ctx
    }

    /// How many more items fit in the buffer right now without waiting.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }

    /// Sends the handler's final error after everything it sent before, waiting for room
    /// like any item, unless the call ends first.
    pub(crate) async fn finish_with(self, status: Status) {
        tokio::select! {
            biased;
            () = self.ctx.cancelled() => {}
            _ = self.tx.send(Queued { item: Err(status), charge: None }) => {}
        }
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
}

/// The response body of a streaming call, as tonic's server trait wants it.
///
/// Yields what the handler sent, then the handler's error if it failed. A deadline or a
/// handler panic ends the stream at once with its status, ahead of anything still buffered.
/// Dropping it (hyper does so when the client resets the stream or disconnects) ends the
/// call, which stops the handler.
pub struct ResponseStream<T> {
    rx: mpsc::Receiver<Queued<T>>,
    /// The call's account with its connection's budget, where the charges of the messages
    /// it yields go.
    budget: Option<Arc<CallBudget>>,
    abort: Option<oneshot::Receiver<Status>>,
    /// Ends the call in [`Drop`], before `rx` closes (see there).
    end: CallContext,
}

impl<T> Drop for ResponseStream<T> {
    /// Records that the client left before the buffer closes: a handler waiting in `send`
    /// is woken by the close, possibly on another worker, and returns at once; had the
    /// close come first, its error would end the call as `Failed(Cancelled)`. Ending the
    /// call also aborts the handler, so it is usually dropped without being woken at all.
    fn drop(&mut self) {
        self.end.end_by_client();
    }
}

impl<T> fmt::Debug for ResponseStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseStream").finish_non_exhaustive()
    }
}

impl<T> Stream for ResponseStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // An abort goes ahead of buffered items. Checking for one is an atomic load; the
        // waker is registered with it only when there is nothing else to wait for.
        if let Some(status) = self.take_abort(None) {
            return Poll::Ready(Some(Err(status)));
        }
        let polled = match self.rx.poll_recv(cx) {
            Poll::Ready(Some(queued)) => Poll::Ready(Some(self.take(queued))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        };
        match polled {
            Poll::Pending => match self.take_abort(Some(cx)) {
                Some(status) => Poll::Ready(Some(Err(status))),
                None => Poll::Pending,
            },
            // The handler's task sends its abort before it drops its sink, but the check
            // above may have run before the abort and this one after the close: without a
            // second look a shutdown would end the stream with OK.
            Poll::Ready(None) => Poll::Ready(self.take_abort(None).map(Err)),
            Poll::Ready(Some(Err(status))) => {
                // The handler's error, its last item: the call ends with it now, before
                // tonic sends it and hyper drops this body (which would end the call as a
                // client that left, ahead of the handler's task recording the failure).
                self.end.finish(&Err::<(), _>(status.clone()));
                Poll::Ready(Some(Err(status)))
            }
            ready => ready,
        }
    }
}

impl<T> ResponseStream<T> {
    /// The item the encoder takes; its charge stays held, in the call's account, until the
    /// encoded bytes are handed to hyper.
    fn take(&self, queued: Queued<T>) -> Result<T, Status> {
        if let (Some(charge), Some(budget)) = (queued.charge, &self.budget) {
            budget.encoding(charge);
        }
        queued.item
    }

    /// The abort status, if one was sent; with `cx`, registers for the wake-up otherwise.
    /// Taking it closes the channel and discards what is buffered: the call ends now.
    fn take_abort(&mut self, cx: Option<&mut Context<'_>>) -> Option<Status> {
        let abort = self.abort.as_mut()?;
        let taken = match cx {
            None => abort
                .try_recv()
                .map_err(|err| err == oneshot::error::TryRecvError::Closed),
            Some(cx) => match Pin::new(abort).poll(cx) {
                Poll::Ready(Ok(status)) => Ok(status),
                Poll::Ready(Err(_)) => Err(true),
                Poll::Pending => Err(false),
            },
        };
        match taken {
            Ok(status) => {
                self.abort = None;
                self.rx.close();
                while self.rx.try_recv().is_ok() {}
                Some(status)
            }
            Err(closed) => {
                if closed {
                    // The handler finished without aborting: nothing more to watch.
                    self.abort = None;
                }
                None
            }
        }
    }
}

/// The three ends of one streaming response: the handler's sink, the body for tonic, and
/// the sender that aborts the body with a status.
pub(crate) struct Outbound<T> {
    pub(crate) sink: ResponseSink<T>,
    pub(crate) stream: ResponseStream<T>,
    pub(crate) abort: oneshot::Sender<Status>,
}

/// The ends of a streaming response for the call `ctx`, buffering `buffer` messages. When
/// the call's connection has a budget, messages are charged to it for their encoded
/// length, `size`.
pub(crate) fn outbound<T>(ctx: &CallContext, buffer: usize, size: fn(&T) -> usize) -> Outbound<T> {
    let (tx, rx) = mpsc::channel(buffer.max(1));
    let (abort_tx, abort_rx) = oneshot::channel();
    let budget = ctx.body().and_then(|body| body.budget.clone());
    Outbound {
        sink: ResponseSink {
            tx,
            ctx: ctx.clone(),
            charging: budget.clone().map(|budget| Charging { budget, size }),
        },
        stream: ResponseStream {
            rx,
            budget,
            abort: Some(abort_rx),
            end: ctx.clone(),
        },
        abort: abort_tx,
    }
}

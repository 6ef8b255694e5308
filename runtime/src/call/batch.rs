//! The buffer between a streaming handler's sinks and its response body.
//!
//! Under the runtime's server the sink encodes each message, gRPC header and all, in the
//! handler's own task, into a shared buffer; the response body takes everything buffered
//! at once, as one chunk for hyper, and the producer is woken once per batch taken rather
//! than once per message. Elsewhere (a tonic server, a compressed method, a test) the
//! buffer holds the messages themselves and tonic's encoder takes them one by one.
//!
//! Either way the buffer holds at most its capacity in messages (the semaphore `room`),
//! and every message's charge on its connection's send budget is taken before it is
//! buffered and follows it to hyper (see [`crate::server::budget`]).

use crate::call::frames::{PREFIX, put_prefix};
use crate::server::budget::CallBudget;
use bytes::Bytes;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::sync::Semaphore;
use tonic::Status;

/// Messages at least this long are encoded outside the buffer's lock into a chunk of their
/// own, exactly sized, so the body never waits on a long copy and a small batch does not
/// grow into a large allocation.
const OWN_CHUNK: usize = 16 * 1024;

/// The least room a new batch starts with.
const MIN_BATCH: usize = 256;

/// Batches at most this long are copied out of the tail, which keeps its allocation for
/// the next batch (when that is at most [`KEPT_TAIL`] bytes): one small allocation of the
/// exact length, where handing the tail over costs a new buffer and a shrinking `realloc`
/// (which leaves the allocator fragments to merge: about 700 instructions a round trip of
/// a ping-pong).
const COPIED_BATCH: usize = 1024;

/// The largest tail kept from one batch to the next when a batch is copied out.
const KEPT_TAIL: usize = 4 * 1024;

/// How a call's messages are written for the wire, when the body takes bytes.
pub(crate) struct Encoder<T> {
    /// Writes a message's protobuf encoding (`encoded_len` bytes) at the end of the buffer.
    pub(crate) encode: fn(&T, &mut Vec<u8>),
    /// The largest encoded message the call may send.
    pub(crate) max_message: usize,
}

/// What a message buffered as itself holds beside its encoding: its place in the queue.
struct Item<T> {
    message: T,
    charge: usize,
}

/// Encoded messages taken together, with what they hold: their places in the buffer and
/// their charge on the budget.
struct Chunk {
    bytes: Bytes,
    messages: usize,
    charge: usize,
}

/// The buffer and how the call's outbound side stands, under one lock.
struct State<T> {
    /// Messages buffered as themselves (no [`Encoder`]).
    items: VecDeque<Item<T>>,
    /// Encoded messages cut off before a message that went in its own chunk, in order.
    chunks: VecDeque<Chunk>,
    /// Encoded messages after the last chunk. A `Vec`, not a `BytesMut`: each batch goes
    /// to hyper in an allocation of its own, cut to its length (a short one copied out),
    /// so a batch waiting in h2's queue for a client that does not read holds its own
    /// bytes and no more (a `BytesMut` split off a larger buffer keeps all of it alive).
    tail: Vec<u8>,
    tail_messages: usize,
    tail_charge: usize,
    /// Sinks alive; the last one dropped ends the stream after what is buffered.
    senders: usize,
    /// Set once no more messages come: `Some(None)` ends the stream cleanly after what is
    /// buffered, `Some(Some(status))` with that status.
    closed: Option<Option<Status>>,
    /// A status that ends the stream now, ahead of anything buffered.
    abort: Option<Status>,
    /// The body, waiting for messages.
    body: Option<Waker>,
}

impl<T> State<T> {
    fn is_empty(&self) -> bool {
        self.items.is_empty() && self.chunks.is_empty() && self.tail.is_empty()
    }

    /// The next batch of encoded messages, all of the tail at once.
    fn take_chunk(&mut self) -> Option<Chunk> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Some(chunk);
        }
        (!self.tail.is_empty()).then(|| self.cut_tail())
    }

    fn cut_tail(&mut self) -> Chunk {
        let bytes = if self.tail.len() <= COPIED_BATCH && self.tail.capacity() <= KEPT_TAIL {
            let bytes = Bytes::copy_from_slice(&self.tail);
            self.tail.clear();
            bytes
        } else {
            self.hand_over_tail()
        };
        Chunk {
            bytes,
            messages: std::mem::take(&mut self.tail_messages),
            charge: std::mem::take(&mut self.tail_charge),
        }
    }

    /// The tail's own allocation, cut to its length; a new tail takes its place.
    fn hand_over_tail(&mut self) -> Bytes {
        // The next batch starts with room for one like this one, so it rarely grows.
        let next = Vec::with_capacity(self.tail.len().max(MIN_BATCH));
        let mut batch = std::mem::replace(&mut self.tail, next);
        // Giving back the unused end of an allocation (at most half of it, as it doubled
        // when it grew) frees it in place, without a copy.
        batch.shrink_to_fit();
        Bytes::from(batch)
    }

    /// Drops everything buffered; returns the budget it held.
    fn discard(&mut self) -> usize {
        let items: usize = self.items.drain(..).map(|item| item.charge).sum();
        let chunks: usize = self.chunks.drain(..).map(|chunk| chunk.charge).sum();
        self.tail.clear();
        self.tail_messages = 0;
        items + chunks + std::mem::take(&mut self.tail_charge)
    }
}

/// What a call's sinks and its response body share.
pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
    /// Free places in the buffer, one a message; closed once the body is gone.
    room: Semaphore,
    /// Set (under the lock) once the body is gone: nothing sent will be read.
    gone: AtomicBool,
    /// How the body wants the messages: encoded (`Some`), or as themselves.
    encoding: Option<Encoder<T>>,
    /// The call's account with its connection's budget, when it has one.
    pub(crate) budget: Option<Arc<CallBudget>>,
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("room", &self.room.available_permits())
            .field("encoded", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a message was not buffered.
pub(crate) enum Refused {
    /// The call's outbound side is over: the body is gone, or the stream was closed.
    Over,
    /// The message is longer than the call may send.
    Oversize(usize),
}

impl<T> Shared<T> {
    /// A buffer of `capacity` messages (one sink so far).
    pub(crate) fn new(
        capacity: usize,
        encoding: Option<Encoder<T>>,
        budget: Option<Arc<CallBudget>>,
    ) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State {
                items: VecDeque::new(),
                chunks: VecDeque::new(),
                tail: Vec::new(),
                tail_messages: 0,
                tail_charge: 0,
                senders: 1,
                closed: None,
                abort: None,
                body: None,
            }),
            room: Semaphore::new(capacity.clamp(1, Semaphore::MAX_PERMITS)),
            gone: AtomicBool::new(false),
            encoding,
            budget,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock, but a poisoned buffer is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `true` when messages are encoded in the sink.
    pub(crate) fn encodes(&self) -> bool {
        self.encoding.is_some()
    }

    /// Places free in the buffer now.
    pub(crate) fn capacity(&self) -> usize {
        self.room.available_permits()
    }

    /// `true` once the body is gone.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    /// A place in the buffer now: `Ok(false)` when it is full, `Err` when it is closed.
    pub(crate) fn try_place(&self) -> Result<bool, ()> {
        use tokio::sync::TryAcquireError;
        match self.room.try_acquire() {
            Ok(place) => {
                place.forget();
                Ok(true)
            }
            Err(TryAcquireError::NoPermits) => Ok(false),
            Err(TryAcquireError::Closed) => Err(()),
        }
    }

    /// A place in the buffer, waiting for one; `Err` once the body is gone.
    pub(crate) async fn place(&self) -> Result<(), ()> {
        let place = self.room.acquire().await.map_err(|_| ())?;
        place.forget();
        Ok(())
    }

    /// Gives back a place and a charge taken for a message that was not buffered.
    pub(crate) fn unplace(&self, charge: usize) {
        self.room.add_permits(1);
        self.release(charge);
    }

    fn release(&self, charge: usize) {
        if let Some(budget) = &self.budget {
            budget.release(charge);
        }
    }

    /// Buffers `message` in the place taken for it, with its `charge`, and wakes the body
    /// if it waits. `len` is its encoded length.
    pub(crate) fn push(&self, message: T, len: usize, charge: usize) -> Result<(), Refused> {
        let pushed = match &self.encoding {
            None => self.push_item(message, charge),
            Some(encoding) if len > encoding.max_message => Err(Refused::Oversize(len)),
            Some(encoding) if len >= OWN_CHUNK => {
                let mut own = Vec::with_capacity(PREFIX + len);
                frame(encoding, &message, len, &mut own);
                drop(message);
                self.push_chunk(Bytes::from(own), charge)
            }
            Some(encoding) => self.push_encoded(encoding, &message, len, charge),
        };
        match pushed {
            Ok(body) => {
                if let Some(body) = body {
                    body.wake();
                }
                Ok(())
            }
            Err(refused) => {
                self.unplace(charge);
                Err(refused)
            }
        }
    }

    /// The open buffer, or `Refused::Over`.
    fn open(&self) -> Result<MutexGuard<'_, State<T>>, Refused> {
        let state = self.lock();
        if self.is_gone() || state.closed.is_some() || state.abort.is_some() {
            return Err(Refused::Over);
        }
        Ok(state)
    }

    fn push_item(&self, message: T, charge: usize) -> Result<Option<Waker>, Refused> {
        let mut state = self.open()?;
        state.items.push_back(Item { message, charge });
        Ok(state.body.take())
    }

    fn push_encoded(
        &self,
        encoding: &Encoder<T>,
        message: &T,
        len: usize,
        charge: usize,
    ) -> Result<Option<Waker>, Refused> {
        let mut state = self.open()?;
        frame(encoding, message, len, &mut state.tail);
        state.tail_messages += 1;
        state.tail_charge += charge;
        Ok(state.body.take())
    }

    fn push_chunk(&self, bytes: Bytes, charge: usize) -> Result<Option<Waker>, Refused> {
        let mut state = self.open()?;
        if !state.tail.is_empty() {
            let tail = state.cut_tail();
            state.chunks.push_back(tail);
        }
        state.chunks.push_back(Chunk {
            bytes,
            messages: 1,
            charge,
        });
        Ok(state.body.take())
    }

    /// A sink was cloned.
    pub(crate) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    /// A sink was dropped: the last one ends the stream after what is buffered.
    pub(crate) fn drop_sender(&self) {
        let mut state = self.lock();
        state.senders -= 1;
        if state.senders == 0 && state.closed.is_none() {
            state.closed = Some(None);
            wake(state);
        }
    }

    /// Ends the stream with `status` after what is buffered; no message may follow it.
    pub(crate) fn close_with(&self, status: Status) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(Some(status));
            wake(state);
        }
    }

    /// Ends the stream with `status` now, dropping what is buffered.
    pub(crate) fn abort(&self, status: Status) {
        let mut state = self.lock();
        let charge = state.discard();
        state.abort = Some(status);
        wake(state);
        self.room.close();
        self.release(charge);
    }

    /// The body is gone: nothing buffered or sent later will be read.
    pub(crate) fn body_gone(&self) {
        let mut state = self.lock();
        self.gone.store(true, Ordering::Release);
        let charge = state.discard();
        drop(state);
        self.room.close();
        self.release(charge);
    }

    /// For the body that yields messages: the next one, the stream's final status, or its
    /// end (`None`). Registers `cx` when there is nothing yet.
    pub(crate) fn poll_item(&self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Status>>> {
        let mut state = self.lock();
        if let Some(status) = state.abort.take() {
            state.closed = Some(None);
            return Poll::Ready(Some(Err(status)));
        }
        if let Some(item) = state.items.pop_front() {
            drop(state);
            self.taken(1, item.charge);
            return Poll::Ready(Some(Ok(item.message)));
        }
        // Encoded messages are the other body's to take; this one waits for the end.
        let drained = state.is_empty();
        match &mut state.closed {
            Some(closed) if drained => Poll::Ready(closed.take().map(Err)),
            _ => {
                register(&mut state.body, cx);
                Poll::Pending
            }
        }
    }

    /// Encoded messages were taken: their places go back to the sinks, and their charge is
    /// now the encoder's, handed to hyper with them.
    fn taken(&self, messages: usize, charge: usize) {
        self.room.add_permits(messages);
        if let Some(budget) = &self.budget {
            budget.encoded(charge);
        }
    }
}

/// Writes `message` (`len` bytes encoded) after its uncompressed gRPC header.
fn frame<T>(encoding: &Encoder<T>, message: &T, len: usize, buf: &mut Vec<u8>) {
    buf.reserve(PREFIX + len);
    // `len` is at most `max_message`, which fits the prefix's 32 bits.
    put_prefix(buf, len);
    (encoding.encode)(message, buf);
}

/// Wakes the body, after letting go of the lock.
fn wake<T>(mut state: MutexGuard<'_, State<T>>) {
    let body = state.body.take();
    drop(state);
    if let Some(body) = body {
        body.wake();
    }
}

fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The encoded side of a call's buffer, as the response body takes it.
pub(crate) trait Outgoing: fmt::Debug + Send + Sync {
    /// All encoded messages buffered, as one chunk; `None` once no more will come (the
    /// stream was closed and drained, or aborted), when the body's own end follows.
    fn poll_data(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>>;
}

impl<T: Send> Outgoing for Shared<T> {
    fn poll_data(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut state = self.lock();
        if state.abort.is_some() {
            return Poll::Ready(None);
        }
        if let Some(chunk) = state.take_chunk() {
            drop(state);
            self.taken(chunk.messages, chunk.charge);
            return Poll::Ready(Some(chunk.bytes));
        }
        if state.closed.is_some() && state.is_empty() {
            return Poll::Ready(None);
        }
        register(&mut state.body, cx);
        Poll::Pending
    }
}

/// A response body whose data comes from an [`Outgoing`] buffer, and whose end (the
/// trailers with the status) from tonic's body, once the buffer is drained.
pub(crate) struct EncodedBody {
    pub(crate) outgoing: Arc<dyn Outgoing>,
    pub(crate) inner: tonic::body::Body,
    pub(crate) drained: bool,
}

impl http_body::Body for EncodedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if !this.drained {
            match this.outgoing.poll_data(cx) {
                Poll::Ready(Some(data)) => {
                    return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
                }
                Poll::Ready(None) => this.drained = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        std::pin::Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.drained && self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded_bytes() -> Encoder<Vec<u8>> {
        Encoder {
            encode: |message, buf| buf.extend_from_slice(message),
            max_message: usize::MAX,
        }
    }

    fn tail_of(shared: &Shared<Vec<u8>>) -> (usize, *const u8) {
        let state = shared.lock();
        (state.tail.capacity(), state.tail.as_ptr())
    }

    /// Places and buffers `n` messages of `len` bytes.
    fn push(shared: &Shared<Vec<u8>>, n: usize, len: usize) {
        for _ in 0..n {
            assert!(shared.try_place().unwrap());
            shared.push(vec![7; len], len, 0).map_err(|_| ()).unwrap();
        }
    }

    /// The batch the body takes next.
    fn take(shared: &Shared<Vec<u8>>) -> Bytes {
        let cx = &mut Context::from_waker(std::task::Waker::noop());
        match shared.poll_data(cx) {
            Poll::Ready(Some(batch)) => batch,
            _ => panic!("no batch"),
        }
    }

    /// A short batch leaves as an exact copy and the tail keeps its allocation; a long one
    /// leaves in the tail's own allocation, and the next tail is new.
    #[test]
    fn short_batches_are_copied_out_and_long_ones_handed_over() {
        let shared = Shared::new(1024, Some(encoded_bytes()), None);
        for _ in 0..3 {
            push(&shared, 1, 100);
            let tail = tail_of(&shared);
            let batch = take(&shared);
            assert_eq!(batch.len(), PREFIX + 100);
            assert_ne!(batch.as_ptr(), tail.1, "a short batch was handed over");
            assert_eq!(tail_of(&shared), tail, "the tail was not kept");
        }
        push(&shared, 2, 4000);
        let (_, at) = tail_of(&shared);
        let batch = take(&shared);
        assert_eq!(batch.len(), 2 * (PREFIX + 4000));
        assert_eq!(batch.as_ptr(), at, "a long batch was copied");
        assert_ne!(tail_of(&shared).1, at);
    }
}

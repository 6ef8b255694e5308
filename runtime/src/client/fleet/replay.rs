//! A request body that can be sent again: what one attempt sent is kept (up to a bound) so
//! that a retry replays it, then goes on with the rest.
//!
//! Frames are kept as `Bytes` handles (no copy), in order, until the call commits (its
//! answer reached the application) or more than [`REPLAY_LIMIT`] bytes went out; after
//! either, nothing more is kept and the call can no longer be sent again.

use bytes::Bytes;
use http_body::{Body as _, Frame};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use tonic::Status;
use tonic::body::Body;

/// Most request bytes kept per call for a retry: gRFC A6's per-RPC buffer, 256 KiB. A call
/// that sends more cannot be retried.
pub(crate) const REPLAY_LIMIT: usize = 256 * 1024;

/// A call's request body, shared by its attempts; each attempt reads it through a
/// [`ReplayBody`] from [`Replay::body`].
#[derive(Clone, Debug)]
pub(crate) struct Replay {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Debug)]
struct Shared {
    source: Body,
    /// The frames pulled from `source` so far, while `recording`; once it stops, what is
    /// left is only for the current attempt to finish replaying.
    kept: Vec<Frame<Bytes>>,
    kept_bytes: usize,
    /// Whether frames are still kept, so that a new attempt can send the body again: false
    /// once the call committed, overflowed the limit or its source failed.
    recording: bool,
    /// Whether `source` has ended.
    ended: bool,
    /// The attempt allowed to read; bodies of earlier attempts fail when polled.
    current: u64,
}

impl Replay {
    /// Wraps a call's request body.
    pub(crate) fn new(source: Body) -> Self {
        let ended = source.is_end_stream();
        Replay {
            shared: Arc::new(Mutex::new(Shared {
                source,
                kept: Vec::new(),
                kept_bytes: 0,
                recording: true,
                ended,
                current: 0,
            })),
        }
    }

    /// The body of the next attempt, from the first frame; bodies handed out before stop
    /// reading, so that one attempt at a time pulls from the source.
    pub(crate) fn body(&self) -> ReplayBody {
        let mut shared = self.lock();
        shared.current += 1;
        ReplayBody {
            shared: Arc::clone(&self.shared),
            attempt: shared.current,
            next: 0,
        }
    }

    /// Whether a new attempt can send the whole body again.
    pub(crate) fn replayable(&self) -> bool {
        self.lock().recording
    }

    /// The call committed: nothing more is kept, and what was is freed once the current
    /// attempt has sent it.
    pub(crate) fn commit(&self) {
        self.lock().recording = false;
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock cannot leave `Shared` inconsistent: recover.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Shared {
    /// Stops keeping frames and frees those kept; only when the current attempt has sent
    /// them all (it is pulling from the source).
    fn forget(&mut self) {
        self.recording = false;
        self.kept = Vec::new();
        self.kept_bytes = 0;
    }

    /// Keeps `frame` if it fits in the limit, else forgets everything; whether it was kept.
    fn keep(&mut self, frame: &Frame<Bytes>) -> bool {
        let size = frame.data_ref().map_or(0, Bytes::len);
        if self.kept_bytes + size > REPLAY_LIMIT {
            self.forget();
            return false;
        }
        self.kept.push(copy(frame));
        self.kept_bytes += size;
        true
    }

    /// The next frame of an attempt that has sent `next` frames: a kept one, or one from
    /// the source.
    fn poll_next(
        &mut self,
        next: &mut usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(frame) = self.kept.get(*next) {
            *next += 1;
            return Poll::Ready(Some(Ok(copy(frame))));
        }
        if !self.recording && !self.kept.is_empty() {
            self.forget();
        }
        if self.ended {
            return Poll::Ready(None);
        }
        let polled = ready!(Pin::new(&mut self.source).poll_frame(cx));
        match &polled {
            Some(Ok(frame)) => {
                if self.recording && self.keep(frame) {
                    *next += 1;
                }
            }
            Some(Err(_)) => {
                // What the source failed with cannot be sent again.
                self.forget();
                self.ended = true;
            }
            None => self.ended = true,
        }
        Poll::Ready(polled)
    }
}

/// A handle on the same bytes (or a copy of the trailers) as `frame`.
fn copy(frame: &Frame<Bytes>) -> Frame<Bytes> {
    match frame.data_ref() {
        Some(data) => Frame::data(data.clone()),
        None => Frame::trailers(frame.trailers_ref().cloned().unwrap_or_default()),
    }
}

/// One attempt's view of a [`Replay`]: the kept frames, then the rest of the source.
#[derive(Debug)]
pub(crate) struct ReplayBody {
    shared: Arc<Mutex<Shared>>,
    attempt: u64,
    /// The index in `kept` of the next frame this attempt sends.
    next: usize,
}

impl ReplayBody {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl http_body::Body for ReplayBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let mut shared = this.shared.lock().unwrap_or_else(|p| p.into_inner());
        if shared.current != this.attempt {
            // A later attempt owns the source; this one's stream is being torn down.
            return Poll::Ready(Some(Err(Status::cancelled("a newer attempt took over"))));
        }
        shared.poll_next(&mut this.next, cx)
    }

    fn is_end_stream(&self) -> bool {
        let shared = self.lock();
        shared.current == self.attempt && shared.ended && self.next >= shared.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn source(chunks: &[&'static [u8]]) -> Body {
        let frames: Vec<Result<Frame<Bytes>, Status>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c))))
            .collect();
        Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    }

    async fn read(body: ReplayBody) -> Result<Vec<u8>, Status> {
        Ok(body.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn a_second_attempt_replays_what_the_first_read_then_reads_on() {
        let replay = Replay::new(source(&[b"ab", b"cd", b"ef"]));
        let mut first = replay.body();
        let frame = first.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "ab");
        let second = replay.body();
        assert!(first.frame().await.unwrap().is_err(), "superseded");
        assert_eq!(read(second).await.unwrap(), b"abcdef");
        assert!(replay.replayable());
        assert_eq!(read(replay.body()).await.unwrap(), b"abcdef");
    }

    #[tokio::test]
    async fn a_commit_mid_replay_still_sends_every_kept_frame() {
        let replay = Replay::new(source(&[b"ab", b"cd", b"ef"]));
        let mut first = replay.body();
        first.frame().await.unwrap().unwrap();
        first.frame().await.unwrap().unwrap();
        let mut second = replay.body();
        let frame = second.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "ab");
        // The answer's headers arrived while the retry was still replaying.
        replay.commit();
        assert!(!replay.replayable());
        assert_eq!(read(second).await.unwrap(), b"cdef");
    }

    #[tokio::test]
    async fn past_the_limit_or_after_commit_nothing_is_kept() {
        static BIG: [u8; REPLAY_LIMIT] = [7; REPLAY_LIMIT];
        let replay = Replay::new(source(&[b"x", &BIG]));
        assert_eq!(read(replay.body()).await.unwrap().len(), REPLAY_LIMIT + 1);
        assert!(!replay.replayable());

        let replay = Replay::new(source(&[&BIG]));
        assert_eq!(read(replay.body()).await.unwrap().len(), REPLAY_LIMIT);
        assert!(replay.replayable(), "exactly the limit is kept");
        replay.commit();
        assert!(!replay.replayable());
    }
}

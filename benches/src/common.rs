//! What both stacks do identically: the upload source, the events, the producer's counters.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::watch;

/// The guide's upload chunk size.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Payload bytes of one event.
pub const EVENT_PAYLOAD: usize = 64;
/// Bytes every upload source repeats.
pub static PATTERN: [u8; CHUNK_SIZE] = [0xA5; CHUNK_SIZE];
/// `EventFilter.after` for a feed without end; any number is a count of events.
pub const ENDLESS: &str = "";

/// An upload source of `len` bytes, like a file already in the page cache: each read copies
/// from memory, as reading a cached file does.
#[derive(Debug)]
pub struct PatternReader {
    remaining: u64,
}

impl PatternReader {
    /// A source of `len` bytes.
    pub fn new(len: u64) -> Self {
        PatternReader { remaining: len }
    }
}

impl AsyncRead for PatternReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = (self.remaining.min(buf.remaining() as u64) as usize).min(PATTERN.len());
        buf.put_slice(&PATTERN[..n]);
        self.remaining -= n as u64;
        Poll::Ready(Ok(()))
    }
}

/// How many events `EventFilter.after` asks for, the number before any `/` (`None`: endless).
pub fn event_limit(after: &str) -> Option<u64> {
    after.split('/').next().and_then(|limit| limit.parse().ok())
}

/// Payload bytes of each event a ListEvents request asks for: the number after a `/` in
/// its `after` field (`"/65536"`: endless, 64 KiB events), [`EVENT_PAYLOAD`] without one.
pub fn event_payload(after: &str) -> usize {
    after
        .split_once('/')
        .and_then(|(_, payload)| payload.parse().ok())
        .unwrap_or(EVENT_PAYLOAD)
}

/// The fields of event `i` with `payload` bytes of data, the same for both stacks.
pub fn event_fields(i: u64, payload: usize) -> (String, String, Vec<u8>) {
    (
        i.to_string(),
        "tick".to_owned(),
        vec![(i % 251) as u8; payload],
    )
}

/// The end of one feed, as the producer saw it.
#[derive(Clone, Copy, Debug)]
pub struct FeedEnd {
    /// Events produced in total.
    pub produced: u64,
    /// Events produced when the server learned that the call ended.
    pub produced_when_ended: u64,
    /// When the producer stopped.
    pub stopped_at: Instant,
}

/// Counters of a server's feed (one feed at a time is measured).
#[derive(Debug)]
pub struct FeedStats {
    produced: AtomicU64,
    /// Unary calls answered: how case 11 sees which replica served a call.
    answered: AtomicU64,
    produced_when_ended: watch::Sender<Option<u64>>,
    stopped: watch::Sender<Option<(u64, Instant)>>,
}

impl Default for FeedStats {
    fn default() -> Self {
        FeedStats {
            produced: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            produced_when_ended: watch::Sender::new(None),
            stopped: watch::Sender::new(None),
        }
    }
}

impl FeedStats {
    /// Counts one answered unary call.
    pub fn count_answer(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
    }

    /// Unary calls answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Starts counting a new feed; the guard publishes its end when dropped.
    pub fn start(self: &std::sync::Arc<Self>) -> FeedGuard {
        self.produced.store(0, Ordering::SeqCst);
        self.produced_when_ended.send_replace(None);
        self.stopped.send_replace(None);
        FeedGuard(std::sync::Arc::clone(self))
    }

    /// Counts one produced event.
    pub fn count_one(&self) {
        self.produced.fetch_add(1, Ordering::Relaxed);
    }

    /// Events produced so far.
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::SeqCst)
    }

    /// Records that the server learned the call ended (the first time only).
    pub fn mark_ended(&self) {
        self.produced_when_ended.send_if_modified(|when| {
            let first = when.is_none();
            if first {
                *when = Some(self.produced.load(Ordering::SeqCst));
            }
            first
        });
    }

    /// Waits until the current feed's producer has stopped and the server has learned that
    /// the call ended (in either order), at most `timeout`.
    pub async fn wait_done(&self, timeout: Duration) -> Option<FeedEnd> {
        let mut stopped = self.stopped.subscribe();
        let mut ended = self.produced_when_ended.subscribe();
        tokio::time::timeout(timeout, async move {
            let (produced, stopped_at) = (*stopped.wait_for(Option::is_some).await.ok()?)?;
            let produced_when_ended = (*ended.wait_for(Option::is_some).await.ok()?)?;
            Some(FeedEnd {
                produced,
                produced_when_ended,
                stopped_at,
            })
        })
        .await
        .ok()?
    }
}

/// Publishes the feed's end when the producer stops (returns or is dropped).
#[derive(Debug)]
pub struct FeedGuard(std::sync::Arc<FeedStats>);

impl Drop for FeedGuard {
    fn drop(&mut self) {
        let stats = &self.0;
        let produced = stats.produced.load(Ordering::SeqCst);
        stats.stopped.send_replace(Some((produced, Instant::now())));
    }
}

//! The request streams' idle limits, watched from one thread of the process's own instead
//! of tokio's timer wheel.
//!
//! A timer in tokio's wheel is not free while it waits: as long as one is armed, every park
//! of the runtime reads the clock once more and computes a timeout for the poller, and a
//! request stream that waits for its next message polls its `Sleep`. On a bidirectional
//! call that is paid on every round trip (about 750 instructions of the 39,400 one costs,
//! see `benches/PROFILE.md`). Here a message costs one relaxed store of the stream's message
//! count, and waiting costs a waker registration; the watch thread notices that a count
//! stood still for the limit and wakes the stream.
//!
//! The limit is never enforced early: the watch starts a stream's quiet period when it
//! sees the count move, which is after the message arrived. It may be enforced late by two
//! scan periods (one to see the last message, one to see the limit pass); a period is a
//! sixteenth of the shortest limit being watched, at most 500 ms and at least 1 ms, so a
//! 60 s limit trips between 60 and 61 s after the last message.

use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::task::Context;
use std::time::{Duration, Instant};

/// One request stream's idle limit. Dropping it stops the watch.
#[derive(Debug)]
pub(crate) struct IdleLimit {
    shared: Arc<Shared>,
}

/// What the stream and the watch thread share.
#[derive(Debug, Default)]
struct Shared {
    /// Messages the stream received.
    messages: AtomicU64,
    /// One more than the message count the limit tripped at; 0 while it has not.
    tripped_at: AtomicU64,
    /// The stream's task, while it waits for a message.
    waker: AtomicWaker,
}

impl IdleLimit {
    /// Starts watching a stream that allows `timeout` between messages, from now.
    pub(crate) fn start(timeout: Duration) -> Self {
        let shared = Arc::new(Shared::default());
        Watch::global().add(Watched {
            shared: Arc::downgrade(&shared),
            timeout,
            seen: 0,
            since: Instant::now(),
        });
        IdleLimit { shared }
    }

    /// Records that the stream's `messages`-th message arrived.
    pub(crate) fn message(&self, messages: u64) {
        self.shared.messages.store(messages, Ordering::Relaxed);
    }

    /// Whether the limit passed with no message since the stream's `messages`-th; if not,
    /// the task of `cx` is woken when it does.
    pub(crate) fn poll_tripped(&self, messages: u64, cx: &mut Context<'_>) -> bool {
        // Registered before the check, so a trip in between wakes the task.
        self.shared.waker.register(cx.waker());
        self.shared.tripped_at.load(Ordering::Acquire) == messages + 1
    }
}

/// A stream as the watch thread follows it.
struct Watched {
    shared: Weak<Shared>,
    timeout: Duration,
    /// The message count last seen, and when the watch saw it change.
    seen: u64,
    since: Instant,
}

impl Watched {
    /// Checks the stream at `now`; `false` once it is gone.
    fn check(&mut self, now: Instant) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let messages = shared.messages.load(Ordering::Relaxed);
        if messages != self.seen {
            (self.seen, self.since) = (messages, now);
        } else if now.saturating_duration_since(self.since) >= self.timeout {
            shared.tripped_at.store(messages + 1, Ordering::Release);
            shared.waker.wake();
            // Still watched: a message that came before the stream saw the trip makes the
            // stream ignore it (its count moved on), and the next quiet period counts anew.
            self.since = now;
        }
        true
    }
}

/// The process's watch: the streams it follows and the thread that scans them.
struct Watch {
    streams: Mutex<Vec<Watched>>,
    /// Signalled when a stream is added, so an idle thread starts scanning.
    added: Condvar,
}

impl Watch {
    /// The watch, its thread started on first use.
    fn global() -> &'static Watch {
        static WATCH: OnceLock<&'static Watch> = OnceLock::new();
        WATCH.get_or_init(|| {
            let watch: &'static Watch = Box::leak(Box::new(Watch {
                streams: Mutex::new(Vec::new()),
                added: Condvar::new(),
            }));
            // Without its thread the limit could not trip: failing to start one is as fatal
            // as tokio failing to start its runtime's.
            std::thread::Builder::new()
                .name("rust-stream-idle".into())
                .spawn(move || watch.run())
                .expect("starting the idle-limit thread");
            watch
        })
    }

    fn add(&self, watched: Watched) {
        let mut streams = self.lock();
        let sooner = streams.iter().all(|s| s.timeout > watched.timeout);
        streams.push(watched);
        if sooner {
            // The thread may sleep longer than this stream's period allows.
            self.added.notify_one();
        }
    }

    /// Scans the streams every period, sleeping while there are none.
    fn run(&self) {
        let mut streams = self.lock();
        loop {
            let now = Instant::now();
            streams.retain_mut(|watched| watched.check(now));
            let period = streams.iter().map(|s| period(s.timeout)).min();
            streams = match period {
                Some(period) => match self.added.wait_timeout(streams, period) {
                    Ok((streams, _)) => streams,
                    Err(poisoned) => poisoned.into_inner().0,
                },
                None => self
                    .added
                    .wait(streams)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            };
        }
    }

    /// The list; nothing panics while holding it, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Vec<Watched>> {
        self.streams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How often a stream with `timeout` is looked at: its limit may trip two periods late.
fn period(timeout: Duration) -> Duration {
    (timeout / 16).clamp(Duration::from_millis(1), Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::task::{Wake, Waker};

    #[derive(Default)]
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_limit_trips_after_a_quiet_period_and_not_while_messages_come() {
        let timeout = Duration::from_millis(80);
        let limit = IdleLimit::start(timeout);
        let woken = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&woken));
        let mut cx = Context::from_waker(&waker);
        let start = Instant::now();
        // Messages every 20 ms for 3 limits: never tripped.
        for n in 1..=12 {
            std::thread::sleep(Duration::from_millis(20));
            limit.message(n);
            assert!(!limit.poll_tripped(n, &mut cx), "tripped after message {n}");
        }
        let last = Instant::now();
        while !woken.0.load(Ordering::SeqCst) {
            assert!(start.elapsed() < Duration::from_secs(30), "never tripped");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(last.elapsed() >= timeout, "tripped early");
        assert!(limit.poll_tripped(12, &mut cx));
        // A message that came after the trip counts: the stream is not idle.
        limit.message(13);
        assert!(!limit.poll_tripped(13, &mut cx));
    }
}

//! A future that is polled only when it asked to be: for watchers (shutdown, idle
//! connection, a handler's abort) that share a task with busy work. A task polls every
//! future it selects over on each wake-up, and a watcher that is woken once per connection
//! would otherwise pay its poll (a lock, a waker comparison) on every message.

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Polls `inner` on the first poll and afterwards only once its own waker has fired.
#[derive(Debug)]
pub(crate) struct Gated<F> {
    inner: Pin<Box<F>>,
    signal: Arc<Signal>,
    /// The waker `inner` sees: it records the wake-up and wakes the task.
    waker: Waker,
    /// The task's waker last registered, and `Signal::taken` then: while both still hold,
    /// the registration stands and a poll skips renewing it.
    registered: Option<(Waker, u64)>,
}

/// Set by `inner`'s waker; read and cleared before `inner` is polled again.
#[derive(Debug, Default)]
struct Signal {
    fired: AtomicBool,
    task: AtomicWaker,
    /// How many times a wake-up took the task's registration, counted before it wakes the
    /// task: the task's next poll then sees that it must register again.
    taken: AtomicU64,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        if let Some(task) = self.task.take() {
            self.taken.fetch_add(1, Ordering::AcqRel);
            task.wake();
        }
    }
}

impl<F: Future> Gated<F> {
    pub(crate) fn new(inner: F) -> Self {
        let signal = Arc::new(Signal {
            fired: AtomicBool::new(true),
            ..Signal::default()
        });
        Gated {
            inner: Box::pin(inner),
            waker: Waker::from(Arc::clone(&signal)),
            signal,
            registered: None,
        }
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Registered before the flag is read, so a wake-up in between is not lost; renewed
        // only when the task's waker changed or a wake-up took it, as a task polls its
        // watchers on every wake-up and the registration would cost more than the check.
        let taken = this.signal.taken.load(Ordering::Acquire);
        let stands = this
            .registered
            .as_ref()
            .is_some_and(|(waker, at)| *at == taken && waker.will_wake(cx.waker()));
        if !stands {
            this.signal.task.register(cx.waker());
            this.registered = Some((cx.waker().clone(), taken));
        }
        if !this.signal.fired.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        this.inner
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its polls; ready once `ready` is set, waking through the last waker it saw.
    struct Probe {
        polls: Arc<AtomicUsize>,
        ready: Arc<AtomicBool>,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Future for Probe {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn the_inner_future_is_polled_once_and_then_only_after_its_wake_up() {
        let (polls, ready) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let inner_waker = Arc::new(std::sync::Mutex::new(None));
        let mut gated = Gated::new(Probe {
            polls: Arc::clone(&polls),
            ready: Arc::clone(&ready),
            waker: Arc::clone(&inner_waker),
        });
        let task_woken = Arc::new(Flag::default());
        let task_waker = Waker::from(Arc::clone(&task_woken));
        let mut cx = Context::from_waker(&task_waker);
        let mut gated = Pin::new(&mut gated);
        for _ in 0..5 {
            assert!(gated.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1, "polled without a wake-up");
        ready.store(true, Ordering::SeqCst);
        inner_waker.lock().unwrap().take().unwrap().wake();
        assert!(
            task_woken.0.load(Ordering::SeqCst),
            "the task was not woken"
        );
        assert!(gated.as_mut().poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wake_up_reaches_the_task_that_polled_last_and_every_later_one() {
        let ready = Arc::new(AtomicBool::new(false));
        let inner_waker = Arc::new(std::sync::Mutex::new(None));
        let mut gated = Gated::new(Probe {
            polls: Arc::new(AtomicUsize::new(0)),
            ready: Arc::clone(&ready),
            waker: Arc::clone(&inner_waker),
        });
        let mut gated = Pin::new(&mut gated);
        let (first, second) = (Arc::new(Flag::default()), Arc::new(Flag::default()));
        for task in [&first, &second] {
            let waker = Waker::from(Arc::clone(task));
            assert!(
                gated
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        // A spurious wake-up: the inner future stays pending and must be able to wake again.
        inner_waker.lock().unwrap().take().unwrap().wake();
        assert!(second.0.load(Ordering::SeqCst) && !first.0.load(Ordering::SeqCst));
        let third = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&third));
        for _ in 0..3 {
            assert!(
                gated
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        ready.store(true, Ordering::SeqCst);
        inner_waker.lock().unwrap().take().unwrap().wake();
        assert!(
            third.0.load(Ordering::SeqCst),
            "the later task was not woken"
        );
        assert!(
            gated
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        );
    }

    #[derive(Default)]
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

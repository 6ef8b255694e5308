//! What the server does when it runs out of file descriptors: it closes the connections
//! that cost it most and serve least, so that a new client gets in.
//!
//! Takes every connection the accept loop starts (registered with [`Registry::register`])
//! and the accept errors; gives [`Registry::shed`], which the accept loop calls when accept
//! fails with `EMFILE` or `ENFILE`. Without it, a flood of connections that never send the
//! HTTP/2 preface holds every descriptor until the handshake timeout closes them, and no new
//! client is served meanwhile. As the overload managers of front-line proxies do, it closes
//! the oldest connections still in their handshake first, then the ones idle the longest
//! (no open stream), and logs how many it closed.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The fraction of the live connections one shedding closes (at least one): enough that
/// the descriptors freed outlast the connections queued in the listen backlog ahead of a
/// new client, few enough that a short spike costs a handful of connections.
const SHED_DIVISOR: usize = 32;

/// How long shedding waits for the connections it closed to release their descriptors.
/// They close at their next poll; the bound only keeps a stuck one from stalling accepts.
const SHED_WAIT: Duration = Duration::from_secs(1);

/// `true` when `error` is an accept failing for lack of file descriptors (`EMFILE`, the
/// process's limit; `ENFILE`, the system's).
pub(crate) fn out_of_descriptors(error: &dyn std::any::Any) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        let code = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error);
        code.is_some_and(|code| {
            code == Errno::MFILE.raw_os_error() || code == Errno::NFILE.raw_os_error()
        })
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// The live connections of one server, in the order they were accepted.
#[derive(Debug)]
pub(crate) struct Registry {
    live: Mutex<BTreeMap<u64, Arc<Entry>>>,
    accepted: AtomicU64,
    /// What idle times are measured from.
    epoch: Instant,
    /// Connections closed by shedding since the server started, for the log.
    shed_total: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            live: Mutex::default(),
            accepted: AtomicU64::new(0),
            epoch: Instant::now(),
            shed_total: AtomicU64::new(0),
        }
    }
}

/// One live connection, as shedding sees it.
#[derive(Debug)]
pub(crate) struct Entry {
    handshaken: AtomicBool,
    activity: Arc<Activity>,
    /// Cancelled to close the connection.
    shed: CancellationToken,
    /// Cancelled once the connection has closed its socket.
    gone: CancellationToken,
}

impl Entry {
    /// Records that the client sent its HTTP/2 preface and first `SETTINGS`.
    pub(crate) fn handshake_done(&self) {
        self.handshaken.store(true, Ordering::Release);
    }

    /// The connection's open streams.
    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// Resolves when shedding chose this connection: it must close now.
    pub(crate) async fn shed(&self) {
        self.shed.cancelled().await;
    }
}

/// Keeps its connection registered; dropped after the connection's socket is closed.
#[derive(Debug)]
pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
    entry: Arc<Entry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.registry.live).remove(&self.id);
        self.entry.gone.cancel();
    }
}

/// How many connections one shedding closed, of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shed {
    /// Still in their handshake.
    pub(crate) handshaking: usize,
    /// With no open stream.
    pub(crate) idle: usize,
}

impl Registry {
    /// Registers a connection just accepted; keep the guard until its socket is closed.
    pub(crate) fn register(self: &Arc<Self>) -> (Registered, Arc<Entry>) {
        let id = self.accepted.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            handshaken: AtomicBool::new(false),
            activity: Arc::new(Activity::new(self.epoch)),
            shed: CancellationToken::new(),
            gone: CancellationToken::new(),
        });
        lock(&self.live).insert(id, Arc::clone(&entry));
        let registered = Registered {
            registry: Arc::clone(self),
            id,
            entry: Arc::clone(&entry),
        };
        (registered, entry)
    }

    /// Closes a share of the connections, the oldest still in their handshake first, then
    /// the longest idle, and waits (briefly) until their descriptors are free. Connections
    /// with open streams are never closed.
    pub(crate) async fn shed(&self) -> Shed {
        let (victims, shed) = self.choose();
        for victim in &victims {
            victim.shed.cancel();
        }
        let closed = async {
            for victim in &victims {
                victim.gone.cancelled().await;
            }
        };
        let _ = tokio::time::timeout(SHED_WAIT, closed).await;
        let total = self
            .shed_total
            .fetch_add((shed.handshaking + shed.idle) as u64, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::warn!(
            handshaking = shed.handshaking,
            idle = shed.idle,
            total = total + (shed.handshaking + shed.idle) as u64,
            "out of file descriptors: closed connections to accept new ones"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = total;
        shed
    }

    /// The connections to close: up to a share of the live ones, handshaking by age, then
    /// idle by how long.
    fn choose(&self) -> (Vec<Arc<Entry>>, Shed) {
        let live = lock(&self.live);
        let batch = (live.len() / SHED_DIVISOR).max(1);
        let mut victims: Vec<Arc<Entry>> = live
            .values()
            .filter(|entry| !entry.handshaken.load(Ordering::Acquire))
            .take(batch)
            .cloned()
            .collect();
        let handshaking = victims.len();
        let mut idle: Vec<(u64, &Arc<Entry>)> = live
            .values()
            .filter(|entry| entry.handshaken.load(Ordering::Acquire))
            .filter_map(|entry| entry.activity.idle_since().map(|since| (since, entry)))
            .collect();
        idle.sort_unstable_by_key(|(since, _)| *since);
        victims.extend(
            idle.into_iter()
                .take(batch - handshaking)
                .map(|(_, entry)| Arc::clone(entry)),
        );
        let shed = Shed {
            handshaking,
            idle: victims.len() - handshaking,
        };
        (victims, shed)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding it; a poisoned map is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many streams of one connection are open, and since when it has had none: for
/// [`Tuning::idle_timeout`](crate::Tuning::idle_timeout) and for shedding.
#[derive(Debug)]
pub(crate) struct Activity {
    open: AtomicUsize,
    /// Nanoseconds from `epoch` to when the count last dropped to zero.
    idle_since: AtomicU64,
    epoch: Instant,
    /// Notified when the count drops to zero.
    idle: Notify,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        let activity = Activity {
            open: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            epoch,
            idle: Notify::new(),
        };
        activity.mark_idle();
        activity
    }

    fn mark_idle(&self) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.idle_since.store(nanos, Ordering::Relaxed);
    }

    /// When the connection became idle (as an order, not a time), or `None` while it has
    /// an open stream.
    fn idle_since(&self) -> Option<u64> {
        (self.open.load(Ordering::Acquire) == 0).then(|| self.idle_since.load(Ordering::Relaxed))
    }

    /// Counts one stream until the returned guard is dropped.
    pub(crate) fn open(self: &Arc<Self>) -> Open {
        self.open.fetch_add(1, Ordering::AcqRel);
        Open(Arc::clone(self))
    }

    /// Resolves once the connection has had no open stream for `timeout`.
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        loop {
            let mut ended = pin!(self.idle.notified());
            // Registered before the count is read, so no stream's end is missed.
            ended.as_mut().enable();
            if self.open.load(Ordering::Acquire) == 0 {
                let expired = tokio::select! {
                    () = tokio::time::sleep(timeout) => true,
                    () = ended.as_mut() => false,
                };
                if !expired {
                    // A stream opened and ended meanwhile: the idle time starts over.
                    continue;
                }
                if self.open.load(Ordering::Acquire) == 0 {
                    return;
                }
            }
            ended.await;
        }
    }
}

/// One open stream of a connection.
#[derive(Debug)]
pub(crate) struct Open(Arc<Activity>);

impl Drop for Open {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.mark_idle();
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sheds_the_oldest_handshaking_then_the_longest_idle_never_the_busy() {
        let registry = Arc::new(Registry::default());
        let mut guards = Vec::new();
        let mut entries = Vec::new();
        for _ in 0..64 {
            let (guard, entry) = registry.register();
            guards.push(guard);
            entries.push(entry);
        }
        // 0..60 finished their handshake; 60..64 did not. 0..2 serve a stream each, 2..60
        // are idle, 10 the longest: the others served a stream since.
        for entry in &entries[..60] {
            entry.handshake_done();
        }
        let _busy: Vec<Open> = entries[..2].iter().map(|e| e.activity.open()).collect();
        for entry in &entries[2..60] {
            if !Arc::ptr_eq(entry, &entries[10]) {
                drop(entry.activity.open());
            }
        }
        let (victims, shed) = registry.choose();
        assert_eq!(
            shed,
            Shed {
                handshaking: 2,
                idle: 0
            },
            "64 / 32 = 2 at a time"
        );
        assert!(Arc::ptr_eq(&victims[0], &entries[60]));
        assert!(Arc::ptr_eq(&victims[1], &entries[61]));

        // A connection task drops its guard once its socket is closed.
        guards.drain(60..62);
        let (victims, shed) = registry.choose();
        assert_eq!(
            shed,
            Shed {
                handshaking: 1,
                idle: 0
            }
        );
        assert!(Arc::ptr_eq(&victims[0], &entries[62]));

        guards.drain(60..);
        let (victims, shed) = registry.choose();
        assert_eq!(
            shed,
            Shed {
                handshaking: 0,
                idle: 1
            }
        );
        assert!(Arc::ptr_eq(&victims[0], &entries[10]));
    }

    #[tokio::test]
    async fn shedding_waits_until_the_connections_are_gone() {
        let registry = Arc::new(Registry::default());
        let (guard, entry) = registry.register();
        let connection = tokio::spawn(async move {
            entry.shed().await;
            drop(guard);
        });
        let shed = registry.shed().await;
        assert_eq!(
            shed,
            Shed {
                handshaking: 1,
                idle: 0
            }
        );
        assert!(lock(&registry.live).is_empty());
        connection.await.unwrap();
    }
}

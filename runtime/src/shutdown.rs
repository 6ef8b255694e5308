//! Server-wide shutdown: the open calls a server must end when it stops.
//!
//! [`TunedRouter::serve_with_shutdown`](crate::TunedRouter::serve_with_shutdown) drives it.
//! Every call the server's connections carry is registered here by its adapter (through the
//! request's extensions); when shutdown starts, each one ends with
//! [`EndReason::ServerShutdown`], so its handler sees `is_active()` turn false and
//! `cancelled()` resolve, and a streaming body ends with `UNAVAILABLE`.

use crate::context::{CallContext, EndReason};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tonic::Status;

/// The open calls of one server; cloned into every request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown {
    inner: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    next_id: AtomicU64,
    /// `None` once shutdown started: a call arriving later ends at once.
    calls: Mutex<Option<HashMap<u64, CallContext>>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            inner: Arc::new(Registry {
                next_id: AtomicU64::new(0),
                calls: Mutex::new(Some(HashMap::new())),
            }),
        }
    }
}

impl Shutdown {
    /// Registers `ctx` until its call ends, or ends it now if shutdown has started.
    fn track(&self, ctx: &CallContext) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        match self.calls().as_mut() {
            Some(calls) => calls.insert(id, ctx.clone()),
            None => {
                ctx.end(EndReason::ServerShutdown);
                return;
            }
        };
        let registry = Arc::downgrade(&self.inner);
        ctx.on_end(move |_| {
            if let Some(registry) = registry.upgrade()
                && let Some(calls) = lock(&registry.calls).as_mut()
            {
                calls.remove(&id);
            }
        });
    }

    /// Ends every open call with [`EndReason::ServerShutdown`] and every later one at once.
    pub(crate) fn start(&self) {
        let calls = self.calls().take().unwrap_or_default();
        // Ended outside the lock: each end runs the call's callbacks, one of which removes
        // it from the (now absent) map.
        for ctx in calls.into_values() {
            ctx.end(EndReason::ServerShutdown);
        }
    }

    fn calls(&self) -> MutexGuard<'_, Option<HashMap<u64, CallContext>>> {
        lock(&self.inner.calls)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing runs under this lock that can panic halfway through an update.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers the call with the server's shutdown, when the request came through a server
/// that has one (tonic's own `Server` does not).
pub(crate) fn track(extensions: &http::Extensions, ctx: &CallContext) {
    if let Some(shutdown) = extensions.get::<Shutdown>() {
        shutdown.track(ctx);
    }
}

/// What the client of a call ended by shutdown receives.
pub(crate) fn unavailable() -> Status {
    Status::unavailable("the server is shutting down")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ends_open_calls_and_every_later_one() {
        let shutdown = Shutdown::default();
        let open = CallContext::detached("/t/Open");
        let finished = CallContext::detached("/t/Finished");
        shutdown.track(&open);
        shutdown.track(&finished);
        finished.end(EndReason::Finished);
        assert_eq!(shutdown.calls().as_ref().map(HashMap::len), Some(1));

        shutdown.start();
        assert_eq!(open.end_reason(), Some(EndReason::ServerShutdown));
        assert_eq!(finished.end_reason(), Some(EndReason::Finished));

        let late = CallContext::detached("/t/Late");
        shutdown.track(&late);
        assert_eq!(late.end_reason(), Some(EndReason::ServerShutdown));
    }
}

//! Response metadata a handler sets on its [`CallContext`](crate::CallContext): the initial
//! metadata (response headers) and the trailing metadata sent with the status.
//!
//! The state is shared by the call's context, its adapter and, when the server runs
//! [`CallLayer`](crate::CallLayer), the layer that writes the trailers: whichever sends the
//! status first takes the trailing metadata, so it goes out exactly once.

use http::HeaderMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::oneshot;
use tonic::Status;
use tonic::metadata::MetadataMap;

/// Setting response metadata that can no longer be sent: the initial metadata after the
/// response headers went out, trailing metadata after the status did.
///
/// grpcio raises in the same situations. As a `Status` (for `?` in a handler) it is
/// `INTERNAL`: it is the server's mistake, not the client's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LateMetadata {
    /// The response headers were already sent.
    HeadersSent,
    /// The call's status (and so its trailers) was already sent.
    TrailersSent,
}

impl fmt::Display for LateMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LateMetadata::HeadersSent => {
                f.write_str("initial metadata set after the response headers were sent")
            }
            LateMetadata::TrailersSent => {
                f.write_str("trailing metadata set after the call's status was sent")
            }
        }
    }
}

impl std::error::Error for LateMetadata {}

impl From<LateMetadata> for Status {
    fn from(err: LateMetadata) -> Status {
        Status::internal(err.to_string())
    }
}

/// One call's response metadata, shared by its context, its adapter and `CallLayer`.
#[derive(Debug)]
pub(crate) struct ResponseMetadata {
    headers: Mutex<Headers>,
    /// `None` once taken for the status.
    trailers: Mutex<Option<HeaderMap>>,
    /// The handler asked for an uncompressed response.
    uncompressed: AtomicBool,
    /// The headers went out: lets every response send check it without the lock.
    headers_sent: AtomicBool,
}

#[derive(Debug, Default)]
struct Headers {
    /// What the handler set (kept once sent, for tests of handlers).
    map: HeaderMap,
    sent: bool,
    /// Told when the headers go out (streaming calls, whose adapter waits for them).
    waiter: Option<oneshot::Sender<MetadataMap>>,
}

impl ResponseMetadata {
    pub(crate) fn new() -> Self {
        ResponseMetadata {
            headers: Mutex::new(Headers::default()),
            trailers: Mutex::new(Some(HeaderMap::new())),
            uncompressed: AtomicBool::new(false),
            headers_sent: AtomicBool::new(false),
        }
    }

    /// Adds `metadata` to the response headers.
    pub(crate) fn add_initial(&self, metadata: MetadataMap) -> Result<(), LateMetadata> {
        let mut headers = lock(&self.headers);
        if headers.sent {
            return Err(LateMetadata::HeadersSent);
        }
        append(&mut headers.map, metadata.into_headers());
        Ok(())
    }

    /// Asks for the response to be sent uncompressed.
    pub(crate) fn disable_compression(&self) {
        self.uncompressed.store(true, Ordering::Relaxed);
    }

    /// Whether the handler asked for an uncompressed response.
    pub(crate) fn uncompressed(&self) -> bool {
        self.uncompressed.load(Ordering::Relaxed)
    }

    /// Adds `metadata` to the trailers.
    pub(crate) fn add_trailing(&self, metadata: MetadataMap) -> Result<(), LateMetadata> {
        let mut trailers = lock(&self.trailers);
        let trailers = trailers.as_mut().ok_or(LateMetadata::TrailersSent)?;
        append(trailers, metadata.into_headers());
        Ok(())
    }

    /// Marks the headers sent and returns what they carry; empty if already sent.
    pub(crate) fn take_initial(&self) -> MetadataMap {
        let mut headers = lock(&self.headers);
        if headers.sent {
            return MetadataMap::new();
        }
        headers.sent = true;
        self.headers_sent.store(true, Ordering::Release);
        // Cloning an empty map allocates nothing: the common call pays no copy.
        let map = MetadataMap::from_headers(headers.map.clone());
        match headers.waiter.take() {
            // A streaming adapter waits: it sends them; the taker has nothing to add.
            Some(waiter) => {
                let _ = waiter.send(map);
                MetadataMap::new()
            }
            None => map,
        }
    }

    /// Sends the headers now if a streaming adapter waits for them and they are not sent yet.
    /// Cheap once they are: every response a streaming handler sends calls it.
    pub(crate) fn release_initial(&self) {
        if self.headers_sent.load(Ordering::Acquire) {
            return;
        }
        let waiting = {
            let headers = lock(&self.headers);
            !headers.sent && headers.waiter.is_some()
        };
        if waiting {
            self.take_initial();
        }
    }

    /// For a streaming adapter: resolves with the headers once the handler sends its first
    /// response, waits for the first time, or returns.
    pub(crate) fn wait_initial(&self) -> oneshot::Receiver<MetadataMap> {
        let (tx, rx) = oneshot::channel();
        lock(&self.headers).waiter = Some(tx);
        rx
    }

    /// Takes the trailing metadata, for whoever sends the status; later calls get nothing.
    pub(crate) fn take_trailing(&self) -> HeaderMap {
        lock(&self.trailers).take().unwrap_or_default()
    }

    /// What the handler set, for tests of handlers: the initial metadata (sent or not) and
    /// the trailers not yet taken.
    pub(crate) fn snapshot(&self) -> (MetadataMap, MetadataMap) {
        let initial = lock(&self.headers).map.clone();
        let trailing = lock(&self.trailers).clone().unwrap_or_default();
        (
            MetadataMap::from_headers(initial),
            MetadataMap::from_headers(trailing),
        )
    }
}

/// Merges the headers and trailers a handler set into `status` (for a status sent as a
/// trailers-only response or as a stream's end).
pub(crate) fn merge_into_status(status: &mut Status, extra: HeaderMap) {
    if !extra.is_empty() {
        append(status.metadata_mut().as_mut(), extra);
    }
}

/// Appends every entry of `from` to `to`, leaving out the names gRPC reserves (a handler
/// cannot override `grpc-status` or `content-type` through metadata).
pub(crate) fn append(to: &mut HeaderMap, from: HeaderMap) {
    let mut name = None;
    for (key, value) in from {
        // `HeaderMap`'s iterator names a key only at its first value.
        if key.is_some() {
            name = key;
        }
        let Some(name) = &name else { continue };
        if !is_reserved(name.as_str()) {
            to.append(name.clone(), value);
        }
    }
}

fn is_reserved(name: &str) -> bool {
    name.starts_with("grpc-") || name.starts_with(':') || matches!(name, "content-type" | "te")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn initial_metadata_is_refused_once_sent_and_trailers_once_taken() {
        let meta = ResponseMetadata::new();
        meta.add_initial(map(&[("a", "1"), ("a", "2")])).unwrap();
        meta.add_initial(map(&[("grpc-status", "0")])).unwrap();
        let sent = meta.take_initial();
        let values: Vec<_> = sent.get_all("a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert!(
            sent.get("grpc-status").is_none(),
            "reserved names are dropped"
        );
        assert_eq!(
            meta.add_initial(map(&[("b", "1")])),
            Err(LateMetadata::HeadersSent)
        );

        meta.add_trailing(map(&[("t", "x")])).unwrap();
        assert_eq!(meta.take_trailing().get("t").unwrap(), "x");
        assert!(meta.take_trailing().is_empty(), "taken once");
        assert_eq!(
            meta.add_trailing(map(&[("t", "y")])),
            Err(LateMetadata::TrailersSent)
        );
    }

    #[test]
    fn a_waiting_adapter_gets_the_headers_when_they_are_released() {
        let meta = ResponseMetadata::new();
        let mut waiting = meta.wait_initial();
        meta.add_initial(map(&[("x", "1")])).unwrap();
        assert!(waiting.try_recv().is_err());
        meta.release_initial();
        assert_eq!(waiting.try_recv().unwrap().get("x").unwrap(), "1");
        meta.release_initial();
        assert_eq!(
            meta.add_initial(map(&[("x", "2")])),
            Err(LateMetadata::HeadersSent)
        );
    }
}

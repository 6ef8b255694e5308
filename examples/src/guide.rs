//! The guide's server behaviour for each pattern, with counters that tests and the
//! server's log read to prove the guards work.

use crate::adapter::StreamingExamplesHandler;
use crate::pb;
use rust_stream::{CallContext, RequestStream, ResponseSink, Status};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// Size of each event's payload, in bytes.
pub const EVENT_PAYLOAD: usize = 64;

/// What happened to one `ListEvents` call, published when its producer stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// Events produced in total.
    pub produced: u64,
    /// Events produced when the server observed that the call ended.
    pub produced_when_ended: u64,
}

impl FeedReport {
    /// Events produced after the server observed the end of the call.
    pub fn produced_after_end(&self) -> u64 {
        self.produced.saturating_sub(self.produced_when_ended)
    }
}

/// Counters shared by every call of one server.
#[derive(Debug)]
pub struct Stats {
    /// `ListEvents` producers still running.
    pub feeds_running: watch::Sender<u64>,
    /// The last finished `ListEvents` call, replaced as each producer stops.
    pub last_feed: watch::Sender<Option<FeedReport>>,
    /// Uploads stored completely.
    pub uploads_stored: AtomicU64,
    /// `UploadChunks` calls still running (finished, failed or dropped ones are not).
    pub uploads_running: watch::Sender<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            feeds_running: watch::Sender::new(0),
            last_feed: watch::Sender::new(None),
            uploads_stored: AtomicU64::new(0),
            uploads_running: watch::Sender::new(0),
        }
    }
}

/// The guide's `StreamingExamples` server.
#[derive(Debug)]
pub struct GuideServer {
    store_dir: PathBuf,
    stats: Arc<Stats>,
    upload_seq: AtomicU64,
}

impl GuideServer {
    /// A server that stores uploads in `store_dir` (created if missing).
    pub fn new(store_dir: impl Into<PathBuf>) -> Self {
        GuideServer {
            store_dir: store_dir.into(),
            stats: Arc::new(Stats::default()),
            upload_seq: AtomicU64::new(0),
        }
    }

    /// The server's counters.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Where the `n`-th upload (from 1) is stored once complete.
    pub fn upload_path(&self, n: u64) -> PathBuf {
        self.store_dir.join(format!("upload-{n}.bin"))
    }
}

/// The demo user database: one user, id `42`.
fn find_user(id: &str) -> Option<pb::UserResponse> {
    (id == "42").then(|| pb::UserResponse {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
    })
}

/// Marks a feed as running for as long as it lives, and reports it when dropped: whether the
/// producer returned or was dropped by the runtime's guard, the report is published.
struct FeedGuard {
    stats: Arc<Stats>,
    produced: Arc<AtomicU64>,
    produced_when_ended: Arc<AtomicU64>,
}

impl Drop for FeedGuard {
    fn drop(&mut self) {
        let report = FeedReport {
            produced: self.produced.load(Ordering::SeqCst),
            produced_when_ended: self.produced_when_ended.load(Ordering::SeqCst),
        };
        // One line per call, logged here rather than from the watch channel, which keeps
        // only the latest report when calls end close together.
        tracing::info!(
            parent: None,
            "list_events ended: produced={} produced_after_end={}",
            report.produced,
            report.produced_after_end()
        );
        self.stats.last_feed.send_replace(Some(report));
        self.stats.feeds_running.send_modify(|n| *n -= 1);
    }
}

/// Counts an upload as running for as long as its handler lives, however it ends.
struct RunningUpload(Arc<Stats>);

impl Drop for RunningUpload {
    fn drop(&mut self) {
        self.0.uploads_running.send_modify(|n| *n -= 1);
    }
}

impl StreamingExamplesHandler for GuideServer {
    async fn get_user(
        &self,
        _ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        find_user(&request.id).ok_or_else(|| Status::not_found("User not found"))
    }

    /// Streams events as fast as the client takes them, for as long as it stays; `after`
    /// is an event id (events start after it) or anything else (events start at 1).
    async fn list_events(
        &self,
        ctx: CallContext,
        request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        let produced = Arc::new(AtomicU64::new(0));
        let produced_when_ended = Arc::new(AtomicU64::new(u64::MAX));
        self.stats.feeds_running.send_modify(|n| *n += 1);
        let _guard = FeedGuard {
            stats: self.stats(),
            produced: Arc::clone(&produced),
            produced_when_ended: Arc::clone(&produced_when_ended),
        };
        // Records the count at the moment the server learns the call ended.
        let (counted, when) = (Arc::clone(&produced), Arc::clone(&produced_when_ended));
        ctx.on_end(move |_| when.store(counted.load(Ordering::SeqCst), Ordering::SeqCst));

        let first = request.after.parse::<u64>().map_or(1, |after| after + 1);
        let mut id = first;
        // The guide: "if context.is_active(): yield ... else: return".
        while sink.is_active() {
            let event = pb::Event {
                id: id.to_string(),
                r#type: ["login", "click", "logout"][(id % 3) as usize].into(),
                data: vec![(id % 251) as u8; EVENT_PAYLOAD],
            };
            produced.fetch_add(1, Ordering::SeqCst);
            sink.send(event).await?;
            id += 1;
        }
        Ok(())
    }

    /// Stores the upload chunk by chunk (never the whole upload in memory) and answers with
    /// its size. The file appears complete or not at all: a failed, reset or abandoned
    /// upload leaves nothing behind.
    async fn upload_chunks(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        let n = self.upload_seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.stats.uploads_running.send_modify(|n| *n += 1);
        let _running = RunningUpload(self.stats());
        tokio::fs::create_dir_all(&self.store_dir)
            .await
            .map_err(|err| Status::internal(format!("storing the upload failed: {err}")))?;
        let stored = requests.store_to_file(self.upload_path(n)).await;
        if stored.is_ok() {
            self.stats.uploads_stored.fetch_add(1, Ordering::SeqCst);
        }
        stored.map(|bytes_received| pb::UploadResult { bytes_received })
    }

    /// Answers every message with `Delivered: <text>`, in order.
    async fn chat(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        while let Some(message) = requests.message().await? {
            let reply = pb::Message {
                text: format!("Delivered: {}", message.text),
                user: "server".into(),
            };
            sink.send(reply).await?;
        }
        Ok(())
    }
}

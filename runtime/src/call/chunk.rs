//! Chunk-shaped messages (one `bytes` field): the bridge between a request stream and
//! `AsyncRead`/`AsyncWrite` on the server. The client's side, uploads from any reader, is
//! `client::upload`.

use crate::call::inbound::RequestStream;
use bytes::{Buf, Bytes};
use futures_util::Stream;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tonic::Status;

/// The chunk size the guide uses for uploads: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// A message whose only payload is one `bytes` field, such as the guide's `Chunk`.
///
/// rust-stream's generator implements this for every such message, so uploads can be read
/// and written as byte streams.
pub trait Chunk: Sized {
    /// Builds a message carrying `data`.
    fn from_bytes(data: Bytes) -> Self;
    /// Takes the payload out of the message (without copying when the field is `Bytes`).
    fn into_bytes(self) -> Bytes;
}

impl<T: Chunk + prost::Message> RequestStream<T> {
    /// The payload of the next chunk, `Ok(None)` at the end of the upload.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Status> {
        Ok(self.message().await?.map(Chunk::into_bytes))
    }

    /// Copies the whole upload into `writer` chunk by chunk, never holding more than one
    /// chunk in memory, and flushes it. Returns the number of bytes written.
    ///
    /// A write error ends the call with `INTERNAL`; a limit ends it with the limit's status.
    pub async fn copy_to<W: AsyncWrite + Unpin>(&mut self, writer: &mut W) -> Result<u64, Status> {
        let mut written = 0u64;
        while let Some(data) = self.chunk().await? {
            writer.write_all(&data).await.map_err(write_failed)?;
            written += data.len() as u64;
        }
        writer.flush().await.map_err(write_failed)?;
        Ok(written)
    }

    /// Stores the whole upload at `path`, atomically: once this returns `Ok` the file is
    /// complete, byte-exact and synced to disk; if the upload fails, is abandoned by its
    /// client or this future is dropped before the upload completed, nothing is left at `path`
    /// or beside it.
    ///
    /// The bytes go to a temporary file next to `path` (`.<name>.<n>.partial`), written by
    /// one blocking thread that also syncs it and renames it into place, and removes it
    /// when the upload does not finish. Doing every file operation in that one thread
    /// orders the clean-up after the file's creation, however early the call is dropped.
    /// An existing file at `path` is replaced only by a complete upload.
    ///
    /// Returns the number of bytes stored. A file-system error ends the call with
    /// `INTERNAL`; a limit or an abandoned upload ends it with the stream's status.
    pub async fn store_to_file(&mut self, path: impl AsRef<Path>) -> Result<u64, Status> {
        let path = path.as_ref().to_path_buf();
        let temp = temp_path(&path).map_err(write_failed)?;
        let (tx, rx) = mpsc::channel::<Bytes>(STORE_QUEUE);
        let (commit_tx, commit_rx) = std::sync::mpsc::sync_channel::<()>(1);
        // Removes the temporary file at once if this future is dropped (a reset call is
        // dropped by the server), so nothing is left by the time the handler has ended.
        let abandon = AbandonGuard::new(&temp);
        let state = Arc::clone(&abandon.state);
        let writer = tokio::task::spawn_blocking(move || {
            store_blocking(&path, &temp, &state, rx, commit_rx)
        });
        let mut written = 0u64;
        let sent = async {
            while let Some(data) = self.chunk().await? {
                written += data.len() as u64;
                if tx.send(data).await.is_err() {
                    // The writer stopped on an error; its result says which.
                    return Ok(false);
                }
            }
            Ok::<bool, Status>(true)
        }
        .await;
        if matches!(sent, Ok(true)) {
            let _ = commit_tx.send(());
        }
        // Closing the queue tells the writer the upload is over, committed or not.
        drop((tx, commit_tx));
        let stored = writer
            .await
            .map_err(|err| Status::internal(format!("storing the upload failed: {err}")))?;
        abandon.disarm();
        sent?;
        stored.map_err(write_failed)?;
        Ok(written)
    }

    /// The upload as an [`AsyncRead`] (and [`AsyncBufRead`]), for code that consumes readers.
    /// A status from the stream surfaces as an `io::Error` wrapping it.
    pub fn into_reader(self) -> ChunkReader<T> {
        ChunkReader {
            stream: self,
            current: Bytes::new(),
        }
    }
}

/// Chunks queued between the call and the thread writing them: enough to keep the disk
/// busy while the next chunk arrives, little enough to bound memory per upload.
const STORE_QUEUE: usize = 4;

/// Distinguishes the temporary files of concurrent uploads to the same path.
static STORE_SEQ: AtomicU64 = AtomicU64::new(0);

/// Where an upload to `path` is written until it is complete: `.<name>.<pid>.<n>.partial`.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?
        .to_string_lossy();
    let seq = STORE_SEQ.fetch_add(1, Ordering::Relaxed);
    Ok(path.with_file_name(format!(".{name}.{}.{seq}.partial", std::process::id())))
}

/// Whether the call storing an upload was dropped. The writer holds the lock while it
/// creates or renames the temporary file, and the drop holds it while it removes the file,
/// so a dropped call never leaves a file behind, whichever side runs first.
type AbandonState = Arc<Mutex<bool>>;

/// Marks the upload abandoned and removes its temporary file when the storing future is
/// dropped before the writer finished.
struct AbandonGuard {
    temp: PathBuf,
    state: AbandonState,
    armed: bool,
}

impl AbandonGuard {
    fn new(temp: &Path) -> Self {
        Self {
            temp: temp.to_path_buf(),
            state: Arc::new(Mutex::new(false)),
            armed: true,
        }
    }

    /// The writer has finished and cleaned up after itself.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut abandoned = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *abandoned = true;
        // On Unix the writer may still hold the file open; its later writes go nowhere.
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// The blocking half of [`RequestStream::store_to_file`]: writes what arrives on `chunks`
/// to `temp`, and renames it to `path` only if `commit` was signalled before the queue
/// closed and the call was not abandoned. On every other way out `temp` is removed.
fn store_blocking(
    path: &Path,
    temp: &Path,
    abandoned: &AbandonState,
    mut chunks: mpsc::Receiver<Bytes>,
    commit: std::sync::mpsc::Receiver<()>,
) -> io::Result<()> {
    let lock = || abandoned.lock().unwrap_or_else(PoisonError::into_inner);
    let written = (|| {
        let mut file = {
            let abandoned = lock();
            if *abandoned {
                return Ok(false);
            }
            std::fs::File::create(temp)?
        };
        while let Some(data) = chunks.blocking_recv() {
            if *lock() {
                // The call is gone; the rest would be written for nothing.
                return Ok(false);
            }
            file.write_all(&data)?;
        }
        if commit.try_recv().is_err() {
            return Ok(false);
        }
        file.sync_all()?;
        drop(file);
        let abandoned = lock();
        if *abandoned {
            // The client saw its call fail, so the upload must not appear.
            return Ok(false);
        }
        std::fs::rename(temp, path)?;
        drop(abandoned);
        sync_parent(path);
        Ok(true)
    })();
    if !matches!(written, Ok(true)) {
        // Nothing, or only a failed create, to undo when the file never appeared.
        let _ = std::fs::remove_file(temp);
    }
    written.map(|_| ())
}

/// Makes the rename durable: the directory entry is what a crash could lose. Best effort,
/// as some file systems cannot sync a directory.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
}

fn write_failed(err: io::Error) -> Status {
    Status::internal(format!("storing the upload failed: {err}"))
}

/// An upload read as bytes; see [`RequestStream::into_reader`].
#[derive(Debug)]
pub struct ChunkReader<T> {
    stream: RequestStream<T>,
    current: Bytes,
}

impl<T> ChunkReader<T> {
    /// The request stream underneath, for its counters.
    pub fn get_ref(&self) -> &RequestStream<T> {
        &self.stream
    }
}

impl<T: Chunk + prost::Message> AsyncBufRead for ChunkReader<T> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.current.is_empty() {
            match ready!(Pin::new(&mut this.stream).poll_next(cx)) {
                Some(Ok(message)) => this.current = message.into_bytes(),
                Some(Err(status)) => return Poll::Ready(Err(io::Error::other(status))),
                None => break,
            }
        }
        Poll::Ready(Ok(&this.current))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().current.advance(amt);
    }
}

impl<T: Chunk + prost::Message> AsyncRead for ChunkReader<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

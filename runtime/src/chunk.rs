//! Chunk-shaped messages (one `bytes` field): the bridge between a request stream and
//! `AsyncRead`/`AsyncWrite` on the server, and chunked uploads from any reader on the client.

use crate::inbound::RequestStream;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
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

    /// The upload as an [`AsyncRead`] (and [`AsyncBufRead`]), for code that consumes readers.
    /// A status from the stream surfaces as an `io::Error` wrapping it.
    pub fn into_reader(self) -> ChunkReader<T> {
        ChunkReader {
            stream: self,
            current: Bytes::new(),
        }
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

/// Upload progress, reported after every chunk is handed to the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read from the source and queued for sending so far.
    pub bytes: u64,
    /// Chunks queued so far.
    pub chunks: u64,
}

/// Why a chunked upload failed.
#[derive(Debug)]
pub enum UploadError {
    /// Reading the source failed; the call was reset so the server keeps nothing partial.
    Read(io::Error),
    /// The server (or transport) ended the call with this status.
    Status(Status),
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadError::Read(err) => write!(f, "reading the upload source failed: {err}"),
            UploadError::Status(status) => write!(
                f,
                "the server ended the upload: {:?}: {}",
                status.code(),
                status.message()
            ),
        }
    }
}

impl std::error::Error for UploadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UploadError::Read(err) => Some(err),
            UploadError::Status(status) => Some(status),
        }
    }
}

impl From<Status> for UploadError {
    fn from(status: Status) -> Self {
        UploadError::Status(status)
    }
}

/// Streams `reader` as chunks of exactly `chunk_size` bytes (the last may be shorter) into
/// the call `start`, calling `progress` after each chunk, and returns the call's response.
///
/// If reading fails the request stream is never finished; the call is dropped instead,
/// which resets the stream, so the server sees a cancelled upload rather than a short one.
pub async fn upload<R, T, Res, F, Fut>(
    reader: R,
    chunk_size: usize,
    progress: impl FnMut(Progress) + Send + 'static,
    start: F,
) -> Result<Res, UploadError>
where
    R: AsyncRead + Send + Unpin + 'static,
    T: Chunk + Send + 'static,
    F: FnOnce(Pin<Box<dyn Stream<Item = T> + Send>>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
{
    let chunk_size = chunk_size.max(1);
    let (error_tx, mut error_rx) = tokio::sync::oneshot::channel::<io::Error>();
    let state = ChunkSource {
        reader,
        done: Progress {
            bytes: 0,
            chunks: 0,
        },
        error_tx: Some(error_tx),
        progress,
    };
    let chunks = futures_util::stream::unfold(state, move |mut state| async move {
        let mut buf = BytesMut::with_capacity(chunk_size);
        while buf.len() < chunk_size {
            let want = (chunk_size - buf.len()) as u64;
            match (&mut state.reader).take(want).read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) => {
                    if let Some(tx) = state.error_tx.take() {
                        let _ = tx.send(err);
                    }
                    // Never end the stream: the caller drops the call, which resets it.
                    std::future::pending::<()>().await;
                }
            }
        }
        if buf.is_empty() {
            return None;
        }
        state.done.bytes += buf.len() as u64;
        state.done.chunks += 1;
        (state.progress)(state.done);
        Some((T::from_bytes(buf.freeze()), state))
    });
    let call = start(Box::pin(chunks));
    tokio::select! {
        biased;
        Ok(err) = &mut error_rx => Err(UploadError::Read(err)),
        response = call => Ok(response?.into_inner()),
    }
}

/// What the upload stream carries from one chunk to the next.
struct ChunkSource<R, P> {
    reader: R,
    done: Progress,
    error_tx: Option<tokio::sync::oneshot::Sender<io::Error>>,
    progress: P,
}

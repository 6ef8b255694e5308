//! Chunked uploads from any `AsyncRead`: a client-streaming call fed 64 KiB chunks (or any
//! size) with progress, and an upload that fails cleanly when the source does.

use crate::call::chunk::Chunk;
use crate::client::direct::{BoxStream, DirectBody, Lent, lend_chunks};
use bytes::BytesMut;
use futures_util::Stream;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt};
use tonic::Status;

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
///
/// `start` receives the chunks as an [`UploadChunks`] stream. Called through a generated
/// client (a [`ClientChannel`](crate::ClientChannel)) without request compression, the
/// chunks are not encoded by tonic: each goes out as its gRPC and protobuf headers followed
/// by the payload's own `Bytes`, uncopied, byte for byte what prost would write. With
/// compression, or through another channel, they are encoded as any request stream.
pub async fn upload<R, T, Res, F, Fut>(
    reader: R,
    chunk_size: usize,
    progress: impl FnMut(Progress) + Send + 'static,
    start: F,
) -> Result<Res, UploadError>
where
    R: AsyncRead + Send + Unpin + 'static,
    T: Chunk + prost::Message + 'static,
    F: FnOnce(UploadChunks<T>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
{
    upload_stream(reader, chunk_size, progress, |chunks| {
        start(UploadChunks::new(chunks))
    })
    .await
}

/// [`upload`] for chunk types that are no prost message (the command-line client's, put in
/// a dynamic message): `start` gets the plain stream of chunks.
pub(crate) async fn upload_stream<R, T, Res, F, Fut>(
    reader: R,
    chunk_size: usize,
    progress: impl FnMut(Progress) + Send + 'static,
    start: F,
) -> Result<Res, UploadError>
where
    R: AsyncRead + Send + Unpin + 'static,
    T: Chunk + Send + 'static,
    F: FnOnce(BoxStream<T>) -> Fut,
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

/// The chunks of an upload read from its source, as [`upload`] hands them to the call.
///
/// A [`Stream`] of messages like any request stream; besides, it lets the generated
/// client's channel send them without tonic's encoder (see [`upload`]). Whichever reads
/// the source first, the stream or that direct body, has it to itself.
pub struct UploadChunks<T> {
    lent: Lent<T>,
    direct: DirectBody,
}

impl<T> std::fmt::Debug for UploadChunks<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadChunks").finish_non_exhaustive()
    }
}

impl<T: Chunk + prost::Message + 'static> UploadChunks<T> {
    fn new(chunks: BoxStream<T>) -> Self {
        let (lent, direct) = lend_chunks(chunks);
        UploadChunks { lent, direct }
    }
}

impl<T> UploadChunks<T> {
    /// What lets the channel send these chunks directly, for the request's extensions.
    pub(crate) fn direct_body(&self) -> DirectBody {
        self.direct.clone()
    }
}

impl<T> Stream for UploadChunks<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        Pin::new(&mut self.lent).poll_next(cx)
    }
}

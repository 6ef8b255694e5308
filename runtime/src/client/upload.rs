//! Chunked uploads from any `AsyncRead`: a client-streaming call fed 64 KiB chunks (or any
//! size) with progress, and an upload that fails cleanly when the source does.

use crate::call::chunk::Chunk;
use crate::call::compression::GRPC_ENCODING;
use crate::call::frames::{ChunkKey, encode_chunk};
use crate::call::handoff::Handoff;
use bytes::BytesMut;
use futures_util::Stream;
use http_body::Frame;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
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
    F: FnOnce(ChunkStream<T>) -> Fut,
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
    source: Handoff<ChunkStream<T>>,
    taken: Option<ChunkStream<T>>,
    handoff: UploadHandoff,
}

pub(crate) type ChunkStream<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

impl<T> std::fmt::Debug for UploadChunks<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadChunks").finish_non_exhaustive()
    }
}

impl<T: Chunk + prost::Message + 'static> UploadChunks<T> {
    fn new(chunks: ChunkStream<T>) -> Self {
        let source = Handoff::new(chunks);
        let handoff = UploadHandoff(Arc::new(source.clone()));
        UploadChunks {
            source,
            taken: None,
            handoff,
        }
    }
}

impl<T> UploadChunks<T> {
    /// What lets the channel send these chunks directly, for the request's extensions.
    pub(crate) fn handoff(&self) -> UploadHandoff {
        self.handoff.clone()
    }
}

impl<T> Stream for UploadChunks<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if this.taken.is_none() {
            match this.source.take() {
                Some(chunks) => this.taken = Some(chunks),
                // The direct body has the source: this stream carries nothing.
                None => return Poll::Ready(None),
            }
        }
        match this.taken.as_mut() {
            Some(chunks) => chunks.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

/// An upload's source, handed to the channel in the request's extensions so it can send
/// the chunks as a [`ChunkBody`] in place of tonic's encoded body.
#[derive(Clone)]
pub(crate) struct UploadHandoff(Arc<dyn TakeBody>);

/// The type-erased side of [`UploadHandoff`]: the channel knows no message type.
trait TakeBody: Send + Sync {
    fn take_body(&self) -> Option<tonic::body::Body>;
}

impl<T: Chunk + prost::Message + 'static> TakeBody for Handoff<ChunkStream<T>> {
    fn take_body(&self) -> Option<tonic::body::Body> {
        let chunks = self.take()?;
        Some(tonic::body::Body::new(ChunkBody {
            chunks,
            key: ChunkKey::of::<T>(),
            payload: None,
        }))
    }
}

/// Sends an upload directly when the request allows: replaces tonic's body with a
/// [`ChunkBody`] unless the request is compressed (then the chunks must go through tonic's
/// encoder, which compresses them).
pub(crate) fn send_directly(request: &mut http::Request<tonic::body::Body>) {
    let Some(handoff) = request.extensions_mut().remove::<UploadHandoff>() else {
        return;
    };
    if request.headers().contains_key(GRPC_ENCODING) {
        return;
    }
    if let Some(body) = handoff.0.take_body() {
        *request.body_mut() = body;
    }
}

/// A request body of chunks, each sent as two frames: its gRPC and protobuf headers, then
/// the payload's `Bytes` as they came from the source.
struct ChunkBody<T> {
    chunks: ChunkStream<T>,
    key: ChunkKey,
    /// The payload of the chunk whose headers went out last.
    payload: Option<bytes::Bytes>,
}

impl<T: Chunk + prost::Message> http_body::Body for ChunkBody<T> {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, Status>>> {
        let this = &mut *self;
        if let Some(payload) = this.payload.take() {
            return Poll::Ready(Some(Ok(Frame::data(payload))));
        }
        let Some(chunk) = ready!(this.chunks.as_mut().poll_next(cx)) else {
            return Poll::Ready(None);
        };
        let (head, payload) = encode_chunk(&this.key, chunk);
        this.payload = payload;
        Poll::Ready(Some(Ok(Frame::data(head))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::frames::tests::Piece;
    use bytes::Bytes;
    use http_body_util::BodyExt;

    /// A request as tonic hands it to the channel: its encoded body (here a marker) and the
    /// upload's handoff, which `open_call` adds.
    fn request(encoding: Option<&str>) -> (http::Request<tonic::body::Body>, UploadChunks<Piece>) {
        let chunks = UploadChunks::new(Box::pin(futures_util::stream::iter([Piece {
            data: Bytes::from_static(b"abc"),
        }])));
        let marker = http_body_util::Full::new(Bytes::from_static(b"tonic's body"));
        let mut request = http::Request::new(tonic::body::Body::new(
            marker.map_err(|never| match never {}),
        ));
        request.extensions_mut().insert(chunks.handoff());
        if let Some(encoding) = encoding {
            request
                .headers_mut()
                .insert("grpc-encoding", encoding.parse().unwrap());
        }
        (request, chunks)
    }

    async fn body_bytes(request: http::Request<tonic::body::Body>) -> Vec<u8> {
        let collected = request.into_body().collect().await.unwrap();
        collected.to_bytes().to_vec()
    }

    #[tokio::test]
    async fn an_uncompressed_upload_is_sent_as_headers_and_payload() {
        let (mut request, mut chunks) = request(None);
        send_directly(&mut request);
        assert_eq!(body_bytes(request).await, b"\0\0\0\0\x05\x0a\x03abc");
        // The body took the source: tonic's stream, dropped unread in practice, is empty.
        assert!(futures_util::StreamExt::next(&mut chunks).await.is_none());
    }

    #[tokio::test]
    async fn a_compressed_upload_keeps_tonics_body_and_stream() {
        let (mut request, mut chunks) = request(Some("gzip"));
        send_directly(&mut request);
        assert_eq!(body_bytes(request).await, b"tonic's body");
        let first = futures_util::StreamExt::next(&mut chunks).await;
        assert_eq!(first.map(|p| p.data), Some(Bytes::from_static(b"abc")));
    }
}

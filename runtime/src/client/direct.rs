//! Request bodies the channel sends without tonic's encoder.
//!
//! A generated client lends its request stream to the channel ([`lend`]): unless the
//! request is compressed, the channel takes the stream before tonic's encoder reads it and
//! sends a body that frames each message itself, an upload's chunks as their headers and
//! their payload's own `Bytes`, uncopied ([`ChunkBody`]), any other message as prost encodes
//! it ([`MessageBody`], which costs what tonic's encoder does). The bytes on the wire are
//! tonic's. A compressed request keeps tonic's path: tonic compresses it.
//!
//! The client's own message size limit is not applied to a body sent this way: a message
//! over the server's limit is answered `RESOURCE_EXHAUSTED` by the server, where a body
//! refusing it could only reset the call (tonic's encoder does, and the caller sees an
//! `INTERNAL` HTTP/2 error).

use crate::call::chunk::Chunk;
use crate::call::compression::GRPC_ENCODING;
use crate::call::frames::{ChunkKey, encode_chunk, put_message};
use crate::call::handoff::{Claim, Handoff};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http_body::Frame;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tonic::Status;
use tonic::body::Body;

/// A request stream, boxed so that the channel can take it without knowing its type.
pub(crate) type BoxStream<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// Most bytes of messages ready at once that one frame of a [`MessageBody`] carries (tonic's
/// encoder yields at the same size).
const BATCH_BYTES: usize = 32 * 1024;

/// A request stream as tonic receives it: it reads the source, unless the channel took the
/// source first (then it is empty). One lock a call, on the first poll; none a message.
pub(crate) struct Lent<T>(Claim<BoxStream<T>>);

impl<T> Stream for Lent<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.0.get() {
            Some(stream) => stream.as_mut().poll_next(cx),
            // The channel's body has the source.
            None => Poll::Ready(None),
        }
    }
}

/// What lets the channel take a lent stream and send it as a body of its own; it travels
/// in the request's extensions.
#[derive(Clone)]
pub(crate) struct DirectBody(Arc<dyn TakeBody>);

/// The type-erased side of [`DirectBody`]: the channel knows no message type.
trait TakeBody: Send + Sync {
    /// The stream as a body, if tonic has not started reading it.
    fn take_body(&self) -> Option<Body>;
}

/// A lent stream of upload chunks: sent as [`ChunkBody`].
struct ChunkSource<T>(Handoff<BoxStream<T>>);

/// A lent stream of any messages: sent as [`MessageBody`].
struct MessageSource<T>(Handoff<BoxStream<T>>);

impl<T: Chunk + prost::Message + 'static> TakeBody for ChunkSource<T> {
    fn take_body(&self) -> Option<Body> {
        Some(Body::new(ChunkBody {
            chunks: self.0.take()?,
            key: ChunkKey::of::<T>(),
            payload: None,
        }))
    }
}

impl<T: prost::Message + 'static> TakeBody for MessageSource<T> {
    fn take_body(&self) -> Option<Body> {
        Some(Body::new(MessageBody {
            messages: self.0.take()?,
            ended: false,
        }))
    }
}

/// Lends an upload's `chunks`: tonic's side, and the channel's.
pub(crate) fn lend_chunks<T: Chunk + prost::Message + 'static>(
    chunks: BoxStream<T>,
) -> (Lent<T>, DirectBody) {
    lend_as(chunks, |source| Arc::new(ChunkSource(source)))
}

/// Lends a request stream of `messages`: tonic's side, and the channel's.
pub(crate) fn lend<T: prost::Message + 'static>(messages: BoxStream<T>) -> (Lent<T>, DirectBody) {
    lend_as(messages, |source| Arc::new(MessageSource(source)))
}

/// Lends `stream` to tonic and to the channel, which frames it as `body` says.
fn lend_as<T>(
    stream: BoxStream<T>,
    body: impl FnOnce(Handoff<BoxStream<T>>) -> Arc<dyn TakeBody>,
) -> (Lent<T>, DirectBody) {
    let source = Handoff::new(stream);
    let direct = DirectBody(body(source.clone()));
    (Lent(Claim::new(source)), direct)
}

/// Sends a lent request stream directly when the request allows: replaces tonic's body
/// with the channel's own unless the request is compressed (then tonic's encoder must
/// compress it).
pub(crate) fn send_directly(request: &mut http::Request<Body>) {
    let Some(direct) = request.extensions_mut().remove::<DirectBody>() else {
        return;
    };
    if request.headers().contains_key(GRPC_ENCODING) {
        return;
    }
    if let Some(body) = direct.0.take_body() {
        *request.body_mut() = body;
    }
}

/// A request body of chunks, each sent as two frames: its gRPC and protobuf headers, then
/// the payload's `Bytes` as they came from the source.
struct ChunkBody<T> {
    chunks: BoxStream<T>,
    key: ChunkKey,
    /// The payload of the chunk whose headers went out last.
    payload: Option<Bytes>,
}

impl<T: Chunk + prost::Message> http_body::Body for ChunkBody<T> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if let Some(payload) = this.payload.take() {
            return Poll::Ready(Some(Ok(Frame::data(payload))));
        }
        let Some(chunk) = ready!(this.chunks.as_mut().poll_next(cx)) else {
            return Poll::Ready(None);
        };
        let (head, payload) = match encode_chunk(&this.key, chunk) {
            Ok(encoded) => encoded,
            Err(status) => return Poll::Ready(Some(Err(status))),
        };
        this.payload = payload;
        Poll::Ready(Some(Ok(Frame::data(head))))
    }
}

/// A request body of messages, each encoded by prost after its gRPC prefix; the messages
/// ready at one poll go out together in one frame (up to [`BATCH_BYTES`]).
struct MessageBody<T> {
    messages: BoxStream<T>,
    /// The stream has ended: it is not polled again.
    ended: bool,
}

impl<T: prost::Message> http_body::Body for MessageBody<T> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let mut batch = BytesMut::new();
        while !this.ended && batch.len() < BATCH_BYTES {
            match this.messages.as_mut().poll_next(cx) {
                Poll::Ready(Some(message)) => {
                    if let Err(status) = put_message(&mut batch, &message) {
                        return Poll::Ready(Some(Err(status)));
                    }
                }
                Poll::Ready(None) => this.ended = true,
                Poll::Pending if batch.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        if batch.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Frame::data(batch.freeze()))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::frames::tests::Piece;
    use futures_util::StreamExt;
    use http_body_util::BodyExt;
    use prost::Message as _;

    /// A request as tonic hands it to the channel: its encoded body (here a marker) and
    /// what lets the channel take the stream.
    fn tonic_request(direct: DirectBody, encoding: Option<&str>) -> http::Request<Body> {
        let marker = http_body_util::Full::new(Bytes::from_static(b"tonic's body"));
        let mut request = http::Request::new(Body::new(marker.map_err(|never| match never {})));
        request.extensions_mut().insert(direct);
        if let Some(encoding) = encoding {
            request
                .headers_mut()
                .insert("grpc-encoding", encoding.parse().unwrap());
        }
        request
    }

    async fn body_bytes(request: http::Request<Body>) -> Result<Vec<u8>, Status> {
        Ok(request.into_body().collect().await?.to_bytes().to_vec())
    }

    fn pieces(data: &[&'static [u8]]) -> BoxStream<Piece> {
        let pieces: Vec<Piece> = data
            .iter()
            .map(|data| Piece {
                data: Bytes::from_static(data),
            })
            .collect();
        Box::pin(futures_util::stream::iter(pieces))
    }

    /// tonic's encoding of `messages`: each message after its uncompressed prefix.
    fn as_tonic_encodes(messages: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        for data in messages {
            let encoded = Piece {
                data: Bytes::copy_from_slice(data),
            }
            .encode_to_vec();
            wire.push(0);
            wire.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
            wire.extend_from_slice(&encoded);
        }
        wire
    }

    #[tokio::test]
    async fn an_uncompressed_upload_is_sent_as_headers_and_payload() {
        let (mut lent, direct) = lend_chunks(pieces(&[b"abc"]));
        let mut request = tonic_request(direct, None);
        send_directly(&mut request);
        assert_eq!(
            body_bytes(request).await.unwrap(),
            b"\0\0\0\0\x05\x0a\x03abc"
        );
        // The body took the source: tonic's stream, dropped unread in practice, is empty.
        assert!(lent.next().await.is_none());
    }

    #[tokio::test]
    async fn a_compressed_request_keeps_tonics_body_and_stream() {
        let (mut lent, direct) = lend(pieces(&[b"abc"]));
        let mut request = tonic_request(direct, Some("gzip"));
        send_directly(&mut request);
        assert_eq!(body_bytes(request).await.unwrap(), b"tonic's body");
        let first = lent.next().await;
        assert_eq!(first.map(|p| p.data), Some(Bytes::from_static(b"abc")));
    }

    #[tokio::test]
    async fn messages_are_sent_as_tonic_encodes_them() {
        let messages: [&'static [u8]; 3] = [b"", b"abc", &[7; 300]];
        let (_, direct) = lend(pieces(&messages));
        let mut request = tonic_request(direct, None);
        send_directly(&mut request);
        assert_eq!(
            body_bytes(request).await.unwrap(),
            as_tonic_encodes(&messages)
        );
    }
}

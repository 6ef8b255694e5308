//! gRPC's length-prefixed messages read straight from HTTP/2 DATA frames and written
//! straight to them, without tonic's codec buffers.
//!
//! Server: [`CallLayer`](crate::CallLayer) lends the request body to tonic through a
//! [`BodyHandoff`], so a client-streaming adapter can take it back before tonic reads it and
//! decode the messages itself: a message that lies within one DATA frame is a slice of that
//! frame (prost's decoding of a `Bytes` field slices it again), and only a message spanning
//! frames is assembled. A request compressed with `grpc-encoding` stays on tonic's path.
//!
//! Client: [`encode_chunk`] frames a [`Chunk`] as the 5-byte gRPC prefix, the field's key
//! and length, and the payload's own `Bytes`, byte for byte what prost would write.

use crate::call::chunk::Chunk;
use crate::call::compression::GRPC_ENCODING;
use crate::call::handoff::{Claim, Handoff};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body::Body as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tonic::Status;

type Body = tonic::body::Body;

/// The 1-byte compression flag and the 4-byte length before every gRPC message.
pub(crate) const PREFIX: usize = 5;

/// Writes the prefix of an uncompressed message of `len` bytes.
pub(crate) fn put_prefix(buf: &mut impl BufMut, len: usize) {
    buf.put_u8(0);
    // Senders refuse a message too long for the prefix first (`fits_prefix`).
    buf.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
}

/// Whether a message of `len` encoded bytes can be sent: its prefix announces at most
/// 4 GiB. (A limit on what a peer accepts is the peer's to enforce: a server answers
/// `RESOURCE_EXHAUSTED`.)
pub(crate) fn fits_prefix(len: usize) -> Result<(), Status> {
    if u32::try_from(len).is_err() {
        return Err(Status::resource_exhausted(format!(
            "Cannot send a message of more than 4 GiB: found {len} bytes"
        )));
    }
    Ok(())
}

/// Appends `message` to `buf` as one uncompressed gRPC message, byte for byte what tonic's
/// encoder writes.
pub(crate) fn put_message<T: prost::Message>(
    buf: &mut BytesMut,
    message: &T,
) -> Result<(), Status> {
    let len = message.encoded_len();
    fits_prefix(len)?;
    buf.reserve(PREFIX + len);
    put_prefix(buf, len);
    message.encode_raw(buf);
    Ok(())
}

/// The largest request message the server accepts, which the connection puts in every
/// request's extensions for the direct decoder to enforce.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MessageLimit(pub(crate) usize);

/// A request body lent to tonic, which the call's adapter may take back before tonic reads
/// it. Lives in the request's extensions.
#[derive(Clone)]
pub(crate) struct BodyHandoff {
    slot: Handoff<Body>,
    limit: usize,
}

/// `body` lent through a [`BodyHandoff`] put in `extensions`, when the connection set a
/// [`MessageLimit`] (without one the direct decoder could not enforce the server's limit,
/// so the body goes to tonic as it is).
pub(crate) fn lend(body: Body, extensions: &mut http::Extensions) -> Body {
    let Some(&MessageLimit(limit)) = extensions.get::<MessageLimit>() else {
        return body;
    };
    let slot = Handoff::new(body);
    extensions.insert(BodyHandoff {
        slot: slot.clone(),
        limit,
    });
    Body::new(Lent(Claim::new(slot)))
}

/// The request's messages read directly from its DATA frames, when the request is not
/// compressed and its body was lent (see [`lend`]) and not yet read by tonic.
pub(crate) fn take_messages<M>(request: &mut tonic::Request<M>) -> Option<Messages> {
    if request.metadata().contains_key(GRPC_ENCODING) {
        return None;
    }
    let handoff = request.extensions_mut().remove::<BodyHandoff>()?;
    let body = handoff.slot.take()?;
    Some(Messages::new(body, handoff.limit))
}

/// tonic's view of a lent body: on its first poll it takes the body out of the slot (one
/// lock a call, none a frame); a body the adapter took back reads as empty.
struct Lent(Claim<Body>);

impl http_body::Body for Lent {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        match self.0.get() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }
}

/// Length-prefixed messages cut out of a request body's DATA frames.
pub(crate) struct Messages {
    body: Body,
    limit: usize,
    /// The unread rest of the last DATA frame.
    pending: Bytes,
    /// The prefix of the next message, when it spans frames.
    prefix: [u8; PREFIX],
    prefix_len: usize,
    /// The message being gathered, as slices of the frames it spans, and the bytes it
    /// still lacks.
    partial: Option<(Pieces, usize)>,
}

impl Messages {
    fn new(body: Body, limit: usize) -> Self {
        Messages {
            body,
            limit,
            pending: Bytes::new(),
            prefix: [0; PREFIX],
            prefix_len: 0,
            partial: None,
        }
    }

    /// The next message, `None` at the end of the body, or why the body is not a valid
    /// stream of messages.
    pub(crate) fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Pieces, Status>>> {
        loop {
            match self.cut() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(status) => return Poll::Ready(Some(Err(status))),
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    // `cut` consumed everything before asking for more.
                    Ok(data) => self.pending = data,
                    // Trailers end a request body.
                    Err(_) => return Poll::Ready(self.end()),
                },
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => return Poll::Ready(self.end()),
            }
        }
    }

    /// The end of the body: clean between messages, an error within one.
    fn end(&self) -> Option<Result<Pieces, Status>> {
        if self.prefix_len == 0 && self.partial.is_none() && self.pending.is_empty() {
            return None;
        }
        Some(Err(Status::internal(
            "the request stream ended in the middle of a message",
        )))
    }

    /// The next whole message from what has arrived, consuming `pending`; `None` when more
    /// frames are needed. Its bytes stay slices of the frames they came in.
    fn cut(&mut self) -> Result<Option<Pieces>, Status> {
        if self.partial.is_none() {
            let Some(len) = self.read_prefix()? else {
                return Ok(None);
            };
            self.partial = Some((Pieces::default(), len));
        }
        let Some((pieces, missing)) = self.partial.as_mut() else {
            return Ok(None);
        };
        let take = (*missing).min(self.pending.len());
        if take > 0 {
            pieces.push(self.pending.split_to(take));
            *missing -= take;
        }
        if *missing > 0 {
            return Ok(None);
        }
        Ok(self.partial.take().map(|(pieces, _)| pieces))
    }

    /// The length of the next message once its whole prefix has arrived, checked against
    /// the flag and the size limit.
    fn read_prefix(&mut self) -> Result<Option<usize>, Status> {
        let (flag, len) = if self.prefix_len == 0 && self.pending.len() >= PREFIX {
            (self.pending.get_u8(), self.pending.get_u32())
        } else {
            let take = (PREFIX - self.prefix_len).min(self.pending.len());
            self.pending
                .copy_to_slice(&mut self.prefix[self.prefix_len..self.prefix_len + take]);
            self.prefix_len += take;
            if self.prefix_len < PREFIX {
                return Ok(None);
            }
            self.prefix_len = 0;
            let mut prefix = &self.prefix[..];
            (prefix.get_u8(), prefix.get_u32())
        };
        check_prefix(flag, len, self.limit).map(Some)
    }
}

/// The message length a prefix announces, or the status tonic would give for it.
fn check_prefix(flag: u8, len: u32, limit: usize) -> Result<usize, Status> {
    match flag {
        0 => {}
        1 => {
            return Err(Status::internal(
                "protocol error: received message with compressed-flag but no grpc-encoding was specified",
            ));
        }
        other => {
            return Err(Status::internal(format!(
                "protocol error: received message with invalid compression flag: {other} (valid flags are 0 and 1)"
            )));
        }
    }
    let len = len as usize;
    if len > limit {
        return Err(Status::resource_exhausted(format!(
            "Error, decoded message length too large: found {len} bytes, the limit is: {limit} bytes"
        )));
    }
    Ok(len)
}

/// Decodes one message with prost from the frame slices it arrived in: a `bytes` field
/// mapped to `Bytes` that lies within one slice becomes a slice of it too.
pub(crate) fn decode<T: prost::Message + Default>(message: Pieces) -> Result<T, Status> {
    T::decode(message).map_err(|err| Status::internal(err.to_string()))
}

/// One message as the slices of the DATA frames it arrived in, read as one buffer.
///
/// `copy_to_bytes`, which prost calls for a `bytes` field, returns a slice of a frame when
/// the field lies within one and copies only when it spans frames.
#[derive(Debug, Default)]
pub(crate) struct Pieces {
    pieces: std::collections::VecDeque<Bytes>,
    remaining: usize,
}

impl Pieces {
    fn push(&mut self, piece: Bytes) {
        self.remaining += piece.len();
        self.pieces.push_back(piece);
    }
}

impl Buf for Pieces {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.pieces.front().map_or(&[], |piece| piece)
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.remaining, "advance past the end of a message");
        self.remaining -= cnt;
        while cnt > 0 {
            let Some(front) = self.pieces.front_mut() else {
                return;
            };
            let step = cnt.min(front.len());
            front.advance(step);
            cnt -= step;
            if front.is_empty() {
                self.pieces.pop_front();
            }
        }
        self.drop_empty();
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        self.drop_empty();
        match self.pieces.front_mut() {
            Some(front) if front.len() >= len => {
                let bytes = front.split_to(len);
                self.remaining -= len;
                self.drop_empty();
                bytes
            }
            // The field spans frames: assemble it (one copy).
            _ => {
                let mut bytes = BytesMut::with_capacity(len);
                bytes.put(self.take(len));
                bytes.freeze()
            }
        }
    }
}

impl Pieces {
    /// Keeps `chunk()` non-empty while bytes remain, as `Buf` requires.
    fn drop_empty(&mut self) {
        while self.pieces.front().is_some_and(Bytes::is_empty) {
            self.pieces.pop_front();
        }
    }
}

/// How a chunk type's payload field starts on the wire: its key (field number and wire
/// type), when the message encodes as that key, the payload's length and the payload and
/// nothing else. Found once per upload by encoding a one-byte probe.
#[derive(Clone, Debug)]
pub(crate) struct ChunkKey(Option<Bytes>);

impl ChunkKey {
    /// The key of `T`'s payload field, `None` inside when `T` does not encode as expected
    /// (every chunk then goes through prost).
    pub(crate) fn of<T: Chunk + prost::Message>() -> Self {
        let probe = T::from_bytes(Bytes::from_static(&[0xA5])).encode_to_vec();
        let key = match probe.as_slice() {
            [key @ .., 1, 0xA5] if !key.is_empty() => Some(Bytes::copy_from_slice(key)),
            _ => None,
        };
        ChunkKey(key)
    }
}

/// `chunk` as a gRPC message: its prefix and field header, and the payload as a second
/// piece when it can be sent as it is (`None` when the first piece holds the whole message,
/// as prost encoded it). Refused when a prefix cannot announce it.
pub(crate) fn encode_chunk<T: Chunk + prost::Message>(
    key: &ChunkKey,
    chunk: T,
) -> Result<(Bytes, Option<Bytes>), Status> {
    let len = chunk.encoded_len();
    fits_prefix(len)?;
    let payload = chunk.into_bytes();
    let n = payload.len();
    match &key.0 {
        Some(key)
            if n > 0 && len == key.len() + prost::encoding::encoded_len_varint(n as u64) + n =>
        {
            let mut head = BytesMut::with_capacity(PREFIX + len - n);
            put_prefix(&mut head, len);
            head.put_slice(key);
            prost::encoding::encode_varint(n as u64, &mut head);
            Ok((head.freeze(), Some(payload)))
        }
        // Anything else (an empty payload, a type with more to encode) goes through prost.
        _ => {
            let message = T::from_bytes(payload);
            let mut buf = BytesMut::with_capacity(PREFIX + len);
            put_prefix(&mut buf, len);
            // The buffer was sized for the message, so encoding cannot run out of room.
            let _ = message.encode(&mut buf);
            Ok((buf.freeze(), None))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use http_body::Frame;
    use prost::Message as _;
    use std::task::Waker;

    /// The guide's chunk: one `bytes` field, mapped to `Bytes` (the client's upload tests
    /// send it too).
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Piece {
        #[prost(bytes = "bytes", tag = "1")]
        pub(crate) data: Bytes,
    }

    /// A payload field with explicit presence: an empty payload is still written.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Present {
        #[prost(bytes = "bytes", optional, tag = "1")]
        data: Option<Bytes>,
    }

    /// A payload field whose key takes two bytes.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Far {
        #[prost(bytes = "vec", tag = "300")]
        data: Vec<u8>,
    }

    /// What a chunk-shaped message's payload field carries besides: an unknown field
    /// to a reader that only knows `Piece`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Wider {
        #[prost(bytes = "bytes", tag = "1")]
        data: Bytes,
        #[prost(uint32, tag = "2")]
        extra: u32,
    }

    impl Chunk for Piece {
        fn from_bytes(data: Bytes) -> Self {
            Piece { data }
        }
        fn into_bytes(self) -> Bytes {
            self.data
        }
    }

    impl Chunk for Present {
        fn from_bytes(data: Bytes) -> Self {
            Present { data: Some(data) }
        }
        fn into_bytes(self) -> Bytes {
            self.data.unwrap_or_default()
        }
    }

    impl Chunk for Far {
        fn from_bytes(data: Bytes) -> Self {
            Far { data: data.into() }
        }
        fn into_bytes(self) -> Bytes {
            self.data.into()
        }
    }

    const SIZES: [usize; 8] = [0, 1, 127, 128, 16383, 16384, 64 * 1024, (1 << 20) + 1];

    fn payload(n: usize) -> Bytes {
        (0..n)
            .map(|i| (i * 7 + 3) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    /// What tonic writes for `message`: the prefix, then prost's encoding.
    fn prost_wire<M: prost::Message>(message: &M) -> Vec<u8> {
        let body = message.encode_to_vec();
        let mut wire = vec![0];
        wire.extend_from_slice(&(body.len() as u32).to_be_bytes());
        wire.extend_from_slice(&body);
        wire
    }

    fn our_wire<T: Chunk + prost::Message>(data: &Bytes) -> (Vec<u8>, Option<Bytes>) {
        let (head, rest) = encode_chunk(&ChunkKey::of::<T>(), T::from_bytes(data.clone())).unwrap();
        let mut wire = head.to_vec();
        wire.extend_from_slice(rest.as_deref().unwrap_or_default());
        (wire, rest)
    }

    /// `shared`: the type holds the payload as `Bytes`, so it is sent as the caller's own
    /// bytes (a `Vec<u8>` field has copied it already when the message was built).
    fn assert_same_wire<T: Chunk + prost::Message>(shared: bool) {
        for n in SIZES {
            let data = payload(n);
            let (wire, rest) = our_wire::<T>(&data);
            assert_eq!(wire, prost_wire(&T::from_bytes(data.clone())), "{n} bytes");
            if n > 0 && shared {
                // The payload goes out as the caller's own bytes, not a copy.
                let rest = rest.expect("a payload sent by reference");
                assert_eq!(rest.as_ptr(), data.as_ptr(), "{n} bytes");
            }
        }
    }

    #[test]
    fn a_message_is_framed_as_tonic_frames_it_up_to_what_a_prefix_can_announce() {
        let message = Piece {
            data: Bytes::from_static(b"abc"),
        };
        let mut buf = BytesMut::new();
        put_message(&mut buf, &message).unwrap();
        assert_eq!(&buf[..], b"\0\0\0\0\x05\x0a\x03abc");
        assert!(fits_prefix(u32::MAX as usize).is_ok());
        let refused = fits_prefix(u32::MAX as usize + 1).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    }

    #[test]
    fn chunks_encode_as_prost_does() {
        assert_same_wire::<Piece>(true);
        assert_same_wire::<Present>(true);
        assert_same_wire::<Far>(false);
    }

    #[test]
    fn an_empty_payload_follows_the_fields_presence() {
        assert!(our_wire::<Piece>(&Bytes::new()).0 == [0, 0, 0, 0, 0]);
        assert!(our_wire::<Present>(&Bytes::new()).0 == [0, 0, 0, 0, 2, 0x0A, 0]);
    }

    fn body(frames: Vec<Bytes>) -> Body {
        let frames = frames.into_iter().map(|f| Ok::<_, Status>(Frame::data(f)));
        Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    }

    /// Every message of `frames`, up to the end or the first error.
    fn read_all(frames: Vec<Bytes>, limit: usize) -> Result<Vec<Pieces>, Status> {
        let mut messages = Messages::new(body(frames), limit);
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        loop {
            match messages.poll_message(&mut cx) {
                Poll::Ready(Some(Ok(message))) => out.push(message),
                Poll::Ready(Some(Err(status))) => return Err(status),
                Poll::Ready(None) => return Ok(out),
                Poll::Pending => unreachable!("the test body is always ready"),
            }
        }
    }

    /// `wire` cut into two frames at `at`.
    fn split(wire: &[u8], at: usize) -> Vec<Bytes> {
        vec![
            Bytes::copy_from_slice(&wire[..at]),
            Bytes::copy_from_slice(&wire[at..]),
        ]
    }

    fn decoded(messages: Vec<Pieces>) -> Vec<Piece> {
        messages
            .into_iter()
            .map(|m| decode::<Piece>(m).expect("a valid message"))
            .collect()
    }

    #[test]
    fn messages_decode_whatever_the_frame_boundaries() {
        // Two messages, the first with a two-byte length varint: cut at every position
        // splits the prefix, the key, the varint and the payload of each.
        let first = payload(200);
        let second = payload(3);
        let mut wire = prost_wire(&Piece::from_bytes(first.clone()));
        wire.extend(prost_wire(&Piece::from_bytes(Bytes::new())));
        wire.extend(prost_wire(&Piece::from_bytes(second.clone())));
        let expected = vec![
            Piece::from_bytes(first),
            Piece::default(),
            Piece::from_bytes(second),
        ];
        for at in 0..=wire.len() {
            let messages = read_all(split(&wire, at), usize::MAX).expect("valid frames");
            assert_eq!(decoded(messages), expected, "cut at {at}");
        }
        // And one byte a frame.
        let bytes: Vec<Bytes> = wire.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect();
        assert_eq!(decoded(read_all(bytes, usize::MAX).unwrap()), expected);
    }

    #[test]
    fn every_size_decodes_across_a_cut_near_each_part() {
        for n in SIZES {
            let data = payload(n);
            let wire = prost_wire(&Piece::from_bytes(data.clone()));
            let cuts = (0..12).chain([wire.len() / 2, wire.len() - 1, wire.len()]);
            for at in cuts.filter(|at| *at <= wire.len()) {
                let messages = read_all(split(&wire, at), usize::MAX).unwrap();
                assert_eq!(
                    decoded(messages),
                    [Piece::from_bytes(data.clone())],
                    "{n} at {at}"
                );
            }
        }
    }

    #[test]
    fn a_message_within_a_frame_is_a_slice_of_it() {
        let data = payload(64 * 1024);
        let frame = Bytes::from(prost_wire(&Piece::from_bytes(data)));
        let messages = read_all(vec![frame.clone()], usize::MAX).unwrap();
        let piece = decoded(messages).remove(0);
        let start = frame.as_ptr() as usize;
        let at = piece.data.as_ptr() as usize;
        assert!(at > start && at + piece.data.len() == start + frame.len());
    }

    /// Where the runtime's client puts the frame boundary: after the headers.
    #[test]
    fn a_payload_in_a_frame_of_its_own_is_a_slice_of_it() {
        let data = payload(64 * 1024);
        let (head, rest) = encode_chunk(&ChunkKey::of::<Piece>(), Piece::from_bytes(data)).unwrap();
        let rest = rest.unwrap();
        let frame = Bytes::copy_from_slice(&rest);
        let messages = read_all(vec![head, frame.clone()], usize::MAX).unwrap();
        let piece = decoded(messages).remove(0);
        assert_eq!(piece.data.as_ptr(), frame.as_ptr());
        assert_eq!(piece.data, rest);
    }

    #[test]
    fn unknown_and_repeated_fields_decode_as_prost_does() {
        let wider = Wider {
            data: payload(10),
            extra: 7,
        };
        let mut wire = prost_wire(&wider);
        // Field 1 twice: prost keeps the last.
        let mut twice = Piece::from_bytes(payload(4)).encode_to_vec();
        twice.extend(Piece::from_bytes(payload(6)).encode_to_vec());
        wire.push(0);
        wire.extend_from_slice(&(twice.len() as u32).to_be_bytes());
        wire.extend_from_slice(&twice);
        let messages = read_all(vec![Bytes::from(wire)], usize::MAX).unwrap();
        let expected: Vec<Piece> = vec![
            prost::Message::decode(&wider.encode_to_vec()[..]).unwrap(),
            prost::Message::decode(&twice[..]).unwrap(),
        ];
        assert_eq!(decoded(messages), expected);
        assert_eq!(expected[1].data, payload(6));
    }

    #[test]
    fn bad_prefixes_end_the_stream_with_tonics_statuses() {
        let wire = prost_wire(&Piece::from_bytes(payload(100)));
        let status = read_all(vec![Bytes::from(wire.clone())], 99).unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let mut compressed = wire.clone();
        compressed[0] = 1;
        let status = read_all(vec![Bytes::from(compressed)], usize::MAX).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("compressed-flag"));
        let status = read_all(vec![Bytes::copy_from_slice(&wire[..50])], usize::MAX).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
    }
}

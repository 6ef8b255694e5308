//! A tonic codec for messages known only by their descriptors.
//!
//! `DynamicMessage` implements `prost::Message`, so encoding needs nothing more; decoding
//! needs the response's `MessageDescriptor`, which the codec carries.

use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Encodes requests and decodes responses of the message type it was made for.
#[derive(Clone, Debug)]
pub(super) struct DynamicCodec {
    response: MessageDescriptor,
}

impl DynamicCodec {
    /// A codec whose responses are `response` messages.
    pub(super) fn new(response: MessageDescriptor) -> Self {
        DynamicCodec { response }
    }
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.response.clone())
    }
}

/// Encodes any dynamic message.
#[derive(Debug)]
pub(super) struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|err| Status::internal(format!("encoding the request failed: {err}")))
    }
}

/// Decodes messages of one type.
#[derive(Debug)]
pub(super) struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|err| {
                Status::internal(format!(
                    "the response is not a valid {}: {err}",
                    self.0.full_name()
                ))
            })
    }
}

//! Message compression per service and per method: which encodings a method accepts on
//! requests and which it uses for responses.

use tonic::Status;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataMap, MetadataValue};

/// The header naming a message's compression. A request carrying it keeps tonic's codec
/// path: the direct upload body and the frame decoder cannot compress or decompress.
pub(crate) const GRPC_ENCODING: &str = "grpc-encoding";

/// A message encoding gRPC names in `grpc-encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `gzip`, which every gRPC implementation offers.
    Gzip,
    /// `zstd`: faster at a similar ratio; grpc-go and grpc-java offer it, grpcio does not.
    Zstd,
}

impl Encoding {
    /// The name in `grpc-encoding` and `grpc-accept-encoding`.
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }

    /// tonic's name for it.
    pub const fn tonic(self) -> CompressionEncoding {
        match self {
            Encoding::Gzip => CompressionEncoding::Gzip,
            Encoding::Zstd => CompressionEncoding::Zstd,
        }
    }
}

/// The compression of one method (or, as the generated `COMPRESSION`, of a service).
///
/// | grpcio (Python) | rust-stream |
/// |---|---|
/// | `grpc.server(..., compression=grpc.Compression.Gzip)` | `(rust_stream.service) = { compression: "gzip" }`, or `compression=gzip` |
/// | `context.set_compression(grpc.Compression.NoCompression)` | `ctx.disable_compression()` |
/// | `stub.M(request, compression=grpc.Compression.Gzip)` | `client.with_compression(Encoding::Gzip)` |
///
/// A request compressed with an encoding the method does not accept answers `UNIMPLEMENTED`
/// with `grpc-accept-encoding` listing what it does accept, as the spec says. A response is
/// compressed only when the client accepts the encoding too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression {
    /// Encodings accepted on requests (`identity`, no compression, always is).
    pub accept: &'static [Encoding],
    /// Encoding of responses, if any.
    pub send: Option<Encoding>,
}

impl Compression {
    /// No compression either way.
    pub const NONE: Compression = Compression {
        accept: &[],
        send: None,
    };

    /// Checks a request's `grpc-encoding` against [`Compression::accept`].
    pub(crate) fn check_request(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Some(value) = metadata.get(GRPC_ENCODING) else {
            return Ok(());
        };
        let name = value.to_str().unwrap_or("");
        if name == "identity" || self.accept.iter().any(|e| e.name() == name) {
            return Ok(());
        }
        let mut status = Status::unimplemented(format!(
            "Content is compressed with `{}` which isn't supported",
            String::from_utf8_lossy(value.as_bytes())
        ));
        // As tonic says it for a service: the encodings, then `identity`.
        let mut names: Vec<&str> = self.accept.iter().map(|e| e.name()).collect();
        names.push("identity");
        let accepted = names.join(",");
        if let Ok(value) = MetadataValue::try_from(accepted) {
            status.metadata_mut().insert("grpc-accept-encoding", value);
        }
        Err(status)
    }
}

impl Default for Compression {
    fn default() -> Self {
        Self::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_in_an_encoding_not_accepted_gets_unimplemented_with_the_accepted_ones() {
        let gzip = Compression {
            accept: &[Encoding::Gzip, Encoding::Zstd],
            send: None,
        };
        let mut metadata = MetadataMap::new();
        assert!(gzip.check_request(&metadata).is_ok());
        for ok in ["identity", "gzip", "zstd"] {
            metadata.insert("grpc-encoding", ok.parse().unwrap());
            assert!(gzip.check_request(&metadata).is_ok(), "{ok}");
        }
        metadata.insert("grpc-encoding", "deflate".parse().unwrap());
        let status = gzip.check_request(&metadata).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert_eq!(
            status.metadata().get("grpc-accept-encoding").unwrap(),
            "gzip,zstd,identity"
        );
        metadata.insert("grpc-encoding", "gzip".parse().unwrap());
        let status = Compression::NONE.check_request(&metadata).unwrap_err();
        assert_eq!(
            status.metadata().get("grpc-accept-encoding").unwrap(),
            "identity"
        );
    }
}

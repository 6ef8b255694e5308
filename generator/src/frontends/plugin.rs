//! The protoc plugin protocol: a `CodeGeneratorRequest` in, a `CodeGeneratorResponse` out.

use crate::error::{DiagnosticKind, panic_message};
use crate::load::Descriptors;
use crate::options::Params;
use prost::Message;
use prost_types::compiler::{CodeGeneratorResponse, code_generator_response};

/// Features advertised to protoc: proto3 `optional` and editions, from
/// [`MINIMUM_EDITION`] to [`MAXIMUM_EDITION`] (editions files are lowered to the proto2 or
/// proto3 descriptor prost-build reads; see the README).
pub const SUPPORTED_FEATURES: u64 =
    code_generator_response::Feature::Proto3Optional as u64 | FEATURE_SUPPORTS_EDITIONS;

/// `CodeGeneratorResponse.Feature.FEATURE_SUPPORTS_EDITIONS` (not in prost-types 0.14).
const FEATURE_SUPPORTS_EDITIONS: u64 = 2;

/// The oldest edition the plugin reads: `EDITION_PROTO2` (`syntax = "proto2"`).
pub const MINIMUM_EDITION: i32 = crate::editions::MINIMUM_EDITION;

/// The newest edition the plugin reads: `EDITION_2024`.
pub const MAXIMUM_EDITION: i32 = crate::editions::MAXIMUM_EDITION;

/// `CodeGeneratorResponse.minimum_edition` and `maximum_edition`, which prost-types 0.14
/// lacks; encoded after the rest of the response (protobuf merges concatenated messages).
#[derive(Clone, PartialEq, Message)]
struct EditionRange {
    #[prost(int32, optional, tag = "3")]
    minimum_edition: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    maximum_edition: Option<i32>,
}

/// Answers one encoded request. `Err` only if the bytes are not a request at all (the
/// plugin then exits non-zero); problems with the protos or parameters go in the
/// response's `error`. prost-types has no field for the edition range protoc requires:
/// send [`respond_bytes`]'s encoding, which adds it.
pub fn respond(request: &[u8]) -> Result<CodeGeneratorResponse, crate::Error> {
    let (descriptors, parameter) = Descriptors::from_request(request)?;
    let mut response = CodeGeneratorResponse {
        supported_features: Some(SUPPORTED_FEATURES),
        ..CodeGeneratorResponse::default()
    };
    // The checks before prost-build make its panics unreachable; should one remain (or a
    // bug of ours), protoc still gets an answer naming it instead of a crashed plugin.
    let generated = std::panic::catch_unwind(|| {
        Params::parse(&parameter).and_then(|params| crate::generate(&descriptors, &params))
    })
    .unwrap_or_else(|panic| {
        Err(crate::Error::new(
            DiagnosticKind::Internal,
            format!(
                "internal error (a bug in rust-stream, please report it): {}",
                panic_message(panic.as_ref())
            ),
        ))
    });
    match generated {
        Ok(files) => {
            response.file = files
                .into_iter()
                .map(|file| code_generator_response::File {
                    name: Some(file.name),
                    content: Some(file.content),
                    ..Default::default()
                })
                .collect();
        }
        Err(err) => response.error = Some(format!("protoc-gen-rust-stream: {err}")),
    }
    Ok(response)
}

/// [`respond`], encoded, with the edition range protoc requires of a plugin that supports
/// editions ([`MINIMUM_EDITION`], [`MAXIMUM_EDITION`]).
pub fn respond_bytes(request: &[u8]) -> Result<Vec<u8>, crate::Error> {
    let mut bytes = respond(request)?.encode_to_vec();
    let range = EditionRange {
        minimum_edition: Some(MINIMUM_EDITION),
        maximum_edition: Some(MAXIMUM_EDITION),
    };
    bytes.extend(range.encode_to_vec());
    Ok(bytes)
}

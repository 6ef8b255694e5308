//! The protoc plugin protocol: a `CodeGeneratorRequest` in, a `CodeGeneratorResponse` out.

use crate::emit;
use crate::error::DiagnosticKind;
use crate::load::Descriptors;
use crate::options::Params;
use prost::Message;
use prost_types::compiler::{CodeGeneratorResponse, code_generator_response};

/// Features advertised to protoc: proto3 `optional` only. Editions are not advertised:
/// prost-types 0.14 cannot represent editions' `features`, so their semantics would be
/// silently wrong; protoc then rejects an editions file with a clear message.
pub const SUPPORTED_FEATURES: u64 = code_generator_response::Feature::Proto3Optional as u64;

/// Answers one encoded request. `Err` only if the bytes are not a request at all (the
/// plugin then exits non-zero); problems with the protos or parameters go in the
/// response's `error`.
pub fn respond(request: &[u8]) -> Result<CodeGeneratorResponse, crate::Error> {
    let (descriptors, parameter) = Descriptors::from_request(request)?;
    let mut response = CodeGeneratorResponse {
        supported_features: Some(SUPPORTED_FEATURES),
        ..CodeGeneratorResponse::default()
    };
    // The checks before prost-build make its panics unreachable; should one remain (or a
    // bug of ours), protoc still gets an answer naming it instead of a crashed plugin.
    let generated = std::panic::catch_unwind(|| {
        Params::parse(&parameter).and_then(|params| emit::generate(&descriptors, &params))
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

/// [`respond`], encoded.
pub fn respond_bytes(request: &[u8]) -> Result<Vec<u8>, crate::Error> {
    Ok(respond(request)?.encode_to_vec())
}

/// The text of a panic's payload (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

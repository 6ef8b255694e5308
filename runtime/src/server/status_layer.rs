//! A server layer that makes tonic's status codes match the gRPC spec where they differ.

use crate::server::wrapping::{ready_when_inner_is, wrapping_layer};
use futures_util::TryFutureExt;
use futures_util::future::MapOk;
use http::HeaderValue;
use tower_service::Service;

/// Rewrites tonic's answer to an oversized request message (`OUT_OF_RANGE`) into the
/// `RESOURCE_EXHAUSTED` the gRPC spec and every other implementation use.
///
/// tonic decodes a unary request before any handler code runs, so only a layer around the
/// service can correct the code; streaming requests are corrected by
/// [`RequestStream`](crate::RequestStream) itself. [`Tuning::server`](crate::Tuning::server)
/// installs this layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcStatusLayer;

/// The service [`GrpcStatusLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct GrpcStatusService<S> {
    inner: S,
}

wrapping_layer!(GrpcStatusLayer => GrpcStatusService);

type Remap<B> = fn(http::Response<B>) -> http::Response<B>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcStatusService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = MapOk<S::Future, Remap<ResBody>>;

    ready_when_inner_is!();

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        self.inner
            .call(request)
            .map_ok(remap_oversize as Remap<ResBody>)
    }
}

/// `grpc-status: 11` (OUT_OF_RANGE) with tonic's "message length too large" text, as sent
/// in a trailers-only response, becomes `8` (RESOURCE_EXHAUSTED).
fn remap_oversize<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let oversize = headers.get("grpc-status").is_some_and(|code| code == "11")
        && headers.get("grpc-message").is_some_and(|message| {
            let message = message.as_bytes();
            // tonic percent-encodes spaces in grpc-message.
            contains(message, b"message%20length%20too%20large")
                || contains(message, b"message length too large")
        });
    if oversize {
        headers.insert("grpc-status", HeaderValue::from_static("8"));
    }
    response
}

/// Above [`Tuning::max_metadata_size`](crate::Tuning::max_metadata_size), hyper's HTTP/2
/// layer answers a request's headers with a bare HTTP 431 before any gRPC code runs; the
/// runtime lets them through up to this size so that [`RequestGuard`] answers with a
/// `grpc-status` instead.
const HEADER_LIST_HARD_LIMIT: usize = 1024 * 1024;

/// The `SETTINGS_MAX_HEADER_LIST_SIZE` the server enforces for a metadata limit of `max`.
pub(crate) fn header_list_limit(max: usize) -> u32 {
    u32::try_from(max.max(HEADER_LIST_HARD_LIMIT)).unwrap_or(u32::MAX)
}

/// Checks a request before it reaches the routes, answering as the gRPC spec and grpc-go
/// do where tonic serves whatever arrives:
///
/// - a `content-type` other than `application/grpc` (alone or followed by `+` or `;`)
///   gets HTTP 415 with `grpc-status: 13` (INTERNAL);
/// - metadata (the header list, counted as HTTP/2 does: name + value + 32 bytes per
///   field) over the limit gets `grpc-status: 8` (RESOURCE_EXHAUSTED).
///
/// The runtime's server ([`TunedRouter`](crate::TunedRouter)) runs it on every request.
#[derive(Clone, Copy, Debug)]
pub struct RequestGuard {
    max_metadata_size: usize,
}

impl RequestGuard {
    /// A guard admitting metadata up to `max_metadata_size` bytes.
    pub fn new(max_metadata_size: usize) -> Self {
        RequestGuard { max_metadata_size }
    }

    /// The answer to give `request` instead of serving it, if it must be refused.
    pub fn check<B>(
        &self,
        request: &http::Request<B>,
    ) -> Option<http::Response<tonic::body::Body>> {
        let headers = request.headers();
        let grpc = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|value| is_grpc_content_type(value.as_bytes()));
        if !grpc {
            let mut response = tonic::Status::internal("invalid gRPC request content-type")
                .into_http::<tonic::body::Body>();
            *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Some(response);
        }
        let size: usize = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum();
        (size > self.max_metadata_size).then(|| {
            tonic::Status::resource_exhausted(format!(
                "request metadata is {size} bytes, over the server's limit of {} bytes",
                self.max_metadata_size
            ))
            .into_http()
        })
    }
}

/// `application/grpc`, `application/grpc+proto`, `application/grpc;charset=...`.
fn is_grpc_content_type(value: &[u8]) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    value.len() >= GRPC.len()
        && value[..GRPC.len()].eq_ignore_ascii_case(GRPC)
        && matches!(value.get(GRPC.len()), None | Some(b'+' | b';'))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_grpc_content_types_are_grpc() {
        for ok in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC;x=y",
        ] {
            assert!(is_grpc_content_type(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "application/json",
            "application/grpcx",
            "application/grp",
        ] {
            assert!(!is_grpc_content_type(bad.as_bytes()), "{bad}");
        }
    }

    fn response(status: &'static str, message: &'static str) -> http::Response<()> {
        let mut response = http::Response::new(());
        let headers = response.headers_mut();
        headers.insert("grpc-status", HeaderValue::from_static(status));
        headers.insert("grpc-message", HeaderValue::from_static(message));
        response
    }

    #[test]
    fn only_oversize_out_of_range_is_remapped() {
        let oversize = "Error,%20decoded%20message%20length%20too%20large:%20found%2010%20bytes";
        let cases = [
            (("11", oversize), "8"),
            (("11", "index out of range"), "11"),
            (("13", oversize), "13"),
            (("0", ""), "0"),
        ];
        for ((status, message), expected) in cases {
            let remapped = remap_oversize(response(status, message));
            assert_eq!(
                remapped.headers()["grpc-status"],
                expected,
                "{status} {message}"
            );
        }
    }
}

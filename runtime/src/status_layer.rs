//! A server layer that makes tonic's status codes match the gRPC spec where they differ.

use futures_util::TryFutureExt;
use futures_util::future::MapOk;
use http::HeaderValue;
use std::task::{Context, Poll};
use tower_layer::Layer;
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

impl<S> Layer<S> for GrpcStatusLayer {
    type Service = GrpcStatusService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcStatusService { inner }
    }
}

/// The service [`GrpcStatusLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct GrpcStatusService<S> {
    inner: S,
}

type Remap<B> = fn(http::Response<B>) -> http::Response<B>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcStatusService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = MapOk<S::Future, Remap<ResBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

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

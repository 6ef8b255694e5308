//! What generated clients call: requests with the client's timeout, a tonic client with the
//! stream client's settings, statuses normalised to the gRPC spec's codes, and unary calls
//! that keep headers and trailers apart. Reached through `codegen` only.

use super::streams::Reply;
use futures_util::Stream;
use tonic::{Code, Status};

/// A tonic request carrying `message`, with `timeout` (if any) sent as `grpc-timeout`.
pub fn request<T>(message: T, timeout: Option<std::time::Duration>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    request
}

/// `request` with `timeout` (if any) sent as `grpc-timeout`, unless the request already
/// carries a deadline of its own.
pub fn with_timeout<T>(
    mut request: tonic::Request<T>,
    timeout: Option<std::time::Duration>,
) -> tonic::Request<T> {
    if let Some(timeout) = timeout
        && !request
            .metadata()
            .contains_key(crate::call::deadline::GRPC_TIMEOUT_HEADER)
    {
        request.set_timeout(timeout);
    }
    request
}

/// `request` with the method's retry `policy` (if any) for a [`FleetChannel`] to apply;
/// other channels ignore it.
///
/// [`FleetChannel`]: crate::FleetChannel
pub fn with_retry<T>(
    mut request: tonic::Request<T>,
    policy: Option<crate::RetryPolicy>,
) -> tonic::Request<T> {
    if let Some(policy) = policy {
        request.extensions_mut().insert(policy);
    }
    request
}

/// A tonic client for `channel` with a stream client's settings: responses up to
/// `max_message_size`, requests compressed with `compression` (if any), and compressed
/// responses accepted in every encoding the runtime decodes.
///
/// Requests are not limited here: the server judges them and answers one over its limit
/// `RESOURCE_EXHAUSTED`, where tonic's encoder, refusing it, can only reset the call (the
/// caller would see `INTERNAL`). Most request streams skip that encoder anyway (see
/// `client::direct`).
pub fn client_grpc(
    channel: super::ClientChannel,
    max_message_size: usize,
    compression: Option<crate::Encoding>,
) -> tonic::client::Grpc<super::ClientChannel> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(max_message_size)
        .max_encoding_message_size(usize::MAX)
        .accept_compressed(crate::Encoding::Gzip.tonic())
        .accept_compressed(crate::Encoding::Zstd.tonic());
    if let Some(encoding) = compression {
        grpc = grpc.send_compressed(encoding.tonic());
    }
    grpc
}

/// Normalises a status a tonic client returned.
///
/// tonic's own client-side timer (from `Request::set_timeout` or `Endpoint::timeout`)
/// reports an expired deadline as `CANCELLED` "Timeout expired"; gRPC says
/// `DEADLINE_EXCEEDED`, which is what the server answers when its timer wins the race.
/// Likewise a message over the size limit, which tonic reports as `OUT_OF_RANGE`, becomes
/// `RESOURCE_EXHAUSTED` as in every other gRPC implementation. Generated client helpers pass
/// every error through this, so callers see the codes the gRPC spec names.
pub fn client_status(status: Status) -> Status {
    if status.code() == Code::Cancelled && status.message() == "Timeout expired" {
        Status::deadline_exceeded("deadline exceeded (client timer)")
    } else {
        crate::call::inbound::map_decode_status(status)
    }
}

/// Opens a call to `path` on `grpc`, in any pattern: `request` carries the request stream
/// (a single request as a stream of one) with the caller's metadata. Resolves with the
/// response headers and the response stream; every error passes through
/// [`client_status`]. The one path every generated client helper calls through.
pub async fn open_call<Req, Res, S>(
    mut grpc: tonic::client::Grpc<super::ClientChannel>,
    path: &'static str,
    mut request: tonic::Request<S>,
) -> Result<tonic::Response<tonic::Streaming<Res>>, Status>
where
    S: Stream<Item = Req> + Send + 'static,
    Req: prost::Message + Send + Sync + 'static,
    Res: prost::Message + Default + Send + Sync + 'static,
{
    grpc.ready()
        .await
        .map_err(|err| client_status(Status::unavailable(format!("the channel failed: {err}"))))?;
    // The request stream may skip tonic's encoder: the channel decides (`client::direct`).
    let stream: &mut dyn std::any::Any = request.get_mut();
    if let Some(chunks) = stream.downcast_mut::<super::upload::UploadChunks<Req>>() {
        let direct = chunks.direct_body();
        request.extensions_mut().insert(direct);
        return streaming(grpc, path, request).await;
    }
    let (metadata, mut extensions, stream) = request.into_parts();
    let (lent, direct) = super::direct::lend(Box::pin(stream));
    extensions.insert(direct);
    streaming(
        grpc,
        path,
        tonic::Request::from_parts(metadata, extensions, lent),
    )
    .await
}

/// The call itself, once `request` carries what lets the channel send it directly.
async fn streaming<Req, Res, S>(
    mut grpc: tonic::client::Grpc<super::ClientChannel>,
    path: &'static str,
    request: tonic::Request<S>,
) -> Result<tonic::Response<tonic::Streaming<Res>>, Status>
where
    S: Stream<Item = Req> + Send + 'static,
    Req: prost::Message + Send + Sync + 'static,
    Res: prost::Message + Default + Send + Sync + 'static,
{
    let codec = tonic_prost::ProstCodec::<Req, Res>::default();
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.streaming(request, path, codec)
        .await
        .map_err(client_status)
}

/// Performs a unary or client-streaming call to `path` on `grpc` and keeps the response's
/// headers and trailers apart ([`Reply`]). `request` carries the request stream (a unary
/// call's one message as a stream of one) with the caller's metadata.
pub async fn call_with_metadata<Req, Res, S>(
    grpc: tonic::client::Grpc<super::ClientChannel>,
    path: &'static str,
    request: tonic::Request<S>,
) -> Result<Reply<Res>, Status>
where
    S: Stream<Item = Req> + Send + 'static,
    Req: prost::Message + Send + Sync + 'static,
    Res: prost::Message + Default + Send + Sync + 'static,
{
    let (headers, mut responses, _) = open_call(grpc, path, request).await?.into_parts();
    let message = responses
        .message()
        .await
        .map_err(client_status)?
        .ok_or_else(|| Status::internal("the server sent no response message"))?;
    if responses.message().await.map_err(client_status)?.is_some() {
        return Err(Status::internal(
            "the server sent more than one response message",
        ));
    }
    let trailers = responses
        .trailers()
        .await
        .map_err(client_status)?
        .unwrap_or_default();
    Ok(Reply {
        headers,
        message,
        trailers,
    })
}

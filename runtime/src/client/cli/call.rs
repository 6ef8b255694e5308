//! Connecting, and one runner per streaming pattern, all through `tonic::client::Grpc`
//! with the [`DynamicCodec`].

use super::args::{Header, TlsArgs};
use super::catalog::Method;
use super::codec::DynamicCodec;
use super::error::CliError;
use super::input::{InputFailure, Requests};
use super::output::Printer;
use crate::{Chunk, ClientTls, Tuning, UploadError};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::uri::PathAndQuery;
use indicatif::{ProgressBar, ProgressStyle};
use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor, Value};
use std::io::IsTerminal;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;
use tonic::client::Grpc;
use tonic::transport::Channel;
use tonic::{Status, Streaming};

/// The connection's settings: the balanced preset, with room for large responses.
const TUNING: Tuning = Tuning {
    max_message_size: 64 * 1024 * 1024,
    ..Tuning::BALANCED
};

/// Connects to `addr` (`http://` assumed when it names no scheme), over TLS with `tls`'s
/// settings when it is `https://`.
pub(super) async fn connect(
    addr: &str,
    connect_timeout: Duration,
    tls: &TlsArgs,
) -> Result<Channel, CliError> {
    let uri = match addr.contains("://") {
        true => addr.to_owned(),
        false => format!("http://{addr}"),
    };
    let bad_addr = |err: tonic::transport::Error| {
        CliError::usage(format!("`{addr}` is not a server address: {}", chain(&err)))
    };
    let endpoint = match uri.starts_with("https://") {
        true => TUNING
            .tls_endpoint(uri.clone(), &client_tls(tls)?)
            .map_err(bad_addr)?,
        false if tls.given() => {
            return Err(CliError::usage(format!(
                "--ca, --cert and --tls-name need an https:// address, not `{addr}`"
            )));
        }
        false => TUNING.endpoint(uri.clone()).map_err(bad_addr)?,
    };
    let endpoint = endpoint.connect_timeout(connect_timeout);
    endpoint.connect().await.map_err(|err| CliError::Connect {
        addr: uri,
        reason: chain(&err),
    })
}

/// The TLS settings `args` give: the platform's roots unless `--ca`, and the client's
/// certificate with `--cert`.
fn client_tls(args: &TlsArgs) -> Result<ClientTls, CliError> {
    let mut tls = match &args.ca {
        Some(ca) => ClientTls::with_ca_pem(read(ca)?),
        None => ClientTls::native_roots(),
    };
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        tls = tls.identity(read(cert)?, read(key)?);
    }
    if let Some(name) = &args.tls_name {
        tls = tls.domain_name(name);
    }
    Ok(tls)
}

/// The bytes of `path`, or a usage error naming it.
fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|err| CliError::usage(format!("{}: {err}", path.display())))
}

/// `err` and its sources, joined by `: ` (tonic's transport errors say little alone).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// One call of one method on a connected channel.
pub(super) struct Call<'a> {
    grpc: Grpc<crate::ClientChannel>,
    method: &'a Method,
    path: PathAndQuery,
    headers: &'a [Header],
    timeout: Option<Duration>,
    printer: Printer,
    limit: Option<u64>,
}

impl<'a> Call<'a> {
    /// A call of `method` on `channel` sending `headers` and `timeout` (as `grpc-timeout`),
    /// printing responses with `printer`, stopping after `limit` responses if set.
    pub(super) fn new(
        channel: Channel,
        method: &'a Method,
        headers: &'a [Header],
        timeout: Option<Duration>,
        printer: Printer,
        limit: Option<u64>,
    ) -> Result<Self, CliError> {
        let path = PathAndQuery::try_from(format!("/{}", method.path())).map_err(|err| {
            CliError::usage(format!("`{}` is not a gRPC path: {err}", method.path()))
        })?;
        Ok(Call {
            grpc: crate::client::glue::client_grpc(channel.into(), TUNING.max_message_size, None),
            method,
            path,
            headers,
            timeout,
            printer,
            limit,
        })
    }

    /// Unary: prints the one response.
    pub(super) async fn unary(mut self, message: DynamicMessage) -> Result<(), CliError> {
        self.ready().await?;
        let request = self.request(message);
        let response = self
            .grpc
            .unary(request, self.path.clone(), self.codec())
            .await?;
        self.printer.print(response.get_ref())
    }

    /// Server streaming: prints each response as it arrives.
    pub(super) async fn server_streaming(
        mut self,
        message: DynamicMessage,
    ) -> Result<(), CliError> {
        self.ready().await?;
        let request = self.request(message);
        let response = self
            .grpc
            .server_streaming(request, self.path.clone(), self.codec())
            .await?;
        self.print_stream(response.into_inner(), InputFailure::never())
            .await
    }

    /// Client streaming: sends `requests`, prints the response; fails at once if reading
    /// the requests fails.
    pub(super) async fn client_streaming(mut self, requests: Requests) -> Result<(), CliError> {
        let Requests {
            stream,
            mut failure,
        } = requests;
        self.ready().await?;
        let request = self.request(stream);
        let (path, codec) = (self.path.clone(), self.codec());
        let response = tokio::select! {
            biased;
            error = failure.wait() => return Err(error),
            response = self.grpc.client_streaming(request, path, codec) => response?,
        };
        self.printer.print(response.get_ref())
    }

    /// Bidi: sends `requests` while printing each response as it arrives.
    pub(super) async fn bidi(mut self, requests: Requests) -> Result<(), CliError> {
        let Requests {
            stream,
            mut failure,
        } = requests;
        self.ready().await?;
        let request = self.request(stream);
        let (path, codec) = (self.path.clone(), self.codec());
        let response = tokio::select! {
            biased;
            error = failure.wait() => return Err(error),
            response = self.grpc.streaming(request, path, codec) => response?,
        };
        self.print_stream(response.into_inner(), failure).await
    }

    /// Client streaming of a chunk-shaped method: streams `file` in `chunk_size` pieces
    /// into `field`, with a progress bar on stderr when it is a terminal, and prints the
    /// response.
    pub(super) async fn upload(
        mut self,
        file: &Path,
        chunk_size: usize,
        field: FieldDescriptor,
    ) -> Result<(), CliError> {
        let unreadable =
            |err: std::io::Error| CliError::usage(format!("cannot read {}: {err}", file.display()));
        let source = tokio::fs::File::open(file).await.map_err(unreadable)?;
        let size = source.metadata().await.map_err(unreadable)?.len();
        self.ready().await?;
        let bar = progress_bar(size);
        let shown = bar.clone();
        let (path, codec, input) = (self.path.clone(), self.codec(), self.method.input());
        let grpc = &mut self.grpc;
        let headers = self.headers;
        let timeout = self.timeout;
        let uploaded = crate::client::upload::upload_stream(
            source,
            chunk_size,
            move |progress| shown.set_position(progress.bytes),
            |chunks: Pin<Box<dyn Stream<Item = RawChunk> + Send>>| {
                let messages = chunks.map(move |chunk| chunk.into_message(&input, &field));
                grpc.client_streaming(request(messages, headers, timeout), path, codec)
            },
        )
        .await;
        bar.finish_and_clear();
        match uploaded {
            Ok(response) => self.printer.print(&response),
            Err(UploadError::Read(err)) => Err(unreadable(err)),
            Err(UploadError::Status(status)) => Err(status.into()),
        }
    }

    /// Prints responses until the stream ends, `limit` is reached, or the input fails.
    async fn print_stream(
        &self,
        mut responses: Streaming<DynamicMessage>,
        mut failure: InputFailure,
    ) -> Result<(), CliError> {
        let mut printed = 0u64;
        while self.limit.is_none_or(|limit| printed < limit) {
            let next = tokio::select! {
                biased;
                error = failure.wait() => return Err(error),
                next = responses.message() => next?,
            };
            let Some(message) = next else { break };
            self.printer.print(&message)?;
            printed += 1;
        }
        Ok(())
    }

    /// Waits until the channel can take the call.
    async fn ready(&mut self) -> Result<(), CliError> {
        self.grpc.ready().await.map_err(|err| {
            CliError::from(Status::unavailable(format!(
                "the connection failed: {}",
                chain(err.as_ref())
            )))
        })
    }

    /// `message` with the call's headers and timeout.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        request(message, self.headers, self.timeout)
    }

    /// A codec for this method's responses.
    fn codec(&self) -> DynamicCodec {
        DynamicCodec::new(self.method.output())
    }
}

/// `message` with `headers` and `timeout` (as `grpc-timeout`).
fn request<T>(message: T, headers: &[Header], timeout: Option<Duration>) -> tonic::Request<T> {
    let mut request = crate::client::glue::request(message, timeout);
    for header in headers {
        header.append_to(request.metadata_mut());
    }
    request
}

/// A progress bar over `size` bytes on stderr, hidden when stderr is not a terminal.
fn progress_bar(size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(size).with_style(style)
}

/// One piece of an upload before it is put in the method's request message.
struct RawChunk(Bytes);

impl Chunk for RawChunk {
    fn from_bytes(data: Bytes) -> Self {
        RawChunk(data)
    }

    fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl RawChunk {
    /// A `message` request carrying this piece in `field`. `field` is `message`'s own
    /// `bytes` field ([`Method::chunk_field`]), so `set_field` cannot find a mismatch.
    fn into_message(self, message: &MessageDescriptor, field: &FieldDescriptor) -> DynamicMessage {
        let mut request = DynamicMessage::new(message.clone());
        request.set_field(field, Value::Bytes(self.0));
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tls(ca: Option<&str>) -> TlsArgs {
        TlsArgs {
            ca: ca.map(PathBuf::from),
            cert: None,
            key: None,
            tls_name: None,
        }
    }

    async fn refusal(addr: &str, args: &TlsArgs) -> String {
        match connect(addr, Duration::from_secs(5), args).await {
            Err(err @ CliError::Usage(_)) => err.to_string(),
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn tls_settings_on_a_plain_address_are_refused() {
        let message = refusal("127.0.0.1:9", &tls(Some("ca.pem"))).await;
        assert!(message.contains("need an https:// address"), "{message}");
    }

    #[tokio::test]
    async fn an_unreadable_ca_file_is_named() {
        let message = refusal("https://localhost:9", &tls(Some("no/such/ca.pem"))).await;
        assert!(message.contains("no/such/ca.pem"), "{message}");
    }
}

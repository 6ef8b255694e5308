//! [`StreamService`]: a handler served as its gRPC service, what `#[derive(StreamService)]`
//! implements.

use crate::server::tls::ServerTls;
use crate::tuning::Tuning;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tonic::body::Body;
use tonic::server::NamedService;
use tower_service::Service;

/// A handler type served as one gRPC service, with the configuration and tuning its proto
/// describes. `#[derive(StreamService)]` implements it (with the `derive` feature):
///
/// ```rust,ignore
/// #[derive(rust_stream::StreamService)]
/// #[stream_service(proto = "proto/streaming.proto")]
/// struct Guide;
///
/// impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {}
///
/// Guide.serve("127.0.0.1:50051").await?;
/// ```
pub trait StreamService: Sized + Send + Sync + 'static {
    /// The tonic service: the generated server around the generated adapter.
    type Server: Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static;

    /// The per-method guards; its `Default` is what the proto's options say.
    type Config: Default;

    /// The service's HTTP/2 tuning, from the proto's options and the generator's parameters.
    const TUNING: Tuning;

    /// The tonic service for a shared handler with `config`, with [`Self::TUNING`]'s
    /// message size limits.
    fn server_from_arc(this: Arc<Self>, config: Self::Config) -> Self::Server;

    /// The tonic service with the proto's configuration, for
    /// `Self::TUNING.server().add_service(..)` or any tonic server.
    fn into_server(self) -> Self::Server {
        Self::server_from_arc(Arc::new(self), Self::Config::default())
    }

    /// Serves this handler alone on `addr` with [`Self::TUNING`] until the process ends.
    fn serve(
        self,
        addr: impl tokio::net::ToSocketAddrs + Send + 'static,
    ) -> impl Future<Output = io::Result<()>> + Send {
        let server = self.into_server();
        async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            Self::TUNING
                .server()
                .add_service(server)
                .serve(listener)
                .await
        }
    }

    /// Serves this handler alone on `addr` over TLS with `tls` (see
    /// [`TunedServer::tls`](crate::TunedServer::tls)) and [`Self::TUNING`] until the
    /// process ends. For an auth hook as well, build the server yourself:
    /// `Self::TUNING.server().tls(tls).auth(auth).add_service(self.into_server())`.
    fn serve_tls(
        self,
        addr: impl tokio::net::ToSocketAddrs + Send + 'static,
        tls: ServerTls,
    ) -> impl Future<Output = io::Result<()>> + Send {
        async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            self.serve_tls_with_shutdown(listener, tls, std::future::pending(), Duration::ZERO)
                .await
        }
    }

    /// [`serve_tls`](Self::serve_tls) on `listener` (say, one bound to port 0 whose
    /// address the caller reads first) until `signal`, then shuts down as
    /// [`serve_with_shutdown`](Self::serve_with_shutdown) does.
    fn serve_tls_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        tls: ServerTls,
        signal: impl Future<Output = ()> + Send,
        grace: Duration,
    ) -> impl Future<Output = io::Result<()>> + Send {
        let server = self.into_server();
        Self::TUNING
            .server()
            .tls(tls)
            .add_service(server)
            .serve_with_shutdown(listener, signal, grace)
    }

    /// Serves this handler alone on `listener` with [`Self::TUNING`] until `signal`, then
    /// shuts down as [`TunedRouter::serve_with_shutdown`](crate::TunedRouter::serve_with_shutdown)
    /// does, giving calls that answer once `grace` to finish.
    fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send,
        grace: Duration,
    ) -> impl Future<Output = io::Result<()>> + Send {
        let server = self.into_server();
        Self::TUNING
            .server()
            .add_service(server)
            .serve_with_shutdown(listener, signal, grace)
    }
}

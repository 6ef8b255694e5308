//! What putting the server on a network takes, each part off until a flag or variable turns
//! it on: TLS (`--tls-cert`, `--tls-key`) and mTLS (`--client-ca`), a bearer token every
//! call must carry (`AUTH_TOKEN`), and gRFC A66's metrics in Prometheus's text format
//! (`--metrics-addr`).

use http_body_util::Full;
use hyper::body::Bytes;
use rust_stream::{Auth, Denied, Identity, Metrics, ServerTls, TunedRouter};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The variable holding the bearer token; unset, calls need no token.
pub const AUTH_TOKEN_VAR: &str = "AUTH_TOKEN";

/// The production flags of the server's command line.
#[derive(clap::Args, Clone, Debug)]
pub struct Flags {
    /// Serve TLS with this PEM certificate chain (own certificate first); needs --tls-key.
    /// SIGHUP reloads it and the key for new connections.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by these PEM CA certificates (mTLS); needs TLS.
    #[arg(long, requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Serve Prometheus metrics (gRFC A66's instruments) at http://ADDR/metrics.
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
}

/// Who called, as the auth hook established it: handlers read it with
/// `ctx.identity::<Caller>()`.
#[derive(Debug)]
pub struct Caller {
    /// How the caller proved who it is.
    pub proof: &'static str,
}

/// `router` with what `flags` and the environment turn on; the TLS settings are returned
/// too, for reloading. Metrics need [`serve_metrics`] to be read.
pub fn apply(
    router: TunedRouter,
    flags: &Flags,
    metrics: Option<&Metrics>,
) -> Result<(TunedRouter, Option<ServerTls>), Box<dyn std::error::Error>> {
    let mut router = router;
    if let Some(token) = std::env::var_os(AUTH_TOKEN_VAR) {
        let token = token
            .into_string()
            .map_err(|_| format!("{AUTH_TOKEN_VAR} is not UTF-8"))?;
        router = router.auth(bearer_auth(token));
    }
    if let Some(metrics) = metrics {
        router = router.with_metrics(metrics);
    }
    let tls = server_tls(flags)?;
    if let Some(tls) = &tls {
        router = router.tls(tls.clone());
    }
    Ok((router, tls))
}

/// The server's certificate from `--tls-cert` and `--tls-key`, requiring client
/// certificates with `--client-ca`.
fn server_tls(flags: &Flags) -> Result<Option<ServerTls>, Box<dyn std::error::Error>> {
    let (Some(cert), Some(key)) = (&flags.tls_cert, &flags.tls_key) else {
        return Ok(None);
    };
    let mut tls = ServerTls::from_pem_files(cert, key)?;
    if let Some(ca) = &flags.client_ca {
        let ca = std::fs::read(ca).map_err(|err| format!("{}: {err}", ca.display()))?;
        tls = tls.require_client_certs(&ca)?;
    }
    Ok(Some(tls))
}

/// Reloads the certificate and key on every SIGHUP, for new connections; a file that does
/// not parse is logged and the old certificate kept.
pub async fn reload_on_sighup(tls: ServerTls, flags: Flags) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Some(cert), Some(key)) = (flags.tls_cert, flags.tls_key) else {
            return;
        };
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match tls.reload_pem_files(&cert, &key) {
                Ok(()) => tracing::info!("reloaded the TLS certificate"),
                Err(err) => tracing::error!(%err, "kept the old TLS certificate"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (tls, flags);
}

/// Admits calls that carry `authorization: Bearer <token>`; health and reflection stay
/// open to probes and tools.
fn bearer_auth(token: String) -> Auth {
    let expected = format!("Bearer {token}");
    Auth::new(move |call| {
        let given = call
            .metadata()
            .get("authorization")
            .map(|value| value.as_bytes().to_vec());
        let admitted = given
            .as_deref()
            .map(|given| same(given, expected.as_bytes()));
        async move {
            match admitted {
                Some(true) => Ok(Identity::new(Caller {
                    proof: "bearer token",
                })),
                Some(false) => Err(Denied::unauthenticated("invalid bearer token")),
                None => Err(Denied::unauthenticated("missing bearer token")),
            }
        }
    })
    .exempt_health_and_reflection()
}

/// Whether `a` equals `b`, in a time that does not depend on where they differ, so the
/// token cannot be guessed byte by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// What the metrics page reads: the registry the instruments record into, and the meter
/// provider that feeds it (dropping the provider would shut the instruments down).
pub struct MetricsPage {
    registry: prometheus::Registry,
    _provider: opentelemetry_sdk::metrics::SdkMeterProvider,
}

/// gRFC A66's instruments, recorded into a Prometheus registry the page reads.
pub fn prometheus_metrics() -> Result<(Metrics, MetricsPage), Box<dyn std::error::Error>> {
    let registry = prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()?;
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(exporter)
        .build();
    let metrics = Metrics::new(&provider);
    Ok((
        metrics,
        MetricsPage {
            registry,
            _provider: provider,
        },
    ))
}

/// Answers every HTTP/1 request on `listener` with `page`'s metrics in Prometheus's text
/// format, until the process exits.
pub async fn serve_metrics(listener: tokio::net::TcpListener, page: MetricsPage) {
    let page = std::sync::Arc::new(page);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, most likely: let connections close before trying again.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let page = std::sync::Arc::clone(&page);
        let service = hyper::service::service_fn(move |_request| {
            let body = encode(&page.registry);
            async move { Ok::<_, std::convert::Infallible>(body) }
        });
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// `registry`'s metrics as a Prometheus text response.
fn encode(registry: &prometheus::Registry) -> hyper::Response<Full<Bytes>> {
    use prometheus::Encoder;
    let encoder = prometheus::TextEncoder::new();
    let mut text = Vec::new();
    let status = match encoder.encode(&registry.gather(), &mut text) {
        Ok(()) => hyper::StatusCode::OK,
        Err(_) => hyper::StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

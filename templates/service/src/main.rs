//! Serves every service of `proto/` with rust-stream's tuned server, plus the standard gRPC
//! health (`grpc.health.v1.Health`) and reflection (v1 and v1alpha) services.
//!
//! Prints `listening on <addr>` once bound (`--addr 127.0.0.1:0` picks a free port) and logs
//! through `tracing` to stdout, filtered by `RUST_LOG` (default `info`), a span per call with
//! how it ended. SIGINT or SIGTERM shuts it down: health turns NOT_SERVING, new calls are
//! refused, open streams end with `UNAVAILABLE`, other calls get `--shutdown-grace` seconds
//! to finish, then the process exits.
//!
//! Off until turned on (see `production.rs`): TLS with `--tls-cert` and `--tls-key` (SIGHUP
//! reloads them), mTLS with `--client-ca`, a bearer token every call but health and
//! reflection must carry with `AUTH_TOKEN`, and Prometheus metrics with `--metrics-addr`
//! (printed as `metrics on <addr>` once bound).

use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;
use tonic_health::ServingStatus;

use {{crate_name}}::handlers;
use {{crate_name}}::pb::{FILE_DESCRIPTOR_SET, SERVICES};
use {{crate_name}}::production;

#[derive(Parser)]
#[command(about = "Serve the gRPC services of proto/")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "{{listen_addr}}")]
    addr: SocketAddr,
    /// On SIGINT or SIGTERM, how long calls that answer once get to finish, in seconds
    /// (open streams end at once).
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    shutdown_grace: Duration,
    #[command(flatten)]
    production: production::Flags,
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("not a number of seconds: {value}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    init_logging();
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let metrics = match args.production.metrics_addr {
        Some(addr) => {
            let (metrics, page) = production::prometheus_metrics()?;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            println!("metrics on {}", listener.local_addr()?);
            tokio::spawn(production::serve_metrics(listener, page));
            Some(metrics)
        }
        None => None,
    };

    let (health, health_service) = tonic_health::server::health_reporter();
    // "" is the server as a whole.
    for name in SERVICES.iter().copied().chain([""]) {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        for name in SERVICES.iter().copied().chain([""]) {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    };
    let (router, tls) = production::apply(
        handlers::all().into_router(),
        &args.production,
        metrics.as_ref(),
    )?;
    if let Some(tls) = tls {
        tokio::spawn(production::reload_on_sighup(tls, args.production.clone()));
    }
    router
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_shutdown(listener, shutdown, args.shutdown_grace)
        .await?;
    println!("shut down");
    Ok(())
}

/// A reflection service describing every service the server serves: the proto's, health and
/// both reflection versions.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}

/// Logs to stdout, filtered by `RUST_LOG` (default `info`); each call's span is logged as it
/// closes, with its end reason and counters.
fn init_logging() {
    use tracing_subscriber::fmt::format::FmtSpan;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .init();
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM (what service managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

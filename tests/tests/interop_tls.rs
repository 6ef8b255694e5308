//! grpcio's TLS client (`grpc.ssl_channel_credentials`) against the runtime's TLS server:
//! TLS, mTLS with a client certificate whose names reach the handler, and mTLS without one,
//! which fails and leaves the server serving. grpcio comes from the venv
//! `tests/interop/setup-venv.sh` makes (see `interop.rs`).

use rust_stream::{CallContext, ServerTls, Tuning};
use rust_stream_examples::adapter::{StreamingExamplesHandler, StreamingExamplesService};
use rust_stream_examples::pb;
use rust_stream_tests::tls::Ca;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::sync::oneshot;
use tonic::Status;

/// Answers `GetUser` with the DNS names of the client's verified certificate.
struct WhoAmI;

impl StreamingExamplesHandler for WhoAmI {
    async fn get_user(
        &self,
        ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        let name = ctx
            .peer_identity()
            .map_or_else(|| "anonymous".to_owned(), |peer| peer.dns_names().join(","));
        Ok(pb::UserResponse {
            name,
            email: String::new(),
        })
    }
}

async fn start(tls: ServerTls) -> (SocketAddr, oneshot::Sender<()>) {
    let router = Tuning::BALANCED
        .server()
        .tls(tls)
        .add_service(StreamingExamplesService::new(WhoAmI).into_server());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(router.serve_with_shutdown(
        listener,
        async {
            let _ = stopped.await;
        },
        Duration::ZERO,
    ));
    (addr, stop)
}

/// `tls_client.py`'s one line for a GetUser call to `addr` trusting `ca`, with `identity`.
async fn grpcio(addr: SocketAddr, ca: &Path, identity: Option<&(PathBuf, PathBuf)>) -> String {
    let python = rust_stream_tests::interop_python(env!("CARGO_TARGET_TMPDIR"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/tls_client.py");
    let mut command = Command::new(python);
    command
        .arg("-u")
        .arg(script)
        .arg(addr.to_string())
        .arg(ca)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("GRPC_VERBOSITY", "NONE");
    if let Some((cert, key)) = identity {
        command.arg(cert).arg(key);
    }
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run tls_client.py");
    assert!(
        out.status.success(),
        "tls_client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_calls_over_tls_and_mtls_and_a_client_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, clients) = (Ca::new("server CA"), Ca::new("client CA"));
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, &ca.pem).unwrap();
    let identity = clients.leaf(&["grpcio.client"]).write(dir.path(), "client");

    let (tls, _stop_tls) = start(ca.leaf(&["localhost"]).server()).await;
    assert_eq!(grpcio(tls, &ca_pem, None).await, "user anonymous");

    let mtls = ca
        .leaf(&["localhost"])
        .server()
        .require_client_certs(clients.pem.as_bytes())
        .unwrap();
    let (mtls, _stop_mtls) = start(mtls).await;
    assert_eq!(
        grpcio(mtls, &ca_pem, Some(&identity)).await,
        "user grpcio.client"
    );
    assert_eq!(grpcio(mtls, &ca_pem, None).await, "status UNAVAILABLE");
    assert_eq!(
        grpcio(mtls, &ca_pem, Some(&identity)).await,
        "user grpcio.client",
        "the server stopped serving after a refused handshake"
    );
}

//! TLS between grpcio and the runtime, both ways: grpcio's client
//! (`grpc.ssl_channel_credentials`) against the runtime's TLS server, and the runtime's TLS
//! channel against a grpcio server (`grpc.ssl_server_credentials`); each over TLS, over mTLS
//! with a client certificate whose names reach the handler, and over mTLS without one, which
//! fails and leaves the server serving. grpcio comes from the venv
//! `tests/interop/setup-venv.sh` makes (see `interop.rs`).

use rust_stream::{CallContext, ClientTls, ServerTls, Tuning};
use rust_stream_examples::adapter::{
    StreamingExamplesHandler, StreamingExamplesService, StreamingExamplesStreamClient,
};
use rust_stream_examples::pb;
use rust_stream_tests::tls::Ca;
use rust_stream_tests::{TestServer, serve_router};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

async fn start(tls: ServerTls) -> TestServer {
    let router = Tuning::BALANCED
        .server()
        .tls(tls)
        .add_service(StreamingExamplesService::new(WhoAmI).into_server());
    serve_router(router).await
}

/// `tls_client.py`'s one line for a GetUser call to `addr` trusting `ca`, with `identity`.
async fn grpcio(addr: SocketAddr, ca: &Path, identity: Option<&(PathBuf, PathBuf)>) -> String {
    let mut command = python("tls_client.py");
    command.arg(addr.to_string()).arg(ca);
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

/// The venv's Python running `script` from `tests/interop`.
fn python(script: &str) -> Command {
    let python = rust_stream_tests::interop_python(env!("CARGO_TARGET_TMPDIR"));
    let mut command = Command::new(python);
    command
        .arg("-u")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("interop")
                .join(script),
        )
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("GRPC_VERBOSITY", "NONE");
    command
}

/// `tls_server.py`, killed when dropped.
struct PythonServer {
    child: Child,
    addr: String,
}

impl PythonServer {
    /// Serves `cert`/`key`, requiring client certificates of `client_ca` when given.
    async fn start(cert: &Path, key: &Path, client_ca: Option<&Path>) -> PythonServer {
        let mut command = python("tls_server.py");
        command.arg(cert).arg(key).args(client_ca);
        command.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = command.spawn().expect("start tls_server.py");
        let stdout = child.stdout.take().expect("its stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = rust_stream_tests::within("tls_server.py to listen", line)
            .await
            .unwrap()
            .expect("read its address");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("tls_server.py said {line:?}"))
            .to_owned();
        PythonServer { child, addr }
    }

    /// GetUser through our TLS channel with `tls`: the name grpcio saw, or why it failed.
    async fn who_am_i(&self, tls: &ClientTls) -> Result<String, String> {
        let uri = format!("https://{}", self.addr);
        let channel = rust_stream_tests::within("connect", Tuning::BALANCED.connect_tls(uri, tls))
            .await
            .map_err(|e| format!("connect: {e:?}"))?;
        let client = StreamingExamplesStreamClient::from_channel(channel);
        rust_stream_tests::within("GetUser", client.get_user(pb::UserRequest::default()))
            .await
            .map(|user| user.name)
            .map_err(|status| format!("call: {status:?}"))
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_channel_calls_grpcio_over_tls_and_mtls_and_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, clients) = (Ca::new("server CA"), Ca::new("client CA"));
    let (cert, key) = ca.leaf(&["localhost"]).write(dir.path(), "server");
    let clients_pem = dir.path().join("clients.pem");
    std::fs::write(&clients_pem, &clients.pem).unwrap();
    let me = clients.leaf(&["rust.client"]);

    let tls = PythonServer::start(&cert, &key, None).await;
    assert_eq!(tls.who_am_i(&ca.client()).await.as_deref(), Ok("anonymous"));

    let mtls = PythonServer::start(&cert, &key, Some(&clients_pem)).await;
    let with_cert = ca.client().identity(&me.cert_pem, &me.key_pem);
    assert_eq!(
        mtls.who_am_i(&with_cert).await.as_deref(),
        Ok("rust.client")
    );
    let without = mtls.who_am_i(&ca.client()).await;
    assert!(
        without.is_err(),
        "served without a client certificate: {without:?}"
    );
    assert_eq!(
        mtls.who_am_i(&with_cert).await.as_deref(),
        Ok("rust.client")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_calls_over_tls_and_mtls_and_a_client_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, clients) = (Ca::new("server CA"), Ca::new("client CA"));
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, &ca.pem).unwrap();
    let identity = clients.leaf(&["grpcio.client"]).write(dir.path(), "client");

    let tls = start(ca.leaf(&["localhost"]).server()).await;
    assert_eq!(grpcio(tls.addr, &ca_pem, None).await, "user anonymous");

    let mtls = ca
        .leaf(&["localhost"])
        .server()
        .require_client_certs(clients.pem.as_bytes())
        .unwrap();
    let mtls = start(mtls).await;
    assert_eq!(
        grpcio(mtls.addr, &ca_pem, Some(&identity)).await,
        "user grpcio.client"
    );
    assert_eq!(grpcio(mtls.addr, &ca_pem, None).await, "status UNAVAILABLE");
    assert_eq!(
        grpcio(mtls.addr, &ca_pem, Some(&identity)).await,
        "user grpcio.client",
        "the server stopped serving after a refused handshake"
    );
}

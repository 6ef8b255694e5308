//! Shared support for rust-stream's integration tests: servers on loopback sockets bound to
//! port 0, tuned clients, and a bound on every wait so a broken guard fails instead of
//! hanging.

pub mod tls;

use rust_stream::{CallConfig, StreamService, TunedRouter, Tuning};
use rust_stream_examples::adapter::{
    StreamingExamplesConfig, StreamingExamplesHandler, StreamingExamplesService,
    StreamingExamplesStreamClient,
};
use rust_stream_examples::derived::{Derived, DerivedConfig};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The longest any single wait in a test may take: generous, so a loaded 2-core machine
/// passes, yet finite, so a guard that never fires fails the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test with `what` if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {PATIENCE:?} waiting for {what}"),
    }
}

/// A server running on `127.0.0.1:<free port>`; stops when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl TestServer {
    /// The `http://` URI of the server.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client connected with `tuning`.
    pub async fn client_with(&self, tuning: &Tuning) -> StreamingExamplesStreamClient {
        let channel = within("connect", tuning.connect(self.uri()))
            .await
            .expect("connect to the test server");
        StreamingExamplesStreamClient::from_channel(channel)
    }

    /// A client connected with the service's own tuning.
    pub async fn client(&self) -> StreamingExamplesStreamClient {
        within(
            "connect",
            StreamingExamplesStreamClient::connect(self.uri()),
        )
        .await
        .expect("connect to the test server")
    }
}

/// Serves `handler` with every method configured as `config`, through the code the build
/// script generates.
pub async fn serve<H: StreamingExamplesHandler>(handler: Arc<H>, config: CallConfig) -> TestServer {
    let service =
        StreamingExamplesService::from_arc(handler).with_config(StreamingExamplesConfig {
            get_user: config,
            list_events: config,
            upload_chunks: config,
            chat: config,
        });
    serve_router(Tuning::BALANCED.server().add_service(service.into_server())).await
}

/// Serves `handler` as [`serve`] does, through the code `#[derive(StreamService)]` generates
/// (`rust_stream_examples::derived`) and its tuning: the same tests run against both.
pub async fn serve_derived<H: StreamingExamplesHandler>(
    handler: Arc<H>,
    config: CallConfig,
) -> TestServer {
    let config = DerivedConfig {
        get_user: config,
        list_events: config,
        upload_chunks: config,
        chat: config,
    };
    let server = Derived::server_from_arc(Arc::new(Derived(handler)), config);
    serve_router(Derived::<H>::TUNING.server().add_service(server)).await
}

/// The generated servers a test can serve through: the runtime's wire and call tests run
/// through each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// The code the build script generates ([`serve`]).
    BuildScript,
    /// The code `#[derive(StreamService)]` generates ([`serve_derived`]).
    Derived,
}

impl Front {
    /// Serves `handler` with every method configured as `config`, through this front.
    pub async fn serve<H: StreamingExamplesHandler>(
        self,
        handler: Arc<H>,
        config: CallConfig,
    ) -> TestServer {
        match self {
            Front::BuildScript => serve(handler, config).await,
            Front::Derived => serve_derived(handler, config).await,
        }
    }
}

/// Serves `router` (with its TLS and auth hook, if any) on a free loopback port until the
/// returned server is dropped.
pub async fn serve_router(router: TunedRouter) -> TestServer {
    serve_router_on([127, 0, 0, 1], router).await
}

/// Serves `router` as [`serve_router`] does, on a free port of loopback address `ip` (any of
/// 127.0.0.0/8, so several replicas of one service have addresses of their own).
pub async fn serve_router_on(ip: [u8; 4], router: TunedRouter) -> TestServer {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        router.serve_with_incoming_shutdown(Tuning::BALANCED.incoming(listener), async {
            let _ = stopped.await;
        }),
    );
    TestServer { addr, _stop: stop }
}

/// Waits until the watched value satisfies `ready`.
pub async fn wait_for<T>(
    what: &str,
    watched: &tokio::sync::watch::Sender<T>,
    ready: impl FnMut(&T) -> bool,
) {
    let mut rx = watched.subscribe();
    within(what, rx.wait_for(ready))
        .await
        .expect("the watched value's sender lives as long as the server");
}

/// `n` bytes of deterministic pseudo-random data (xorshift), different for each `seed`.
pub fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The workspace's root directory: the reference proto, the runtime, the templates,
/// `Cargo.lock`.
pub fn workspace() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
}

/// A binary of the examples crate (`streaming-server`, `streaming-cli`, ...), built (or
/// found fresh) with the calling test's profile and target directory, to run as a separate
/// process the way a user runs it. Call it from an integration test.
pub fn example_bin(name: &str) -> std::path::PathBuf {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let profile_dir = BUILT.get_or_init(|| {
        // A test runs from <target>/<profile>/deps/.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from <target>/<profile>/deps")
            .to_path_buf();
        let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") => "dev".to_owned(),
            Some(other) => other.to_owned(),
            None => panic!("no profile in {}", profile_dir.display()),
        };
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate is in the workspace");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(workspace)
            .args(["build", "--quiet", "-p", "rust-stream-examples", "--bins"])
            .arg("--profile")
            .arg(profile)
            .arg("--target-dir")
            .arg(profile_dir.parent().expect("the target directory"))
            .stdin(Stdio::null())
            .output()
            .expect("running cargo build for the example binaries");
        assert!(
            out.status.success(),
            "building the example binaries failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir
    });
    profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The Python of the interop virtual environment (grpcio, grpcio-tools and the health and
/// reflection clients, from `tests/interop/requirements.txt`), created under `target_tmpdir`
/// on first use and again after the requirements change. Pass the test's
/// `env!("CARGO_TARGET_TMPDIR")`.
pub fn interop_python(target_tmpdir: &str) -> &'static std::path::Path {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = Path::new(target_tmpdir).join("interop-venv");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/setup-venv.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&venv)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("could not run bash {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "creating the grpcio virtual environment failed ({}); the interop tests need \
             python3 with venv and pip, and PyPI:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        venv.join("bin").join("python")
    })
}

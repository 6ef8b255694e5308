//! A server out of file descriptors still lets a new client in (issue 18).
//!
//! The test binary runs twice: as the test, and, re-executed by it with
//! [`CHILD`] set, as a server whose hard `RLIMIT_NOFILE` is [`LIMIT`]. The test opens more
//! idle connections than the server has descriptors, none of which ever sends the HTTP/2
//! preface, then calls the server with a real client. Without shedding, the idle
//! connections hold every descriptor until the handshake timeout (120 s) closes them.
//! Its own harness (`harness = false`): the limit must apply to the server's process only.

use rust_stream::CallConfig;
use rust_stream_examples::adapter::StreamingExamplesStreamClient;
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::{PATIENCE, serve, within};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

/// Set in the environment of the re-executed binary: it serves instead of testing.
const CHILD: &str = "RUST_STREAM_TEST_DESCRIPTOR_CHILD";

/// The server's hard (and soft) limit on open files.
const LIMIT: u64 = 1024;

/// Idle connections the test opens: more than the server can hold.
const IDLE: usize = 1100;

fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
    } else {
        a_new_client_is_served_while_idle_connections_exhaust_the_descriptors();
        println!(
            "test a_new_client_is_served_while_idle_connections_exhaust_the_descriptors ... ok"
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The server: prints its address, serves until its stdin closes (the test ended).
fn child() {
    let limit = Rlimit {
        current: Some(LIMIT),
        maximum: Some(LIMIT),
    };
    setrlimit(Resource::Nofile, limit).expect("lower RLIMIT_NOFILE");
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = serve(Arc::new(GuideServer::new(dir.path())), CallConfig::DEFAULT).await;
        println!("{}", server.addr);
        // Blocks a worker, which is fine: the other serves.
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().read(&mut [0; 1])).await;
    });
}

fn a_new_client_is_served_while_idle_connections_exhaust_the_descriptors() {
    raise_own_limit();
    let exe = std::env::current_exe().expect("the test's own path");
    let mut server = Command::new(exe)
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the server prints its address");
    let addr: std::net::SocketAddr = line.trim().parse().expect("an address");

    let served = runtime().block_on(async {
        let mut idle = Vec::with_capacity(IDLE);
        for _ in 0..IDLE {
            // The kernel completes the TCP handshake of those the server cannot accept.
            idle.push(
                within("an idle connection", tokio::net::TcpStream::connect(addr))
                    .await
                    .expect("connect"),
            );
        }
        let started = Instant::now();
        let call = async {
            let client = StreamingExamplesStreamClient::connect(format!("http://{addr}"))
                .await
                .expect("connect the client");
            client
                .get_user(pb::UserRequest { id: "42".into() })
                .await
                .expect("GetUser is served")
        };
        let user = within("the new client to be served", call).await;
        let elapsed = started.elapsed();
        drop(idle);
        (user, elapsed)
    });
    drop(server.stdin.take());
    let status = server.wait().expect("the server exits");
    let mut log = String::new();
    server
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut log)
        .expect("the server's log");
    assert_eq!(served.0.name, "Ada Lovelace");
    assert!(status.success(), "the server failed: {status}\n{log}");
    // The server really ran out, and said what it closed to get the client in.
    assert!(
        log.contains("out of file descriptors: closed connections"),
        "no shedding logged:\n{log}"
    );
    // Informational: the issue asks for a second; the bound asserted is only PATIENCE, so a
    // loaded machine does not fail the test on a timer.
    println!(
        "served after {:?} (bound {PATIENCE:?}); the server logged:\n{}",
        served.1,
        log.lines()
            .filter(|line| line.contains("closed connections"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The idle connections need more descriptors than a common soft limit of 1,024.
fn raise_own_limit() {
    let limit = getrlimit(Resource::Nofile);
    let wanted = IDLE as u64 + 256;
    if limit.current.is_some_and(|current| current < wanted) {
        let raised = Rlimit {
            current: Some(limit.maximum.map_or(wanted, |max| max.min(wanted))),
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised).expect("raise the test's own RLIMIT_NOFILE");
    }
    let now = getrlimit(Resource::Nofile).current;
    assert!(
        now.is_none_or(|n| n >= wanted),
        "the test needs {wanted} descriptors, the hard limit allows {now:?}"
    );
}

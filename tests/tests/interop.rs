//! Interop with grpcio, the most used gRPC implementation, in both directions.
//!
//! - The guide's Python client code (`tests/interop/guide_client.py`) against the example
//!   `streaming-server` binary, run as a separate process the way a user runs it.
//! - The Rust client helpers (`StreamingExamplesStreamClient`) against a Python server in the
//!   guide's style (`tests/interop/guide_server.py`).
//! - Limits across the boundary: upload limits, deadlines and message size limits.
//!
//! grpcio comes from PyPI, pinned in `tests/interop/requirements.txt`, installed by
//! `tests/interop/setup-venv.sh` into a virtual environment under cargo's target dir that is
//! reused between runs. Without Python or PyPI these tests fail; they never skip. Every
//! process binds `127.0.0.1:0` and reports the port it got.

use rust_stream::{DEFAULT_CHUNK_SIZE, Progress, UploadError};
use rust_stream_examples::adapter::StreamingExamplesStreamClient;
use rust_stream_examples::pb;
use rust_stream_examples::pb::streaming_examples_client::StreamingExamplesClient;
use rust_stream_tests::{example_bin, workspace};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Code;

/// For a process to start, or a client scenario to run to its end.
const STARTUP: Duration = Duration::from_secs(120);
/// For what a peer does at once: stop a stream its client cancelled or whose deadline passed,
/// answer a chat message. It takes milliseconds; this only bounds a hung test, so it is far
/// beyond what a loaded machine needs. What the tests assert is order (nothing produced after
/// the server saw the cancel), never how long it took.
const PROMPTLY: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Python client -> Rust server
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_get_user_known_and_unknown_id() {
    let server = Server::rust(&[]).await;
    let known = python_client(&server.addr, &["get-user", "42"])
        .output()
        .await;
    assert_eq!(known, ["user Ada Lovelace ada@example.com", "status OK"]);
    let unknown = python_client(&server.addr, &["get-user", "7"])
        .output()
        .await;
    assert_eq!(unknown, ["status NOT_FOUND User not found"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_cancel_of_list_events_stops_the_rust_producer() {
    let mut server = Server::rust(&[]).await;
    let mut client = python_client(
        &server.addr,
        &[
            "list-events",
            "--after",
            "2024-01-01",
            "--cancel-after",
            "20",
        ],
    );
    for id in 1..=20u64 {
        let kind = ["login", "click", "logout"][(id % 3) as usize];
        assert_eq!(
            client.line("an event").await,
            format!("event {id} {kind} 64")
        );
    }
    assert_eq!(client.line("the cancel").await, "cancelled 20");
    let cancelled_at = Instant::now();

    let report = server
        .proc
        .wait_for("the end of ListEvents", PROMPTLY, |l| {
            l.starts_with("list_events ended:")
        })
        .await;
    let stopped_after = cancelled_at.elapsed();
    let (produced, after_end) = parse_feed_report(&report);
    assert!(produced >= 20, "{report}");
    assert!(
        after_end <= 1,
        "the producer went on after the server saw the cancel: {report}"
    );
    // The server learned of the cancel through the runtime (the call ended as ClientGone),
    // not only because its sends started failing.
    let ended = server
        .proc
        .wait_for("the call's end", PROMPTLY, |l| {
            l.starts_with("call /streaming.StreamingExamples/ListEvents ended:")
        })
        .await;
    assert!(ended.ends_with(": ClientGone"), "{ended}");
    eprintln!("cancel: {report}, producer stopped {stopped_after:?} after the Python cancel");

    // The unary call the client makes after cancelling, on the same channel.
    assert_eq!(client.output().await, ["status OK"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_upload_in_64k_chunks_is_stored_byte_exact() {
    let server = Server::rust(&[]).await;
    let data = test_bytes(5 * 1024 * 1024 + 12_345, 1);
    let file = TestFile::new(&data);
    let lines = python_client(&server.addr, &["upload", file.path_str()])
        .output()
        .await;
    assert_eq!(
        lines,
        [format!("bytes_received {}", data.len()), "status OK".into()]
    );
    let stored = std::fs::read(server.store.path().join("upload-1.bin")).unwrap();
    assert!(
        stored == data,
        "the stored upload differs from the file sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_chat_gets_every_reply_in_order() {
    let server = Server::rust(&[]).await;
    let texts: Vec<String> = ["hello", "how are you?", "émoji ✓"]
        .into_iter()
        .map(String::from)
        .chain((1..=50).map(|i| format!("message {i}")))
        .collect();
    let mut args = vec!["chat"];
    args.extend(texts.iter().map(String::as_str));
    let lines = python_client(&server.addr, &args).output().await;
    let mut expected: Vec<String> = texts
        .iter()
        .map(|t| format!("reply server Delivered: {t}"))
        .collect();
    expected.push("status OK".into());
    assert_eq!(lines, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_upload_over_the_rust_limit_is_resource_exhausted() {
    let server = Server::rust(&["--max-upload-bytes", "1048576"]).await;
    let file = TestFile::new(&test_bytes(3 * 1024 * 1024, 2));
    let lines = python_client(&server.addr, &["upload", file.path_str()])
        .output()
        .await;
    assert_eq!(
        lines,
        ["status RESOURCE_EXHAUSTED upload exceeds the limit of 1048576 bytes"]
    );
    let stored: Vec<_> = std::fs::read_dir(server.store.path())
        .map(|dir| dir.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(stored.is_empty(), "a refused upload left files: {stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_deadline_on_a_rust_stream_is_deadline_exceeded() {
    let mut server = Server::rust(&[]).await;
    let lines = python_client(&server.addr, &["--timeout", "0.5", "list-events"])
        .output()
        .await;
    let status = lines.last().unwrap();
    assert!(
        status.starts_with("status DEADLINE_EXCEEDED"),
        "{status} after {} lines",
        lines.len()
    );
    // Either side's timer may fire first; both say DEADLINE_EXCEEDED. The server's message is
    // "deadline exceeded", grpcio's own "Deadline Exceeded".
    eprintln!("deadline: {status} after {} events", lines.len() - 1);
    let report = server
        .proc
        .wait_for("the end of ListEvents", PROMPTLY, |l| {
            l.starts_with("list_events ended:")
        })
        .await;
    let (_, after_end) = parse_feed_report(&report);
    assert!(after_end <= 1, "{report}");
    let ended = server
        .proc
        .wait_for("the call's end", PROMPTLY, |l| {
            l.starts_with("call /streaming.StreamingExamples/ListEvents ended:")
        })
        .await;
    // Which timer wins is a race: the server's, or grpcio's, whose cancel then reaches the
    // server. The server counts a cancel at the deadline as the deadline, but grpcio's clock
    // also runs while it connects, so a slow connect can make its cancel read as ClientGone:
    // only logged here; `runtime/calls.rs` pins the rule down with a raw client.
    eprintln!("deadline: server saw {ended}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_messages_from_python_are_refused_by_the_rust_server() {
    let server = Server::rust(&["--max-message-bytes", "1024"]).await;

    // Streaming request: the runtime's RequestStream answers RESOURCE_EXHAUSTED.
    let file = TestFile::new(&test_bytes(8192, 3));
    let lines = python_client(
        &server.addr,
        &["upload", file.path_str(), "--chunk-size", "4096"],
    )
    .output()
    .await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("status RESOURCE_EXHAUSTED ")
            && lines[0].contains("the limit is: 1024 bytes"),
        "{lines:?}"
    );

    // Unary request: tonic decodes it before the handler's adapter runs and says OUT_OF_RANGE;
    // the runtime's server layer turns that into RESOURCE_EXHAUSTED.
    let lines = python_client(&server.addr, &["get-user", "42", "--pad", "2048"])
        .output()
        .await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("status RESOURCE_EXHAUSTED ")
            && lines[0].contains("the limit is: 1024 bytes"),
        "{lines:?}"
    );

    // And the other way: grpcio refuses a Rust response over its own limit.
    let lines = python_client(&server.addr, &["--max-receive-bytes", "32", "list-events"])
        .output()
        .await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("status RESOURCE_EXHAUSTED "),
        "{lines:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rust client -> Python server
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_get_user_against_python() {
    let server = Server::python(&[]).await;
    let client = server.client().await;
    let user = client
        .get_user(pb::UserRequest { id: "42".into() })
        .await
        .unwrap();
    assert_eq!(
        (user.name.as_str(), user.email.as_str()),
        ("Ada Lovelace", "ada@example.com")
    );
    let err = client
        .get_user(pb::UserRequest { id: "7".into() })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "User not found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_cancel_of_list_events_is_observed_by_python() {
    let mut server = Server::python(&[]).await;
    let client = server.client().await;
    let mut events = client
        .list_events(pb::EventFilter {
            after: "2024-01-01".into(),
        })
        .await
        .unwrap();
    for id in 1..=20u64 {
        let event = events.message().await.unwrap().expect("an event");
        assert_eq!(event.id, id.to_string());
        assert_eq!(event.data, vec![(id % 251) as u8; 64]);
    }
    drop(events); // the cancel
    let ended = server
        .proc
        .wait_for("ListEvents to end", PROMPTLY, |l| {
            l.starts_with("list_events ended")
        })
        .await;
    let sent: u64 = field(&ended, "sent=").parse().unwrap();
    assert!(sent >= 20, "{ended}");
    assert_eq!(
        field(&ended, "active="),
        "False",
        "the Python server did not see the call as cancelled: {ended}"
    );
    // The channel is still good after cancelling one stream.
    client
        .get_user(pb::UserRequest { id: "42".into() })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_upload_helper_to_python_is_stored_byte_exact() {
    let mut server = Server::python(&[]).await;
    let client = server.client().await;
    let data = test_bytes(3 * 1024 * 1024 + 777, 4);
    let file = TestFile::new(&data);
    let progress = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let seen = Arc::clone(&progress);
    let result = client
        .upload_chunks_from(
            tokio::fs::File::open(&file.path).await.unwrap(),
            DEFAULT_CHUNK_SIZE,
            move |p| seen.lock().unwrap().push(p),
        )
        .await
        .unwrap();
    assert_eq!(result.bytes_received, data.len() as u64);
    let progress = std::mem::take(&mut *progress.lock().unwrap());
    let chunks = data.len().div_ceil(DEFAULT_CHUNK_SIZE) as u64;
    assert_eq!(
        progress.last(),
        Some(&Progress {
            bytes: data.len() as u64,
            chunks
        })
    );
    assert_eq!(progress.len() as u64, chunks);

    let stored = server
        .proc
        .wait_for("the upload to be stored", PROMPTLY, |l| {
            l.starts_with("upload stored")
        })
        .await;
    assert_eq!(field(&stored, "bytes="), data.len().to_string());
    let path = server.store.path().join("upload-1.bin");
    assert!(std::fs::read(path).unwrap() == data, "stored copy differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_chat_helper_against_python_sends_after_starting_the_call() {
    let mut server = Server::python(&[]).await;
    let client = server.client().await;

    // The trap: grpcio sends response headers only with its first reply, so a plain tonic
    // call awaited before sending anything never returns. This proves the trap is live here.
    let (_tx, rx) = mpsc::channel::<pb::Message>(1);
    let mut tonic_client = StreamingExamplesClient::connect(format!("http://{}", server.addr))
        .await
        .expect("connecting to the server");
    let naive = tonic_client.chat(tokio_stream::wrappers::ReceiverStream::new(rx));
    assert!(
        tokio::time::timeout(Duration::from_secs(2), naive)
            .await
            .is_err(),
        "grpcio answered a Chat with headers before any reply; the trap is not exercised"
    );

    // The helper starts the call, then the client sends: one message at a time, each
    // waiting for its reply, which would hang if the call were awaited first.
    let (requests, mut replies) = client.chat();
    for i in 1..=5 {
        let text = format!("ping {i}");
        requests
            .send(pb::Message {
                text: text.clone(),
                user: "rust".into(),
            })
            .await
            .unwrap();
        let reply = tokio::time::timeout(PROMPTLY, replies.message())
            .await
            .expect("a Chat reply")
            .unwrap()
            .expect("a reply before the end");
        assert_eq!(
            (reply.user.as_str(), reply.text),
            ("server", format!("Delivered: {text}"))
        );
    }
    drop(requests); // half-close: the server's loop ends, and so does the call
    assert!(replies.message().await.unwrap().is_none());
    // The Python side read all five (the naive call above ended there with none).
    server
        .proc
        .wait_for("the Chat of 5 messages to end", PROMPTLY, |l| {
            l == "chat ended messages=5"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_messages_between_rust_client_and_python_server_are_refused() {
    let server = Server::python(&["--max-receive-bytes", "1024"]).await;
    let client = server.client().await;

    // grpcio refuses Rust requests over its limit, streaming and unary.
    let file = TestFile::new(&test_bytes(8192, 5));
    let err = client
        .upload_chunks_from(
            tokio::fs::File::open(&file.path).await.unwrap(),
            4096,
            |_| {},
        )
        .await
        .unwrap_err();
    let UploadError::Status(status) = err else {
        panic!("expected a status, got {err}");
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let status = client
        .get_user(pb::UserRequest {
            id: "x".repeat(2048),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // The Rust client refuses a 17 MiB event, over its 16 MiB limit: tonic's decoder says
    // OUT_OF_RANGE, the client helpers RESOURCE_EXHAUSTED like every other gRPC client.
    let mut events = client
        .list_events(pb::EventFilter {
            after: "big".into(),
        })
        .await
        .unwrap();
    let status = events.message().await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("the limit is: 16777216 bytes"),
        "{status:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn interop_dir() -> PathBuf {
    workspace().join("tests").join("interop")
}

/// The venv's Python, creating the venv on first use (and after requirements change).
fn python() -> &'static Path {
    rust_stream_tests::interop_python(env!("CARGO_TARGET_TMPDIR"))
}

/// A child process whose stdout is read line by line; killed when dropped.
struct Proc {
    name: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Lines read but not taken by a wait yet.
    pending: VecDeque<String>,
    /// Every line read, for failure reports.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(name: &str, mut command: Command) -> Proc {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({command:?}): {e}"));
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Proc {
            name: name.to_owned(),
            child,
            lines,
            pending: VecDeque::new(),
            seen: Vec::new(),
            stderr,
        }
    }

    /// The next line, within [`STARTUP`].
    async fn line(&mut self, what: &str) -> String {
        self.wait_for(what, STARTUP, |_| true).await
    }

    /// The first line not taken yet that matches, waiting for more output if none does yet;
    /// fails after `within` or if the process ends first. Lines passed over stay for later
    /// calls, so waits for lines of unknown order can come in any order.
    async fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> String {
        if let Some(i) = self.pending.iter().position(|l| matches(l)) {
            return self.pending.remove(i).unwrap();
        }
        let deadline = Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                    self.pending.push_back(line);
                }
                Ok(None) => panic!("{} ended before {what}\n{}", self.name, self.report()),
                Err(_) => panic!(
                    "{} did not show {what} within {within:?}\n{}",
                    self.name,
                    self.report()
                ),
            }
        }
    }

    /// Every line not taken yet until the process exits, which it must do successfully.
    async fn output(mut self) -> Vec<String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    self.pending.push_back(line);
                }
                Ok(None) => break,
                Err(_) => panic!("{} did not finish\n{}", self.name, self.report()),
            }
        }
        // stdout is closed: the process is exiting.
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "{} failed: {status}\n{}",
            self.name,
            self.report()
        );
        std::mem::take(&mut self.pending).into()
    }

    fn report(&self) -> String {
        format!(
            "--- stdout so far:\n{}\n--- stderr:\n{}",
            self.seen.join("\n"),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server process on a free port, storing uploads in its own temp dir.
struct Server {
    proc: Proc,
    addr: String,
    store: TempDir,
}

impl Server {
    /// The example `streaming-server` binary.
    async fn rust(extra: &[&str]) -> Server {
        let store = TempDir::new().unwrap();
        let mut command = Command::new(example_bin("streaming-server"));
        command
            .args(["--addr", "127.0.0.1:0", "--store-dir"])
            .arg(store.path())
            .args(extra);
        Server::start("streaming-server", command, store).await
    }

    /// `guide_server.py`.
    async fn python(extra: &[&str]) -> Server {
        let store = TempDir::new().unwrap();
        let mut command = python_command("guide_server.py");
        command.arg("--store-dir").arg(store.path()).args(extra);
        Server::start("guide_server.py", command, store).await
    }

    /// Starts `command` and reads the `listening on <addr>` it prints once bound.
    async fn start(name: &str, command: Command, store: TempDir) -> Server {
        let mut proc = Proc::spawn(name, command);
        let line = proc
            .wait_for("its address", STARTUP, |l| l.starts_with("listening on "))
            .await;
        let addr = line["listening on ".len()..].to_owned();
        Server { proc, addr, store }
    }

    /// The generated Rust client, window-tuned, connected to this server.
    async fn client(&self) -> StreamingExamplesStreamClient {
        StreamingExamplesStreamClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connecting to the server")
    }
}

fn python_command(script: &str) -> Command {
    let mut command = Command::new(python());
    command
        .arg("-u")
        .arg(interop_dir().join(script))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("GRPC_VERBOSITY", "ERROR");
    command
}

/// `guide_client.py --addr <addr> <args>`; read its lines, or all of them with `output`.
fn python_client(addr: &str, args: &[&str]) -> Proc {
    let mut command = python_command("guide_client.py");
    command.args(["--addr", addr]).args(args);
    Proc::spawn("guide_client.py", command)
}

/// A file with `data` in a temp dir, removed when dropped.
struct TestFile {
    _dir: TempDir,
    path: PathBuf,
}

impl TestFile {
    fn new(data: &[u8]) -> TestFile {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("upload.bin");
        std::fs::write(&path, data).unwrap();
        TestFile { _dir: dir, path }
    }

    fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// `len` bytes of deterministic noise (xorshift), different for each `seed`.
fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The value after `key` in a `key=value` line, up to the next space.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        + key.len();
    line[start..].split(' ').next().unwrap()
}

/// `(produced, produced_after_end)` from the server's `list_events ended:` line.
fn parse_feed_report(line: &str) -> (u64, u64) {
    let number = |key| field(line, key).parse::<u64>().unwrap();
    (number("produced="), number("produced_after_end="))
}

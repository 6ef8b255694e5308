//! The reflection-driven command-line client (`rust_stream::client_cli`) as users run it:
//! the examples' `streaming-cli` binary, which embeds `proto/streaming.proto`'s descriptor
//! set, run as a separate process against the guide's server on a loopback port, for all
//! four patterns and the ways a call can fail.

use rust_stream::{CallConfig, CallContext};
use rust_stream_examples::adapter::StreamingExamplesHandler;
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::{
    PATIENCE, TestServer, example_bin, pseudo_random, serve, wait_for, within,
};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use tempfile::TempDir;

/// The guide's server on a free port, with its upload directory.
struct Guide {
    server: TestServer,
    handler: Arc<GuideServer>,
    _store: TempDir,
}

async fn guide() -> Guide {
    let store = TempDir::new().unwrap();
    let handler = Arc::new(GuideServer::new(store.path()));
    let server = serve(Arc::clone(&handler), CallConfig::DEFAULT).await;
    Guide {
        server,
        handler,
        _store: store,
    }
}

/// `streaming-cli --addr <server> ARGS` with its stdin piped.
fn command(addr: &str, args: &[&str]) -> Command {
    let mut command = Command::new(example_bin("streaming-cli"));
    command
        .arg("--addr")
        .arg(addr)
        // The client's own bound: a hung call fails the test instead of hanging it.
        .arg("--timeout")
        .arg(PATIENCE.as_secs().to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the client with `stdin` as its input, to the end.
async fn run(addr: &str, args: &[&str], stdin: &str) -> Output {
    let mut command = command(addr, args);
    let stdin = stdin.to_owned();
    let what = format!("streaming-cli {args:?}");
    within(
        &what,
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("start streaming-cli");
            let mut pipe = child.stdin.take().unwrap();
            // A client that refuses its input early closes the pipe: not an error here.
            let _ = pipe.write_all(stdin.as_bytes());
            drop(pipe);
            child.wait_with_output().expect("wait for streaming-cli")
        }),
    )
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts the client exited with `code`, showing what it printed if not.
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Each line of stdout as JSON.
fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

#[tokio::test]
async fn list_shows_every_method_with_its_pattern_and_types() {
    let output = run("http://127.0.0.1:1", &["list"], "").await;
    assert_exit(&output, 0);
    let expected = "\
streaming.StreamingExamples/Chat          bidi              streaming.Message -> streaming.Message
streaming.StreamingExamples/GetUser       unary             streaming.UserRequest -> streaming.UserResponse
streaming.StreamingExamples/ListEvents    server streaming  streaming.EventFilter -> streaming.Event
streaming.StreamingExamples/UploadChunks  client streaming  streaming.Chunk -> streaming.UploadResult  (accepts --upload FILE)
";
    assert_eq!(stdout(&output), expected);
}

#[tokio::test]
async fn unary_prints_the_response_as_json_for_every_spelling_of_the_method() {
    let guide = guide().await;
    let names = [
        "streaming.StreamingExamples/GetUser",
        "/streaming.StreamingExamples/GetUser",
        "StreamingExamples/get_user",
        "streaming.StreamingExamples.GetUser",
        "GetUser",
        "get_user",
    ];
    for name in names {
        let output = run(&guide.server.uri(), &["call", name, r#"{"id": "42"}"#], "").await;
        assert_exit(&output, 0);
        assert_eq!(
            stdout(&output),
            "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}\n",
            "{name}"
        );
    }
    // The request from stdin.
    let output = run(
        &guide.server.uri(),
        &["call", "GetUser", "-"],
        "{\"id\":\"42\"}\n",
    )
    .await;
    assert_exit(&output, 0);
    assert_eq!(
        json_lines(&output),
        [json!({"name": "Ada Lovelace", "email": "ada@example.com"})]
    );
}

#[tokio::test]
async fn a_status_is_printed_by_its_code_name_and_exits_1() {
    let guide = guide().await;
    // No argument: the request is `{}`, an empty id.
    for args in [
        &["call", "GetUser", r#"{"id":"7"}"#][..],
        &["call", "GetUser"],
    ] {
        let output = run(&guide.server.uri(), args, "").await;
        assert_exit(&output, 1);
        assert_eq!(stderr(&output), "NOT_FOUND: User not found\n");
        assert_eq!(stdout(&output), "");
    }
}

/// Answers `GetUser` with the request's `x-user` metadata (every value, joined) as the name
/// and its `x-trace-bin` as the email.
struct EchoesMetadata;

impl StreamingExamplesHandler for EchoesMetadata {
    async fn get_user(
        &self,
        ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, tonic::Status> {
        let users: Vec<&str> = ctx
            .metadata()
            .get_all("x-user")
            .iter()
            .map(|value| value.to_str().unwrap_or("?"))
            .collect();
        let trace = match ctx.metadata().get_bin("x-trace-bin") {
            Some(value) => String::from_utf8_lossy(&value.to_bytes().unwrap()).into_owned(),
            None => String::new(),
        };
        Ok(pb::UserResponse {
            name: users.join(","),
            email: trace,
        })
    }
}

#[tokio::test]
async fn headers_are_sent_as_request_metadata() {
    let server = serve(Arc::new(EchoesMetadata), CallConfig::DEFAULT).await;
    let args = [
        "-H",
        "x-user: ada",
        "--header",
        "X-User:grace",
        "-H",
        "x-trace-bin: t-1",
        "call",
        "GetUser",
    ];
    let output = run(&server.uri(), &args, "").await;
    assert_exit(&output, 0);
    assert_eq!(
        json_lines(&output),
        [json!({"name": "ada,grace", "email": "t-1"})]
    );
    // A malformed header is a usage error.
    let output = run(&server.uri(), &["-H", "no colon", "call", "GetUser"], "").await;
    assert_exit(&output, 2);
}

#[tokio::test]
async fn server_streaming_prints_a_line_per_event_and_limit_cancels_the_stream() {
    let guide = guide().await;
    let output = run(
        &guide.server.uri(),
        &["call", "ListEvents", r#"{"after":"10"}"#, "--limit", "3"],
        "",
    )
    .await;
    assert_exit(&output, 0);
    let events = json_lines(&output);
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["11", "12", "13"]);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["logout", "login", "click"]);
    // 64 payload bytes in base64.
    assert!(
        events
            .iter()
            .all(|e| e["data"].as_str().unwrap().len() == 88)
    );
    // The endless feed stopped: the client's exit ended the call.
    wait_for(
        "the feed to stop",
        &guide.handler.stats().feeds_running,
        |n| *n == 0,
    )
    .await;
}

#[tokio::test]
async fn client_streaming_sends_one_message_per_stdin_line() {
    let guide = guide().await;
    // "hello" and "world" in base64, a blank line between them.
    let stdin = "{\"data\":\"aGVsbG8=\"}\n\n{\"data\":\"d29ybGQ=\"}\n";
    let output = run(&guide.server.uri(), &["call", "UploadChunks"], stdin).await;
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "{\"bytesReceived\":\"10\"}\n");
    assert_eq!(
        std::fs::read(guide.handler.upload_path(1)).unwrap(),
        b"helloworld"
    );
}

#[tokio::test]
async fn upload_streams_a_file_in_chunks() {
    let guide = guide().await;
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("payload.bin");
    // Not a whole number of chunks, so the last one is short.
    let payload = pseudo_random(3 * 65_536 + 1234, 7);
    std::fs::write(&file, &payload).unwrap();
    let file = file.to_str().unwrap();
    for (n, chunk_size) in [(1, "65536"), (2, "1000")] {
        let args = [
            "call",
            "UploadChunks",
            "--upload",
            file,
            "--chunk-size",
            chunk_size,
        ];
        let output = run(&guide.server.uri(), &args, "").await;
        assert_exit(&output, 0);
        assert_eq!(
            json_lines(&output),
            [json!({"bytesReceived": payload.len().to_string()})]
        );
        assert_eq!(
            std::fs::read(guide.handler.upload_path(n)).unwrap(),
            payload
        );
    }
}

#[tokio::test]
async fn upload_needs_a_chunk_shaped_method_and_a_readable_file() {
    let guide = guide().await;
    let output = run(
        &guide.server.uri(),
        &["call", "Chat", "--upload", "Cargo.toml"],
        "",
    )
    .await;
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("--upload needs a client-streaming method"),
        "{}",
        stderr(&output)
    );
    let output = run(
        &guide.server.uri(),
        &["call", "UploadChunks", "--upload", "/no/such/file"],
        "",
    )
    .await;
    assert_exit(&output, 2);
    assert!(
        stderr(&output).starts_with("cannot read /no/such/file: "),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn bidi_prints_each_reply_while_still_sending() {
    let guide = guide().await;
    let addr = guide.server.uri();
    let replies = within(
        "a chat, one line at a time",
        tokio::task::spawn_blocking(move || {
            let mut child = command(&addr, &["call", "Chat"]).spawn().unwrap();
            let reaper = Reaper(&mut child);
            let mut stdin = reaper.0.stdin.take().unwrap();
            let mut stdout = BufReader::new(reaper.0.stdout.take().unwrap());
            let mut replies = Vec::new();
            for text in ["hi", "how are you"] {
                // The next message is sent only once the reply to the last one is out: the
                // client prints while its request stream is still open.
                writeln!(stdin, "{}", json!({"text": text, "user": "ada"})).unwrap();
                stdin.flush().unwrap();
                let mut line = String::new();
                stdout.read_line(&mut line).unwrap();
                replies.push(serde_json::from_str::<Value>(&line).unwrap());
            }
            drop(stdin);
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
            assert_eq!(rest, "", "nothing after the last reply");
            let status = reaper.0.wait().unwrap();
            assert_eq!(status.code(), Some(0));
            replies
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        replies,
        [
            json!({"text": "Delivered: hi", "user": "server"}),
            json!({"text": "Delivered: how are you", "user": "server"}),
        ]
    );
}

/// Kills the child if a test fails while it still runs.
struct Reaper<'a>(&'a mut Child);

impl Drop for Reaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn an_unknown_method_is_refused_with_the_valid_ones() {
    let output = run("http://127.0.0.1:1", &["call", "GetUsers"], "").await;
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        "unknown method `GetUsers`; the methods are:
  streaming.StreamingExamples/Chat
  streaming.StreamingExamples/GetUser
  streaming.StreamingExamples/ListEvents
  streaming.StreamingExamples/UploadChunks
"
    );
}

#[tokio::test]
async fn bad_json_names_the_method_the_type_and_the_problem() {
    // Refused before connecting: no server needed.
    let output = run(
        "http://127.0.0.1:1",
        &["call", "GetUser", r#"{"idd":"1"}"#],
        "",
    )
    .await;
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(
        err.starts_with(
            "bad request JSON for streaming.StreamingExamples/GetUser \
             (type streaming.UserRequest, from the argument): unrecognized field name 'idd'"
        ),
        "{err}"
    );
    let output = run("http://127.0.0.1:1", &["call", "GetUser", "{"], "").await;
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("EOF while parsing"),
        "{}",
        stderr(&output)
    );
    // A streaming call's argument too.
    let output = run(
        "http://127.0.0.1:1",
        &["call", "Chat", r#"{"txt":"x"}"#],
        "",
    )
    .await;
    assert_exit(&output, 2);
    assert!(
        stderr(&output).starts_with(
            "bad request JSON for streaming.StreamingExamples/Chat \
             (type streaming.Message, from the argument): "
        ),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_bad_stdin_line_aborts_the_stream_without_completing_it() {
    let guide = guide().await;
    let stdin = "{\"data\":\"aGVsbG8=\"}\n{\"data\": 5}\n{\"data\":\"d29ybGQ=\"}\n";
    let output = run(&guide.server.uri(), &["call", "UploadChunks"], stdin).await;
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(
        err.starts_with(
            "bad request JSON for streaming.StreamingExamples/UploadChunks \
             (type streaming.Chunk, from stdin line 2): "
        ),
        "{err}"
    );
    // The server saw a reset upload, never a short one.
    wait_for(
        "the upload to end",
        &guide.handler.stats().uploads_running,
        |n| *n == 0,
    )
    .await;
    let stored = guide
        .handler
        .stats()
        .uploads_stored
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn a_server_that_is_not_there_is_named() {
    // A port nobody listens on: bound, then closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = run(&format!("http://{addr}"), &["call", "GetUser", "{}"], "").await;
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!("cannot connect to http://{addr}: ")),
        "{err}"
    );
    // A bare host:port means http.
    let output = run(&addr.to_string(), &["call", "GetUser", "{}"], "").await;
    assert_exit(&output, 3);
    assert!(stderr(&output).starts_with(&format!("cannot connect to http://{addr}: ")));
}

#[tokio::test]
async fn the_timeout_bounds_a_stream_that_never_ends() {
    let guide = guide().await;
    let addr = guide.server.uri();
    // Built (on first use) before the bound starts: a build is not what is timed.
    let cli = example_bin("streaming-cli");
    let output = within(
        "a chat whose stdin stays open",
        tokio::task::spawn_blocking(move || {
            let mut child = Command::new(cli)
                .args(["--addr", &addr, "--timeout", "0.5", "call", "Chat"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Held open (never written) until the client has exited.
            let _stdin = child.stdin.take();
            child.wait_with_output().unwrap()
        }),
    )
    .await
    .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).starts_with("DEADLINE_EXCEEDED"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn usage_errors_exit_2() {
    for args in [
        &["call"][..],
        &["call", "GetUser", "--limit", "3"],
        &["fly"],
    ] {
        let output = run("http://127.0.0.1:1", args, "").await;
        assert_exit(&output, 2);
    }
}

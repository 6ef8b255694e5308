//! The `cargo generate` template (`templates/service`), with the real cargo-generate (`.ci/run`
//! installs it): crates generated with `--define` into a temporary directory outside the
//! workspace, depending on this checkout, then built, tested and linted like a user would;
//! the server started and called with its own client, with grpcio's health and reflection
//! clients, and shut down with SIGTERM while a stream is open; and a crate grown by an RPC of
//! each pattern through `rust-stream scaffold`.
//!
//! Every generated crate builds into one target directory (`target/template-crates`), so the
//! dependencies compile once for all of them.

use rust_stream_build::scaffold::{Outcome, Scaffold};
use rust_stream_build::{Descriptors, Params, model_of};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the server may take to exit after SIGTERM: the grace it is given plus the one
/// second the runtime needs at most to close what is left, plus slack for a loaded machine.
const GRACE: Duration = Duration::from_secs(2);
const EXIT_SLACK: Duration = Duration::from_secs(10);

#[test]
fn the_default_crate_builds_tests_lints_answers_every_rpc_health_and_reflection() {
    let krate = generate("guide-service", &[]);
    check_build_test_clippy(krate.path());
    assert_handlers_are_the_scaffold(krate.path(), &["streaming_examples.rs"], true);
    serve_and_check(
        "guide-service",
        &["streaming.StreamingExamples"],
        |addr| call_the_guide(krate.path(), "guide-service", addr),
        Some(&["list-events", "--count", "1000000000"]),
    );
}

/// The second proto: two services that share the four patterns, their handler files exactly
/// what the scaffold writes.
#[test]
fn the_catalog_crate_with_two_services_builds_tests_lints_and_serves_both() {
    let defines = [("proto", "catalog"), ("package", "catalog.v1")];
    let krate = generate("catalog-service", &defines);
    check_build_test_clippy(krate.path());
    assert_handlers_are_the_scaffold(krate.path(), &["inventory.rs", "transfer.rs"], false);
    serve_and_check(
        "catalog-service",
        &["catalog.v1.Inventory", "catalog.v1.Transfer"],
        |addr| call_the_catalog(krate.path(), "catalog-service", addr),
        None,
    );
}

#[test]
fn a_crate_with_its_own_names_grows_with_its_proto_without_losing_a_line() {
    let defines = [
        ("package", "shop.v1"),
        ("service", "OrderDesk"),
        ("tuning", "low_latency"),
        ("listen_addr", "127.0.0.1:50071"),
    ];
    let krate = generate("order-desk", &defines);
    let dir = krate.path();
    let proto = std::fs::read_to_string(dir.join("proto/service.proto")).unwrap();
    assert!(proto.contains("package shop.v1;"), "{proto}");
    assert!(proto.contains("tuning: \"low_latency\""), "{proto}");
    check_build_test_clippy(dir);
    assert_handlers_are_the_scaffold(dir, &["order_desk.rs"], true);
    grow(dir);
}

/// Package and service names that the generator would have to rename (or that are not proto
/// names) are refused by the placeholders' patterns before anything is generated.
#[test]
fn names_that_do_not_fit_are_refused() {
    for (key, value) in [
        ("service", "order_desk"),
        ("service", "HTTPApi"),
        ("package", "Shop.V1"),
        ("package", "shop..v1"),
        ("tuning", "fast"),
        ("codegen", "plugin"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let output = Command::new(cargo_generate())
            .arg("generate")
            .arg("--path")
            .arg(workspace().join("templates").join("service"))
            .args([
                "--name",
                "refused",
                "--silent",
                "--vcs",
                "none",
                "--destination",
            ])
            .arg(tmp.path())
            .arg("--define")
            .arg(format!("{key}={value}"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{key}={value}");
        assert!(
            stderr.contains(&format!("\"{value}\" is not a valid value for {key}")),
            "{key}={value}: {stderr}"
        );
        assert!(!tmp.path().join("refused").join("Cargo.toml").exists());
    }
}

/// The `derive` codegen style, run like the build-rs style above: the derive on the handler
/// generates the code (`crate::pb` re-exports it) and serves the struct; the handler file is
/// the scaffold's but for the derive's lines.
#[test]
fn the_derive_style_crate_builds_tests_lints_and_serves() {
    let krate = generate("derive-service", &[("codegen", "derive")]);
    let lib = std::fs::read_to_string(krate.path().join("src/lib.rs")).unwrap();
    assert!(!lib.contains("include!"), "{lib}");
    check_build_test_clippy(krate.path());
    assert_handlers_are_the_scaffold(krate.path(), &["streaming_examples.rs"], true);
    serve_and_check(
        "derive-service",
        &["streaming.StreamingExamples"],
        |addr| call_the_guide(krate.path(), "derive-service", addr),
        Some(&["list-events", "--count", "1000000000"]),
    );
}

/// The two-service proto in the `derive` style: the derive on Inventory's handler generates
/// the code of both services, and Transfer's handler (exactly the scaffold's) uses it.
#[test]
fn the_derive_style_catalog_crate_builds_tests_lints_and_serves_both() {
    let defines = [
        ("proto", "catalog"),
        ("package", "catalog.v1"),
        ("codegen", "derive"),
    ];
    let krate = generate("derive-catalog", &defines);
    check_build_test_clippy(krate.path());
    assert_handlers_are_the_scaffold(krate.path(), &["inventory.rs", "transfer.rs"], false);
    serve_and_check(
        "derive-catalog",
        &["catalog.v1.Inventory", "catalog.v1.Transfer"],
        |addr| call_the_catalog(krate.path(), "derive-catalog", addr),
        None,
    );
}

// Generating and building
// ---------------------------------------------------------------------------------------------

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn target_dir() -> PathBuf {
    workspace().join("target").join("template-crates")
}

/// cargo-generate from `PATH` or `~/.cargo/bin`.
fn cargo_generate() -> &'static Path {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(|| {
        let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect())
            .unwrap_or_default();
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(Path::new(&home).join(".cargo").join("bin"));
        }
        candidates
            .into_iter()
            .map(|dir| dir.join("cargo-generate"))
            .find(|exe| exe.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "cargo-generate is not installed (neither on PATH nor in ~/.cargo/bin); \
                     install it with `cargo install cargo-generate --version 0.23.14 --locked` \
                     (.ci/run does)"
                )
            })
    })
}

/// A crate generated from the template, in a temporary directory outside the workspace,
/// deleted when dropped.
struct Generated {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Generated {
    fn path(&self) -> &Path {
        &self.path
    }
}

/// Generates crate `name` with `defines` (and the dependency on this checkout), without
/// prompting. The workspace's lock file goes with it, so that it builds with the versions
/// this checkout is tested with.
fn generate(name: &str, defines: &[(&str, &str)]) -> Generated {
    let tmp = tempfile::Builder::new()
        .prefix("rust-stream-template-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    assert!(
        !tmp.path().starts_with(workspace()),
        "the temporary directory must be outside the workspace"
    );
    let output = generate_command(name, tmp.path(), defines)
        .output()
        .unwrap();
    assert_success(&output, "cargo generate");
    let path = tmp.path().join(name);
    std::fs::copy(workspace().join("Cargo.lock"), path.join("Cargo.lock")).unwrap();
    let rendered = walk(&path);
    for file in &rendered {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            !text.contains("{{") && !text.contains("{%"),
            "{} has Liquid left in it",
            file.display()
        );
    }
    Generated { _tmp: tmp, path }
}

/// `cargo generate` of crate `name` into `destination` with `defines`, depending on this
/// checkout, without prompting.
fn generate_command(name: &str, destination: &Path, defines: &[(&str, &str)]) -> Command {
    let mut command = Command::new(cargo_generate());
    command
        .arg("generate")
        .arg("--path")
        .arg(workspace().join("templates").join("service"))
        .args(["--name", name, "--silent", "--vcs", "none", "--destination"])
        .arg(destination)
        .arg("--define")
        .arg(format!("rust_stream_path={}", workspace().display()));
    for (key, value) in defines {
        command.arg("--define").arg(format!("{key}={value}"));
    }
    command.stdin(Stdio::null());
    command
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn cargo(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_success(
        &output,
        &format!("cargo {} in {}", args.join(" "), dir.display()),
    );
    output
}

fn check_build_test_clippy(dir: &Path) {
    cargo(dir, &["build", "--all-targets"]);
    let test = cargo(dir, &["test"]);
    let report = String::from_utf8_lossy(&test.stdout);
    // Four RPCs over the socket, four through the test kit.
    assert_eq!(
        report.matches("test result: ok. 4 passed").count(),
        2,
        "{report}"
    );
    cargo(dir, &["clippy", "--all-targets", "--", "-D", "warnings"]);
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// The handler file and the scaffold
// ---------------------------------------------------------------------------------------------

/// What `rust-stream scaffold proto/service.proto -I proto --out src/handlers --module-path
/// crate::pb --flat` (the generated README's command) makes of the crate's proto, given the
/// current handler files.
fn scaffold(dir: &Path) -> rust_stream_build::scaffold::Report {
    let protos = [dir.join("proto").join("service.proto")];
    let descriptors = Descriptors::compile(&protos, &[dir.join("proto")]).unwrap();
    let (model, _) = model_of(&descriptors, &Params::default()).unwrap();
    Scaffold::new("crate::pb")
        .flat(true)
        .render(&model, &dir.join("src").join("handlers"), |path| {
            Ok(std::fs::read_to_string(path).ok())
        })
        .unwrap()
}

/// The file's lines outside the bodies of the handler methods.
fn outside_bodies(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut in_body = false;
    for line in text.lines() {
        let method_level = line.starts_with("    ") && !line.starts_with("     ");
        if in_body {
            in_body = line != "    }";
        }
        if !in_body {
            lines.push(line);
            in_body = method_level && line.ends_with('{');
        }
    }
    lines
}

/// The lines the derive style adds to a handler file, above the scaffold's struct (the last
/// one names the service when the proto has several).
const DERIVE_LINES: [&str; 3] = [
    "// Generates the proto's code into `generated` (`crate::pb` re-exports it) and serves this.",
    "#[derive(::rust_stream::StreamService)]",
    "#[stream_service(proto = \"proto/service.proto\", ",
];

/// `text` without the derive style's lines, which must be whole if there.
fn without_derive(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(at) = lines.iter().position(|l| l.trim_end() == DERIVE_LINES[0]) else {
        return text.to_owned();
    };
    assert_eq!(lines[at + 1].trim_end(), DERIVE_LINES[1], "{text}");
    assert!(lines[at + 2].starts_with(DERIVE_LINES[2]), "{text}");
    assert!(
        lines[at + 2].ends_with("module = \"generated\")]\n"),
        "{text}"
    );
    [&lines[..at], &lines[at + 3..]].concat().concat()
}

/// The handler files are the scaffold's: scaffolding again finds nothing to add, and each
/// file is what the scaffold writes for a new file (`scaffold` with no files yet). With
/// `guide_bodies`, the method bodies are the guide's instead: every line outside them
/// (header, `use` lines, struct, impl, signatures, markers) is still byte for byte the
/// scaffold's.
fn assert_handlers_are_the_scaffold(dir: &Path, file_names: &[&str], guide_bodies: bool) {
    let report = scaffold(dir);
    let names: Vec<&str> = report
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, file_names, "{report}");
    assert!(
        report.files.iter().all(|f| f.outcome == Outcome::UpToDate),
        "{report}"
    );

    let empty = tempfile::tempdir().unwrap();
    let protos = [dir.join("proto").join("service.proto")];
    let descriptors = Descriptors::compile(&protos, &[dir.join("proto")]).unwrap();
    let (model, _) = model_of(&descriptors, &Params::default()).unwrap();
    let fresh = Scaffold::new("crate::pb")
        .flat(true)
        .render(&model, empty.path(), |_| Ok(None))
        .unwrap();
    for (file, new) in report.files.iter().zip(&fresh.files) {
        let ours = std::fs::read_to_string(&file.path).unwrap();
        // The derive style's handler carries the derive: the scaffold's file but for it.
        let ours = without_derive(&ours);
        if !guide_bodies {
            assert_eq!(ours, new.content, "{}", file.path.display());
            continue;
        }
        assert_eq!(outside_bodies(&ours), outside_bodies(&new.content));
        assert!(ours.contains("Status::not_found(\"User not found\")"));
        assert!(ours.contains("while sink.is_active()"));
        assert!(ours.contains("total += chunk.len() as u64;"));
        assert!(ours.contains("format!(\"Delivered: {}\", request.text)"));
    }
}

// Growing the proto
// ---------------------------------------------------------------------------------------------

const NEW_RPCS: &str = "
  // Added later: one RPC of each pattern.
  rpc Ping(Note) returns (Note);
  rpc Watch(Note) returns (stream Note);
  rpc Store(stream Blob) returns (Note);
  rpc Echo(stream Note) returns (stream Note);
}

// A note, either way.
message Note {
  // The text.
  string text = 1;
}

// One piece of a stored blob.
message Blob {
  // The bytes of this piece.
  bytes data = 1;
}
";

/// Calls each new RPC through the harness: every stub answers `UNIMPLEMENTED`.
const GROWN_TEST: &str = r#"//! The RPCs added to the proto answer UNIMPLEMENTED until they are written.

use order_desk::handlers::order_desk::OrderDeskImpl;
use order_desk::pb::order_desk_stream::test_server;
use order_desk::pb::{Blob, Note};
use rust_stream::UploadError;
use tonic::Code;

#[tokio::test]
async fn new_rpcs_answer_unimplemented() {
    let (client, _server) = test_server(OrderDeskImpl).await.unwrap();
    let status = client.ping(Note::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);

    let status = match client.watch(Note::default()).await {
        Err(status) => status,
        Ok(mut notes) => notes.message().await.unwrap_err(),
    };
    assert_eq!(status.code(), Code::Unimplemented);

    let data = std::io::Cursor::new(vec![7u8; 10]);
    match client.store_from(data, 4, |_| {}).await {
        Err(UploadError::Status(status)) => assert_eq!(status.code(), Code::Unimplemented),
        other => panic!("{other:?}"),
    }
    let _ = Blob::default();

    let (requests, mut notes) = client.echo();
    requests.send(Note::default()).await.unwrap();
    drop(requests);
    assert_eq!(notes.message().await.unwrap_err().code(), Code::Unimplemented);
}
"#;

/// Adds an RPC of each pattern to the proto and runs the scaffold command: the handler file
/// gets a stub for each, inserted above the marker line, every existing line unchanged; the
/// crate builds, its tests and the new stubs' test pass, clippy is clean.
fn grow(dir: &Path) {
    let proto_path = dir.join("proto").join("service.proto");
    let proto = std::fs::read_to_string(&proto_path).unwrap();
    let chat = "  rpc Chat(stream Message) returns (stream Message);\n}\n";
    assert!(proto.contains(chat), "{proto}");
    let grown = proto.replacen(
        chat,
        &format!("  rpc Chat(stream Message) returns (stream Message);\n{NEW_RPCS}"),
        1,
    );
    std::fs::write(&proto_path, grown).unwrap();

    let handler = dir.join("src").join("handlers").join("order_desk.rs");
    let before = std::fs::read_to_string(&handler).unwrap();
    let report = rust_stream_build::cli::run_args([
        "rust-stream",
        "scaffold",
        proto_path.to_str().unwrap(),
        "-I",
        dir.join("proto").to_str().unwrap(),
        "--out",
        dir.join("src").join("handlers").to_str().unwrap(),
        "--module-path",
        "crate::pb",
        "--flat",
    ])
    .unwrap();
    assert!(
        report.ends_with(": added Ping, Watch, Store, Echo\n"),
        "{report}"
    );
    let after = std::fs::read_to_string(&handler).unwrap();
    let marker = before
        .find("    // rust-stream: new RPCs are added above this line.")
        .expect("the marker line");
    assert!(after.len() > before.len());
    assert!(after.starts_with(&before[..marker]), "{after}");
    assert!(after.ends_with(&before[marker..]), "{after}");
    for rpc in ["Ping", "Watch", "Store", "Echo"] {
        assert!(
            after.contains(&format!("// rust-stream: rpc {rpc}\n")),
            "{after}"
        );
    }

    std::fs::write(dir.join("tests").join("grown.rs"), GROWN_TEST).unwrap();
    cargo(dir, &["build", "--all-targets"]);
    let test = cargo(dir, &["test"]);
    let report = String::from_utf8_lossy(&test.stdout);
    assert!(
        report.contains("test new_rpcs_answer_unimplemented ... ok"),
        "{report}"
    );
    // The crate's own eight tests pass as before, next to the new one.
    assert_eq!(
        report.matches("test result: ok. 4 passed").count(),
        2,
        "{report}"
    );
    assert_eq!(
        report.matches("test result: ok. 1 passed").count(),
        1,
        "{report}"
    );
    cargo(dir, &["clippy", "--all-targets", "--", "-D", "warnings"]);

    // A second run has nothing to add.
    let again = scaffold(dir);
    assert_eq!(again.files[0].outcome, Outcome::UpToDate);
}

// Serving
// ---------------------------------------------------------------------------------------------

/// The crate's server, started on a free port; killed if still running when dropped.
struct Server {
    child: Option<Child>,
    addr: String,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn bin(name: &str) -> PathBuf {
    target_dir().join("debug").join(name)
}

fn start(name: &str) -> Server {
    let mut child = Command::new(bin(name))
        .args(["--addr", "127.0.0.1:0", "--shutdown-grace"])
        .arg(GRACE.as_secs().to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    Server {
        child: Some(child),
        addr,
        stdout,
    }
}

fn client(name: &str, addr: &str, args: &[&str]) -> Output {
    Command::new(bin(&format!("{name}-client")))
        .arg("--addr")
        .arg(format!("http://{addr}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout_of(output: &Output, what: &str) -> String {
    assert_success(output, what);
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The venv's Python with grpcio and its health and reflection clients.
fn python() -> &'static Path {
    rust_stream_tests::interop_python(env!("CARGO_TARGET_TMPDIR"))
}

/// Every RPC of the guide's proto through the crate's client, with the guide's answers.
fn call_the_guide(dir: &Path, name: &str, addr: &str) {
    let user = stdout_of(&client(name, addr, &["get-user", "42"]), "get-user 42");
    assert_eq!(user, "Ada Lovelace <ada@example.com>\n");
    let unknown = client(name, addr, &["get-user", "7"]);
    assert!(!unknown.status.success());
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "NOT_FOUND: User not found\n"
    );
    let events = stdout_of(
        &client(
            name,
            addr,
            &["list-events", "--after", "10", "--count", "3"],
        ),
        "list-events",
    );
    assert_eq!(
        events,
        "event 11 logout (64 bytes)\nevent 12 login (64 bytes)\nevent 13 click (64 bytes)\n"
    );
    let upload = dir.join("Cargo.lock");
    let size = std::fs::metadata(&upload).unwrap().len();
    let uploaded = stdout_of(
        &client(name, addr, &["upload-chunks", upload.to_str().unwrap()]),
        "upload-chunks",
    );
    assert_eq!(uploaded, format!("uploaded {size} bytes\n"));
    let chat = stdout_of(&client(name, addr, &["chat", "hello", "wörld"]), "chat");
    assert_eq!(chat, "server: Delivered: hello\nserver: Delivered: wörld\n");
}

/// Every RPC of the catalog through the crate's client: each scaffolded stub answers
/// UNIMPLEMENTED, the upload's after reading all of it.
fn call_the_catalog(dir: &Path, name: &str, addr: &str) {
    let upload = dir.join("Cargo.lock");
    let size = std::fs::metadata(&upload).unwrap().len();
    for (args, rpc) in [
        (
            vec!["get-item", "1"],
            "GetItem is not implemented yet".to_owned(),
        ),
        (
            vec!["watch-stock", "1"],
            "WatchStock is not implemented yet".to_owned(),
        ),
        (
            vec!["upload-image", upload.to_str().unwrap()],
            format!("UploadImage is not implemented yet ({size} bytes received)"),
        ),
        (
            vec!["sync", "one", "two"],
            "Sync is not implemented yet".to_owned(),
        ),
    ] {
        let output = client(name, addr, &args);
        assert!(!output.status.success(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("UNIMPLEMENTED: {rpc}\n"),
            "{args:?}"
        );
    }
}

/// Starts the server, runs `calls` against it, checks health and reflection with grpcio's
/// clients, then sends SIGTERM, with a stream open if `stream` gives the client's arguments
/// for one: the stream ends with `UNAVAILABLE` and the server exits within the grace period.
fn serve_and_check(
    name: &str,
    services: &[&str],
    calls: impl FnOnce(&str),
    stream: Option<&[&str]>,
) {
    let mut server = start(name);
    let addr = server.addr.clone();
    calls(&addr);

    let checked = Command::new(python())
        .arg(workspace().join("tests/interop/health_reflection.py"))
        .arg(&addr)
        .args(services)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let lines = stdout_of(&checked, "health_reflection.py");
    let mut expected = String::new();
    for service in services {
        expected.push_str(&format!("health {service} SERVING\n"));
    }
    expected.push_str("health (server) SERVING\n");
    let mut listed: Vec<&str> = services.to_vec();
    listed.extend([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]);
    listed.sort_unstable();
    for version in ["v1", "v1alpha"] {
        let mut got: Vec<&str> = lines
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("reflection {version} ")))
            .collect();
        got.sort_unstable();
        assert_eq!(got, listed, "{lines}");
        for service in services {
            assert!(
                lines.contains(&format!(
                    "file {version} {service} service.proto options kept\n"
                )),
                "{lines}"
            );
        }
    }
    assert!(lines.starts_with(&expected), "{lines}");

    // SIGTERM, with a stream open if there is one.
    let open = stream.map(|args| {
        let mut child = Command::new(bin(&format!("{name}-client")))
            .arg("--addr")
            .arg(format!("http://{addr}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "the stream sent nothing");
        // Keep reading, so the stream never waits on this side.
        let reader = std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        (child, reader)
    });

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &server.child.as_ref().unwrap().id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let child = server.child.take().unwrap();
    let status = exit_within(child, GRACE + EXIT_SLACK).expect("the server exits");
    let took = signalled.elapsed();
    assert!(status.success(), "{status}");
    assert!(took < GRACE + EXIT_SLACK, "{took:?}");
    let mut rest = String::new();
    server.stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(rest.ends_with("shut down\n"), "{rest}");

    if let Some((mut child, reader)) = open {
        let mut client_stderr = child.stderr.take().unwrap();
        let ended = exit_within(child, EXIT_SLACK).expect("the client's stream ends");
        let mut stderr = String::new();
        client_stderr.read_to_string(&mut stderr).unwrap();
        let copied = reader.join().unwrap().unwrap();
        assert!(!ended.success(), "{ended} after {copied} bytes: {stderr}");
        assert_eq!(stderr, "UNAVAILABLE: the server is shutting down\n");
    }
}

/// The child's exit status, or `None` (and the child killed) if it is still running after
/// `limit`.
fn exit_within(mut child: Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let pid = child.id().to_string();
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait()));
    match exited.recv_timeout(limit) {
        Ok(status) => Some(status.unwrap()),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            None
        }
    }
}

//! The service-crate template (`templates/service`), as a user meets it: with the real
//! cargo-generate (`.ci/run` installs it) for the guide's example, and with `rust-stream
//! new` for a proto of our own (`tests/template/telemetry`: three services, all four
//! patterns, RPCs named after keywords and trait methods, messages named `Status` and
//! `Result`, every well-known type, maps, oneofs, enums, a chunk upload, an import from
//! another directory). Each crate is generated into a temporary directory outside the
//! workspace, depending on this checkout, then built, tested, linted and format-checked;
//! its server is started and checked with its own client and grpcio's health and reflection
//! clients, and shut down with SIGTERM while a stream and a health watch are open. The own
//! proto then grows (a service, an RPC) and shrinks (an RPC), with one `rust-stream sync`
//! each, in both codegen styles.
//!
//! Every generated crate builds into the target directory the other nested builds share
//! (`target/generator-compile`), with the workspace's lock file: the dependencies compile
//! once for all of them, and those whose features are the same as in the generator's compile
//! corpus, the derive crates and the benchmarks' case 9 (tokio, h2, prost, rustls, the
//! generator) are not compiled again.

use rust_stream_build::scaffold::{Files, Scaffold};
use rust_stream_build::service_crate::{self, new::template_paths};
use rust_stream_tests::workspace;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The shutdown grace the servers get: far longer than [`PROMPT`], so that a shutdown that
/// waits for it (instead of ending open streams at once) fails the test.
const GRACE: Duration = Duration::from_secs(600);
/// How long a server may take to exit after SIGTERM with only streams open, and a client
/// to see its stream end. It takes milliseconds; the bound only tells "at once" from "after
/// the grace", so it is far from both and no load on the machine reaches it.
const PROMPT: Duration = Duration::from_secs(120);

/// The own proto's services.
const TELEMETRY_SERVICES: [&str; 3] = [
    "acme.telemetry.v1.Admin",
    "acme.telemetry.v1.Ingest",
    "acme.telemetry.v1.Query",
];

#[test]
fn the_guide_crate_from_cargo_generate_builds_tests_lints_and_serves() {
    let krate = generate("guide-service", &[]);
    let dir = krate.path();
    // Four RPCs over the socket, four handler tests through the test kit.
    check_crate(dir, &[4, 4]);
    assert_in_step(dir);
    serve_and_check(
        "guide-service",
        &["streaming.StreamingExamples"],
        |addr| call_the_guide(dir, "guide-service", addr),
        Some(&["call", "ListEvents", "{}"]),
    );
    check_production("guide-service");
    check_manifests(dir);
}

#[test]
fn an_own_proto_crate_built_by_build_rs_serves_grows_and_shrinks_with_one_command() {
    own_proto_crate("telemetry-rs", "build-rs");
}

#[test]
fn an_own_proto_crate_built_by_the_derive_serves_grows_and_shrinks_with_one_command() {
    own_proto_crate("telemetry-derive", "derive");
}

/// Values the template does not take are refused by cargo-generate and by `rust-stream
/// new`. `rust-stream new` checks them before writing anything and says what is accepted;
/// cargo-generate creates the destination before it checks (no hook of a template runs
/// earlier with the values), so an empty directory stays there.
#[test]
fn refused_placeholders_say_what_is_accepted_and_leave_nothing_behind() {
    for (key, value, accepted) in [
        ("tuning", "fast", "balanced, low_latency, bulk_transfer"),
        ("codegen", "plugin", "build-rs, derive"),
        ("listen_addr", "no-port", "^[^\\s\"]+:[0-9]+$"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let output = generate_command("refused", tmp.path(), &[(key, value)])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{key}={value}");
        assert!(
            stderr.contains(&format!("\"{value}\" is not a valid value for {key}")),
            "{key}={value}: {stderr}"
        );
        assert!(!tmp.path().join("refused/Cargo.toml").exists(), "{stderr}");

        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("refused");
        let define = format!("{key}={value}");
        let err = rust_stream(&["new", dir.to_str().unwrap(), "--define", &define]).unwrap_err();
        assert!(
            err.contains(&format!("\"{value}\" is not a valid value for {key}"))
                && err.contains(accepted),
            "{err}"
        );
        assert!(!dir.exists());
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("refused");
    let err = rust_stream(&["new", dir.to_str().unwrap(), "--define", "colour=blue"]).unwrap_err();
    assert!(
        err.contains("unknown placeholder `colour`; valid placeholders: codegen, listen_addr"),
        "{err}"
    );
    assert!(!dir.exists());
}

/// The template's example is what the generator makes of the guide's proto, and
/// `rust-stream new` renders every file the template has.
#[test]
fn the_template_is_in_step_with_the_generator() {
    let template = workspace().join("templates").join("service");
    assert_eq!(
        std::fs::read_to_string(template.join("proto/streaming.proto")).unwrap(),
        std::fs::read_to_string(workspace().join("proto/streaming.proto")).unwrap(),
        "the template's proto is the guide's"
    );
    let mut files: Vec<String> = walk(&template)
        .iter()
        .map(|f| f.strip_prefix(&template).unwrap().display().to_string())
        .filter(|f| f != "cargo-generate.toml")
        .collect();
    files.sort();
    let mut embedded: Vec<&str> = template_paths();
    embedded.sort_unstable();
    assert_eq!(files, embedded);
}

// An own proto
// ---------------------------------------------------------------------------------------------

/// `rust-stream new` from the telemetry proto in the `codegen` style; then the checks, the
/// growth and the shrinking.
fn own_proto_crate(name: &str, codegen: &str) {
    let tmp = outside_tempdir();
    let dir = tmp.path().join(name);
    let proto_root = workspace().join("tests/template/telemetry");
    let proto = proto_root.join("acme/telemetry/v1/telemetry.proto");
    let define = format!("codegen={codegen}");
    let report = rust_stream(&[
        "new",
        dir.to_str().unwrap(),
        "--proto",
        proto.to_str().unwrap(),
        "-I",
        proto_root.to_str().unwrap(),
        "--define",
        &define,
    ])
    .unwrap();
    for file in ["admin.rs", "ingest.rs", "query.rs"] {
        assert!(report.contains(&format!("{file}: created")), "{report}");
    }
    assert!(dir.join("proto/acme/common/v1/labels.proto").is_file());
    assert!(!dir.join("tests/handlers.rs").exists());
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    no_liquid_left(&dir);
    check_manifests(&dir);

    // 13 RPCs, a test each.
    check_crate(&dir, &[13]);
    assert_in_step(&dir);
    serve_and_check(
        name,
        &TELEMETRY_SERVICES,
        |addr| call_the_stubs(&dir, name, addr),
        None,
    );

    grow(&dir, name);
    shrink(&dir);
}

/// Every RPC of the telemetry proto through the crate's client: each stub answers
/// UNIMPLEMENTED, the upload's after reading all of it.
fn call_the_stubs(dir: &Path, name: &str, addr: &str) {
    let listed = stdout_of(&client(name, addr, &["list"]), "list");
    for method in [
        "Ingest/Record",
        "Ingest/Into",
        "Query/Type",
        "Query/Match",
        "Query/ToOwned",
        "Admin/Status",
        "Admin/AsRef",
    ] {
        assert!(listed.contains(method), "{listed}");
    }
    for method in [
        "Record", "Push", "Clone", "Into", "Type", "Match", "Tail", "ToOwned", "Status", "Result",
        "Hash", "AsRef",
    ] {
        // A wrapper type's JSON is its value (proto3's mapping), every other message `{}`.
        let json = if method == "Hash" { "\"text\"" } else { "{}" };
        let output = client(name, addr, &["call", method, json]);
        assert_eq!(output.status.code(), Some(1), "{method}: {output:?}");
        // A client-streaming stub reads the whole stream first: here one message.
        let read = if ["Push", "ToOwned"].contains(&method) {
            " (1 messages received)"
        } else {
            ""
        };
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("UNIMPLEMENTED: {method} is not implemented yet{read}\n"),
            "{method}"
        );
    }
    let upload = dir.join("Cargo.lock");
    let size = std::fs::metadata(&upload).unwrap().len();
    let output = client(
        name,
        addr,
        &["call", "Upload", "--upload", upload.to_str().unwrap()],
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("UNIMPLEMENTED: Upload is not implemented yet ({size} bytes received)\n")
    );
}

const GROWN_SERVICE: &str = "
// Added later: a fourth service.
service Alerts {
  // Raises an alert.
  rpc Raise(Sample) returns (Ack);
}
";

/// A service and an RPC added, one sync: the crate builds, tests (a test more for each),
/// lints and is formatted; no existing line of a handler changed; the new RPCs answer
/// UNIMPLEMENTED.
fn grow(dir: &Path, name: &str) {
    let proto = dir.join("proto/acme/telemetry/v1/telemetry.proto");
    let text = std::fs::read_to_string(&proto).unwrap();
    let grown = text.replace(
        "  rpc ToOwned(stream Sample) returns (google.protobuf.Empty);\n",
        "  rpc ToOwned(stream Sample) returns (google.protobuf.Empty);\n  // Added later.\n  rpc Count(TailRequest) returns (Result);\n",
    ) + GROWN_SERVICE;
    std::fs::write(&proto, grown).unwrap();
    let before = handler_files(dir);

    // Before the sync, the new service is a compile error that names its missing handler.
    let unsynced = cargo_output(dir, &["build"]);
    let stderr = String::from_utf8_lossy(&unsynced.stderr);
    assert!(!unsynced.status.success());
    assert!(stderr.contains("missing field `alerts`"), "{stderr}");

    let report = rust_stream(&["sync", dir.to_str().unwrap()]).unwrap();
    assert!(report.contains("alerts.rs: created"), "{report}");
    assert!(report.contains("query.rs: added Count"), "{report}");
    assert!(report.contains("ingest.rs: up to date"), "{report}");
    let after = handler_files(dir);
    for (file, old) in &before {
        let new = &after[file];
        assert!(only_insertions(old, new), "{file}:\n{new}");
    }

    check_crate(dir, &[15]);
    assert_in_step(dir);
    let server = start(name);
    for method in ["Count", "Raise"] {
        let output = client(name, &server.addr, &["call", method, "{}"]);
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("UNIMPLEMENTED: {method} is not implemented yet\n")
        );
    }
}

/// An RPC removed: the sync names the stale method with its `file:line`, fails, and
/// changes nothing.
fn shrink(dir: &Path) {
    let proto = dir.join("proto/acme/telemetry/v1/telemetry.proto");
    let text = std::fs::read_to_string(&proto).unwrap();
    let shrunk = text.replace("  rpc Tail(TailRequest) returns (stream Sample);\n", "");
    assert_ne!(shrunk, text);
    std::fs::write(&proto, shrunk).unwrap();
    let before = all_files(dir);
    let err = rust_stream(&["sync", dir.to_str().unwrap()]).unwrap_err();
    let query = dir.join("src/handlers/query.rs");
    let line = std::fs::read_to_string(&query)
        .unwrap()
        .lines()
        .position(|l| l.contains("rpc Tail"))
        .map(|i| i + 1)
        .unwrap();
    assert!(
        err.contains(&format!("{}:{line}", query.display())) && err.contains("Tail"),
        "{err}"
    );
    assert_eq!(all_files(dir), before, "a refused sync writes nothing");
}

/// The handler files by name, with their text.
fn handler_files(dir: &Path) -> BTreeMap<String, String> {
    walk(&dir.join("src/handlers"))
        .into_iter()
        .filter(|f| f.file_name().unwrap() != "mod.rs")
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

/// Every file of the crate but `target/`, with its bytes.
fn all_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect()
}

/// `new` is `old` with lines inserted: every line of `old` is in `new`, in order.
fn only_insertions(old: &str, new: &str) -> bool {
    let mut new_lines = new.lines();
    old.lines().all(|line| new_lines.any(|n| n == line))
}

// The template and the generator
// ---------------------------------------------------------------------------------------------

/// A sync finds nothing to do in a crate as generated (or as just synced): the handler
/// files and `mod.rs` are exactly what the generator makes of the protos. The guide's
/// handler differs from a fresh skeleton only inside the method bodies.
fn assert_in_step(dir: &Path) {
    let before = all_files(dir);
    let report = rust_stream(&["sync", dir.to_str().unwrap()]).unwrap();
    assert!(
        !report.contains("created") && !report.contains("added"),
        "{report}"
    );
    assert!(report.contains("mod.rs: up to date"), "{report}");
    assert_eq!(all_files(dir), before);

    let protos = service_crate::model(dir).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let fresh = Scaffold::new(service_crate::MODULE_PATH)
        .render(&protos.model, empty.path(), &Files::new())
        .unwrap();
    for file in &fresh.files {
        let name = file.path.file_name().unwrap();
        let ours = std::fs::read_to_string(dir.join("src/handlers").join(name)).unwrap();
        assert_eq!(outside_bodies(&ours), outside_bodies(&file.content));
    }
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

// Generating and building
// ---------------------------------------------------------------------------------------------

/// The target directory shared with the other nested builds (see the module docs).
fn target_dir() -> PathBuf {
    workspace().join("target").join("generator-compile")
}

/// The `rust-stream` CLI, run in this process (the binary prints what this returns, and
/// each error line): what it printed, or its errors.
fn rust_stream(args: &[&str]) -> Result<String, String> {
    let args = std::iter::once("rust-stream").chain(args.iter().copied());
    rust_stream_build::cli::run_args(args).map_err(|err| {
        let lines: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
        lines.join("\n")
    })
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

/// A temporary directory outside the workspace.
fn outside_tempdir() -> tempfile::TempDir {
    let tmp = tempfile::Builder::new()
        .prefix("rust-stream-template-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    assert!(
        !tmp.path().starts_with(workspace()),
        "the temporary directory must be outside the workspace"
    );
    tmp
}

/// A crate generated from the template, deleted when dropped.
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
    let tmp = outside_tempdir();
    let output = generate_command(name, tmp.path(), defines)
        .output()
        .unwrap();
    assert_success(&output, "cargo generate");
    let path = tmp.path().join(name);
    std::fs::copy(workspace().join("Cargo.lock"), path.join("Cargo.lock")).unwrap();
    no_liquid_left(&path);
    Generated { _tmp: tmp, path }
}

fn no_liquid_left(dir: &Path) {
    for file in walk(dir) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("{{") && !text.contains("{%"),
            "{} has Liquid left in it",
            file.display()
        );
    }
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

/// Every file below `dir`, `target/` left out.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().unwrap() != "target" {
                files.extend(walk(&path));
            }
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `cargo <args>` in `dir`, with the shared target directory, whatever its outcome.
fn cargo_output(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `cargo <args>` in `dir`, which must succeed.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let output = cargo_output(dir, args);
    assert_success(
        &output,
        &format!("cargo {} in {}", args.join(" "), dir.display()),
    );
    output
}

/// Builds, tests (each test binary with tests passing `passed` of them, in order), lints
/// with `-D warnings` and checks the format.
fn check_crate(dir: &Path, passed: &[usize]) {
    cargo(dir, &["build", "--all-targets"]);
    let test = cargo(dir, &["test"]);
    let report = String::from_utf8_lossy(&test.stdout);
    let counts: Vec<usize> = report
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .filter(|&n| n > 0)
        .collect();
    let mut expected = passed.to_vec();
    expected.sort_unstable();
    let mut got = counts.clone();
    got.sort_unstable();
    assert_eq!(got, expected, "{report}");
    cargo(dir, &["clippy", "--all-targets", "--", "-D", "warnings"]);
    cargo(dir, &["fmt", "--check"]);
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
    start_with(name, &[], &[])
}

/// The server `name` with `args` and `envs` beside the test's own.
fn start_with(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut child = Command::new(bin(name))
        .args(["--addr", "127.0.0.1:0", "--shutdown-grace"])
        .arg(GRACE.as_secs().to_string())
        .args(args)
        .env("RUST_LOG", "info")
        .envs(envs.iter().copied())
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
    let user = stdout_of(
        &client(name, addr, &["call", "GetUser", r#"{"id": "42"}"#]),
        "GetUser 42",
    );
    assert_eq!(
        user,
        "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}\n"
    );
    let unknown = client(name, addr, &["call", "GetUser", r#"{"id": "7"}"#]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "NOT_FOUND: User not found\n"
    );
    let events = stdout_of(
        &client(
            name,
            addr,
            &["call", "ListEvents", r#"{"after": "10"}"#, "--limit", "2"],
        ),
        "ListEvents",
    );
    let ids: Vec<&str> = events
        .lines()
        .map(|l| {
            l.split("\"id\":\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, ["11", "12"], "{events}");
    let upload = dir.join("Cargo.lock");
    let size = std::fs::metadata(&upload).unwrap().len();
    let uploaded = stdout_of(
        &client(
            name,
            addr,
            &["call", "UploadChunks", "--upload", upload.to_str().unwrap()],
        ),
        "UploadChunks",
    );
    assert!(uploaded.contains(&format!("\"{size}\"")), "{uploaded}");
    let chat = stdout_of(
        &client(name, addr, &["call", "Chat", r#"{"text": "hello"}"#]),
        "Chat",
    );
    assert!(chat.contains("Delivered: hello"), "{chat}");
}

/// Starts the server, runs `calls` against it, checks health and reflection with grpcio's
/// clients, then sends SIGTERM with a health watch open, and a stream if `stream` gives the
/// client's arguments for one: both end with `UNAVAILABLE` at once and the server exits
/// long before its grace is over.
fn serve_and_check(
    name: &str,
    services: &[&str],
    calls: impl FnOnce(&str),
    stream: Option<&[&str]>,
) {
    let mut server = start(name);
    let addr = server.addr.clone();
    calls(&addr);
    check_health_and_reflection(&addr, services);

    let watch = open(
        Command::new(python())
            .arg(workspace().join("tests/interop/health_watch.py"))
            .arg(&addr),
    );
    let stream = stream.map(|args| {
        open(
            Command::new(bin(&format!("{name}-client")))
                .arg("--addr")
                .arg(format!("http://{addr}"))
                .args(args),
        )
    });

    let kill = Command::new("kill")
        .args(["-TERM", &server.child.as_ref().unwrap().id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let child = server.child.take().unwrap();
    // Within PROMPT, far below GRACE: open streams did not hold the shutdown.
    let status = exit_within(child, PROMPT).expect("the server exits before the grace is over");
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    server.stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(rest.ends_with("shut down\n"), "{rest}");

    // NOT_SERVING may or may not reach the watch before its stream ends: the shutdown sets
    // it just before ending every stream.
    let (watch_status, watch_out, watch_err) = close(watch);
    assert!(watch_status.success(), "{watch_err}");
    let watched: Vec<&str> = watch_out.lines().filter(|l| *l != "NOT_SERVING").collect();
    assert_eq!(
        watched,
        ["SERVING", "ended UNAVAILABLE"],
        "{watch_out}{watch_err}"
    );
    if let Some(stream) = stream {
        let (ended, _, stderr) = close(stream);
        assert_eq!(ended.code(), Some(1), "{stderr}");
        assert_eq!(stderr, "UNAVAILABLE: the server is shutting down\n");
    }
}

/// The Kubernetes versions whose API the manifests are checked against: the oldest they
/// need (the `preStop` sleep is on by default from 1.30) and the newest the validator knows.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// The crate's Kubernetes manifests, as generated, against the Kubernetes API's schemas,
/// strictly (a misspelt field fails) and offline (`kubernetes-validate` ships the schemas);
/// and what the schemas cannot tell: the Service is headless, both probes ask the health
/// service, and the pod's termination grace covers the `preStop` sleep, the server's
/// shutdown grace and its last two seconds.
fn check_manifests(dir: &Path) {
    let manifests = dir.join("deploy").join("kubernetes.yaml");
    for version in KUBERNETES_VERSIONS {
        let output = Command::new(python())
            .args(["-m", "kubernetes_validate", "--strict", "-k", version])
            .arg(&manifests)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_success(&output, &format!("kubernetes-validate -k {version}"));
    }
    let text = std::fs::read_to_string(&manifests).unwrap();
    assert!(text.contains("clusterIP: None"), "not headless:\n{text}");
    for probe in ["readinessProbe", "livenessProbe"] {
        assert!(
            text.contains(&format!("{probe}:\n            grpc:\n")),
            "{probe} is not a gRPC health probe:\n{text}"
        );
    }
    let number = |after: &str| -> u64 {
        let rest = &text[text.find(after).unwrap_or_else(|| panic!("no {after}")) + after.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    let pod_grace = number("terminationGracePeriodSeconds: ");
    let (sleep, grace) = (
        number("sleep:\n                seconds: "),
        number("\"--shutdown-grace\", \""),
    );
    assert!(
        pod_grace > sleep + grace + 2,
        "terminationGracePeriodSeconds {pod_grace} must exceed the preStop sleep ({sleep} s), \
         the shutdown grace ({grace} s) and the server's last two seconds"
    );
}

/// TLS with a client certificate required, the bearer token and metrics, turned on as the
/// crate's README says: the crate's client with and without each credential, grpcio's
/// health client over mTLS without a token (health is exempt), then the metrics page.
fn check_production(name: &str) {
    let files = tempfile::tempdir().unwrap();
    let ca = rust_stream_tests::tls::Ca::new("template test CA");
    let ca_pem = files.path().join("ca.pem");
    std::fs::write(&ca_pem, &ca.pem).unwrap();
    let (cert, key) = ca.leaf(&["localhost"]).write(files.path(), "server");
    let (client_cert, client_key) = ca.leaf(&["client.test"]).write(files.path(), "client");
    let [ca_pem, cert, key, client_cert, client_key] =
        [ca_pem, cert, key, client_cert, client_key].map(|p| p.to_str().unwrap().to_owned());
    let mut server = start_with(
        name,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--client-ca",
            &ca_pem,
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[("AUTH_TOKEN", "s3cret")],
    );
    let mut line = String::new();
    server.stdout.read_line(&mut line).unwrap();
    let metrics_addr = line
        .trim()
        .strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("unexpected second line: {line:?}"))
        .to_owned();
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let https = format!("https://localhost:{port}");
    let call = |extra: &[&str]| {
        let output = Command::new(bin(&format!("{name}-client")))
            .args(["--addr", &https, "--ca", &ca_pem])
            .args(extra)
            .args(["call", "GetUser", r#"{"id": "42"}"#])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stderr, output.stdout)
    };
    let identity = ["--cert", client_cert.as_str(), "--key", client_key.as_str()];
    let token = ["-H", "authorization:Bearer s3cret"];
    let admitted = call(&[&identity[..], &token[..]].concat());
    assert_eq!(admitted.0, Some(0), "{}", admitted.1);
    assert!(String::from_utf8_lossy(&admitted.2).contains("Ada Lovelace"));
    let no_token = call(&identity);
    assert_eq!(
        (no_token.0, no_token.1.as_str()),
        (Some(1), "UNAUTHENTICATED: missing bearer token\n")
    );
    let wrong_token = call(&[&identity[..], &["-H", "authorization:Bearer guess"]].concat());
    assert_eq!(
        (wrong_token.0, wrong_token.1.as_str()),
        (Some(1), "UNAUTHENTICATED: invalid bearer token\n")
    );
    let no_certificate = call(&token);
    assert_ne!(
        no_certificate.0,
        Some(0),
        "a client without a certificate got in"
    );
    assert!(no_certificate.2.is_empty());

    let health = |extra: &[&str]| {
        let output = Command::new(python())
            .arg(workspace().join("tests/interop/health_tls.py"))
            .arg(&server.addr)
            .arg(&ca_pem)
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        stdout_of(&output, "health_tls.py")
    };
    assert_eq!(health(&[&client_cert, &client_key]), "SERVING\n");
    assert_eq!(health(&[]), "status UNAVAILABLE\n");

    let page = scrape(&metrics_addr);
    for expected in [
        "grpc_server_call_started_total{grpc_method=\"streaming.StreamingExamples/GetUser\"",
        "grpc_status=\"OK\"",
        "grpc_status=\"UNAUTHENTICATED\"",
    ] {
        assert!(page.contains(expected), "{expected} is not in\n{page}");
    }
}

/// The page `GET /metrics` answers on `addr`, whole.
fn scrape(addr: &str) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    page
}

/// Health of every service and of the server, and the services and their files over both
/// reflection versions, through grpcio's own clients.
fn check_health_and_reflection(addr: &str, services: &[&str]) {
    let checked = Command::new(python())
        .arg(workspace().join("tests/interop/health_reflection.py"))
        .arg(addr)
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
    assert!(lines.starts_with(&expected), "{lines}");
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
                lines.contains(&format!("file {version} {service} ")),
                "{lines}"
            );
        }
    }
}

/// A child with its output piped, once it has printed its first line (the stream or watch
/// is open); the rest is read on threads so it never waits on this side.
struct Open {
    child: Child,
    first: String,
    rest: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn open(command: &mut Command) -> Open {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "nothing arrived");
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        rest
    });
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    Open {
        child,
        first,
        rest,
        stderr,
    }
}

/// Waits (within [`PROMPT`]) for `open` to end; its status, whole stdout and stderr.
fn close(open: Open) -> (std::process::ExitStatus, String, String) {
    let status = exit_within(open.child, PROMPT).expect("the stream ends at once");
    let out = open.first + &open.rest.join().unwrap();
    (status, out, open.stderr.join().unwrap())
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

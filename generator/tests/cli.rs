//! The `rust-stream` binary as a user runs it: exit codes and messages for bad paths, a
//! stdout that is closed or full, and the scaffold report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const CLI: &str = env!("CARGO_BIN_EXE_rust-stream");

const PROTO: &str = "syntax = \"proto3\";\npackage demo;\nmessage M {}\n\
                     service Feed { rpc Watch(M) returns (stream M); }\n";

/// A directory `proto/` holding `demo.proto`.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("proto")).unwrap();
        std::fs::write(dir.path().join("proto/demo.proto"), PROTO).unwrap();
        Tree { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }
}

fn cli(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
    let mut cmd = Command::new(CLI);
    cmd.args(args.iter().map(|a| a.as_ref()));
    cmd.stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the CLI runs")
}

/// Asserts a failure with exit code 1 and exactly `lines` on stderr, nothing on stdout.
fn assert_fails_with(output: &Output, lines: &[String]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected: String = lines
        .iter()
        .map(|l| format!("rust-stream: {l}\n"))
        .collect();
    assert_eq!(stderr, expected);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_directory_given_as_the_proto_is_named_as_such() {
    let tree = Tree::new();
    let dir = tree.path("proto");
    let output = run(&mut cli(&[&"inspect", &"-I", &dir, &dir]));
    assert_fails_with(
        &output,
        &[format!(
            "{} is a directory; name the .proto files in it",
            dir.display()
        )],
    );
}

#[test]
fn a_missing_or_non_directory_include_is_named_with_the_os_reason() {
    let tree = Tree::new();
    let (missing, file) = (tree.path("nope"), tree.path("proto/demo.proto"));
    let proto = tree.path("proto/demo.proto");
    let output = run(&mut cli(&[
        &"inspect",
        &"-I",
        &missing,
        &"-I",
        &file,
        &"-I",
        &tree.path("proto"),
        &proto,
    ]));
    // Each problem on its own line, each prefixed.
    assert_fails_with(
        &output,
        &[
            format!(
                "include directory {} (-I): No such file or directory (os error 2)",
                missing.display()
            ),
            format!(
                "include directory {} (-I) is not a directory",
                file.display()
            ),
        ],
    );
}

#[test]
fn an_unreadable_proto_keeps_the_os_reason() {
    let tree = Tree::new();
    // A path through a regular file: the OS refuses it with ENOTDIR, even for root.
    let through_file = tree.path("proto/demo.proto/inner.proto");
    let output = run(&mut cli(&[
        &"inspect",
        &"-I",
        &tree.path("proto"),
        &through_file,
    ]));
    assert_fails_with(
        &output,
        &[format!(
            "cannot read {}: Not a directory (os error 20)",
            through_file.display()
        )],
    );
    // A missing name relative to the include directories says where it was looked for.
    let output = run(
        cli(&[&"inspect", &"-I", &tree.path("proto"), &"gone.proto"]).current_dir(tree.path("")),
    );
    assert_fails_with(
        &output,
        &[format!(
            "cannot read gone.proto: No such file or directory (os error 2); nor is it under -I {}",
            tree.path("proto").display()
        )],
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let tree = Tree::new();
    let fifo = tree.path("proto/pipe.proto");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let child = cli(&[&"inspect", &"-I", &tree.path("proto"), &fifo])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let output = match finished.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // It opened the FIFO and waits for a writer that never comes.
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("the CLI opened the FIFO and waited for a writer");
        }
    };
    assert_fails_with(
        &output,
        &[format!("{} is not a regular file", fifo.display())],
    );
}

#[test]
fn a_proto_outside_every_include_directory_says_how_to_fix_it() {
    let tree = Tree::new();
    std::fs::create_dir(tree.path("other")).unwrap();
    let proto = tree.path("proto/demo.proto");
    let output = run(&mut cli(&[&"inspect", &"-I", &tree.path("other"), &proto]));
    assert_fails_with(
        &output,
        &[format!(
            "{} is not inside any include directory (-I {}); add its directory with -I",
            proto.display(),
            tree.path("other").display()
        )],
    );
}

/// A proto reached by a path that enters the include directory through `..` is found, as
/// a user expects.
#[test]
fn a_proto_inside_an_include_directory_by_another_path_is_found() {
    let tree = Tree::new();
    std::fs::create_dir(tree.path("other")).unwrap();
    let detour = tree.path("other/../proto/demo.proto");
    let output = run(&mut cli(&[
        &"inspect",
        &"--json",
        &"-I",
        &tree.path("proto"),
        &detour,
    ]));
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"service\": \"demo.Feed\""));
}

/// `| head -c1` closes the pipe; here the read end is closed before the CLI starts, so
/// every write fails, deterministically.
#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    let tree = Tree::new();
    for args in [
        &["inspect", "-I", "proto", "proto/demo.proto"][..],
        &["--help"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = run(cli(&args
            .iter()
            .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
            .collect::<Vec<_>>())
        .current_dir(tree.path(""))
        .stdout(writer));
        assert_fails_with(
            &output,
            &["writing the output: Broken pipe (os error 32)".to_owned()],
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let tree = Tree::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = run(cli(&[&"inspect", &"-I", &"proto", &"proto/demo.proto"])
        .current_dir(tree.path(""))
        .stdout(full));
    assert_fails_with(
        &output,
        &["writing the output: No space left on device (os error 28)".to_owned()],
    );
}

#[test]
fn usage_errors_exit_2_with_clap_s_message() {
    let output = run(&mut cli(&[&"inspect"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: the following required arguments were not provided"),
        "{stderr}"
    );
}

/// The report is one line per file, derived from each file's outcome.
#[test]
fn scaffold_reports_created_then_up_to_date() {
    let tree = Tree::new();
    let out = tree.path("src/skeletons");
    let args: [&dyn AsRef<std::ffi::OsStr>; 6] = [
        &"scaffold",
        &"--out",
        &out,
        &"-I",
        &"proto",
        &"proto/demo.proto",
    ];
    let file = out.join("feed.rs");
    for outcome in ["created", "up to date"] {
        let output = run(cli(&args).current_dir(tree.path("")));
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{}: {outcome}\n", file.display())
        );
    }
    assert!(Path::new(&file).is_file());
}

/// A proto that lost an RPC: the run fails with exit code 1, names the stub at `file:line`
/// with what to do, and leaves the handler file byte for byte as it was.
#[test]
fn scaffold_reports_an_rpc_that_left_the_proto_and_writes_nothing() {
    let tree = Tree::new();
    let proto = tree.path("proto/demo.proto");
    let two_rpcs = PROTO.replace(
        "service Feed { ",
        "service Feed { rpc GetUser(M) returns (M); ",
    );
    std::fs::write(&proto, two_rpcs).unwrap();
    let out = tree.path("src/handlers");
    let args: [&dyn AsRef<std::ffi::OsStr>; 6] = [
        &"scaffold",
        &"--out",
        &out,
        &"-I",
        &"proto",
        &"proto/demo.proto",
    ];
    let output = run(cli(&args).current_dir(tree.path("")));
    assert!(output.status.success(), "{output:?}");
    let file = out.join("feed.rs");
    let before = std::fs::read(&file).unwrap();
    let text = String::from_utf8(before.clone()).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.trim() == "// rust-stream: rpc GetUser")
        .expect("the stub's marker");

    std::fs::write(&proto, PROTO).unwrap();
    let output = run(cli(&args).current_dir(tree.path("")));
    assert_fails_with(
        &output,
        &[format!(
            "{}:{line}: method `get_user` (rpc GetUser) is no longer in demo.Feed: delete it, \
             or, if the RPC was renamed, rename the method and its marker to the new name",
            file.display()
        )],
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

//! The harness in smoke mode (small sizes, one repetition), so it cannot rot: every case
//! must run to the end and land in the results table.
//!
//! Nothing is compiled inside a timed run: case 9 builds crates with cargo, and their
//! dependencies (tonic, prost, the generator, in several profiles) are compiled first by
//! the harness's `prepare` command under its own, much longer bound ([`BUILD_TIMEOUT`]).
//! The timed smoke run then compiles only the small crates case 9 measures. In smoke mode
//! the optimized derive optimizes the macro crate alone, so that its dependencies are
//! compiled once, not twice (see `profile` in `benches/src/cases/derive.rs`).

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Generous for a run that compiles nothing but case 9's own small crates: a debug build
/// on a busy two-core machine takes well under a minute.
const TIMEOUT: Duration = Duration::from_secs(600);

/// A bound on `prepare`, which compiles case 9's dependencies from scratch on a fresh
/// clone: minutes on a busy two-core machine; the bound only stops a build that hangs.
const BUILD_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Runs the benchmark binary with `args`, killing it after [`TIMEOUT`].
fn run(args: &[&OsStr]) -> Output {
    run_within(args, TIMEOUT)
}

/// Compiles what the timed runs build on (see the module docs).
fn prepare() {
    let output = run_within(&["--smoke".as_ref(), "prepare".as_ref()], BUILD_TIMEOUT);
    assert!(
        output.status.success(),
        "preparing the cases failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the benchmark binary with `args`, killing it after `limit`.
fn run_within(args: &[&OsStr], limit: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_rust-stream-benches"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the benchmark binary starts");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("the benchmark binary ran"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("the benchmark binary ran {args:?} longer than {limit:?}");
        }
    }
}

#[test]
fn every_case_runs_in_smoke_mode() {
    prepare();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("RESULTS.md");
    let output = run(&["--smoke".as_ref(), "--out".as_ref(), out.as_os_str()]);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the smoke run failed:\n{log}");

    let results = std::fs::read_to_string(&out).expect("the results were written");
    for case in [
        "1. Upload, loopback",
        "2. Upload, +10 ms one way",
        "2. Upload, +25 ms one way",
        "3. Server streaming",
        "4. Bidi ping-pong",
        "5. Cancellation",
        "6. Slow consumer",
        "7. Code generation",
        "8. Non-reading client",
        "9. Derive vs build.rs",
        "10. Metrics",
        "11. Fleet",
    ] {
        assert!(
            results.contains(&format!("| {case} |")),
            "no row for {case:?} in:\n{results}\n\nlog:\n{log}"
        );
    }
    assert!(results.contains("## Machine"), "{results}");
    assert!(!results.contains("failed:"), "a case failed:\n{results}");
}

/// The profiling mode uploads exactly the bytes asked for through every subject it names,
/// and refuses a subject it does not know.
#[test]
fn profile_upload_carries_every_byte() {
    for subject in ["gen-balanced", "plain", "raw"] {
        let output = run(&[
            "profile-upload".as_ref(),
            "--subject".as_ref(),
            subject.as_ref(),
            "--mib".as_ref(),
            "2".as_ref(),
        ]);
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{subject} failed:\n{log}");
        assert!(
            log.contains(&format!("{subject} uploaded {} bytes", 2 << 20)),
            "{log}"
        );
    }
    let output = run(&[
        "profile-upload".as_ref(),
        "--subject".as_ref(),
        "nope".as_ref(),
    ]);
    assert!(!output.status.success());
}

/// The ping-pong and event profiling modes do exactly the work asked for through the two
/// subjects they compare, and refuse raw TCP, which has neither a chat nor an event stream.
#[test]
fn profile_pingpong_and_events_do_the_work_asked_for() {
    let modes = [
        (
            "profile-pingpong",
            "--rounds",
            "50 round trips",
            "ping-pong",
        ),
        (
            "profile-events",
            "--events",
            "50 events",
            "server streaming",
        ),
    ];
    for (command, flag, done, case) in modes {
        for subject in ["gen-balanced", "plain"] {
            let output = run(&[
                command.as_ref(),
                "--subject".as_ref(),
                subject.as_ref(),
                flag.as_ref(),
                "50".as_ref(),
            ]);
            let log = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "{command} {subject} failed:\n{log}"
            );
            assert!(log.contains(subject) && log.contains(done), "{log}");
        }
        let output = run(&[command.as_ref(), "--subject".as_ref(), "raw".as_ref()]);
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(
            log.contains(&format!("{case} has no raw TCP subject")),
            "{log}"
        );
    }
}

//! The harness in smoke mode (small sizes, one repetition), so it cannot rot: every case
//! must run to the end and land in the results table.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Generous: a debug build on a busy two-core machine takes well under a minute.
const TIMEOUT: Duration = Duration::from_secs(600);

#[test]
fn every_case_runs_in_smoke_mode() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("RESULTS.md");
    let child = Command::new(env!("CARGO_BIN_EXE_rust-stream-benches"))
        .arg("--smoke")
        .arg("--out")
        .arg(&out)
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
    let output = match rx.recv_timeout(TIMEOUT) {
        Ok(output) => output.expect("the benchmark binary ran"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("the smoke run took longer than {TIMEOUT:?}");
        }
    };
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
    ] {
        assert!(
            results.contains(&format!("| {case} |")),
            "no row for {case:?} in:\n{results}\n\nlog:\n{log}"
        );
    }
    assert!(results.contains("## Machine"), "{results}");
    assert!(!results.contains("failed:"), "a case failed:\n{results}");
}

//! A fixed, seeded share of the fuzzers' work, run by every test run: the same inputs each
//! time, so a failure here reproduces with `cargo test -p rust-stream-fuzz`. Longer runs use
//! `cargo +nightly fuzz` (see this crate's README).

use rust_stream_fuzz::{plugin_case, protox_case, seeded_inputs};

/// Runs `case` on `count` seeded inputs and lists every finding with its input.
fn run(name: &str, count: usize, seed: u64, case: fn(&[u8]) -> Result<(), String>) {
    let findings: Vec<String> = seeded_inputs(count, seed)
        .filter_map(|input| {
            case(&input)
                .err()
                .map(|err| format!("{err}\n  input: {input:?}"))
        })
        .collect();
    assert!(
        findings.is_empty(),
        "{name}: {} of {count} inputs broke an invariant:\n{}",
        findings.len(),
        findings.join("\n")
    );
}

#[test]
fn plugin_requests_mutated_at_the_descriptor_level() {
    run("plugin", 300, 0x5eed_0001, plugin_case);
}

#[test]
fn protos_mutated_at_the_token_level() {
    run("protox", 150, 0x5eed_0002, protox_case);
}

#[test]
fn raw_bytes_as_requests() {
    // First byte 0: the rest goes to the plugin as it is.
    let findings: Vec<String> = seeded_inputs(300, 0x5eed_0003)
        .map(|mut input| {
            input[0] = 0;
            input
        })
        .filter_map(|input| plugin_case(&input).err())
        .collect();
    assert!(findings.is_empty(), "{findings:#?}");
}

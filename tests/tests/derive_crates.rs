//! `#[derive(StreamService)]` in a crate of its own, as a user has it: `rust-stream` and
//! the crates the generated code names in `[dependencies]`, protos in the crate, no build
//! script (`tests/derive/probe`). Three derives in one module, two on the same proto and one
//! on a proto sharing its import, serve and answer all four patterns; editing a proto, or a
//! file it imports, rebuilds the crate with the change. A fourth uses every well-known type
//! without prost-types in `[dependencies]`, through RPCs named like trait methods
//! (`Clone`, `Into`, `Borrow`, `TryInto`) that the crate calls with method syntax. A crate
//! on edition 2018 is refused with one error.
//!
//! Built in `target/generator-compile`, shared with the generator's compile tests, so the
//! dependencies are compiled once.

use rust_stream_tests::workspace;
use std::path::Path;
use std::process::Command;

/// `cargo <args> --offline` in `dir`, in the target directory shared with the generator's
/// compile tests, without the flags of the build running this test.
fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO"))
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("generator-compile"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs")
}

/// `cargo run` in `dir`: the binary's output. The build must be warning-free: the
/// expansion is generated code in the user's crate.
fn run(dir: &Path) -> String {
    let output = cargo(dir, &["run", "--quiet"]);
    assert!(
        output.status.success(),
        "cargo run failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        !log.contains("warning"),
        "warnings in {}:\n{log}",
        dir.display()
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The manifest of a crate using the derive, with what the guide lists for it: the
/// runtime, and what the generated code names.
fn manifest(name: &str, edition: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"{edition}\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n\
         rust-stream = {{ path = {runtime:?} }}\n\
         tonic = {{ version = \"0.14\", default-features = false, features = [\"transport\", \"codegen\", \"router\", \"server\", \"channel\"] }}\n\
         tonic-prost = \"0.14\"\nprost = \"0.14\"\n\
         tokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\", \"net\", \"sync\"] }}\n\
         tokio-stream = \"0.1\"\n",
        runtime = workspace().join("runtime").display().to_string(),
    )
}

/// A crate on edition 2018 (whose prelude lacks `TryInto`, which tonic's client code uses)
/// is refused at the attribute with one error naming 2021 as the minimum: none from the
/// generated code, none from the crate's uses of it.
#[test]
fn a_crate_on_edition_2018_gets_one_error_naming_the_minimum_edition() {
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("derive-2018");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(krate.join("Cargo.toml"), manifest("derive-2018", "2018")).unwrap();
    let proto = workspace().join("proto/streaming.proto");
    std::fs::write(
        krate.join("src/main.rs"),
        format!(
            "use rust_stream::StreamService;\n\
             use guide_proto::streaming::UserRequest;\n\n\
             #[derive(StreamService)]\n\
             #[stream_service(proto = {proto:?}, include = {include:?})]\n\
             struct Guide;\n\n\
             impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {{}}\n\n\
             fn main() {{\n    let _ = UserRequest::default();\n    let _ = Guide.serve(\"127.0.0.1:0\");\n}}\n",
            proto = proto.display().to_string(),
            include = workspace().join("proto").display().to_string(),
        ),
    )
    .unwrap();
    let output = cargo(&krate, &["build", "--message-format=short"]);
    assert!(!output.status.success(), "an edition 2018 crate built");
    let log = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("error") && !line.contains("could not compile"))
        .collect();
    assert_eq!(errors.len(), 1, "one error:\n{log}");
    assert!(
        errors[0].contains("src/main.rs:5:")
            && errors[0].contains("needs Rust edition 2021 or later"),
        "{log}"
    );
}

/// Replaces `from` with `to` in `path`, which must contain it.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} contains {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn derives_serve_every_pattern_and_rebuild_when_a_proto_or_its_import_changes() {
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("derive-probe");
    let source = workspace().join("tests/derive/probe");
    for sub in ["src", "proto"] {
        std::fs::create_dir_all(krate.join(sub)).unwrap();
        for entry in std::fs::read_dir(source.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), krate.join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(krate.join("Cargo.toml"), manifest("derive-probe", "2024")).unwrap();

    let first = run(&krate);
    for line in [
        "max_message_size=1000000",
        "item=Item { id: \"\" }",
        "unary=got a",
        "server_streaming=w 0,w 1,w 2",
        "client_streaming=x+y",
        "bidi=re: hi",
        "stock=level of nuts",
        "wkt_unary=at 7 took 1 text seven count 3 nothing NullValue",
        "wkt_server_streaming=0,1,2",
        "wkt_client_streaming=well known",
        "wkt_bidi=2 empties",
    ] {
        assert!(first.lines().any(|l| l == line), "{line:?} in:\n{first}");
    }

    // The imported file changes: the crate is rebuilt with the new field.
    edit(
        &krate.join("proto/common.proto"),
        "string id = 1;",
        "string id = 1;\n  string note = 2;",
    );
    let second = run(&krate);
    assert!(
        second.contains("item=Item { id: \"\", note: \"\" }"),
        "{second}"
    );

    // The named proto changes: the tuning follows.
    edit(
        &krate.join("proto/orders.proto"),
        "max_message_size: 1000000",
        "max_message_size: 2000000",
    );
    let third = run(&krate);
    assert!(third.contains("max_message_size=2000000"), "{third}");
}

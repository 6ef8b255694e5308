//! Compile tests of generated code: the reference proto and the edge-case corpus under
//! `tests/generator/corpus` (plus a 400-method service), generated through the build API,
//! with a skeleton for every service, built with warnings denied under editions 2021 and
//! 2024 and checked by clippy with `-D warnings`.
//!
//! The crate is built in `target/generator-compile` so its dependencies are compiled once and
//! reused by later runs.

use rust_stream_build::Builder;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn big_proto(methods: usize) -> String {
    let mut proto = String::from(
        "syntax = \"proto3\";\npackage big;\nmessage Req { string id = 1; }\nmessage Res { bytes data = 1; }\nservice Big {\n",
    );
    for i in 0..methods {
        let (a, b) = match i % 4 {
            0 => ("", ""),
            1 => ("", "stream "),
            2 => ("stream ", ""),
            _ => ("stream ", "stream "),
        };
        writeln!(proto, "  rpc Method{i}({a}Req) returns ({b}Res);").unwrap();
    }
    proto.push_str("}\n");
    proto
}

fn cargo(dir: &Path, args: &[&str]) {
    cargo_with(dir, args, &[]);
}

fn cargo_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    let target = workspace().join("target").join("generator-compile");
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .envs(env.iter().copied())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {args:?} failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn generated_code_and_skeletons_compile_without_warnings_in_editions_2021_and_2024() {
    let root = workspace();
    let corpus = root.join("tests/generator/corpus");
    let tmp = tempfile::tempdir().unwrap();
    let krate = tmp.path();
    let protos_dir = krate.join("protos");
    std::fs::create_dir_all(&protos_dir).unwrap();
    std::fs::write(protos_dir.join("big.proto"), big_proto(400)).unwrap();
    std::fs::copy(
        root.join("proto/streaming.proto"),
        protos_dir.join("streaming.proto"),
    )
    .unwrap();

    let mut protos: Vec<PathBuf> = rust_stream_tests::GENERATOR_CORPUS
        .iter()
        .chain(rust_stream_tests::COMPILE_ONLY_CORPUS)
        .map(|p| corpus.join(p))
        .collect();
    protos.push(protos_dir.join("big.proto"));
    protos.push(protos_dir.join("streaming.proto"));
    let includes = [corpus.clone(), protos_dir.clone()];
    let gen_dir = krate.join("src/gen");
    Builder::new()
        .emit_rerun_if_changed(false)
        .include_file("mod.rs")
        .out_dir(&gen_dir)
        .compile(&protos, &includes)
        .unwrap_or_else(|err| panic!("generation failed: {err}"));

    // A skeleton per service, through the CLI's scaffold command. The reference service is
    // scaffolded first from an older version of its proto with two RPCs, and again below
    // with all four: the second run must only add stubs.
    let skeletons = krate.join("src/skeletons");
    let old_dir = krate.join("old");
    std::fs::create_dir_all(&old_dir).unwrap();
    let full = std::fs::read_to_string(root.join("proto/streaming.proto")).unwrap();
    let old_proto: String = full
        .lines()
        .filter(|l| !l.contains("rpc UploadChunks") && !l.contains("rpc Chat"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(old_dir.join("streaming.proto"), old_proto).unwrap();
    rust_stream_build::cli::run_args([
        "rust-stream".to_owned(),
        "scaffold".to_owned(),
        "--out".to_owned(),
        skeletons.display().to_string(),
        "-I".to_owned(),
        old_dir.display().to_string(),
        old_dir.join("streaming.proto").display().to_string(),
    ])
    .unwrap_or_else(|err| panic!("first scaffold failed: {err}"));
    let first = std::fs::read_to_string(skeletons.join("streaming_examples.rs")).unwrap();
    assert!(first.contains("fn list_events(") && !first.contains("fn chat("));
    let mut args = vec![
        "rust-stream".to_owned(),
        "scaffold".to_owned(),
        "--out".to_owned(),
        skeletons.display().to_string(),
        "--module-path".to_owned(),
        "crate::pb".to_owned(),
    ];
    for include in &includes {
        args.push("-I".to_owned());
        args.push(include.display().to_string());
    }
    args.extend(protos.iter().map(|p| p.display().to_string()));
    let report = rust_stream_build::cli::run_args(&args)
        .unwrap_or_else(|err| panic!("scaffold failed: {err}"));
    assert!(
        report.contains("added UploadChunks, Chat"),
        "scaffold report: {report}"
    );
    let second = std::fs::read_to_string(skeletons.join("streaming_examples.rs")).unwrap();
    assert!(second.contains("fn upload_chunks(") && second.contains("fn chat("));
    // Every old line is still there, in order, byte for byte.
    let mut new_lines = second.lines();
    for old_line in first.lines() {
        assert!(
            new_lines.any(|l| l == old_line),
            "line lost or changed by re-scaffolding: {old_line:?}"
        );
    }
    // A third run changes nothing.
    let report = rust_stream_build::cli::run_args(&args).unwrap();
    assert!(report.contains("up to date"), "{report}");
    assert_eq!(
        std::fs::read_to_string(skeletons.join("streaming_examples.rs")).unwrap(),
        second
    );
    let mut skeleton_mods = String::new();
    let mut files: Vec<_> = std::fs::read_dir(&skeletons)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    for (i, file) in files.iter().enumerate() {
        writeln!(skeleton_mods, "    #[path = \"{file}\"]\n    pub mod s{i};").unwrap();
    }

    let runtime = root.join("runtime");
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let lib = format!(
        "//! Generated code for the corpus.\n#![deny(warnings)]\n\n\
         /// Everything generated.\n#[allow(missing_docs)]\npub mod pb {{\n    include!(\"gen/mod.rs\");\n}}\n\n\
         /// Handler skeletons.\n#[allow(missing_docs)]\npub mod skeletons {{\n{skeleton_mods}}}\n\n\
         /// The reference service serves its skeleton.\n\
         pub fn serve_skeleton() -> impl Sized {{\n    \
         pb::streaming::streaming_examples_stream::StreamingExamplesService::new(\n        \
         skeletons::s{}::StreamingExamplesImpl,\n    )\n    .into_server()\n}}\n",
        files
            .iter()
            .position(|f| f == "streaming_examples.rs")
            .expect("a skeleton for StreamingExamples")
    );
    std::fs::write(krate.join("src/lib.rs"), lib).unwrap();
    for edition in ["2021", "2024"] {
        let manifest = format!(
            "[package]\nname = \"generated-corpus\"\nversion = \"0.0.0\"\nedition = \"{edition}\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\n\
             rust-stream = {{ path = {runtime:?} }}\n\
             tonic = {{ version = \"0.14\", default-features = false, features = [\"transport\", \"codegen\", \"router\", \"server\", \"channel\"] }}\n\
             tonic-prost = \"0.14\"\nprost = \"0.14\"\nprost-types = \"0.14\"\n",
            runtime = runtime.display().to_string(),
        );
        std::fs::write(krate.join("Cargo.toml"), manifest).unwrap();
        cargo(krate, &["build", "--quiet", "--offline"]);
        cargo(
            krate,
            &["clippy", "--quiet", "--offline", "--", "-D", "warnings"],
        );
    }
    cargo_with(
        krate,
        &["doc", "--quiet", "--offline", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    );
}

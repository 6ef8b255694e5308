//! protoc-gen-rust-stream driven by a real protoc (protoc-bin-vendored), compared byte for
//! byte with the protoc-free path (protox) used by the CLI, plus the plugin's error paths.

use prost::Message;
use rust_stream_build::{Descriptors, Params, generate};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rust-stream");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn protoc() -> PathBuf {
    protoc_bin_vendored::protoc_bin_path()
        .expect("protoc-bin-vendored has a protoc for this platform")
}

fn corpus() -> PathBuf {
    root().join("tests/generator/corpus")
}

/// Every proto in the corpus, relative to it, sorted: imported files too, since protoc
/// and protox must agree on each of them.
fn corpus_protos() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "proto") {
                let relative = path.strip_prefix(base).unwrap();
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut protos = Vec::new();
    walk(&corpus(), &corpus(), &mut protos);
    protos.sort();
    assert!(protos.len() >= 10, "the corpus is missing: {protos:?}");
    protos
}

/// Runs protoc with the plugin; returns the files written, or protoc's stderr.
fn run_protoc(
    includes: &[PathBuf],
    protos: &[&str],
    opt: &str,
) -> Result<BTreeMap<String, String>, String> {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(protoc());
    cmd.arg(format!("--plugin=protoc-gen-rust-stream={PLUGIN}"))
        .arg(format!("--rust-stream_out={}", out.path().display()));
    if !opt.is_empty() {
        cmd.arg(format!("--rust-stream_opt={opt}"));
    }
    for include in includes {
        cmd.arg("-I").arg(include);
    }
    cmd.args(protos);
    let output = cmd.output().expect("protoc runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let mut files = BTreeMap::new();
    read_dir(out.path(), out.path(), &mut files);
    Ok(files)
}

fn read_dir(base: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_dir(base, &path, files);
        } else {
            let name = path.strip_prefix(base).unwrap().display().to_string();
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn protox_files(includes: &[PathBuf], protos: &[&str], opt: &str) -> BTreeMap<String, String> {
    let paths: Vec<PathBuf> = protos.iter().map(PathBuf::from).collect();
    let descriptors = Descriptors::compile(&paths, includes).unwrap();
    let params = Params::parse(opt).unwrap();
    generate(&descriptors, &params)
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.content))
        .collect()
}

#[test]
fn protoc_plugin_output_equals_the_protoc_free_output_for_the_reference_proto() {
    let includes = [root().join("proto")];
    let via_protoc = run_protoc(&includes, &["streaming.proto"], "include_file=mod.rs").unwrap();
    let via_protox = protox_files(&includes, &["streaming.proto"], "include_file=mod.rs");
    assert_eq!(
        via_protoc.keys().collect::<Vec<_>>(),
        ["mod.rs", "streaming.rs"]
    );
    assert_eq!(via_protoc, via_protox);
}

#[test]
fn protoc_plugin_output_equals_the_protoc_free_output_for_the_corpus() {
    let includes = [corpus(), root().join("proto")];
    let owned = corpus_protos();
    let protos: Vec<&str> = owned.iter().map(String::as_str).collect();
    for opt in [
        "",
        "stream_only,buffer=8,tuning=low_latency,include_file=all/mod.rs",
    ] {
        let via_protoc = run_protoc(&includes, &protos, opt).unwrap();
        let via_protox = protox_files(&includes, &protos, opt);
        assert_eq!(via_protoc.len(), via_protox.len(), "{opt}");
        for (name, content) in &via_protoc {
            assert_eq!(Some(content), via_protox.get(name), "{name} with `{opt}`");
        }
    }
}

#[test]
fn the_in_process_request_built_from_protox_gets_the_same_answer() {
    let includes = [root().join("proto")];
    let compiled = Descriptors::compile(&["streaming.proto"], &includes).unwrap();
    let request = prost_types::compiler::CodeGeneratorRequest {
        file_to_generate: compiled.to_generate.clone(),
        parameter: Some("include_file=mod.rs".to_owned()),
        proto_file: compiled.files.clone(),
        ..Default::default()
    };
    let response = rust_stream_build::plugin::respond(&request.encode_to_vec()).unwrap();
    assert_eq!(response.error, None);
    assert_eq!(
        response.supported_features,
        Some(rust_stream_build::plugin::SUPPORTED_FEATURES)
    );
    let files: BTreeMap<String, String> = response
        .file
        .into_iter()
        .map(|f| (f.name.unwrap(), f.content.unwrap()))
        .collect();
    assert_eq!(
        files,
        protox_files(&includes, &["streaming.proto"], "include_file=mod.rs")
    );
}

#[test]
fn unknown_or_malformed_parameters_fail_through_the_response_naming_them() {
    let includes = [root().join("proto")];
    let err = run_protoc(&includes, &["streaming.proto"], "colour=red,buffer=lots").unwrap_err();
    assert!(err.contains("unknown parameter `colour`"), "{err}");
    assert!(err.contains("`buffer`: `lots`"), "{err}");
    assert!(
        err.contains("valid parameters: runtime_path, stream_only"),
        "{err}"
    );
}

#[test]
fn parameters_also_work_in_the_out_flag() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(protoc())
        .arg(format!("--plugin=protoc-gen-rust-stream={PLUGIN}"))
        .arg(format!(
            "--rust-stream_out=include_file=lib.rs:{}",
            out.path().display()
        ))
        .arg("-I")
        .arg(root().join("proto"))
        .arg("streaming.proto")
        .status()
        .unwrap();
    assert!(status.success());
    assert!(out.path().join("lib.rs").exists());
}

#[test]
fn garbage_on_stdin_is_a_non_zero_exit_with_a_message() {
    for garbage in [&b""[..], b"hello, plugin", &[0xff; 64]] {
        let mut child = Command::new(PLUGIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(garbage).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success(), "{garbage:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("CodeGeneratorRequest"), "{stderr}");
    }
}

#[test]
fn an_editions_file_is_refused_by_protoc_because_editions_are_not_advertised() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ed.proto"),
        "edition = \"2023\";\npackage ed;\nmessage M { string s = 1; }\nservice S { rpc Get(M) returns (M); }\n",
    )
    .unwrap();
    let err = run_protoc(&[dir.path().to_path_buf()], &["ed.proto"], "").unwrap_err();
    assert!(err.contains("edition"), "{err}");
}

#[test]
fn proto3_optional_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("opt.proto"),
        "syntax = \"proto3\";\npackage opt;\nmessage M { optional bytes data = 1; }\nservice S { rpc Up(stream M) returns (M); }\n",
    )
    .unwrap();
    let files = run_protoc(&[dir.path().to_path_buf()], &["opt.proto"], "").unwrap();
    let code = &files["opt.rs"];
    assert!(
        code.contains("::core::option::Option<::prost::alloc::vec::Vec<u8>>"),
        "{code}"
    );
    // An optional field is an Option: not chunk-shaped, so no upload helper.
    assert!(!code.contains("up_from"), "{code}");
}

//! protoc-gen-rust-stream driven by a real protoc (protoc-bin-vendored), compared byte for
//! byte with the protoc-free path (protox) used by the CLI, plus the plugin's error paths.

use prost::Message;
use rust_stream_build::{Descriptors, Params, generate};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod support;

use support::workspace as root;

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rust-stream");

fn protoc() -> PathBuf {
    protoc_bin_vendored::protoc_bin_path()
        .expect("protoc-bin-vendored has a protoc for this platform")
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
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

/// A proto with the same option number as rust_stream's (51200) on another tool's
/// extension: a varint, and a message that does not decode as ours.
const FOREIGN_OPTIONS: &str = r#"syntax = "proto3";
package foreign;
import "google/protobuf/descriptor.proto";
message Note { string text = 1; }
extend google.protobuf.MethodOptions { int32 level = 51200; }
extend google.protobuf.ServiceOptions { Note note = 51200; }
message M { bytes data = 1; }
service S {
  option (note) = { text: "not rust_stream's" };
  rpc Get(M) returns (M) { option (level) = 7; }
  rpc Up(stream M) returns (M);
}
"#;

#[test]
fn another_tools_option_on_our_extension_number_is_not_read_as_ours() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foreign.proto"), FOREIGN_OPTIONS).unwrap();
    let includes = [dir.path().to_path_buf()];
    let via_protoc = run_protoc(&includes, &["foreign.proto"], "").unwrap();
    let via_protox = protox_files(&includes, &["foreign.proto"], "");
    assert_eq!(via_protoc, via_protox);
    let code = &via_protoc["foreign.rs"];
    // The default settings: `level = 7` is not a `buffer` or anything else of ours.
    assert!(code.contains("pub struct SConfig"), "{code}");
    assert!(!code.contains("buffer: 7"), "{code}");
}

#[test]
fn include_file_naming_a_generated_file_is_refused_by_the_plugin() {
    let includes = [root().join("proto")];
    let err = run_protoc(&includes, &["streaming.proto"], "include_file=streaming.rs").unwrap_err();
    assert!(
        err.contains(
            "parameter `include_file`: `streaming.rs` is the file generated for package `streaming`"
        ),
        "{err}"
    );
}

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad/requests")
}

/// The base of the hand-built requests: one file with a map, a oneof, an enum and a
/// service, compiled by protox with source info.
fn base_request() -> prost_types::compiler::CodeGeneratorRequest {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.proto"),
        "syntax = \"proto3\";\npackage p;\n\
         message M {\n  string s = 1;\n  map<string, int32> m = 2;\n  oneof o {\n    int32 a = 3;\n    string b = 4;\n  }\n  E e = 5;\n}\n\
         enum E {\n  E_ZERO = 0;\n  E_ONE = 1;\n}\n\
         service S {\n  rpc Get(M) returns (M);\n  rpc Watch(M) returns (stream M);\n}\n",
    )
    .unwrap();
    let compiled = Descriptors::compile(&["p.proto"], &[dir.path()]).unwrap();
    prost_types::compiler::CodeGeneratorRequest {
        file_to_generate: compiled.to_generate.clone(),
        proto_file: compiled.files.clone(),
        ..Default::default()
    }
}

type Mutation = fn(&mut prost_types::compiler::CodeGeneratorRequest);

/// Faults no protoc produces, each of which made prost-build panic or emit code that does
/// not compile: (name, fault).
fn faults() -> Vec<(&'static str, Mutation)> {
    use prost_types::field_descriptor_proto::Type;
    fn file(
        r: &mut prost_types::compiler::CodeGeneratorRequest,
    ) -> &mut prost_types::FileDescriptorProto {
        &mut r.proto_file[0]
    }
    fn field(
        r: &mut prost_types::compiler::CodeGeneratorRequest,
        i: usize,
    ) -> &mut prost_types::FieldDescriptorProto {
        &mut file(r).message_type[0].field[i]
    }
    vec![
        ("syntax_proto4", |r| file(r).syntax = Some("proto4".into())),
        ("syntax_editions", |r| {
            file(r).syntax = Some("editions".into())
        }),
        ("package_trailing_dot", |r| {
            file(r).package = Some("Put.".into())
        }),
        ("empty_source_info", |r| {
            file(r).source_code_info = Some(Default::default())
        }),
        ("map_entry_with_one_field", |r| {
            file(r).message_type[0].nested_type[0].field.truncate(1)
        }),
        ("message_field_without_type_name", |r| {
            field(r, 4).r#type = Some(Type::Message as i32);
            field(r, 4).type_name = None;
        }),
        ("field_type_not_fully_qualified", |r| {
            field(r, 4).type_name = Some("E".into())
        }),
        ("field_type_is_an_enum_used_as_a_message", |r| {
            field(r, 4).r#type = Some(Type::Message as i32)
        }),
        ("field_type_unknown", |r| field(r, 0).r#type = Some(99)),
        ("field_number_zero", |r| field(r, 0).number = Some(0)),
        ("field_number_twice", |r| field(r, 3).number = Some(3)),
        ("oneof_index_out_of_range", |r| {
            field(r, 2).oneof_index = Some(7)
        }),
        ("method_type_not_fully_qualified", |r| {
            file(r).service[0].method[0].input_type = Some("M".into())
        }),
        ("method_type_undefined", |r| {
            file(r).service[0].method[0].output_type = Some(".p.Gone".into())
        }),
        ("method_without_name", |r| {
            file(r).service[0].method[0].name = None
        }),
        ("method_without_types", |r| {
            file(r).service[0].method[1].input_type = None;
            file(r).service[0].method[1].output_type = None;
        }),
        ("message_without_name", |r| {
            file(r).message_type[0].name = None
        }),
        ("enum_without_values", |r| {
            file(r).enum_type[0].value.clear()
        }),
        ("enum_values_one_variant", |r| {
            file(r).enum_type[0].value[1].name = Some("ZERO".into())
        }),
        ("bytes_default_bad_escape", |r| {
            file(r).syntax = Some("proto2".into());
            field(r, 0).r#type = Some(Type::Bytes as i32);
            field(r, 0).default_value = Some(r"\q\777".into());
        }),
        ("int_default_not_a_number", |r| {
            file(r).syntax = Some("proto2".into());
            field(r, 0).r#type = Some(Type::Int32 as i32);
            field(r, 0).default_value = Some("many".into());
        }),
        ("file_twice", |r| {
            let again = r.proto_file[0].clone();
            r.proto_file.push(again);
        }),
        ("file_to_generate_not_among_the_descriptors", |r| {
            r.file_to_generate = vec!["gone.proto".into()]
        }),
    ]
}

/// Runs the plugin binary on `request`; returns its response, asserting a clean exit.
fn run_plugin_binary(name: &str, request: &[u8]) -> prost_types::compiler::CodeGeneratorResponse {
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(request).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{name}: {:?}", output.status);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "{name}: stderr"
    );
    prost_types::compiler::CodeGeneratorResponse::decode(output.stdout.as_slice()).unwrap()
}

/// Every fault gets an error naming the element, in process and from the binary, which
/// exits 0 and prints nothing; the errors match `tests/bad/requests/<fault>.stderr`
/// (`UPDATE_GOLDEN=1` rewrites them).
#[test]
fn hand_built_faulty_requests_get_located_errors_and_nothing_panics() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    if update {
        std::fs::create_dir_all(expected_dir()).unwrap();
    }
    let mut mismatches = Vec::new();
    for (name, fault) in faults() {
        let mut request = base_request();
        fault(&mut request);
        let bytes = request.encode_to_vec();
        let response = rust_stream_build::plugin::respond(&bytes).unwrap();
        let error = response
            .error
            .clone()
            .unwrap_or_else(|| panic!("{name}: no error, {} files", response.file.len()));
        assert!(response.file.is_empty(), "{name}");
        assert!(
            !error.contains("internal error") && !error.contains("panicked"),
            "{name}: {error}"
        );
        assert_eq!(run_plugin_binary(name, &bytes), response, "{name}");
        let path = expected_dir().join(format!("{name}.stderr"));
        let actual = format!("{error}\n");
        if update {
            std::fs::write(&path, &actual).unwrap();
        } else if std::fs::read_to_string(&path).unwrap_or_default() != actual {
            mismatches.push(format!("{name}:\n{actual}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "errors differ (UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatches.join("\n")
    );
}

/// An unset string reads as "": a `syntax` or `package` of "" is the default, not a fault.
#[test]
fn empty_syntax_and_package_read_as_unset() {
    let mut request = base_request();
    request.proto_file[0].syntax = Some(String::new());
    let response = rust_stream_build::plugin::respond(&request.encode_to_vec()).unwrap();
    assert_eq!(response.error, None);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("np.proto"),
        "syntax = \"proto3\";\nmessage M { string s = 1; }\nservice S { rpc Get(M) returns (M); }\n",
    )
    .unwrap();
    let compiled = Descriptors::compile(&["np.proto"], &[dir.path()]).unwrap();
    let mut request = prost_types::compiler::CodeGeneratorRequest {
        file_to_generate: compiled.to_generate.clone(),
        proto_file: compiled.files.clone(),
        ..Default::default()
    };
    request.proto_file[0].package = Some(String::new());
    let response = rust_stream_build::plugin::respond(&request.encode_to_vec()).unwrap();
    assert_eq!(response.error, None);
    assert_eq!(response.file[0].name.as_deref(), Some("_.rs"));
}

/// A request that decodes only in part is not a request: exit 1 with a message.
#[test]
fn a_truncated_request_is_a_non_zero_exit_with_a_message() {
    let bytes = base_request().encode_to_vec();
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&bytes[..bytes.len() / 2])
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a CodeGeneratorRequest"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `(rust_stream.method)` that does not decode, in a file that imports rust_stream's
/// options (so 51200 is ours): an error naming the method. Without the import the value
/// is another tool's and is not read.
#[test]
fn an_undecodable_option_of_ours_is_an_error_and_anothers_is_ignored() {
    #[derive(Clone, PartialEq, Message)]
    struct Tail {
        #[prost(message, repeated, tag = "6")]
        service: Vec<Service>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Service {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(message, repeated, tag = "2")]
        method: Vec<Method>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Method {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(string, optional, tag = "2")]
        input_type: Option<String>,
        #[prost(string, optional, tag = "3")]
        output_type: Option<String>,
        #[prost(message, optional, tag = "4")]
        options: Option<Options>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Options {
        #[prost(int32, optional, tag = "51200")]
        level: Option<i32>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Request {
        #[prost(string, repeated, tag = "1")]
        file_to_generate: Vec<String>,
        #[prost(bytes = "vec", repeated, tag = "15")]
        proto_file: Vec<Vec<u8>>,
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("o.proto"),
        "syntax = \"proto3\";\npackage o;\nimport \"rust_stream/options.proto\";\nmessage M { string s = 1; }\n",
    )
    .unwrap();
    let compiled = Descriptors::compile(&["o.proto"], &[dir.path()]).unwrap();
    for imports_ours in [true, false] {
        let mut files: Vec<Vec<u8>> = Vec::new();
        for file in &compiled.files {
            let mut file = file.clone();
            if file.name() != "o.proto" {
                files.push(file.encode_to_vec());
                continue;
            }
            if !imports_ours {
                file.dependency.clear();
            }
            // The appended service has no source locations.
            file.source_code_info = None;
            // A service appended after the file's fields: its method's options hold a
            // varint on 51200, which rust_stream's message option cannot be.
            let mut bytes = file.encode_to_vec();
            bytes.extend(
                Tail {
                    service: vec![Service {
                        name: Some("S".into()),
                        method: vec![Method {
                            name: Some("Get".into()),
                            input_type: Some(".o.M".into()),
                            output_type: Some(".o.M".into()),
                            options: Some(Options { level: Some(7) }),
                        }],
                    }],
                }
                .encode_to_vec(),
            );
            files.push(bytes);
        }
        let request = Request {
            file_to_generate: vec!["o.proto".into()],
            proto_file: files,
        }
        .encode_to_vec();
        let response = run_plugin_binary("options", &request);
        if imports_ours {
            let error = response.error.unwrap();
            assert!(
                error.contains("method `o.S.Get`: (rust_stream.method) is not a `rust_stream.MethodOptions` message"),
                "{error}"
            );
        } else {
            assert_eq!(response.error, None);
            assert_eq!(response.file.len(), 1);
        }
    }
}

/// A package that is not generated, mapped with `extern_path=`: the code refers to the
/// mapped path, the same under protoc and protox, and the build API (which generates
/// imports) writes no code for the mapped package.
#[test]
fn extern_path_maps_a_package_that_is_not_generated() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let includes = [bad.clone(), root().join("proto")];
    let opt = "extern_path=.deep=::deep_code";
    let via_protoc = run_protoc(&includes, &["unresolved_rpc_type.proto"], opt).unwrap();
    let via_protox = protox_files(&includes, &["unresolved_rpc_type.proto"], opt);
    assert_eq!(via_protoc, via_protox);
    let code = &via_protoc["bad.unresolved.rs"];
    assert!(code.contains("::deep_code::Thing"), "{code}");
    assert!(!code.contains("deep::Thing"), "{code}");
    syn::parse_file(code).unwrap();

    let built = rust_stream_build::Builder::new()
        .emit_rerun_if_changed(false)
        .extern_path(".deep", "::deep_code")
        .generate(&["unresolved_rpc_type.proto"], &includes)
        .unwrap();
    let names: Vec<&str> = built.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["bad.unresolved.rs"]);
    assert_eq!(built[0].content, *code);
}

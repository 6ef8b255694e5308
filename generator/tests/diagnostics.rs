//! The generator's diagnostics for a corpus of bad protos, compared with their expected
//! output (`tests/bad/<case>.stderr`: one line per diagnostic, `Kind: location:
//! message`). Each case runs through the protox path (the build API and the CLI) and,
//! where protoc accepts the proto, through the plugin with protoc's own descriptors: both
//! must say the same. A case's first line may give parameters (`// params: k=v,...`).
//!
//! `UPDATE_GOLDEN=1 cargo test -p rust-stream-build --test diagnostics` rewrites
//! the expected files; review the change with `git diff`.

use prost::Message;
use rust_stream_build::{Descriptors, Error, Params, generate};
use std::process::Command;

mod support;

use support::{bad, workspace as root};

/// The cases: every `.proto` directly in `bad/` (`bad/imports/` holds what they import).
fn cases() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(bad())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(cases.len() >= 14, "the bad corpus is missing: {cases:?}");
    cases
}

fn params_of(case: &str) -> String {
    let source = std::fs::read_to_string(bad().join(case)).unwrap();
    source
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("// params: "))
        .unwrap_or_default()
        .to_owned()
}

/// What the protox path reports, as the CLI and the build API would.
fn protox_error(case: &str, params: &str) -> Error {
    let includes = [bad(), root().join("proto")];
    let result = Params::parse(params).and_then(|params| {
        let descriptors = Descriptors::compile(&[case], &includes)?;
        generate(&descriptors, &params)
    });
    match result {
        Ok(files) => panic!(
            "{case} generated {:?} instead of failing",
            files.iter().map(|f| &f.name).collect::<Vec<_>>()
        ),
        Err(err) => err,
    }
}

/// One line per diagnostic; the workspace's path, which messages naming include directories
/// hold, reads `$ROOT`.
fn render(err: &Error) -> String {
    let mut out = String::new();
    for diagnostic in err.diagnostics() {
        out.push_str(&format!("{:?}: {diagnostic}\n", diagnostic.kind));
    }
    out.replace(&root().display().to_string(), "$ROOT")
}

/// `CodeGeneratorRequest` with its files still encoded, so protoc's descriptors reach the
/// plugin byte for byte (extensions included).
#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(string, repeated, tag = "1")]
    file_to_generate: Vec<String>,
    #[prost(string, optional, tag = "2")]
    parameter: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct RawSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// The plugin's error for `case` with protoc's descriptors, or protoc's own refusal.
fn plugin_error(case: &str, params: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set.pb");
    // Relative include paths, so that protoc's messages name files as the corpus does.
    let output = Command::new(protoc_bin_vendored::protoc_bin_path().unwrap())
        .current_dir(bad())
        .arg(format!("--descriptor_set_out={}", set.display()))
        .args(["--include_imports", "--include_source_info"])
        .args(["-I", ".", "-I", "../../../proto"])
        .arg(case)
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let set = RawSet::decode(std::fs::read(set).unwrap().as_slice()).unwrap();
    let request = RawRequest {
        file_to_generate: vec![case.to_owned()],
        parameter: Some(params.to_owned()),
        proto_file: set.file,
    };
    let response = rust_stream_build::plugin::respond(&request.encode_to_vec())
        .expect("protoc's descriptors are a request");
    Ok(response
        .error
        .unwrap_or_else(|| panic!("{case}: the plugin generated code")))
}

#[test]
fn bad_protos_get_their_expected_diagnostics_on_every_path() {
    let update = support::update_golden();
    let mut mismatches = Vec::new();
    for case in cases() {
        let params = params_of(&case);
        let err = protox_error(&case, &params);
        let mut rendered = render(&err);
        match plugin_error(&case, &params) {
            Ok(plugin) => assert_eq!(
                plugin,
                format!("protoc-gen-rust-stream: {err}"),
                "{case}: the plugin and the protox path disagree"
            ),
            // What protoc refuses itself is part of the expected output.
            Err(protoc) => {
                for line in protoc.lines() {
                    rendered.push_str(&format!("protoc: {line}\n"));
                }
            }
        }
        let expected_path = bad().join(case.replace(".proto", ".stderr"));
        if update {
            std::fs::write(&expected_path, &rendered).unwrap();
        } else {
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if expected != rendered {
                mismatches.push(format!(
                    "{case}:\n--- expected\n{expected}--- actual\n{rendered}"
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "diagnostics differ from the expected files (UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatches.join("\n")
    );
}

/// Every message text the generator can print is in an expected file at least once: the
/// protos here, the hand-built requests of the plugin's tests (`bad/requests/`).
#[test]
fn the_corpus_covers_every_kind_of_message() {
    let mut all = String::new();
    for dir in [bad(), bad().join("requests")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "stderr") {
                all.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    for text in [
        "both become",
        "is not generated",
        "unknown parameter",
        "valid parameters: runtime_path",
        "names a directory",
        "must be a relative path",
        "is the file generated for package",
        "is not a plain Rust path",
        "is not an absolute Rust path",
        "is mapped twice",
        "unknown tuning preset",
        "is outside HTTP/2's",
        "needs a value",
        "Syntax: ",
        "Io: ",
        "not fully qualified",
        "not among the descriptors",
        "is not defined in any file",
        "has no name",
        "is in the request twice",
        "source info has no location",
        "a map entry has exactly two fields",
        "oneof_index 7 is out of range",
        "is also the number of field",
        "is outside 1..=536870911",
        "is an enum",
        "has no values",
        "has an unknown escape",
        "is not a valid `int32`",
        "unknown syntax `proto4`",
        "is not a dotted identifier",
        "its type 99 is unknown",
        "is not a message type: inside service",
    ] {
        assert!(all.contains(text), "no case shows `{text}`");
    }
}

/// Inspecting (building the model) works for a proto whose imports are not generated;
/// only generating refuses it.
#[test]
fn a_type_whose_code_is_not_generated_is_refused_only_when_generating() {
    let includes = [bad(), root().join("proto")];
    let descriptors = Descriptors::compile(&["unresolved_rpc_type.proto"], &includes).unwrap();
    let params = Params::default();
    let (model, _) = rust_stream_build::model_of(&descriptors, &params).unwrap();
    assert_eq!(
        model.packages()[0].services()[0].methods()[0].proto_name(),
        "Find"
    );
    assert!(generate(&descriptors, &params).is_err());
}

/// A message named like a method of the service is reached by its fully qualified name, or
/// by a compound name (`Status.Inner`: a method is not a scope, so protoc looks further
/// out). protoc and the generator both accept them, and they resolve to the message.
#[test]
fn qualified_and_compound_names_of_a_message_named_like_a_method_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scope.proto"),
        "syntax = \"proto3\";\npackage acme;\n\
         message Req {}\nmessage Status { message Inner {} }\n\
         service Admin {\n\
         \x20 rpc Status(.acme.Status) returns (.acme.Status);\n\
         \x20 rpc Watch(stream Status.Inner) returns (stream acme.Status);\n\
         \x20 rpc Put(Status.Inner) returns (Req);\n\
         }\n",
    )
    .unwrap();
    let protoc = Command::new(protoc_bin_vendored::protoc_bin_path().unwrap())
        .current_dir(dir.path())
        .args(["-I", ".", "-o", "set.pb", "scope.proto"])
        .output()
        .unwrap();
    assert!(
        protoc.status.success(),
        "protoc refuses it: {}",
        String::from_utf8_lossy(&protoc.stderr)
    );
    let descriptors = Descriptors::compile(&["scope.proto"], &[dir.path()]).unwrap();
    generate(&descriptors, &Params::default()).unwrap_or_else(|err| panic!("{err}"));
    let (model, _) = rust_stream_build::model_of(&descriptors, &Params::default()).unwrap();
    let types: Vec<(&str, &str)> = model.packages()[0].services()[0]
        .methods()
        .iter()
        .map(|m| (m.request().proto_name(), m.response().proto_name()))
        .collect();
    assert_eq!(
        types,
        [
            (".acme.Status", ".acme.Status"),
            (".acme.Status.Inner", ".acme.Status"),
            (".acme.Status.Inner", ".acme.Req"),
        ]
    );
}

/// protoc never sends a relative type naming a method of its service, but another compiler
/// may: the plugin answers it in `response.error`, and the CLI fails with it, as with every
/// other input error.
#[test]
fn a_type_naming_a_method_is_refused_by_the_plugin_and_the_cli() {
    use prost_types::compiler::CodeGeneratorRequest;
    let includes = [bad(), root().join("proto")];
    let descriptors = Descriptors::compile(&["method_scope.proto"], &includes).unwrap();
    let expected = "method_scope.proto:16:28: \"Status\" is not a message type: inside service \
                    acme.Admin it names the method acme.Admin.Status (method_scope.proto:16:3); \
                    write \".acme.Status\" or rename one of them";
    let request = CodeGeneratorRequest {
        file_to_generate: descriptors.to_generate.clone(),
        proto_file: descriptors.files.clone(),
        ..CodeGeneratorRequest::default()
    };
    let response = rust_stream_build::plugin::respond(&request.encode_to_vec()).unwrap();
    let error = response.error.expect("the plugin refuses the request");
    assert!(error.contains(expected), "{error}");
    assert!(response.file.is_empty());

    // The CLI is behind the `bin` feature (`--all-features` runs this part).
    #[cfg(feature = "bin")]
    {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec!["rust-stream".to_owned(), "generate".to_owned()];
        for include in &includes {
            args.extend(["-I".to_owned(), include.display().to_string()]);
        }
        args.extend([
            "--out".to_owned(),
            out.path().display().to_string(),
            "method_scope.proto".to_owned(),
        ]);
        let error = rust_stream_build::cli::run_args(&args).expect_err("the CLI refuses it");
        assert!(error.to_string().contains(expected), "{error}");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    }
}

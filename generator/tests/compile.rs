//! Compile tests of generated code: the reference proto and the edge-case corpus under
//! `tests/corpus` (plus a 400-method service), generated through the build API, with a
//! skeleton for every service (as `rust-stream scaffold` writes them), checked by clippy
//! with warnings denied under editions 2021 and 2024, and documented with rustdoc's
//! warnings denied. The crate depends on what the guide lists (no `prost-types`: the
//! well-known types come through the runtime), and its own code calls every client helper
//! of `trait_names.proto` with method syntax, the traits whose methods share the names
//! imported.
//!
//! The crate is built in `target/generator-compile` so its dependencies are compiled once and
//! reused by later runs.

use rust_stream_build::{Builder, Descriptors, Params, model::Pattern, scaffold::Scaffold};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use support::workspace;

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

/// The names tonic's generated client and server use without a path (from `use
/// tonic::codegen::*`, the prelude and their generic parameters); a service named like one
/// would hide it in tonic's modules.
const TONIC_UNQUALIFIED: &[&str] = &[
    "Arc",
    "B",
    "Body",
    "Box",
    "BoxFuture",
    "Bytes",
    "Clone",
    "CompressionEncoding",
    "Context",
    "D",
    "Default",
    "EnabledCompressionEncodings",
    "F",
    "GrpcMethod",
    "InterceptedService",
    "Into",
    "None",
    "Ok",
    "Option",
    "Poll",
    "Result",
    "SERVICE_NAME",
    "Some",
    "StdError",
    "T",
    "TryInto",
    "Uri",
];

/// One RPC of each pattern, named `<prefix>Unary`, `<prefix>Down`, `<prefix>Up`,
/// `<prefix>Both`.
fn four_patterns(prefix: &str) -> String {
    format!(
        "  rpc {prefix}Unary(Req) returns (Res);\n  rpc {prefix}Down(Req) returns (stream Res);\n  \
         rpc {prefix}Up(stream Req) returns (Res);\n  rpc {prefix}Both(stream Req) returns (stream Res);\n"
    )
}

/// Protos of the name classes whose output once did not compile, each name with all four
/// patterns: services named like every name tonic's code uses without a path, as written
/// and some in snake case (`service clone`); services named `<Rpc>Svc` after their RPC, for each
/// pattern; the user's own messages in package `google.protobuf`. Written to `dir`; the
/// file names returned.
fn name_class_protos(dir: &Path) -> Vec<PathBuf> {
    let messages = "message Req { string id = 1; }\nmessage Res { bytes data = 1; }\n";
    let mut tonic = format!("syntax = \"proto3\";\npackage tonic_names;\n{messages}");
    let mut lower = format!("syntax = \"proto3\";\npackage tonic_names_lower;\n{messages}");
    for name in TONIC_UNQUALIFIED {
        writeln!(tonic, "service {name} {{\n{}}}", four_patterns("")).unwrap();
    }
    // Case is converted before the check: a few names in snake case stand for the rest.
    for name in ["Arc", "BoxFuture", "Clone", "Option", "T"] {
        let snake: String = name
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let gap = (i > 0 && c.is_uppercase() && !name[..i].ends_with(char::is_uppercase))
                    .then_some('_');
                gap.into_iter().chain(c.to_lowercase())
            })
            .collect();
        writeln!(lower, "service {snake} {{\n{}}}", four_patterns("")).unwrap();
    }
    let mut svc = format!("syntax = \"proto3\";\npackage svc_names;\n{messages}");
    for (rpc, request, response) in [
        ("Unary", "", ""),
        ("Down", "", "stream "),
        ("Up", "stream ", ""),
        ("Both", "stream ", "stream "),
    ] {
        writeln!(
            svc,
            "service {rpc}Svc {{\n  rpc {rpc}({request}Req) returns ({response}Res);\n}}"
        )
        .unwrap();
    }
    let own = format!(
        "syntax = \"proto3\";\npackage google.protobuf;\n{messages}service Own {{\n{}}}\n",
        four_patterns("")
    );
    let mut files = Vec::new();
    for (file, text) in [
        ("tonic_names.proto", tonic),
        ("tonic_names_lower.proto", lower),
        ("svc_names.proto", svc),
        ("own_google.proto", own),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
        files.push(dir.join(file));
    }
    files
}

/// By-value methods of traits every type implements (the prelude's, tonic's, tracing's):
/// the helpers named like them get `_rpc`, since method syntax would pick the trait's.
const BY_VALUE: &[&str] = &[
    "into",
    "try_into",
    "into_request",
    "instrument",
    "in_current_span",
    "with_subscriber",
    "with_current_subscriber",
];

/// User code calling every client helper of `trait_names.proto` on an owned client with
/// method syntax (`client.clone(request)`), with the traits named like the RPCs in scope;
/// each call's type is spelled out, so a call that reached a trait's method instead would
/// not compile. Checks on the way that only the by-value names were renamed.
fn trait_name_calls(corpus: &Path) -> String {
    let descriptors = Descriptors::compile(&["trait_names.proto"], &[corpus]).unwrap();
    let (model, _) = rust_stream_build::model_of(&descriptors, &Params::default()).unwrap();
    let package = &model.packages()[0];
    let mut code = String::from(
        "//! Calls from user code, with the traits named like the RPCs in scope.\n\
         #![allow(unused_imports, missing_docs)]\n\
         use crate::pb::trait_names::{Piece, Req, Res};\n\
         use prost::Message;\n\
         use rust_stream::Chunk;\n\
         use std::any::Any;\n\
         use std::borrow::{Borrow, BorrowMut};\n\
         use std::error::Error;\n\
         use std::fmt::{Debug, Display};\n\
         use std::hash::Hash;\n\
         use std::ops::{Add, Deref, DerefMut, Index, Not};\n\
         use std::str::FromStr;\n\
         use tonic::{IntoRequest, IntoStreamingRequest};\n\
         use tracing::Instrument;\n\
         use tracing::instrument::WithSubscriber;\n\
         type Status = tonic::Status;\n",
    );
    let mut patterns = Vec::new();
    for service in package.services() {
        let mut renamed = Vec::new();
        let client = format!(
            "crate::pb::trait_names::{}::{}",
            service.stream_module(),
            service.stream_client()
        );
        writeln!(
            code,
            "\npub async fn {}(client: {client}) -> Result<(), Status> {{",
            service.stream_module()
        )
        .unwrap();
        for method in service.methods() {
            let name = method.client_helper();
            if name != method.rust_name() {
                renamed.push(method.rust_name());
                // `IntoRpc` is an RPC too: `Into`'s helper is then `into_rpc_`.
                assert!(
                    name.starts_with(&format!("{}_rpc", method.rust_name())),
                    "{name}"
                );
                assert!(method.client_renamed_because().is_some(), "{name}");
            }
            let call = match method.pattern() {
                Pattern::Unary => format!("let _: Res = client.{name}(Req::default()).await?;"),
                Pattern::ServerStreaming => format!(
                    "let _: rust_stream::Responses<Res> = client.{name}(Req::default()).await?;"
                ),
                Pattern::ClientStreaming => format!(
                    "let _: Res = client.{name}(tokio_stream::iter([Piece::default()])).await?;"
                ),
                Pattern::Bidi => format!(
                    "let _: (rust_stream::Requests<Req>, rust_stream::Responses<Res>) = \
                     client.{name}();"
                ),
            };
            writeln!(code, "    {call}").unwrap();
        }
        code.push_str("    Ok(())\n}\n");
        renamed.sort_unstable();
        let mut expected = BY_VALUE.to_vec();
        expected.sort_unstable();
        assert_eq!(renamed, expected, "{}", service.full_name());
        patterns.push(service.methods()[0].pattern());
    }
    patterns.sort();
    assert_eq!(
        patterns,
        [
            Pattern::Unary,
            Pattern::ServerStreaming,
            Pattern::ClientStreaming,
            Pattern::Bidi
        ]
    );
    code
}

/// Writes the skeletons of `protos` into `out` as `rust-stream scaffold --module-path
/// crate::pb` does (`tests/cli.rs` covers the command itself), and returns its report.
fn scaffold(protos: &[PathBuf], includes: &[PathBuf], out: &Path) -> String {
    let descriptors = Descriptors::compile(protos, includes)
        .unwrap_or_else(|err| panic!("loading {protos:?} failed: {err}"));
    let (model, _) = rust_stream_build::model_of(&descriptors, &Params::default()).unwrap();
    Scaffold::new("crate::pb")
        .write(&model, out)
        .unwrap_or_else(|err| panic!("scaffold failed: {err}"))
        .to_string()
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

/// Generates the reference proto with `harness=false` into `out` (inside `src/`), checks that
/// no harness item is in it, and returns `out`'s path relative to `src/`.
fn production_build(protos_dir: &Path, out: &Path) -> &'static str {
    Builder::new()
        .emit_rerun_if_changed(false)
        .include_file("mod.rs")
        .param("harness", "false")
        .unwrap()
        .out_dir(out)
        .compile(&[protos_dir.join("streaming.proto")], &[protos_dir])
        .unwrap_or_else(|err| panic!("generation without the harness failed: {err}"));
    for entry in std::fs::read_dir(out).unwrap() {
        let code = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for harness_item in ["test_server", "TestServer", "answer_default", "rpc_tests"] {
            assert!(
                !code.contains(harness_item),
                "`{harness_item}` with harness=false"
            );
        }
    }
    "gen_prod"
}

#[test]
fn generated_code_and_skeletons_compile_without_warnings_in_editions_2021_and_2024() {
    let root = workspace();
    let corpus = support::corpus();
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

    let mut protos: Vec<PathBuf> = support::GENERATOR_CORPUS
        .iter()
        .chain(support::COMPILE_ONLY_CORPUS)
        .map(|p| corpus.join(p))
        .collect();
    protos.push(protos_dir.join("big.proto"));
    protos.extend(name_class_protos(&protos_dir));
    protos.push(protos_dir.join("streaming.proto"));
    let includes = [corpus.clone(), protos_dir.clone()];
    let gen_dir = krate.join("src/gen");
    Builder::new()
        .emit_rerun_if_changed(false)
        .include_file("mod.rs")
        .out_dir(&gen_dir)
        .compile(&protos, &includes)
        .unwrap_or_else(|err| panic!("generation failed: {err}"));
    let prod_dir = production_build(&protos_dir, &krate.join("src/gen_prod"));

    // A skeleton per service, as the CLI's scaffold command writes it. The reference
    // service is scaffolded first from an older version of its proto with two RPCs, and
    // again below with all four: the second run must only add stubs.
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
    scaffold(
        &[old_dir.join("streaming.proto")],
        std::slice::from_ref(&old_dir),
        &skeletons,
    );
    let first = std::fs::read_to_string(skeletons.join("streaming_examples.rs")).unwrap();
    assert!(first.contains("fn list_events(") && !first.contains("fn chat("));
    let report = scaffold(&protos, &includes, &skeletons);
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
    let report = scaffold(&protos, &includes, &skeletons);
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
         /// The reference proto for production: no test harness.\n#[allow(missing_docs)]\npub mod prod {{\n    include!(\"{}/mod.rs\");\n}}\n\n\
         pub mod calls;\n\n\
         /// The reference service serves its skeleton.\n\
         pub fn serve_skeleton() -> impl Sized {{\n    \
         pb::streaming::streaming_examples_stream::StreamingExamplesService::new(\n        \
         skeletons::s{}::StreamingExamplesImpl,\n    )\n    .into_server()\n}}\n",
        prod_dir,
        files
            .iter()
            .position(|f| f == "streaming_examples.rs")
            .expect("a skeleton for StreamingExamples")
    );
    std::fs::write(krate.join("src/lib.rs"), lib).unwrap();
    std::fs::write(krate.join("src/calls.rs"), trait_name_calls(&corpus)).unwrap();
    for edition in ["2021", "2024"] {
        let manifest = format!(
            "[package]\nname = \"generated-corpus\"\nversion = \"0.0.0\"\nedition = \"{edition}\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\n\
             rust-stream = {{ path = {runtime:?} }}\n\
             tonic = {{ version = \"0.14\", default-features = false, features = [\"transport\", \"codegen\", \"router\", \"server\", \"channel\"] }}\n\
             tonic-prost = \"0.14\"\nprost = \"0.14\"\n\
             tokio-stream = \"0.1\"\ntracing = \"0.1\"\n",
            runtime = runtime.display().to_string(),
        );
        std::fs::write(krate.join("Cargo.toml"), manifest).unwrap();
        // Clippy type-checks everything a build would (the crate denies warnings) without
        // generating machine code for it.
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

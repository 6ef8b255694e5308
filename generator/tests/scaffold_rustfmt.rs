//! `rust-stream scaffold` writes what rustfmt prints: `rustfmt --edition 2024 --check` (default
//! configuration, as `cargo fmt` runs it in an edition 2024 crate) passes on every file it
//! creates, and on every file after stubs were added to it.
//!
//! The protos: the generator's corpus (keywords, nested and cross-package types, well-known
//! types, deprecated services, names that clash), and protos made here to sweep widths: RPC,
//! message and service names of every length from 1 to 90, so that signatures, `use` lists,
//! `impl` lines and stub bodies fall on both sides of every line-breaking threshold; the same
//! message name from two packages (full paths), messages named like the prelude (`Status`,
//! `Result`); a service of forty messages (a wrapped `use` list); runtime paths of three
//! lengths. Each is scaffolded fresh, and grown: scaffolded with fewer RPCs per service (none,
//! or only the first), then with all of them.
//!
//! Without rustfmt the test says so and passes; CI has rustfmt.

use rust_stream_build::model::Model;
use rust_stream_build::scaffold::{Outcome, Report, Scaffold};
use rust_stream_build::{Descriptors, Params, model_of};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Scaffolded files to check, kept in temporary directories named after their case, so
/// that rustfmt's report names the case of each file it would change.
#[derive(Default)]
struct Checks {
    dirs: Vec<tempfile::TempDir>,
    files: Vec<PathBuf>,
}

impl Checks {
    /// A new directory for `case`.
    fn dir(&mut self, case: &str) -> PathBuf {
        let prefix: String = case
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}."))
            .tempdir()
            .unwrap();
        let path = dir.path().to_owned();
        self.dirs.push(dir);
        path
    }

    /// Checks every file in one rustfmt run (rustfmt's default configuration, whatever the
    /// machine's is), and panics with its report if it would change any; without rustfmt,
    /// says so and checks nothing.
    fn run(self) {
        match Command::new("rustfmt").arg("--version").output() {
            Ok(output) if output.status.success() => {}
            _ => {
                eprintln!("skipped: rustfmt is not installed (`rustup component add rustfmt`)");
                return;
            }
        }
        assert!(self.files.len() > 10, "{:?}", self.files);
        let config = tempfile::tempdir().unwrap();
        std::fs::write(config.path().join("rustfmt.toml"), "").unwrap();
        let output = Command::new("rustfmt")
            .args(["--edition", "2024", "--check", "--config-path"])
            .arg(config.path().join("rustfmt.toml"))
            .args(&self.files)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "rustfmt would change scaffolded files:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Compiles `files` (name, text) written into a temporary include directory.
fn descriptors_of(files: &[(String, String)]) -> Descriptors {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    descriptors_in(
        dir.path(),
        files.iter().map(|(name, _)| dir.path().join(name)),
    )
}

fn descriptors_in(include: &Path, protos: impl IntoIterator<Item = PathBuf>) -> Descriptors {
    let protos: Vec<PathBuf> = protos.into_iter().collect();
    Descriptors::compile(&protos, &[include])
        .unwrap_or_else(|err| panic!("{}: {err}", protos[0].display()))
}

/// The model of `descriptors`, each service's RPCs cut to the first `keep` if given (the
/// model itself is read-only, so the cut is made in the descriptors).
fn model_cut(descriptors: &Descriptors, keep: Option<usize>) -> Model {
    let mut descriptors = descriptors.clone();
    if let Some(keep) = keep {
        for service in descriptors.files.iter_mut().flat_map(|f| &mut f.service) {
            service.method.truncate(keep);
        }
    }
    model_of(&descriptors, &Params::default())
        .unwrap_or_else(|err| panic!("{err}"))
        .0
}

fn paths(report: &Report, only_added: bool) -> impl Iterator<Item = PathBuf> + '_ {
    report
        .files
        .iter()
        .filter(move |f| !only_added || matches!(f.outcome, Outcome::Added(_)))
        .map(|f| f.path.clone())
}

/// Scaffolds the model of `protos` fresh, and grown from each shrunk version (none or the first RPC of
/// each service), for `checks`.
fn scaffold_cases(checks: &mut Checks, scaffold: &Scaffold, protos: &Descriptors, case: &str) {
    let model = &model_cut(protos, None);
    let report = scaffold
        .write(model, &checks.dir(&format!("{case} created")))
        .unwrap();
    checks.files.extend(paths(&report, false));
    for keep in [0, 1] {
        let small = model_cut(protos, Some(keep));
        let created = scaffold
            .write(&small, &checks.dir(&format!("{case} created with {keep}")))
            .unwrap();
        checks.files.extend(paths(&created, false));
        // The same again, grown: every stub added to the formatted file.
        let dir = checks.dir(&format!("{case} grown from {keep}"));
        scaffold.write(&small, &dir).unwrap();
        let grown = scaffold.write(model, &dir).unwrap();
        let expected = model
            .services()
            .filter(|(_, s)| s.methods().len() > keep)
            .count();
        assert_eq!(paths(&grown, true).count(), expected, "{case}: {grown}");
        checks.files.extend(paths(&grown, true));
    }
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[test]
fn every_corpus_proto_scaffolds_rustfmt_clean_new_and_grown() {
    let root = corpus();
    let mut protos: Vec<PathBuf> = Vec::new();
    for dir in [root.clone(), root.join("names"), root.join("cross")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "proto") {
                protos.push(path);
            }
        }
    }
    protos.sort();
    assert!(protos.len() > 20, "{protos:?}");
    let mut checks = Checks::default();
    for proto in protos {
        let descriptors = descriptors_in(&root, [proto.clone()]);
        let case = proto.strip_prefix(&root).unwrap().display().to_string();
        scaffold_cases(
            &mut checks,
            &Scaffold::new("crate::pb"),
            &descriptors,
            &case,
        );
    }
    checks.run();
}

/// `prefix` padded with `x` to `len` characters.
fn name(prefix: &str, len: usize) -> String {
    format!("{prefix}{}", "x".repeat(len.saturating_sub(prefix.len())))
}

/// Two packages whose names sweep every length up to 90: in `lengths.a`, per length `n`,
/// messages `Nxx..` and `Rxx..` and a service with one RPC of each pattern, all named with
/// about `n` characters; `Clash..` exists in both packages, so skeletons spell it with its
/// full path.
fn sweep_protos() -> Vec<(String, String)> {
    let mut a = String::from("syntax = \"proto3\";\npackage lengths.a;\nimport \"b.proto\";\n");
    let mut b = String::from("syntax = \"proto3\";\npackage lengths.b.c.d;\n");
    for n in 1..=90 {
        let (unique, clash) = (name("N", n), name("Clash", n + 5));
        // `use` lines of every even width; the long module path below makes them odd.
        let reply = name(&format!("R{n}"), n + 2);
        a.push_str(&format!(
            "message {unique} {{}}\nmessage {reply} {{}}\nmessage {clash} {{}}\n"
        ));
        b.push_str(&format!("message {clash} {{}}\n"));
        let other = format!("lengths.b.c.d.{clash}");
        a.push_str(&format!(
            "service {} {{\n\
             \x20 rpc {}({unique}) returns ({reply});\n\
             \x20 rpc {}({unique}) returns (stream {other});\n\
             \x20 rpc {}(stream {clash}) returns ({unique});\n\
             \x20 rpc {}(stream {clash}) returns (stream {other});\n\
             }}\n",
            name("S", n + 1),
            name("U", n),
            name("V", n),
            name("C", n),
            name("B", n),
        ));
    }
    vec![("a.proto".to_owned(), a), ("b.proto".to_owned(), b)]
}

/// Messages named like what a skeleton writes (full paths in the skeleton), forty messages in
/// one service (a wrapped `use` list) with names whose digits and underscores sort by
/// version, well-known types, and a chunk-shaped upload.
fn named_protos() -> Vec<(String, String)> {
    let mut text = String::from(
        "syntax = \"proto3\";\npackage acme.platform.inventory.v1;\n\
         import \"google/protobuf/empty.proto\";\nimport \"google/protobuf/timestamp.proto\";\n\
         message Status {}\nmessage Result {}\nmessage Option {}\nmessage CallContext {}\n\
         message Chunk { bytes data = 1; }\n\
         service Prelude {\n\
         \x20 rpc Get(Status) returns (Result);\n\
         \x20 rpc Watch(Option) returns (stream Status);\n\
         \x20 rpc Upload(stream Chunk) returns (CallContext);\n\
         \x20 rpc UploadWithAVeryLongNameThatGoesOnAndOnAndOnAndOn(stream Chunk) returns (Status);\n\
         \x20 rpc Chat(stream Result) returns (stream Option);\n\
         \x20 rpc Now(google.protobuf.Empty) returns (google.protobuf.Timestamp);\n\
         }\n\
         service ManyMessages {\n",
    );
    let mut messages = String::new();
    for i in 0..40 {
        let request = format!("Request_{i}");
        let response = format!("InventoryItemResponse{i}");
        messages.push_str(&format!(
            "message {request} {{}}\nmessage {response} {{}}\n"
        ));
        let rpc = format!("Call{i}");
        text.push_str(&match i % 4 {
            0 => format!("  rpc {rpc}({request}) returns ({response});\n"),
            1 => format!("  rpc {rpc}({request}) returns (stream {response});\n"),
            2 => format!("  rpc {rpc}(stream {request}) returns ({response});\n"),
            _ => format!("  rpc {rpc}(stream {request}) returns (stream {response});\n"),
        });
    }
    text.push_str("}\n");
    text.push_str(&messages);
    vec![("acme.proto".to_owned(), text)]
}

/// One service with an RPC of each pattern, and a chunk-shaped upload.
fn small_proto() -> Vec<(String, String)> {
    let text = "syntax = \"proto3\";\npackage small;\n\
                message Item { string id = 1; }\nmessage Chunk { bytes data = 1; }\n\
                service Small {\n\
                \x20 rpc Get(Item) returns (Item);\n\
                \x20 rpc Watch(Item) returns (stream Item);\n\
                \x20 rpc Upload(stream Chunk) returns (Item);\n\
                \x20 rpc Count(stream Item) returns (Item);\n\
                \x20 rpc Chat(stream Item) returns (stream Item);\n\
                }\n";
    vec![("small.proto".to_owned(), text.to_owned())]
}

/// Grown files spell the runtime's items in full (the file imports none of them): runtime
/// paths of every length up to 90 sweep each stub's `Status` and signature across the widths.
#[test]
fn runtime_paths_of_every_length_scaffold_rustfmt_clean_new_and_grown() {
    let small = descriptors_of(&small_proto());
    let mut checks = Checks::default();
    for len in 3..=90 {
        let runtime = format!("::{}", name("rt", len - 2));
        let scaffold = Scaffold::new("crate::pb").runtime_path(&runtime);
        scaffold_cases(&mut checks, &scaffold, &small, &format!("runtime {len}"));
    }
    checks.run();
}

#[test]
fn names_of_every_length_scaffold_rustfmt_clean_new_and_grown() {
    let sweep = descriptors_of(&sweep_protos());
    let named = descriptors_of(&named_protos());
    let mut checks = Checks::default();
    let long_module = "crate::generated::protos::with::a::long::path";
    let variants = [
        ("::rust_stream", "crate::pb"),
        ("::company_platform::grpc::streaming_runtime", "crate::pb"),
        (
            "::a_runtime_path_long_enough_to_push_every_status_past_the_width_limits::rt",
            "crate::pb",
        ),
        ("::rust_stream", long_module),
    ];
    for (runtime, module) in variants {
        let scaffold = Scaffold::new(module).runtime_path(runtime);
        let case = format!("{} {}", runtime.len(), module.len());
        scaffold_cases(&mut checks, &scaffold, &sweep, &format!("sweep {case}"));
        scaffold_cases(&mut checks, &scaffold, &named, &format!("named {case}"));
    }
    checks.run();
}

//! The compile step: what the fuzz cases generate, built with `cargo check` in one crate.
//!
//! The fuzz targets only parse their output; a name that parses can still fail to resolve
//! (a service named `Arc` hiding tonic's `Arc`). This step reruns cases, keeps the output of
//! each one the generator accepted, puts every case in a module of its own in one crate and
//! checks it once, so a corpus costs one build. A failure names the cases whose files hold
//! the errors.

use crate::{GeneratedFile, plugin_request, protox_input, seeds};
use prost::Message;
use prost_types::compiler::CodeGeneratorRequest;
use rust_stream_build::{Descriptors, Params};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which fuzz target a case belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The protoc plugin on a mutated request.
    Plugin,
    /// protox on a mutated proto.
    Protox,
}

/// The files a case generated, with the parameter string it was generated with.
#[derive(Clone, Debug)]
pub struct Output {
    /// Where the case came from (a corpus file, or a seeded input's number).
    pub origin: String,
    /// The fuzz input.
    pub input: Vec<u8>,
    /// The parameter string.
    pub parameter: String,
    /// The generated files.
    pub files: Vec<GeneratedFile>,
}

/// The output of case `input` of `target`, if the generator accepted it.
pub fn output(target: Target, origin: String, input: &[u8]) -> Option<Output> {
    let (parameter, files) = match target {
        Target::Plugin => plugin_output(input)?,
        Target::Protox => protox_output(input)?,
    };
    Some(Output {
        origin,
        input: input.to_vec(),
        parameter,
        files,
    })
}

fn plugin_output(input: &[u8]) -> Option<(String, Vec<GeneratedFile>)> {
    let request = plugin_request(input);
    let parameter = CodeGeneratorRequest::decode(request.as_slice())
        .ok()?
        .parameter
        .unwrap_or_default();
    let response = rust_stream_build::plugin::respond(&request).ok()?;
    if response.error.is_some() {
        return None;
    }
    let files = response
        .file
        .into_iter()
        .map(|f| GeneratedFile {
            name: f.name.unwrap_or_default(),
            content: f.content.unwrap_or_default(),
        })
        .collect();
    Some((parameter, files))
}

fn protox_output(input: &[u8]) -> Option<(String, Vec<GeneratedFile>)> {
    let (name, text, parameter) = protox_input(input);
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join(name);
    std::fs::create_dir_all(path.parent()?).ok()?;
    std::fs::write(&path, text).ok()?;
    let mut includes = vec![dir.path().to_owned()];
    includes.extend(seeds().includes.iter().cloned());
    let descriptors = Descriptors::compile(&[&path], &includes).ok()?;
    let params = Params::parse(parameter).ok()?;
    let files = rust_stream_build::generate(&descriptors, &params).ok()?;
    Some((parameter.to_owned(), files))
}

/// `true` if output generated with `parameter` builds on its own in a crate that depends on
/// `rust-stream`: not the stream layer alone (its messages would be elsewhere), not for a
/// runtime at another path.
pub fn standalone(parameter: &str) -> bool {
    Params::parse(parameter)
        .is_ok_and(|params| !params.stream_only && !parameter.contains("runtime_path"))
}

/// Case inputs: `count` seeded inputs of each target (the test suite's seeds), then every
/// file of the libFuzzer corpus directories `dirs` (named after their target, as
/// `cargo fuzz` lays them out: `corpus/plugin`, `corpus/protox`).
pub fn inputs(count: usize, dirs: &[PathBuf]) -> Result<Vec<(Target, String, Vec<u8>)>, String> {
    let mut cases = Vec::new();
    for (target, seed) in [(Target::Plugin, 0x5eed_0001), (Target::Protox, 0x5eed_0002)] {
        for (i, input) in crate::seeded_inputs(count, seed).enumerate() {
            cases.push((target, format!("{target:?} seeded #{i}"), input));
        }
    }
    for dir in dirs {
        let target = match dir.file_name().and_then(|n| n.to_str()) {
            Some("plugin") => Target::Plugin,
            Some("protox") => Target::Protox,
            _ => {
                return Err(format!(
                    "{}: a corpus directory is named after its target (plugin or protox)",
                    dir.display()
                ));
            }
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|err| format!("{}: {err}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        for file in files {
            let input = std::fs::read(&file).map_err(|err| format!("{}: {err}", file.display()))?;
            cases.push((target, file.display().to_string(), input));
        }
    }
    Ok(cases)
}

/// Writes `outputs` as one crate in `dir`, case `i` in module `case_i`, with `runtime` (the
/// `rust-stream` crate's directory) and the crates generated code names as dependencies.
pub fn write_crate(dir: &Path, outputs: &[Output], runtime: &Path) -> Result<(), String> {
    let io = |err: std::io::Error| err.to_string();
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    let mut lib = String::from(
        "//! Generated by the fuzz corpus's compile step.\n#![allow(warnings, clippy::all)]\n",
    );
    for (i, output) in outputs.iter().enumerate() {
        let case = src.join(format!("case_{i}"));
        for file in &output.files {
            let path = case.join(&file.name);
            std::fs::create_dir_all(path.parent().unwrap_or(&case)).map_err(io)?;
            std::fs::write(&path, &file.content).map_err(io)?;
        }
        let include = include_file(&output.parameter, &output.files);
        if include.is_none() {
            std::fs::write(case.join("fuzz_mod.rs"), nested_modules(&output.files)).map_err(io)?;
        }
        let include = include.unwrap_or_else(|| "fuzz_mod.rs".to_owned());
        writeln!(
            lib,
            "/// {}\npub mod case_{i} {{\n    include!(\"case_{i}/{include}\");\n}}",
            output.origin.replace('\n', " ")
        )
        .map_err(|err| err.to_string())?;
    }
    std::fs::write(src.join("lib.rs"), lib).map_err(io)?;
    let manifest = format!(
        "[package]\nname = \"fuzz-corpus\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n\
         rust-stream = {{ path = {runtime:?} }}\n\
         tonic = {{ version = \"0.14\", default-features = false, features = [\"transport\", \"codegen\", \"router\", \"server\", \"channel\"] }}\n\
         tonic-prost = \"0.14\"\nprost = \"0.14\"\ntokio-stream = \"0.1\"\n",
        runtime = runtime.display().to_string(),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(io)
}

/// The include file a case generated, if its parameters asked for one.
fn include_file(parameter: &str, files: &[GeneratedFile]) -> Option<String> {
    let name = Params::parse(parameter).ok()?.include_file?;
    files.iter().any(|f| f.name == name).then_some(name)
}

/// A module tree for files named after their package (`a.b.rs` in `a::b`, `_.rs` at the
/// root), as an include file would nest them.
fn nested_modules(files: &[GeneratedFile]) -> String {
    #[derive(Default)]
    struct Tree {
        files: Vec<String>,
        children: BTreeMap<String, Tree>,
    }
    fn render(tree: &Tree, out: &mut String) {
        for file in &tree.files {
            let _ = writeln!(out, "include!({file:?});");
        }
        for (name, child) in &tree.children {
            let ident = if syn::parse_str::<syn::Ident>(name).is_ok() {
                name.clone()
            } else {
                format!("r#{name}")
            };
            let _ = writeln!(out, "pub mod {ident} {{");
            render(child, out);
            out.push_str("}\n");
        }
    }
    let mut root = Tree::default();
    for file in files.iter().filter(|f| f.name.ends_with(".rs")) {
        let stem = file.name.trim_end_matches(".rs");
        let mut node = &mut root;
        if stem != "_" {
            for part in stem.split('.') {
                node = node.children.entry(part.to_owned()).or_default();
            }
        }
        node.files.push(file.name.clone());
    }
    let mut out = String::new();
    render(&root, &mut out);
    out
}

/// `cargo check` of the crate in `dir`, building in `target`: the compiler's errors, if
/// any, with the cases whose files they are in.
pub fn check(dir: &Path, target: &Path, outputs: &[Output]) -> Result<(), String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["check", "--quiet", "--offline", "--message-format=short"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|err| format!("cargo does not run: {err}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut report = String::new();
    for (i, case) in outputs.iter().enumerate() {
        let marker = format!("src/case_{i}/");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(&marker) && l.contains("error"))
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(
                report,
                "case_{i} ({}, parameter {:?}, input {:?}):\n  {}",
                case.origin,
                case.parameter,
                case.input,
                errors.join("\n  ")
            );
        }
    }
    if report.is_empty() {
        report = stderr.into_owned();
    }
    Err(report)
}

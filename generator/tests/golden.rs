//! Golden files (`tests/golden`) of the generator's output for `proto/streaming.proto` and
//! the edge-case corpus (`tests/corpus`), and a determinism check. `UPDATE_GOLDEN=1 cargo
//! test -p rust-stream-build --test golden` rewrites them; review the change with `git diff`.

mod support;

use rust_stream_build::{Descriptors, Params, generate};
use std::path::{Path, PathBuf};
use support::{corpus, update_golden, workspace as root};

/// (golden directory, include directory, proto, parameters)
fn cases() -> Vec<(String, PathBuf, &'static str, &'static str)> {
    let corpus = corpus();
    let mut cases = vec![
        (
            "streaming".to_owned(),
            root().join("proto"),
            "streaming.proto",
            "include_file=mod.rs",
        ),
        (
            "streaming_stream_only".to_owned(),
            root().join("proto"),
            "streaming.proto",
            "stream_only,bytes=.streaming.Chunk.data",
        ),
        // The other plugins' messages name the well-known types `::prost_types`.
        (
            "well_known_stream_only".to_owned(),
            corpus.clone(),
            "well_known.proto",
            "stream_only",
        ),
    ];
    for &proto in support::GENERATOR_CORPUS {
        let name = proto.trim_end_matches(".proto").replace('/', "_");
        cases.push((name, corpus.clone(), proto, ""));
    }
    cases
}

fn run(include: &Path, proto: &str, params: &str) -> Vec<rust_stream_build::GeneratedFile> {
    // Imported packages are generated too (as the build API does): code that refers to a
    // package whose code is not generated is refused.
    let descriptors = Descriptors::compile(&[proto], &[include, &root().join("proto")])
        .unwrap_or_else(|err| panic!("{proto}: {err}"))
        .generate_imports();
    generate(&descriptors, &Params::parse(params).unwrap())
        .unwrap_or_else(|err| panic!("{proto}: {err}"))
}

#[test]
fn generated_files_match_the_golden_files() {
    let update = update_golden();
    let mut mismatches = Vec::new();
    for (name, include, proto, params) in cases() {
        let dir = support::golden().join(&name);
        let files = run(&include, proto, params);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for file in &files {
                std::fs::write(dir.join(&file.name), &file.content).unwrap();
            }
            continue;
        }
        let mut expected: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|_| panic!("no golden files for {name}; run with UPDATE_GOLDEN=1"))
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        expected.sort();
        let mut actual: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        actual.sort();
        if expected != actual {
            mismatches.push(format!("{name}: files {actual:?}, golden {expected:?}"));
            continue;
        }
        for file in &files {
            let golden = std::fs::read_to_string(dir.join(&file.name)).unwrap();
            if golden != file.content {
                mismatches.push(format!("{name}/{}", file.name));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "generated code differs from the golden files (UPDATE_GOLDEN=1 rewrites them): {mismatches:#?}"
    );
}

#[test]
fn two_runs_produce_identical_bytes() {
    for (name, include, proto, params) in cases() {
        assert_eq!(
            run(&include, proto, params),
            run(&include, proto, params),
            "{name}"
        );
    }
}

#[test]
fn every_file_starts_with_the_generated_header() {
    for (_, include, proto, params) in cases() {
        for file in run(&include, proto, params) {
            assert!(file.content.starts_with("// @generated"), "{}", file.name);
        }
    }
}

/// The tokens entry point (what a procedural macro expands to) gives exactly the items of the
/// formatted files, and `nest_modules` with `root_items` the include file.
#[test]
fn tokens_are_the_items_of_the_formatted_files() {
    // Formatting adds trailing commas, so both sides are compared formatted.
    let formatted = |tokens: proc_macro2::TokenStream| {
        prettyplease::unparse(&syn::parse2(tokens).expect("generated tokens parse"))
    };
    let tokens_of =
        |text: &str| prettyplease::unparse(&syn::parse_file(text).expect("generated files parse"));
    for (name, include, proto, params) in cases() {
        // As `run` does: the corpus has imports of other packages.
        let descriptors = Descriptors::compile(&[proto], &[&include, &root().join("proto")])
            .unwrap_or_else(|err| panic!("{proto}: {err}"))
            .generate_imports();
        let params = Params::parse(params).unwrap();
        let files = generate(&descriptors, &params).unwrap();
        let packages = rust_stream_build::generate_tokens(&descriptors, &params).unwrap();
        let file_of = |file: &str| {
            files
                .iter()
                .find(|f| f.name == file)
                .unwrap_or_else(|| panic!("{name}: no file {file}"))
        };
        assert_eq!(
            packages.len(),
            files.len() - usize::from(params.include_file.is_some()),
            "{name}: one token stream per package file"
        );
        for package in &packages {
            assert_eq!(
                formatted(package.tokens.clone()),
                tokens_of(&file_of(&package.file_name).content),
                "{name}: tokens of {:?}",
                package.module
            );
        }
        if let Some(include) = &params.include_file {
            // The include file with each `include!` replaced by the file's items.
            let include = &files.iter().find(|f| &f.name == include).unwrap().content;
            let mut expanded = String::new();
            for line in include.lines() {
                match line.trim().strip_prefix("include!(\"") {
                    Some(rest) => {
                        let file = rest.trim_end_matches("\");").to_owned();
                        let content = &files.iter().find(|f| f.name == file).unwrap().content;
                        expanded.push_str(content);
                    }
                    None => expanded.push_str(line),
                }
                expanded.push('\n');
            }
            // Then the root items, as the derive adds them after the nested modules.
            let (model, seen) = rust_stream_build::model_of(&descriptors, &params).unwrap();
            let mut nested = rust_stream_build::nest_modules(&packages).unwrap();
            let root = rust_stream_build::root_items(&model, &seen, &params).unwrap();
            quote::ToTokens::to_tokens(&root, &mut nested);
            assert_eq!(
                formatted(nested),
                tokens_of(&expanded),
                "{name}: nested modules and root items"
            );
        }
    }
}

/// `harness=false` leaves out exactly the harness: the test server items of each service
/// and the root's `answer_default`; every other line of the output is the default's.
#[test]
fn harness_false_leaves_out_only_the_harness() {
    let text = |params: &str| -> String {
        run(&root().join("proto"), "streaming.proto", params)
            .iter()
            .map(|file| file.content.clone())
            .collect()
    };
    let with = text("include_file=mod.rs");
    let without = text("include_file=mod.rs,harness=false");
    for item in ["fn test_server", "struct TestServer", "fn answer_default"] {
        assert!(with.contains(item), "{item} by default");
        assert!(!without.contains(item), "{item} with harness=false");
    }
    let mut kept = with.lines();
    for line in without.lines() {
        assert!(
            kept.any(|l| l == line),
            "not in the default output: {line:?}"
        );
    }
}

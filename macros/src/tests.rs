//! The expansion against the build API, computed now from the same protos and options, and
//! the cache.

use crate::cache::PARSED;
use crate::expand::expand;
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use rust_stream_build::{
    Builder, Descriptors, PackageTokens, Params, generate_tokens, model_of, nest_modules,
    root_items,
};
use std::path::{Path, PathBuf};

/// The workspace: the tests name protos relative to it, as a crate in it would.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the macros crate is in the workspace")
        .to_owned()
}

/// The items of module `name` in `expanded`.
fn module_items(expanded: &TokenStream, name: &str) -> syn::File {
    let file: syn::File = syn::parse2(expanded.clone()).expect("the expansion parses");
    let module = file
        .items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == name => Some(m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no module `{name}` in the expansion"));
    syn::File {
        shebang: None,
        attrs: Vec::new(),
        items: module.content.map(|(_, items)| items).unwrap_or_default(),
    }
}

/// What the build API writes for `protos`, nested as the include file nests it (its root
/// items too), formatted.
fn build_api(protos: &[PathBuf], includes: &[PathBuf], params: &Params) -> String {
    let files = Builder::new()
        .emit_rerun_if_changed(false)
        .params(params.clone())
        .generate(protos, includes)
        .expect("the build API generates");
    // Module paths by file name, as the core names them.
    let descriptors = Descriptors::compile(protos, includes)
        .expect("protos compile")
        .generate_imports();
    let modules = generate_tokens(&descriptors, params).expect("tokens");
    assert_eq!(files.len(), modules.len(), "one file per package");
    let packages: Vec<PackageTokens> = files
        .iter()
        .map(|file| {
            let module = modules
                .iter()
                .find(|m| m.file_name == file.name)
                .unwrap_or_else(|| panic!("no module for {}", file.name));
            let parsed = syn::parse_file(&file.content).expect("the file parses");
            PackageTokens {
                module: module.module.clone(),
                file_name: file.name.clone(),
                tokens: parsed.into_token_stream(),
            }
        })
        .collect();
    let mut nested = nest_modules(&packages).expect("nested");
    // The include file's root items follow the package modules, in the derive's module too.
    let (model, seen) = model_of(&descriptors, params).expect("model");
    let root = root_items(&model, &seen, params).expect("root items");
    nested.extend(root.into_token_stream());
    prettyplease::unparse(&syn::parse2(nested).expect("nested code parses"))
}

/// Asserts that deriving on `protos` (relative to the workspace) with `keys` (more
/// attribute keys) yields the build API's code for the same protos and `params`.
fn assert_same(protos: &[&str], include: &str, keys: TokenStream, params: &Params) {
    let input: syn::DeriveInput = syn::parse2(quote! {
        #[stream_service(#(proto = #protos,)* include = #include, module = "generated", #keys)]
        struct Probe;
    })
    .expect("derive input");
    let expanded = expand(&input, &workspace());
    let derived = prettyplease::unparse(&module_items(&expanded, "generated"));
    let absolute: Vec<PathBuf> = protos.iter().map(|p| workspace().join(p)).collect();
    let expected = build_api(&absolute, &[workspace().join(include)], params);
    assert!(
        derived == expected,
        "{protos:?}: the derive's code differs from the build API's"
    );
}

#[test]
fn the_reference_proto_expands_to_the_build_apis_code() {
    assert_same(
        &["proto/streaming.proto"],
        "proto",
        TokenStream::new(),
        &Params::default(),
    );
    // The generator's options, as the plugin parameters name them.
    let params =
        Params::parse("bytes=.streaming.Chunk.data,tuning=low_latency,buffer=8,deadline_ms=500")
            .unwrap();
    assert_same(
        &["proto/streaming.proto"],
        "proto",
        quote!(
            bytes = ".streaming.Chunk.data",
            tuning = "low_latency",
            buffer = 8,
            deadline_ms = 500
        ),
        &params,
    );
}

/// Editions files, which protox cannot read, expand with nothing installed (the generator's
/// bundled protoc) to the build API's code, itself the plugin's byte for byte (the
/// generator's editions tests); the DELIMITED cycles too, whose fields are boxed.
#[test]
fn editions_files_expand_to_the_build_apis_code() {
    for proto in ["implicit.proto", "explicit.proto", "v2024.proto"] {
        let path = format!("generator/tests/editions/{proto}");
        assert_same(
            &[path.as_str()],
            "generator/tests/editions",
            TokenStream::new(),
            &Params::default(),
        );
    }
    assert_same(
        &["tests/proto/cycles/delimited.proto"],
        "tests/proto/cycles",
        quote!(serve = false),
        &Params::default(),
    );
}

#[test]
fn the_edge_case_corpus_expands_to_the_build_apis_code() {
    let corpus = workspace().join("generator/tests/corpus");
    let mut protos = Vec::new();
    let mut dirs = vec![corpus.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                protos.push(path);
            }
        }
    }
    protos.sort();
    assert!(protos.len() > 20, "the corpus is there: {protos:?}");
    for proto in protos {
        let relative = proto
            .strip_prefix(workspace())
            .unwrap()
            .display()
            .to_string();
        assert_same(
            &[relative.as_str()],
            "generator/tests/corpus",
            TokenStream::new(),
            &Params::default(),
        );
    }
}

/// The expansion of a derive on `proto` in `dir`, and how many parses it took.
fn expand_counting(dir: &Path, proto: &str) -> (String, usize) {
    let input: syn::DeriveInput = syn::parse2(quote! {
        #[stream_service(proto = #proto)]
        struct Probe;
    })
    .unwrap();
    let path = dir.join(proto);
    let parses = || {
        PARSED
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.contains(&path))
            .count()
    };
    let before = parses();
    let expanded = expand(&input, dir).to_string();
    (expanded, parses() - before)
}

#[test]
fn several_derives_parse_once_until_a_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rpc: &str| {
        std::fs::write(
            dir.path().join("cached.proto"),
            format!(
                "syntax = \"proto3\";\npackage cached;\nimport \"item.proto\";\n\
                 service Cache {{ rpc {rpc}(Item) returns (Item); }}\n"
            ),
        )
        .unwrap();
    };
    std::fs::write(
        dir.path().join("item.proto"),
        "syntax = \"proto3\";\npackage cached;\nmessage Item { string id = 1; }\n",
    )
    .unwrap();
    write("Get");
    let (first, parses) = expand_counting(dir.path(), "cached.proto");
    assert_eq!(parses, 1);
    let (second, parses) = expand_counting(dir.path(), "cached.proto");
    assert_eq!(parses, 0, "the second derive is served from the cache");
    assert_eq!(first, second);
    // A changed import is a changed input.
    std::fs::write(
        dir.path().join("item.proto"),
        "syntax = \"proto3\";\npackage cached;\nmessage Item { string id = 1; string colour_name = 2; }\n",
    )
    .unwrap();
    let (third, parses) = expand_counting(dir.path(), "cached.proto");
    assert_eq!(parses, 1, "an edited import is parsed again");
    assert!(third.contains("colour_name") && !first.contains("colour_name"));
    write("Fetch");
    let (fourth, parses) = expand_counting(dir.path(), "cached.proto");
    assert_eq!(parses, 1);
    assert!(fourth.contains("fetch"));
    // Every file read is tracked, imports included.
    for file in ["cached.proto", "item.proto"] {
        assert!(
            fourth.contains(&format!("{file}\"")),
            "include_bytes! of {file}"
        );
    }
}

/// A crate's edition as the derive reads it, for each way a manifest states it: written in
/// `[package]`, left out (2015), or inherited from the workspace, whether the crate is a
/// member below the root or the root package itself.
#[test]
fn the_edition_is_read_from_the_package_or_its_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"members/*\"]\n[workspace.package]\nedition = \"2018\"\n\
         [package]\nname = \"root\"\nedition.workspace = true\n",
    );
    write(
        "members/inherits/Cargo.toml",
        "[package]\nname = \"inherits\"\nedition = { workspace = true }\n",
    );
    write(
        "members/own/Cargo.toml",
        "[package]\nname = \"own\"\nedition = \"2024\"\n",
    );
    write("members/none/Cargo.toml", "[package]\nname = \"none\"\n");
    let edition = |path: &str| crate::cache::edition(&dir.path().join(path));
    assert_eq!(edition("").as_deref(), Some("2018"));
    assert_eq!(edition("members/inherits").as_deref(), Some("2018"));
    assert_eq!(edition("members/own").as_deref(), Some("2024"));
    assert_eq!(edition("members/none").as_deref(), Some("2015"));
    assert_eq!(edition("members/missing"), None);
}

/// The edition is read from disk once per manifest directory, and again only when a manifest
/// it came from changes, a workspace root's included, or one appears where there was none.
#[test]
fn the_edition_is_read_again_only_when_a_manifest_changes() {
    use crate::cache::{EDITIONS_READ, edition};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let member = root.join("a/member");
    std::fs::create_dir_all(&member).unwrap();
    let reads = || {
        let read = EDITIONS_READ.lock().unwrap();
        read.iter().filter(|d| **d == member).count()
    };
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\n[workspace.package]\nedition = \"2018\"\n",
    )
    .unwrap();
    std::fs::write(
        member.join("Cargo.toml"),
        "[package]\nname = \"m\"\nedition.workspace = true\n",
    )
    .unwrap();
    assert_eq!(edition(&member).as_deref(), Some("2018"));
    assert_eq!(edition(&member).as_deref(), Some("2018"));
    assert_eq!(reads(), 1);
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\n[workspace.package]\nedition = \"2021\"\n",
    )
    .unwrap();
    assert_eq!(edition(&member).as_deref(), Some("2021"));
    assert_eq!(reads(), 2);
    // A nearer workspace root, between the member and the old one.
    std::fs::write(
        root.join("a/Cargo.toml"),
        "[workspace]\n[workspace.package]\nedition = \"2024\"\n",
    )
    .unwrap();
    assert_eq!(edition(&member).as_deref(), Some("2024"));
    std::fs::write(
        member.join("Cargo.toml"),
        "[package]\nname = \"m\"\nedition = \"2015\"\n",
    )
    .unwrap();
    assert_eq!(edition(&member).as_deref(), Some("2015"));
    assert_eq!(edition(&member).as_deref(), Some("2015"));
    assert_eq!(reads(), 4);
}

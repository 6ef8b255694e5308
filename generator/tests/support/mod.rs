//! Paths and corpus lists shared by the generator's integration tests (`mod support;` in
//! each test file).

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod corpus_crate;

/// The workspace root: the reference proto (`proto/`), the runtime, `Cargo.lock`.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the generator crate is in the workspace")
        .to_path_buf()
}

/// The target directory of the crates these tests build with a nested cargo (the compile
/// corpus, the editions corpus), beside the workspace's own build in the target directory in
/// use (`CARGO_TARGET_DIR` or `target/`): their dependencies are compiled once and reused by
/// later runs.
pub fn nested_target() -> PathBuf {
    target_dir().join("generator-compile")
}

/// A directory for crate `name` that persists between runs, under the target directory, so a
/// nested cargo finds its sources unchanged when the generated code is.
pub fn persistent_crate(name: &str) -> PathBuf {
    target_dir().join("compile-corpus").join(name)
}

/// The target directory this test was built in.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the scratch directory is in the target directory")
        .to_path_buf()
}

/// The edge-case corpus of valid protos (`tests/corpus`).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The corpus of bad protos and faulty requests with their expected diagnostics
/// (`tests/bad`).
pub fn bad() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad")
}

/// The golden files of the generator's output (`tests/golden`).
pub fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Whether this run rewrites the expected files (`UPDATE_GOLDEN=1`) instead of comparing.
pub fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Each proto of the corpus that is a root of generation (`cross/b.proto` comes in through
/// `cross/a.proto`'s import).
pub const GENERATOR_CORPUS: &[&str] = &[
    "comments.proto",
    "constructs.proto",
    "constructs2.proto",
    "cross/a.proto",
    "deprecated.proto",
    "empty_service.proto",
    "keywords.proto",
    "large_oneof.proto",
    "legacy.proto",
    "list_comments.proto",
    "names/keywords.proto",
    "names/packages_a.proto",
    "names/packages_b.proto",
    "names/packages_c.proto",
    "names/packages_d.proto",
    "names/services.proto",
    "no_package.proto",
    "retry.proto",
    "rust_names.proto",
    "shared_names.proto",
    "tuned.proto",
    "well_known.proto",
];

/// Corpus protos that are compiled but have no golden file: their output is large and
/// repetitive (`trait_names.proto` is 92 names in each of the four patterns), and what they
/// guard is that the code compiles, and user code calling it (`tests/compile.rs`).
pub const COMPILE_ONLY_CORPUS: &[&str] = &["trait_names.proto"];

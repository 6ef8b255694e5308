//! The fast tier of the compile corpus: the corpus as one crate (`support::corpus_crate`,
//! `Tier::Fast`), each package a module, type-checked by `cargo check` with warnings denied,
//! in every `cargo test -p rust-stream-build`. The crate and its target
//! directory persist under the target directory, so a run whose generated code is unchanged
//! costs a second, and a changed emitter re-checks this one crate only. The large, repetitive
//! protos, clippy, rustdoc and edition 2021 are the full tier (`tests/compile.rs`, feature
//! `slow-tests`).

mod support;

use support::corpus_crate::{self, Tier};

#[test]
fn generated_code_and_skeletons_type_check_without_warnings() {
    let krate = support::persistent_crate("check");
    corpus_crate::write(&krate, "2024", Tier::Fast);
    corpus_crate::cargo(&krate, &["check", "--quiet", "--offline"], &[]);
}

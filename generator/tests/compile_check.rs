//! The fast tier of the compile corpus: the corpus as one crate (`support::corpus_crate`,
//! `Tier::Fast`), each package a module, type-checked by `cargo check` with warnings denied,
//! in every `cargo test -p rust-stream-build`. The crate and its target
//! directory persist under the target directory, so a run whose generated code is unchanged
//! costs a second, and a changed emitter re-checks this one crate only. The large, repetitive
//! protos, clippy, rustdoc and edition 2021 are the full tier (`tests/compile.rs`, feature
//! `slow-tests`).
//!
//! With `slow-tests` on, this tier is skipped (reported as ignored): the full tier's crate
//! holds every module of this one (its protos are a superset, the skeletons and the
//! production build are the same), and its clippy run under edition 2024 denies every
//! warning this check denies, so running both would type-check the same code twice.

mod support;

use support::corpus_crate::{self, Tier};

#[test]
#[cfg_attr(
    feature = "slow-tests",
    ignore = "covered by the full tier, tests/compile.rs, which slow-tests turns on"
)]
fn generated_code_and_skeletons_type_check_without_warnings() {
    let krate = support::persistent_crate("check");
    corpus_crate::write(&krate, "2024", Tier::Fast);
    corpus_crate::cargo(&krate, &["check", "--quiet", "--offline"], &[]);
}

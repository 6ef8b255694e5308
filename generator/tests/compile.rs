//! The full tier of the compile corpus (`support::corpus_crate`, `Tier::Full`: the fast
//! tier's protos and the large, repetitive ones): clippy with warnings denied under editions
//! 2021 and 2024, and rustdoc with its warnings denied. The fast tier,
//! `tests/compile_check.rs`, type-checks the same crate in every `cargo test`.

mod support;

use support::corpus_crate::{self, Tier};

#[test]
fn generated_code_and_skeletons_pass_clippy_in_editions_2021_and_2024_and_rustdoc() {
    let krate = support::persistent_crate("full");
    // One edition after the other: clippy on this crate peaks near 12 GB of memory, and two
    // runs side by side were killed for it on a 24 GB machine.
    for edition in ["2021", "2024"] {
        corpus_crate::write(&krate, edition, Tier::Full);
        corpus_crate::cargo(
            &krate,
            &["clippy", "--quiet", "--offline", "--", "-D", "warnings"],
            &[],
        );
    }
    corpus_crate::cargo(
        &krate,
        &["doc", "--quiet", "--offline", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    );
}

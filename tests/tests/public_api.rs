//! The public API of each published crate, compared with the listing committed beside it
//! (`runtime/public-api.txt`, `generator/public-api.txt`, `macros/public-api.txt`), so that
//! every change to a public path, signature, field, variant or trait impl is deliberate.
//!
//! The listing is read from source with `syn` (see `public_api/lister.rs`), so this runs
//! on stable Rust with nothing installed. After a change to a public API on purpose,
//! regenerate the listings and commit them with the change:
//!
//! ```text
//! UPDATE_API_LISTINGS=1 cargo test -p rust-stream-tests --test public_api
//! ```

#[path = "public_api/lister.rs"]
mod lister;

use rust_stream_tests::workspace;

/// The command that rewrites the committed listings.
const UPDATE: &str = "UPDATE_API_LISTINGS=1 cargo test -p rust-stream-tests --test public_api";

/// Lists the crate named `name` in folder `dir` and compares it with `dir/public-api.txt`,
/// or rewrites that file when `UPDATE_API_LISTINGS` is set.
fn check(name: &str, dir: &str) {
    let root = workspace().join(dir);
    let krate = lister::Crate::read(name, &root.join("src/lib.rs"))
        .unwrap_or_else(|err| panic!("reading {dir}/src: {err}"));
    let listing = krate.listing();
    let committed_path = root.join("public-api.txt");
    if std::env::var_os("UPDATE_API_LISTINGS").is_some() {
        std::fs::write(&committed_path, &listing)
            .unwrap_or_else(|err| panic!("writing {}: {err}", committed_path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != listing {
        panic!(
            "the public API of `{name}` differs from {dir}/public-api.txt:\n{}\n\
             If the change is deliberate, update the listing with\n    {UPDATE}\n\
             and commit it with the change.",
            difference(&committed, &listing)
        );
    }
}

/// The lines only in `old` (`-`) and only in `new` (`+`), in the listing's order.
fn difference(old: &str, new: &str) -> String {
    let removed = old
        .lines()
        .filter(|line| !new.lines().any(|other| other == *line));
    let added = new
        .lines()
        .filter(|line| !old.lines().any(|other| other == *line));
    let mut out: Vec<String> = removed.map(|line| format!("- {line}")).collect();
    out.extend(added.map(|line| format!("+ {line}")));
    out.join("\n")
}

#[test]
fn runtime_public_api_is_the_committed_listing() {
    check("rust_stream", "runtime");
}

#[test]
fn generator_public_api_is_the_committed_listing() {
    check("rust_stream_build", "generator");
}

#[test]
fn derive_public_api_is_the_committed_listing() {
    check("rust_stream_macros", "macros");
}

/// The lister on a small crate written for it: re-exports through private modules, globs,
/// `#[doc(hidden)]`, `cfg`s, impls written elsewhere and items inside a macro invocation.
#[test]
fn lister_follows_reexports_and_sorts_hidden_items_apart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("inner")).expect("src directory");
    let lib = "mod private; pub mod inner; pub use private::{Shown, helper as renamed};\n\
               mod send { pub fn send() {} } pub use send::send;\n\
               #[doc(hidden)] pub mod glue { pub use crate::private::Shown; pub fn glue() {} }\n\
               #[cfg(test)] pub fn only_in_tests() {}\n\
               #[cfg(feature = \"extra\")] pub fn with_a_feature() {}\n\
               pub use inner::*;";
    let private = "#[derive(Clone)] pub struct Shown { pub field: u32, hidden_field: u8 }\n\
                   pub fn helper(x: &str) -> usize { x.len() }\n\
                   pub struct NotReachable;";
    let inner = "use crate::private::Shown;\n\
                 impl Shown { pub fn method(&self) {} fn private(&self) {} }\n\
                 pin_project! { pub struct Projected<F> { #[pin] future: F } }\n\
                 pub enum Choice { One, Two(u8) }";
    for (file, text) in [
        ("lib.rs", lib),
        ("private.rs", private),
        ("inner/mod.rs", inner),
    ] {
        std::fs::write(src.join(file), text).expect("writing the crate");
    }
    let listing = lister::Crate::read("demo", &src.join("lib.rs"))
        .expect("the crate reads")
        .listing();
    let (public, hidden) = listing
        .split_once("# #[doc(hidden)]")
        .expect("a hidden section");
    for line in [
        "pub struct demo::Shown",
        "pub demo::Shown::field: u32",
        "pub fn demo::Shown::method(&self)",
        "impl Clone for demo::Shown",
        "pub fn demo::renamed(x: &str) -> usize",
        "pub struct demo::Projected<F>",
        "pub use demo::inner::Projected = demo::Projected",
        "variant demo::Choice::Two(u8)",
        "pub fn demo::with_a_feature()",
        "pub fn demo::send()",
    ] {
        assert!(
            public.lines().any(|l| l == line),
            "missing `{line}` in:\n{listing}"
        );
    }
    for line in [
        "pub fn demo::glue::glue()",
        "pub use demo::glue::Shown = demo::Shown",
    ] {
        assert!(
            hidden.lines().any(|l| l == line),
            "`{line}` not hidden in:\n{listing}"
        );
    }
    for absent in [
        "hidden_field",
        "NotReachable",
        "only_in_tests",
        "private(&self)",
    ] {
        assert!(
            !listing.contains(absent),
            "`{absent}` listed in:\n{listing}"
        );
    }
}

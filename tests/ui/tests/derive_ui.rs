//! The derive's compile errors, as a user sees them (`.stderr` snapshots under
//! `tests/ui/derive`; `TRYBUILD=overwrite` rewrites them). The UI crates live in
//! `target/tests/trybuild/rust-stream-derive-ui`, so their proto paths climb four levels to
//! the workspace. The crates under `tests/ui/derive/pass` must compile and run.

#[test]
fn derive_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("derive/*.rs");
    cases.pass("derive/pass/*.rs");
}

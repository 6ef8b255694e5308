//! The repository's layout as packaging needs it.

use std::path::Path;

/// `proto/rust_stream/options.proto`, which protoc users pass with `-I proto`, is the file
/// the generator crate packages and builds in (`generator/proto/`), not a copy that can
/// drift from it.
#[test]
fn the_repository_options_proto_is_the_generators() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| {
        std::fs::read(root.join(path)).unwrap_or_else(|err| panic!("reading {path}: {err}"))
    };
    assert!(
        read("proto/rust_stream/options.proto")
            == read("generator/proto/rust_stream/options.proto"),
        "proto/rust_stream/options.proto differs from generator/proto/rust_stream/options.proto; \
         it should be a link to it"
    );
}

//! The wire tests of `runtime_wire.rs` and `runtime_calls.rs` (all four patterns,
//! cancellation, limits, deadlines, raw HTTP/2 edge cases), run against the server that
//! `#[derive(StreamService)]` generates (`rust_stream_examples::derived`) instead of the
//! build script's: the same test bodies, another `front`.

/// The code the included tests serve through: the derive's.
mod front {
    pub use rust_stream_tests::serve_derived as serve;
}

#[path = "runtime_wire.rs"]
mod wire;

#[path = "runtime_calls.rs"]
mod calls;

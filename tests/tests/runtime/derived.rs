//! The wire and call tests through the code `#[derive(StreamService)]` generates
//! (`rust_stream_examples::derived`).

/// The server the tests serve through.
mod front {
    pub use rust_stream_tests::serve_derived as serve;
}

#[path = "calls.rs"]
mod calls;
#[path = "wire.rs"]
mod wire;

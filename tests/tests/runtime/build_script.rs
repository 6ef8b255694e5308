//! The wire and call tests through the build script's generated code.

/// The server the tests serve through.
mod front {
    pub use rust_stream_tests::serve;
}

#[path = "calls.rs"]
mod calls;
#[path = "wire.rs"]
mod wire;

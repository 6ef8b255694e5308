//! Derive macros for rust-stream.
//!
//! `#[derive(StreamService)]`, which reads a proto at compile time and generates the stream
//! layer's glue for a handler struct, is planned for the next release; this crate holds its
//! place in the workspace so that `rust-stream` can re-export it behind a `derive` feature
//! without a breaking change.

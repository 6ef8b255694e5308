//! The runtime against live servers on loopback sockets, and its handler test kit: one test
//! binary, so tonic, the examples and the generated code are linked once for all of them.
//! The wire and call tests run twice, through the server the build script generates
//! (`build_script`) and through the one `#[derive(StreamService)]` generates (`derived`).

// `calls.rs` and `wire.rs` are loaded once per front on purpose: each copy serves through its
// own `front`.
#![allow(clippy::duplicate_mod)]

mod auth;
mod build_script;
mod derived;
mod handler_kit;
mod packaging;
mod response_metadata;
mod server;
mod test_harness;
mod tls;

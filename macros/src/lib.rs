//! `#[derive(StreamService)]`: a rust-stream gRPC service from a handler struct and a
//! `.proto` file, read at compile time: no build script, no `protoc`, no generated files.
//!
//! ```
//! use guide_proto::streaming::{UserRequest, UserResponse};
//! use rust_stream::{CallContext, Status, StreamService};
//!
//! #[derive(StreamService)]
//! #[stream_service(proto = "../proto/streaming.proto", include = "../proto")]
//! struct Guide;
//!
//! impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {
//!     // One async method per RPC, shaped by its pattern; the others answer UNIMPLEMENTED.
//!     async fn get_user(&self, _ctx: CallContext, request: UserRequest) -> Result<UserResponse, Status> {
//!         Err(Status::not_found(format!("no user {}", request.id)))
//!     }
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // `Guide.serve("127.0.0.1:50051").await` serves until the process ends; the generated
//! // harness serves on a free port and hands back a connected client.
//! use guide_proto::streaming::streaming_examples_stream::test_server;
//! let (client, _server) = test_server(Guide).await?;
//! let status = client.get_user(UserRequest { id: "7".into() }).await.unwrap_err();
//! assert_eq!(status.message(), "no user 7");
//! # Ok(()) }
//! ```
//!
//! (The paths are relative to the crate's `CARGO_MANIFEST_DIR`; this crate's own example
//! reads the repository's reference proto.)
//!
//! The derive reads the protos with protox through rust-stream-build's core and emits, in a
//! module next to the struct (`guide_proto`, or `module = ".."`), exactly the code the build
//! API writes for the same protos and options, then implements `rust_stream::StreamService`
//! for the struct: the tonic service with the proto's configuration (`into_server`) and a
//! one-call `serve` with the generated tuning. Use it through `rust-stream`'s default
//! `derive` feature; the keys of `#[stream_service(..)]` are documented there.

mod attr;
mod cache;
mod expand;
mod fallback;
mod manifest;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use std::path::PathBuf;

/// Derives `rust_stream::StreamService` for a handler struct from a `.proto` file; see the
/// `rust-stream` crate's documentation for the attribute's keys.
#[proc_macro_derive(StreamService, attributes(stream_service))]
pub fn derive_stream_service(input: TokenStream) -> TokenStream {
    let input = match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(err) => return err.into_compile_error().into(),
    };
    // Cargo sets it for every crate it builds; without cargo, paths are relative to the
    // working directory.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    expand::expand(&input, &manifest_dir).into()
}

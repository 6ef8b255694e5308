//! A gRPC service on rust-stream: the code generated from `proto/` (`pb`) and the handlers
//! (`handlers`, one file per service). `src/main.rs` serves them; `src/bin/client.rs` calls
//! them. Nothing here names an RPC: after changing the protos, `rust-stream sync` adds the
//! stubs of what is new.

{% if codegen == "build-rs" -%}
/// The code generated from `proto/` by `build.rs`, nested by proto package: messages, tonic
/// client and server, and rust-stream's stream layer (per service `<service>_stream` with the
/// handler trait, the tuned client and the test harness `test_server`); at the root
/// `SERVICES`, `FILE_DESCRIPTOR_SET` and `Handlers`, every service served together.
#[allow(missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/_include.rs"));
}
{%- else -%}
/// Generates, from every proto in `proto/`, the module `pb` next to it, nested by proto
/// package: messages, tonic client and server, and rust-stream's stream layer (per service
/// `<service>_stream` with the handler trait, the tuned client and the test harness
/// `test_server`); at the root `SERVICES`, `FILE_DESCRIPTOR_SET` and `Handlers`, every
/// service served together. `serve = false`: the handlers are served through `Handlers`.
#[derive(rust_stream::StreamService)]
#[stream_service(
    proto = "proto",
    module = "pb",
    serve = false,
    tuning = "{{tuning}}",
    rpc_tests = true
)]
pub struct Protos;
{%- endif %}

pub mod handlers;
pub mod production;

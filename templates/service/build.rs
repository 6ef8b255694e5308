{% if codegen == "build-rs" -%}
//! Generates the code for every proto in `proto/` into `OUT_DIR` (`src/lib.rs` includes it
//! as `pb`): messages, tonic client and server, rust-stream's stream layer, the service
//! list, `Handlers`, the descriptors for reflection and the per-RPC tests. No protoc
//! needed: protox parses the protos in-process.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rust_stream_build::Builder::new()
        .include_file("_include.rs")
        .param("tuning", "{{tuning}}")?
        .param("rpc_tests", "true")?
        .compile(&["proto"], &["proto"])?;
    Ok(())
}
{%- else -%}
//! `#[derive(StreamService)]` in `src/lib.rs` reads every proto in `proto/` at compile time
//! and tracks the files it read; this tells cargo to rebuild when a proto is added too.

fn main() {
    println!("cargo:rerun-if-changed=proto");
}
{%- endif %}

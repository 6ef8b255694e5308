{% if codegen == "build-rs" -%}
//! Writes, into `OUT_DIR`, the code for `proto/service.proto` (messages, tonic client and
//! server, rust-stream's stream layer and test harness) and the encoded `FileDescriptorSet`
//! the reflection service serves. No protoc needed: protox parses the protos in-process.
{%- else -%}
//! Writes, into `OUT_DIR`, the encoded `FileDescriptorSet` of `proto/service.proto` that the
//! reflection service serves (the derive in `src/lib.rs` generates the code). No protoc
//! needed: protox parses the protos in-process.
{%- endif %}

use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

const PROTOS: &[&str] = &["proto/service.proto"];
const INCLUDES: &[&str] = &["proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
{%- if codegen == "build-rs" %}
    rust_stream_build::Builder::new().compile(PROTOS, INCLUDES)?;
{%- else %}
    // The code itself comes from `#[derive(StreamService)]` in src/lib.rs.
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
{%- endif %}
    write_descriptor_set()?;
    Ok(())
}

/// Writes `file_descriptor_set.bin` as protox encodes it: every file with its imports and
/// source info, options kept as they are (custom options included), so reflection clients
/// see the protos exactly.
fn write_descriptor_set() -> Result<(), Box<dyn std::error::Error>> {
    /// `rust_stream/options.proto`, which rust-stream-build has built in.
    struct RustStreamOptions;
    impl FileResolver for RustStreamOptions {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            if name == rust_stream_build::load::OPTIONS_PROTO_NAME {
                File::from_source(name, rust_stream_build::load::OPTIONS_PROTO)
            } else {
                Err(protox::Error::file_not_found(name))
            }
        }
    }
    let mut resolver = ChainFileResolver::new();
    for include in INCLUDES {
        resolver.add(IncludeFileResolver::new(include.into()));
    }
    resolver.add(RustStreamOptions);
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("file_descriptor_set.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    Ok(())
}

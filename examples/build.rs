//! Generates the messages, tonic client and server, and rust-stream's stream layer for
//! `proto/streaming.proto`, without a protoc binary (the build API parses with protox), and
//! writes the proto's encoded `FileDescriptorSet` for the reflection-driven `streaming-cli`.

const PROTO: &str = "../proto/streaming.proto";
const INCLUDE: &str = "../proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rust_stream_build::Builder::new()
        // Chunk payloads as `Bytes`: received chunks are slices of the network buffer,
        // not copies.
        .bytes(".streaming.Chunk.data")
        .compile(&[PROTO], &[INCLUDE])?;
    let mut compiler = protox::Compiler::new([INCLUDE])?;
    compiler.include_imports(true).open_file(PROTO)?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("streaming_descriptor_set.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    Ok(())
}

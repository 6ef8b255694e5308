//! Generates the messages, tonic client and server, and rust-stream's stream layer for
//! `proto/streaming.proto`, without a protoc binary (the build API parses with protox).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rust_stream_build::Builder::new()
        // Chunk payloads as `Bytes`: received chunks are slices of the network buffer,
        // not copies.
        .bytes(".streaming.Chunk.data")
        .compile(&["../proto/streaming.proto"], &["../proto"])?;
    Ok(())
}

//! Compiles `proto/streaming.proto` without a protoc binary: protox parses it, and
//! tonic-prost-build turns the descriptors into messages, client and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../proto";
    let proto = "../proto/streaming.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], [proto_dir])?;
    tonic_prost_build::configure()
        // Chunk payloads as `Bytes`: received chunks are slices of the network buffer,
        // not copies.
        .bytes(".streaming.Chunk.data")
        .compile_fds(descriptors)?;
    Ok(())
}

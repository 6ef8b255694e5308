//! Generates gRPC's interop `TestService` (`proto/grpc/testing/test.proto`) for the interop
//! cases, with gzip accepted on requests and used for responses the client accepts, the way
//! gRPC's own interop servers run.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rust_stream_build::Builder::new()
        .param("compression", "gzip")?
        .compile(&["proto/grpc/testing/test.proto"], &["proto"])?;
    Ok(())
}

//! A command-line client for every method of `proto/streaming.proto`, with nothing written
//! per method: `rust_stream::client_cli` reads the proto's descriptor set at run time.
//!
//! ```text
//! streaming-cli list
//! streaming-cli call GetUser '{"id": "42"}'
//! streaming-cli call list_events --limit 3
//! streaming-cli call UploadChunks --upload big.bin
//! printf '{"text":"hi","user":"ada"}\n' | streaming-cli call Chat
//! ```

fn main() -> std::process::ExitCode {
    rust_stream::client_cli::main(
        rust_stream_examples::FILE_DESCRIPTOR_SET,
        "http://127.0.0.1:50051",
    )
}

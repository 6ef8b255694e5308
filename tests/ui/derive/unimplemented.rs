// A struct that does not implement the handler trait is told what to implement: the
// service, the proto and every RPC with its pattern and signature.
#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto")]
struct Guide;

fn main() {}

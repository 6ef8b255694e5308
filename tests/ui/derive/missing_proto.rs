// A proto that does not exist is named with the path the derive looked for.
#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../tests/ui/derive/protos/missing.proto")]
struct Guide;

fn main() {}

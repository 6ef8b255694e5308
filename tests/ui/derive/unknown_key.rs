// An unknown key is named, with every valid key.
#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto", protos = "x.proto")]
struct Guide;

impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {}

fn main() {}

// An unknown key is named, with every valid key; the rest of the derive still works.
use rust_stream::StreamService;

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto", protos = "x.proto")]
struct Guide;

impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {}

fn main() {
    let _ = Guide.serve("127.0.0.1:0");
}

// Without `#[stream_service(proto = ..)]` the derive says what to write; nothing else is
// reported.
use rust_stream::StreamService;

#[derive(rust_stream::StreamService)]
struct Guide;

impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {}

fn main() {
    let _ = Guide.serve("127.0.0.1:0");
}

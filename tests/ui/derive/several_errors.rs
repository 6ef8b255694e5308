// Every problem with the attribute is reported at once, each at its value.
#[derive(rust_stream::StreamService)]
#[stream_service(
    proto = "../../../../proto/streaming.proto",
    buffer = "many",
    tuning = "fast",
    module = "not an ident",
    crate = "not a path",
    colour = "red"
)]
struct Guide;

impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {}

fn main() {}

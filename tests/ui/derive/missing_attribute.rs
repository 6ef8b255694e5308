// Without `#[stream_service(proto = ..)]` the derive says what to write.
#[derive(rust_stream::StreamService)]
struct Guide;

fn main() {}

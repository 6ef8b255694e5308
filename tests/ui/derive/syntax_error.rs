// A proto that does not parse: the error is at the attribute, with file:line:col.
#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../tests/ui/derive/protos/syntax_error.proto")]
struct Broken;

// The fallback keeps the rest of the crate quiet: no second error for the struct's use.
fn main() {
    let _ = Broken;
}

// A response type that protoc would read as the method of the same name: refused at the
// attribute, with both places, as protoc refuses it.
#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../tests/ui/derive/protos/method_scope.proto")]
struct Admin;

fn main() {
    let _ = Admin;
}

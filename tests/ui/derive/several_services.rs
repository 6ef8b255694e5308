// Protos with several services need `service = ".."`; the error lists them.
#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../tests/ui/derive/protos/two_services.proto")]
struct Shop;

// A name that is not among them is refused the same way.
#[derive(rust_stream::StreamService)]
#[stream_service(
    proto = "../../../../tests/ui/derive/protos/two_services.proto",
    service = "Billing"
)]
struct Billing;

fn main() {}

// A service name that is not in the protos: one error, naming the services there.
use rust_stream::StreamService;

#[derive(rust_stream::StreamService)]
#[stream_service(
    proto = "../../../../tests/ui/derive/protos/two_services.proto",
    service = "Billing"
)]
struct Billing;

impl billing_proto::shop::orders_stream::OrdersHandler for Billing {}

fn main() {
    let _ = Billing.into_server();
    let _ = Billing.serve("127.0.0.1:0");
}

// Without `service = ".."` in protos with several services, the module is still generated
// and the struct still has its `StreamService` methods: the one error is the choice.
use rust_stream::StreamService;
use shop_proto::shop::Item;

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../tests/ui/derive/protos/two_services.proto")]
struct Shop;

async fn run(listener: tokio::net::TcpListener) {
    let _ = Item::default();
    let _ = Shop
        .serve_with_shutdown(listener, async {}, std::time::Duration::ZERO)
        .await;
}

fn main() {
    let _ = run;
}

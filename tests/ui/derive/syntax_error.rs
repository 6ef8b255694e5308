// A proto that does not parse: the error is at the attribute, with file:line:col.
use rust_stream::StreamService;

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../tests/ui/derive/protos/syntax_error.proto")]
struct Broken;

// The fallback keeps the rest of the crate quiet: no second error for the struct's use, for
// paths into the module that could not be generated, or for the service's methods.
use broken_proto::broken::Item;
use broken_proto::broken::deep::er::Thing;

impl broken_proto::broken::items_stream::ItemsHandler for Broken {}

async fn run(listener: tokio::net::TcpListener) {
    let _: Item = Thing::default();
    let _ = Broken
        .serve_with_shutdown(listener, async {}, std::time::Duration::ZERO)
        .await;
}

fn main() {
    let _ = Broken;
    let _ = run;
}

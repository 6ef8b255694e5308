// An import that is not found names the include directories searched and how to add one
// (`include = ".."`); it is the only error, whatever the crate does with the module.
use rust_stream::StreamService;
use store_proto::store::v1::Item;

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../tests/ui/derive/protos/missing_import.proto")]
struct Store;

impl store_proto::store::v1::store_stream::StoreHandler for Store {}

fn main() {
    let _ = Item::default();
    let _ = Store.serve("127.0.0.1:0");
}

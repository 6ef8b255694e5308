//! A crate with no build script: three derives, two on the same proto in one module and one
//! on a proto sharing its import. It serves all four patterns over loopback, calls each
//! through the generated client, and prints what the protos decided (the tests edit the
//! protos and look for the change).

use first_proto::common::Item;
use first_proto::orders::orders_stream::{OrdersHandler, OrdersStreamClient};
use rust_stream::{CallContext, RequestStream, ResponseSink, StreamService};
use std::time::Duration;
use tonic::Status;

/// Serves `orders.Orders`, every pattern.
#[derive(StreamService)]
#[stream_service(proto = "proto/orders.proto", include = "proto", module = "first_proto")]
struct First;

/// The same proto again, in the same module: its own module by default.
#[derive(StreamService)]
#[stream_service(proto = "proto/orders.proto", include = "proto")]
struct Second;

/// Another proto with the same import.
#[derive(StreamService)]
#[stream_service(proto = "proto/stock.proto", include = "proto")]
struct Third;

fn item(id: impl Into<String>) -> Item {
    Item {
        id: id.into(),
        ..Item::default()
    }
}

impl OrdersHandler for First {
    async fn get(&self, _ctx: CallContext, request: Item) -> Result<Item, Status> {
        Ok(item(format!("got {}", request.id)))
    }

    async fn watch(
        &self,
        _ctx: CallContext,
        request: Item,
        sink: ResponseSink<Item>,
    ) -> Result<(), Status> {
        for i in 0..3 {
            sink.send(item(format!("{} {i}", request.id))).await?;
        }
        Ok(())
    }

    async fn upload(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<Item>,
    ) -> Result<Item, Status> {
        let mut ids = Vec::new();
        while let Some(request) = requests.message().await? {
            ids.push(request.id);
        }
        Ok(item(ids.join("+")))
    }

    async fn chat(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<Item>,
        sink: ResponseSink<Item>,
    ) -> Result<(), Status> {
        while let Some(request) = requests.message().await? {
            sink.send(item(format!("re: {}", request.id))).await?;
        }
        Ok(())
    }
}

// Every RPC left to its default: answers UNIMPLEMENTED.
impl second_proto::orders::orders_stream::OrdersHandler for Second {}

impl third_proto::stock::stock_stream::StockHandler for Third {
    async fn level(
        &self,
        _ctx: CallContext,
        request: third_proto::common::Item,
    ) -> Result<third_proto::common::Item, Status> {
        Ok(third_proto::common::Item {
            id: format!("level of {}", request.id),
            ..Default::default()
        })
    }
}

#[tokio::main]
async fn main() {
    println!(
        "max_message_size={}",
        <First as StreamService>::TUNING.max_message_size
    );
    println!("item={:?}", Item::default());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = First::TUNING
        .server()
        .add_service(First.into_server())
        .add_service(Third.into_server());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(router.serve_with_shutdown(
        listener,
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    let _unused = Second.into_server();

    let uri = format!("http://{addr}");
    let mut client = OrdersStreamClient::connect(uri.clone()).await.unwrap();
    println!("unary={}", client.get(item("a")).await.unwrap().id);
    let mut watched = client.watch(item("w")).await.unwrap();
    let mut events = Vec::new();
    while let Some(event) = watched.message().await.unwrap() {
        events.push(event.id);
    }
    println!("server_streaming={}", events.join(","));
    let uploaded = client
        .upload(tokio_stream::iter([item("x"), item("y")]))
        .await
        .unwrap();
    println!("client_streaming={}", uploaded.id);
    let (requests, mut replies) = client.chat();
    requests.send(item("hi")).await.unwrap();
    let reply = replies.message().await.unwrap().unwrap();
    drop(requests);
    println!("bidi={}", reply.id);
    let mut stock = third_proto::stock::stock_stream::StockStreamClient::connect(uri)
        .await
        .unwrap();
    let level = stock
        .level(third_proto::common::Item {
            id: "nuts".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    println!("stock={}", level.id);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

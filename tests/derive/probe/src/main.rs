//! A crate with no build script: three derives, two on the same proto in one module and one
//! on a proto sharing its import. It serves all four patterns over loopback, calls each
//! through the generated client, and prints what the protos decided (the tests edit the
//! protos and look for the change). A fourth derive uses every well-known type (the crate
//! has no prost-types) in RPCs named like trait methods, called with method syntax with
//! those traits in scope.

use clock_proto::clock::Stamp;
use clock_proto::clock::clock_stream::{ClockHandler, ClockStreamClient};
use first_proto::common::Item;
use first_proto::orders::orders_stream::{OrdersHandler, OrdersStreamClient};
use rust_stream::prost_types::{self, NullValue, Timestamp};
use rust_stream::{CallContext, RequestStream, ResponseSink, StreamService};
#[allow(unused_imports)]
use std::borrow::Borrow;
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

/// Well-known types, RPCs named like `Clone::clone`, `Into::into`, `Borrow::borrow` and
/// `TryInto::try_into`.
#[derive(StreamService)]
#[stream_service(proto = "proto/clock.proto", include = "proto", module = "clock_proto")]
struct Fourth;

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

impl ClockHandler for Fourth {
    async fn clone(&self, _ctx: CallContext, request: Timestamp) -> Result<Stamp, Status> {
        Ok(Stamp {
            at: Some(request),
            took: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            text: Some("seven".to_owned()),
            count: Some(3),
            nothing: NullValue::NullValue as i32,
            ..Stamp::default()
        })
    }

    async fn into(
        &self,
        _ctx: CallContext,
        request: prost_types::Duration,
        sink: ResponseSink<Timestamp>,
    ) -> Result<(), Status> {
        for seconds in 0..request.seconds {
            sink.send(Timestamp { seconds, nanos: 0 }).await?;
        }
        Ok(())
    }

    async fn borrow(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<String>,
    ) -> Result<String, Status> {
        let mut words = Vec::new();
        while let Some(word) = requests.message().await? {
            words.push(word);
        }
        Ok(words.join(" "))
    }

    async fn try_into(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<Stamp>,
        sink: ResponseSink<()>,
    ) -> Result<(), Status> {
        while let Some(stamp) = requests.message().await? {
            for _ in 0..stamp.count.unwrap_or_default() {
                sink.send(()).await?;
            }
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
        .add_service(Third.into_server())
        .add_service(Fourth.into_server());
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
    let client = OrdersStreamClient::connect(uri.clone()).await.unwrap();
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
    let stock = third_proto::stock::stock_stream::StockStreamClient::connect(uri.clone())
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
    well_known_types_by_method_syntax(uri).await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Calls each RPC of `clock.Clock` with method syntax on an owned client: `client.clone(..)`
/// is the helper, not `Clone::clone`; `into` and `try_into` are `into_rpc` and
/// `try_into_rpc`, as `Into::into` and `TryInto::try_into` take the client by value.
async fn well_known_types_by_method_syntax(uri: String) {
    let client = ClockStreamClient::connect(uri).await.unwrap();
    let stamp = client
        .clone(Timestamp {
            seconds: 7,
            nanos: 0,
        })
        .await
        .unwrap();
    println!(
        "wkt_unary=at {} took {} text {} count {} nothing {:?}",
        stamp.at.unwrap().seconds,
        stamp.took.unwrap().seconds,
        stamp.text.as_deref().unwrap_or_default(),
        stamp.count.unwrap_or_default(),
        stamp.nothing(),
    );
    let mut ticks = client
        .into_rpc(prost_types::Duration {
            seconds: 3,
            nanos: 0,
        })
        .await
        .unwrap();
    let mut seconds = Vec::new();
    while let Some(tick) = ticks.message().await.unwrap() {
        seconds.push(tick.seconds.to_string());
    }
    println!("wkt_server_streaming={}", seconds.join(","));
    let words = client
        .borrow(tokio_stream::iter(["well".to_owned(), "known".to_owned()]))
        .await
        .unwrap();
    println!("wkt_client_streaming={words}");
    let (requests, mut empties) = client.try_into_rpc();
    requests
        .send(Stamp {
            count: Some(2),
            ..Stamp::default()
        })
        .await
        .unwrap();
    drop(requests);
    let mut received = 0;
    while empties.message().await.unwrap().is_some() {
        received += 1;
    }
    println!("wkt_bidi={received} empties");
}

{% if proto == "guide" -%}
//! Every RPC over a real socket: the generated harness (`test_server`) serves the handler on
//! `127.0.0.1:0` and hands back a connected, tuned client; dropping its guard stops the
//! server.

use {{crate_name}}::handlers::{{service_snake}}::{{service}}Impl;
use {{crate_name}}::pb;
use {{crate_name}}::pb::{{service_snake}}_stream::test_server;
use tonic::Code;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test]
async fn get_user_answers_known_users_and_not_found_for_others() -> Result<(), Error> {
    let (client, _server) = test_server({{service}}Impl).await?;
    let user = client.get_user(pb::UserRequest { id: "42".into() }).await?;
    assert_eq!(user.name, "Ada Lovelace");

    let status = client
        .get_user(pb::UserRequest { id: "7".into() })
        .await
        .unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::NotFound, "User not found"));
    Ok(())
}

#[tokio::test]
async fn list_events_streams_events_after_the_filter_until_the_client_leaves() -> Result<(), Error> {
    let (client, _server) = test_server({{service}}Impl).await?;
    let mut events = client.list_events(pb::EventFilter { after: "10".into() }).await?;
    for id in 11..=15 {
        let event = events.message().await?.expect("an endless stream");
        assert_eq!(event.id, id.to_string());
        assert_eq!(event.data.len(), 64);
    }
    // Dropping the responses cancels the call; the connection goes on serving.
    drop(events);
    let user = client.get_user(pb::UserRequest { id: "42".into() }).await?;
    assert_eq!(user.email, "ada@example.com");
    Ok(())
}

#[tokio::test]
async fn upload_chunks_counts_every_byte_of_a_chunked_upload() -> Result<(), Error> {
    let (client, _server) = test_server({{service}}Impl).await?;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&reports);
    let result = client
        .upload_chunks_from(std::io::Cursor::new(data), 65536, move |p| {
            seen.lock().unwrap().push(p.bytes);
        })
        .await?;
    assert_eq!(result.bytes_received, 200_000);
    assert_eq!(*reports.lock().unwrap(), [65536, 131072, 196608, 200_000]);
    Ok(())
}

#[tokio::test]
async fn chat_answers_every_message_in_order() -> Result<(), Error> {
    let (client, _server) = test_server({{service}}Impl).await?;
    let (requests, mut replies) = client.chat();
    for text in ["hello", "wörld"] {
        let user = "alice".to_owned();
        requests.send(pb::Message { text: text.into(), user }).await?;
        let reply = replies.message().await?.expect("a reply");
        assert_eq!((reply.text, reply.user), (format!("Delivered: {text}"), "server".into()));
    }
    drop(requests);
    assert!(replies.message().await?.is_none());
    Ok(())
}
{%- else -%}
//! Every RPC over a real socket: each service's generated harness (`test_server`) serves
//! its handler on `127.0.0.1:0` and hands back a connected, tuned client; dropping its guard
//! stops the server. The scaffolded stubs answer UNIMPLEMENTED until they are written.

use {{crate_name}}::handlers::inventory::InventoryImpl;
use {{crate_name}}::handlers::transfer::TransferImpl;
use {{crate_name}}::pb;
use {{crate_name}}::pb::{inventory_stream, transfer_stream};
use rust_stream::UploadError;
use tonic::Code;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test]
async fn get_item_answers_unimplemented() -> Result<(), Error> {
    let (client, _server) = inventory_stream::test_server(InventoryImpl).await?;
    let status = client.get_item(pb::ItemRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    Ok(())
}

#[tokio::test]
async fn watch_stock_answers_unimplemented() -> Result<(), Error> {
    let (client, _server) = inventory_stream::test_server(InventoryImpl).await?;
    let status = match client.watch_stock(pb::ItemRequest::default()).await {
        Err(status) => status,
        Ok(mut levels) => levels.message().await.unwrap_err(),
    };
    assert_eq!(status.code(), Code::Unimplemented);
    Ok(())
}

#[tokio::test]
async fn upload_image_reads_the_upload_and_answers_unimplemented() -> Result<(), Error> {
    let (client, _server) = transfer_stream::test_server(TransferImpl).await?;
    let data = std::io::Cursor::new(vec![7u8; 100_000]);
    match client.upload_image_from(data, 65536, |_| {}).await {
        Err(UploadError::Status(status)) => {
            assert_eq!(status.code(), Code::Unimplemented);
            assert!(status.message().contains("100000 bytes received"), "{status:?}");
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn sync_answers_unimplemented_once_the_client_is_done() -> Result<(), Error> {
    let (client, _server) = transfer_stream::test_server(TransferImpl).await?;
    let (requests, mut replies) = client.sync();
    requests.send(pb::Change { what: "a".into() }).await?;
    drop(requests);
    assert_eq!(replies.message().await.unwrap_err().code(), Code::Unimplemented);
    Ok(())
}
{%- endif %}

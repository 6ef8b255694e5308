//! The async auth hook on the runtime's server: every pattern refused before its handler
//! starts, an upload refused before its body is read, the identity handed to handlers,
//! exempt services reachable, and the hook as a tower layer on tonic's own server.

use futures_util::StreamExt;
use rust_stream::{
    Auth, AuthLayer, CallContext, CallLayer, Denied, Identity, RequestStream, ResponseSink, Tuning,
};
use rust_stream_examples::adapter::{
    StreamingExamplesHandler, StreamingExamplesService, StreamingExamplesStreamClient,
};
use rust_stream_examples::pb;
use rust_stream_tests::{TestServer, serve_router, within};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

/// Who the hook found the caller to be.
struct User(String);

/// Bearer `good` is ada; another token is known but refused; no token is unauthenticated.
fn bearer_auth() -> Auth {
    Auth::new(|call| async move {
        // A lookup that awaits, as a token service would.
        tokio::task::yield_now().await;
        assert!(call.remote_addr().is_some(), "the hook sees the peer");
        assert!(call.method().starts_with('/'), "{}", call.method());
        match call.metadata().get("authorization").map(|v| v.to_str()) {
            Some(Ok("Bearer good")) => Ok(Identity::new(User("ada".into()))),
            Some(_) => Err(Denied::permission_denied("that token may not call this")),
            None => Err(Denied::unauthenticated("no token")),
        }
    })
}

/// All four patterns, counting the handlers that started and answering with the identity.
#[derive(Default)]
struct Counted {
    started: AtomicUsize,
}

impl Counted {
    fn start(&self, ctx: &CallContext) -> String {
        self.started.fetch_add(1, Ordering::SeqCst);
        ctx.identity::<User>()
            .map_or_else(|| "nobody".to_owned(), |user| user.0.clone())
    }
}

impl StreamingExamplesHandler for Counted {
    async fn get_user(
        &self,
        ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        let name = self.start(&ctx);
        Ok(pb::UserResponse {
            name,
            email: String::new(),
        })
    }

    async fn list_events(
        &self,
        ctx: CallContext,
        _request: pb::EventFilter,
        sink: ResponseSink<pb::Event>,
    ) -> Result<(), Status> {
        let id = self.start(&ctx);
        sink.send(pb::Event {
            id,
            ..Default::default()
        })
        .await?;
        Ok(())
    }

    async fn upload_chunks(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Chunk>,
    ) -> Result<pb::UploadResult, Status> {
        self.start(&ctx);
        let mut bytes_received = 0;
        while let Some(chunk) = requests.message().await? {
            bytes_received += chunk.data.len() as u64;
        }
        Ok(pb::UploadResult { bytes_received })
    }

    async fn chat(
        &self,
        ctx: CallContext,
        mut requests: RequestStream<pb::Message>,
        sink: ResponseSink<pb::Message>,
    ) -> Result<(), Status> {
        let user = self.start(&ctx);
        while let Some(message) = requests.message().await? {
            sink.send(pb::Message {
                text: message.text,
                user: user.clone(),
            })
            .await?;
        }
        Ok(())
    }
}

async fn guarded(handler: &Arc<Counted>) -> TestServer {
    serve_router(
        Tuning::BALANCED
            .server()
            .auth(bearer_auth())
            .add_service(StreamingExamplesService::from_arc(Arc::clone(handler)).into_server()),
    )
    .await
}

async fn client(addr: SocketAddr) -> StreamingExamplesStreamClient {
    within(
        "connect",
        StreamingExamplesStreamClient::connect(format!("http://{addr}")),
    )
    .await
    .expect("connect")
}

fn with_token(token: Option<&str>) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    if let Some(token) = token {
        metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    metadata
}

fn request<T>(token: Option<&str>, message: T) -> Request<T> {
    Request::from_parts(with_token(token), Default::default(), message)
}

/// Runs each pattern once with `token`: the name each handler saw, or the status.
async fn every_pattern(
    client: &StreamingExamplesStreamClient,
    token: Option<&str>,
) -> [Result<String, Code>; 4] {
    let unary = client
        .get_user_with_metadata(request(token, pb::UserRequest::default()))
        .await
        .map(|reply| reply.message.name);
    let server_streaming = async {
        let mut events = client
            .list_events_with_metadata(request(token, pb::EventFilter::default()))
            .await?;
        Ok(events.message().await?.map(|e| e.id).unwrap_or_default())
    }
    .await;
    let chunks = futures_util::stream::iter([pb::Chunk {
        data: vec![1; 10].into(),
    }]);
    let upload = client
        .upload_chunks_with_metadata(request(token, chunks))
        .await
        .map(|reply| reply.message.bytes_received.to_string());
    let bidi = async {
        let (requests, mut responses) = client.chat_with_metadata(with_token(token));
        // A refused call may have ended before the message goes out.
        let _ = requests
            .send(pb::Message {
                text: "hi".into(),
                user: String::new(),
            })
            .await;
        let reply = responses.message().await?;
        drop(requests);
        Ok(reply.map(|m| m.user).unwrap_or_default())
    }
    .await;
    [unary, server_streaming, upload, bidi].map(|r: Result<String, Status>| r.map_err(|s| s.code()))
}

#[tokio::test]
async fn every_pattern_is_refused_before_its_handler_starts_and_admitted_with_its_identity() {
    let handler = Arc::new(Counted::default());
    let server = guarded(&handler).await;
    let client = client(server.addr).await;

    let refused = within("calls without a token", every_pattern(&client, None)).await;
    assert_eq!(refused, [const { Err(Code::Unauthenticated) }; 4]);
    let refused = within(
        "calls with a bad token",
        every_pattern(&client, Some("bad")),
    )
    .await;
    assert_eq!(refused, [const { Err(Code::PermissionDenied) }; 4]);
    assert_eq!(
        handler.started.load(Ordering::SeqCst),
        0,
        "a refused call started"
    );

    let admitted = within("calls with a token", every_pattern(&client, Some("good"))).await;
    assert_eq!(
        admitted,
        [
            Ok("ada".to_owned()),
            Ok("ada".to_owned()),
            Ok("10".to_owned()),
            Ok("ada".to_owned())
        ]
    );
    assert_eq!(handler.started.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_refused_upload_of_100_mib_sends_at_most_one_window() {
    const CHUNK: usize = 64 * 1024;
    let window = u64::from(Tuning::BALANCED.stream_window);
    // What the client's upload produced: what it sent, and what waits in its buffers.
    let produced = Arc::new(tokio::sync::watch::Sender::new(0u64));
    // A slow lookup: it answers only once the client has filled the call's window, so the
    // client streams all the while, and only flow control stops it.
    let seen = Arc::clone(&produced);
    let auth = Auth::new(move |_call| {
        let mut seen = seen.subscribe();
        async move {
            let _ = seen.wait_for(|bytes| *bytes >= window).await;
            Err(Denied::unauthenticated("no token"))
        }
    });
    let handler = Arc::new(Counted::default());
    let server = serve_router(
        Tuning::BALANCED
            .server()
            .auth(auth)
            .add_service(StreamingExamplesService::from_arc(Arc::clone(&handler)).into_server()),
    )
    .await;
    let client = client(server.addr).await;

    let counter = Arc::clone(&produced);
    let chunks = futures_util::stream::iter(0..100 * 1024 * 1024 / CHUNK).map(move |_| {
        counter.send_modify(|bytes| *bytes += CHUNK as u64);
        pb::Chunk {
            data: vec![7; CHUNK].into(),
        }
    });
    let outcome = within(
        "the refused upload",
        client.upload_chunks_with_metadata(request(None, chunks)),
    )
    .await;
    assert_eq!(outcome.map(drop).unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(handler.started.load(Ordering::SeqCst), 0);
    // The window, plus the chunk hyper holds while it waits for credit and the one tonic
    // is encoding.
    let produced = *produced.borrow();
    assert!(
        (window..=window + 2 * CHUNK as u64).contains(&produced),
        "the client produced {produced} bytes against a {window}-byte window"
    );
}

fn list_services() -> ServerReflectionRequest {
    ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    }
}

#[tokio::test]
async fn health_and_reflection_stay_reachable_when_exempt() {
    let handler = Arc::new(Counted::default());
    let serve = |auth: Auth| {
        let (_reporter, health) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(rust_stream_examples::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("the reflection service");
        serve_router(
            Tuning::BALANCED
                .server()
                .auth(auth)
                .add_service(StreamingExamplesService::from_arc(Arc::clone(&handler)).into_server())
                .add_service(health)
                .add_service(reflection),
        )
    };
    let probe = |addr: SocketAddr| async move {
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("connect");
        let health = HealthClient::new(channel.clone())
            .check(HealthCheckRequest::default())
            .await
            .map(drop)
            .map_err(|s| s.code());
        let reflection = async {
            let mut answers = ServerReflectionClient::new(channel)
                .server_reflection_info(futures_util::stream::iter([list_services()]))
                .await?
                .into_inner();
            answers.message().await.map(drop)
        }
        .await
        .map_err(|s| s.code());
        (health, reflection)
    };

    let exempt = serve(bearer_auth().exempt_health_and_reflection()).await;
    assert_eq!(
        within("health and reflection", probe(exempt.addr)).await,
        (Ok(()), Ok(()))
    );
    let ours = within(
        "GetUser",
        client(exempt.addr)
            .await
            .get_user(pb::UserRequest::default()),
    )
    .await;
    assert_eq!(ours.unwrap_err().code(), Code::Unauthenticated);

    let guarded = serve(bearer_auth()).await;
    assert_eq!(
        within("health and reflection", probe(guarded.addr)).await,
        (Err(Code::Unauthenticated), Err(Code::Unauthenticated))
    );
}

#[tokio::test]
async fn the_hook_is_a_tower_layer_on_tonics_own_server_too() {
    let handler = Arc::new(Counted::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = tonic::transport::Server::builder()
        .layer(CallLayer)
        .layer(AuthLayer::from(bearer_auth()))
        .add_service(StreamingExamplesService::from_arc(Arc::clone(&handler)).into_server());
    tokio::spawn(router.serve_with_incoming(Tuning::BALANCED.incoming(listener)));
    let client = client(addr).await;

    let refused = within("GetUser", client.get_user(pb::UserRequest::default())).await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);
    let admitted = within(
        "GetUser with a token",
        client.get_user_with_metadata(request(Some("good"), pb::UserRequest::default())),
    )
    .await;
    assert_eq!(admitted.unwrap().message.name, "ada");
    assert_eq!(handler.started.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panicking_hook_refuses_its_call_and_the_server_keeps_serving() {
    let handler = Arc::new(Counted::default());
    let auth = Auth::new(|call| async move {
        if call.metadata().contains_key("authorization") {
            return Ok(Identity::anonymous());
        }
        panic!("the hook panics on a call without a token");
    });
    let server = serve_router(
        Tuning::BALANCED
            .server()
            .auth(auth)
            .add_service(StreamingExamplesService::from_arc(Arc::clone(&handler)).into_server()),
    )
    .await;
    let client = client(server.addr).await;
    let refused = within("GetUser", client.get_user(pb::UserRequest::default())).await;
    assert_eq!(refused.unwrap_err().code(), Code::Internal);
    let admitted = within(
        "GetUser with a token",
        client.get_user_with_metadata(request(Some("any"), pb::UserRequest::default())),
    )
    .await;
    assert_eq!(admitted.unwrap().message.name, "nobody");
    assert_eq!(handler.started.load(Ordering::SeqCst), 1);
}

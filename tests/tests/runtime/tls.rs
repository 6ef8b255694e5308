//! TLS and mTLS on the runtime's server, with certificates made by the test: our client
//! against our server, every way a handshake can fail (each leaving the server serving),
//! certificates reloaded under a running server, a fleet's replicas verified as the fleet's
//! name, and a stalled handshake that neither blocks accepting nor outlives the handshake
//! timeout.

use rust_stream::{
    CallContext, ClientTls, Fleet, ManualResolver, ServerTls, StreamService, TunedServer, Tuning,
};
use rust_stream_examples::adapter::{
    StreamingExamplesHandler, StreamingExamplesService, StreamingExamplesStreamClient,
};
use rust_stream_examples::derived::Derived;
use rust_stream_examples::pb;
use rust_stream_tests::tls::Ca;
use rust_stream_tests::{TestServer, serve_router, within};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tonic::Status;

/// Answers `GetUser` with the DNS names of the client's verified certificate.
struct WhoAmI;

impl StreamingExamplesHandler for WhoAmI {
    async fn get_user(
        &self,
        ctx: CallContext,
        _request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        let name = match ctx.peer_identity() {
            Some(peer) => {
                assert_eq!(peer.certificate(), &peer.chain()[0]);
                peer.dns_names().join(",")
            }
            None => "anonymous".to_owned(),
        };
        Ok(pb::UserResponse {
            name,
            email: String::new(),
        })
    }
}

/// `WhoAmI` served by `server` on a free loopback port, until dropped.
async fn start(mut server: TunedServer) -> TestServer {
    serve_router(server.add_service(StreamingExamplesService::new(WhoAmI).into_server())).await
}

/// `GetUser` over a new TLS connection with `tls`, through the generated client's
/// `connect_tls`: the name the server saw, or why it failed.
async fn who_am_i(addr: SocketAddr, tls: &ClientTls) -> Result<String, String> {
    let uri = format!("https://127.0.0.1:{}", addr.port());
    let client = within(
        "connect",
        StreamingExamplesStreamClient::connect_tls(uri, tls),
    )
    .await
    .map_err(|e| format!("connect: {e:?}"))?;
    within("GetUser", client.get_user(pb::UserRequest::default()))
        .await
        .map(|user| user.name)
        .map_err(|status| format!("call: {status:?}"))
}

#[tokio::test]
async fn our_client_calls_our_server_over_tls_and_over_mtls_with_its_identity() {
    let ca = Ca::new("server CA");
    let tls_server = start(
        Tuning::BALANCED
            .server()
            .tls(ca.leaf(&["localhost"]).server()),
    )
    .await;
    assert_eq!(
        who_am_i(tls_server.addr, &ca.client()).await.unwrap(),
        "anonymous"
    );

    let clients = Ca::new("client CA");
    let mtls = ca
        .leaf(&["localhost"])
        .server()
        .require_client_certs(clients.pem.as_bytes())
        .unwrap();
    let mtls_server = start(Tuning::BALANCED.server().tls(mtls)).await;
    let me = clients.leaf(&["billing.internal", "*.billing.internal"]);
    let client = ca.client().identity(&me.cert_pem, &me.key_pem);
    assert_eq!(
        who_am_i(mtls_server.addr, &client).await.unwrap(),
        "billing.internal,*.billing.internal"
    );
}

/// The derive's one-call TLS path: `serve_tls_with_shutdown` (what `serve_tls` runs once
/// bound) serves a derived service over TLS on a port the test reads first, and stops when
/// told to.
#[tokio::test]
async fn a_derived_service_serves_tls_in_one_call() {
    let ca = Ca::new("server CA");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(Derived(Arc::new(WhoAmI)).serve_tls_with_shutdown(
        listener,
        ca.leaf(&["localhost"]).server(),
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    assert_eq!(who_am_i(addr, &ca.client()).await.unwrap(), "anonymous");
    let untrusted = who_am_i(addr, &Ca::new("other").client()).await;
    assert!(untrusted.is_err(), "{untrusted:?}");
    stop.send(()).unwrap();
    let served = within("the server to stop", serving).await.unwrap();
    served.expect("served until told to stop");
}

/// A fleet over TLS verifies every replica, reached by its IP address, as the fleet's
/// name; a fleet named otherwise connects to none of them.
#[tokio::test]
async fn a_fleet_verifies_every_replica_as_its_name() {
    let ca = Ca::new("server CA");
    let (mut replicas, mut serving) = (Vec::new(), Vec::new());
    for ip in ["127.0.0.2", "127.0.0.3"] {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        replicas.push(listener.local_addr().unwrap());
        let mut server = Tuning::BALANCED
            .server()
            .tls(ca.leaf(&["orders.test"]).server());
        let router = server.add_service(StreamingExamplesService::new(WhoAmI).into_server());
        serving.push(tokio::spawn(router.serve(listener)));
    }
    let fleet = |name: &str| {
        let tls = ClientTls::with_ca_pem(&ca.pem);
        Fleet::with_resolver(name, ManualResolver::new(replicas.clone())).tls(tls)
    };
    let channel = within("connect", fleet("orders.test:50051").connect())
        .await
        .unwrap();
    let connected: Vec<_> = replicas.iter().map(|addr| (*addr, true)).collect();
    assert_eq!(channel.replicas(), connected);
    let client = StreamingExamplesStreamClient::from_channel(channel);
    for _ in 0..4 {
        let user = within("GetUser", client.get_user(pb::UserRequest::default())).await;
        assert_eq!(user.unwrap().name, "anonymous");
    }
    let error = within("connect", fleet("billing.test").connect())
        .await
        .unwrap_err();
    let wrong_name = "certificate not valid for name \"billing.test\"";
    assert_eq!(error.to_string().matches(wrong_name).count(), 1, "{error}");
    serving.iter().for_each(|task| task.abort());
}

#[tokio::test]
async fn failed_handshakes_fail_cleanly_and_the_server_keeps_serving() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let mtls = ca
        .leaf(&["localhost"])
        .server()
        .require_client_certs(clients.pem.as_bytes())
        .unwrap();
    let server = start(Tuning::BALANCED.server().tls(mtls)).await;
    let me = clients.leaf(&["client.test"]);
    let good = ca.client().identity(&me.cert_pem, &me.key_pem);
    let stranger = Ca::new("another CA").leaf(&["client.test"]);
    let expired_me = clients.expired_leaf(&["client.test"]);

    let plain = async {
        let channel = Tuning::BALANCED
            .connect(format!("http://{}", server.addr))
            .await
            .map_err(|e| format!("{e:?}"))?;
        StreamingExamplesStreamClient::from_channel(channel)
            .get_user(pb::UserRequest::default())
            .await
            .map(|user| user.name)
            .map_err(|e| format!("{e:?}"))
    };
    let failures = [
        ("plain TCP", within("plain", plain).await),
        (
            "the wrong CA",
            who_am_i(
                server.addr,
                &Ca::new("other")
                    .client()
                    .identity(&me.cert_pem, &me.key_pem),
            )
            .await,
        ),
        (
            "no client certificate",
            who_am_i(server.addr, &ca.client()).await,
        ),
        (
            "an expired client certificate",
            who_am_i(
                server.addr,
                &ca.client()
                    .identity(&expired_me.cert_pem, &expired_me.key_pem),
            )
            .await,
        ),
        (
            "a client certificate of another CA",
            who_am_i(
                server.addr,
                &ca.client().identity(&stranger.cert_pem, &stranger.key_pem),
            )
            .await,
        ),
    ];
    for (what, outcome) in failures {
        assert!(outcome.is_err(), "{what} was served: {outcome:?}");
        assert_eq!(
            who_am_i(server.addr, &good).await.as_deref(),
            Ok("client.test"),
            "after {what}"
        );
    }

    let expired = start(
        Tuning::BALANCED
            .server()
            .tls(ca.expired_leaf(&["localhost"]).server()),
    )
    .await;
    let outcome = who_am_i(expired.addr, &ca.client()).await;
    assert!(
        outcome.as_ref().is_err_and(|e| e.contains("Expired")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_reloaded_certificate_is_what_the_next_connection_gets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (old_ca, new_ca) = (Ca::new("old CA"), Ca::new("new CA"));
    let (cert, key) = old_ca.leaf(&["localhost"]).write(dir.path(), "server");
    let tls = ServerTls::from_pem_files(&cert, &key).unwrap();
    let server = start(Tuning::BALANCED.server().tls(tls.clone())).await;

    // A connection opened before the reload, kept open across it.
    let uri = format!("https://127.0.0.1:{}", server.addr.port());
    let before = StreamingExamplesStreamClient::from_channel(
        Tuning::BALANCED
            .connect_tls(uri, &old_ca.client())
            .await
            .unwrap(),
    );
    assert!(who_am_i(server.addr, &new_ca.client()).await.is_err());

    let (cert, key) = new_ca.leaf(&["localhost"]).write(dir.path(), "server");
    tls.reload_pem_files(&cert, &key).unwrap();
    assert_eq!(
        who_am_i(server.addr, &new_ca.client()).await.as_deref(),
        Ok("anonymous")
    );
    assert!(who_am_i(server.addr, &old_ca.client()).await.is_err());
    within(
        "a call on the old connection",
        before.get_user(pb::UserRequest::default()),
    )
    .await
    .expect("the open connection keeps its certificate");

    // A broken reload leaves the current certificate in place.
    std::fs::write(&key, "not a key").unwrap();
    assert!(tls.reload_pem_files(&cert, &key).is_err());
    assert!(who_am_i(server.addr, &new_ca.client()).await.is_ok());
}

#[tokio::test]
async fn a_stalled_tls_handshake_blocks_nobody_and_is_closed_at_the_handshake_timeout() {
    let ca = Ca::new("server CA");
    let timeout = Duration::from_secs(3);
    let tuning = Tuning {
        handshake_timeout: timeout,
        ..Tuning::BALANCED
    };
    let server = start(tuning.server().tls(ca.leaf(&["localhost"]).server())).await;

    // The first bytes of a ClientHello record, then nothing.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    let opened = Instant::now();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();

    assert_eq!(
        who_am_i(server.addr, &ca.client()).await.as_deref(),
        Ok("anonymous")
    );
    assert!(
        opened.elapsed() < timeout,
        "a full handshake and call took longer than the stalled one may wait"
    );

    let mut buf = [0u8; 64];
    let read = within("the server to close", stalled.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the server answered a stalled handshake: {read:?}"
    );
    assert!(
        opened.elapsed() >= timeout - Duration::from_millis(100),
        "closed after {:?}, before the handshake timeout",
        opened.elapsed()
    );
}

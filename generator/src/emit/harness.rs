//! The generated test harness of one service: `test_server(handler)` serves the handler on
//! `127.0.0.1:0` with the service's tuned server and returns a connected, tuned client and
//! a `TestServer` guard that shuts the server down when dropped. A handler is tested over a
//! real socket in three lines:
//!
//! ```text
//! let (client, _server) = streaming_examples_stream::test_server(MyServer).await?;
//! let user = client.get_user(UserRequest { id: "42".into() }).await?;
//! assert_eq!(user.name, "Ada Lovelace");
//! ```
//!
//! The items go into the service's stream module, next to the client and `server_builder`
//! they use. Their names cannot clash with the stream layer's: those all end in the
//! service name's suffixes (`Handler`, `Service`, `Config`, `StreamClient`).

use crate::emit::stream::Paths;
use crate::model::Service;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The harness items of `service`: the guard and the two functions that start a server,
/// for the end of its stream module.
pub fn items(service: &Service, paths: &Paths) -> TokenStream {
    let guard = guard(&paths.codegen);
    let starters = starters(service, &paths.codegen);
    quote!(#guard #starters)
}

/// `TestServer`, the guard of a server started by the harness.
fn guard(rt: &TokenStream) -> TokenStream {
    quote! {
        /// A server started by `test_server`: dropping it shuts the server down (new calls
        /// are refused, open streams end with `UNAVAILABLE`).
        #[derive(Debug)]
        pub struct TestServer {
            addr: ::std::net::SocketAddr,
            // Dropping the sender is the server's shutdown signal.
            shutdown: #rt::tokio::sync::oneshot::Sender<()>,
            task: #rt::tokio::task::JoinHandle<::std::io::Result<()>>,
        }

        impl TestServer {
            /// The address the server listens on.
            pub fn addr(&self) -> ::std::net::SocketAddr {
                self.addr
            }

            /// Shuts the server down and waits until it has stopped; returns how serving
            /// ended.
            pub async fn shutdown(self) -> ::std::io::Result<()> {
                let TestServer { shutdown, task, .. } = self;
                ::core::mem::drop(shutdown);
                task.await.map_err(::std::io::Error::other)?
            }
        }
    }
}

/// `test_server` and `test_server_with`, which serve a handler of `service` and connect a
/// client to it.
fn starters(service: &Service, rt: &TokenStream) -> TokenStream {
    let handler = format_ident!("{}", service.handler_trait);
    let adapter = format_ident!("{}", service.adapter);
    let client = format_ident!("{}", service.stream_client);
    let result = quote!(::core::result::Result);
    let error = quote!(
        ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Send + ::core::marker::Sync>
    );
    let test_server_doc = format!(
        " Serves `handler` as `{}` on `127.0.0.1:0` with `server_builder()`, for tests: \
         returns a client connected to it with `TUNING` and the guard that shuts the server \
         down when dropped.",
        service.full_name
    );
    quote! {
        #[doc = #test_server_doc]
        pub async fn test_server<H: #handler>(
            handler: H,
        ) -> #result<(#client, TestServer), #error> {
            test_server_with(#adapter::new(handler)).await
        }

        /// As `test_server`, for a service with a configuration of its own
        /// (`with_config`) or a shared handler (`from_arc`).
        pub async fn test_server_with<H: #handler>(
            service: #adapter<H>,
        ) -> #result<(#client, TestServer), #error> {
            let listener = #rt::tokio::net::TcpListener::bind(
                (::std::net::Ipv4Addr::LOCALHOST, 0),
            )
            .await?;
            let addr = listener.local_addr()?;
            let (shutdown, signal) = #rt::tokio::sync::oneshot::channel::<()>();
            let router = server_builder().add_service(service.into_server());
            let task = #rt::tokio::spawn(router.serve_with_shutdown(
                listener,
                async move {
                    // Only ever resolves with the sender dropped.
                    let _ = signal.await;
                },
                ::core::time::Duration::ZERO,
            ));
            let server = TestServer { addr, shutdown, task };
            let client = #client::connect(::std::format!("http://{addr}")).await?;
            ::core::result::Result::Ok((client, server))
        }
    }
}

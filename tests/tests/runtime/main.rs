//! The runtime against live servers on loopback sockets, and its handler test kit: one test
//! binary, so tonic, the examples and the generated code are linked once for all of them.
//! The wire and call tests are compiled once and run twice, through the server the build
//! script generates and through the one `#[derive(StreamService)]` generates (see
//! [`Front`](rust_stream_tests::Front)).

/// One test per front for each named test body (`async fn NAME(front: Front)`, listed as
/// `tokio NAME`, or `fn NAME(front: Front)`, listed as `sync NAME`), in a module per front:
/// `wire::build_script::NAME` and `wire::derived::NAME`. A body left off the list is dead
/// code, which the lints refuse.
macro_rules! through_both_fronts {
    ($($kind:ident $name:ident),* $(,)?) => {
        mod build_script {
            $(through_both_fronts!(@test BuildScript $kind $name);)*
        }
        mod derived {
            $(through_both_fronts!(@test Derived $kind $name);)*
        }
    };
    (@test $front:ident tokio $name:ident) => {
        #[tokio::test]
        async fn $name() {
            super::$name(rust_stream_tests::Front::$front).await;
        }
    };
    (@test $front:ident sync $name:ident) => {
        #[test]
        fn $name() {
            super::$name(rust_stream_tests::Front::$front);
        }
    };
}
use through_both_fronts;

mod auth;
mod batching;
mod budget;
mod calls;
mod handler_kit;
mod packaging;
mod recycle;
mod response_metadata;
mod retry_policies;
mod server;
mod test_harness;
mod tls;
mod wire;

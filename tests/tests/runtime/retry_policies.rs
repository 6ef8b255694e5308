//! The retry policies generated stream clients carry, from the reference proto's
//! `idempotency_level`, and their fleet constructors. What a fleet does with a policy is the
//! fleet's tests' business; here, that other channels ignore it.

use rust_stream::{CallConfig, FleetError, RetryPolicy};
use rust_stream_examples::adapter::{StreamingExamplesStreamClient, retry};
use rust_stream_examples::guide::GuideServer;
use rust_stream_examples::pb;
use rust_stream_tests::{Front, within};
use std::sync::Arc;

/// `GetUser` is declared free of side effects; the other methods declare nothing.
#[test]
fn each_method_carries_the_policy_its_proto_declares() {
    assert_eq!(retry::GET_USER, Some(RetryPolicy::IDEMPOTENT));
    assert_eq!(retry::LIST_EVENTS, None);
    assert_eq!(retry::UPLOAD_CHUNKS, None);
    assert_eq!(retry::CHAT, None);
}

/// A target that does not parse fails before any connection, naming the target.
#[tokio::test]
async fn connect_fleet_refuses_a_target_that_does_not_parse() {
    let target = "ftp://replicas.internal:50051";
    let error = within(
        "connect_fleet",
        StreamingExamplesStreamClient::connect_fleet(target),
    )
    .await
    .expect_err("an ftp target");
    assert!(matches!(error, FleetError::Target(_)), "{error:?}");
    assert!(error.to_string().contains(target), "{error}");
}

/// On a plain channel the policy a call carries changes nothing, with or without it.
async fn a_plain_channel_ignores_the_policy(front: Front) {
    let dir = tempfile::tempdir().unwrap();
    let guide = Arc::new(GuideServer::new(dir.path()));
    let server = front.serve(guide, CallConfig::DEFAULT).await;
    for client in [
        server.client().await,
        server.client().await.without_retries(),
    ] {
        let request = pb::UserRequest { id: "42".into() };
        let user = within("GetUser", client.get_user(request)).await.unwrap();
        assert_eq!(user.name, "Ada Lovelace");
    }
}

super::through_both_fronts!(tokio a_plain_channel_ignores_the_policy);

/// The generator checks backoffs against, and fills unset fields from, its copy of the
/// runtime's `RetryPolicy::IDEMPOTENT`, and names codes by its own table: both agree with
/// the runtime's.
#[test]
fn the_generators_defaults_and_codes_are_the_runtimes() {
    use rust_stream_build::options::{IDEMPOTENT_RETRY, RETRYABLE_CODES};
    let runtime = RetryPolicy::IDEMPOTENT;
    assert_eq!(IDEMPOTENT_RETRY.max_attempts, runtime.max_attempts);
    assert_eq!(
        u128::from(IDEMPOTENT_RETRY.initial_backoff_ms),
        runtime.initial_backoff.as_millis()
    );
    assert_eq!(
        u128::from(IDEMPOTENT_RETRY.max_backoff_ms),
        runtime.max_backoff.as_millis()
    );
    assert_eq!(
        IDEMPOTENT_RETRY.backoff_multiplier,
        runtime.backoff_multiplier
    );
    let runtime_codes: Vec<String> = runtime
        .retryable_codes
        .iter()
        .map(|code| rust_stream::code_name(*code).to_owned())
        .collect();
    assert_eq!(IDEMPOTENT_RETRY.retryable_codes, runtime_codes);
    // Every code but OK, in number order: the gRPC name and tonic's variant of each.
    for (number, (name, variant)) in (1..).zip(RETRYABLE_CODES) {
        let code = tonic::Code::from_i32(number);
        assert_eq!(rust_stream::code_name(code), name);
        assert_eq!(format!("{code:?}"), variant);
    }
}

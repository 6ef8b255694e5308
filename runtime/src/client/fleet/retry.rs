//! Retries (gRFC A6): per-method policies, the channel's token-bucket budget, and the loop
//! that sends a call's attempts to the balancer.

use super::BoxError;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tonic::Code;
use tonic::body::Body;

/// Which failures of a method are retried, and how (gRFC A6's `retryPolicy`). Generated
/// clients attach their method's policy to each call as a request extension; a call without
/// one is retried only transparently (when the server never saw it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Most attempts, the first included (2 to 5; A6 caps it at 5).
    pub max_attempts: u32,
    /// Upper bound of the first retry's random backoff.
    pub initial_backoff: Duration,
    /// Upper bound of any retry's random backoff.
    pub max_backoff: Duration,
    /// Growth of the backoff's upper bound per retry.
    pub backoff_multiplier: f64,
    /// Status codes that are retried (a trailers-only answer with one of them, or a
    /// connection lost before any answer, counted as `UNAVAILABLE`).
    pub retryable_codes: &'static [Code],
}

impl RetryPolicy {
    /// The policy of methods whose proto says `idempotency_level = IDEMPOTENT` or
    /// `NO_SIDE_EFFECTS`: 4 attempts, backoff up to 100 ms doubling to 1 s, `UNAVAILABLE`.
    pub const IDEMPOTENT: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        backoff_multiplier: 2.0,
        retryable_codes: &[Code::Unavailable],
    };
}

/// A channel's retry throttle (gRFC A6's `retryThrottling`): a bucket of `max_tokens`; every
/// failed attempt takes one token, every success gives back `token_ratio`; retries stop
/// while the bucket holds half its tokens or less, so an outage of every replica produces a
/// bounded number of retries, not a storm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    /// Tokens in a full bucket (at most 1000).
    pub max_tokens: f64,
    /// Tokens a successful call gives back.
    pub token_ratio: f64,
}

impl RetryBudget {
    /// 10 tokens, 0.1 back per success: after a burst of failures, at most 5 retries until
    /// calls succeed again (grpc-go's service-config example values).
    pub const DEFAULT: RetryBudget = RetryBudget {
        max_tokens: 10.0,
        token_ratio: 0.1,
    };
}

/// One attempt's outcome: the replica it went to (if it got that far) and its result.
pub(crate) struct Attempt {
    pub(crate) replica: Option<SocketAddr>,
    pub(crate) result: Result<http::Response<Body>, BoxError>,
}

/// Where attempts go: the balancer, or anything else in tests.
pub(crate) trait Attempts: Clone + Send + Sync + 'static {
    /// Sends `request` to the next connected replica, other than `avoid` when another one
    /// is connected.
    fn attempt(
        &self,
        request: http::Request<Body>,
        avoid: Option<SocketAddr>,
    ) -> impl Future<Output = Attempt> + Send + 'static;
}

/// Sends each call's attempts to `A`, retrying as the call's policy and the budget allow.
#[derive(Clone, Debug)]
pub(crate) struct Retrying<A> {
    attempts: A,
    budget: RetryBudget,
}

impl<A: Attempts> Retrying<A> {
    pub(crate) fn new(attempts: A, budget: RetryBudget) -> Self {
        Retrying { attempts, budget }
    }

    pub(crate) fn attempts(&self) -> &A {
        &self.attempts
    }

    /// One call, with its retries. STUB: sends a single attempt.
    pub(crate) fn call(
        &self,
        request: http::Request<Body>,
    ) -> impl Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static {
        let attempt = self.attempts.attempt(request, None);
        let _ = self.budget;
        async move { attempt.await.result }
    }
}

//! Retries (gRFC A6): per-method policies, the channel's token-bucket budget, and the loop
//! that sends a call's attempts to the balancer.

use super::BoxError;
use super::classify::{self, Reach, describe};
use super::replay::Replay;
use crate::call::deadline::{GRPC_TIMEOUT_HEADER, request_timeout};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::{Code, Status};

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

    /// Most attempts a policy may ask for: gRFC A6 caps `maxAttempts` at 5.
    pub const MAX_ATTEMPTS: u32 = 5;

    /// A policy; `max_attempts` is brought into 2 to [`MAX_ATTEMPTS`](Self::MAX_ATTEMPTS)
    /// (fewer than 2 would retry nothing, A6 allows no more than 5).
    pub const fn new(
        max_attempts: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
        backoff_multiplier: f64,
        retryable_codes: &'static [Code],
    ) -> RetryPolicy {
        let max_attempts = if max_attempts < 2 {
            2
        } else if max_attempts > Self::MAX_ATTEMPTS {
            Self::MAX_ATTEMPTS
        } else {
            max_attempts
        };
        RetryPolicy {
            max_attempts,
            initial_backoff,
            max_backoff,
            backoff_multiplier,
            retryable_codes,
        }
    }

    /// The pause before retry number `retry` (1 for the first): uniformly random in
    /// `[0, min(initial_backoff * backoff_multiplier^(retry-1), max_backoff)]`, as A6 says,
    /// so that clients failed together do not come back together.
    fn backoff(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let bound = self.initial_backoff.as_secs_f64() * self.backoff_multiplier.powi(exponent);
        // `min` yields the limit for a NaN bound; a negative one means no pause.
        let bound = bound.min(self.max_backoff.as_secs_f64());
        if bound > 0.0 && bound.is_finite() {
            Duration::from_secs_f64(fastrand::f64() * bound)
        } else {
            Duration::ZERO
        }
    }
}

/// A channel's retry throttle (gRFC A6's `retryThrottling`): a bucket of `max_tokens`, full
/// at first; every failed attempt of a call with a [`RetryPolicy`] (a retryable status, or
/// a transport failure) takes one token, every other answer gives back `token_ratio`; a
/// failed attempt is retried only if the bucket still holds more than half its tokens after
/// it paid, so an outage of every replica produces a bounded number of retries, not a
/// storm. Transparent retries (of calls no server saw) neither take nor need tokens.
///
/// `max_tokens` is brought into 1 to 1000 and `token_ratio` to 0 or more, with A6's
/// precision of a thousandth of a token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    /// Tokens in a full bucket (at most 1000).
    pub max_tokens: f64,
    /// Tokens a successful call gives back.
    pub token_ratio: f64,
}

impl RetryBudget {
    /// 10 tokens, 0.1 back per success (grpc-go's service-config example values): while
    /// every call fails, at most 4 retries in all (failures take the bucket to 9, 8, 7 and
    /// 6, each still above 5, then to 5, where retries stop), until successes refill it.
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
    /// is connected. An error from before the request went out is wrapped in
    /// [`classify::NotSent`].
    fn attempt(
        &self,
        request: http::Request<Body>,
        avoid: Option<SocketAddr>,
    ) -> impl Future<Output = Attempt> + Send + 'static;

    /// How many replicas there are now: a request that was not sent is sent again at most
    /// this many times (so a call tries each replica once rather than spinning).
    fn replica_count(&self) -> usize {
        1
    }
}

/// Sends each call's attempts to `A`, retrying as the call's policy and the budget allow.
#[derive(Clone, Debug)]
pub(crate) struct Retrying<A> {
    attempts: A,
    throttle: Arc<Throttle>,
}

impl<A: Attempts> Retrying<A> {
    pub(crate) fn new(attempts: A, budget: RetryBudget) -> Self {
        Retrying {
            attempts,
            throttle: Arc::new(Throttle::new(budget)),
        }
    }

    pub(crate) fn attempts(&self) -> &A {
        &self.attempts
    }

    /// One call, with its retries: transparent ones for attempts no server processed, and
    /// those its [`RetryPolicy`] extension allows.
    pub(crate) fn call(
        &self,
        request: http::Request<Body>,
    ) -> impl Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static {
        let call = Call::new(self.attempts.clone(), Arc::clone(&self.throttle), request);
        #[cfg(feature = "tracing")]
        let call = {
            use tracing::Instrument as _;
            let span = tracing::info_span!(
                "grpc_client_call",
                method = call.head.uri.path(),
                attempts = tracing::field::Empty,
                replica = tracing::field::Empty,
            );
            call.run().instrument(span)
        };
        #[cfg(not(feature = "tracing"))]
        let call = call.run();
        call
    }
}

/// The token bucket of [`RetryBudget`], in thousandths of a token.
#[derive(Debug)]
struct Throttle {
    tokens: AtomicU64,
    max: u64,
    ratio: u64,
}

impl Throttle {
    fn new(budget: RetryBudget) -> Self {
        // `as` saturates and maps NaN to 0: a nonsensical budget allows no retry.
        let max = (budget.max_tokens.clamp(1.0, 1000.0) * 1000.0).round() as u64;
        let ratio = (budget.token_ratio.max(0.0) * 1000.0).round() as u64;
        Throttle {
            tokens: AtomicU64::new(max),
            max,
            ratio,
        }
    }

    /// Takes a token for a failed attempt; whether a retry is still allowed.
    fn failure(&self) -> bool {
        let update = |t: u64| Some(t.saturating_sub(1000));
        let before = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, update);
        let after = before.unwrap_or_else(|t| t).saturating_sub(1000);
        after > self.max / 2
    }

    /// Gives back `token_ratio` for an attempt that did not fail.
    fn success(&self) {
        let update = |t: u64| Some(t.saturating_add(self.ratio).min(self.max));
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, update);
    }
}

/// Why an attempt is followed by another.
#[derive(Clone, Copy, Debug)]
enum Why {
    /// The request never left (the replica's connection was down or closing).
    NotSent(Option<SocketAddr>),
    /// The server refused it unprocessed (`REFUSED_STREAM`, `GOAWAY`).
    Unprocessed(Option<SocketAddr>),
    /// The policy retries this code (a transport failure counts as `UNAVAILABLE`).
    Status(Code, Option<SocketAddr>),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, replica) = match self {
            Why::NotSent(r) => ("transparent: not sent".to_owned(), r),
            Why::Unprocessed(r) => ("transparent: refused stream".to_owned(), r),
            Why::Status(code, r) => (crate::code_name(*code).to_owned(), r),
        };
        match replica {
            Some(replica) => write!(f, "{what} from {replica}"),
            None => f.write_str(&what),
        }
    }
}

/// What follows an attempt.
enum Next {
    /// The call's outcome.
    Return(Result<http::Response<Body>, BoxError>),
    /// Another attempt, after a pause.
    Retry(Why, Duration),
}

/// One call's attempts so far.
struct Call<A> {
    attempts: A,
    throttle: Arc<Throttle>,
    /// The request's head, copied into every attempt.
    head: http::request::Parts,
    replay: Replay,
    policy: Option<RetryPolicy>,
    /// From the request's `grpc-timeout`, read once at the start.
    deadline: Option<Instant>,
    /// Attempts made.
    sent: u32,
    /// Attempts that count against the policy's `max_attempts` (not transparent retries).
    counted: u32,
    /// Transparent retries of requests that were not sent.
    not_sent: usize,
    /// Whether the one transparent retry of an unprocessed request was used.
    unprocessed: bool,
    /// The replica of the last attempt, which the next avoids.
    last: Option<SocketAddr>,
}

impl<A: Attempts> Call<A> {
    fn new(attempts: A, throttle: Arc<Throttle>, request: http::Request<Body>) -> Self {
        let (head, body) = request.into_parts();
        let policy = head.extensions.get::<RetryPolicy>().copied();
        let deadline =
            request_timeout(&head.headers).and_then(|timeout| Instant::now().checked_add(timeout));
        Call {
            attempts,
            throttle,
            head,
            replay: Replay::new(body),
            policy,
            deadline,
            sent: 0,
            counted: 1,
            not_sent: 0,
            unprocessed: false,
            last: None,
        }
    }

    async fn run(mut self) -> Result<http::Response<Body>, BoxError> {
        loop {
            let Some(request) = self.request() else {
                // The backoff ended at the deadline (a timer fires late on a busy machine):
                // no attempt starts after it.
                return Err(self.deadline_passed(&"no time left for another attempt"));
            };
            let attempt = self.attempts.attempt(request, self.last);
            let attempt = match self.deadline {
                Some(at) => match tokio::time::timeout_at(at, attempt).await {
                    Ok(attempt) => attempt,
                    Err(_) => {
                        // The attempt in flight counts, though its replica is unknown.
                        self.sent += 1;
                        self.last = None;
                        return Err(self.deadline_passed(&"no answer"));
                    }
                },
                None => attempt.await,
            };
            self.sent += 1;
            self.last = attempt.replica.or(self.last);
            self.trace_attempt();
            match self.judge(attempt) {
                Next::Return(outcome) => return outcome,
                Next::Retry(why, backoff) => {
                    trace_event(&format!("retrying: {why}"), backoff);
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// The next attempt's request: the same head, `grpc-timeout` set to what is left of
    /// the deadline, and the body from its start; `None` for a retry once the deadline has
    /// passed.
    fn request(&self) -> Option<http::Request<Body>> {
        let mut head = self.head.clone();
        if self.sent > 0
            && let Some(at) = self.deadline
        {
            let left = at
                .checked_duration_since(Instant::now())
                .filter(|l| !l.is_zero())?;
            if let Ok(value) = http::HeaderValue::try_from(grpc_timeout(left)) {
                head.headers.insert(GRPC_TIMEOUT_HEADER, value);
            }
        }
        Some(http::Request::from_parts(
            head,
            Body::new(self.replay.body()),
        ))
    }

    fn judge(&mut self, attempt: Attempt) -> Next {
        match attempt.result {
            Ok(response) => self.judge_response(response, attempt.replica),
            Err(error) => self.judge_error(error, attempt.replica),
        }
    }

    /// A response with real headers commits the call; a trailers-only one may be retried.
    fn judge_response(
        &mut self,
        response: http::Response<Body>,
        replica: Option<SocketAddr>,
    ) -> Next {
        let Some(code) = trailers_only_code(&response) else {
            self.replay.commit();
            if self.policy.is_some() {
                self.throttle.success();
            }
            return Next::Return(Ok(response));
        };
        match self.policy_retry(code, replica) {
            Some(backoff) => Next::Retry(Why::Status(code, replica), backoff),
            None => Next::Return(Ok(response)),
        }
    }

    fn judge_error(&mut self, error: BoxError, replica: Option<SocketAddr>) -> Next {
        if let Some(why) = self.transparent(classify::reach(error.as_ref()), replica) {
            return Next::Retry(why, Duration::ZERO);
        }
        match self.policy_retry(Code::Unavailable, replica) {
            Some(backoff) => Next::Retry(Why::Status(Code::Unavailable, replica), backoff),
            None => Next::Return(Err(self.give_up(error))),
        }
    }

    /// Why a failed attempt that no server processed is sent again, if it is: a request
    /// not sent goes to each replica at most once, an unprocessed one is retried once.
    fn transparent(&mut self, reach: Reach, replica: Option<SocketAddr>) -> Option<Why> {
        if !self.replay.replayable() || self.deadline.is_some_and(|at| Instant::now() >= at) {
            return None;
        }
        match reach {
            // No replica at all: the balancer already waited for one.
            Reach::NotSent
                if replica.is_some() && self.not_sent < self.attempts.replica_count() =>
            {
                self.not_sent += 1;
                Some(Why::NotSent(replica))
            }
            Reach::Unprocessed if !self.unprocessed => {
                self.unprocessed = true;
                Some(Why::Unprocessed(replica))
            }
            _ => None,
        }
    }

    /// The pause before retrying a failure with `code`, if the call's policy, the budget
    /// and the deadline allow a retry.
    fn policy_retry(&mut self, code: Code, replica: Option<SocketAddr>) -> Option<Duration> {
        let policy = self.policy?;
        if !policy.retryable_codes.contains(&code) {
            self.throttle.success();
            return None;
        }
        // Every failure pays, retried or not (A6).
        let allowed = self.throttle.failure();
        if self.counted >= policy.max_attempts.min(RetryPolicy::MAX_ATTEMPTS)
            || !self.replay.replayable()
        {
            return None;
        }
        if !allowed {
            trace_event(
                &format!(
                    "not retrying {}: budget exhausted",
                    Why::Status(code, replica)
                ),
                Duration::ZERO,
            );
            return None;
        }
        let backoff = policy.backoff(self.counted);
        if self
            .deadline
            .is_some_and(|at| Instant::now() + backoff >= at)
        {
            trace_event(
                &format!(
                    "not retrying {}: deadline too near",
                    Why::Status(code, replica)
                ),
                backoff,
            );
            return None;
        }
        self.counted += 1;
        Some(backoff)
    }

    /// The error a call that failed in transport returns: a status with the code tonic
    /// gives `error` (`UNAVAILABLE` when it knows none), naming the replica and the attempts.
    fn give_up(&self, error: BoxError) -> BoxError {
        if self.deadline.is_some_and(|at| Instant::now() >= at) {
            return self.deadline_passed(&describe(error.as_ref()));
        }
        let status = Status::from_error(error);
        let code = match status.code() {
            Code::Unknown => Code::Unavailable,
            code => code,
        };
        Box::new(Status::new(
            code,
            format!("{}: {}", status.message(), self.tally()),
        ))
    }

    fn deadline_passed(&self, last: &dyn std::fmt::Display) -> BoxError {
        let message = format!("deadline exceeded: {last} ({})", self.tally());
        Box::new(Status::deadline_exceeded(message))
    }

    /// "last to 127.0.0.2:50051, 3 attempts".
    fn tally(&self) -> String {
        match self.last {
            Some(replica) => format!("last to {replica}, {} attempts", self.sent),
            None => format!("{} attempts", self.sent),
        }
    }

    fn trace_attempt(&self) {
        #[cfg(feature = "tracing")]
        {
            let span = tracing::Span::current();
            span.record("attempts", self.sent);
            if let Some(replica) = self.last {
                span.record("replica", tracing::field::display(replica));
            }
        }
    }
}

/// An event in the call's span (feature `tracing`).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn trace_event(what: &str, backoff: Duration) {
    #[cfg(feature = "tracing")]
    tracing::info!(backoff = ?backoff, "{what}");
}

/// The status of a trailers-only response (`grpc-status` in the headers), or of a
/// non-gRPC HTTP error (a proxy's 503) by gRPC's HTTP-to-status mapping; `None` for a
/// response that has begun (its status comes in trailers).
fn trailers_only_code(response: &http::Response<Body>) -> Option<Code> {
    if let Some(status) = response.headers().get(Status::GRPC_STATUS) {
        let code = status.to_str().ok().and_then(|s| s.parse::<i32>().ok());
        return Some(code.map_or(Code::Unknown, Code::from_i32));
    }
    match response.status().as_u16() {
        200 => None,
        400 => Some(Code::Internal),
        401 => Some(Code::Unauthenticated),
        403 => Some(Code::PermissionDenied),
        404 => Some(Code::Unimplemented),
        429 | 502 | 503 | 504 => Some(Code::Unavailable),
        _ => Some(Code::Unknown),
    }
}

/// `timeout` as a `grpc-timeout` value: the finest unit that fits the spec's 8 digits.
fn grpc_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let units = [
        (timeout.as_nanos(), 'n'),
        (timeout.as_micros(), 'u'),
        (timeout.as_millis(), 'm'),
        (u128::from(timeout.as_secs()), 'S'),
        (u128::from(timeout.as_secs() / 60), 'M'),
    ];
    match units.iter().find(|(amount, _)| *amount <= MAX) {
        Some((amount, unit)) => format!("{amount}{unit}"),
        None => format!("{}H", (timeout.as_secs() / 3600).min(99_999_999)),
    }
}

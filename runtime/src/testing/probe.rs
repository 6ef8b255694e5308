//! The per-RPC tests that generated code writes (`rpc_tests!`): each calls one RPC over a
//! real socket with a default request and checks that a handler answered, whatever it
//! answered. A stub answers `UNIMPLEMENTED`; a handler may answer OK or any status of its
//! choosing. What fails the test is what no handler chose: the server unreachable, the
//! connection lost, a handler that panicked, or no answer at all.

use crate::client::Responses;
use std::error::Error;
use std::future::Future;
use std::time::Duration;
use tonic::{Code, Status};

/// How long a call that answers once gets before the test fails.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a streaming response gets to deliver its first message. A stream that stays
/// open without one is a handler at work (a watch waiting for its first event), not a
/// failure.
pub const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(5);

/// How an RPC called with a default request ended.
#[derive(Debug)]
pub enum Answer {
    /// A response (unary, client streaming) or the first response message (streams).
    Message,
    /// The stream ended without a message, with OK.
    Ended,
    /// A status: a stub's `UNIMPLEMENTED`, or the handler's own error.
    Status(Status),
    /// A streaming response stayed open without a message for [`FIRST_MESSAGE_WAIT`].
    Open,
}

/// The answer of a call that responds once.
pub async fn answer_once<T>(call: impl Future<Output = Result<T, Status>>) -> Answer {
    match call.await {
        Ok(_) => Answer::Message,
        Err(status) => Answer::Status(status),
    }
}

/// The answer of a call that responds with a stream: its first message, its end, or its
/// staying open.
pub async fn answer_stream<T>(call: impl Future<Output = Result<Responses<T>, Status>>) -> Answer {
    let first = async {
        let mut responses = call.await?;
        responses.message().await
    };
    match tokio::time::timeout(FIRST_MESSAGE_WAIT, first).await {
        Err(_elapsed) => Answer::Open,
        Ok(Ok(Some(_))) => Answer::Message,
        Ok(Ok(None)) => Answer::Ended,
        Ok(Err(status)) => Answer::Status(status),
    }
}

/// Runs `probe` (a call of `method` through its service's test harness) on a runtime of
/// its own and panics, naming the method, unless a handler answered.
pub fn assert_answers<F>(method: &str, probe: F)
where
    F: Future<Output = Result<Answer, Box<dyn Error + Send + Sync>>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("{method}: no runtime for the test: {err}"));
    let outcome = runtime.block_on(async { tokio::time::timeout(ANSWER_TIMEOUT, probe).await });
    let answer = match outcome {
        Err(_elapsed) => panic!("{method}: no answer within {ANSWER_TIMEOUT:?}"),
        Ok(Err(err)) => panic!("{method}: the test server did not start: {err}"),
        Ok(Ok(answer)) => answer,
    };
    if let Some(problem) = failure(&answer) {
        panic!("{method}: {problem}");
    }
}

/// Why `answer` is not a handler's, if it is not.
fn failure(answer: &Answer) -> Option<String> {
    let Answer::Status(status) = answer else {
        return None;
    };
    let line = crate::client::status_line(status);
    let panicked = status.code() == Code::Internal && status.message().ends_with("panicked");
    match status.code() {
        Code::Unavailable => Some(format!("the server was not reached: {line}")),
        _ if panicked => Some(format!("the handler panicked: {line}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_no_handler_chose_fails() {
        let answers = [
            (Answer::Message, true),
            (Answer::Ended, true),
            (Answer::Open, true),
            (Answer::Status(Status::unimplemented("not yet")), true),
            (Answer::Status(Status::not_found("User not found")), true),
            (Answer::Status(Status::internal("a handler's own")), true),
            (
                Answer::Status(Status::unavailable("connection refused")),
                false,
            ),
            (
                Answer::Status(Status::internal("the handler for /a.B/C panicked")),
                false,
            ),
        ];
        for (answer, passes) in answers {
            assert_eq!(failure(&answer).is_none(), passes, "{answer:?}");
        }
    }
}

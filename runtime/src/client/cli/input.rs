//! Requests from JSON: the command-line argument, all of stdin, or stdin line by line.

use super::catalog::Method;
use super::error::CliError;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

/// Requests queued ahead of the transport when they come from stdin.
const QUEUED_REQUESTS: usize = 16;

/// Turns JSON text into request messages of one method; its errors name the method, the
/// message type, where the text came from, and serde's complaint.
#[derive(Clone, Debug)]
pub(super) struct RequestParser {
    method: String,
    input: MessageDescriptor,
}

impl RequestParser {
    /// A parser for `method`'s requests.
    pub(super) fn new(method: &Method) -> Self {
        RequestParser {
            method: method.path(),
            input: method.input(),
        }
    }

    /// Parses `json` (from `origin`, such as "stdin line 3") in the proto3 JSON mapping;
    /// unknown fields are refused.
    pub(super) fn parse(&self, json: &str, origin: &str) -> Result<DynamicMessage, CliError> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        DynamicMessage::deserialize_with_options(
            self.input.clone(),
            &mut deserializer,
            &DeserializeOptions::new(),
        )
        .and_then(|message| deserializer.end().map(|()| message))
        .map_err(|err| {
            CliError::usage(format!(
                "bad request JSON for {} (type {}, from {origin}): {err}",
                self.method,
                self.input.full_name()
            ))
        })
    }

    /// The one request of a unary or server-streaming call: `{}` without an argument, all of
    /// stdin for `-`, else the argument.
    pub(super) async fn single(&self, argument: Option<&str>) -> Result<DynamicMessage, CliError> {
        match argument {
            None => self.parse("{}", "the default"),
            Some("-") => {
                let mut text = String::new();
                tokio::io::stdin()
                    .read_to_string(&mut text)
                    .await
                    .map_err(|err| CliError::usage(format!("reading stdin failed: {err}")))?;
                self.parse(&text, "stdin")
            }
            Some(json) => self.parse(json, "the argument"),
        }
    }

    /// The request stream of a client-streaming or bidi call: the argument as its only
    /// message, or (without one, or for `-`) one message per non-empty line of stdin, read
    /// as the call goes. A bad line is reported through the returned [`InputFailure`]; the
    /// stream then stays open, so the server never takes a cut-short stream for a whole one.
    pub(super) fn stream(&self, argument: Option<&str>) -> Result<Requests, CliError> {
        let (tx, rx) = mpsc::channel(QUEUED_REQUESTS);
        let failure = match argument {
            Some(json) if json != "-" => {
                let message = self.parse(json, "the argument")?;
                tx.try_send(message)
                    .map_err(|_| CliError::Internal("the request queue refused".into()))?;
                InputFailure::never()
            }
            _ => {
                let (fail, failure) = oneshot::channel();
                tokio::spawn(self.clone().feed_stdin_lines(tx, fail));
                InputFailure(Some(failure))
            }
        };
        Ok(Requests {
            stream: ReceiverStream::new(rx),
            failure,
        })
    }

    /// Sends each non-empty line of stdin as a request until stdin ends (which ends the
    /// request stream) or a line fails (reported on `fail`, the stream kept open).
    async fn feed_stdin_lines(
        self,
        tx: mpsc::Sender<DynamicMessage>,
        fail: oneshot::Sender<CliError>,
    ) {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut number = 0u64;
        let error = loop {
            number += 1;
            let line = match lines.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => return,
                Err(err) => break CliError::usage(format!("reading stdin failed: {err}")),
            };
            if line.trim().is_empty() {
                continue;
            }
            let message = match self.parse(&line, &format!("stdin line {number}")) {
                Ok(message) => message,
                Err(err) => break err,
            };
            if tx.send(message).await.is_err() {
                // The call is over: nobody takes requests any more.
                return;
            }
        };
        let _ = fail.send(error);
        tx.closed().await;
    }
}

/// The requests of a client-streaming or bidi call, and how reading them can fail.
#[derive(Debug)]
pub(super) struct Requests {
    /// The messages, in order; ends when the input does.
    pub(super) stream: ReceiverStream<DynamicMessage>,
    /// The error that stopped the input, if one does.
    pub(super) failure: InputFailure,
}

/// Resolves with the error that stopped reading the requests, if one ever does.
#[derive(Debug)]
pub(super) struct InputFailure(Option<oneshot::Receiver<CliError>>);

impl InputFailure {
    /// A failure that never comes: the requests are all known already.
    pub(super) fn never() -> Self {
        InputFailure(None)
    }

    /// The input's error; pending forever if reading the input cannot fail any more. Safe
    /// to call again after it was cancelled part-way (as a `select!` branch).
    pub(super) async fn wait(&mut self) -> CliError {
        if let Some(failure) = self.0.as_mut() {
            let outcome = failure.await;
            // A finished oneshot must not be polled again.
            self.0 = None;
            if let Ok(error) = outcome {
                return error;
            }
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::cli::catalog::Catalog;
    use crate::client::cli::fixture::descriptor_set;
    use prost_reflect::Value;

    fn parser(method: &str) -> RequestParser {
        let catalog = Catalog::decode(&descriptor_set()).unwrap();
        RequestParser::new(catalog.find(method).unwrap())
    }

    #[test]
    fn requests_take_json_names_and_proto_names() {
        let parser = parser("b.Talk/Send");
        for json in [r#"{"bytesReceived": "7"}"#, r#"{"bytes_received": 7}"#] {
            let message = parser.parse(json, "the argument").unwrap();
            let value = message.get_field_by_name("bytes_received").unwrap();
            assert_eq!(*value, Value::U64(7), "{json}");
        }
    }

    #[test]
    fn bad_json_names_method_type_origin_and_problem() {
        let parser = parser("a.Store/Get");
        let cases = [
            (r#"{"idd": "1"}"#, "unrecognized field name 'idd'"),
            (r#"{"id": 1}"#, "invalid type"),
            (r#"{"id": "1"} {}"#, "trailing characters"),
            ("", "EOF while parsing"),
        ];
        for (json, problem) in cases {
            let err = parser.parse(json, "stdin line 4").unwrap_err().to_string();
            let expected = "bad request JSON for a.Store/Get (type a.Req, from stdin line 4): ";
            assert!(err.starts_with(expected), "{json}: {err}");
            assert!(err.contains(problem), "{json}: {err}");
        }
    }

    #[tokio::test]
    async fn a_streaming_call_takes_the_argument_as_its_only_message() {
        use futures_util::StreamExt;
        let requests = parser("b.Talk/Send")
            .stream(Some(r#"{"note": "x"}"#))
            .unwrap();
        let all: Vec<DynamicMessage> = requests.stream.collect().await;
        assert_eq!(all.len(), 1);
        assert_eq!(
            *all[0].get_field_by_name("note").unwrap(),
            Value::String("x".into())
        );
    }
}

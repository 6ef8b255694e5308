//! One server call's metrics: started when a registered handler takes it, recorded when
//! `CallLayer`'s summary of it is dropped (the call is over), from the counts the layer
//! keeps for the call's span anyway.

use super::{END_REASON, METHOD, Metrics, OTHER, STATUS, attr, payload, status_name};
use crate::call::context::EndReason;
use crate::call::sink::SendError;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tonic::{Code, Status};

/// The metrics side of one server call, shared by `CallLayer`, the handler's adapter and
/// its sink.
#[derive(Debug, Default)]
pub(crate) struct CallMeter {
    metrics: Option<Metrics>,
    /// The registered method that took the call (`/pkg.Service/Method`).
    method: OnceLock<&'static str>,
    /// Time the handler's sends spent waiting for room in the response buffer.
    send_wait_nanos: AtomicU64,
}

/// What `CallLayer` knows of a call once it is over.
#[derive(Debug)]
pub(crate) struct CallTotals {
    pub(crate) start: Instant,
    /// The `grpc-status` the call sent, if it got that far.
    pub(crate) status: Option<Code>,
    pub(crate) reason: Option<EndReason>,
    pub(crate) bytes_in: u64,
    pub(crate) messages_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) messages_out: u64,
}

impl CallMeter {
    pub(crate) fn new(metrics: Option<Metrics>) -> CallMeter {
        CallMeter {
            metrics,
            ..CallMeter::default()
        }
    }

    /// `true` when the call is recorded.
    pub(crate) fn is_on(&self) -> bool {
        self.metrics.is_some()
    }

    /// A registered handler took the call: it has started, under its method's name.
    pub(crate) fn dispatched(&self, method: &'static str) {
        if let Some(metrics) = &self.metrics
            && self.method.set(method).is_ok()
        {
            let method = [attr(METHOD, grpc_method(Some(method)))];
            metrics.instruments.server_started.add(1, &method);
        }
    }

    /// The handler waited `waited` for the client to make room for a response.
    pub(crate) fn waited(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.send_wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Records the call, now over.
    pub(crate) fn record(&self, totals: &CallTotals) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let m = &metrics.instruments;
        let method = grpc_method(self.method.get().copied());
        if self.method.get().is_none() {
            // No handler took it: it starts and ends here, as `other`.
            m.server_started.add(1, &[attr(METHOD, method)]);
        }
        let status = totals.status.unwrap_or_else(|| unsent_status(totals.reason));
        let attributes = [attr(METHOD, method), attr(STATUS, status_name(status))];
        m.server_duration
            .record(totals.start.elapsed().as_secs_f64(), &attributes);
        m.server_rcvd.record(
            payload(totals.bytes_in, totals.messages_in),
            &attributes,
        );
        m.server_sent.record(
            payload(totals.bytes_out, totals.messages_out),
            &attributes,
        );
        m.server_rcvd_messages.record(totals.messages_in, &attributes);
        m.server_sent_messages.record(totals.messages_out, &attributes);
        let waited = self.send_wait_nanos.load(Ordering::Relaxed);
        if waited > 0 {
            m.server_send_wait
                .record(Duration::from_nanos(waited).as_secs_f64(), &attributes);
        }
        let [method, status] = attributes;
        let reason = attr(END_REASON, reason_name(totals.reason));
        m.server_ended.add(1, &[method, status, reason]);
    }
}

/// `grpc.method`: the registered method without its leading `/`, or `other`.
fn grpc_method(method: Option<&'static str>) -> &'static str {
    method.map_or(OTHER, |m| m.strip_prefix('/').unwrap_or(m))
}

/// The status of a call that sent none: the stream was reset (the client left, or the
/// server's deadline or shutdown ended it) before its trailers went out.
fn unsent_status(reason: Option<EndReason>) -> Code {
    match reason {
        Some(EndReason::Finished) => Code::Ok,
        Some(EndReason::Failed(code)) => code,
        // The status a handler's failed send turns into is the status of the call's end.
        Some(reason) => Status::from(SendError { reason }).code(),
        None => Code::Cancelled,
    }
}

/// `rust_stream.end_reason`: how the call ended, in snake case.
pub(crate) fn reason_name(reason: Option<EndReason>) -> &'static str {
    match reason {
        Some(EndReason::ClientGone) => "client_gone",
        Some(EndReason::DeadlineExceeded) => "deadline_exceeded",
        Some(EndReason::IdleTimeout) => "idle_timeout",
        Some(EndReason::LimitExceeded) => "limit_exceeded",
        Some(EndReason::Panicked) => "panicked",
        Some(EndReason::ServerShutdown) => "server_shutdown",
        Some(EndReason::Failed(_)) => "failed",
        Some(EndReason::Finished) => "finished",
        None => "not_dispatched",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_sent_no_status_gets_the_status_of_its_end() {
        let cases = [
            (None, Code::Cancelled),
            (Some(EndReason::ClientGone), Code::Cancelled),
            (Some(EndReason::DeadlineExceeded), Code::DeadlineExceeded),
            (Some(EndReason::ServerShutdown), Code::Unavailable),
            (Some(EndReason::Failed(Code::NotFound)), Code::NotFound),
            (Some(EndReason::Finished), Code::Ok),
        ];
        for (reason, code) in cases {
            assert_eq!(unsent_status(reason), code, "{reason:?}");
        }
    }

    #[test]
    fn methods_lose_their_slash_and_unknown_ones_are_other() {
        assert_eq!(grpc_method(Some("/pkg.S/M")), "pkg.S/M");
        assert_eq!(grpc_method(None), "other");
    }
}

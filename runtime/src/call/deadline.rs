//! Call deadlines: parsing `grpc-timeout` and choosing the instant a call must end.

use std::time::Duration;
use tokio::time::Instant;
use tonic::metadata::MetadataMap;

/// The header in which a gRPC client sends its deadline, as a relative timeout.
pub const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

/// How much earlier than the client's deadline a call is ended.
///
/// tonic's server starts its own timer for `grpc-timeout` a few microseconds before our
/// adapter runs and answers `CANCELLED` when it fires first. Ending our timer one
/// millisecond (tokio's timer resolution) earlier makes the call end with the correct
/// `DEADLINE_EXCEEDED` instead.
const TONIC_TIMER_MARGIN: Duration = Duration::from_millis(1);

/// Parses a `grpc-timeout` value (`1-8 digits` followed by one of `H M S m u n`).
///
/// Returns `None` for anything the gRPC spec does not allow. [`CallLayer`](crate::CallLayer)
/// answers such a call `INTERNAL`, as grpc-go does; without the layer the adapters treat
/// it as "no deadline", as tonic does.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    // Bytes, not chars: a multi-byte last character must be rejected, not split.
    let (&unit, digits) = value.as_bytes().split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The client's timeout read from the metadata by an adapter running without
/// [`CallLayer`](crate::CallLayer): tonic's timer started earlier, so ours is shortened by
/// [`TONIC_TIMER_MARGIN`].
pub(crate) fn header_timeout(metadata: &MetadataMap) -> Option<Duration> {
    request_timeout(metadata.as_ref()).map(|t| t.saturating_sub(TONIC_TIMER_MARGIN))
}

/// The timeout a request's `grpc-timeout` header carries, if it has a valid one.
pub(crate) fn request_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(GRPC_TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
}

/// How long before its deadline a client's reset still counts as the client's own deadline
/// timer firing, at most (see [`CallDeadline::explains_client_leaving`]).
///
/// The client starts its clock before it sends the request; ours starts when the request's
/// headers arrive, one trip (and whatever queueing either side adds) later. So the client's
/// timer fires that much before ours, and its reset reaches us ahead of our own deadline.
/// 50 ms covers a loaded machine's scheduling and a continental round trip.
const CLIENT_TIMER_LEAD: Duration = Duration::from_millis(50);

/// A call's deadline as the server knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallDeadline {
    /// The instant the call must end by: the earlier of the client's deadline and the
    /// service's default one.
    pub(crate) at: Option<Instant>,
    /// From this instant on, a client that resets the call does so because its own deadline
    /// timer fired: [`CLIENT_TIMER_LEAD`] (at most a quarter of the client's timeout) ahead
    /// of the client's deadline. `None` when the client sent no timeout.
    client_timer: Option<Instant>,
}

impl CallDeadline {
    /// The deadline of a call whose headers arrived at `start`, from the client's timeout
    /// and the service's default. A deadline too far away for an `Instant` is no deadline.
    pub(crate) fn new(client: Option<Duration>, default: Option<Duration>, start: Instant) -> Self {
        let client_at = client.and_then(|t| start.checked_add(t));
        let service_at = default.and_then(|t| start.checked_add(t));
        let at = match (client_at, service_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let client_timer = client
            .zip(client_at)
            .map(|(timeout, client_at)| client_at - CLIENT_TIMER_LEAD.min(timeout / 4));
        CallDeadline { at, client_timer }
    }

    /// Whether a client that left at `now` (reset the call, closed the connection) left
    /// because of the deadline: ours has passed, or the client's own timer has fired.
    ///
    /// Either side's timer may fire first, so without this the same expired call would end
    /// as [`DeadlineExceeded`](crate::EndReason::DeadlineExceeded) or
    /// [`ClientGone`](crate::EndReason::ClientGone) by chance.
    pub(crate) fn explains_client_leaving(&self, now: Instant) -> bool {
        [self.at, self.client_timer]
            .into_iter()
            .flatten()
            .any(|from| from <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_rejects_malformed_values() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("1H", Some(Duration::from_secs(3600))),
            ("2M", Some(Duration::from_secs(120))),
            ("3S", Some(Duration::from_secs(3))),
            ("250m", Some(Duration::from_millis(250))),
            ("7u", Some(Duration::from_micros(7))),
            ("99999999n", Some(Duration::from_nanos(99_999_999))),
            ("123456789S", None),
            ("", None),
            ("S", None),
            ("10x", None),
            ("-1S", None),
            ("1.5S", None),
            ("1é", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_grpc_timeout(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn deadline_is_the_earlier_of_client_and_service() {
        let start = Instant::now();
        let at = |client, default| CallDeadline::new(client, default, start).at;
        let mut md = MetadataMap::new();
        assert_eq!(header_timeout(&md), None);
        assert_eq!(at(None, None), None);
        assert_eq!(
            at(None, Some(Duration::from_secs(5))),
            Some(start + Duration::from_secs(5))
        );
        md.insert(GRPC_TIMEOUT_HEADER, "2S".parse().unwrap());
        let two = header_timeout(&md);
        assert_eq!(two, Some(Duration::from_secs(2) - TONIC_TIMER_MARGIN));
        let client = start + Duration::from_secs(2) - TONIC_TIMER_MARGIN;
        assert_eq!(at(two, None), Some(client));
        assert_eq!(at(two, Some(Duration::from_secs(5))), Some(client));
        assert_eq!(
            at(two, Some(Duration::from_secs(1))),
            Some(start + Duration::from_secs(1))
        );
        let far = Some(Duration::from_secs(99_999_999 * 3600));
        assert!(at(far, None).is_some_and(|at| at > client));
        assert_eq!(at(Some(Duration::MAX), None), None);
    }

    #[test]
    fn a_client_leaving_within_its_timers_lead_left_by_the_deadline() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let client = CallDeadline::new(Some(ms(300)), None, start);
        assert!(!client.explains_client_leaving(start));
        assert!(!client.explains_client_leaving(start + ms(249)));
        assert!(client.explains_client_leaving(start + ms(250)));
        assert!(client.explains_client_leaving(start + ms(400)));

        // A short timeout: the lead is a quarter of it, not most of it.
        let short = CallDeadline::new(Some(ms(40)), None, start);
        assert!(!short.explains_client_leaving(start + ms(29)));
        assert!(short.explains_client_leaving(start + ms(30)));

        // The client knows nothing of the service's default deadline: no lead before it.
        let service = CallDeadline::new(None, Some(ms(300)), start);
        assert!(!service.explains_client_leaving(start + ms(299)));
        assert!(service.explains_client_leaving(start + ms(300)));
        assert!(!CallDeadline::default().explains_client_leaving(start + ms(1_000_000)));
    }
}

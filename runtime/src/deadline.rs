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
    metadata
        .get(GRPC_TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map(|t| t.saturating_sub(TONIC_TIMER_MARGIN))
}

/// The instant a call must end: the earlier of the client's timeout and the service's
/// default deadline, both measured from `start`. A deadline too far away for an `Instant`
/// is no deadline.
pub(crate) fn call_deadline(
    client: Option<Duration>,
    default: Option<Duration>,
    start: Instant,
) -> Option<Instant> {
    let client = client.and_then(|t| start.checked_add(t));
    let service = default.and_then(|t| start.checked_add(t));
    match (client, service) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
        let mut md = MetadataMap::new();
        assert_eq!(header_timeout(&md), None);
        assert_eq!(call_deadline(None, None, start), None);
        assert_eq!(
            call_deadline(None, Some(Duration::from_secs(5)), start),
            Some(start + Duration::from_secs(5))
        );
        md.insert(GRPC_TIMEOUT_HEADER, "2S".parse().unwrap());
        let two = header_timeout(&md);
        assert_eq!(two, Some(Duration::from_secs(2) - TONIC_TIMER_MARGIN));
        let client = start + Duration::from_secs(2) - TONIC_TIMER_MARGIN;
        assert_eq!(call_deadline(two, None, start), Some(client));
        assert_eq!(
            call_deadline(two, Some(Duration::from_secs(5)), start),
            Some(client)
        );
        assert_eq!(
            call_deadline(two, Some(Duration::from_secs(1)), start),
            Some(start + Duration::from_secs(1))
        );
        let far = Some(Duration::from_secs(99_999_999 * 3600));
        assert!(call_deadline(far, None, start).is_some_and(|at| at > client));
        assert_eq!(call_deadline(Some(Duration::MAX), None, start), None);
    }
}

//! What a failed attempt tells about its call: whether the server can have seen it, which
//! decides whether retrying is safe whatever the method (gRFC A6's transparent retries).

use std::error::Error;

/// How far a failed attempt got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// The request never left this client (no connection, the connection was closing).
    NotSent,
    /// The server's HTTP/2 layer refused it unprocessed (`REFUSED_STREAM`, or a GOAWAY
    /// whose last stream id is below it): no handler saw it.
    Unprocessed,
    /// The server may have seen it.
    MaybeProcessed,
}

/// An error the balancer returns for a request it could not send (no connected replica, a
/// connection that failed before the request went out).
#[derive(Debug)]
pub(crate) struct NotSent(pub(crate) super::BoxError);

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request was not sent: {}", self.0)
    }
}

impl Error for NotSent {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// How far the attempt that failed with `error` got, from the first error in its source
/// chain that tells (outermost first):
///
/// - [`NotSent`] (the balancer's), tonic's `ConnectError`, an I/O `ConnectionRefused`:
///   no connection, so nothing was sent;
/// - a hyper error that `is_canceled()`: hyper's dispatcher gave the request back without
///   handing it to h2 ("connection was not ready", or queued when the connection closed);
/// - an h2 error received from the server (`is_remote()`): a `GOAWAY` (h2 gives a stream
///   that error only when its id is above the GOAWAY's last stream id, or when it was to
///   open after the GOAWAY arrived; RFC 9113 6.8: not processed, whatever the error code),
///   or a `RST_STREAM` with `REFUSED_STREAM` (RFC 9113 8.7: not processed) → unprocessed;
/// - any other h2 error (a reset, a connection error, I/O), and anything unrecognised:
///   the server may have seen the request.
pub(crate) fn reach(error: &(dyn Error + 'static)) -> Reach {
    chain(error)
        .find_map(reach_of)
        .unwrap_or(Reach::MaybeProcessed)
}

/// `error` and its causes, outermost first.
pub(crate) fn chain<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

/// `error` with every cause, `: `-separated (tonic's own message is only "transport
/// error"); a wrapper that repeats its cause's message, as tonic's `ConnectError` does, is
/// said once.
pub(crate) fn describe(error: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    for cause in chain(error) {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    text
}

/// What `error` itself says about the attempt's reach, if anything.
fn reach_of(error: &(dyn Error + 'static)) -> Option<Reach> {
    if error.is::<NotSent>() || error.is::<tonic::ConnectError>() {
        return Some(Reach::NotSent);
    }
    if let Some(error) = error.downcast_ref::<hyper::Error>() {
        return error.is_canceled().then_some(Reach::NotSent);
    }
    if let Some(error) = error.downcast_ref::<h2::Error>() {
        let refused = error.is_reset() && error.reason() == Some(h2::Reason::REFUSED_STREAM);
        let unprocessed = error.is_remote() && (error.is_go_away() || refused);
        return Some(if unprocessed {
            Reach::Unprocessed
        } else {
            Reach::MaybeProcessed
        });
    }
    let io = error.downcast_ref::<std::io::Error>()?;
    (io.kind() == std::io::ErrorKind::ConnectionRefused).then_some(Reach::NotSent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_telling_error_of_the_chain_decides() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let not_sent = NotSent(Box::new(std::io::Error::other("closing")));
        assert_eq!(reach(&not_sent), Reach::NotSent);
        assert_eq!(
            reach(&tonic::ConnectError(Box::new(refused))),
            Reach::NotSent
        );
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(reach(&reset), Reach::MaybeProcessed);
        // A reason made locally is no word from the server.
        let local = h2::Error::from(h2::Reason::REFUSED_STREAM);
        assert_eq!(reach(&local), Reach::MaybeProcessed);
        assert_eq!(reach(&NotSent(Box::new(local))), Reach::NotSent);
    }
}

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

/// How far the attempt that failed with `error` got. STUB: the retry work fills this in.
pub(crate) fn reach(error: &(dyn Error + 'static)) -> Reach {
    if error.is::<NotSent>() {
        Reach::NotSent
    } else {
        Reach::MaybeProcessed
    }
}

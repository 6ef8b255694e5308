//! The runtime's server: tonic's routes served by hyper from an accept loop the runtime owns.
//!
//! tonic's `Server` neither backs off failed accepts, nor closes connections that never
//! finish the HTTP/2 handshake, nor bounds hyper's per-stream send buffer, nor ends open
//! streams on shutdown; serving the routes here does all four (see [`TunedRouter`]).

use crate::call::frames::MessageLimit;
use crate::server::auth::{Auth, AuthLayer};
use crate::server::budget::{Budget, CallBudget};
use crate::server::gate::Gated;
use crate::server::overload::{self, Activity, Entry, Open, Registry};
use crate::server::shutdown::{self, Shutdown};
use crate::server::socket::{self, Prefixed, read_handshake};
use crate::server::status_layer::{GrpcStatusLayer, GrpcStatusService, RequestGuard};
use crate::server::tls::{PeerIdentity, ServerTls};
use crate::tuning::Tuning;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body::Frame;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::Connected;
use tower_service::Service;

/// Grace [`TunedRouter::serve_with_incoming_shutdown`] gives open calls before ending them.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// After the grace, how long connections get to deliver the calls' `UNAVAILABLE` before
/// they are closed.
const FLUSH: Duration = Duration::from_secs(1);

/// At shutdown, how long streams wait for every connection to write its GOAWAY before they
/// are ended anyway (a client that does not read can keep its socket's buffer full).
const GOAWAY_FLUSH: Duration = Duration::from_secs(1);

/// Held by a connection until it has written its GOAWAY, or closed: shutdown waits, up to
/// [`GOAWAY_FLUSH`], until every connection has dropped its own before it ends any stream.
type GoawayPending = mpsc::Sender<Infallible>;

/// First pause after a failed accept; doubled on each failure in a row up to
/// [`ACCEPT_BACKOFF_MAX`], reset by a success (grpc-go's values).
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest pause between failed accepts.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The server builder [`Tuning::server`] returns: set [`tls`](Self::tls) and
/// [`auth`](Self::auth) here, then add services to get a [`TunedRouter`].
#[derive(Clone, Debug)]
pub struct TunedServer {
    tuning: Tuning,
    options: Options,
}

/// What a server adds to its tuning: TLS, the auth hook and metrics.
#[derive(Clone, Debug, Default)]
struct Options {
    tls: Option<ServerTls>,
    auth: Option<Auth>,
    /// Where calls are recorded, if anywhere.
    #[cfg(feature = "metrics")]
    metrics: Option<crate::Metrics>,
}

/// A [`TunedServer`] with services, ready to serve.
///
/// Compared with tonic's `Server`, it:
/// - pauses after a failed accept (5 ms doubling to 1 s, as grpc-go), so running out of
///   file descriptors does not spin a core, and raises the soft `RLIMIT_NOFILE` to the hard
///   limit when it starts serving;
/// - when accept fails for lack of file descriptors, closes the oldest connections still in
///   their handshake, then the longest idle ones, so that a new client gets in (and logs how
///   many it closed);
/// - closes a connection that has not sent the HTTP/2 preface and its first `SETTINGS`
///   within [`Tuning::handshake_timeout`], and (with a GOAWAY) one that has had no open
///   stream for [`Tuning::idle_timeout`];
/// - sends a GOAWAY to a connection older than [`Tuning::max_connection_age`] (jittered),
///   and closes it once its streams are done or [`Tuning::max_connection_age_grace`] is
///   over;
/// - bounds what one stream queues for a client that does not read
///   ([`Tuning::max_send_buffer`]), and what all the streams of one connection hold
///   together ([`Tuning::connection_send_budget`]);
/// - rejects requests that are not gRPC (HTTP 415) and answers oversized metadata with
///   `RESOURCE_EXHAUSTED` (see [`RequestGuard`]);
/// - on shutdown ([`TunedRouter::serve_with_shutdown`]) ends open streams, of every
///   service it serves, instead of waiting for them forever;
/// - does not start tonic's own `grpc-timeout` timer: the generated adapters enforce
///   deadlines and answer `DEADLINE_EXCEEDED`;
/// - with [`TunedServer::tls`], runs each TLS handshake in the connection's own task,
///   within the same handshake timeout, so a stalled handshake never blocks accepting;
/// - with [`TunedServer::auth`], authenticates every call before its service sees it.
#[derive(Clone, Debug)]
pub struct TunedRouter {
    tuning: Tuning,
    options: Options,
    routes: Routes,
}

impl TunedServer {
    pub(crate) fn new(tuning: Tuning) -> Self {
        TunedServer {
            tuning,
            options: Options::default(),
        }
    }

    /// Serves TLS (HTTP/2 over TLS only, ALPN `h2`) with `tls`'s certificate, and with its
    /// client certificate requirement (mTLS). The handshake must finish, with the HTTP/2
    /// preface, within [`Tuning::handshake_timeout`].
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.options.tls = Some(tls);
        self
    }

    /// Authenticates every call with `auth` before any service sees it (see [`Auth`]).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.options.auth = Some(auth);
        self
    }

    /// Records every call the server serves in `metrics`: gRFC A66's server instruments
    /// and the runtime's own (feature `metrics`; see [`Metrics`](crate::Metrics)).
    #[cfg(feature = "metrics")]
    pub fn with_metrics(mut self, metrics: &crate::Metrics) -> Self {
        self.options.metrics = Some(metrics.clone());
        self
    }

    /// Adds a generated (or any tonic) service.
    pub fn add_service<S>(&mut self, svc: S) -> TunedRouter
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        TunedRouter {
            tuning: self.tuning.clone(),
            options: self.options.clone(),
            routes: Routes::new(svc),
        }
    }
}

impl TunedRouter {
    /// Adds another service.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes = self.routes.add_service(svc);
        self
    }

    /// As [`TunedServer::tls`]: for a router made elsewhere, such as the generated
    /// `Handlers::into_router`.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.options.tls = Some(tls);
        self
    }

    /// As [`TunedServer::auth`].
    pub fn auth(mut self, auth: Auth) -> Self {
        self.options.auth = Some(auth);
        self
    }

    /// As [`TunedServer::with_metrics`].
    #[cfg(feature = "metrics")]
    pub fn with_metrics(mut self, metrics: &crate::Metrics) -> Self {
        self.options.metrics = Some(metrics.clone());
        self
    }

    /// Serves connections from `listener` until `signal` resolves, then shuts down:
    ///
    /// 1. stops accepting and sends every connection a GOAWAY, so clients send their new
    ///    calls elsewhere, and waits until every connection has written it (at most one
    ///    second, for a client that does not read), so that a client learns that this
    ///    server is going before any of its streams end;
    /// 2. ends every open call of a generated service with
    ///    [`EndReason::ServerShutdown`](crate::EndReason): its handler sees `is_active()`
    ///    turn false and `cancelled()` resolve, and a streaming response ends with
    ///    `UNAVAILABLE`;
    /// 3. ends every other open stream with `UNAVAILABLE` too, whatever service it comes
    ///    from (tonic-health's `Watch`, tonic-reflection, a tower service of your own): a
    ///    response that has answered and then waits for more, or brings a second message, is
    ///    a stream, and its request body fails, so its handler stops reading;
    /// 4. gives calls that answer once (unary, uploads) up to `grace` to finish, then
    ///    answers those still running with `UNAVAILABLE`;
    /// 5. closes what is left and returns, at most `grace` (or one second, if longer)
    ///    plus one second after `signal` (with no unary call or upload running, as soon as
    ///    the streams have ended).
    ///
    /// A stream whose client has stopped reading (its flow-control window is full) cannot
    /// be told before its window opens: it is closed with its connection, in step 5.
    pub async fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()>,
        grace: Duration,
    ) -> io::Result<()> {
        let incoming = self.tuning.incoming(listener);
        self.run(incoming, signal, grace).await
    }

    /// Serves connections from `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending(), Duration::ZERO)
            .await
    }

    /// Serves the connections `incoming` yields (for example [`Tuning::incoming`]), as
    /// tonic's method of the same name. A failed accept is retried after a pause.
    pub async fn serve_with_incoming<I, IO, E>(self, incoming: I) -> io::Result<()>
    where
        I: Stream<Item = Result<IO, E>>,
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
        E: fmt::Display + 'static,
    {
        self.run(incoming, std::future::pending(), Duration::ZERO)
            .await
    }

    /// As [`serve_with_shutdown`](Self::serve_with_shutdown) for connections `incoming`
    /// yields, with a grace of [`DEFAULT_SHUTDOWN_GRACE`].
    pub async fn serve_with_incoming_shutdown<I, IO, E>(
        self,
        incoming: I,
        signal: impl Future<Output = ()>,
    ) -> io::Result<()>
    where
        I: Stream<Item = Result<IO, E>>,
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
        E: fmt::Display + 'static,
    {
        self.run(incoming, signal, DEFAULT_SHUTDOWN_GRACE).await
    }

    /// The layers every request passes, outermost first: the spec's status codes, the
    /// call's clock and body (recording the call when the server has metrics), the auth hook
    /// (inside, so the call's clock and span cover it).
    fn layered(&self) -> Layered {
        use tower_layer::Layer;
        let routes = AuthLayer::new(self.options.auth.clone()).layer(self.routes.clone().prepare());
        #[cfg(feature = "metrics")]
        let calls = crate::CallService::metered(routes, self.options.metrics.clone());
        #[cfg(not(feature = "metrics"))]
        let calls = crate::CallLayer.layer(routes);
        GrpcStatusLayer.layer(calls)
    }

    async fn run<I, IO, E>(
        self,
        incoming: I,
        signal: impl Future<Output = ()>,
        grace: Duration,
    ) -> io::Result<()>
    where
        I: Stream<Item = Result<IO, E>>,
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
        E: fmt::Display + 'static,
    {
        raise_fd_limit();
        let server = Connections {
            http2: http2_builder(&self.tuning),
            service: ConnService {
                routes: self.layered(),
                guard: RequestGuard::new(self.tuning.max_metadata_size),
                shutdown: Shutdown::default(),
                closing: CancellationToken::new(),
                info: (),
                peer: None,
                activity: None,
                send_budget: self.tuning.connection_send_budget,
                piece: self.tuning.max_send_buffer.max(1),
                budget: None,
                max_message_size: self.tuning.max_message_size,
            },
            tls: self.options.tls,
            handshake_timeout: self.tuning.handshake_timeout,
            idle_timeout: self.tuning.idle_timeout,
            max_age: self.tuning.max_connection_age,
            max_age_grace: self.tuning.max_connection_age_grace,
            draining: CancellationToken::new(),
            registry: Arc::default(),
        };
        let mut connections = JoinSet::new();
        let (goaway_pending, mut goaways_written) = mpsc::channel(1);
        {
            // Scoped so that the listener closes as soon as accepting stops.
            let mut incoming = pin!(incoming);
            let mut signal = pin!(signal);
            let mut backoff = ACCEPT_BACKOFF_MIN;
            loop {
                tokio::select! {
                    biased;
                    () = &mut signal => break,
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                    accepted = incoming.next() => match accepted {
                        Some(Ok(io)) => {
                            backoff = ACCEPT_BACKOFF_MIN;
                            connections.spawn(server.serve(io, goaway_pending.clone()));
                        }
                        Some(Err(err)) => {
                            if overload::out_of_descriptors(&err)
                                && server.registry.shed().await != overload::Shed::default()
                            {
                                // Descriptors are free again: accept at once.
                                continue;
                            }
                            // EMFILE and friends: retrying at once only spins.
                            tokio::select! {
                                biased;
                                () = &mut signal => break,
                                () = tokio::time::sleep(backoff) => {}
                            }
                            backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        }
                        None => break,
                    },
                }
            }
        }

        let grace_over = Instant::now() + grace;
        server.draining.cancel();
        drop(goaway_pending);
        // GOAWAY first: `recv` returns `None` once every connection has written its own.
        let _ = tokio::time::timeout(GOAWAY_FLUSH, goaways_written.recv()).await;
        server.service.shutdown.start();
        while let Ok(Some(_)) = tokio::time::timeout_at(grace_over, connections.join_next()).await {
        }
        server.service.closing.cancel();
        let flushed = Instant::now() + FLUSH;
        while let Ok(Some(_)) = tokio::time::timeout_at(flushed, connections.join_next()).await {}
        connections.shutdown().await;
        Ok(())
    }
}

/// The services every request passes (see [`TunedRouter::layered`]).
type Layered = GrpcStatusService<crate::CallService<crate::server::auth::AuthService<Routes>>>;

/// hyper's HTTP/2 server with `tuning`'s settings.
fn http2_builder(tuning: &Tuning) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .initial_stream_window_size(tuning.stream_window)
        .initial_connection_window_size(tuning.connection_window)
        .adaptive_window(tuning.adaptive_window)
        .max_frame_size(tuning.max_frame_size)
        .keep_alive_interval(tuning.server_ping_interval)
        .keep_alive_timeout(tuning.ping_timeout)
        .max_concurrent_streams(tuning.max_concurrent_streams)
        .max_pending_accept_reset_streams(tuning.max_pending_accept_reset_streams)
        .max_local_error_reset_streams(tuning.max_local_error_reset_streams)
        .max_send_buf_size(tuning.max_send_buffer)
        .max_header_list_size(crate::server::status_layer::header_list_limit(
            tuning.max_metadata_size,
        ));
    builder
}

/// What every connection of one server shares.
#[derive(Clone)]
struct Connections {
    http2: http2::Builder<TokioExecutor>,
    service: ConnService<()>,
    tls: Option<ServerTls>,
    handshake_timeout: Duration,
    idle_timeout: Option<Duration>,
    /// [`Tuning::max_connection_age`], before jitter.
    max_age: Option<Duration>,
    /// [`Tuning::max_connection_age_grace`].
    max_age_grace: Option<Duration>,
    /// Cancelled when shutdown starts: every connection sends GOAWAY.
    draining: CancellationToken,
    /// The live connections, to shed when descriptors run out.
    registry: Arc<Registry>,
}

impl Connections {
    /// Serves one accepted connection, registered for shedding: its TLS handshake (with
    /// TLS), then HTTP/2. The handshake timeout covers both handshakes; a connection chosen
    /// for shedding closes at once.
    fn serve<IO>(&self, io: IO, goaway: GoawayPending) -> impl Future<Output = ()> + Send + 'static
    where
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    {
        let deadline = Instant::now() + self.handshake_timeout;
        let info = io.connect_info();
        let (registered, entry) = self.registry.register();
        let this = self.clone();
        async move {
            // Gated: the connection wakes this task for every frame.
            tokio::select! {
                biased;
                () = this.serve_tls_or_not(io, info, &entry, deadline, goaway) => {}
                () = Gated::new(entry.shed()) => {}
            }
            // The connection's future is gone, its socket closed, before the registry hears
            // that the connection is gone.
            drop(registered);
        }
    }

    /// The TLS handshake when the server has TLS, then HTTP/2.
    async fn serve_tls_or_not<IO, C>(
        self,
        io: IO,
        info: C,
        entry: &Entry,
        deadline: Instant,
        goaway: GoawayPending,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        C: Clone + Send + Sync + 'static,
    {
        let Some(acceptor) = self.tls.as_ref().map(ServerTls::acceptor) else {
            return self
                .serve_http2(io, info, None, entry, deadline, goaway)
                .await;
        };
        let handshake = tokio::time::timeout_at(deadline, acceptor.accept(io));
        let stream = tokio::select! {
            accepted = handshake => match accepted {
                Ok(Ok(stream)) => stream,
                // Too slow, not TLS, or a certificate the other side refused: close.
                Ok(Err(_error)) => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(error = %_error, "TLS handshake failed");
                    return;
                }
                Err(_elapsed) => return,
            },
            () = self.draining.cancelled() => return,
        };
        let peer = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(PeerIdentity::from_chain);
        self.serve_http2(stream, info, peer, entry, deadline, goaway)
            .await;
    }

    /// Serves HTTP/2 on `io` once its client's preface arrived (by `deadline`), until
    /// shutdown, idleness or age sends it a GOAWAY; `goaway` is dropped once that is written.
    /// The socket is then closed without losing the last writes.
    async fn serve_http2<IO, C>(
        self,
        mut io: IO,
        info: C,
        peer: Option<PeerIdentity>,
        entry: &Entry,
        deadline: Instant,
        goaway: GoawayPending,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        C: Clone + Send + Sync + 'static,
    {
        let handshake = tokio::time::timeout_at(deadline, read_handshake(&mut io));
        let prefix = tokio::select! {
            read = handshake => match read {
                Ok(Ok(prefix)) => prefix,
                // Too slow, or gone: close.
                _ => return,
            },
            () = self.draining.cancelled() => return,
        };
        entry.handshake_done();
        let service = self
            .service
            .for_connection(info, peer, Some(Arc::clone(entry.activity())));
        let replayed = Prefixed::new(prefix, &mut io);
        self.drive_http2(replayed, service, entry.activity(), goaway)
            .await;
        socket::close_lingering(io, socket::LINGER).await;
    }

    /// Runs hyper's HTTP/2 server on `io` until it ends, or until shutdown, idleness or age
    /// sends a GOAWAY and the streams still open finish (within the age's grace).
    async fn drive_http2<IO, C>(
        &self,
        io: Prefixed<&mut IO>,
        service: ConnService<C>,
        activity: &Activity,
        goaway: GoawayPending,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        C: Clone + Send + Sync + 'static,
    {
        let mut connection = pin!(self.http2.serve_connection(TokioIo::new(io), service));
        let idle = async {
            match self.idle_timeout {
                Some(timeout) => activity.idle_for(timeout).await,
                None => std::future::pending().await,
            }
        };
        let aged = async {
            match self.max_age {
                Some(age) => tokio::time::sleep(jittered(age)).await,
                None => std::future::pending().await,
            }
        };
        // What ends the connection, and the grace its streams then get.
        let ending = async {
            tokio::select! {
                biased;
                () = self.draining.cancelled() => None,
                () = idle => None,
                () = aged => self.max_age_grace,
            }
        };
        // The watchers are gated, together: the connection wakes this task for every
        // frame, and they only need a poll when one of them was woken.
        let grace = tokio::select! {
            biased;
            _ = connection.as_mut() => return,
            grace = Gated::new(ending) => grace,
        };
        // GOAWAY: streams still open finish, new ones go to a new connection. One poll
        // writes it (unless the socket's buffer is full) before shutdown ends any stream.
        connection.as_mut().graceful_shutdown();
        if futures_util::poll!(connection.as_mut()).is_ready() {
            return;
        }
        drop(goaway);
        match grace {
            Some(grace) => drop(tokio::time::timeout(grace, connection).await),
            None => drop(connection.await),
        }
    }
}

/// `age` give or take up to 10%, drawn anew for each connection (as grpc-go jitters
/// `MaxConnectionAge`), so connections opened together are not all closed together.
fn jittered(age: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A fresh `RandomState` is randomly keyed: a hash of nothing is a random number, which
    // is all a jitter needs.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let unit = random as f64 / u64::MAX as f64;
    age.mul_f64(0.9 + 0.2 * unit)
}

/// The service one connection's requests go to: the guard, then tonic's routes.
#[derive(Clone)]
struct ConnService<C> {
    routes: Layered,
    guard: RequestGuard,
    shutdown: Shutdown,
    /// Cancelled when the shutdown grace is over: calls still running answer `UNAVAILABLE`.
    closing: CancellationToken,
    /// The connection's addresses, as tonic's `Request::remote_addr` looks them up.
    info: C,
    /// The client's verified certificate (mTLS).
    peer: Option<PeerIdentity>,
    /// The connection's open streams (none in the template the connections copy).
    activity: Option<Arc<Activity>>,
    /// Bytes of streamed responses the connection's calls may hold, together.
    send_budget: usize,
    /// Most bytes of a response body handed to hyper at once.
    piece: usize,
    /// The connection's budget of `send_budget` bytes (none in the template).
    budget: Option<Arc<Budget>>,
    /// The largest message in either direction: a response the connection's calls may send,
    /// and a request the adapters that decode DATA frames themselves accept.
    max_message_size: usize,
}

impl ConnService<()> {
    fn for_connection<C>(
        &self,
        info: C,
        peer: Option<PeerIdentity>,
        activity: Option<Arc<Activity>>,
    ) -> ConnService<C> {
        ConnService {
            routes: self.routes.clone(),
            guard: self.guard,
            shutdown: self.shutdown.clone(),
            closing: self.closing.clone(),
            info,
            peer,
            activity,
            send_budget: self.send_budget,
            piece: self.piece,
            budget: Some(Budget::new(self.send_budget, self.max_message_size)),
            max_message_size: self.max_message_size,
        }
    }
}

/// A response body that ends at shutdown if it is a stream, keeps its stream counted as
/// open (with an idle timeout) until hyper drops it, and gives its call's charges back to
/// the connection's budget as hyper takes the bytes.
struct Tracked {
    body: shutdown::ResponseBody,
    _open: Option<Open>,
    charged: Option<Charged>,
}

/// What a response body has handed to hyper and holds of its connection's budget (see
/// [`Tuning::connection_send_budget`]).
struct Charged {
    call: Arc<CallBudget>,
    /// Most bytes handed to hyper at once.
    piece: usize,
    /// The charge of the piece hyper has: given back when hyper asks for the next, by which
    /// time h2 has buffered it and has fewer than `max_send_buffer` bytes of the stream left.
    handed: usize,
    /// What is left of a chunk larger than a piece, and its charge.
    rest: Bytes,
    rest_charge: usize,
}

impl Charged {
    fn new(call: Arc<CallBudget>, piece: usize) -> Self {
        Charged {
            call,
            piece,
            handed: 0,
            rest: Bytes::new(),
            rest_charge: 0,
        }
    }

    /// Hands hyper the first piece of `data`, which carries messages charged `charge`,
    /// keeping the rest for the next poll.
    ///
    /// The charge goes with the pieces in proportion to their length: a message charged
    /// less than its length (one larger than the whole budget) keeps holding its share of
    /// the budget until its last piece is out, so no second one is admitted meanwhile.
    /// A chunk that carries no charge (a unary answer, a plain service's stream) goes
    /// whole, as before.
    fn hand(&mut self, mut data: Bytes, charge: usize) -> Frame<Bytes> {
        if charge > 0 && data.len() > self.piece {
            let share = charge as u128 * self.piece as u128 / data.len() as u128;
            self.rest = data.split_off(self.piece);
            // At most `charge`, as `piece < data.len()`.
            self.handed = usize::try_from(share).unwrap_or(charge);
            self.rest_charge = charge - self.handed;
        } else {
            self.handed = charge;
        }
        Frame::data(data)
    }

    fn hand_rest(&mut self) -> Frame<Bytes> {
        let rest = std::mem::take(&mut self.rest);
        let charge = std::mem::take(&mut self.rest_charge);
        self.hand(rest, charge)
    }
}

impl Drop for Charged {
    /// The call is over or cancelled: whatever it still held goes back at once.
    fn drop(&mut self) {
        self.call
            .release(self.handed + self.rest_charge + self.call.take_encoded());
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let Some(charged) = this.charged.as_mut() else {
            return Pin::new(&mut this.body).poll_frame(cx);
        };
        charged.call.release(std::mem::take(&mut charged.handed));
        if !charged.rest.is_empty() {
            return Poll::Ready(Some(Ok(charged.hand_rest())));
        }
        let polled = ready!(Pin::new(&mut this.body).poll_frame(cx));
        Poll::Ready(polled.map(|frame| {
            frame.map(|frame| match frame.into_data() {
                // The chunk carries every message the encoder took since the last one.
                Ok(data) => charged.hand(data, charged.call.take_encoded()),
                Err(frame) => frame,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.charged
            .as_ref()
            .is_none_or(|charged| charged.rest.is_empty())
            && self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.charged {
            Some(charged) if !charged.rest.is_empty() => http_body::SizeHint::default(),
            _ => self.body.size_hint(),
        }
    }
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Tracked>, Infallible>> + Send>>;

impl<C: Clone + Send + Sync + 'static> hyper::service::Service<http::Request<Incoming>>
    for ConnService<C>
{
    type Response = http::Response<Tracked>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut request: http::Request<Incoming>) -> Self::Future {
        let watch = self.shutdown.watch();
        if let Some(rejection) = self.guard.check(&request) {
            let rejection = rejection.map(|body| Tracked {
                body: watch.response(body),
                _open: None,
                charged: None,
            });
            return Box::pin(std::future::ready(Ok(rejection)));
        }
        let extensions = request.extensions_mut();
        extensions.insert(self.info.clone());
        if let Some(peer) = &self.peer {
            extensions.insert(peer.clone());
        }
        extensions.insert(self.shutdown.clone());
        extensions.insert(MessageLimit(self.max_message_size));
        let charged = self.budget.as_ref().map(|budget| {
            let call = CallBudget::new(budget);
            extensions.insert(Arc::clone(&call));
            Charged::new(call, self.piece)
        });
        let mut routes = self.routes.clone();
        let open = self.activity.as_ref().map(Activity::open);
        // `CallLayer` reads tonic's body type, as it does under tonic's own server.
        let call = routes.call(request.map(|body| Body::new(watch.request(body))));
        let closing = self.closing.clone();
        Box::pin(async move {
            let response = tokio::select! {
                biased;
                response = call => response,
                () = closing.cancelled() => {
                    Ok(shutdown::unavailable().into_http())
                }
            };
            Ok(response?.map(|body| Tracked {
                body: watch.response(body),
                _open: open,
                charged,
            }))
        })
    }
}

/// Raises the soft limit on open files to the hard limit, once per process, as grpc-go
/// does: a busy server needs a descriptor per connection, and the usual soft default
/// (1,024) is far below what the system allows.
fn raise_fd_limit() {
    #[cfg(unix)]
    {
        static RAISED: std::sync::Once = std::sync::Once::new();
        RAISED.call_once(|| {
            use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
            let limit = getrlimit(Resource::Nofile);
            if limit.maximum.is_some() && limit.current < limit.maximum {
                // Best effort: a sandbox may forbid it, and the server works without it.
                let _ = setrlimit(
                    Resource::Nofile,
                    Rlimit {
                        current: limit.maximum,
                        maximum: limit.maximum,
                    },
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_jittered_within_ten_percent() {
        let age = Duration::from_secs(1800);
        let ages: Vec<Duration> = (0..100).map(|_| jittered(age)).collect();
        for drawn in &ages {
            assert!(
                (age.mul_f64(0.9)..=age.mul_f64(1.1)).contains(drawn),
                "{drawn:?}"
            );
        }
        assert!(ages.iter().any(|drawn| *drawn != ages[0]), "no jitter");
    }
}

//! HTTP/2 tuning for channels and servers from one type, with named presets.

use crate::client::ClientTls;
use crate::server::TunedServer;
use std::time::Duration;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};

/// Time between TCP keepalive probes once [`Tuning::tcp_keepalive`] idle time has passed.
pub const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered TCP keepalive probes before the connection is dropped.
pub const TCP_KEEPALIVE_RETRIES: u32 = 3;

const KIB: u32 = 1024;
const MIB: u32 = 1024 * 1024;

/// HTTP/2 and transport settings shared by a client [`Endpoint`] and a server
/// ([`Tuning::server`]).
///
/// Windows are what this side lets its peer send before waiting for a `WINDOW_UPDATE`: the
/// client's windows bound server-streamed data in flight, the server's bound uploads. For a
/// stream to fill a link, its window must cover the link's bandwidth-delay product.
///
/// Left unset, tonic does not use the 65,535-byte default its docs state but hyper's:
/// client 2 MiB stream / 5 MiB connection, server 1 MiB / 1 MiB. Every preset sets all of
/// them explicitly so a service behaves the same whichever side of hyper it runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Initial per-stream flow-control window, in bytes.
    pub stream_window: u32,
    /// Initial connection-wide flow-control window, in bytes (shared by all streams).
    pub connection_window: u32,
    /// Let hyper grow the windows from a bandwidth-delay estimate (up to 16 MiB); overrides
    /// the two windows above.
    pub adaptive_window: bool,
    /// Largest HTTP/2 frame this side accepts, in bytes (16 KiB to 16 MiB - 1).
    pub max_frame_size: u32,
    /// Disable Nagle's algorithm, so small messages leave at once.
    pub tcp_nodelay: bool,
    /// TCP keepalive (`SO_KEEPALIVE`): after this much idle time the kernel probes the peer
    /// every [`TCP_KEEPALIVE_INTERVAL`] and drops a connection whose peer vanished after
    /// [`TCP_KEEPALIVE_RETRIES`] unanswered probes. Costs nothing per frame.
    pub tcp_keepalive: Option<Duration>,
    /// Server: send an HTTP/2 PING at this interval to detect vanished clients even while
    /// data is in flight.
    pub server_ping_interval: Option<Duration>,
    /// Client: send an HTTP/2 PING at this interval to detect a vanished server.
    pub client_ping_interval: Option<Duration>,
    /// How long to wait for a PING's answer before closing the connection.
    pub ping_timeout: Duration,
    /// Server: most concurrent streams one client connection may open.
    pub max_concurrent_streams: u32,
    /// Server: most streams a client may open and reset before they are accepted (the
    /// "rapid reset" attack, CVE-2023-44487).
    pub max_pending_accept_reset_streams: usize,
    /// Most streams this side resets because of the peer's protocol errors before it closes
    /// the connection.
    pub max_local_error_reset_streams: usize,
    /// Largest single gRPC message accepted or sent, in bytes. Beyond it the call fails with
    /// `RESOURCE_EXHAUSTED`.
    pub max_message_size: usize,
    /// Client: how long to wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Server: how long a new connection has to send the HTTP/2 preface and its first
    /// `SETTINGS` frame before it is closed.
    pub handshake_timeout: Duration,
    /// Server: a connection that has had no open stream for this long gets a GOAWAY and
    /// is closed (grpc-go's `MaxConnectionIdle`); clients reconnect on their next call.
    pub idle_timeout: Option<Duration>,
    /// Server: a connection this old gets a GOAWAY (grpc-go's `MaxConnectionAge`), so its
    /// client reconnects, through its resolver or load balancer, and may land on a replica
    /// added since. Each connection's age is drawn within 10% either side of this value, as
    /// grpc-go does, so connections opened together do not all recycle at once.
    pub max_connection_age: Option<Duration>,
    /// Server: after a [`max_connection_age`](Self::max_connection_age) GOAWAY, how long
    /// the connection's open streams may go on before it is closed under them
    /// (grpc-go's `MaxConnectionAgeGrace`); `None` lets them finish however long they take.
    pub max_connection_age_grace: Option<Duration>,
    /// Server: most response bytes hyper queues per stream beyond what the client's
    /// flow-control window lets it send; also the largest piece of a response body handed
    /// to hyper at once (see [`connection_send_budget`](Self::connection_send_budget)).
    pub max_send_buffer: usize,
    /// Server: most bytes of streamed responses one connection's calls hold for their
    /// client, together: messages buffered in the calls' sinks, being encoded, and handed
    /// to hyper.
    ///
    /// A sink takes a message's charge (its encoded length with its gRPC header, plus its
    /// slot in the buffer when the message is buffered unencoded) from this budget before
    /// buffering it, and waits while the budget is spent, exactly
    /// as it waits for room in its own buffer; cancelling the call gives its charges back at
    /// once. A message is handed to hyper in pieces of at most `max_send_buffer` bytes, and
    /// a piece's charge is given back when hyper asks for the next one, which it does only
    /// once h2 has fewer than `max_send_buffer` bytes of the stream left. So a client that
    /// opens every stream and reads none pins at most
    /// `connection_send_budget + 2 * max_send_buffer * max_concurrent_streams` bytes of
    /// response data on the server (plus each stream's fixed bookkeeping). A message larger
    /// than the whole budget is charged the whole budget, so it is admitted alone, and it
    /// holds its charge until its last piece is out: such messages add at most one
    /// message's excess over the budget to the bound.
    ///
    /// Fairness: waiting senders are served in arrival order, so a stream whose client
    /// reads is held back only while the connection's other streams hold the budget; a
    /// client starving its own streams by leaving some unread starves only itself. Plain
    /// tower services served beside the generated ones (health, reflection) are not
    /// charged.
    pub connection_send_budget: usize,
    /// Server: largest request metadata (header list, counted as HTTP/2 does) accepted;
    /// beyond it a call fails with `RESOURCE_EXHAUSTED`.
    pub max_metadata_size: usize,
}

impl Tuning {
    /// Balanced defaults for mixed services.
    ///
    /// - 1 MiB stream / 8 MiB connection windows: 1 MiB fills a 10 ms, 800 Mbit/s path per
    ///   stream while bounding what one cancelled stream has in flight; the connection
    ///   window lets several streams run at full speed at once.
    /// - 64 KiB frames: a 64 KiB chunk travels in one frame instead of four.
    /// - `TCP_NODELAY`: gRPC messages are whole units; Nagle only adds latency.
    /// - TCP keepalive after 30 s idle (probes every 10 s, 3 of them): a peer that vanished
    ///   without closing (a dead host, a dropped NAT mapping) is noticed within about a
    ///   minute, so its streams end and their handlers stop, at no cost per frame.
    /// - No HTTP/2 PINGs: hyper's ping bookkeeping takes a lock on every connection poll and
    ///   received frame, measured as 5% fewer streamed events per second (server) and 5%
    ///   more ping-pong latency (client). While data is in flight to a vanished peer, the
    ///   bounded sink stops the producer and TCP's retransmission timeout ends the
    ///   connection; set `server_ping_interval` (e.g. 30 s, above grpc-core's 10 s
    ///   ping-abuse floor) to end it within `ping_timeout` instead.
    /// - 1,024 concurrent streams per connection: tonic advertises no limit at all.
    /// - 1,024 pending reset streams (as many as may be open): a client whose short
    ///   deadlines expire in bulk resets many streams before the server has accepted them,
    ///   and must not be taken for a rapid-reset attack (at 50, 1,000 calls with 1 ms
    ///   deadlines were answered with GOAWAY). Memory stays bounded by the count.
    /// - 16,384 local error resets per connection: a client that opens streams over the
    ///   limit before it has seen the server's SETTINGS gets each excess stream refused
    ///   (`REFUSED_STREAM`, two resets a stream with its DATA), as grpc-go does, instead of
    ///   losing every call on the connection to a GOAWAY (1,024 tripped at 512 excess
    ///   streams); a peer provoking more resets than that is still disconnected.
    /// - 120 s to finish the HTTP/2 handshake, grpc-go's value; a connection idle (no open
    ///   stream) for 5 minutes is closed, so idle clients cannot hold descriptors forever
    ///   (a client reconnects on its next call).
    /// - A connection lives about 30 minutes (27 to 33, drawn per connection, as grpc-go
    ///   jitters its `MaxConnectionAge`), then gets a GOAWAY: a client behind a plain
    ///   load balancer or one resolved address spreads onto replicas added since (a
    ///   [`Fleet`](crate::Fleet) also re-resolves on its own). New calls move at once to a
    ///   new connection; a reconnect every half hour costs one handshake. No grace: the
    ///   calls open on the old connection finish, however long a stream runs, because a
    ///   stream the server cuts is a failed call for its client; a service whose long
    ///   streams must move too sets `max_connection_age_grace` (shutdown still ends them).
    /// - 16 KiB send buffer per stream (hyper's default: 400 KiB) and a 16 MiB send budget
    ///   per connection: a client that grants huge windows and never reads pins at most
    ///   16 MiB + 2 x 16 KiB x 1,024 streams = 48 MiB of response data per connection,
    ///   whatever the message size (benchmark case 8; without the budget, 165 KiB a stream
    ///   for 64-byte events, 686 KiB with plain tonic, and 128 messages a stream for large
    ///   ones). 16 MiB lets one stream keep 256 messages of 64 KiB in flight.
    /// - 16 KiB of request metadata (as hyper so far), answered `RESOURCE_EXHAUSTED`
    ///   beyond, not with a bare HTTP 431.
    /// - 16 MiB messages: 4x gRPC's 4 MiB default, for fat unary answers; streams should
    ///   use many small messages instead.
    pub const BALANCED: Tuning = Tuning {
        stream_window: MIB,
        connection_window: 8 * MIB,
        adaptive_window: false,
        max_frame_size: 64 * KIB,
        tcp_nodelay: true,
        tcp_keepalive: Some(Duration::from_secs(30)),
        server_ping_interval: None,
        client_ping_interval: None,
        ping_timeout: Duration::from_secs(10),
        max_concurrent_streams: 1024,
        max_pending_accept_reset_streams: 1024,
        max_local_error_reset_streams: 16 * 1024,
        max_message_size: 16 * MIB as usize,
        connect_timeout: Duration::from_secs(10),
        handshake_timeout: Duration::from_secs(120),
        idle_timeout: Some(Duration::from_secs(300)),
        max_connection_age: Some(Duration::from_secs(30 * 60)),
        max_connection_age_grace: None,
        max_send_buffer: 16 * KIB as usize,
        connection_send_budget: 16 * MIB as usize,
        max_metadata_size: 16 * KIB as usize,
    };

    /// Messaging and live event feeds (chat, notifications, telemetry) where latency and
    /// prompt cancellation matter more than throughput.
    ///
    /// A 64 KiB stream window keeps at most ~64 KiB of events in flight per stream, so a
    /// client that cancels wastes little server work and a slow reader holds little memory;
    /// 16 KiB frames keep small messages from waiting behind large ones.
    pub const LOW_LATENCY: Tuning = Tuning {
        stream_window: 64 * KIB,
        connection_window: 4 * MIB,
        max_frame_size: 16 * KIB,
        ..Tuning::BALANCED
    };

    /// Bulk transfer over long fat links (uploads, exports across regions).
    ///
    /// 128 MiB per stream: h2 returns credit only once half the window is consumed, so a
    /// stream keeps between 64 and 128 MiB in flight, which covers 10 Gbit/s at 50 ms round
    /// trip (64 MiB left the benchmarks' 50 ms link window-bound at 0.56x of raw TCP; 128 MiB
    /// reaches 0.84x). 256 MiB per connection lets two such streams run at once. Windows are
    /// credit, not allocations: memory is used only when the reader falls behind. 1 MiB
    /// frames cut per-frame overhead.
    pub const BULK_TRANSFER: Tuning = Tuning {
        stream_window: 128 * MIB,
        connection_window: 256 * MIB,
        max_frame_size: MIB,
        max_message_size: 64 * MIB as usize,
        ..Tuning::BALANCED
    };

    /// A tonic [`Endpoint`] for `uri` with these settings.
    pub fn endpoint(&self, uri: impl Into<String>) -> Result<Endpoint, tonic::transport::Error> {
        Ok(self.apply_to_endpoint(Endpoint::from_shared(uri.into())?))
    }

    /// Applies these settings to an existing endpoint (keeping its TLS, user agent, ...).
    pub fn apply_to_endpoint(&self, endpoint: Endpoint) -> Endpoint {
        let endpoint = endpoint
            .initial_stream_window_size(self.stream_window)
            .initial_connection_window_size(self.connection_window)
            .http2_adaptive_window(self.adaptive_window)
            .max_frame_size(self.max_frame_size)
            .tcp_nodelay(self.tcp_nodelay)
            .tcp_keepalive(self.tcp_keepalive)
            .tcp_keepalive_interval(self.tcp_keepalive.map(|_| TCP_KEEPALIVE_INTERVAL))
            .tcp_keepalive_retries(self.tcp_keepalive.map(|_| TCP_KEEPALIVE_RETRIES))
            .keep_alive_timeout(self.ping_timeout)
            .http2_max_local_error_reset_streams(self.max_local_error_reset_streams)
            .connect_timeout(self.connect_timeout);
        match self.client_ping_interval {
            Some(interval) => endpoint.http2_keep_alive_interval(interval),
            None => endpoint,
        }
    }

    /// A tonic [`Endpoint`] for an `https://` `uri` with these settings and `tls`.
    pub fn tls_endpoint(
        &self,
        uri: impl Into<String>,
        tls: &ClientTls,
    ) -> Result<Endpoint, tonic::transport::Error> {
        self.endpoint(uri)?.tls_config(tls.config())
    }

    /// Connects a [`Channel`] to an `https://` `uri` with these settings over TLS; a
    /// server whose certificate `tls` does not trust fails the connection.
    pub async fn connect_tls(
        &self,
        uri: impl Into<String>,
        tls: &ClientTls,
    ) -> Result<Channel, tonic::transport::Error> {
        self.tls_endpoint(uri, tls)?.connect().await
    }

    /// Connects a [`Channel`] to `uri` with these settings.
    pub async fn connect(
        &self,
        uri: impl Into<String>,
    ) -> Result<Channel, tonic::transport::Error> {
        self.endpoint(uri)?.connect().await
    }

    /// Accepts connections from `listener` with this tuning's socket options (`TCP_NODELAY`,
    /// TCP keepalive), for `serve_with_incoming`. tonic applies the server builder's socket
    /// options only when it binds the address itself (`serve`); a listener you bound
    /// yourself (port 0, a socket handed over by systemd) goes through here.
    pub fn incoming(&self, listener: tokio::net::TcpListener) -> TcpIncoming {
        TcpIncoming::from(listener)
            .with_nodelay(Some(self.tcp_nodelay))
            .with_keepalive(self.tcp_keepalive)
            .with_keepalive_interval(self.tcp_keepalive.map(|_| TCP_KEEPALIVE_INTERVAL))
            .with_keepalive_retries(self.tcp_keepalive.map(|_| TCP_KEEPALIVE_RETRIES))
    }

    /// The runtime's server builder with these settings and the safety limits above (see
    /// [`TunedRouter`](crate::TunedRouter) for what it adds to tonic's `Server`).
    ///
    /// It starts no timer of its own for `grpc-timeout`: deadlines are enforced per call by
    /// the generated adapters, which answer `DEADLINE_EXCEEDED`.
    pub fn server(&self) -> TunedServer {
        TunedServer::new(self.clone())
    }

    /// The preset called `name` (`balanced`, `low_latency`, `bulk_transfer`), as proto
    /// options and plugin parameters spell it.
    pub fn preset(name: &str) -> Option<Tuning> {
        Self::PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.clone())
    }

    /// Every preset with its name.
    pub const PRESETS: [(&'static str, Tuning); 3] = [
        ("balanced", Tuning::BALANCED),
        ("low_latency", Tuning::LOW_LATENCY),
        ("bulk_transfer", Tuning::BULK_TRANSFER),
    ];
}

impl Default for Tuning {
    fn default() -> Self {
        Self::BALANCED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_found_by_name_and_respect_http2_bounds() {
        for (name, tuning) in &Tuning::PRESETS {
            assert_eq!(Tuning::preset(name).as_ref(), Some(tuning));
            assert!(
                (16 * KIB..16 * MIB).contains(&tuning.max_frame_size),
                "{name}"
            );
            assert!(tuning.stream_window <= i32::MAX as u32, "{name}");
            assert!(tuning.connection_window >= tuning.stream_window, "{name}");
            assert!(tuning.tcp_keepalive.unwrap() >= Duration::from_secs(10));
        }
        assert_eq!(Tuning::preset("fast"), None);
    }
}

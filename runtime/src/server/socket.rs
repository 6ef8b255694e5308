//! A connection's socket before and after hyper serves it: the client's handshake, read
//! under the handshake timeout and replayed to hyper, and a close that does not lose the
//! server's last writes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Longest a closed connection keeps reading what its client still sends (see
/// [`close_lingering`]).
pub(super) const LINGER: Duration = Duration::from_secs(2);
/// Most a closed connection reads and discards while it lingers.
const LINGER_BYTES: u64 = 1 << 20;

/// Closes `io` without losing what the server wrote last: shuts down its sending side, then
/// reads and discards what the client still sends until the client closes its own side,
/// for at most `linger` and [`LINGER_BYTES`].
///
/// Closing a socket whose receive buffer holds unread bytes makes the kernel reset the
/// connection and drop what it has not sent yet. A client reading many streams sends
/// `WINDOW_UPDATE`s until the very end, so a plain close at shutdown would drop the last
/// streams' `UNAVAILABLE` trailers, and their clients would see a reset instead.
pub(super) async fn close_lingering(mut io: impl AsyncRead + AsyncWrite + Unpin, linger: Duration) {
    let drain = async {
        // hyper usually shut the sending side down already; a second shutdown is harmless,
        // and a failed one still leaves the reading to do.
        let _ = io.shutdown().await;
        let mut rest = (&mut io).take(LINGER_BYTES);
        tokio::io::copy(&mut rest, &mut tokio::io::sink()).await
    };
    let _ = tokio::time::timeout(linger, drain).await;
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;
const SETTINGS_FRAME: u8 = 0x4;
/// More than any real first `SETTINGS` frame (6 bytes per setting).
const MAX_SETTINGS_PAYLOAD: usize = 1024;

/// Reads the client's HTTP/2 preface and first frame (which must be `SETTINGS`): the
/// handshake a slow or idle client must finish within the handshake timeout.
///
/// Returns what it read, for hyper to parse again. Bytes that cannot be a preface are
/// returned at once: hyper rejects them without waiting for more.
pub(super) async fn read_handshake(io: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(128);
    let head = PREFACE.len() + FRAME_HEADER_LEN;
    while buf.len() < head {
        if io.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = buf.len().min(PREFACE.len());
        if buf[..n] != PREFACE[..n] {
            return Ok(buf);
        }
    }
    let frame = &buf[PREFACE.len()..];
    let len = usize::from(frame[0]) << 16 | usize::from(frame[1]) << 8 | usize::from(frame[2]);
    if frame[3] != SETTINGS_FRAME || len > MAX_SETTINGS_PAYLOAD {
        return Ok(buf);
    }
    while buf.len() < head + len {
        if io.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(buf)
}

/// A connection whose first bytes were already read: replays them, then reads on.
pub(super) struct Prefixed<IO> {
    prefix: Vec<u8>,
    read: usize,
    io: IO,
}

impl<IO> Prefixed<IO> {
    /// `io`, whose first bytes, `prefix`, were already read from it.
    pub(super) fn new(prefix: Vec<u8>, io: IO) -> Self {
        Self {
            prefix,
            read: 0,
            io,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read < this.prefix.len() {
            let rest = &this.prefix[this.read..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            if this.read == this.prefix.len() {
                this.prefix = Vec::new();
                this.read = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// Both ends of a loopback TCP connection: the client's, then the server's.
    async fn connected() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, (server, _)) = tokio::try_join!(client, listener.accept()).unwrap();
        (client, server)
    }

    /// A server that closes with bytes from its client still unread (as an HTTP/2 client's
    /// `WINDOW_UPDATE`s are) and more written than the socket has sent yet: closed
    /// lingering, every byte reaches the client, then the end.
    #[tokio::test]
    async fn a_lingering_close_delivers_every_byte_to_a_client_that_sent_more() {
        const WRITTEN: usize = 8 << 20;
        let (mut client, mut server) = connected().await;
        client.write_all(b"never read by the server").await.unwrap();
        let serving = tokio::spawn(async move {
            server.write_all(&vec![7; WRITTEN]).await.unwrap();
            close_lingering(server, LINGER).await;
        });
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert_eq!(received.len(), WRITTEN);
        drop(client);
        serving.await.unwrap();
    }

    /// The close ends the server's side at once, and lingers no longer than its bound for
    /// a client that never closes its own.
    #[tokio::test]
    async fn a_lingering_close_ends_its_side_at_once_and_is_bounded() {
        let (mut client, server) = connected().await;
        let closing = tokio::spawn(close_lingering(server, Duration::from_millis(50)));
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert!(received.is_empty());
        tokio::time::timeout(Duration::from_secs(60), closing)
            .await
            .expect("the linger outlived its bound")
            .unwrap();
    }

    #[tokio::test]
    async fn handshake_reads_preface_and_settings_and_stops_early_on_garbage() {
        let settings = [0, 0, 6, SETTINGS_FRAME, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        let mut good = PREFACE.to_vec();
        good.extend_from_slice(&settings);
        good.extend_from_slice(b"more");
        let read = read_handshake(&mut &good[..]).await.unwrap();
        assert!(read.starts_with(&good[..PREFACE.len() + settings.len()]));

        let garbage = b"GET / HTTP/1.1\r\n";
        assert_eq!(read_handshake(&mut &garbage[..]).await.unwrap(), garbage);

        let half = &PREFACE[..10];
        assert!(read_handshake(&mut &half[..]).await.is_err());
    }

    #[tokio::test]
    async fn prefixed_replays_what_was_read_then_reads_on() {
        let mut io = Prefixed::new(b"abc".to_vec(), &b"def"[..]);
        let mut all = Vec::new();
        // AsyncWrite is not needed to read; read through the AsyncRead impl.
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"abcdef");
    }
}

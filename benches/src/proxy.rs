//! The long link: a TCP proxy that delivers every byte a fixed delay after it arrived, in
//! each direction, without limiting throughput.
//!
//! Each direction reads as much as the socket has (up to 1 MiB at a time), stamps it, and a
//! writer delivers it once its delay has passed. The bytes waiting in the proxy are the
//! bytes "on the wire", so the link holds any bandwidth-delay product up to
//! [`MAX_IN_FLIGHT`] per direction; the legs to and from the proxy are short (loopback or
//! veth), so neither TCP's windows nor socket buffers limit what the link carries. TCP
//! connections through it see a round trip of twice the delay, exactly like HTTP/2's
//! flow-control windows do.

use bytes::{Bytes, BytesMut};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

/// Most bytes in flight per direction (the link's buffer).
pub const MAX_IN_FLIGHT: usize = 512 << 20;
const READ_SIZE: usize = 1 << 20;

/// A delay proxy running on its own runtime (so the client's tasks never delay it).
pub struct DelayProxy {
    runtime: Option<tokio::runtime::Runtime>,
    /// Where clients connect.
    pub addr: SocketAddr,
}

impl std::fmt::Debug for DelayProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayProxy")
            .field("addr", &self.addr)
            .finish()
    }
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`, adding
    /// `delay` in each direction.
    pub fn start(upstream: SocketAddr, delay: Duration) -> io::Result<DelayProxy> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("delay-proxy")
            .enable_all()
            .build()?;
        // Bound here, registered with the proxy's runtime inside it: this may be called from
        // another runtime, where `block_on` is not allowed.
        let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_rd, client_wr) = client.into_split();
                    let (server_rd, server_wr) = server.into_split();
                    tokio::join!(
                        pipe(client_rd, server_wr, delay),
                        pipe(server_rd, client_wr, delay)
                    );
                });
            }
        });
        Ok(DelayProxy {
            runtime: Some(runtime),
            addr,
        })
    }

    /// `http://addr`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Moves bytes from `from` to `to`, each `delay` after it was read; EOF is delayed too.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Option<Bytes>)>();
    let budget = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let reader_budget = Arc::clone(&budget);
    let reader = async move {
        let mut buf = BytesMut::new();
        loop {
            if buf.capacity() < READ_SIZE / 4 {
                buf = BytesMut::with_capacity(READ_SIZE);
            }
            let n = match from.read_buf(&mut buf).await {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let at = Instant::now() + delay;
            if n == 0 {
                let _ = tx.send((at, None));
                return;
            }
            let data = buf.split().freeze();
            match reader_budget.acquire_many(n as u32).await {
                Ok(permits) => permits.forget(),
                Err(_) => return,
            }
            if tx.send((at, Some(data))).is_err() {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((at, data)) = rx.recv().await {
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            match data {
                Some(data) => {
                    if to.write_all(&data).await.is_err() {
                        break;
                    }
                    budget.add_permits(data.len());
                }
                None => {
                    let _ = to.shutdown().await;
                    break;
                }
            }
        }
    };
    tokio::join!(reader, writer);
}

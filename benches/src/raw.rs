//! The physical reference: the same bytes over a bare TCP connection, no HTTP/2, no gRPC.
//!
//! The client sends an 8-byte length, then the bytes in 64 KiB writes; the server reads them
//! into a 64 KiB buffer, discarding them, and answers with the count it read, so a transfer
//! ends exactly like an upload call: when the client has the server's answer.

use crate::common::{CHUNK_SIZE, PATTERN, PatternReader};
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves raw uploads on `listener` until dropped.
pub async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = sink(stream).await;
        });
    }
}

async fn sink(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let len = stream.read_u64().await?;
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut got = 0u64;
    while got < len {
        match stream.read(&mut buf).await? {
            0 => break,
            n => got += n as u64,
        }
    }
    stream.write_u64(got).await?;
    stream.flush().await
}

/// Opens a connection for [`upload`].
pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `len` bytes and returns the count the server acknowledged. With a `source`, each
/// 64 KiB write is first read from it, as an upload of a file must; without one, every write
/// comes from one static buffer: the link's bare limit.
pub async fn upload(
    stream: &mut TcpStream,
    len: u64,
    mut source: Option<PatternReader>,
) -> io::Result<u64> {
    stream.write_u64(len).await?;
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK_SIZE as u64) as usize;
        let bytes = match source.as_mut() {
            Some(reader) => {
                reader.read_exact(&mut buf[..n]).await?;
                &buf[..n]
            }
            None => &PATTERN[..n],
        };
        stream.write_all(bytes).await?;
        left -= n as u64;
    }
    stream.flush().await?;
    stream.read_u64().await
}

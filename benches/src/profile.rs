//! The `profile-upload`, `profile-pingpong` and `profile-events` subcommands: one upload of a
//! fixed size, one chat of a fixed number of round trips, or one stream of a fixed number of
//! events, through one subject, client and server in this
//! process on one thread, so an instruction-counting profiler sees the whole path (reading
//! the source, encoding, HTTP/2 both ways, decoding, the handler) and counts it
//! reproducibly. See `benches/PROFILE.md` for how its figures are read.

use crate::cases::Error;
use crate::cases::upload::{generated_upload, plain_upload, raw_upload};
use crate::cases::{events, pingpong};
use crate::servers::{self, Kind};
use rust_stream_examples::adapter::StreamingExamplesStreamClient;
use std::net::{IpAddr, Ipv4Addr};

/// Uploads `bytes` once through `subject` (`gen-<preset>`, `plain` or `raw`) and returns a
/// line describing it.
pub fn upload(subject: &str, bytes: u64) -> Result<String, Error> {
    let kind = parse(subject)?;
    one_thread()?.block_on(async move {
        let server = servers::start(&kind, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
        let secs = match &kind {
            Kind::Generated(_) => {
                let client = StreamingExamplesStreamClient::connect(server.uri()).await?;
                generated_upload(client, bytes).await?
            }
            Kind::Plain(config) => plain_upload(server.uri(), *config, bytes).await?,
            Kind::Raw => raw_upload(server.addr, bytes).await?,
        };
        Ok(format!(
            "{} uploaded {bytes} bytes in {secs:.3} s",
            kind.name()
        ))
    })
}

/// Runs one chat of `rounds` round trips (after case 4's warm-up) through `subject`
/// (`gen-<preset>` or `plain`) and returns a line describing it.
pub fn pingpong(subject: &str, rounds: usize) -> Result<String, Error> {
    let kind = parse(subject)?;
    let generated_stack = match &kind {
        Kind::Generated(_) => true,
        Kind::Plain(_) => false,
        Kind::Raw => return Err("ping-pong has no raw TCP subject".into()),
    };
    one_thread()?.block_on(async move {
        let server = servers::start(&kind, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
        let latencies = pingpong::rounds(generated_stack, &server, rounds).await?;
        let mean = latencies.iter().sum::<f64>() / latencies.len().max(1) as f64;
        Ok(format!(
            "{} made {rounds} round trips, mean {mean:.1} µs",
            kind.name()
        ))
    })
}

/// Streams `n` events (case 3's, 64-byte payloads) through `subject` (`gen-<preset>` or
/// `plain`) and returns a line describing it.
pub fn events(subject: &str, n: u64) -> Result<String, Error> {
    let kind = parse(subject)?;
    if matches!(kind, Kind::Raw) {
        return Err("server streaming has no raw TCP subject".into());
    }
    one_thread()?.block_on(async move {
        let server = servers::start(&kind, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
        let rate = events::stream(&kind, &server, n).await?;
        Ok(format!(
            "{} streamed {n} events, {rate:.0} events/s",
            kind.name()
        ))
    })
}

fn parse(subject: &str) -> Result<Kind, Error> {
    Ok(Kind::parse(subject).ok_or_else(|| format!("unknown subject {subject:?}"))?)
}

/// One thread: the counts do not depend on how work lands on worker threads.
fn one_thread() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

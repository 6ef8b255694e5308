//! The `profile-upload` subcommand: one upload of a fixed size through one subject, client
//! and server in this process on one thread, so an instruction-counting profiler sees the
//! whole path (reading the source, encoding, HTTP/2 both ways, decoding, the handler) and
//! counts it reproducibly. See `benches/PROFILE.md` for how its figures are read.

use crate::cases::Error;
use crate::cases::upload::{generated_upload, plain_upload, raw_upload};
use crate::servers::{self, Kind};
use rust_stream_examples::adapter::StreamingExamplesStreamClient;
use std::net::{IpAddr, Ipv4Addr};

/// Uploads `bytes` once through `subject` (`gen-<preset>`, `plain` or `raw`) and returns a
/// line describing it.
pub fn run(subject: &str, bytes: u64) -> Result<String, Error> {
    let kind = Kind::parse(subject).ok_or_else(|| format!("unknown subject {subject:?}"))?;
    // One thread: the counts do not depend on how work lands on worker threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
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

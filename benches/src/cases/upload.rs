//! Case 1: client-streaming upload on loopback, generated vs plain tonic vs raw TCP.

use super::{Error, interleaved, mib_per_s};
use crate::common::{CHUNK_SIZE, PatternReader};
use crate::plain::{self, PlainConfig};
use crate::report::{Pairing, Report, Row};
use crate::servers::{self, Kind};
use crate::{Plan, raw};
use rust_stream_examples::adapter::StreamingExamplesStreamClient;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

const CASE: &str = "1. Upload, loopback";

/// One upload with a fresh connection: returns seconds from the call to its response.
pub async fn plain_upload(uri: String, config: PlainConfig, bytes: u64) -> Result<f64, Error> {
    let mut client = plain::connect(uri, config).await?;
    let start = Instant::now();
    let received = plain::upload(&mut client, PatternReader::new(bytes)).await?;
    let secs = start.elapsed().as_secs_f64();
    check(received, bytes)?;
    Ok(secs)
}

/// One upload through the generated client (already connected with its tuning).
pub async fn generated_upload(
    client: StreamingExamplesStreamClient,
    bytes: u64,
) -> Result<f64, Error> {
    let start = Instant::now();
    let result = client
        .upload_chunks_from(PatternReader::new(bytes), CHUNK_SIZE, |_| {})
        .await?;
    let secs = start.elapsed().as_secs_f64();
    check(result.bytes_received, bytes)?;
    Ok(secs)
}

/// One raw TCP transfer with a fresh connection, from one static buffer (the link's limit).
pub async fn raw_upload(addr: std::net::SocketAddr, bytes: u64) -> Result<f64, Error> {
    raw_upload_of(addr, bytes, None).await
}

/// One raw TCP transfer with a fresh connection, each write first read from `source`.
async fn raw_upload_of(
    addr: std::net::SocketAddr,
    bytes: u64,
    source: Option<PatternReader>,
) -> Result<f64, Error> {
    let mut stream = raw::connect(addr).await?;
    let start = Instant::now();
    let received = raw::upload(&mut stream, bytes, source).await?;
    let secs = start.elapsed().as_secs_f64();
    check(received, bytes)?;
    Ok(secs)
}

fn check(received: u64, sent: u64) -> Result<(), Error> {
    if received == sent {
        Ok(())
    } else {
        Err(format!("the server received {received} of {sent} bytes").into())
    }
}

/// Runs the case.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let plain_server = servers::start(&Kind::Plain(PlainConfig::Default), ip).await?;
    let generated_server = servers::start(&Kind::Generated("balanced"), ip).await?;
    let raw_server = servers::start(&Kind::Raw, ip).await?;
    let bytes = plan.upload_bytes;
    let figures = interleaved(plan, 4, |subject, warmup| {
        let size = if warmup { bytes / 8 } else { bytes };
        let (generated_server, plain_server, raw_server) =
            (&generated_server, &plain_server, &raw_server);
        async move {
            let secs = match subject {
                0 => {
                    let client =
                        StreamingExamplesStreamClient::connect(generated_server.uri()).await?;
                    generated_upload(client, size).await?
                }
                1 => plain_upload(plain_server.uri(), PlainConfig::Default, size).await?,
                2 => raw_upload(raw_server.addr, size).await?,
                _ => raw_upload_of(raw_server.addr, size, Some(PatternReader::new(size))).await?,
            };
            Ok(mib_per_s(size, secs))
        }
    })
    .await?;
    let [generated, plain, raw, raw_read]: [Vec<f64>; 4] = figures
        .try_into()
        .map_err(|_| "one list of figures per subject")?;
    let measure = format!("throughput, MiB/s ({} MiB)", bytes >> 20);
    let generated_row = Row::new(CASE, &measure, "generated (BALANCED)", generated.clone())
        .against("plain tonic", plain.clone(), Pairing::PerRun);
    let met = generated_row.median_ratio() >= 1.0;
    report.push(generated_row.judged(">= 1.0x plain", met));
    report.push(
        Row::new(CASE, &measure, "generated (BALANCED)", generated.clone()).against(
            "raw TCP",
            raw.clone(),
            Pairing::PerRun,
        ),
    );
    // The same source as the uploads: raw TCP with the read a file upload cannot skip.
    report.push(
        Row::new(CASE, &measure, "generated (BALANCED)", generated).against(
            "raw TCP, reading the same source",
            raw_read,
            Pairing::PerRun,
        ),
    );
    report.push(Row::new(CASE, &measure, "plain tonic", plain).against(
        "raw TCP",
        raw,
        Pairing::PerRun,
    ));
    Ok(())
}

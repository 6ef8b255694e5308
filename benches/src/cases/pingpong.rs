//! Case 4: bidirectional ping-pong latency.

use super::{Error, order};
use crate::plain::{self, PlainConfig};
use crate::report::{Pairing, Report, Row, percentile};
use crate::servers::{self, Kind, Running};
use crate::{Plan, generated};
use rust_stream_examples::adapter::StreamingExamplesStreamClient;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

const CASE: &str = "4. Bidi ping-pong";
const WARMUP_ROUNDS: usize = 100;

/// One call of `rounds` measured round trips (after a warm-up); the latencies in µs.
pub(crate) async fn rounds(
    generated_stack: bool,
    server: &Running,
    rounds: usize,
) -> Result<Vec<f64>, Error> {
    let mut latencies = Vec::with_capacity(rounds);
    if generated_stack {
        let client = StreamingExamplesStreamClient::connect(server.uri()).await?;
        let (requests, mut replies) = client.chat();
        for i in 0..WARMUP_ROUNDS + rounds {
            let start = Instant::now();
            requests.send(generated::message(i.to_string())).await?;
            replies.message().await?.ok_or("the chat ended early")?;
            if i >= WARMUP_ROUNDS {
                latencies.push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
    } else {
        let mut client = plain::connect(server.uri(), PlainConfig::Default).await?;
        let (requests, mut replies) = plain::chat(&mut client).await?;
        for i in 0..WARMUP_ROUNDS + rounds {
            let start = Instant::now();
            requests
                .send(plain::message(i.to_string()))
                .await
                .map_err(|_| "the chat ended early")?;
            replies.message().await?.ok_or("the chat ended early")?;
            if i >= WARMUP_ROUNDS {
                latencies.push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    Ok(latencies)
}

/// Runs the case.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let generated_server = servers::start(&Kind::Generated("balanced"), ip).await?;
    let plain_server = servers::start(&Kind::Plain(PlainConfig::Default), ip).await?;
    // [subject][p50, p99] per run.
    let mut figures = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for rep in 0..plan.reps {
        for subject in order(rep, 2) {
            let server = if subject == 0 {
                &generated_server
            } else {
                &plain_server
            };
            let latencies = rounds(subject == 0, server, plan.rounds).await?;
            figures[subject][0].push(percentile(&latencies, 50.0));
            figures[subject][1].push(percentile(&latencies, 99.0));
        }
    }
    for (i, name) in ["p50", "p99"].iter().enumerate() {
        let measure = format!("{name} round trip, µs ({} rounds)", plan.rounds);
        let row = Row::new(
            CASE,
            &measure,
            "generated (BALANCED)",
            figures[0][i].clone(),
        )
        .against("plain tonic", figures[1][i].clone(), Pairing::PerRun);
        let met = row.median_ratio() <= 1.05;
        report.push(row.judged("<= 1.05x plain", met));
    }
    Ok(())
}

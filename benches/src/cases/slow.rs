//! Case 6: a slow consumer (10 events/s) of a fast producer; the server's memory.

use super::Error;
use crate::common::ENDLESS;
use crate::plain;
use crate::report::{Pairing, Report, Row};
use crate::servers::{Kind, ServerProcess, preset};
use crate::{Plan, generated, sys};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const CASE: &str = "6. Slow consumer";
const READ_EVERY: Duration = Duration::from_millis(100);

/// Reads one event every 100 ms for `secs` from the `kind` server in `process`, sampling the
/// process's VmRSS after each read. Returns (baseline, samples) in KiB.
async fn consume(kind: Kind, process: &ServerProcess, secs: u64) -> Result<(u64, Vec<u64>), Error> {
    let pid = process.pid();
    let uri = format!("http://{}", process.addr(&kind));
    let rss = move || sys::status_kib(pid, "VmRSS").unwrap_or(0);
    let reads = (secs * 1000 / READ_EVERY.as_millis() as u64).max(1);
    let mut ticker = tokio::time::interval(READ_EVERY);
    let mut samples = Vec::new();
    let baseline;
    match kind {
        Kind::Plain(config) => {
            let mut client = plain::connect(uri, config).await?;
            baseline = rss();
            let mut events = plain::list_events(&mut client, ENDLESS).await?;
            for _ in 0..reads {
                ticker.tick().await;
                events.message().await?.ok_or("the feed ended")?;
                samples.push(rss());
            }
        }
        Kind::Generated(name) => {
            let client = generated::connect(uri, &preset(name)).await?;
            baseline = rss();
            let filter = rust_stream_examples::pb::EventFilter {
                after: ENDLESS.into(),
            };
            let mut events = client.list_events(filter).await?;
            for _ in 0..reads {
                ticker.tick().await;
                events.message().await?.ok_or("the feed ended")?;
                samples.push(rss());
            }
        }
        Kind::Raw => unreachable!("no raw feed"),
    }
    Ok((baseline, samples))
}

/// Runs the case: every repetition of every subject at once (each server in its own
/// process, each producer blocked on flow control almost all the time), so the case takes
/// its duration once.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let subjects = super::FEED_SUBJECTS;
    let mut processes = Vec::new();
    for _ in 0..plan.reps {
        for (_, kind) in &subjects {
            processes.push((
                kind.clone(),
                ServerProcess::spawn(std::slice::from_ref(kind), ip, None)?,
            ));
        }
    }
    let secs = plan.slow_secs;
    let outcomes = futures_util::future::join_all(
        processes
            .iter()
            .map(|(kind, process)| consume(kind.clone(), process, secs)),
    )
    .await;
    let mut peak = vec![Vec::new(); subjects.len()];
    let mut late = vec![Vec::new(); subjects.len()];
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let (baseline, samples) = outcome?;
        let half = samples.len() / 2;
        let max_of = |s: &[u64]| s.iter().copied().max().unwrap_or(baseline);
        let subject = i % subjects.len();
        peak[subject].push(max_of(&samples).saturating_sub(baseline) as f64);
        late[subject]
            .push(max_of(&samples[half..]).saturating_sub(max_of(&samples[..half])) as f64);
    }
    drop(processes);
    let plain = subjects.len() - 1;
    for subject in 0..plain {
        let row = Row::new(
            CASE,
            &format!("server peak RSS growth, KiB ({secs} s at 10 events/s)"),
            subjects[subject].0,
            peak[subject].clone(),
        )
        .against("plain tonic", peak[plain].clone(), Pairing::Distribution);
        report.push(row);
        report.push(
            Row::new(
                CASE,
                "server RSS growth during the second half, KiB",
                subjects[subject].0,
                late[subject].clone(),
            )
            .against("plain tonic", late[plain].clone(), Pairing::Distribution),
        );
    }
    report.push(Row::new(
        CASE,
        &format!("server peak RSS growth, KiB ({secs} s at 10 events/s)"),
        subjects[plain].0,
        peak[plain].clone(),
    ));
    Ok(())
}

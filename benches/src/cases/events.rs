//! Case 3: server streaming of many small events, events/s.

use super::{Error, FEED_SUBJECTS, interleaved, start_all};
use crate::plain;
use crate::report::{Pairing, Report, Row};
use crate::servers::{Kind, Running, preset};
use crate::{Plan, generated};
use std::time::Instant;

const CASE: &str = "3. Server streaming";

/// Streams `n` events from the server of `kind` over a fresh connection; events/s.
pub(crate) async fn stream(kind: &Kind, server: &Running, n: u64) -> Result<f64, Error> {
    let after = n.to_string();
    let (received, secs) = match kind {
        Kind::Plain(config) => {
            let mut client = plain::connect(server.uri(), *config).await?;
            let start = Instant::now();
            let mut events = plain::list_events(&mut client, &after).await?;
            let mut received = 0u64;
            while events.message().await?.is_some() {
                received += 1;
            }
            (received, start.elapsed().as_secs_f64())
        }
        Kind::Generated(name) => {
            let client = generated::connect(server.uri(), &preset(name)).await?;
            let start = Instant::now();
            let filter = rust_stream_examples::pb::EventFilter { after };
            let mut events = client.list_events(filter).await?;
            let mut received = 0u64;
            while events.message().await?.is_some() {
                received += 1;
            }
            (received, start.elapsed().as_secs_f64())
        }
        Kind::Raw => unreachable!("no raw event stream"),
    };
    if received != n {
        return Err(format!("received {received} of {n} events").into());
    }
    Ok(n as f64 / secs)
}

/// Runs the case.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let subjects = FEED_SUBJECTS;
    let running = start_all(&subjects).await?;
    let figures = interleaved(plan, subjects.len(), |subject, warmup| {
        let n = if warmup {
            plan.events / 10
        } else {
            plan.events
        };
        stream(&subjects[subject].1, &running[subject], n)
    })
    .await?;
    let measure = format!("events/s ({} events of 64 B)", plan.events);
    let plain = figures[2].clone();
    for subject in 0..2 {
        let row = Row::new(
            CASE,
            &measure,
            subjects[subject].0,
            figures[subject].clone(),
        )
        .against("plain tonic", plain.clone(), Pairing::PerRun);
        let met = row.median_ratio() >= 1.0;
        report.push(row.judged(">= 1.0x plain", met));
    }
    Ok(())
}

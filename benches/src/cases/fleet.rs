//! Case 11: a client over a fleet. Three replicas of the generated server on their own
//! loopback addresses; the same load through one connection to one replica and through a
//! [`FleetChannel`](rust_stream::FleetChannel) over all three (round robin, retries armed):
//! unary calls/s and server-streamed events/s, and how evenly the fleet spread its calls.

use super::{Error, interleaved};
use crate::Plan;
use crate::report::{Pairing, Report, Row};
use crate::servers::{self, Running};
use rust_stream::{Fleet, StaticResolver};
use rust_stream_examples::adapter::{StreamingExamplesStreamClient, TUNING};
use rust_stream_examples::pb;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

const CASE: &str = "11. Fleet";
/// Calls (or streams) in flight at once: enough to keep several connections busy.
const CONCURRENCY: usize = 32;
/// Server-streamed events per stream, out of the plan's total.
const STREAMS: u64 = 8;

/// Runs the case.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let replicas = start_replicas().await?;
    let single = StreamingExamplesStreamClient::connect(replicas[0].uri()).await?;
    let addresses: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let fleet = Fleet::with_resolver("bench.fleet:50051", StaticResolver::new(addresses))
        .tuning(TUNING)
        .connect()
        .await?;
    let fleet = StreamingExamplesStreamClient::from_channel(fleet);
    let clients = [single, fleet];

    let calls = (plan.rounds as u64 * 10).max(CONCURRENCY as u64);
    let unary = interleaved(plan, clients.len(), |subject, warmup| {
        let n = if warmup { calls / 10 } else { calls };
        unary_rate(clients[subject].clone(), n)
    })
    .await?;
    let spread = spread(&replicas, clients[1].clone(), calls).await?;
    let events = interleaved(plan, clients.len(), |subject, warmup| {
        let n = if warmup {
            plan.events / 10
        } else {
            plan.events
        };
        stream_rate(clients[subject].clone(), n)
    })
    .await?;

    let [single_calls, fleet_calls] = [0, 1].map(|i| unary[i].clone());
    let measure = format!("unary calls/s ({calls} calls, {CONCURRENCY} at once)");
    let row = Row::new(CASE, &measure, "fleet of 3 (round robin)", fleet_calls).against(
        "one connection to one replica",
        single_calls,
        Pairing::PerRun,
    );
    let met = row.median_ratio() >= 0.9;
    report.push(row.judged(">= 0.9x one connection", met));

    let [single_events, fleet_events] = [0, 1].map(|i| events[i].clone());
    let measure = format!("events/s ({STREAMS} streams, {} events)", plan.events);
    let row = Row::new(CASE, &measure, "fleet of 3 (round robin)", fleet_events).against(
        "one connection to one replica",
        single_events,
        Pairing::PerRun,
    );
    let met = row.median_ratio() >= 0.9;
    report.push(row.judged(">= 0.9x one connection", met));

    let share = calls as f64 / replicas.len() as f64;
    let even = spread.iter().map(|&n| n as f64 / share).collect();
    let row = Row::new(
        CASE,
        &format!("calls a replica answered / an even share ({calls} calls; a value per replica)"),
        "fleet of 3",
        even,
    );
    let met = row.values.iter().all(|share| (0.9..=1.1).contains(share));
    report.push(row.judged("each within 0.9x..1.1x", met));
    Ok(())
}

/// Three generated servers (BALANCED) on 127.0.0.2, .3 and .4.
async fn start_replicas() -> Result<Vec<Running>, Error> {
    let mut replicas = Vec::new();
    for last in 2..=4 {
        let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0);
        replicas.push(servers::start_generated("balanced", bind, None).await?);
    }
    Ok(replicas)
}

/// How many of `calls` unary calls through `fleet` each replica answered, in a run of its
/// own (the measured runs mix in the single connection's calls to replica 0).
async fn spread(
    replicas: &[Running],
    fleet: StreamingExamplesStreamClient,
    calls: u64,
) -> Result<Vec<u64>, Error> {
    let before: Vec<u64> = replicas.iter().map(|r| r.feed.answered()).collect();
    unary_rate(fleet, calls).await?;
    Ok(replicas
        .iter()
        .zip(before)
        .map(|(replica, before)| replica.feed.answered() - before)
        .collect())
}

/// `n` unary calls, [`CONCURRENCY`] at a time: calls/s.
async fn unary_rate(client: StreamingExamplesStreamClient, n: u64) -> Result<f64, Error> {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY as u64 {
        let client = client.clone();
        let share = n / CONCURRENCY as u64 + u64::from(worker < n % CONCURRENCY as u64);
        tasks.spawn(async move {
            for i in 0..share {
                let request = pb::UserRequest { id: i.to_string() };
                client.get_user(request).await?;
            }
            Ok::<_, tonic::Status>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// `n` events over [`STREAMS`] server streams at once: events/s.
async fn stream_rate(client: StreamingExamplesStreamClient, n: u64) -> Result<f64, Error> {
    let per_stream = (n / STREAMS).max(1);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..STREAMS {
        let client = client.clone();
        tasks.spawn(async move {
            let filter = pb::EventFilter {
                after: per_stream.to_string(),
            };
            let mut events = client.list_events(filter).await?;
            let mut received = 0u64;
            while events.message().await?.is_some() {
                received += 1;
            }
            Ok::<_, tonic::Status>(received)
        });
    }
    let mut received = 0;
    while let Some(done) = tasks.join_next().await {
        received += done??;
    }
    if received != per_stream * STREAMS {
        return Err(format!("received {received} of {} events", per_stream * STREAMS).into());
    }
    Ok(received as f64 / start.elapsed().as_secs_f64())
}

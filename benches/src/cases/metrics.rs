//! Case 10: what metrics cost per message: case 3's event stream from the generated server
//! without metrics, with them, and from plain tonic.

use super::{Error, order};
use crate::Plan;
use crate::cases::events::stream;
use crate::plain::PlainConfig;
use crate::report::{Pairing, Report, Row};
use crate::servers::{self, Kind};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const CASE: &str = "10. Metrics";

/// Runs the case.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    // A real SDK pipeline: every measurement is aggregated, exported once a minute.
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let metrics = rust_stream::Metrics::new(&provider);
    let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let generated = Kind::Generated("balanced");
    let plain = Kind::Plain(PlainConfig::Default);
    let running = [
        servers::start_generated("balanced", bind, None).await?,
        servers::start_generated("balanced", bind, Some(&metrics)).await?,
        servers::start(&plain, bind.ip()).await?,
    ];
    let kinds = [&generated, &generated, &plain];
    let mut figures = vec![Vec::new(); running.len()];
    let warmup = usize::from(!plan.smoke);
    for rep in 0..plan.reps + warmup {
        let n = if rep < warmup {
            plan.events / 10
        } else {
            plan.events
        };
        for subject in order(rep, running.len()) {
            let rate = stream(kinds[subject], &running[subject], n).await?;
            if rep >= warmup {
                figures[subject].push(rate);
            }
        }
    }
    let _ = provider.shutdown();
    let measure = format!("events/s ({} events of 64 B)", plan.events);
    let [off, on, plain] = [0, 1, 2].map(|i| figures[i].clone());
    let rows = [
        ("generated, metrics on", on.clone(), "metrics off", off.clone()),
        ("generated, metrics off", off, "plain tonic", plain.clone()),
        ("generated, metrics on", on, "plain tonic", plain),
    ];
    for (subject, values, reference, against) in rows {
        let row = Row::new(CASE, &measure, subject, values).against(
            reference,
            against,
            Pairing::PerRun,
        );
        let met = row.median_ratio() >= 0.95;
        report.push(row.judged(">= 0.95x", met));
    }
    Ok(())
}

//! Case 10: what metrics cost per message: case 3's event stream from the generated server
//! without metrics, with them, and from plain tonic.

use super::{Error, interleaved};
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
    let figures = interleaved(plan, running.len(), |subject, warmup| {
        let n = if warmup {
            plan.events / 10
        } else {
            plan.events
        };
        stream(kinds[subject], &running[subject], n)
    })
    .await?;
    let _ = provider.shutdown();
    let measure = format!("events/s ({} events of 64 B)", plan.events);
    let [off, on, plain] = [0, 1, 2].map(|i| figures[i].clone());
    let on_vs_off = Row::new(CASE, &measure, "generated, metrics on", on.clone()).against(
        "metrics off",
        off.clone(),
        Pairing::PerRun,
    );
    let met = on_vs_off.median_ratio() >= 0.95;
    report.push(on_vs_off.judged(">= 0.95x off", met));
    // Both against plain tonic, for scale; case 3 judges the generated stack itself.
    for (subject, values) in [
        ("generated, metrics off", off),
        ("generated, metrics on", on),
    ] {
        let row = Row::new(CASE, &measure, subject, values);
        report.push(row.against("plain tonic", plain.clone(), Pairing::PerRun));
    }
    Ok(())
}

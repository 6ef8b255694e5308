//! Case 2: the upload through a link with added one-way delay: tonic's defaults, tonic's
//! adaptive window and the generated builders with the bulk-transfer preset, against raw TCP
//! through the same link.

use super::upload::{generated_upload, plain_upload, raw_upload};
use super::{Error, mib_per_s, order};
use crate::netns::Namespace;
use crate::plain::PlainConfig;
use crate::proxy::DelayProxy;
use crate::report::{Pairing, Report, Row};
use crate::servers::{Kind, ServerProcess};
use crate::{LinkMode, Plan, generated};
use rust_stream::Tuning;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const SUBJECTS: [(&str, Kind); 4] = [
    (
        "generated (BULK_TRANSFER)",
        Kind::Generated("bulk_transfer"),
    ),
    ("tonic default", Kind::Plain(PlainConfig::Default)),
    ("tonic adaptive window", Kind::Plain(PlainConfig::Adaptive)),
    ("raw TCP", Kind::Raw),
];

/// Runs the case.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let namespace = match plan.link {
        LinkMode::Loopback => None,
        LinkMode::Netns => Some(Namespace::create()?),
        LinkMode::Auto => match Namespace::create() {
            Ok(ns) => Some(ns),
            Err(err) => {
                report.note(format!(
                    "2: no network namespace ({err}); the long link runs on loopback"
                ));
                None
            }
        },
    };
    let (ip, where_) = match &namespace {
        Some(ns) => (ns.inner_ip, ns.describe()),
        None => (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "loopback: server in a child process on 127.0.0.1".to_owned(),
        ),
    };
    report.note(format!(
        "2: the link: {where_}; the delay proxy runs in the client's process on its own runtime"
    ));
    let kinds: Vec<Kind> = SUBJECTS.iter().map(|(_, k)| k.clone()).collect();
    let server = ServerProcess::spawn(&kinds, ip, namespace.as_ref())?;
    for &delay_ms in &plan.delays_ms {
        let delay = Duration::from_millis(delay_ms);
        let proxies = kinds
            .iter()
            .map(|k| DelayProxy::start(server.addr(k), delay))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = plan.link_bytes;
        let mut figures = vec![Vec::new(); SUBJECTS.len()];
        for rep in 0..plan.reps {
            for subject in order(rep, SUBJECTS.len()) {
                let proxy = &proxies[subject];
                let secs = match &SUBJECTS[subject].1 {
                    Kind::Generated(_) => {
                        let tuning = Tuning::BULK_TRANSFER;
                        let client = generated::connect(proxy.uri(), &tuning).await?;
                        generated_upload(client, bytes).await?
                    }
                    Kind::Plain(config) => plain_upload(proxy.uri(), *config, bytes).await?,
                    Kind::Raw => raw_upload(proxy.addr, bytes).await?,
                };
                figures[subject].push(mib_per_s(bytes, secs));
            }
        }
        let case = format!("2. Upload, +{delay_ms} ms one way");
        let measure = format!("throughput, MiB/s ({} MiB)", bytes >> 20);
        let raw = figures[3].clone();
        for (subject, values) in figures.iter().enumerate().take(3) {
            let row = Row::new(&case, &measure, SUBJECTS[subject].0, values.clone()).against(
                "raw TCP, same link",
                raw.clone(),
                Pairing::PerRun,
            );
            let row = if subject == 0 {
                let met = row.median_ratio() >= 0.8;
                row.judged(">= 0.8x raw TCP", met)
            } else {
                row
            };
            report.push(row);
        }
        report.push(
            Row::new(&case, &measure, SUBJECTS[0].0, figures[0].clone()).against(
                "tonic default",
                figures[1].clone(),
                Pairing::PerRun,
            ),
        );
    }
    drop(server);
    drop(namespace);
    Ok(())
}

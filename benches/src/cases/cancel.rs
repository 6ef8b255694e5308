//! Case 5: cancellation waste. A producer as fast as it can go; the client reads a few
//! events and cancels; how much does the server produce after that?

use super::{Error, FEED_SUBJECTS, order, start_all};
use crate::common::ENDLESS;
use crate::plain;
use crate::report::{Pairing, Report, Row, max, median};
use crate::servers::{Kind, Running, preset};
use crate::{Plan, generated};
use std::time::{Duration, Instant};

const CASE: &str = "5. Cancellation";
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What one run found.
#[derive(Clone, Copy, Debug)]
struct Waste {
    after_server_learned: f64,
    after_client_cancel: f64,
    stop_us: f64,
}

/// Reads `read` events from an endless feed of the `kind` server over a fresh connection,
/// cancels, and waits for the producer to stop.
async fn one(kind: &Kind, server: &Running, read: usize) -> Result<Waste, Error> {
    let feed = &server.feed;
    let (produced_at_cancel, cancelled_at) = match kind {
        Kind::Plain(config) => {
            let mut client = plain::connect(server.uri(), *config).await?;
            let mut events = plain::list_events(&mut client, ENDLESS).await?;
            for _ in 0..read {
                events.message().await?.ok_or("the feed ended")?;
            }
            let at = (feed.produced(), Instant::now());
            drop(events);
            at
        }
        Kind::Generated(name) => {
            let client = generated::connect(server.uri(), &preset(name)).await?;
            let filter = rust_stream_examples::pb::EventFilter {
                after: ENDLESS.into(),
            };
            let mut events = client.list_events(filter).await?;
            for _ in 0..read {
                events.message().await?.ok_or("the feed ended")?;
            }
            let at = (feed.produced(), Instant::now());
            drop(events);
            at
        }
        Kind::Raw => unreachable!("no raw feed"),
    };
    let end = feed.wait_done(STOP_TIMEOUT).await.ok_or(
        "the producer did not stop, or the server did not learn of the cancel, within 10 s",
    )?;
    let learned = end.produced_when_ended;
    Ok(Waste {
        after_server_learned: end.produced.saturating_sub(learned) as f64,
        after_client_cancel: end.produced.saturating_sub(produced_at_cancel) as f64,
        stop_us: end
            .stopped_at
            .saturating_duration_since(cancelled_at)
            .as_secs_f64()
            * 1e6,
    })
}

/// Runs the case.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let subjects = FEED_SUBJECTS;
    let running = start_all(&subjects).await?;
    let mut runs: Vec<Vec<Waste>> = vec![Vec::new(); subjects.len()];
    for rep in 0..plan.cancel_runs {
        for subject in order(rep, subjects.len()) {
            let waste = one(&subjects[subject].1, &running[subject], plan.cancel_after).await?;
            runs[subject].push(waste);
        }
    }
    let column = |subject: usize, f: fn(&Waste) -> f64| -> Vec<f64> {
        runs[subject].iter().map(f).collect()
    };
    let plain = subjects.len() - 1;
    let n = plan.cancel_runs;
    for (subject, (name, _)) in subjects.iter().enumerate().take(plain) {
        let name = *name;
        let judged = subject == 0;

        let row = Row::new(
            CASE,
            &format!("events produced after the server learned of the cancel ({n} runs)"),
            name,
            column(subject, |w| w.after_server_learned),
        )
        .against(
            "plain tonic",
            column(plain, |w| w.after_server_learned),
            Pairing::Distribution,
        );
        let row = if judged {
            let met = max(&row.values) <= 1.0;
            row.judged("worst <= 1 event", met)
        } else {
            row
        };
        report.push(row);

        let row = Row::new(
            CASE,
            &format!(
                "events produced after the client's cancel (read {}, {n} runs)",
                plan.cancel_after
            ),
            name,
            column(subject, |w| w.after_client_cancel),
        )
        .against(
            "plain tonic",
            column(plain, |w| w.after_client_cancel),
            Pairing::Distribution,
        );
        let row = if judged {
            let reference = &row.reference.as_ref().expect("set above").1;
            let met = median(&row.values) <= median(reference) / 10.0
                && max(&row.values) <= max(reference) / 10.0;
            row.judged("median and worst <= 0.1x plain's", met)
        } else {
            row
        };
        report.push(row);

        report.push(
            Row::new(
                CASE,
                &format!("time from the client's cancel until the producer stopped, µs ({n} runs)"),
                name,
                column(subject, |w| w.stop_us),
            )
            .against(
                "plain tonic",
                column(plain, |w| w.stop_us),
                Pairing::Distribution,
            ),
        );
    }
    // The reference's own spread, for the worst-run comparison.
    for (measure, f) in [
        (
            "events produced after the server learned of the cancel",
            (|w: &Waste| w.after_server_learned) as fn(&Waste) -> f64,
        ),
        ("events produced after the client's cancel", |w: &Waste| {
            w.after_client_cancel
        }),
        (
            "time from the client's cancel until the producer stopped, µs",
            |w: &Waste| w.stop_us,
        ),
    ] {
        report.push(Row::new(
            CASE,
            &format!("{measure} ({n} runs)"),
            subjects[plain].0,
            column(plain, f),
        ));
    }
    Ok(())
}

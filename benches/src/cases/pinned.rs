//! Case 8: one connection opens N endless server streams, grants the largest flow-control
//! windows HTTP/2 allows and never reads the socket: the memory it pins in the server, with
//! 64-byte, 64 KiB and 1 MiB events. The generated servers bound it by their connection's
//! send budget whatever the event size; plain tonic, which buffers 128 events a stream, is
//! measured with 64-byte events only (with 1 MiB ones it would pin 128 MiB a stream).

use super::Error;
use crate::report::{Pairing, Report, Row};
use crate::servers::{Kind, ServerProcess};
use crate::{Plan, sys};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CASE: &str = "8. Non-reading client";
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// The server's memory counts as settled once it has not grown by more than 1% for this
/// many samples in a row.
const SETTLED_SAMPLES: usize = 10;
/// Longest a run waits for the memory to settle.
const MAX_SAMPLES: usize = 300;
/// Event payload sizes, in bytes, with their names.
const EVENT_SIZES: [(usize, &str); 3] = [
    (crate::common::EVENT_PAYLOAD, "64 B"),
    (64 * 1024, "64 KiB"),
    (1024 * 1024, "1 MiB"),
];

/// Opens `streams` endless ListEvents calls of `payload`-byte events on one connection with
/// windows of 2^31 - 1 bytes, written as raw HTTP/2 frames; the returned socket is never
/// read.
async fn pin(addr: SocketAddr, streams: u32, payload: usize) -> Result<TcpStream, Error> {
    const MAX_WINDOW: u32 = (1 << 31) - 1;
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS: ENABLE_PUSH 0, INITIAL_WINDOW_SIZE max.
    let mut settings = Vec::new();
    for (id, value) in [(0x2u16, 0u32), (0x4, MAX_WINDOW)] {
        settings.extend_from_slice(&id.to_be_bytes());
        settings.extend_from_slice(&value.to_be_bytes());
    }
    frame(&mut out, 0x4, 0, 0, &settings);
    frame(&mut out, 0x8, 0, 0, &(MAX_WINDOW - 65_535).to_be_bytes());
    let mut headers = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/streaming.StreamingExamples/ListEvents"),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        // HPACK literal without indexing, new name, no Huffman coding (all under 127 bytes).
        headers.push(0);
        headers.push(name.len() as u8);
        headers.extend_from_slice(name.as_bytes());
        headers.push(value.len() as u8);
        headers.extend_from_slice(value.as_bytes());
    }
    let message = endless_feed(payload);
    for i in 0..streams {
        let stream_id = 2 * i + 1;
        frame(&mut out, 0x1, 0x4, stream_id, &headers); // HEADERS, END_HEADERS
        frame(&mut out, 0x0, 0x1, stream_id, &message); // DATA, END_STREAM
    }
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.write_all(&out).await?;
    Ok(tcp)
}

/// The gRPC message of an EventFilter asking for an endless feed of `payload`-byte events
/// (see [`event_payload`](crate::common::event_payload)).
fn endless_feed(payload: usize) -> Vec<u8> {
    let after = format!("/{payload}");
    // Field 1, length-delimited; the value is under 128 bytes, so its length is one byte.
    let mut filter = vec![0x0a, after.len() as u8];
    filter.extend_from_slice(after.as_bytes());
    let mut message = vec![0];
    message.extend_from_slice(&(filter.len() as u32).to_be_bytes());
    message.extend_from_slice(&filter);
    message
}

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream_id: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
}

/// The process's resident set once it stopped growing, in KiB.
async fn settled_rss(pid: u32) -> u64 {
    let rss = || sys::status_kib(pid, "VmRSS").unwrap_or(0);
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    let (mut high, mut flat) = (rss(), 0);
    for _ in 0..MAX_SAMPLES {
        ticker.tick().await;
        let now = rss();
        if now > high + high / 100 {
            flat = 0;
        } else {
            flat += 1;
            if flat >= SETTLED_SAMPLES {
                break;
            }
        }
        high = high.max(now);
    }
    high
}

/// Runs the case: for every event size and subject, a fresh server process measured idle
/// (the reference) and then with one connection holding `plan.pinned_streams` streams it
/// never reads.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    for (payload, size) in EVENT_SIZES {
        let subjects: Vec<_> = super::FEED_SUBJECTS
            .iter()
            .filter(|(_, kind)| {
                payload == crate::common::EVENT_PAYLOAD || !matches!(kind, Kind::Plain(_))
            })
            .collect();
        run_size(plan, report, &subjects, payload, size).await?;
    }
    Ok(())
}

/// The case for `payload`-byte events (`size` names it).
async fn run_size(
    plan: &Plan,
    report: &mut Report,
    subjects: &[&(&str, Kind)],
    payload: usize,
    size: &str,
) -> Result<(), Error> {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let streams = plan.pinned_streams;
    let mut idle = vec![Vec::new(); subjects.len()];
    let mut pinned = vec![Vec::new(); subjects.len()];
    for rep in 0..plan.reps {
        for subject in super::order(rep, subjects.len()) {
            let kind = &subjects[subject].1;
            let process = ServerProcess::spawn(std::slice::from_ref(kind), ip, None)?;
            let before = settled_rss(process.pid()).await;
            let connection = pin(process.addr(kind), streams, payload).await?;
            let after = settled_rss(process.pid()).await;
            drop(connection);
            idle[subject].push(before as f64 / 1024.0);
            pinned[subject].push(after as f64 / 1024.0);
        }
    }
    for (subject, (name, _)) in subjects.iter().enumerate() {
        report.push(
            Row::new(
                CASE,
                &format!("server RSS, MiB, {streams} streams of {size} events never read"),
                name,
                pinned[subject].clone(),
            )
            .against(
                "the same server idle",
                idle[subject].clone(),
                Pairing::PerRun,
            ),
        );
        let growth = |scale: f64| -> Vec<f64> {
            pinned[subject]
                .iter()
                .zip(&idle[subject])
                .map(|(p, i)| (p - i) * scale)
                .collect()
        };
        report.push(Row::new(
            CASE,
            &format!("memory pinned by the connection, MiB, {size} events"),
            name,
            growth(1.0),
        ));
        report.push(Row::new(
            CASE,
            &format!("memory pinned per stream, KiB, {size} events"),
            name,
            growth(1024.0 / f64::from(streams)),
        ));
    }
    Ok(())
}

//! rust-stream's benchmark harness: the generated stack against plain tonic, raw TCP and
//! the link's limit, every figure paired with its reference in the same run.
//!
//! ```text
//! cargo run --release -p rust-stream-benches -- --out benches/RESULTS.md   # full run
//! cargo run --release -p rust-stream-benches -- --smoke                    # seconds
//! cargo run --release -p rust-stream-benches -- --only cancel --only events
//! cargo run --release -p rust-stream-benches -- profile-upload --subject plain --mib 64
//! cargo run --release -p rust-stream-benches -- prepare    # case 9's dependencies, built once
//! cargo run --release -p rust-stream-benches -- codegen-set --out set.binpb  # case 7's input
//! ```
//!
//! `serve` and `codegen-worker` are internal subcommands: the harness runs its own binary as
//! a child process for servers it measures separately (memory, network namespace) and for
//! code generators (wall time and peak memory of a fresh process).

mod cases;
mod common;
mod generated;
mod netns;
mod plain;
mod profile;
mod proxy;
mod raw;
mod report;
mod servers;
mod sys;

use clap::{Parser, Subcommand, ValueEnum};
use report::Report;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Benchmarks: rust-stream's generated stack vs plain tonic vs raw TCP")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Small sizes and one repetition: checks that every case still runs (the test suite
    /// runs this).
    #[arg(long)]
    smoke: bool,
    /// Run only these cases (repeatable). Default: all.
    #[arg(long, value_enum)]
    only: Vec<Case>,
    /// Write the results (markdown) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Repetitions of every figure (default 5; 1 in smoke mode).
    #[arg(long)]
    reps: Option<usize>,
    /// Where the long link runs: a network namespace joined by a veth pair (needs root and
    /// iproute2), loopback, or the namespace when it can be created.
    #[arg(long, value_enum, default_value_t = LinkMode::Auto)]
    link: LinkMode,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Internal: serve the given server kinds until standard input closes.
    Serve {
        /// Address to bind.
        #[arg(long)]
        bind: IpAddr,
        /// Server kinds (`plain`, `plain-adaptive`, `gen-<preset>`, `raw`).
        #[arg(long = "kind")]
        kinds: Vec<String>,
    },
    /// One upload of `mib` MiB through one subject, client and server in this process on
    /// one thread, for an instruction-counting profiler (see `benches/PROFILE.md`).
    ProfileUpload {
        /// `gen-<preset>`, `plain`, `plain-adaptive` or `raw`.
        #[arg(long, default_value = "gen-balanced")]
        subject: String,
        /// MiB to upload.
        #[arg(long, default_value_t = 64)]
        mib: u64,
    },
    /// One chat of `rounds` round trips through one subject, client and server in this
    /// process on one thread, for an instruction-counting profiler (see `benches/PROFILE.md`).
    ProfilePingpong {
        /// `gen-<preset>`, `plain` or `plain-adaptive`.
        #[arg(long, default_value = "gen-balanced")]
        subject: String,
        /// Round trips to make.
        #[arg(long, default_value_t = 10_000)]
        rounds: usize,
    },
    /// One server stream of `events` events through one subject, client and server in this
    /// process on one thread, for an instruction-counting profiler (see `benches/PROFILE.md`).
    ProfileEvents {
        /// `gen-<preset>`, `plain` or `plain-adaptive`.
        #[arg(long, default_value = "gen-balanced")]
        subject: String,
        /// Events to stream.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
    },
    /// Compiles what the cases build on, outside any measurement and any time limit: the
    /// dependencies of case 9's crates (of the smoke mode's crates with `--smoke`). The
    /// smoke test runs `--smoke prepare` before its timed run.
    Prepare,
    /// Writes case 7's synthetic FileDescriptorSet, for profiling a generator on it with
    /// `codegen-worker` (see `benches/PROFILE.md`).
    CodegenSet {
        /// Services in the set.
        #[arg(long, default_value_t = 1_500)]
        services: usize,
        /// Methods per service.
        #[arg(long, default_value_t = 8)]
        methods: usize,
        /// Where to write the encoded set.
        #[arg(long)]
        out: PathBuf,
    },
    /// Internal: run one code generator over a FileDescriptorSet and print its wall time
    /// and peak memory.
    CodegenWorker {
        /// `tonic` or `rust-stream`.
        #[arg(long)]
        tool: String,
        /// The encoded FileDescriptorSet.
        #[arg(long)]
        fds: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The benchmark cases, in the issue's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Case {
    /// 1. Upload on loopback: generated vs plain tonic vs raw TCP.
    Upload,
    /// 2. Upload through a delay proxy: tonic default / adaptive vs the bulk preset vs raw.
    Link,
    /// 3. Server streaming of small events: events/s.
    Events,
    /// 4. Bidi ping-pong latency.
    Pingpong,
    /// 5. Cancellation waste.
    Cancel,
    /// 6. Slow consumer: server memory.
    Slow,
    /// 7. Code generation over a large descriptor set.
    Codegen,
    /// 8. A client that never reads: server memory per connection and stream.
    Pinned,
    /// 9. `#[derive(StreamService)]` against `build.rs`: clean build and `cargo check`.
    Derive,
    /// 10. Metrics off vs on: events/s of a server stream.
    Metrics,
    /// 11. A client over three replicas against one connection: throughput and spread.
    Fleet,
}

/// Where the long link runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LinkMode {
    /// The namespace when it can be created, loopback otherwise.
    Auto,
    /// A network namespace (fails without root / iproute2).
    Netns,
    /// Loopback.
    Loopback,
}

/// Sizes of one run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Smoke mode.
    pub smoke: bool,
    /// Repetitions of every figure.
    pub reps: usize,
    /// Case 1: bytes per upload.
    pub upload_bytes: u64,
    /// Case 2: bytes per upload.
    pub link_bytes: u64,
    /// Case 2: one-way delays, in milliseconds.
    pub delays_ms: Vec<u64>,
    /// Case 2: where the link runs.
    pub link: LinkMode,
    /// Case 3: events per stream.
    pub events: u64,
    /// Case 4: measured rounds per run.
    pub rounds: usize,
    /// Case 5: runs (the worst of them is judged).
    pub cancel_runs: usize,
    /// Case 5: items the client reads before it cancels.
    pub cancel_after: usize,
    /// Case 6: how long the slow client reads, in seconds.
    pub slow_secs: u64,
    /// Case 7: services and methods per service of the synthetic descriptor set.
    pub codegen_services: usize,
    /// Case 7: methods per service.
    pub codegen_methods: usize,
    /// Case 8: streams the non-reading client opens on its one connection.
    pub pinned_streams: u32,
}

impl Plan {
    fn new(cli: &Cli) -> Plan {
        let full = Plan {
            smoke: false,
            reps: 5,
            upload_bytes: 256 << 20,
            link_bytes: 256 << 20,
            delays_ms: vec![10, 25],
            link: cli.link,
            events: 1_000_000,
            rounds: 10_000,
            cancel_runs: 20,
            cancel_after: 100,
            slow_secs: 30,
            codegen_services: 1_500,
            codegen_methods: 8,
            pinned_streams: 1_000,
        };
        let mut plan = if cli.smoke {
            Plan {
                smoke: true,
                reps: 1,
                upload_bytes: 4 << 20,
                link_bytes: 2 << 20,
                events: 5_000,
                rounds: 200,
                cancel_runs: 3,
                slow_secs: 2,
                codegen_services: 10,
                pinned_streams: 50,
                ..full
            }
        } else {
            full
        };
        if let Some(reps) = cli.reps {
            plan.reps = reps.max(1);
        }
        plan
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve { bind, kinds }) => serve(bind, &kinds),
        Some(Command::CodegenWorker { tool, fds, out }) => {
            match cases::codegen::worker(&tool, &fds, &out) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("codegen-worker: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::CodegenSet {
            services,
            methods,
            out,
        }) => {
            let set = cases::codegen::synthetic(services, methods);
            match std::fs::write(&out, prost::Message::encode_to_vec(&set)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("codegen-set: {}: {err}", out.display());
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Prepare) => match cases::derive::prepare(cli.smoke) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("prepare: {err}");
                ExitCode::FAILURE
            }
        },
        Some(Command::ProfileUpload { subject, mib }) => {
            profiled("profile-upload", profile::upload(&subject, mib << 20))
        }
        Some(Command::ProfilePingpong { subject, rounds }) => {
            profiled("profile-pingpong", profile::pingpong(&subject, rounds))
        }
        Some(Command::ProfileEvents { subject, events }) => {
            profiled("profile-events", profile::events(&subject, events))
        }
        None => bench(&cli),
    }
}

fn serve(bind: IpAddr, kinds: &[String]) -> ExitCode {
    let kinds: Option<Vec<servers::Kind>> = kinds.iter().map(|k| servers::Kind::parse(k)).collect();
    let Some(kinds) = kinds else {
        eprintln!("serve: unknown server kind");
        return ExitCode::FAILURE;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(servers::serve_until_stdin_closes(&kinds, bind)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("serve: {err}");
            ExitCode::FAILURE
        }
    }
}

fn bench(cli: &Cli) -> ExitCode {
    let plan = Plan::new(cli);
    if cfg!(debug_assertions) && !plan.smoke {
        eprintln!("warning: debug build; figures are meaningless (use --release)");
    }
    let cases: Vec<Case> = if cli.only.is_empty() {
        Case::value_variants().to_vec()
    } else {
        cli.only.clone()
    };
    let started = Instant::now();
    let load_before = sys::loadavg();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut report = Report::default();
    let mut failed = Vec::new();
    for case in &cases {
        eprintln!("== {case:?}");
        let case_start = Instant::now();
        let outcome = runtime.block_on(cases::run(*case, &plan, &mut report));
        if let Err(err) = outcome {
            eprintln!("case {case:?} failed: {err}");
            report.note(format!("case {case:?} failed: {err}"));
            failed.push(*case);
        }
        eprintln!("   ({:.1} s)", case_start.elapsed().as_secs_f64());
    }
    runtime.shutdown_background();
    let markdown = results_markdown(&plan, &cases, &report, started, &load_before);
    match &cli.out {
        Some(path) => {
            if let Err(err) = std::fs::write(path, &markdown) {
                eprintln!("cannot write {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", path.display());
        }
        None => println!("{markdown}"),
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn results_markdown(
    plan: &Plan,
    cases: &[Case],
    report: &Report,
    started: Instant,
    load_before: &str,
) -> String {
    let mode = if plan.smoke {
        "smoke (small sizes, one repetition: checks the harness, the figures mean nothing)"
    } else {
        "full"
    };
    let command = if plan.smoke {
        "cargo run --release -p rust-stream-benches -- --smoke"
    } else {
        "cargo run --release -p rust-stream-benches -- --out benches/RESULTS.md"
    };
    format!(
        "# rust-stream benchmark results\n\n\
         Produced by `{command}` ({mode}; cases: {cases}; {reps} repetition(s) per figure; \
         {secs:.0} s).\n\n\
         Every figure is paired with its reference measured in the same run, subject and \
         reference back to back (their order alternating between repetitions), and \
         reported as a ratio. Per-run ratios are given as median (min - max); for counts, \
         whose runs are independent draws, the ratio of the medians and of the worst runs.\n\n\
         ## Machine\n\n{machine}\n- Load average before / after: {load_before} / {load_after}\n\n\
         ## Results\n\n{table}\n{method}",
        cases = cases
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", "),
        reps = plan.reps,
        secs = started.elapsed().as_secs_f64(),
        machine = sys::describe_machine(),
        load_after = sys::loadavg(),
        table = report.markdown(),
        method = cases::METHOD,
    )
}

/// Prints a profiling run's line, or its error under the subcommand's name.
fn profiled(command: &str, outcome: Result<String, cases::Error>) -> ExitCode {
    match outcome {
        Ok(line) => {
            eprintln!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{command}: {err}");
            ExitCode::FAILURE
        }
    }
}

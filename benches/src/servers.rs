//! Starting the servers under test, in this process or in a child process (which may run
//! inside a network namespace, and whose memory can be measured on its own).

use crate::common::FeedStats;
use crate::netns::Namespace;
use crate::plain::{self, PlainConfig, PlainServer};
use crate::{generated, raw};
use rust_stream::Tuning;
use std::io::{self, BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

/// A server under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The hand-written plain tonic service.
    Plain(PlainConfig),
    /// The generated stack with a tuning preset (by name).
    Generated(&'static str),
    /// The raw TCP sink.
    Raw,
}

impl Kind {
    /// The name used on the command line and in reports.
    pub fn name(&self) -> String {
        match self {
            Kind::Plain(PlainConfig::Default) => "plain".into(),
            Kind::Plain(PlainConfig::Adaptive) => "plain-adaptive".into(),
            Kind::Generated(preset) => format!("gen-{preset}"),
            Kind::Raw => "raw".into(),
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "plain" => Some(Kind::Plain(PlainConfig::Default)),
            "plain-adaptive" => Some(Kind::Plain(PlainConfig::Adaptive)),
            "raw" => Some(Kind::Raw),
            _ => {
                let preset = name.strip_prefix("gen-")?;
                let (name, _) = Tuning::PRESETS.iter().find(|(n, _)| *n == preset)?;
                Some(Kind::Generated(name))
            }
        }
    }
}

/// The tuning preset called `name`.
pub fn preset(name: &str) -> Tuning {
    Tuning::preset(name).expect("a preset name from Tuning::PRESETS")
}

/// A server running in this process; stopped when dropped.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its feed counters (unused by the raw sink).
    pub feed: Arc<FeedStats>,
    task: JoinHandle<()>,
}

impl Running {
    /// `http://addr`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a `kind` server on `ip`, on a free port.
pub async fn start(kind: &Kind, ip: IpAddr) -> io::Result<Running> {
    let bind = SocketAddr::new(ip, 0);
    let feed = Arc::new(FeedStats::default());
    let (addr, task) = match kind {
        Kind::Raw => {
            let listener = tokio::net::TcpListener::bind(bind).await?;
            (listener.local_addr()?, tokio::spawn(raw::serve(listener)))
        }
        Kind::Plain(config) => {
            // tonic's `serve(addr)` binds exactly so (TCP_NODELAY is tonic's default).
            let incoming = TcpIncoming::bind(bind)?.with_nodelay(Some(true));
            let addr = incoming.local_addr()?;
            let router = plain::server_builder(*config).add_service(plain::service(PlainServer {
                feed: Arc::clone(&feed),
            }));
            let task = tokio::spawn(async move {
                let _ = router.serve_with_incoming(incoming).await;
            });
            (addr, task)
        }
        Kind::Generated(name) => return start_generated(name, bind, None).await,
    };
    Ok(Running { addr, feed, task })
}

/// Starts the generated server with the preset `name` on `bind`, its calls recorded in
/// `metrics` when given.
pub async fn start_generated(
    name: &str,
    bind: SocketAddr,
    metrics: Option<&rust_stream::Metrics>,
) -> io::Result<Running> {
    let feed = Arc::new(FeedStats::default());
    let tuning = preset(name);
    let incoming = tuning.incoming(tokio::net::TcpListener::bind(bind).await?);
    let addr = incoming.local_addr()?;
    let mut builder = if tuning == rust_stream_examples::adapter::TUNING {
        rust_stream_examples::adapter::server_builder()
    } else {
        generated::server_builder(&tuning)
    };
    if let Some(metrics) = metrics {
        builder = builder.with_metrics(metrics);
    }
    let router = builder.add_service(generated::service(generated::BenchHandler {
        feed: Arc::clone(&feed),
    }));
    let task = tokio::spawn(async move {
        let _ = router.serve_with_incoming(incoming).await;
    });
    Ok(Running { addr, feed, task })
}

/// The `serve` subcommand: starts `kinds` on `ip`, prints `ready name=port ...`, and serves
/// until standard input closes (the parent exits or drops the pipe).
pub async fn serve_until_stdin_closes(kinds: &[Kind], ip: IpAddr) -> io::Result<()> {
    let mut running = Vec::new();
    let mut line = String::from("ready");
    for kind in kinds {
        let server = start(kind, ip).await?;
        line.push_str(&format!(" {}={}", kind.name(), server.addr.port()));
        running.push(server);
    }
    println!("{line}");
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = io::Read::read_to_end(&mut io::stdin(), &mut sink);
    })
    .await?;
    drop(running);
    Ok(())
}

/// Servers running in a child process of this benchmark binary.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    ip: IpAddr,
    ports: Vec<(String, u16)>,
}

impl ServerProcess {
    /// Starts `kinds` in a child process listening on `ip`, inside `netns` if given.
    pub fn spawn(kinds: &[Kind], ip: IpAddr, netns: Option<&Namespace>) -> io::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut command = match netns {
            Some(ns) => ns.command(&exe),
            None => Command::new(&exe),
        };
        command.arg("serve").arg("--bind").arg(ip.to_string());
        for kind in kinds {
            command.arg("--kind").arg(kind.name());
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let ports: Vec<(String, u16)> = line
            .trim()
            .strip_prefix("ready")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pair| {
                let (name, port) = pair.split_once('=')?;
                Some((name.to_owned(), port.parse().ok()?))
            })
            .collect();
        if ports.len() != kinds.len() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "the server process did not start: {line:?}"
            )));
        }
        Ok(ServerProcess { child, ip, ports })
    }

    /// The address of the `kind` server.
    pub fn addr(&self, kind: &Kind) -> SocketAddr {
        let name = kind.name();
        let port = self
            .ports
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .expect("a kind the process was started with");
        SocketAddr::new(self.ip, port)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

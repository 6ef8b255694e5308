//! The fleet client end to end: one generated client over several replicas of a service,
//! while replicas come and go.
//!
//! - Rolling replacement under load: three example `streaming-server` processes (run the way
//!   a user runs them) on 127.0.0.2, .3 and .4 behind a [`ManualResolver`]; unary calls with
//!   the proto's retry policy and without it, short server streams and open chats; then the
//!   second replica is sent SIGTERM and a fourth one on 127.0.0.5 replaces it in the
//!   resolver. Idempotent calls never fail; other calls fail only if the dying replica really
//!   took them and did not answer; its open streams end `UNAVAILABLE`; the new replica takes
//!   its share of calls within a re-resolution and a connect.
//! - Retry budget and deadlines: in-process replicas on 127.0.0.6, .7 and .8 that answer
//!   every call `UNAVAILABLE`; the channel's budget bounds the retries of many failing calls,
//!   and no attempt starts after its call's deadline.
//!
//! Every wait is bounded; the test polls conditions, it never sleeps to let something happen.

#![cfg(unix)]

use rust_stream::{CallContext, Fleet, FleetChannel, ManualResolver, RetryBudget, Status, Tuning};
use rust_stream_examples::adapter::{
    StreamingExamplesHandler, StreamingExamplesService, StreamingExamplesStreamClient,
};
use rust_stream_examples::pb;
use rust_stream_tests::{PATIENCE, example_bin, serve_router_on, wait_for, within};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::Code;

/// The name every call carries; the resolver, not DNS, says where it is.
const AUTHORITY: &str = "streaming.test:50051";
/// How often the fleet asks the resolver again.
const RE_RESOLVE_EVERY: Duration = Duration::from_millis(200);
/// Each load task starts a call this often: steady load that leaves the shared cores to the
/// servers and the fleet.
const PACE: Duration = Duration::from_millis(10);
/// Open chats, opened one after another so round robin gives each replica two.
const CHATS: usize = 6;
/// Calls each replica answers before the dying one is stopped: load is flowing everywhere.
const WARM_CALLS: usize = 100;
/// Fewest new calls a window needs before the new replica's share of it counts.
const SHARE_WINDOW: usize = 24;
/// Bound on the new replica joining the rotation: a re-resolution (200 ms) and a connect
/// take well under a second; this only bounds a broken fleet on a loaded machine.
const REJOIN: Duration = Duration::from_secs(15);
/// Every replica's connections get a GOAWAY this often (seconds, jittered by 10%), so the
/// load also rides over connections recycled by age.
const MAX_CONNECTION_AGE: &str = "2";
/// How long the load runs in all: over two connection ages.
const LOAD_FOR: Duration = Duration::from_secs(5);
/// Calls the new replica answers before the load stops.
const LATE_CALLS: usize = 200;
/// The unary loads' deadline: a hung call fails with `DEADLINE_EXCEEDED` instead of hanging.
const LOAD_DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_replaced_under_load_fails_no_idempotent_call() {
    let mut replicas = vec![
        Replica::start("replica 1", [127, 0, 0, 2]).await,
        Replica::start("replica 2", [127, 0, 0, 3]).await,
        Replica::start("replica 3", [127, 0, 0, 4]).await,
    ];
    let resolver = ManualResolver::new(replicas.iter().map(|r| r.addr).collect());
    let fleet = within(
        "the fleet to connect",
        Fleet::with_resolver(AUTHORITY, resolver.clone())
            .re_resolve_every(RE_RESOLVE_EVERY)
            .connect(),
    )
    .await
    .expect("connecting the fleet");
    all_connected(&fleet, &replicas).await;

    let client = StreamingExamplesStreamClient::from_channel(fleet.clone());
    let chats = Chats::open(&client).await;
    let load = Load::start(&client.clone().with_timeout(LOAD_DEADLINE));
    eventually("every replica to answer calls", PATIENCE, || {
        replicas
            .iter()
            .all(|r| r.ends("GetUser").len() >= WARM_CALLS)
    })
    .await;

    // The rolling replacement: the second replica goes, a fourth one comes.
    let dying = replicas.remove(1);
    dying.terminate();
    replicas.push(Replica::start("replica 4", [127, 0, 0, 5]).await);
    resolver.set(replicas.iter().map(|r| r.addr).collect());
    let updated = Instant::now();
    takes_its_share(&replicas, 2).await;
    eprintln!(
        "the new replica took its share {:?} after the resolver update",
        updated.elapsed()
    );
    let dying = dying.exited().await;
    let held = chats.check_ends_on(&dying).await;
    // Long enough for every replica's connections to be recycled by age under the load.
    eventually("the load to run its course", PATIENCE, || {
        load.started.elapsed() >= LOAD_FOR && replicas[2].ends("GetUser").len() >= LATE_CALLS
    })
    .await;
    let tally = load.stop().await;
    chats.close(held).await;
    tally.check(&dying);
}

/// Waits until the fleet has connected to every replica, so round robin spreads calls over
/// all of them.
async fn all_connected(fleet: &FleetChannel, replicas: &[Replica]) {
    eventually("a connection to every replica", PATIENCE, || {
        let connected = fleet.replicas();
        replicas.iter().all(|r| connected.contains(&(r.addr, true)))
    })
    .await;
}

/// Waits until the replica at `new` answers at least a quarter of the `GetUser` calls of a
/// window of [`SHARE_WINDOW`] or more calls.
async fn takes_its_share(replicas: &[Replica], new: usize) {
    let counts = || -> Vec<usize> { replicas.iter().map(|r| r.ends("GetUser").len()).collect() };
    let mut base = counts();
    eventually(
        "the new replica to take a quarter of the calls",
        REJOIN,
        || {
            let now = counts();
            let window: Vec<usize> = now.iter().zip(&base).map(|(n, b)| n - b).collect();
            let total: usize = window.iter().sum();
            if total < SHARE_WINDOW {
                return false;
            }
            base = now;
            let taken = window[new] * 4 >= total;
            if taken {
                eprintln!("calls per replica in the first window with its share: {window:?}");
            }
            taken
        },
    )
    .await;
}

/// Polls `done` every 20 ms until it holds; fails the test after `bound`.
async fn eventually(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {bound:?} waiting for {what}"
        );
        poll.tick().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

/// What one kind of call ended with.
#[derive(Default)]
struct Outcomes {
    ok: AtomicUsize,
    failed: Mutex<Vec<Status>>,
}

impl Outcomes {
    fn record(&self, result: Result<(), Status>) {
        match result {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(status) => self.failed.lock().unwrap().push(status),
        }
    }

    fn failed(&self) -> Vec<Status> {
        self.failed.lock().unwrap().clone()
    }
}

/// The outcomes of the load's calls, by kind.
#[derive(Default)]
struct Tally {
    /// `GetUser` with its proto's retry policy.
    idempotent: Outcomes,
    /// `GetUser` through `without_retries()`: only transparent retries.
    unretried: Outcomes,
    /// `ListEvents` reading three events, then cancelling.
    events: Outcomes,
}

impl Tally {
    /// Idempotent calls never fail; others fail at most once per call the dying replica
    /// took and did not answer; a failed stream is `UNAVAILABLE`.
    fn check(&self, dying: &Replica) {
        let unanswered = dying
            .ends("GetUser")
            .into_iter()
            .filter(|reason| reason != "Finished")
            .count();
        let idempotent = self.idempotent.failed();
        let unretried = self.unretried.failed();
        let events = self.events.failed();
        eprintln!(
            "idempotent calls: {} ok, {} failed; unretried: {} ok, {} failed, {unanswered} \
             GetUser calls unanswered by the dying replica; ListEvents: {} ok, {} failed",
            self.idempotent.ok.load(Ordering::Relaxed),
            idempotent.len(),
            self.unretried.ok.load(Ordering::Relaxed),
            unretried.len(),
            self.events.ok.load(Ordering::Relaxed),
            events.len(),
        );
        assert!(
            idempotent.is_empty(),
            "idempotent calls failed: {idempotent:?}"
        );
        assert!(
            unretried.len() <= unanswered,
            "{} unretried calls failed, but the dying replica left only {unanswered} \
             unanswered: {unretried:?}",
            unretried.len()
        );
        assert!(
            events.iter().all(|s| s.code() == Code::Unavailable),
            "server streams failed with other codes than UNAVAILABLE: {events:?}"
        );
    }
}

/// The load tasks; they run until [`Load::stop`].
struct Load {
    started: Instant,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    tally: Arc<Tally>,
}

impl Load {
    /// Three tasks of idempotent `GetUser`, two of unretried `GetUser`, one of `ListEvents`.
    fn start(client: &StreamingExamplesStreamClient) -> Load {
        let (stop, _) = watch::channel(false);
        let tally = Arc::new(Tally::default());
        let unretried = client.clone().without_retries();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            tasks.push(spawn_loop(
                &stop,
                &tally,
                |t| &t.idempotent,
                client,
                get_user,
            ));
        }
        for _ in 0..2 {
            tasks.push(spawn_loop(
                &stop,
                &tally,
                |t| &t.unretried,
                &unretried,
                get_user,
            ));
        }
        tasks.push(spawn_loop(
            &stop,
            &tally,
            |t| &t.events,
            client,
            read_events,
        ));
        Load {
            started: Instant::now(),
            stop,
            tasks,
            tally,
        }
    }

    async fn stop(self) -> Arc<Tally> {
        self.stop.send_replace(true);
        for task in self.tasks {
            within("a load task to end", task)
                .await
                .expect("a load task panicked");
        }
        self.tally
    }
}

/// Spawns a task making `call` every [`PACE`] until `stop`, recording each outcome in the
/// [`Outcomes`] `kind` picks.
fn spawn_loop<F, Fut>(
    stop: &watch::Sender<bool>,
    tally: &Arc<Tally>,
    kind: fn(&Tally) -> &Outcomes,
    client: &StreamingExamplesStreamClient,
    call: F,
) -> JoinHandle<()>
where
    F: Fn(StreamingExamplesStreamClient) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send,
{
    let (stop, tally, client) = (stop.subscribe(), Arc::clone(tally), client.clone());
    tokio::spawn(async move {
        let mut pace = tokio::time::interval(PACE);
        while !*stop.borrow() {
            pace.tick().await;
            kind(&tally).record(call(client.clone()).await);
        }
    })
}

async fn get_user(client: StreamingExamplesStreamClient) -> Result<(), Status> {
    let user = client.get_user(pb::UserRequest { id: "42".into() }).await?;
    assert_eq!(user.name, "Ada Lovelace");
    Ok(())
}

/// A short server stream: three events, then a cancel.
async fn read_events(client: StreamingExamplesStreamClient) -> Result<(), Status> {
    let mut events = client.list_events(pb::EventFilter::default()).await?;
    for _ in 0..3 {
        events
            .message()
            .await?
            .ok_or_else(|| Status::internal("the feed ended early"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Open chats
// ---------------------------------------------------------------------------------------------

/// Chats held open through the replacement; how each one that ended, ended (its code, or
/// `None` for an end without a status).
struct Chats {
    stop: watch::Sender<bool>,
    ends: Arc<watch::Sender<Vec<Option<Code>>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Chats {
    /// Opens [`CHATS`] chats one after another, each answered once, then watches them.
    async fn open(client: &StreamingExamplesStreamClient) -> Chats {
        let (stop, _) = watch::channel(false);
        let ends = Arc::new(watch::Sender::new(Vec::new()));
        let mut tasks = Vec::new();
        for n in 0..CHATS {
            let (requests, mut replies) = client.chat();
            let text = format!("hello {n}");
            requests
                .send(pb::Message {
                    text: text.clone(),
                    user: "fleet".into(),
                })
                .await
                .expect("sending a chat message");
            let reply = within("a chat reply", replies.message()).await;
            let reply = reply.expect("a chat reply").expect("a chat reply");
            assert_eq!(reply.text, format!("Delivered: {text}"));
            let (mut stop, ends) = (stop.subscribe(), Arc::clone(&ends));
            tasks.push(tokio::spawn(async move {
                // Holding the sender keeps the chat open: the server ends it, or the test.
                let _requests = requests;
                tokio::select! {
                    end = replies.message() => {
                        let code = end.err().map(|status| status.code());
                        ends.send_modify(|ends| ends.push(code));
                    }
                    _ = stop.wait_for(|stop| *stop) => {}
                }
            }));
        }
        Chats { stop, ends, tasks }
    }

    /// The chats the dying replica held (as many as its log has `Chat` ends, at least one)
    /// have ended, each `UNAVAILABLE`, and no other chat ended; returns how many it held.
    async fn check_ends_on(&self, dying: &Replica) -> usize {
        let held = dying.ends("Chat").len();
        assert!(held >= 1, "round robin gave the dying replica no chat");
        wait_for("the dying replica's chats to end", &self.ends, |ends| {
            ends.len() >= held
        })
        .await;
        let ends = self.ends.borrow().clone();
        eprintln!("chats: {held} on the dying replica, ended on the client: {ends:?}");
        assert!(
            ends.iter().all(|end| *end == Some(Code::Unavailable)),
            "open chats ended otherwise than UNAVAILABLE: {ends:?}"
        );
        assert_eq!(
            ends.len(),
            held,
            "chats on the other replicas ended: {ends:?}"
        );
        held
    }

    /// Closes the chats, after checking that only the `held` ones on the dying replica
    /// ended: connections recycled by age let their open streams go on.
    async fn close(self, held: usize) {
        let ends = self.ends.borrow().clone();
        assert_eq!(
            ends.len(),
            held,
            "chats on the surviving replicas ended: {ends:?}"
        );
        self.stop.send_replace(true);
        for task in self.tasks {
            within("a chat to close", task)
                .await
                .expect("a chat task panicked");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replicas: the example server as a process
// ---------------------------------------------------------------------------------------------

/// What a replica printed, and whether its stdout closed (it is exiting).
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    closed: bool,
}

/// The example `streaming-server` on a loopback address of its own; killed when dropped.
struct Replica {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
    log: Arc<watch::Sender<Log>>,
    _store: TempDir,
}

impl Replica {
    /// Starts a replica on a free port of `ip` and waits until it listens. Its shutdown
    /// grace is a second: unary calls take milliseconds. Its connections live about
    /// [`MAX_CONNECTION_AGE`], and their open streams finish on them.
    async fn start(name: &'static str, ip: [u8; 4]) -> Replica {
        let store = TempDir::new().expect("a temp dir");
        let mut command = Command::new(example_bin("streaming-server"));
        command
            .arg("--addr")
            .arg(format!("{}:0", Ipv4Addr::from(ip)))
            .arg("--store-dir")
            .arg(store.path())
            .args(["--shutdown-grace", "1"])
            .args(["--max-connection-age", MAX_CONNECTION_AGE])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let log = Arc::new(watch::Sender::new(Log::default()));
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.send_modify(|log| log.lines.push(line));
            }
            sink.send_modify(|log| log.closed = true);
        });
        wait_for(&format!("{name} to listen"), &log, |log| {
            log.closed || log.lines.iter().any(|l| l.starts_with("listening on "))
        })
        .await;
        let addr = log
            .borrow()
            .lines
            .iter()
            .find_map(|l| l.strip_prefix("listening on "))
            .unwrap_or_else(|| panic!("{name} exited before listening"))
            .parse()
            .expect("the address it listens on");
        Replica {
            name,
            addr,
            child,
            log,
            _store: store,
        }
    }

    /// How each call of `method` ended so far (`EndReason` as logged: `Finished`, ...).
    fn ends(&self, method: &str) -> Vec<String> {
        let prefix = format!("call /streaming.StreamingExamples/{method} ended: ");
        self.log
            .borrow()
            .lines
            .iter()
            .filter_map(|line| line.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect()
    }

    /// Sends SIGTERM: the server refuses new calls, ends open streams and exits after its
    /// grace.
    fn terminate(&self) {
        use rustix::process::{Pid, Signal, kill_process};
        kill_process(Pid::from_child(&self.child), Signal::TERM)
            .unwrap_or_else(|e| panic!("SIGTERM to {}: {e}", self.name));
    }

    /// Waits until the replica exited, successfully; its log is then complete.
    async fn exited(mut self) -> Replica {
        let what = format!("{} to exit", self.name);
        wait_for(&what, &self.log, |log| log.closed).await;
        let status = self.child.wait().expect("the replica's exit status");
        assert!(status.success(), "{} exited with {status}", self.name);
        self
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Retry budget and deadlines
// ---------------------------------------------------------------------------------------------

/// A replica that answers every `GetUser` `UNAVAILABLE` after `delay`, recording when each
/// attempt arrived and for which call (the request's id).
struct AlwaysUnavailable {
    delay: Duration,
    arrivals: Mutex<Vec<(String, Instant)>>,
}

impl StreamingExamplesHandler for AlwaysUnavailable {
    async fn get_user(
        &self,
        _ctx: CallContext,
        request: pb::UserRequest,
    ) -> Result<pb::UserResponse, Status> {
        self.arrivals
            .lock()
            .unwrap()
            .push((request.id, Instant::now()));
        // A replica that takes this long to find it cannot serve (an overloaded one).
        tokio::time::sleep(self.delay).await;
        Err(Status::unavailable("overloaded"))
    }
}

/// Three unavailable replicas (127.0.0.6, .7, .8) sharing `handler`, and a client over them
/// with `budget` whose calls have a deadline of `deadline`.
async fn unavailable_fleet(
    handler: &Arc<AlwaysUnavailable>,
    budget: RetryBudget,
    deadline: Duration,
) -> (
    StreamingExamplesStreamClient,
    Vec<rust_stream_tests::TestServer>,
) {
    let mut servers = Vec::new();
    for last in 6..=8 {
        let service = StreamingExamplesService::from_arc(Arc::clone(handler)).into_server();
        let router = Tuning::BALANCED.server().add_service(service);
        servers.push(serve_router_on([127, 0, 0, last], router).await);
    }
    let resolver = ManualResolver::new(servers.iter().map(|s| s.addr).collect());
    let fleet = within(
        "the fleet to connect",
        Fleet::with_resolver(AUTHORITY, resolver)
            .retry_budget(budget)
            .connect(),
    )
    .await
    .expect("connecting the fleet");
    let client = StreamingExamplesStreamClient::from_channel(fleet).with_timeout(deadline);
    (client, servers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_bounds_the_retries_when_every_replica_is_unavailable() {
    const CALLS: usize = 20;
    let handler = Arc::new(AlwaysUnavailable {
        delay: Duration::ZERO,
        arrivals: Mutex::default(),
    });
    let budget = RetryBudget::DEFAULT;
    let (client, _servers) = unavailable_fleet(&handler, budget, Duration::from_secs(2)).await;
    for n in 0..CALLS {
        let status = within(
            "a failing call",
            client.get_user(pb::UserRequest { id: n.to_string() }),
        )
        .await
        .expect_err("every replica is unavailable");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    // A6: retries stop while the bucket holds half its tokens or less, and every failed
    // attempt takes a token, so failures from a full bucket leave at most half of it.
    let retries_allowed = (budget.max_tokens / 2.0).ceil() as usize;
    let attempts = handler.arrivals.lock().unwrap().len();
    eprintln!(
        "{CALLS} calls made {attempts} attempts; the budget allows {retries_allowed} retries"
    );
    assert!(attempts > CALLS, "no call was retried: {attempts} attempts");
    assert!(
        attempts <= CALLS + retries_allowed,
        "{attempts} attempts for {CALLS} calls: more retries than the budget's {retries_allowed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_attempt_starts_after_its_calls_deadline() {
    const CALLS: usize = 3;
    const DEADLINE: Duration = Duration::from_secs(2);
    // Time for an attempt sent just before the deadline to reach the handler on a loaded
    // machine, and for the call's end to reach the caller.
    const TRANSIT: Duration = Duration::from_millis(100);
    const MARGIN: Duration = Duration::from_secs(1);
    // Two attempts fit in the deadline; the second's answer comes so near it that a third
    // would start after it.
    let handler = Arc::new(AlwaysUnavailable {
        delay: Duration::from_millis(900),
        arrivals: Mutex::default(),
    });
    // A budget no burst of three calls exhausts: only the deadline stops the retries.
    let budget = RetryBudget {
        max_tokens: 1000.0,
        token_ratio: 0.1,
    };
    let (client, _servers) = unavailable_fleet(&handler, budget, DEADLINE).await;
    let calls = (0..CALLS).map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = client.get_user(pb::UserRequest { id: n.to_string() }).await;
            (started, started.elapsed(), result)
        })
    });
    let calls: Vec<_> = calls.collect();
    let mut starts = Vec::new();
    for call in calls {
        let (started, took, result) = within("a call past its deadline", call)
            .await
            .expect("a call task panicked");
        let status = result.expect_err("every replica is unavailable");
        eprintln!("a call ended after {took:?}: {status:?}");
        assert!(
            took <= DEADLINE + MARGIN,
            "a call with a {DEADLINE:?} deadline took {took:?}"
        );
        assert!(
            matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
            "{status:?}"
        );
        starts.push(started);
    }
    let arrivals = handler.arrivals.lock().unwrap().clone();
    for n in 0..CALLS {
        let id = n.to_string();
        let count = arrivals.iter().filter(|(of, _)| *of == id).count();
        eprintln!("call {n}: {count} attempts reached a replica");
    }
    for (id, arrived) in &arrivals {
        let started = starts[id.parse::<usize>().expect("a call's id")];
        let at = arrived.duration_since(started);
        assert!(
            at <= DEADLINE + TRANSIT,
            "an attempt of call {id} arrived {at:?} after its start, past its {DEADLINE:?} deadline"
        );
    }
    assert!(
        arrivals.len() > CALLS,
        "no call was retried within its deadline: {arrivals:?}"
    );
}

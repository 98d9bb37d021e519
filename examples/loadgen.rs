//! `loadgen`: an IRC load generator for benchmarking lanchat (or any IRC server).
//!
//! Connects N registered clients to a server, joins them to one channel, lets
//! S of them send M PRIVMSGs each, and has every client read everything.
//! Each message carries its sender, a sequence number and a send timestamp,
//! so every delivery is checked (gaps, reordering) and timed end to end.
//!
//! Senders are closed-loop: each keeps at most `--window` messages that have
//! not yet reached every other client, so the server's queues stay bounded
//! and the latency measured is the server's, not an ever-growing backlog.
//!
//! Not part of the appliance binary: `cargo run --release --example loadgen -- --help`.
//! The test `tests/loadgen.rs` includes this file as a module.

#![allow(dead_code)]

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use async_net::TcpStream;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::lock::Mutex;

/// A connection's two halves: the socket's, or a TLS stream's.
type Rd = Box<dyn AsyncRead + Unpin + Send>;
type Wr = Mutex<Box<dyn AsyncWrite + Unpin + Send>>;

const USAGE: &str = "\
loadgen: IRC load generator

USAGE: loadgen --addr HOST:PORT [OPTIONS]
    --clients N       registered clients [default: 100]
    --senders S       clients that send [default: 10]
    --messages M      PRIVMSGs per sender [default: 1000]
    --size BYTES      payload bytes per message [default: 100]
    --channel #CHAN   channel to join [default: #bench]
    --no-join         register only (idle clients; no channel, no messages)
    --slow N          extra clients that join and then never read [default: 0]
    --silent N        connections beside the run that never send a byte [default: 0]
    --slowloris N     connections beside the run that send a byte a second, never a whole line [default: 0]
    --idle-addr K:A   where the silent and slowloris connections go, in turn (repeatable; K is irc, tls
                      or web: what each trickles is a line, a TLS record or an HTTP head that never
                      ends) [default: irc:the --addr]
    --window W        messages per sender not yet delivered to all [default: 20]
    --hold SECS       keep the clients connected this long before the final check [default: 0]
    --pid PID         the server's pid, for its RSS and CPU time from /proc
    --threads T       executor threads [default: 1]
    --parallel P      connections being set up at once [default: 64]
    --timeout SECS    give up a phase after this long without progress [default: 30]
    --label TEXT      a name for the JSON line
    --at-once         connect every client at the same moment, one thread each (no join, no
                      messages): how long until all are registered, and how many are refused
    --tls             IRC over TLS (any certificate is accepted: loopback benchmarks only)
    --ws              IRC over WebSocket (--addr is the web port; text.ircv3.net)
    --before-send CMD run CMD (sh -c) once every client has joined, before the first message
    --after-send CMD  run CMD once every message has arrived (with the two: a profiler's
                      counters zeroed and dumped around the messages alone)
Prints a summary on stderr and one JSON line on stdout; exits 1 on any lost delivery or error.
";

/// What to run.
#[derive(Clone, Debug)]
pub struct Opts {
    pub addr: String,
    pub clients: usize,
    pub senders: usize,
    pub messages: usize,
    pub size: usize,
    pub channel: String,
    pub join: bool,
    pub slow: usize,
    pub silent: usize,
    pub slowloris: usize,
    /// (kind, address) for the silent and slowloris connections, in turn.
    pub idle_addrs: Vec<(String, String)>,
    pub window: usize,
    pub hold: Duration,
    pub pid: Option<u32>,
    pub threads: usize,
    pub parallel: usize,
    pub timeout: Duration,
    pub label: String,
    pub tls: bool,
    pub ws: bool,
    pub at_once: bool,
    /// Shell commands run just before the messages and just after the last arrives.
    pub before_send: Option<String>,
    pub after_send: Option<String>,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            addr: "127.0.0.1:6667".into(),
            clients: 100,
            senders: 10,
            messages: 1000,
            size: 100,
            channel: "#bench".into(),
            join: true,
            slow: 0,
            silent: 0,
            slowloris: 0,
            idle_addrs: Vec::new(),
            window: 20,
            hold: Duration::ZERO,
            pid: None,
            threads: 1,
            parallel: 64,
            timeout: Duration::from_secs(30),
            label: String::new(),
            tls: false,
            ws: false,
            at_once: false,
            before_send: None,
            after_send: None,
        }
    }
}

/// What was measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub label: String,
    pub clients: usize,
    pub senders: usize,
    pub messages: usize,
    pub size: usize,
    pub slow: usize,
    pub silent: usize,
    pub slowloris: usize,
    /// Silent and slowloris connections the server closed before the end.
    pub idle_closed: u64,
    /// Seconds to connect and register every client.
    pub connect_s: f64,
    /// Seconds for every client to JOIN and get the end of NAMES.
    pub join_s: f64,
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    /// Deliveries out of order or duplicated (must be 0 too).
    pub disorder: u64,
    /// Seconds from the first send to the last delivery.
    pub send_s: f64,
    /// Delivered messages per second.
    pub rate: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Server VmRSS before any client connected, with all registered, and VmHWM at the end (KiB).
    pub rss_idle_kib: u64,
    pub rss_registered_kib: u64,
    pub hwm_kib: u64,
    /// Clients (slow ones excluded) that answered the final PING.
    pub alive: usize,
    pub errors: usize,
    pub first_error: String,
    /// CPU seconds (user + system) of the generator and of the server during the run.
    pub gen_cpu_s: f64,
    pub server_cpu_s: f64,
    /// The server's CPU seconds and minor page faults while the messages were relayed.
    pub server_send_cpu_s: f64,
    pub server_send_minflt: u64,
}

impl Report {
    /// Whether every delivery arrived, in order, and nothing failed.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.disorder == 0 && self.errors == 0
    }

    /// One line of JSON.
    pub fn json(&self) -> String {
        format!(
            concat!(
                "{{\"label\":\"{}\",\"clients\":{},\"senders\":{},\"messages\":{},\"size\":{},\"slow\":{},",
                "\"silent\":{},\"slowloris\":{},\"idle_closed\":{},",
                "\"connect_s\":{:.3},\"join_s\":{:.3},\"expected\":{},\"received\":{},\"lost\":{},\"disorder\":{},",
                "\"send_s\":{:.3},\"msgs_per_s\":{:.0},\"p50_us\":{},\"p99_us\":{},\"max_us\":{},",
                "\"rss_idle_kib\":{},\"rss_registered_kib\":{},\"hwm_kib\":{},\"alive\":{},\"errors\":{},\"first_error\":\"{}\",",
                "\"gen_cpu_s\":{:.2},\"server_cpu_s\":{:.2},\"server_send_cpu_s\":{:.2},\"server_send_minflt\":{}}}"
            ),
            esc(&self.label),
            self.clients,
            self.senders,
            self.messages,
            self.size,
            self.slow,
            self.silent,
            self.slowloris,
            self.idle_closed,
            self.connect_s,
            self.join_s,
            self.expected,
            self.received,
            self.lost,
            self.disorder,
            self.send_s,
            self.rate,
            self.p50_us,
            self.p99_us,
            self.max_us,
            self.rss_idle_kib,
            self.rss_registered_kib,
            self.hwm_kib,
            self.alive,
            self.errors,
            esc(&self.first_error),
            self.gen_cpu_s,
            self.server_cpu_s,
            self.server_send_cpu_s,
            self.server_send_minflt,
        )
    }
}

fn esc(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect::<String>().replace('\\', "\\\\").replace('"', "\\\"")
}

// ---- process facts from /proc and libc -----------------------------------

unsafe extern "C" {
    fn sysconf(name: i32) -> i64;
}

const SC_CLK_TCK: i32 = 2;

use lanchat::sys::raise_nofile;

/// A `VmXXX:` figure of /proc/PID/status, in KiB.
pub fn vm_kib(pid: u32, key: &str) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return 0 };
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l[key.len()..].trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User + system CPU seconds of a process (`self` or a pid), from /proc/PID/stat.
/// A number in /proc/PID/stat, counted from the field after the command
/// name (7: minor faults, 11 and 12: user and system CPU ticks).
fn stat_field(pid: &str, i: usize) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    let rest = s.rfind(')').map_or("", |at| &s[at + 2..]);
    rest.split(' ').nth(i).and_then(|v| v.parse().ok()).unwrap_or(0)
}

pub fn cpu_s(pid: &str) -> f64 {
    let ticks = stat_field(pid, 11) + stat_field(pid, 12);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { sysconf(SC_CLK_TCK) }.max(1);
    ticks as f64 / hz as f64
}

// ---- the run ---------------------------------------------------------------

enum Event {
    /// A silent or slowloris connection is open.
    Holding,
    Registered,
    Joined,
    Done,
    Alive,
    Failed(String),
}

/// A gate every client waits on; opened once by closing it.
#[derive(Clone)]
struct Gate(Sender<()>, Receiver<()>);

impl Gate {
    fn new() -> Gate {
        let (tx, rx) = async_channel::bounded(1);
        Gate(tx, rx)
    }
    fn open(&self) {
        self.0.close();
    }
    async fn wait(&self) {
        let _ = self.1.recv().await;
    }
}

struct Ctx {
    opts: Opts,
    epoch: Instant,
    events: Sender<Event>,
    joining: Gate,
    sending: Gate,
    finishing: Gate,
    /// Deliveries of each sender's messages, over all receivers.
    delivered: Vec<AtomicU64>,
    /// What each waiting sender needs `delivered` to reach.
    need: Vec<AtomicU64>,
    wake: Vec<(Sender<()>, Receiver<()>)>,
    received: AtomicU64,
    disorder: AtomicU64,
    /// Silent and slowloris connections closed by the server.
    idle_closed: AtomicU64,
    /// Receivers per message.
    fanout: u64,
    setup: (Sender<()>, Receiver<()>),
}

/// Runs the benchmark once against `opts.addr`.
pub fn run(opts: Opts) -> Report {
    raise_nofile((opts.clients + opts.slow + opts.silent + opts.slowloris) as u64 + 256);
    if opts.at_once {
        return at_once(&opts);
    }
    let ex = Arc::new(smol::Executor::new());
    let stop = Gate::new();
    let mut threads = Vec::new();
    for _ in 1..opts.threads.max(1) {
        let (ex, stop) = (ex.clone(), stop.clone());
        threads.push(std::thread::spawn(move || smol::block_on(ex.run(stop.wait()))));
    }
    let report = smol::block_on(ex.run(coordinate(ex.clone(), opts)));
    stop.open();
    for t in threads {
        let _ = t.join();
    }
    report
}

async fn coordinate(ex: Arc<smol::Executor<'static>>, opts: Opts) -> Report {
    let n = opts.clients;
    let senders = opts.senders.min(n);
    let (events_tx, events) = async_channel::unbounded();
    let ctx = Arc::new(Ctx {
        epoch: Instant::now(),
        events: events_tx,
        joining: Gate::new(),
        sending: Gate::new(),
        finishing: Gate::new(),
        delivered: (0..senders).map(|_| AtomicU64::new(0)).collect(),
        need: (0..senders).map(|_| AtomicU64::new(u64::MAX)).collect(),
        wake: (0..senders).map(|_| async_channel::bounded(1)).collect(),
        received: AtomicU64::new(0),
        disorder: AtomicU64::new(0),
        idle_closed: AtomicU64::new(0),
        fanout: n.saturating_sub(1) as u64,
        setup: async_channel::bounded(opts.parallel.max(1)),
        opts: opts.clone(),
    });
    let mut r = Report {
        label: opts.label.clone(),
        clients: n,
        senders,
        messages: opts.messages,
        size: opts.size,
        slow: opts.slow,
        silent: opts.silent,
        slowloris: opts.slowloris,
        ..Report::default()
    };
    let pid = opts.pid;
    let gen_cpu0 = cpu_s("self");
    let srv_cpu0 = pid.map_or(0.0, |p| cpu_s(&p.to_string()));
    r.rss_idle_kib = pid.map_or(0, |p| vm_kib(p, "VmRSS:"));
    let mut errors: Vec<String> = Vec::new();

    // Beside the run, opened before it: connections that never register.
    let idle = opts.silent + opts.slowloris;
    let hangers: Vec<_> = (0..idle)
        .map(|i| {
            let ctx = ctx.clone();
            ex.spawn(async move {
                if let Err(e) = hanger(&ctx, i).await {
                    let _ = ctx.events.send(Event::Failed(format!("idle connection {i}: {e}"))).await;
                }
            })
        })
        .collect();
    let (held, _) = wait_for(&events, idle, |e| matches!(e, Event::Holding), &mut errors, opts.timeout).await;
    if held < idle {
        errors.push(format!("{held} of {idle} silent and slowloris connections opened"));
    }

    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n + opts.slow {
        let ctx = ctx.clone();
        tasks.push(ex.spawn(async move {
            let r = client(&ctx, i).await;
            if let Err(e) = &r {
                let _ = ctx.events.send(Event::Failed(format!("client {i}: {e}"))).await;
            }
            r.unwrap_or_default()
        }));
    }
    let total = n + opts.slow;
    let (registered, failed) =
        wait_for(&events, total, |e| matches!(e, Event::Registered), &mut errors, opts.timeout).await;
    r.connect_s = start.elapsed().as_secs_f64();
    r.rss_registered_kib = pid.map_or(0, |p| vm_kib(p, "VmRSS:"));
    let mut lost_clients = failed;
    if registered < total {
        errors.push(format!("{} of {total} clients registered", registered));
    }
    ctx.joining.open();
    if opts.join {
        let t = Instant::now();
        let (joined, failed) =
            wait_for(&events, total - lost_clients, |e| matches!(e, Event::Joined), &mut errors, opts.timeout).await;
        lost_clients += failed;
        r.join_s = t.elapsed().as_secs_f64();
        if joined + lost_clients < total {
            errors.push(format!("{joined} of {total} clients joined"));
        }
        if senders > 0 && opts.messages > 0 {
            hook(opts.before_send.as_deref(), &mut errors);
            let srv = pid.map(|p| p.to_string()).unwrap_or_default();
            let (cpu0, flt0) = (cpu_s(&srv), stat_field(&srv, 7));
            let t = Instant::now();
            ctx.sending.open();
            let live = (n + opts.slow).saturating_sub(lost_clients).min(n);
            let (done, _) = wait_for(&events, live, |e| matches!(e, Event::Done), &mut errors, opts.timeout).await;
            r.send_s = t.elapsed().as_secs_f64();
            (r.server_send_cpu_s, r.server_send_minflt) = (cpu_s(&srv) - cpu0, stat_field(&srv, 7) - flt0);
            hook(opts.after_send.as_deref(), &mut errors);
            if done < live {
                errors.push(format!("{done} of {n} clients got every message"));
            }
        }
    }
    if opts.join {
        r.expected = (senders * opts.messages) as u64 * ctx.fanout;
    }
    r.received = ctx.received.load(SeqCst);
    r.lost = r.expected.saturating_sub(r.received);
    r.disorder = ctx.disorder.load(SeqCst);
    r.rate = if r.send_s > 0.0 { r.received as f64 / r.send_s } else { 0.0 };
    if !opts.hold.is_zero() {
        smol::Timer::after(opts.hold).await;
    }
    // Everyone still connected must answer a PING.
    ctx.finishing.open();
    let (alive, _) =
        wait_for(&events, n.saturating_sub(lost_clients), |e| matches!(e, Event::Alive), &mut errors, opts.timeout)
            .await;
    r.alive = alive;
    if alive < n {
        errors.push(format!("{alive} of {n} clients answered the final PING"));
    }
    for h in hangers {
        h.await;
    }
    r.idle_closed = ctx.idle_closed.load(SeqCst);
    r.hwm_kib = pid.map_or(0, |p| vm_kib(p, "VmHWM:"));
    r.gen_cpu_s = cpu_s("self") - gen_cpu0;
    r.server_cpu_s = pid.map_or(0.0, |p| cpu_s(&p.to_string()) - srv_cpu0);
    let mut lat: Vec<u32> = Vec::with_capacity(r.received as usize);
    for t in tasks {
        lat.extend(t.await);
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0) as u64
    };
    r.p50_us = pct(0.50);
    r.p99_us = pct(0.99);
    r.max_us = lat.last().copied().unwrap_or(0) as u64;
    r.errors = errors.len();
    r.first_error = errors.first().cloned().unwrap_or_default();
    r
}

/// Runs a `--before-send` or `--after-send` command to its end; a failure is an error of the run.
fn hook(cmd: Option<&str>, errors: &mut Vec<String>) {
    let Some(cmd) = cmd else { return };
    match std::process::Command::new("sh").args(["-c", cmd]).stdout(std::process::Stdio::null()).status() {
        Ok(s) if s.success() => {}
        other => errors.push(format!("{cmd}: {other:?}")),
    }
}

/// Counts events matching `want` until `count` of them (or failures make up
/// the rest), or until `timeout` passes without any event. Returns (matching, failed).
async fn wait_for(
    events: &Receiver<Event>,
    count: usize,
    want: impl Fn(&Event) -> bool,
    errors: &mut Vec<String>,
    timeout: Duration,
) -> (usize, usize) {
    let (mut got, mut failed) = (0, 0);
    while got + failed < count {
        let ev = smol::future::or(async { events.recv().await.ok() }, async {
            smol::Timer::after(timeout).await;
            None
        })
        .await;
        match ev {
            Some(Event::Failed(e)) => {
                failed += 1;
                errors.push(e);
            }
            Some(e) if want(&e) => got += 1,
            Some(_) => {}
            None => break,
        }
    }
    (got, failed)
}

/// A reading half with its own line buffer.
struct Reader {
    stream: Rd,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Reader {
    fn new(stream: Rd, cap: usize) -> Reader {
        Reader { stream, buf: vec![0; cap], start: 0, end: 0 }
    }

    /// The next complete line in the buffer (CR LF stripped), as a range.
    fn take_line(&mut self) -> Option<std::ops::Range<usize>> {
        let pos = memchr::memchr(b'\n', &self.buf[self.start..self.end])? + self.start;
        let mut line = self.start..pos;
        if pos > line.start && self.buf[pos - 1] == b'\r' {
            line.end -= 1;
        }
        self.start = pos + 1;
        Some(line)
    }

    /// Reads more; false at EOF.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }

    /// Reads until a line satisfies `f`, answering PINGs; errors on ERROR or EOF.
    async fn until(&mut self, w: &Wr, f: impl Fn(&[u8]) -> bool) -> io::Result<()> {
        loop {
            while let Some(r) = self.take_line() {
                let line = &self.buf[r];
                if f(line) {
                    return Ok(());
                }
                check(w, line).await?;
            }
            if !self.fill().await? {
                return Err(io::Error::other("connection closed"));
            }
        }
    }
}

/// Writes and flushes (a TLS stream holds its last record until flushed).
async fn put(w: &Wr, bytes: &[u8]) -> io::Result<()> {
    let mut w = w.lock().await;
    w.write_all(bytes).await?;
    w.flush().await
}

/// Answers PING; turns ERROR and fatal registration numerics into errors.
async fn check(w: &Wr, line: &[u8]) -> io::Result<()> {
    if let Some(token) = line.strip_prefix(b"PING ") {
        let mut pong = b"PONG ".to_vec();
        pong.extend_from_slice(token);
        pong.extend_from_slice(b"\r\n");
        put(w, &pong).await?;
    } else if line.starts_with(b"ERROR") {
        return Err(io::Error::other(String::from_utf8_lossy(line).into_owned()));
    } else if let Some(code) = numeric(line)
        && matches!(code, b"432" | b"433" | b"465" | b"471" | b"473" | b"474" | b"475")
    {
        return Err(io::Error::other(String::from_utf8_lossy(line).into_owned()));
    }
    Ok(())
}

/// The command of `:src CMD ...`.
fn numeric(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b":")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let rest = &rest[sp + 1..];
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    Some(&rest[..end])
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A connection beside the run that never registers, held until the end:
/// the first `--slowloris` of them send a byte a second (staggered over the
/// second) and never end the line; the rest send nothing. One closed by
/// the server is counted, not an error.
async fn hanger(ctx: &Ctx, i: usize) -> io::Result<()> {
    let o = &ctx.opts;
    ctx.setup.0.send(()).await.map_err(io::Error::other)?;
    let (kind, addr) = match o.idle_addrs.get(i % o.idle_addrs.len().max(1)) {
        Some((k, a)) => (k.as_str(), a.as_str()),
        None => ("irc", o.addr.as_str()),
    };
    let stream = TcpStream::connect(addr).await;
    let _ = ctx.setup.1.try_recv();
    let mut stream = stream?;
    let _ = ctx.events.send(Event::Holding).await;
    if i >= o.slowloris {
        ctx.finishing.wait().await;
        return Ok(());
    }
    // The start of what the port expects, then `a`s: a line, a TLS record
    // (a 16 KiB ClientHello) or an HTTP head that never ends.
    let start: &[u8] = match kind {
        "tls" => &[0x16, 0x03, 0x01, 0x40, 0x00, 0x01],
        "web" => b"GET /irc HTTP/1.1\r\nX-Slow: ",
        _ => b"NICK slowloris-",
    };
    let first = Duration::from_millis((i * 1000 / o.slowloris) as u64);
    let trickle = async {
        smol::Timer::after(first).await;
        for k in 0.. {
            let byte = start.get(k).copied().unwrap_or(b'a');
            if stream.write_all(&[byte]).await.is_err() {
                ctx.idle_closed.fetch_add(1, SeqCst);
                break;
            }
            smol::Timer::after(Duration::from_secs(1)).await;
        }
    };
    smol::future::or(ctx.finishing.wait(), trickle).await;
    Ok(())
}

/// One client, from connect to the final PING. Returns its latency samples (µs).
async fn client(ctx: &Ctx, i: usize) -> io::Result<Vec<u32>> {
    let o = &ctx.opts;
    let slow = i >= o.clients;
    let senders = ctx.delivered.len();
    let sender = (i < senders).then_some(i);
    let nick = format!("lg{i}");

    ctx.setup.0.send(()).await.map_err(io::Error::other)?;
    let stream = match TcpStream::connect(&*o.addr).await {
        Ok(s) => s,
        Err(e) => {
            let _ = ctx.setup.1.try_recv();
            return Err(e);
        }
    };
    let _ = stream.set_nodelay(true);
    let halves = async { if o.ws { ws::open(stream, &o.addr).await } else { halves(stream, o.tls).await } };
    let (r, w) = match halves.await {
        Ok(h) => h,
        Err(e) => {
            let _ = ctx.setup.1.try_recv();
            return Err(e);
        }
    };
    let w: Wr = Mutex::new(w);
    let mut rd = Reader::new(r, 2048);
    let reg = async {
        put(&w, format!("NICK {nick}\r\nUSER {nick} 0 * :loadgen {i}\r\n").as_bytes()).await?;
        rd.until(&w, |l| matches!(numeric(l), Some(b"376" | b"422"))).await
    }
    .await;
    let _ = ctx.setup.1.try_recv();
    reg?;
    let _ = ctx.events.send(Event::Registered).await;

    if o.join {
        ctx.joining.wait().await;
        let chan = o.channel.to_ascii_lowercase();
        put(&w, format!("JOIN {}\r\n", o.channel).as_bytes()).await?;
        rd.until(&w, |l| numeric(l) == Some(b"366") && contains(&l.to_ascii_lowercase(), chan.as_bytes())).await?;
        let _ = ctx.events.send(Event::Joined).await;
    }
    if slow {
        // Never reads again; holds the socket until the end.
        ctx.finishing.wait().await;
        return Ok(Vec::new());
    }

    let mut lat = Vec::new();
    if o.join && senders > 0 && o.messages > 0 {
        // Memory for the run is set up before the clock starts: 1,000 clients'
        // buffers are 64 MB to zero, which is not the server's time.
        let expect = (senders * o.messages - if sender.is_some() { o.messages } else { 0 }) as u64;
        lat.reserve(expect as usize);
        rd.buf.resize(64 * 1024, 0);
        ctx.sending.wait().await;
        let recv = receive(ctx, &mut rd, &w, expect, &mut lat);
        match sender {
            Some(s) => {
                let (a, b) = smol::future::zip(recv, send(ctx, s, &w)).await;
                a?;
                b?;
            }
            None => recv.await?,
        }
        let _ = ctx.events.send(Event::Done).await;
    }
    // Keep answering PINGs until the end, then prove the connection is alive.
    let fin = async {
        ctx.finishing.wait().await;
        Ok::<_, io::Error>(())
    };
    smol::future::or(fin, async {
        rd.until(&w, |_| false).await?;
        Ok(())
    })
    .await?;
    put(&w, b"PING :loadgen-fin\r\n").await?;
    rd.until(&w, |l| numeric(l) == Some(b"PONG") && contains(l, b"loadgen-fin")).await?;
    let _ = ctx.events.send(Event::Alive).await;
    Ok(lat)
}

/// The reading and writing halves of a connection, over TLS or not.
async fn halves(stream: TcpStream, tls: bool) -> io::Result<(Rd, Box<dyn AsyncWrite + Unpin + Send>)> {
    if !tls {
        return Ok((Box::new(stream.clone()), Box::new(stream)));
    }
    #[cfg(feature = "tls")]
    {
        // The client's own handshake, as on first use: any certificate is
        // taken (loopback benchmarks of self-signed servers); signatures are checked.
        let (tls, _) = lanchat::client::tls::handshake(stream, "localhost:0", None)
            .await
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        let (r, w) = smol::io::split(tls);
        Ok((Box::new(r), Box::new(w)))
    }
    #[cfg(not(feature = "tls"))]
    Err(io::Error::other("--tls: this build has no TLS (the tls feature)"))
}

/// Reads until `expect` messages from the senders arrived, checking order and timing each.
///
/// This loop must cost the generator far less than the server spends per
/// delivery, or the generator becomes what is measured: lines are found with
/// memchr, the clock is read once per read (every line in it arrived then),
/// and the shared counters are updated once per read, not per line.
async fn receive(ctx: &Ctx, rd: &mut Reader, w: &Wr, expect: u64, lat: &mut Vec<u32>) -> io::Result<()> {
    let finder = memchr::memmem::Finder::new(b" :lg ");
    let mut next = vec![0u64; ctx.delivered.len()];
    let mut batch = vec![0u64; ctx.delivered.len()];
    let mut got = 0u64;
    while got < expect {
        let now = ctx.epoch.elapsed().as_micros() as u64;
        let before = got;
        while let Some(r) = rd.take_line() {
            let line = &rd.buf[r];
            match finder.find(line).and_then(|i| payload(&line[i + 5..])) {
                Some((s, seq, t)) if s < next.len() => {
                    lat.push(now.saturating_sub(t).min(u32::MAX as u64) as u32);
                    if seq != next[s] {
                        ctx.disorder.fetch_add(1, SeqCst);
                    }
                    next[s] = seq + 1;
                    batch[s] += 1;
                    got += 1;
                }
                _ => check(w, line).await?,
            }
        }
        if got > before {
            ctx.received.fetch_add(got - before, SeqCst);
            for (s, n) in batch.iter_mut().enumerate().filter(|(_, n)| **n > 0) {
                let d = ctx.delivered[s].fetch_add(*n, SeqCst) + *n;
                *n = 0;
                if d >= ctx.need[s].load(SeqCst) {
                    let _ = ctx.wake[s].0.try_send(());
                }
            }
        }
        if got >= expect {
            break;
        }
        if !rd.fill().await? {
            return Err(io::Error::other(format!("connection closed after {got} of {expect} messages")));
        }
    }
    Ok(())
}

/// `S SEQ T xxx` (the text after `:lg `) → (S, SEQ, T).
fn payload(text: &[u8]) -> Option<(usize, u64, u64)> {
    let mut it = text.splitn(4, |&b| b == b' ');
    let s = digits(it.next()?)?;
    let seq = digits(it.next()?)?;
    let t = digits(it.next()?)?;
    Some((s as usize, seq, t))
}

/// A decimal number of 1 to 19 digits.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

/// Sends this sender's messages, at most `window` of them not yet delivered everywhere.
async fn send(ctx: &Ctx, s: usize, w: &Wr) -> io::Result<()> {
    let o = &ctx.opts;
    let head = format!("PRIVMSG {} :lg ", o.channel);
    let window = o.window.max(1) as u64;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut k = 0u64;
    let m = o.messages as u64;
    while k < m {
        let allowed = ctx.delivered[s].load(SeqCst).checked_div(ctx.fanout).map_or(m, |done| done + window);
        if k >= allowed {
            let need = (k + 1 - window) * ctx.fanout;
            ctx.need[s].store(need, SeqCst);
            if ctx.delivered[s].load(SeqCst) < need {
                let _ = ctx.wake[s].1.recv().await;
            }
            continue;
        }
        out.clear();
        let now = ctx.epoch.elapsed().as_micros();
        for seq in k..allowed.min(m) {
            let start = out.len();
            out.extend_from_slice(head.as_bytes());
            let text_start = out.len();
            out.extend_from_slice(format!("{s} {seq} {now} ").as_bytes());
            while out.len() - text_start < o.size.max(1) + 3 {
                out.push(b'x');
            }
            out.extend_from_slice(b"\r\n");
            debug_assert!(out.len() - start < 510);
        }
        k = allowed.min(m);
        put(w, &out).await?;
    }
    Ok(())
}

// ---- command line ----------------------------------------------------------

fn main() {
    let mut o = Opts::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    let fail = |m: String| -> ! {
        eprintln!("loadgen: {m}\n{USAGE}");
        std::process::exit(2)
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_else(|| fail(format!("{flag} needs a value")));
        let num = |v: String| -> usize { v.parse().unwrap_or_else(|_| fail(format!("bad number {v:?}"))) };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return;
            }
            "--addr" => o.addr = val(),
            "--clients" => o.clients = num(val()),
            "--senders" => o.senders = num(val()),
            "--messages" => o.messages = num(val()),
            "--size" => o.size = num(val()),
            "--channel" => o.channel = val(),
            "--no-join" => o.join = false,
            "--slow" => o.slow = num(val()),
            "--silent" => o.silent = num(val()),
            "--slowloris" => o.slowloris = num(val()),
            "--idle-addr" => match val().split_once(':') {
                Some((k @ ("irc" | "tls" | "web"), a)) => o.idle_addrs.push((k.to_string(), a.to_string())),
                _ => fail("--idle-addr takes irc:HOST:PORT, tls:HOST:PORT or web:HOST:PORT".into()),
            },
            "--window" => o.window = num(val()),
            "--hold" => o.hold = Duration::from_secs(num(val()) as u64),
            "--pid" => o.pid = Some(num(val()) as u32),
            "--threads" => o.threads = num(val()),
            "--parallel" => o.parallel = num(val()),
            "--timeout" => o.timeout = Duration::from_secs(num(val()) as u64),
            "--label" => o.label = val(),
            "--tls" => o.tls = true,
            "--ws" => o.ws = true,
            "--before-send" => o.before_send = Some(val()),
            "--after-send" => o.after_send = Some(val()),
            "--at-once" => o.at_once = true,
            other => fail(format!("unknown flag {other:?}")),
        }
    }
    let r = run(o);
    eprintln!(
        "loadgen: {} clients registered in {:.3}s, joined in {:.3}s; {}/{} deliveries ({} lost, {} out of order) in {:.3}s = {:.0} msg/s; latency p50 {}µs p99 {}µs max {}µs; server RSS idle {} KiB, registered {} KiB, peak {} KiB; CPU: generator {:.2}s, server {:.2}s; {} errors{}",
        r.clients,
        r.connect_s,
        r.join_s,
        r.received,
        r.expected,
        r.lost,
        r.disorder,
        r.send_s,
        r.rate,
        r.p50_us,
        r.p99_us,
        r.max_us,
        r.rss_idle_kib,
        r.rss_registered_kib,
        r.hwm_kib,
        r.gen_cpu_s,
        r.server_cpu_s,
        r.errors,
        if r.errors > 0 { format!(" (first: {})", r.first_error) } else { String::new() }
    );
    println!("{}", r.json());
    std::process::exit(if r.ok() { 0 } else { 1 });
}

/// The client side of IRC over WebSocket, for `--ws`: the handshake, then
/// lines to masked frames and frames back to lines.
mod ws {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};

    use async_net::TcpStream;
    use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    pub async fn open(
        mut stream: TcpStream,
        host: &str,
    ) -> io::Result<(super::Rd, Box<dyn AsyncWrite + Unpin + Send>)> {
        let req = format!(
            "GET /irc HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        // Byte by byte: nothing after the head may be swallowed.
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await? == 0 || head.len() > 4096 {
                return Err(io::Error::other("WebSocket handshake failed"));
            }
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(io::Error::other(String::from_utf8_lossy(&head).into_owned()));
        }
        let seed = stream.local_addr().map_or(1, |a| u32::from(a.port())) | 1;
        let r = Reader { stream: stream.clone(), raw: Vec::new(), at: 0, have: 0, left: None, data: false };
        let w = Writer { stream, pending: Vec::new(), mask: seed };
        Ok((Box::new(r), Box::new(w)))
    }

    struct Reader {
        stream: TcpStream,
        /// Raw bytes read and not yet decoded: `raw[at..have]` (the buffer
        /// is allocated once, never zeroed again).
        raw: Vec<u8>,
        at: usize,
        have: usize,
        /// Payload bytes of the current frame not yet handed out, once its
        /// header is read; whether they are a line's (a data frame's).
        left: Option<usize>,
        data: bool,
    }

    impl Reader {
        /// Hands out what the frames in `raw` hold, as lines, straight into
        /// `out` (one copy, as a TCP client's bytes get none): the payloads
        /// of data frames, a `\n` after each. Returns the bytes written.
        fn decode_into(&mut self, out: &mut [u8]) -> usize {
            let mut w = 0;
            while w < out.len() {
                let b = &self.raw[self.at..self.have];
                let Some(left) = self.left else {
                    if b.len() < 2 {
                        break;
                    }
                    let (len, hdr) = match b[1] & 0x7f {
                        126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
                        127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize, 10),
                        126 | 127 => break,
                        l => (usize::from(l), 2),
                    };
                    self.data = b[0] & 0x0f == 1 || b[0] & 0x0f == 2;
                    self.left = Some(len);
                    self.at += hdr;
                    continue;
                };
                if left == 0 {
                    // The frame is complete: its line ends.
                    if self.data {
                        out[w] = b'\n';
                        w += 1;
                    }
                    self.left = None;
                    continue;
                }
                let take = left.min(b.len()).min(if self.data { out.len() - w } else { usize::MAX });
                if take == 0 {
                    break;
                }
                if self.data {
                    out[w..w + take].copy_from_slice(&b[..take]);
                    w += take;
                }
                self.at += take;
                self.left = Some(left - take);
            }
            w
        }
    }

    impl AsyncRead for Reader {
        fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            let me = &mut *self;
            loop {
                let w = me.decode_into(buf);
                if w > 0 || buf.is_empty() {
                    return Poll::Ready(Ok(w));
                }
                if me.at > 0 {
                    me.raw.copy_within(me.at..me.have, 0);
                    me.have -= me.at;
                    me.at = 0;
                }
                if me.have == me.raw.len() {
                    let grown = (me.raw.len() * 2).max(64 * 1024);
                    me.raw.resize(grown, 0);
                }
                let n = ready!(Pin::new(&mut me.stream).poll_read(cx, &mut me.raw[me.have..]))?;
                if n == 0 {
                    return Poll::Ready(Ok(0));
                }
                me.have += n;
            }
        }
    }

    struct Writer {
        stream: TcpStream,
        pending: Vec<u8>,
        mask: u32,
    }

    impl Writer {
        fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            while !self.pending.is_empty() {
                let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.pending))?;
                self.pending.drain(..n);
            }
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Writer {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            ready!(self.poll_drain(cx))?;
            for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                // xorshift: a new mask per frame.
                let mut m = self.mask;
                m ^= m << 13;
                m ^= m >> 17;
                m ^= m << 5;
                self.mask = m;
                lanchat::server::web::websocket::frame(&mut self.pending, 0x81, line, Some(m.to_be_bytes()));
            }
            let _ = self.poll_drain(cx)?;
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            ready!(self.poll_drain(cx))?;
            Pin::new(&mut self.stream).poll_flush(cx)
        }

        fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            ready!(self.poll_drain(cx))?;
            Pin::new(&mut self.stream).poll_close(cx)
        }
    }
}

/// `--at-once`: every client in a thread of its own, all released together
/// by a barrier, as a room full of devices reconnecting after the server
/// restarts. Connect and register, hold, then count who is still there.
fn at_once(opts: &Opts) -> Report {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Barrier;
    let addr: std::net::SocketAddr = match opts.addr.parse() {
        Ok(a) => a,
        Err(e) => return Report { errors: 1, first_error: format!("--addr: {e}"), ..Report::default() },
    };
    let n = opts.clients;
    let pid = opts.pid;
    let (gen0, srv0) = (cpu_s("self"), pid.map_or(0.0, |p| cpu_s(&p.to_string())));
    let rss_idle = pid.map_or(0, |p| vm_kib(p, "VmRSS:"));
    let go = Arc::new(Barrier::new(n + 1));
    let timeout = opts.timeout;
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let go = go.clone();
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || -> Result<std::net::TcpStream, String> {
                    go.wait();
                    let s =
                        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
                    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                    (&s).write_all(format!("NICK b{i}\r\nUSER b{i} 0 * :at once\r\n").as_bytes())
                        .map_err(|e| format!("write: {e}"))?;
                    let mut r = BufReader::new(&s);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match r.read_line(&mut line) {
                            Ok(0) => return Err(format!("closed before 001: {}", line.trim_end())),
                            Ok(_) if line.contains(" 001 ") => break,
                            Ok(_) if line.starts_with("ERROR") => return Err(line.trim_end().to_string()),
                            Ok(_) => {}
                            Err(e) => return Err(format!("read: {e}")),
                        }
                    }
                    drop(r);
                    Ok(s)
                })
                .expect("a thread per client (ulimit -u?)")
        })
        .collect();
    go.wait();
    let started = Instant::now();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("panicked".into()))).collect();
    let connect_s = started.elapsed().as_secs_f64();
    let rss_registered = pid.map_or(0, |p| vm_kib(p, "VmRSS:"));
    std::thread::sleep(opts.hold);
    // Still there: each answers a PING.
    let mut alive = 0;
    for s in results.iter().flatten() {
        let mut w = s;
        if w.write_all(b"PING :alive\r\n").is_ok() {
            let mut line = String::new();
            let mut r = BufReader::new(s);
            while r.read_line(&mut line).is_ok_and(|k| k > 0) {
                if line.contains("PONG") {
                    alive += 1;
                    break;
                }
                line.clear();
            }
        }
    }
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    Report {
        label: opts.label.clone(),
        clients: n,
        connect_s,
        rss_idle_kib: rss_idle,
        rss_registered_kib: rss_registered,
        hwm_kib: pid.map_or(0, |p| vm_kib(p, "VmHWM:")),
        alive,
        errors: errors.len(),
        first_error: errors.first().map(|e| e.to_string()).unwrap_or_default(),
        gen_cpu_s: cpu_s("self") - gen0,
        server_cpu_s: pid.map_or(0.0, |p| cpu_s(&p.to_string())) - srv0,
        ..Report::default()
    }
}

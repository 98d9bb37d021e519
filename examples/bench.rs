//! `bench`: the scenarios of `make bench`, run with `loadgen` (built beside
//! this binary) against lanchat and, optionally, a peer IRC server.
//!
//! USAGE: bench --lanchat PATH [--peer inspircd|ngircd] [--rounds N] [--only 1,2,...] [--callgrind]
//!
//! Scenarios 1-5, 7, 8, 9 and 10 run here; 6 is `gui_bench` (`make bench-gui`).
//! With `--callgrind`, the server's instructions per delivery instead
//! (scenario 2 on the plain, TLS and WebSocket paths; `bench/callgrind.rs`).
//!
//! Every scenario gets a freshly started server on 127.0.0.1 (a free port),
//! stopped by its pid afterwards. With a peer, scenarios 1-3 alternate
//! lanchat and peer (A B A B ...). Prints a table, one JSON line per run
//! (prefixed `JSON `) and the verdict on each target.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lanchat::sys::raise_nofile;

#[path = "bench/callgrind.rs"]
mod callgrind;

/// A server under test, started fresh for each run.
struct Server {
    kind: String,
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    /// Ends the server with SIGTERM (a tool it runs under writes its report) and waits for it.
    fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lanchat-bench-{tag}-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `kind` and waits until it accepts a connection; returns it and the time that took.
fn start(kind: &str, lanchat: &Path) -> (Server, Duration) {
    start_with(kind, lanchat, false, |_| {})
}

/// `start`, with `tweak` adding a scenario's own flags or environment to the command.
/// [`start`], with IRC over TLS only when `tls` (lanchat's own self-signed
/// certificate; for InspIRCd, one made with openssl, ECDSA P-256 like ours).
fn start_with(kind: &str, lanchat: &Path, tls: bool, tweak: impl FnOnce(&mut Command)) -> (Server, Duration) {
    start_wrapped(kind, lanchat, tls, &[], tweak)
}

/// [`start_with`], lanchat run by `wrap` (`valgrind ...`) when it is not empty.
fn start_wrapped(
    kind: &str,
    lanchat: &Path,
    tls: bool,
    wrap: &[String],
    tweak: impl FnOnce(&mut Command),
) -> (Server, Duration) {
    let port = free_port();
    let dir = temp_dir(kind);
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut cmd = match kind {
        "lanchat" => {
            let mut c = match wrap.split_first() {
                Some((prog, args)) => {
                    let mut c = Command::new(prog);
                    c.args(args).arg(lanchat);
                    c
                }
                None => Command::new(lanchat),
            };
            c.args(["--serve", "--bind", "127.0.0.1", "--port", &port.to_string(), "--no-web", "--data-dir"])
                .arg(dir.join("data"))
                // Bench settings: no flood limit, every generator client from 127.0.0.1 allowed.
                .args(["--flood-rate", "0", "--max-per-ip", "100000", "--max-clients", "100000"]);
            if tls {
                c.args(["--no-plain", "--tls-port", &port.to_string()]);
            } else {
                c.arg("--no-tls");
            }
            c
        }
        "inspircd" => {
            let conf = dir.join("inspircd.conf");
            std::fs::write(dir.join("motd"), "bench\n").unwrap();
            if tls {
                let made = Command::new("openssl")
                    .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
                    .args(["-subj", "/CN=inspircd.bench", "-days", "2", "-keyout"])
                    .arg(dir.join("key.pem"))
                    .arg("-out")
                    .arg(dir.join("cert.pem"))
                    .output()
                    .expect("openssl is needed for the TLS scenarios");
                assert!(made.status.success(), "openssl req: {}", String::from_utf8_lossy(&made.stderr));
            }
            std::fs::write(&conf, inspircd_conf(port, &dir, tls)).unwrap();
            let mut c = Command::new("inspircd");
            c.arg(format!("--config={}", conf.display())).args(["--nofork", "--runasroot"]);
            c
        }
        "ngircd" if tls => panic!("the TLS scenarios run against lanchat and InspIRCd only"),
        "ngircd" => {
            let conf = dir.join("ngircd.conf");
            std::fs::write(dir.join("motd"), "bench\n").unwrap();
            std::fs::write(&conf, ngircd_conf(port, &dir)).unwrap();
            let mut c = Command::new("ngircd");
            c.arg("--nodaemon").arg("--config").arg(&conf);
            c
        }
        other => panic!("unknown server {other}"),
    };
    tweak(&mut cmd);
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {kind}: {e}"));
    let mut s = Server { kind: kind.into(), child, port, dir };
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (s, t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(20) || !matches!(s.child.try_wait(), Ok(None)) {
            let log = std::fs::read_to_string(s.dir.join("server.log")).unwrap_or_default();
            let _ = s.child.kill();
            panic!("{kind} did not start listening on 127.0.0.1:{port}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Starts `kind` for the scenario `name`: over TLS when the name ends in
/// `t`, on the web port (lanchat only) when it ends in `w`.
fn start_for(name: &str, kind: &str, lanchat: &Path, wrap: &[String]) -> Server {
    let web = free_port();
    let ws = name.ends_with('w');
    let (mut server, _) = start_wrapped(kind, lanchat, name.ends_with('t'), wrap, |c| {
        if ws {
            c.args(["--web-port", &web.to_string()]);
        }
    });
    if ws {
        // loadgen talks to the web port; it was bound before the IRC port answered.
        server.port = web;
    }
    server
}

/// InspIRCd 3: one connect class for 127.0.0.1 with every flood and size
/// limit raised so far that the generator never meets one; no DNS or ident
/// lookups (the resolver points at loopback, nothing leaves the machine).
fn inspircd_conf(port: u16, dir: &Path, tls: bool) -> String {
    let d = dir.display();
    let bind = if tls {
        format!(
            r#"<module name="ssl_gnutls">
<sslprofile name="bench" provider="gnutls" certfile="{d}/cert.pem" keyfile="{d}/key.pem" hash="sha256">
<bind address="127.0.0.1" port="{port}" type="clients" ssl="bench">"#
        )
    } else {
        format!(r#"<bind address="127.0.0.1" port="{port}" type="clients">"#)
    };
    format!(
        r#"<server name="inspircd.bench" description="bench peer" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
{bind}
<connect name="bench" allow="127.0.0.1" resolvehostnames="no" useident="no" timeout="60" pingfreq="120"
  threshold="1000000000" commandrate="4000000000" fakelag="no" recvq="1048576" softsendq="1048576"
  hardsendq="67108864" localmax="100000" globalmax="100000" maxchans="50" limit="100000">
<channels users="50" opers="60">
<dns server="127.0.0.1" timeout="1">
<pid file="{d}/inspircd.pid">
<files motd="{d}/motd">
<options prefixquit="Quit: " syntaxhints="no" defaultmodes="nt">
<performance quietbursts="yes" softlimit="65000" somaxconn="4096" netbuffersize="10240" clonesonconnect="no">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{d}/inspircd.log">
"#
    )
}

/// ngIRCd 26: no connection limits, no DNS/ident, MaxPenaltyTime = 0 (no
/// penalty delays). Its per-pass command cap is compiled in and stays.
fn ngircd_conf(port: u16, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "[Global]\nName = ngircd.bench\nInfo = bench peer\nListen = 127.0.0.1\nPorts = {port}\nMotdFile = {d}/motd\nPidFile = {d}/ngircd.pid\n\
[Limits]\nMaxConnections = 0\nMaxConnectionsIP = 0\nMaxJoins = 0\nMaxPenaltyTime = 0\nPingTimeout = 120\nPongTimeout = 60\n\
[Options]\nDNS = no\nIdent = no\nPAM = no\n"
    )
}

/// Runs loadgen against `server`; returns its JSON line (with scenario and server added).
fn loadgen(loadgen: &Path, server: &Server, scenario: &str, args: &[&str]) -> String {
    let out = Command::new(loadgen)
        .args(["--addr", &format!("127.0.0.1:{}", server.port), "--pid", &server.child.id().to_string()])
        .args(["--label", &format!("{scenario}/{}", server.kind)])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run loadgen");
    let json = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let json = format!("{{\"scenario\":\"{scenario}\",\"server\":\"{}\",{}", server.kind, json.trim_start_matches('{'));
    println!("JSON {json}");
    json
}

/// A number field of a flat JSON line.
fn field(json: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    json.split(&pat).nth(1).and_then(|r| r.split([',', '}']).next()).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Scenario 5: cold start to the first registered connection, and JOIN with 100 lines of history.
fn cold_start(lanchat: &Path) -> (f64, f64, f64) {
    let (server, listening) = start("lanchat", lanchat);
    let t = Instant::now();
    let addr = format!("127.0.0.1:{}", server.port);
    let mut a = Irc::register(&addr, "hist0");
    let first = listening + t.elapsed();
    a.send("JOIN #hist");
    a.until(|l| l.contains(" 366 "));
    for i in 0..100 {
        a.send(&format!("PRIVMSG #hist :history line {i} with some text in it"));
    }
    a.send("PING :sync");
    a.until(|l| l.contains("PONG") && l.contains("sync"));
    let mut joins = Vec::new();
    for n in 0..5 {
        let mut b = Irc::register(&addr, &format!("late{n}"));
        let t = Instant::now();
        b.send("JOIN #hist");
        b.until(|l| l.contains("history line 99 "));
        joins.push(t.elapsed().as_secs_f64());
    }
    joins.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let _ = server;
    (listening.as_secs_f64(), first.as_secs_f64(), joins[joins.len() / 2])
}

/// Scenario 7's figures for one run.
struct Pause {
    /// The longest time a compaction held the state lock, as the server
    /// logs it: how long relaying stopped for it (NaN: the server said nothing).
    lock_ms: f64,
    max_ms: f64,
    p99_ms: f64,
    compactions: usize,
    received: usize,
    sent: usize,
}

/// Scenario 7: the longest relay pause while the journal is compacted on a
/// slow disk. Every fsync of the server takes 500 ms longer (its test hook
/// `LANCHAT_TEST_FSYNC_DELAY_MS`, standing in for an SD card); one client
/// sends 5,000 channel messages a second of ~400 bytes over 32 channels, so
/// the journal passes `--journal-max` (8 MiB) within seconds, and one client
/// in every channel takes each message's delay. Runs until the journal has
/// shrunk (been compacted) at least once, plus a second.
fn compaction_pause(lanchat: &Path) -> Pause {
    const CHANNELS: usize = 32;
    const RATE: f64 = 5000.0;
    let (server, _) = start_with("lanchat", lanchat, false, |c| {
        c.env("LANCHAT_TEST_FSYNC_DELAY_MS", "500")
            .args(["--journal-max", "8388608", "--flood-rate", "0", "--sendq", "100000000", "--no-discovery"]);
    });
    let addr = format!("127.0.0.1:{}", server.port);
    let journal = server.dir.join("data").join("history.journal");
    let chans: Vec<String> = (0..CHANNELS).map(|i| format!("#pause{i}")).collect();
    let mut rx = Irc::register(&addr, "receiver");
    let mut tx = Irc::register(&addr, "sender");
    for c in [&mut rx, &mut tx] {
        c.send(&format!("JOIN {}", chans.join(",")));
        c.send("PING :joined");
        c.until(|l| l.contains("PONG") && l.contains("joined"));
    }
    // Delays are taken against one clock, this process's.
    let t0 = Instant::now();
    let sent_total = Arc::new(AtomicUsize::new(usize::MAX));
    let receiver = {
        let sent_total = sent_total.clone();
        std::thread::spawn(move || {
            let mut delays_us = Vec::new();
            let mut line = String::new();
            while delays_us.len() < sent_total.load(Ordering::Relaxed) {
                line.clear();
                // A read timeout (20 s) ends it: the figures say how many arrived.
                if rx.r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if line.starts_with("PING ") {
                    rx.send(&line.trim_end().replacen("PING", "PONG", 1));
                } else if let Some((_, text)) = line.split_once(" PRIVMSG #pause")
                    && let Some(stamp) = text.split(' ').nth(1).and_then(|v| v.strip_prefix(':'))
                    && let Ok(us) = stamp.parse::<u64>()
                {
                    delays_us.push((t0.elapsed().as_micros() as u64).saturating_sub(us));
                }
            }
            delays_us
        })
    };
    // The sender's own replies (PINGs) are drained, and answered.
    let mut tx_r = tx.r;
    let mut tx_w = tx.w;
    let mut pong = tx_w.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut line = String::new();
        while tx_r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.starts_with("PING ") {
                let _ = pong.write_all(line.replacen("PING", "PONG", 1).as_bytes());
            }
            line.clear();
        }
    });
    let pad = "x".repeat(400);
    let (mut sent, mut last_size, mut compactions) = (0usize, 0u64, 0usize);
    let mut done_at: Option<Instant> = None;
    let mut batch = String::new();
    loop {
        // Paced: each message is stamped with the time it was due, so a
        // write that blocks while the server stalls still counts the stall.
        let due = (t0.elapsed().as_secs_f64() * RATE) as usize;
        batch.clear();
        for n in sent..due {
            let at_us = (n as f64 / RATE * 1e6) as u64;
            batch.push_str(&format!("PRIVMSG {} :{at_us} {n} {pad}\r\n", chans[n % CHANNELS]));
        }
        tx_w.write_all(batch.as_bytes()).unwrap();
        sent = sent.max(due);
        let size = std::fs::metadata(&journal).map_or(0, |m| m.len());
        if size < last_size {
            compactions += 1;
            done_at.get_or_insert_with(|| Instant::now() + Duration::from_secs(1));
        }
        last_size = size;
        if done_at.is_some_and(|d| Instant::now() >= d) || t0.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    sent_total.store(sent, Ordering::Relaxed);
    // Wakes the receiver if it already had everything when told the total.
    tx_w.write_all(format!("PRIVMSG {} :end\r\n", chans[0]).as_bytes()).unwrap();
    let mut delays_us = receiver.join().unwrap();
    let received = delays_us.len().min(sent);
    delays_us.sort_unstable();
    let pct = |q: f64| delays_us.get(((delays_us.len() as f64 * q) as usize).min(delays_us.len().saturating_sub(1)));
    let ms = |v: Option<&u64>| v.map_or(f64::NAN, |&us| us as f64 / 1e3);
    let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
    let lock_ms = log
        .lines()
        .filter_map(|l| l.split_once("the state lock ")?.1.split(' ').next()?.parse::<f64>().ok())
        .fold(f64::NAN, f64::max);
    drop(server);
    Pause { lock_ms, max_ms: ms(delays_us.last()), p99_ms: ms(pct(0.99)), compactions, received, sent }
}

struct Irc {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Irc {
    fn register(addr: &str, nick: &str) -> Irc {
        let w = TcpStream::connect(addr).unwrap();
        // Small paced writes: without this, Nagle and delayed ACKs add up to 40 ms.
        w.set_nodelay(true).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Irc { r: BufReader::new(w.try_clone().unwrap()), w };
        c.send(&format!("NICK {nick}\r\nUSER {nick} 0 * :bench"));
        c.until(|l| l.contains(" 376 ") || l.contains(" 422 "));
        c
    }
    fn send(&mut self, line: &str) {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    }
    fn until(&mut self, f: impl Fn(&str) -> bool) {
        let mut line = String::new();
        loop {
            line.clear();
            if self.r.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("connection closed");
            }
            if f(&line) {
                return;
            }
        }
    }
}

fn main() {
    let mut lanchat = PathBuf::from("target/release/lanchat");
    let mut peer: Option<String> = None;
    let mut rounds = 2;
    let mut only: Option<Vec<String>> = None;
    let mut count = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--lanchat" => lanchat = PathBuf::from(it.next().expect("--lanchat PATH")),
            "--peer" => peer = it.next().cloned().filter(|p| !p.is_empty()),
            "--rounds" => rounds = it.next().and_then(|v| v.parse().ok()).expect("--rounds N"),
            "--only" => only = it.next().map(|v| v.split(',').map(str::to_string).collect()),
            "--callgrind" => count = true,
            other => panic!(
                "unknown flag {other}; usage: bench --lanchat PATH [--peer inspircd|ngircd] [--rounds N] [--only 1,2,...] [--callgrind]"
            ),
        }
    }
    // 10,000 connections on each side: raise the file limit, for our children too.
    raise_nofile(65536);
    let run = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == name));
    let lg = std::env::current_exe().unwrap().with_file_name("loadgen");
    let mut servers = vec!["lanchat".to_string()];
    servers.extend(peer.clone());

    let mut scenarios: Vec<(String, String, Vec<&str>)> = vec![
        (
            "1".into(),
            "100 clients, 10 senders x 1000 msgs".into(),
            vec!["--clients", "100", "--senders", "10", "--messages", "1000", "--size", "100"],
        ),
        (
            "2".into(),
            "1000 clients, 5 senders x 200 msgs".into(),
            vec!["--clients", "1000", "--senders", "5", "--messages", "200", "--size", "100"],
        ),
        (
            "3".into(),
            "10000 idle registered clients".into(),
            vec!["--clients", "10000", "--no-join", "--hold", "2", "--timeout", "60"],
        ),
    ];
    // The same three over TLS (`1t`, `2t`, `3t`), against lanchat and InspIRCd.
    for i in 0..3 {
        let (name, what, mut args) = scenarios[i].clone();
        args.push("--tls");
        scenarios.push((format!("{name}t"), format!("{what}, over TLS"), args));
    }
    // Scenario 2 over WebSocket (`2w`), lanchat only: the web port's cost next to TCP's.
    let (_, what, mut args) = scenarios[1].clone();
    args.push("--ws");
    scenarios.push(("2w".into(), format!("{what}, over WebSocket"), args));
    // Scenario 9: a room's worth of devices connecting at the same moment,
    // a thread each (as after a restart), against the peer too.
    scenarios.push((
        "9".into(),
        "5000 clients connecting at once, a thread each".into(),
        vec!["--clients", "5000", "--at-once", "--hold", "1", "--timeout", "60"],
    ));
    if count {
        // Instructions per delivery, not timings: scenario 2 on each path (or those of --only).
        let paths = ["2", "2t", "2w"];
        let chosen = |name: &str| only.as_ref().map_or(paths.contains(&name), |o| o.iter().any(|x| x == name));
        scenarios.retain(|s| chosen(&s.0));
        callgrind::run(&lanchat, &lg, rounds, &scenarios);
        return;
    }
    let tls = |name: &str| name.ends_with('t');
    let ws = |name: &str| name.ends_with('w');
    // results[scenario][server] = JSON lines, one per round.
    let mut results: Vec<Vec<Vec<String>>> = vec![vec![Vec::new(); servers.len()]; scenarios.len()];
    for round in 0..rounds {
        for (si, (name, _, args)) in scenarios.iter().enumerate().filter(|(_, s)| run(&s.0)) {
            let serves = |kind: &str| (!tls(name) || kind != "ngircd") && (!ws(name) || kind == "lanchat");
            for (k, kind) in servers.iter().enumerate().filter(|(_, kind)| serves(kind)) {
                eprintln!("--- round {} scenario {name} on {kind}", round + 1);
                let server = start_for(name, kind, &lanchat, &[]);
                results[si][k].push(loadgen(&lg, &server, name, args));
            }
        }
    }
    // Scenario 4: scenario 1 with and without a client that never reads (lanchat only), alternating.
    let mut s4: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for round in (0..rounds).filter(|_| run("4")) {
        for (i, slow) in ["0", "1"].iter().enumerate() {
            eprintln!("--- round {} scenario 4 (slow readers: {slow})", round + 1);
            let (server, _) = start("lanchat", &lanchat);
            let mut args = scenarios[0].2.clone();
            args.extend(["--slow", slow]);
            s4[i].push(loadgen(&lg, &server, if *slow == "0" { "4-base" } else { "4-slow" }, &args));
        }
    }
    // Scenario 8: scenario 1 with and without slow and silent clients beside
    // it (lanchat only), alternating: 100 that trickle a byte a second and
    // never end a line, 100 that never send a byte, 10 that join and never
    // read. And a control: scenario 1 with 10 more members that do read, so
    // the cost of being a member (every message is queued for them too)
    // shows apart from the cost of not reading.
    let mut s8: [Vec<String>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in (0..rounds).filter(|_| run("8")) {
        for (i, what) in
            ["alone", "with slow and silent clients", "with 10 more members that read"].into_iter().enumerate()
        {
            let with = i == 1;
            eprintln!("--- round {} scenario 8 ({what})", round + 1);
            // Every port open in both runs; beside them, the idle ones take
            // each port in turn: plain IRC, TLS and the web port.
            let (tls_port, web_port) = (free_port(), free_port());
            let (server, _) = start_with("lanchat", &lanchat, false, |c| {
                c.args(["--tls-port", &tls_port.to_string(), "--web-port", &web_port.to_string()]);
            });
            let mut args: Vec<String> = scenarios[0].2.iter().map(|a| a.to_string()).collect();
            if i == 2 {
                args.extend(["--clients", "110"].map(String::from));
            }
            if with {
                args.extend(["--slowloris", "100", "--silent", "100", "--slow", "10"].map(String::from));
                for (kind, port) in [("irc", server.port), ("tls", tls_port), ("web", web_port)] {
                    args.extend(["--idle-addr".to_string(), format!("{kind}:127.0.0.1:{port}")]);
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            s8[i].push(loadgen(&lg, &server, ["8-base", "8-with", "8-members"][i], &args));
        }
    }
    let s5 = run("5").then(|| {
        eprintln!("--- scenario 5");
        let (listen_s, first_s, join_s) = cold_start(&lanchat);
        println!(
            "JSON {{\"scenario\":\"5\",\"server\":\"lanchat\",\"start_to_listen_s\":{listen_s:.4},\"start_to_first_registered_s\":{first_s:.4},\"join_with_100_history_s\":{join_s:.4}}}"
        );
        (listen_s, first_s, join_s)
    });
    // Scenario 10: the canvas (issue 18), once: one client draws 1,000,000
    // stroke segments while 10 others take each one relayed; then a joiner's
    // bytes and time to the whole picture (`canvas_load`, built beside us).
    let s10 = run("10").then(|| {
        eprintln!("--- scenario 10 (a few minutes)");
        let (server, _) = start_with("lanchat", &lanchat, false, |c| {
            c.args(["--sendq", "100000000"]);
        });
        let out = Command::new(lg.with_file_name("canvas_load"))
            .args([&format!("127.0.0.1:{}", server.port), "1000000", "--watchers", "10"])
            .args(["--pid", &server.child.id().to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run canvas_load");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "canvas_load failed: {text}");
        let json = text.lines().rfind(|l| l.starts_with('{')).unwrap_or("{}").to_string();
        println!("JSON {{\"scenario\":\"10\",\"server\":\"lanchat\",{}", json.trim_start_matches('{'));
        json
    });

    let s7: Vec<Pause> = (0..rounds)
        .filter(|_| run("7"))
        .map(|round| {
            eprintln!("--- round {} scenario 7", round + 1);
            let p = compaction_pause(&lanchat);
            println!(
                "JSON {{\"scenario\":\"7\",\"server\":\"lanchat\",\"lock_ms\":{:.3},\"max_ms\":{:.3},\"p99_ms\":{:.3},\"compactions\":{},\"sent\":{},\"received\":{}}}",
                p.lock_ms, p.max_ms, p.p99_ms, p.compactions, p.sent, p.received
            );
            p
        })
        .collect();

    let ours = [s4[0].is_empty(), s5.is_none(), s7.is_empty(), s8[0].is_empty(), s10.is_none()];
    if results.iter().all(|r| r[0].is_empty()) && ours.iter().all(|none| *none) {
        // None of ours ran (6 is `make bench-gui`).
        return;
    }
    // ---- the table ----
    println!();
    println!("Each figure is the mean of {rounds} runs (fresh server per run).");
    let mut hdr = format!("{:<4} {:<26}", "sc", "figure");
    for s in &servers {
        hdr += &format!(" {s:>12}");
    }
    if servers.len() > 1 {
        hdr += &format!(" {:>14}", "lanchat/peer");
    }
    println!("{hdr}");
    let row = |sc: &str, label: &str, vals: Vec<f64>, prec: usize| {
        let mut l = format!("{sc:<4} {label:<26}");
        for v in &vals {
            l += &format!(" {:>12.*}", prec, v);
        }
        if vals.len() > 1 {
            l += &format!(" {:>14.2}", vals[0] / vals[1]);
        }
        println!("{l}");
    };
    let avg = |si: usize, k: usize, key: &str| mean(&results[si][k].iter().map(|j| field(j, key)).collect::<Vec<_>>());
    let per = |si: usize, key: &str, scale: f64| -> Vec<f64> {
        (0..servers.len()).map(|k| avg(si, k, key) * scale).collect()
    };
    let ran = |si: usize| !results[si][0].is_empty();
    let idle = |name: &str| name.starts_with('3');
    for (si, (name, what, _)) in scenarios.iter().enumerate().filter(|(si, _)| ran(*si)) {
        println!("{name:<4} {what}");
        if name == "9" {
            row(name, "connect+register all (s)", per(si, "connect_s", 1.0), 3);
            row(name, "refused or failed", per(si, "errors", 1.0), 0);
            row(name, "clients alive at the end", per(si, "alive", 1.0), 0);
            row(name, "server peak RSS (MiB)", per(si, "hwm_kib", 1.0 / 1024.0), 1);
        } else if !idle(name) {
            row(name, "connect+register all (s)", per(si, "connect_s", 1.0), 3);
            row(name, "lost deliveries", per(si, "lost", 1.0), 0);
            row(name, "delivered msgs/s", per(si, "msgs_per_s", 1.0), 0);
            row(name, "latency p50 (ms)", per(si, "p50_us", 1e-3), 2);
            row(name, "latency p99 (ms)", per(si, "p99_us", 1e-3), 2);
            row(name, "latency max (ms)", per(si, "max_us", 1e-3), 2);
            row(name, "server peak RSS (MiB)", per(si, "hwm_kib", 1.0 / 1024.0), 1);
            row(name, "server CPU relaying (s)", per(si, "server_send_cpu_s", 1.0), 2);
        } else {
            row(name, "connect+register all (s)", per(si, "connect_s", 1.0), 3);
            row(name, "clients alive at the end", per(si, "alive", 1.0), 0);
            let kib: Vec<f64> = (0..servers.len())
                .map(|k| (avg(si, k, "rss_registered_kib") - avg(si, k, "rss_idle_kib")) / 10_000.0)
                .collect();
            row(name, "RSS per idle conn (KiB)", kib, 2);
            row(name, "server peak RSS (MiB)", per(si, "hwm_kib", 1.0 / 1024.0), 1);
        }
        row(name, "server CPU (s)", per(si, "server_cpu_s", 1.0), 2);
        row(name, "generator CPU (s)", per(si, "gen_cpu_s", 1.0), 2);
    }
    let s4p99 = |i: usize| mean(&s4[i].iter().map(|j| field(j, "p99_us") / 1000.0).collect::<Vec<_>>());
    let (base, slow) = (s4p99(0), s4p99(1));
    let s4change = (slow / base - 1.0) * 100.0;
    if !s4[0].is_empty() {
        println!(
            "4    slow reader (lanchat): p99 {base:.2} ms without, {slow:.2} ms with one client that never reads: {s4change:+.1}%"
        );
    }
    if let Some((listen_s, first_s, join_s)) = s5 {
        println!(
            "5    cold start (lanchat): listening after {:.1} ms, first client registered after {:.1} ms; JOIN with 100 history lines: {:.2} ms",
            listen_s * 1e3,
            first_s * 1e3,
            join_s * 1e3
        );
    }
    let s8avg = |i: usize, key: &str| mean(&s8[i].iter().map(|j| field(j, key)).collect::<Vec<_>>());
    let s8change = (s8avg(1, "p99_us") / s8avg(0, "p99_us") - 1.0) * 100.0;
    if !s8[0].is_empty() {
        println!(
            "8    scenario 1 beside 100 slowloris + 100 silent (on the IRC, TLS and web ports in turn) + 10 non-reading clients (lanchat):"
        );
        println!("{:<4} {:<26} {:>12} {:>12} {:>12}", "8", "figure", "alone", "beside them", "+10 members");
        for (label, key, scale, prec) in [
            ("delivered msgs/s", "msgs_per_s", 1.0, 0),
            ("latency p50 (ms)", "p50_us", 1e-3, 2),
            ("latency p99 (ms)", "p99_us", 1e-3, 2),
            ("latency max (ms)", "max_us", 1e-3, 2),
            ("server CPU (s)", "server_cpu_s", 1.0, 2),
        ] {
            let (a, b, c) = (s8avg(0, key) * scale, s8avg(1, key) * scale, s8avg(2, key) * scale);
            println!("{:<4} {label:<26} {a:>12.prec$} {b:>12.prec$} {c:>12.prec$}", "8");
        }
        let members = (s8avg(1, "p99_us") / s8avg(2, "p99_us") - 1.0) * 100.0;
        println!(
            "8    p99 change beside them: {s8change:+.1}% against scenario 1 alone, {members:+.1}% against 10 more members that read"
        );
    }
    if let Some(j) = &s10 {
        println!(
            "10   canvas (lanchat): {:.0} segments drawn in {:.1} s, relayed to {:.0} watchers: server CPU {:.1} µs a segment ({:.1} s); a joiner got {:.0} bytes in {:.1} ms",
            field(j, "segments"),
            field(j, "draw_s"),
            field(j, "watchers"),
            field(j, "cpu_us_per_segment"),
            field(j, "server_cpu_s"),
            field(j, "joiner_bytes"),
            field(j, "joiner_ms")
        );
    }
    // The worst run is the figure: a pause is what a user notices.
    let s7lock = s7.iter().map(|p| p.lock_ms).fold(f64::NAN, f64::max);
    let s7max = s7.iter().map(|p| p.max_ms).fold(f64::NAN, f64::max);
    let s7p99 = s7.iter().map(|p| p.p99_ms).fold(f64::NAN, f64::max);
    let s7seen = s7.iter().map(|p| p.compactions).min().unwrap_or(0);
    if !s7.is_empty() {
        let runs = s7.len();
        println!(
            "7    journal compaction, fsync +500 ms (lanchat), worst of {runs} runs: relaying stopped {s7lock:.3} ms (state lock held, server's log); longest delay end to end {s7max:.1} ms, p99 {s7p99:.2} ms; {s7seen} compaction(s) seen (fewest in a run)"
        );
    }

    // ---- notes and targets ----
    println!();
    for (si, _) in scenarios.iter().enumerate() {
        for (k, kind) in servers.iter().enumerate() {
            for j in &results[si][k] {
                if field(j, "gen_cpu_s") > field(j, "server_cpu_s") {
                    println!(
                        "note: scenario {} on {kind}: the generator used more CPU ({:.2}s) than the server ({:.2}s): the generator may be the bottleneck",
                        scenarios[si].0,
                        field(j, "gen_cpu_s"),
                        field(j, "server_cpu_s")
                    );
                }
                if field(j, "lost") != 0.0 || field(j, "errors") != 0.0 {
                    println!("WARNING: scenario {} on {kind}: lost deliveries or errors: {j}", scenarios[si].0);
                }
            }
        }
    }
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    if servers.len() > 1 {
        let p = &servers[1];
        for (si, (name, _, _)) in scenarios.iter().enumerate().filter(|(si, s)| ran(*si) && !idle(&s.0) && s.0 != "9") {
            if results[si][1].is_empty() {
                continue;
            }
            let ratio = avg(si, 0, "msgs_per_s") / avg(si, 1, "msgs_per_s");
            let (l99, p99) = (avg(si, 0, "p99_us"), avg(si, 1, "p99_us"));
            println!("target: scenario {name} msgs/s >= 2x {p}: {ratio:.2}x: {}", verdict(ratio >= 2.0));
            println!(
                "target: scenario {name} p99 <= {p}'s: {:.2} vs {:.2} ms: {}",
                l99 / 1e3,
                p99 / 1e3,
                verdict(l99 <= p99)
            );
        }
    }
    if let Some(w) = scenarios.iter().position(|s| s.0 == "2w").filter(|&w| ran(w) && ran(1)) {
        let ratio = avg(w, 0, "msgs_per_s") / avg(1, 0, "msgs_per_s");
        println!(
            "target: scenario 2w msgs/s within 25% of scenario 2 (TCP): {:.0} vs {:.0}, {ratio:.2}x: {}",
            avg(w, 0, "msgs_per_s"),
            avg(1, 0, "msgs_per_s"),
            verdict(ratio >= 0.75)
        );
    }
    if ran(2) {
        let kib = (avg(2, 0, "rss_registered_kib") - avg(2, 0, "rss_idle_kib")) / 10_000.0;
        let held = results[2][0].iter().all(|j| field(j, "alive") == 10_000.0 && field(j, "errors") == 0.0);
        println!("target: scenario 3 <= 8 KiB per idle connection: {kib:.2} KiB: {}", verdict(kib <= 8.0));
        println!("target: scenario 3 10,000 connections held without error: {}", verdict(held));
    }
    if let Some(b) = scenarios.iter().position(|s| s.0 == "9").filter(|&b| ran(b)) {
        let all = results[b][0].iter().all(|j| field(j, "errors") == 0.0 && field(j, "alive") == 5000.0);
        println!("target: scenario 9 all 5,000 registered, none refused: {}", verdict(all));
        if !results[b].get(1).is_none_or(|r| r.is_empty()) {
            let (l, p) = (avg(b, 0, "connect_s"), avg(b, 1, "connect_s"));
            println!(
                "target: scenario 9 all registered no later than {}: {l:.3} vs {p:.3} s: {}",
                servers[1],
                verdict(l <= p)
            );
        }
    }
    if ran(0) {
        let peak = results[0][0].iter().map(|j| field(j, "hwm_kib")).fold(0.0, f64::max) / 1024.0;
        println!("target: scenario 1 peak RSS < 20 MiB: {peak:.1} MiB: {}", verdict(peak < 20.0));
    }
    if !s4[0].is_empty() {
        println!("target: scenario 4 p99 change <= 10%: {s4change:+.1}%: {}", verdict(s4change <= 10.0));
    }
    for j in s8.iter().flatten().filter(|j| field(j, "lost") != 0.0 || field(j, "errors") != 0.0) {
        println!("WARNING: scenario 8: lost deliveries or errors: {j}");
    }
    for j in s8[1].iter().filter(|j| field(j, "idle_closed") != 0.0) {
        println!("WARNING: scenario 8: the server closed slowloris connections during the run: {j}");
    }
    if !s8[0].is_empty() {
        println!("target: scenario 8 p99 change <= 10%: {s8change:+.1}%: {}", verdict(s8change <= 10.0));
    }
    if let Some(j) = &s10 {
        let (bytes, ms) = (field(j, "joiner_bytes"), field(j, "joiner_ms"));
        println!("target: scenario 10 a joiner's canvas <= 512 KiB: {bytes:.0} bytes: {}", verdict(bytes <= 524288.0));
        println!("target: scenario 10 a joiner's canvas in under 1 s: {ms:.1} ms: {}", verdict(ms < 1000.0));
    }
    for p in s7.iter().filter(|p| p.compactions == 0 || p.received < p.sent) {
        let (seen, got, sent) = (p.compactions, p.received, p.sent);
        println!("WARNING: scenario 7: {seen} compaction(s) seen, {got} of {sent} messages arrived");
    }
    if !s7.is_empty() {
        // NaN (a server that logs no lock time) fails the comparison: NOT MET.
        let ok = s7lock <= 5.0 && s7.iter().all(|p| p.compactions > 0 && p.received == p.sent);
        println!(
            "target: scenario 7 relay pause during a compaction <= 5 ms: {s7lock:.3} ms (end to end, with the machine's own jitter: {s7max:.1} ms): {}",
            verdict(ok)
        );
    }
}

//! Bursts (issue 15): a whole LAN connecting at the same moment, and
//! coming back after a server restart, against the real server process over
//! loopback. Slow and silent clients and half-open peers are in
//! tests/hardening.rs (and tests/server.rs) with the other faults.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Client, DEADLINE, Server};
use lanchat::client::{Command, ConnState, Event, Settings};

/// Connects and registers as `nick`; the socket stays open while it is held.
/// Err says how it failed.
fn register_once(addr: &SocketAddr, nick: &str) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(addr, DEADLINE).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(DEADLINE)).map_err(|e| e.to_string())?;
    (&s).write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :burst\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reader = BufReader::new(&s);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Err(format!("closed before 001 ({:?})", line.trim_end())),
            Ok(_) if line.contains(" 001 ") => break,
            Ok(_) => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    drop(reader);
    Ok(s)
}

/// The listening socket on `port`: its backlog and how many handshakes it
/// dropped because its queue was full (`ss`, from iproute2: the kernel
/// shows a socket's drop count nowhere else).
fn listener_backlog_and_drops(addr: &SocketAddr) -> (u64, u64) {
    let out = std::process::Command::new("ss")
        .args(["-Hltnm", "src", &addr.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run ss (Debian package iproute2; `make test` installs it): {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    // LISTEN 0 4096 127.0.0.1:PORT 0.0.0.0:* skmem:(r0,...,bl0,d0)
    let backlog = text.split_whitespace().nth(2).and_then(|b| b.parse().ok());
    let drops = text.rsplit(",d").next().and_then(|d| d.trim().trim_end_matches(')').parse().ok());
    match (backlog, drops) {
        (Some(b), Some(d)) if out.status.success() => (b, d),
        _ => panic!("cannot read the listener's backlog and drops from ss: {text:?}"),
    }
}

#[test]
fn two_thousand_clients_connecting_at_once_all_register() {
    const N: usize = 2000;
    // Our end holds 2,000 sockets too.
    let limit = lanchat::sys::raise_nofile(N as u64 + 256);
    assert!(limit == 0 || limit >= N as u64 + 64, "the open-file limit is {limit}: too low for {N} sockets");
    let s = Server::start(&["--max-per-ip", "5000"]);
    let addr: SocketAddr = s.addr().parse().unwrap();
    // Every thread waits at the barrier, then all connect at the same moment.
    let go = Arc::new(Barrier::new(N + 1));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let go = go.clone();
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    go.wait();
                    register_once(&addr, &format!("burst{i}"))
                })
                .unwrap()
        })
        .collect();
    go.wait();
    let started = Instant::now();
    let results: Vec<Result<TcpStream, String>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let took = started.elapsed();
    let mut failures: HashMap<String, usize> = HashMap::new();
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        *failures.entry(e.clone()).or_default() += 1;
    }
    let registered = results.iter().filter(|r| r.is_ok()).count();
    let (backlog, drops) = listener_backlog_and_drops(&addr);
    eprintln!("{registered} of {N} registered in {took:?}; listen backlog {backlog}, {drops} handshakes dropped");
    assert!(failures.is_empty(), "{} of {N} failed to register: {failures:?}", N - registered);
    // None had to wait for a retransmit either (a second, then three...).
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap_or_default();
    assert_eq!(
        drops,
        0,
        "the listen queue (backlog {backlog}; net.core.somaxconn {}) overflowed: {drops} handshakes dropped",
        somaxconn.trim()
    );
    // The server counts them all and still serves.
    let mut c = Client::register(&s.addr(), "after");
    c.send("LUSERS");
    let seen = c.sync();
    let users = format!(" 251 after :There are {} users", N + 1);
    assert!(seen.iter().any(|l| l.contains(&users)), "{seen:?}");
}

#[test]
fn clients_come_back_spread_out_after_a_server_restart() {
    const N: usize = 200;
    let mut s = Server::start(&["--max-per-ip", "1000"]);
    let addr = s.addr();
    // Each client reports the moments it is registered.
    let (tx, rx) = mpsc::channel::<(usize, Instant)>();
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let tx = tx.clone();
            let client = lanchat::client::spawn(move |ev| {
                if matches!(ev, Event::State(ConnState::Connected)) {
                    let _ = tx.send((i, Instant::now()));
                }
            });
            let (server, nick) = (addr.clone(), format!("back{i}"));
            client.send(Command::Connect(Settings {
                server,
                nick,
                channel: "#restart".into(),
                password: None,
                tls: false,
                pin: None,
            }));
            client
        })
        .collect();
    // Who connected by `end`, and when (the first time each, from `rx`).
    let gather = |end: Instant| {
        let mut at: HashMap<usize, Instant> = HashMap::new();
        while at.len() < N {
            match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok((i, t)) => {
                    at.entry(i).or_insert(t);
                }
                Err(_) => break,
            }
        }
        at
    };
    let first = gather(Instant::now() + DEADLINE);
    assert_eq!(first.len(), N, "only {} of {N} clients connected at first", first.len());
    let restarted = Instant::now();
    s.restart_same_port();
    let up = restarted.elapsed();
    let back = gather(restarted + Duration::from_secs(30));
    assert_eq!(back.len(), N, "only {} of {N} clients came back within 30 s of the restart", back.len());
    let mut times: Vec<Duration> = back.values().map(|t| t.duration_since(restarted)).collect();
    times.sort();
    let (earliest, latest) = (times[0], times[N - 1]);
    let per_second = times.iter().fold(HashMap::<u64, usize>::new(), |mut m, t| {
        *m.entry(t.as_secs()).or_default() += 1;
        m
    });
    eprintln!(
        "server back up in {up:?}; clients back from {earliest:?} to {latest:?}; per second since the restart: {:?}",
        {
            let mut v: Vec<_> = per_second.into_iter().collect();
            v.sort();
            v
        }
    );
    assert!(
        latest - earliest > Duration::from_secs(1),
        "all {N} came back within one second: {earliest:?} to {latest:?}"
    );
    for c in &clients {
        c.send(Command::Quit);
    }
}

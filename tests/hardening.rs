//! Hardening (issue 6): hostile input, faults and abuse, against the real
//! server process over loopback TCP. What tests/server.rs already covers
//! (forged prefix on one PRIVMSG, private message, password basics, per-IP
//! limit, flood, slow reader, a torn journal record) is not repeated here.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Client, DEADLINE, Server, Tmpfs, fill, joined, joined_caps, wait_until};
use lanchat::server::history::parse_record;

/// Open file descriptors of a process.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Every server log line that arrived so far.
fn drain_log(s: &Server) -> Vec<String> {
    s.log.try_iter().collect()
}

/// Joins `chan` with batch + server-time and returns the history replayed,
/// as the message texts, in order.
fn history_texts(addr: &str, nick: &str, chan: &str) -> Vec<String> {
    let mut c = Client::register_caps(addr, nick, &["batch", "server-time"]);
    c.send(&format!("JOIN {chan}"));
    c.expect_has(" 366 ");
    let mut got = Vec::new();
    // No history, no batch: the sync barrier tells.
    let first = c.sync();
    let Some(start) = first.iter().position(|l| l.contains(" BATCH +")) else {
        assert!(first.iter().all(|l| !l.contains("PRIVMSG")), "{first:?}");
        return got;
    };
    let mut rest: Vec<String> = first[start + 1..].to_vec();
    loop {
        for l in rest.drain(..) {
            if l.contains(" BATCH -") {
                return got;
            }
            if l.contains(" PRIVMSG ") {
                got.push(l.rsplit(" :").next().unwrap().to_string());
            }
        }
        rest.push(c.expect(|_| true));
    }
}

// ---- bad input ----------------------------------------------------------

#[test]
fn hostile_lines_get_errors_and_reach_no_one() {
    let s = Server::start(&["--flood-rate", "0"]);
    let addr = s.addr();
    let mut watcher = joined_caps(&addr, "watcher", "#h", &["message-tags", "server-time", "echo-message"]);
    let mut observer = Client::register(&addr, "observer");
    let mut mallory = joined(&addr, "mallory", "#h");

    enum Want {
        /// A numeric (or CAP NAK) containing this.
        Reply(&'static str),
        /// Exactly one reply containing this.
        Once(&'static str),
    }
    use Want::*;
    let many_tags: String = format!("@{} PRIVMSG #h :JUNK", vec!["+t=JUNK"; 10_000].join(";"));
    let small_tags: String = format!("@{} PRIVMSG #h :JUNK", vec!["+a"; 2700].join(";"));
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        ("NUL byte", b"PRIVMSG #h :JUNK\0nul\r\n".to_vec(), Reply(" 400 ")),
        ("bare CR", b"\rJUNK\r".to_vec(), Reply(" 421 mallory JUNK ")),
        ("100 KB without newline", [&b"JUNK".repeat(25_000)[..], b"\r\n"].concat(), Once(" 417 ")),
        ("invalid UTF-8 in tags", b"@+a=\xff PRIVMSG #h :JUNK\r\n".to_vec(), Reply(" INVALID_UTF8 ")),
        ("invalid UTF-8 in source", b":\xff PRIVMSG #h :JUNK\r\n".to_vec(), Reply(" INVALID_UTF8 ")),
        ("invalid UTF-8 in command", b"PRIV\xffMSG #h :JUNK\r\n".to_vec(), Reply(" INVALID_UTF8 ")),
        ("invalid UTF-8 in target", b"PRIVMSG #\xff :JUNK\r\n".to_vec(), Reply(" INVALID_UTF8 ")),
        ("invalid UTF-8 in text", b"PRIVMSG #h :JUNK\xc3\r\n".to_vec(), Reply(" INVALID_UTF8 ")),
        ("invalid UTF-8 in nick", b"NICK \xffJUNK\r\n".to_vec(), Reply(" INVALID_UTF8 ")),
        ("10,000 tags", format!("{many_tags}\r\n").into_bytes(), Reply(" 417 ")),
        ("2,700 client tags", format!("{small_tags}\r\n").into_bytes(), Reply(" 417 ")),
        ("spaces only", b"     \r\n".to_vec(), Reply(" 400 mallory * :Input has no command")),
        ("source only", b":JUNK\r\n".to_vec(), Reply(" 400 mallory * :Input has no command")),
        ("tags only", b"@JUNK=1\r\n".to_vec(), Reply(" 400 mallory * :Input has no command")),
        ("1,000-char nick", format!("NICK {}\r\n", "J".repeat(1000)).into_bytes(), Reply(" 417 ")),
        ("100-char nick", format!("NICK {}\r\n", "J".repeat(100)).into_bytes(), Reply(" 432 ")),
        ("numeric nick", b"NICK 12345\r\n".to_vec(), Reply(" 432 mallory 12345 ")),
        ("nick 0", b"NICK 0\r\n".to_vec(), Reply(" 432 ")),
        ("nick with colon", b"NICK :JUNK:x\r\n".to_vec(), Reply(" 432 ")),
        ("channel with comma", b"PRIVMSG #h,#JUNK :JUNK\r\n".to_vec(), Reply(" 403 ")),
        ("channel with BEL", b"JOIN #\x07JUNK\r\n".to_vec(), Reply(" 476 ")),
        ("channel with ESC", b"JOIN #JUNK\x1b[31m\r\n".to_vec(), Reply(" 476 ")),
        ("channel with colon", b"JOIN #JUNK:x\r\n".to_vec(), Reply(" 476 ")),
        ("channel of 200 chars", format!("JOIN #{}\r\n", "J".repeat(200)).into_bytes(), Reply(" 476 ")),
        ("PRIVMSG alone", b"PRIVMSG\r\n".to_vec(), Reply(" 411 ")),
        ("PRIVMSG empty target", b"PRIVMSG  :\r\n".to_vec(), Reply(" 411 ")),
        ("PRIVMSG no text", b"PRIVMSG #h\r\n".to_vec(), Reply(" 412 ")),
        ("TAGMSG no target", b"@+x=JUNK TAGMSG\r\n".to_vec(), Reply(" 411 ")),
        ("CAP junk", b"CAP JUNK\r\n".to_vec(), Reply(" 410 mallory JUNK ")),
        ("CAP alone", b"CAP\r\n".to_vec(), Reply(" 410 mallory * ")),
        ("CAP REQ junk", b"CAP REQ :JUNK \x01 -\r\n".to_vec(), Reply(" NAK ")),
        ("CAP REQ empty", b"CAP REQ\r\n".to_vec(), Reply(" NAK ")),
        ("CAP REQ invalid UTF-8", b"CAP REQ :\xfe\r\n".to_vec(), Reply(" INVALID_UTF8 ")),
        (
            "bad stroke",
            b"@+lanchat/stroke=JUNK TAGMSG #h\r\n".to_vec(),
            Reply(" 400 mallory TAGMSG :Invalid canvas stroke"),
        ),
        ("too many params", format!("PRIVMSG #h{} :JUNK\r\n", " JUNK".repeat(20)).into_bytes(), Reply(" 400 ")),
        ("PASS again", b"PASS JUNK\r\n".to_vec(), Reply(" 462 ")),
        ("USER again", b"USER JUNK 0 * :JUNK\r\n".to_vec(), Reply(" 462 ")),
        ("unknown command", b"JUNKJUNK a b c\r\n".to_vec(), Reply(" 421 ")),
    ];
    for (what, bytes, want) in &cases {
        mallory.send_raw(bytes);
        let seen = mallory.sync();
        match want {
            Reply(needle) => assert!(seen.iter().any(|l| l.contains(needle)), "{what}: no {needle:?} in {seen:?}"),
            Once(needle) => {
                let n = seen.iter().filter(|l| l.contains(needle)).count();
                assert_eq!(n, 1, "{what}: {n} replies with {needle:?}: {seen:?}");
            }
        }
        // The server still serves everyone else, and nobody saw the junk.
        assert!(observer.sync().is_empty(), "{what}: observer got something");
        let leaked = watcher.sync();
        assert!(leaked.iter().all(|l| !l.contains("JUNK") && !l.contains("junk")), "{what}: leaked {leaked:?}");
    }
    // Junk before registration is refused too, and leaks nowhere.
    let mut fresh = Client::connect(&addr);
    fresh.send_raw(b"PRIVMSG #h :JUNK\r\nJOIN #h\r\nNICK 9JUNK\r\nUSER\r\n\xff\xfe\r\n");
    let seen = fresh.sync();
    for needle in [
        " 451 * :You have not registered",
        " 432 * 9JUNK ",
        " 461 * USER ",
        "FAIL * INVALID_UTF8 :Input is not valid UTF-8",
    ] {
        assert!(seen.iter().any(|l| l.contains(needle)), "no {needle:?} in {seen:?}");
    }
    assert!(watcher.sync().iter().all(|l| !l.contains("JUNK")));
    // mallory is still in good standing and can talk.
    mallory.send("PRIVMSG #h :a clean line");
    assert_eq!(
        watcher.expect_has("PRIVMSG").split_once(' ').unwrap().1,
        ":mallory!mallory@127.0.0.1 PRIVMSG #h :a clean line"
    );
}

#[test]
fn endless_input_does_not_starve_other_clients() {
    // Defaults: the flood limit is on, yet empty lines and an endless line
    // never reach it. More attackers than executor threads.
    let s = Server::start(&[]);
    let addr = s.addr();
    let mut a = joined(&addr, "alice", "#calm");
    let mut b = joined(&addr, "bob", "#calm");
    let stop = Arc::new(AtomicBool::new(false));
    let pushed = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..4)
        .map(|i| {
            let (addr, stop, pushed) = (addr.clone(), stop.clone(), pushed.clone());
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&addr).unwrap();
                let chunk = if i % 2 == 0 { b"\r\n".repeat(8192) } else { b"JUNK".repeat(4096) };
                let mut sent = 0usize;
                while !stop.load(Ordering::Relaxed) && c.write_all(&chunk).is_ok() {
                    sent += chunk.len();
                    pushed.fetch_add(chunk.len(), Ordering::Relaxed);
                }
                sent
            })
        })
        .collect();
    // Once the server has taken in a good deal of it, chat.
    wait_until("the attack to be under way", || pushed.load(Ordering::Relaxed) > 4_000_000);
    let started = Instant::now();
    for i in 0..20 {
        a.send(&format!("PRIVMSG #calm :calm {i}"));
        b.expect_has(&format!(":calm {i}"));
    }
    let mut probe = Client::register(&addr, "probe");
    probe.sync();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in attackers {
        t.join().unwrap();
    }
    assert!(took < Duration::from_secs(5), "20 messages and a registration took {took:?} under attack");
}

// ---- faults ---------------------------------------------------------------

/// One client of the kill -9 test: registers with echo-message, joins, then
/// writes as fast as it can while recording which of its messages came
/// back as echoes (the server's acknowledgement).
fn blaster(addr: String, round: usize, i: usize, joined: Arc<Barrier>, acked_total: Arc<AtomicUsize>) -> Vec<String> {
    let stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let nick = format!("b{i}");
    write!(w, "CAP REQ :echo-message\r\nNICK {nick}\r\nUSER {nick} 0 * :x\r\nCAP END\r\nJOIN #r{round}\r\n").unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "{nick}: closed before joining");
        if line.contains(" 366 ") {
            break;
        }
    }
    joined.wait();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut batch = String::new();
                for _ in 0..16 {
                    batch.push_str(&format!("PRIVMSG #r{round} :r{round} {nick} m{n}\r\n"));
                    n += 1;
                }
                if w.write_all(batch.as_bytes()).is_err() {
                    break;
                }
            }
        })
    };
    let me = format!(":b{i}!");
    let mut acked = Vec::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(n) if n > 0 && line.ends_with('\n') => {
                if line.starts_with(&me) && line.contains(" PRIVMSG ") {
                    acked.push(line.trim_end().rsplit(" :").next().unwrap().to_string());
                    acked_total.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    acked
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_message() {
    let mut s = Server::start(&[
        "--history", "1000000", "--journal-max", "1000000000", "--flood-rate", "0", "--sendq", "100000000",
    ]);
    let journal = s.data_dir.join("history.journal");
    let mut all_acked: HashMap<usize, Vec<String>> = HashMap::new();
    let mut torn_tails = 0;
    for round in 0..20 {
        let total = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(11));
        let threads: Vec<_> = (0..10)
            .map(|i| {
                let (addr, barrier, total) = (s.addr(), barrier.clone(), total.clone());
                std::thread::spawn(move || blaster(addr, round, i, barrier, total))
            })
            .collect();
        barrier.wait();
        // Kill at a different point each round, while all ten are writing.
        let target = 100 + (round * 97) % 700;
        wait_until("acknowledged messages", || total.load(Ordering::Relaxed) >= target);
        s.kill9();
        let acked: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert!(acked.len() >= target);
        // As the kill left it: every complete line intact, at most the last one torn.
        let raw = std::fs::read(&journal).unwrap();
        torn_tails += usize::from(!raw.is_empty() && !raw.ends_with(b"\n"));
        let complete = raw.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for rec in raw[..complete].split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
            assert!(parse_record(rec).is_some(), "round {round}: corrupt record {:?}", String::from_utf8_lossy(rec));
        }
        s.restart();
        // After the restart, every line in the journal is intact.
        let raw = std::fs::read(&journal).unwrap();
        assert!(raw.is_empty() || raw.ends_with(b"\n"), "round {round}: torn tail kept");
        let mut records = HashSet::new();
        for rec in raw.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
            let (_, _, _, line) = parse_record(rec)
                .unwrap_or_else(|| panic!("round {round}: corrupt record {:?}", String::from_utf8_lossy(rec)));
            assert!(records.insert(line.to_string()), "round {round}: duplicated record {line}");
        }
        // Every acknowledged message is in history, once.
        let history = history_texts(&s.addr(), "reader", &format!("#r{round}"));
        let unique: HashSet<&String> = history.iter().collect();
        assert_eq!(unique.len(), history.len(), "round {round}: duplicates in history");
        let missing: Vec<&String> = acked.iter().filter(|a| !unique.contains(a)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged messages lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        all_acked.insert(round, acked);
    }
    // Earlier rounds' messages are all still there after the later kills.
    for round in [0, 9, 19] {
        let history: HashSet<String> =
            history_texts(&s.addr(), &format!("late{round}"), &format!("#r{round}")).into_iter().collect();
        assert!(all_acked[&round].iter().all(|a| history.contains(a)), "round {round} lost messages later");
    }
    eprintln!(
        "kill -9 x20: {} acknowledged messages, {torn_tails} torn tail(s) repaired",
        all_acked.values().map(Vec::len).sum::<usize>()
    );
}

#[test]
#[ignore = "needs root to mount a tmpfs; `make test` runs it"]
fn full_disk_keeps_relaying_logs_once_and_recovers_by_itself() {
    let fs = Tmpfs::mount("64k");
    let mut s = Server::start_in(&fs.0, &["--history", "10000", "--journal-max", "100000000", "--flood-rate", "0"]);
    let addr = s.addr();
    let mut a = joined_caps(&addr, "alice", "#full", &["echo-message"]);
    let mut b = joined(&addr, "bob", "#full");
    a.send("PRIVMSG #full :before the disk filled");
    b.expect_has(":before the disk filled");
    let filler = fill(&fs.0);
    // Talk until the journal write fails; every line is still relayed.
    let mut sent = vec!["before the disk filled".to_string()];
    let mut log = Vec::new();
    for i in 0.. {
        assert!(i < 2000, "the journal never failed on a full disk");
        let text = format!("while full {i} {}", "x".repeat(100));
        a.send(&format!("PRIVMSG #full :{text}"));
        a.expect_has(&text);
        b.expect_has(&text);
        sent.push(text);
        log.extend(drain_log(&s));
        if log.iter().any(|l| l.contains("cannot write the journal")) {
            break;
        }
    }
    for i in 0..30 {
        let text = format!("after the failure {i}");
        a.send(&format!("PRIVMSG #full :{text}"));
        a.expect_has(&text);
        b.expect_has(&text);
        sent.push(text);
    }
    // Space comes back; nobody talks: the server must notice by itself.
    std::fs::remove_file(&filler).unwrap();
    log.push(s.expect_log("writable again"));
    log.extend(drain_log(&s));
    let errors: Vec<&String> = log.iter().filter(|l| l.contains("ERROR") || l.contains("cannot write")).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("history.journal") || errors[0].contains(&fs.0.display().to_string()), "{errors:?}");
    a.send("PRIVMSG #full :once it recovered");
    b.expect_has(":once it recovered");
    sent.push("once it recovered".into());
    // What was acknowledged during the outage reached the disk.
    s.kill9();
    s.restart();
    let history = history_texts(&s.addr(), "carol", "#full");
    assert_eq!(history, sent);
}

/// The server's log up to "listening on", from a run of its own.
fn startup_log(dir: &Path, args: &[&str]) -> Vec<String> {
    let cmd = common::server_command();
    let mut child = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .args(["--serve", "--bind", "127.0.0.1", "--port", "0", "--no-web", "--data-dir"])
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("listening on ");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.last().is_some_and(|l| l.contains("listening on ")), "the server did not start: {lines:?}");
    lines
}

fn remount(dir: &Path, mode: &str) {
    let ok = std::process::Command::new("mount").args(["-o", &format!("remount,{mode}")]).arg(dir).status();
    assert!(ok.is_ok_and(|s| s.success()), "remount {mode} {}", dir.display());
}

#[test]
#[ignore = "needs root to mount a tmpfs; `make test` runs it"]
fn read_only_data_dir_keeps_relaying_and_recovers_by_itself() {
    let fs = Tmpfs::mount("1m");
    let flags = ["--history", "1000", "--flood-rate", "0"];
    let mut s = Server::start_in(&fs.0, &flags);
    {
        let mut a = joined_caps(&s.addr(), "alice", "#ro", &["echo-message"]);
        a.send("PRIVMSG #ro :written before");
        a.expect_has(":written before");
    }
    // The card went read-only (as ext4 does on errors) and the server restarted.
    s.kill9();
    remount(&fs.0, "ro");
    // It starts, saying why history is not written (the harness skips the
    // start-up log, so read it here once).
    let startup = startup_log(&fs.0, &flags);
    // One line for each journal: the history's and the canvas's.
    let errors: Vec<&String> = startup.iter().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 2, "{startup:?}");
    for (e, journal) in errors.iter().zip(["history:", "canvas:"]) {
        assert!(e.contains(journal) && e.contains("cannot write the journal") && e.contains("Read-only"), "{errors:?}");
    }
    s.restart();
    let addr = s.addr();
    let mut a = joined_caps(&addr, "alice", "#ro", &["echo-message"]);
    let mut b = joined(&addr, "bob", "#ro");
    let mut sent = vec!["written before".to_string()];
    for i in 0..10 {
        let text = format!("while read-only {i}");
        a.send(&format!("PRIVMSG #ro :{text}"));
        a.expect_has(&text);
        b.expect_has(&text);
        sent.push(text);
    }
    assert_eq!(history_texts(&addr, "carol", "#ro"), sent, "history is served from memory");
    remount(&fs.0, "rw");
    let mut log = vec![s.expect_log("writable again")];
    log.extend(drain_log(&s));
    assert!(log.iter().all(|l| !l.contains("ERROR")), "{log:?}");
    s.kill9();
    s.restart();
    assert_eq!(history_texts(&s.addr(), "dave", "#ro"), sent);
}

#[test]
fn vanished_clients_are_removed_and_announced_within_the_ping_timeout() {
    let s = Server::start(&["--ping-timeout", "2"]);
    let addr = s.addr();
    let mut a = joined(&addr, "alice", "#v");
    // RST: close with unread data in the receive buffer.
    let rudy = TcpStream::connect(&addr).unwrap();
    (&rudy).write_all(b"NICK rudy\r\nUSER rudy 0 * :r\r\nJOIN #v\r\n").unwrap();
    a.expect_has(":rudy!rudy@127.0.0.1 JOIN #v");
    let mut byte = [0u8; 1];
    rudy.peek(&mut byte).unwrap();
    let gone = Instant::now();
    drop(rudy);
    let quit = a.expect_has("rudy!rudy@127.0.0.1 QUIT");
    assert!(gone.elapsed() < Duration::from_secs(1), "RST noticed after {:?}", gone.elapsed());
    assert!(quit.contains("Connection reset") || quit.contains("Read error") || quit.contains("closed"), "{quit}");
    // Half-open: the peer is gone without a FIN or RST, so nothing ever
    // comes back; the socket stays open and is never read. The server has
    // output for it all along (alice talks), yet must give up in time.
    let ghost = TcpStream::connect(&addr).unwrap();
    (&ghost).write_all(b"NICK ghost\r\nUSER ghost 0 * :g\r\nJOIN #v\r\n").unwrap();
    a.expect_has(":ghost!ghost@127.0.0.1 JOIN #v");
    let silent_since = Instant::now();
    for i in 0..5 {
        a.send(&format!("PRIVMSG #v :anyone there {i}"));
    }
    let quit = a.expect_has("ghost!ghost@127.0.0.1 QUIT");
    let took = silent_since.elapsed();
    assert!(quit.ends_with("QUIT :Ping timeout: 2 seconds"), "{quit}");
    assert!(took < Duration::from_secs(4), "half-open client removed after {took:?}");
    a.send("NAMES #v");
    let names = a.expect_has(" 353 ");
    assert!(!names.contains("ghost") && !names.contains("rudy"), "{names}");
    drop(ghost);
}

/// A network namespace and a veth pair of the test's own, with a /30 of
/// 10.213.0.0/16 on them that exists nowhere else; both go on drop,
/// whatever happened. Root only (`make test` runs it as root).
struct Netns {
    name: String,
    host_if: String,
    ns_if: String,
    host_ip: String,
    ns_ip: String,
}

impl Netns {
    fn create() -> Netns {
        let id = std::process::id() % 16384;
        let (net, host) = (format!("10.213.{}", id / 64), (id % 64) * 4);
        let ns = Netns {
            name: format!("lanchat-t{id}"),
            host_if: format!("lct{id}h"),
            ns_if: format!("lct{id}n"),
            host_ip: format!("{net}.{}", host + 1),
            ns_ip: format!("{net}.{}", host + 2),
        };
        // Made before the first command, so a half-made set-up is removed too.
        let (name, host_if, ns_if) = (ns.name.as_str(), ns.host_if.as_str(), ns.ns_if.as_str());
        let (host_cidr, ns_cidr) = (format!("{}/30", ns.host_ip), format!("{}/30", ns.ns_ip));
        ip(&["netns", "add", name]);
        ip(&["link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", name]);
        ip(&["addr", "add", &host_cidr, "dev", host_if]);
        ip(&["link", "set", host_if, "up"]);
        ns.exec(&["addr", "add", &ns_cidr, "dev", ns_if]);
        ns.exec(&["link", "set", ns_if, "up"]);
        ns
    }

    /// `ip ARGS` inside the namespace.
    fn exec(&self, args: &[&str]) {
        ip(&[&["netns", "exec", &self.name, "ip"][..], args].concat());
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        let quiet = |args: &[&str]| {
            let _ = std::process::Command::new("ip").args(args).stderr(std::process::Stdio::null()).status();
        };
        quiet(&["link", "del", &self.host_if]);
        quiet(&["netns", "del", &self.name]);
    }
}

/// Runs `ip ARGS`; panics with what it said if it fails.
fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (Debian package iproute2; `make test` installs it): {e}"));
    assert!(
        out.status.success(),
        "ip {} failed (this test needs root to create a network namespace): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A process that is killed and reaped on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real half-open peer: a client in a network namespace of the test's
/// own registers, joins and answers PINGs; then its link goes down and the
/// client process dies, so its FIN never leaves the namespace. The server
/// must notice by the ping timeout alone. (The loopback test above stands
/// in for this without root: a socket kept open but never read.)
#[test]
#[ignore = "needs root: creates a network namespace; `make test` runs it"]
fn a_peer_that_vanishes_without_fin_or_rst_is_removed_within_the_ping_timeout() {
    let ns = Netns::create();
    let s = Server::start(&["--bind", &ns.host_ip, "--ping-timeout", "4"]);
    let addr = format!("{}:{}", ns.host_ip, s.port);
    let mut a = joined(&addr, "alice", "#ns");
    // From inside the namespace: register, join, answer every PING and say so.
    let script = format!(
        r#"exec 3<>/dev/tcp/{}/{}
printf 'NICK ghost\r\nUSER ghost 0 * :g\r\nJOIN #ns\r\n' >&3
while IFS= read -r line <&3; do
  case "$line" in PING*) printf 'PONG %s\n' "${{line#PING }}" >&3; echo answered;; esac
done"#,
        ns.host_ip, s.port
    );
    let ghost = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, "bash", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run ip netns exec");
    let mut ghost = Killed(ghost);
    let mut said = BufReader::new(ghost.0.stdout.take().unwrap()).lines();
    a.expect_has(&format!(":ghost!ghost@{} JOIN #ns", ns.ns_ip));
    // Alive and answering: the server's PING (at half the timeout) got its PONG.
    assert_eq!(said.next().and_then(Result::ok).as_deref(), Some("answered"), "the ghost never answered a PING");
    // The link goes down, then the process dies: no FIN, no RST reaches the server.
    ns.exec(&["link", "set", &ns.ns_if, "down"]);
    let gone = Instant::now();
    drop(ghost);
    for i in 0..5 {
        a.send(&format!("PRIVMSG #ns :anyone there {i}"));
    }
    let quit = a.expect_has(&format!("ghost!ghost@{} QUIT", ns.ns_ip));
    let took = gone.elapsed();
    // By the ping timeout, not TCP's own (minutes of retransmits).
    assert!(quit.ends_with("QUIT :Ping timeout: 4 seconds"), "{quit}");
    a.send("NAMES #ns");
    let names = a.expect_has(" 353 ");
    assert!(!names.contains("ghost"), "{names}");
    eprintln!("the vanished peer was removed {took:?} after its link went down");
}

/// Slowloris: bytes that trickle in, a line that never ends. Before
/// registering, they must not stretch the registration deadline; after,
/// they are not an answer to PING, so the ping timeout still applies. (A
/// silent client and one that never reads are in tests/server.rs:
/// `registration_and_ping_timeouts_close_dead_connections`,
/// `slow_reader_is_disconnected_and_others_keep_receiving`.)
#[test]
fn trickled_bytes_extend_neither_the_registration_nor_the_ping_deadline() {
    let s = Server::start(&["--register-timeout", "2", "--ping-timeout", "4"]);
    let addr = s.addr();
    let mut a = joined(&addr, "alice", "#slow");
    let mut b = joined(&addr, "bob", "#slow");
    let early = TcpStream::connect(&addr).unwrap();
    let early_peer = early.local_addr().unwrap();
    let late = TcpStream::connect(&addr).unwrap();
    (&late).write_all(b"NICK late\r\nUSER late 0 * :l\r\nJOIN #slow\r\n").unwrap();
    b.expect_has(":late!late@127.0.0.1 JOIN #slow");
    let since = Instant::now();
    // A byte a second to each (a tenth of the deadlines), until the server
    // has closed both or the test gives up; a tick per round.
    let (tick, ticks) = std::sync::mpsc::channel::<usize>();
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut socks = [Some(early), Some(late)];
            let text: &[u8] = b"NICK slowpoke-who-never-ends-the-line";
            for i in 0.. {
                for sock in &mut socks {
                    if sock.as_mut().is_some_and(|s| s.write_all(&text[i % text.len()..][..1]).is_err()) {
                        *sock = None;
                    }
                }
                if socks.iter().all(Option::is_none) || stop.load(Ordering::Relaxed) || tick.send(i).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    // Meanwhile the others chat, a line per tick, until the late one is gone.
    let mut quit = None;
    while quit.is_none() && since.elapsed() < DEADLINE {
        let Ok(i) = ticks.recv_timeout(DEADLINE) else { break };
        a.send(&format!("PRIVMSG #slow :tick {i}"));
        let l = b.expect(|l| l.ends_with(&format!(":tick {i}")) || l.contains(" QUIT "));
        if l.contains(" QUIT ") {
            quit = Some(l);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let took = since.elapsed();
    let quit = quit.expect("a client trickling bytes after registering was never timed out");
    // Cut off by the ping timeout itself, however long the trickle went on.
    assert_eq!(quit, ":late!late@127.0.0.1 QUIT :Ping timeout: 4 seconds");
    eprintln!("the trickling client was cut off {took:?} after it registered");
    // The early one was cut off at its registration deadline, trickle or not.
    s.expect_log(&format!("{early_peer}: disconnected (*): Registration timeout"));
    trickler.join().unwrap();
    a.send("PRIVMSG #slow :still here");
    b.expect_has(":still here");
}

#[test]
fn connection_burst_and_idle_connections_leak_no_descriptors() {
    let s = Server::start(&["--register-timeout", "1", "--max-per-ip", "5000"]);
    let addr = s.addr();
    let mut a = Client::register(&addr, "alice");
    a.sync();
    let base = fd_count(s.pid());
    assert!(base > 0);
    // 2,000 connections opened and dropped at once.
    // 2,000 connections opened at once from ten threads, then dropped.
    let threads: Vec<_> = (0..10)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || (0..200).map(|_| TcpStream::connect(&addr).unwrap()).collect::<Vec<_>>())
        })
        .collect();
    let burst: Vec<TcpStream> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(burst.len(), 2000);
    drop(burst);
    wait_until("the server to close the burst", || fd_count(s.pid()) <= base);
    // 300 that connect and never register, some half-sending a line.
    let mut idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    for (i, c) in idle.iter_mut().enumerate() {
        if i % 3 == 0 {
            let _ = c.write_all(b"NICK idl");
        }
    }
    // Each is cut off by the registration timeout, with an ERROR.
    for c in &mut idle {
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut text = String::new();
        let _ = c.read_to_string(&mut text);
        assert!(text.contains("ERROR :Closing Link: 127.0.0.1 (Registration timeout)"), "{text:?}");
    }
    drop(idle);
    wait_until("the server's descriptors to come back to their count", || fd_count(s.pid()) <= base);
    // Still serving, and it counts no stray connection.
    a.send("LUSERS");
    let seen = a.sync();
    assert!(seen.iter().any(|l| l.contains(" 251 alice :There are 1 users")), "{seen:?}");
    assert!(seen.iter().all(|l| !l.contains(" 253 ")), "{seen:?}");
}

#[test]
#[ignore = "needs prlimit (util-linux); `make test` runs it"]
fn running_out_of_descriptors_is_survived() {
    let s = Server::start(&["--max-per-ip", "5000", "--register-timeout", "30"]);
    let addr = s.addr();
    // A small descriptor limit, as on a stock service unit.
    let pid = format!("--pid={}", s.pid());
    let limited = std::process::Command::new("prlimit").args([pid.as_str(), "--nofile=200:200"]).status();
    assert!(
        limited.as_ref().is_ok_and(|st| st.success()),
        "prlimit (util-linux) could not lower the server's descriptor limit: {limited:?}"
    );
    let mut a = joined(&addr, "alice", "#fd");
    let mut b = joined(&addr, "bob", "#fd");
    let base = fd_count(s.pid());
    // More connections than descriptors, all held open at once.
    // (300: past the limit, within what the listen backlog holds besides.)
    let hogs: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    wait_until("the server to run out of descriptors", || fd_count(s.pid()) >= 195);
    // Those already connected are still served meanwhile.
    a.send("PRIVMSG #fd :still here");
    b.expect_has(":still here");
    drop(hogs);
    // Once they are gone, the backlog drains and everything works again.
    wait_until("the descriptors to come back", || fd_count(s.pid()) <= base);
    let mut c = joined(&addr, "carol", "#fd");
    a.send("PRIVMSG #fd :all good");
    b.expect_has(":all good");
    c.expect_has(":all good");
    let errors: Vec<String> = drain_log(&s).into_iter().filter(|l| l.contains("accept failed")).collect();
    assert!(!errors.is_empty(), "the limit was never hit");
    assert!(errors.len() <= 100, "{} accept errors logged", errors.len());
}

// ---- security -------------------------------------------------------------

#[test]
fn one_host_cannot_exhaust_the_server() {
    let s = Server::start(&["--max-per-ip", "3", "--register-timeout", "2"]);
    let addr = s.addr();
    let base = fd_count(s.pid());
    let started = Instant::now();
    let mut hogs: Vec<Client> = (0..3).map(|_| Client::connect(&addr)).collect();
    for h in &mut hogs {
        h.sync();
    }
    // Every connection past the limit is refused with ERROR and closed.
    // (Fewer than the listen backlog, so none waits on a SYN retransmit
    // long enough to outlive the hogs.)
    let mut extra: Vec<Client> = (0..50).map(|_| Client::connect(&addr)).collect();
    for e in &mut extra {
        let lines = e.expect_closed();
        assert!(lines.iter().any(|l| l.contains("Too many connections from your address")), "{lines:?}");
    }
    drop(extra);
    // The hogs never register, so the timeout frees their slots.
    for h in &mut hogs {
        let lines = h.expect_closed();
        assert!(lines.iter().any(|l| l.contains("Registration timeout")), "{lines:?}");
    }
    assert!(started.elapsed() >= Duration::from_millis(1900));
    wait_until("the refused and timed-out connections' descriptors to close", || fd_count(s.pid()) <= base);
    let mut ok = Client::register(&addr, "fine");
    ok.sync();
}

#[test]
fn every_relayed_line_carries_the_senders_true_source() {
    let s = Server::start(&["--flood-rate", "0"]);
    let addr = s.addr();
    let mut m = joined_caps(&addr, "mallory", "#f", &["message-tags"]);
    let mut b = joined_caps(&addr, "bob", "#f", &["message-tags", "server-time"]);
    let mut c = joined(&addr, "carol", "#f");
    b.sync();
    m.sync();
    let forged = [
        ":alice!alice@127.0.0.1 PRIVMSG #f :forged 1",
        ":lanchat NOTICE #f :forged 2",
        "@time=2000-01-01T00:00:00.000Z;msgid=x;batch=y;+ok=1 :alice PRIVMSG bob :forged 3",
        "@+x=1 :alice!a@b TAGMSG #f",
        "@+x=a\\s:alice!a@b\\sPRIVMSG :alice PRIVMSG #f :forged 4",
        ":alice TOPIC #f :forged 5",
        ":alice NOTICE bob :forged 6",
        ":alice MODE #f +o bob",
        ":alice PART #f :forged 7",
        ":alice JOIN #f",
        ":alice!alice@lanchat NICK mal2",
        ":lanchat PRIVMSG #f :forged 8",
        ":alice QUIT :forged 9",
    ];
    for l in forged {
        m.send(l);
    }
    let end = Instant::now() + DEADLINE;
    for watcher in [&mut b, &mut c] {
        let mut from_m = Vec::new();
        loop {
            let l = watcher.read_line(end).expect("watcher closed");
            let bare = if l.starts_with('@') { l.split_once(' ').unwrap().1 } else { &l };
            if bare.starts_with(":lanchat ") {
                continue; // numerics to the watcher itself
            }
            assert!(
                bare.starts_with(":mallory!mallory@127.0.0.1 ") || bare.starts_with(":mal2!mallory@127.0.0.1 "),
                "{}: forged source: {l}",
                watcher.nick
            );
            assert!(!l.contains("2000-01-01") && !l.contains("msgid=x") && !l.contains("batch="), "forged tag: {l}");
            from_m.push(l.clone());
            if bare.contains(" QUIT ") {
                break;
            }
        }
        let count = |s: &str| from_m.iter().filter(|l| l.contains(s)).count();
        for n in [1, 2, 4, 5, 7, 8] {
            assert_eq!(count(&format!("forged {n}")), 1, "{}: {from_m:?}", watcher.nick);
        }
        assert_eq!(count("forged 3") + count("forged 6"), if watcher.nick == "bob" { 2 } else { 0 });
    }
}

#[test]
fn private_notice_and_tagmsg_reach_only_the_addressee() {
    let s = Server::start(&[]);
    let addr = s.addr();
    let all = ["message-tags", "echo-message", "server-time"];
    let mut a = joined_caps(&addr, "alice", "#p", &all);
    let mut b = joined_caps(&addr, "bob", "#p", &all);
    let mut others: Vec<Client> = ["carol", "dave", "erin"].iter().map(|n| joined_caps(&addr, n, "#p", &all)).collect();
    a.send("NOTICE bob :quiet word");
    a.send("@+typing=active TAGMSG bob");
    a.send("PRIVMSG bob :secret");
    assert!(b.expect_has("NOTICE").ends_with(":alice!alice@127.0.0.1 NOTICE bob :quiet word"));
    assert!(b.expect_has("TAGMSG").contains("+typing=active"));
    assert!(b.expect_has("PRIVMSG").ends_with(":alice!alice@127.0.0.1 PRIVMSG bob :secret"));
    for o in &mut others {
        let seen = o.sync();
        assert!(
            seen.iter().all(|l| !l.contains("quiet") && !l.contains("typing") && !l.contains("secret")),
            "{}: {seen:?}",
            o.nick
        );
    }
    // The sender gets exactly its own echoes, once each.
    let echoes = a.sync();
    assert_eq!(echoes.iter().filter(|l| l.contains(" bob ") || l.ends_with(" bob")).count(), 3, "{echoes:?}");
}

#[test]
fn with_a_password_nothing_else_is_accepted_before_registration() {
    let s = Server::start(&["--password", "s3cret"]);
    let addr = s.addr();
    let mut member = Client::connect(&addr);
    member.send("PASS s3cret");
    member.send("NICK alice");
    member.send("USER alice 0 * :A");
    member.expect_has(" 001 alice ");
    member.send("JOIN #inside");
    member.expect_has(" 366 ");
    let mut intruder = Client::connect(&addr);
    let refused = [
        "JOIN #secret",
        "PRIVMSG alice :hi",
        "PRIVMSG #inside :hi",
        "NOTICE alice :hi",
        "@+x=1 TAGMSG alice",
        "NAMES #inside",
        "LIST",
        "WHO #inside",
        "WHOIS alice",
        "ISON alice",
        "USERHOST alice",
        "TOPIC #inside :mine",
        "MODE #inside",
        "AWAY :x",
        "MOTD",
        "LUSERS",
        "VERSION",
        "TIME",
        "PART #inside",
        "PING x",
    ];
    for cmd in refused {
        intruder.send(cmd);
        let l = intruder.expect(|l| !l.starts_with("PING "));
        assert!(l.contains(" 451 * :You have not registered"), "{cmd}: {l}");
    }
    let seen = member.sync();
    assert!(seen.iter().all(|l| !l.contains("hi") && !l.contains("mine") && !l.contains("TAGMSG")), "{seen:?}");
    member.send("LIST");
    let list = member.sync();
    assert!(list.iter().all(|l| !l.contains("#secret")), "{list:?}");
    // CAP negotiation is allowed, but ending it without the password closes.
    intruder.send("CAP LS 302");
    intruder.expect_has(" CAP * LS ");
    intruder.send("NICK mallory");
    intruder.send("USER mallory 0 * :M");
    intruder.send("CAP END");
    let lines = intruder.expect_closed();
    assert!(lines.iter().any(|l| l.contains(" 464 ")), "{lines:?}");
    assert!(lines.last().unwrap().starts_with("ERROR :Closing Link"), "{lines:?}");
    // The right password after NICK and USER is too late.
    let mut late = Client::connect(&addr);
    late.send("NICK late");
    late.send("USER late 0 * :L");
    late.send("PASS s3cret");
    let lines = late.expect_closed();
    assert!(lines.iter().any(|l| l.contains(" 464 ")), "{lines:?}");
    // A password that only shares a prefix is wrong.
    let mut prefix = Client::connect(&addr);
    prefix.send("PASS s3cret2");
    prefix.send("NICK pre");
    prefix.send("USER pre 0 * :P");
    let lines = prefix.expect_closed();
    assert!(lines.iter().any(|l| l.contains(" 464 ")), "{lines:?}");
    assert!(member.sync().iter().all(|l| !l.contains("mallory") && !l.contains("late")));
}

#[test]
fn without_the_password_nobody_can_hold_a_nick() {
    let s = Server::start(&["--password", "s3cret"]);
    let addr = s.addr();
    // An outsider takes the nicks a member will want, and just waits.
    let mut squatter = Client::connect(&addr);
    squatter.send("NICK bob");
    squatter.send("PASS wrong");
    squatter.send("NICK carol");
    // (PING is refused before registration here; CAP LIST is the barrier.)
    squatter.send("CAP LIST");
    squatter.expect_has(" LIST ");
    for nick in ["bob", "carol"] {
        let mut member = Client::connect(&addr);
        member.send("PASS s3cret");
        member.send(&format!("NICK {nick}"));
        member.send(&format!("USER {nick} 0 * :M"));
        member.expect_has(&format!(" 001 {nick} "));
    }
    // The password given after NICK (but before USER) still claims the nick,
    // unless a member has it by then.
    let mut slow = Client::connect(&addr);
    slow.send("NICK dave");
    slow.send("PASS s3cret");
    slow.send("USER dave 0 * :D");
    slow.expect_has(" 001 dave ");
    let mut late = Client::connect(&addr);
    late.send("NICK dave");
    late.send("PASS s3cret");
    late.expect_has(" 433 * dave ");
    late.send("NICK erin");
    late.send("USER erin 0 * :E");
    late.expect_has(" 001 erin ");
    squatter.send("USER squat 0 * :S");
    let lines = squatter.expect_closed();
    assert!(lines.iter().any(|l| l.contains(" 464 ")), "{lines:?}");
}

#[test]
fn a_client_that_quits_without_reading_does_not_keep_its_socket() {
    // A huge sendq, so only the writer's stall limit (the ping timeout) can end it.
    let s = Server::start(&["--ping-timeout", "2", "--flood-rate", "0", "--sendq", "100000000"]);
    let base = fd_count(s.pid());
    let mut hog = Client::register(&s.addr(), "hog");
    // Messages to itself that it never reads: they fill the kernel's buffers, then its queue.
    let blob = format!("PRIVMSG hog :{}\r\n", "x".repeat(400)).repeat(1000);
    for _ in 0..30 {
        hog.send_raw(blob.as_bytes());
    }
    hog.send("QUIT :bye");
    s.expect_log("disconnected (hog): Quit: bye");
    // The socket goes within the stall limit although the peer still holds it open.
    wait_until("the departed client's socket to be closed", || fd_count(s.pid()) <= base);
    drop(hog);
}

#[test]
fn a_joiners_canvas_comes_in_one_piece_while_others_draw() {
    let s = Server::start(&["--flood-rate", "0"]);
    let mut drawer = joined_caps(&s.addr(), "drawer", "#art", &["message-tags"]);
    // Enough strokes for a snapshot and a full budget of kept ones.
    let mut blob = String::new();
    for i in 0..1500u32 {
        let (x, y, c) = (i * 37 % 1500, i * 53 % 900, i.wrapping_mul(2_654_435_761u32) & 0xff_ffff);
        let points = format!(",{x},{y},{},{},{},{}", x + 30, y + 20, x + 10, y + 60);
        blob.push_str(&format!("@+lanchat/stroke={i},{c:06x},9{points} TAGMSG #art\r\n"));
    }
    drawer.send_raw(blob.as_bytes());
    drawer.sync();
    let journal = s.data_dir.join("canvas.journal");
    wait_until("a fold into the snapshot", || std::fs::read_to_string(&journal).is_ok_and(|j| j.contains(" f #art ")));
    // Someone keeps drawing, stroke IDs counting up, while the joiner joins.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let live = {
        let (addr, stop) = (s.addr(), stop.clone());
        std::thread::spawn(move || {
            let mut live = joined_caps(&addr, "live", "#art", &["message-tags"]);
            let mut id = 1_000_000u32;
            // A few at a time, each batch answered: drawing, not flooding.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || id < 1_000_050 {
                for _ in 0..5 {
                    live.send(&format!("@+lanchat/stroke={id},0000ff,3,10,10,20,20 TAGMSG #art"));
                    id += 1;
                }
                live.sync();
            }
        })
    };
    drawer.expect_has("live!");
    let mut joiner = Client::register_caps(&s.addr(), "joiner", &["message-tags"]);
    joiner.send("JOIN #art");
    drawer.expect_has("joiner!");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    live.join().unwrap();
    let lines = joiner.sync();
    let first = lines.iter().position(|l| l.contains("+lanchat/snapshot=1/")).expect("a snapshot");
    let n: usize = lines[first].split("=1/").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(n > 1, "the snapshot has one piece only");
    // The pieces come one after the other, then the kept strokes: no live
    // stroke comes between, so the live IDs after the first piece only go up.
    for (k, l) in lines[first..first + n].iter().enumerate() {
        assert!(l.contains(&format!("+lanchat/snapshot={}/{n},", k + 1)), "{l}");
    }
    let ids: Vec<u32> = lines[first + n..]
        .iter()
        .filter_map(|l| l.strip_prefix("@+lanchat/stroke=")?.split(',').next()?.parse().ok())
        .filter(|&id| id >= 1_000_000)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "live strokes out of order or twice: {ids:?}");
}

//! IRC over TLS against the real server: a real TLS client (`openssl
//! s_client`) beside plain TCP clients, the certificate made once and kept,
//! and what a TLS port does with garbage. Needs the `tls` feature (the
//! Makefile's test-server runs it) and the `openssl` program (it installs it).
#![cfg(feature = "tls")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Client, DEADLINE, Server, temp_dir, tls_of};

/// An IRC client over TLS: `openssl s_client`, lines through its stdin and stdout.
struct TlsClient {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl TlsClient {
    fn connect(port: u16) -> TlsClient {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is needed for the TLS tests (apt-get install openssl)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim_end_matches('\r').to_string()).is_err() {
                    break;
                }
            }
        });
        TlsClient { child, stdin, lines }
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn expect_has(&self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            match self.lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => panic!("no line with {needle:?} over TLS"),
            }
        }
    }
}

impl Drop for TlsClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The certificate a TLS client is shown, as openssl's SHA-256 fingerprint.
fn served_fingerprint(port: u16) -> String {
    let shown = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{port} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        ))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&shown.stdout);
    out.trim().rsplit('=').next().unwrap().to_string()
}

#[test]
fn a_tls_client_chats_with_a_plain_one_and_sees_the_fingerprint() {
    let s = Server::start(&["--tls-port", "0", "--flood-rate", "0"]);
    let (port, fp) = tls_of(&s);
    assert_eq!(fp.len(), 95, "{fp}");
    assert_eq!(served_fingerprint(port), fp, "the log's fingerprint is the served certificate's");
    let mut secure = TlsClient::connect(port);
    secure.send("NICK sec");
    secure.send("USER sec 0 * :Secure");
    secure.expect_has(" 001 sec ");
    // The MOTD says where TLS is and how to check the certificate.
    let motd = secure.expect_has(" 372 sec ");
    assert!(motd.ends_with(&format!("TLS on port {port}, certificate SHA-256 {fp}")), "{motd}");
    secure.send("JOIN #mixed");
    secure.expect_has(" 366 ");
    let mut plain = Client::register(&s.addr(), "plain");
    plain.send("JOIN #mixed");
    plain.expect_has(" 366 ");
    secure.send("PRIVMSG #mixed :sent over TLS");
    plain.expect_has(":sec!sec@127.0.0.1 PRIVMSG #mixed :sent over TLS");
    plain.send("PRIVMSG #mixed :sent in the clear");
    secure.expect_has(":plain!plain@127.0.0.1 PRIVMSG #mixed :sent in the clear");
    // A large burst arrives whole: the writer flushes what TLS buffers.
    for i in 0..200 {
        plain.send(&format!("PRIVMSG #mixed :line {i} {}", "x".repeat(300)));
    }
    secure.expect_has(":line 199 ");
    // WHOIS says who is on TLS, and only them.
    plain.send("WHOIS sec");
    plain.expect_has(" 671 plain sec :is using a secure connection");
    plain.send("WHOIS plain");
    let seen = plain.sync();
    assert!(!seen.iter().any(|l| l.contains(" 671 ")), "{seen:?}");
    secure.send("QUIT :done");
    secure.expect_has("ERROR :Closing Link: 127.0.0.1 (Quit: done)");
}

#[test]
fn the_certificate_is_made_once_kept_private_and_survives_a_restart() {
    let dir = temp_dir("tls-keep");
    let first = tls_of(&Server::start_in(&dir, &["--tls-port", "0"])).1;
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.join("tls/key.pem")).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the key is the server user's alone");
    let again = Server::start_in(&dir, &["--tls-port", "0"]);
    assert_eq!(tls_of(&again).1, first, "a restart keeps the certificate");
}

#[test]
fn garbage_a_plain_line_or_a_stalled_handshake_on_the_tls_port_harm_nobody() {
    let s = Server::start(&["--tls-port", "0", "--register-timeout", "1"]);
    let (port, _) = tls_of(&s);
    let addr = format!("127.0.0.1:{port}");
    let closed = |mut c: TcpStream| {
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut buf = [0u8; 512];
        let started = Instant::now();
        loop {
            match std::io::Read::read(&mut c, &mut buf) {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    // A plain IRC line, and random bytes: refused at once.
    let mut plain_line = TcpStream::connect(&addr).unwrap();
    plain_line.write_all(b"NICK oops\r\nUSER a 0 * :b\r\n").unwrap();
    closed(plain_line);
    let mut garbage = TcpStream::connect(&addr).unwrap();
    garbage.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x42, 0x42, 0x42, 0x00, 0x13]).unwrap();
    closed(garbage);
    // A handshake that stops half-way: closed after the registration timeout.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    let waited = closed(stalled);
    assert!(waited < Duration::from_secs(10), "a stalled handshake held on for {waited:?}");
    // Meanwhile and after, both ports serve.
    let mut a = Client::register(&s.addr(), "still");
    let mut secure = TlsClient::connect(port);
    secure.send("NICK fine");
    secure.send("USER fine 0 * :F");
    secure.expect_has(" 001 fine ");
    a.send("PRIVMSG fine :hello");
    secure.expect_has(":still!still@127.0.0.1 PRIVMSG fine :hello");
}

#[test]
fn handshakes_in_progress_count_against_the_per_address_limit() {
    let s = Server::start(&["--tls-port", "0", "--max-per-ip", "2", "--register-timeout", "30"]);
    let (port, _) = tls_of(&s);
    let addr = format!("127.0.0.1:{port}");
    // Three handshakes that never start: the address's limit is two, so
    // exactly one of them is closed at once, whatever order they are taken in.
    let mut stalled: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    for c in &stalled {
        c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    }
    let refused = common::wait_for("one handshake refused", || {
        stalled.iter_mut().position(|c| matches!(std::io::Read::read(c, &mut [0u8; 64]), Ok(0)))
    });
    stalled.remove(refused);
    // The two still handshaking leave no room for a plain client either.
    let mut plain = Client::connect(&s.addr());
    plain.expect_has("ERROR :Closing Link: 127.0.0.1 (Too many connections from your address)");
    // Once they go, their places are given back.
    drop(stalled);
    common::wait_for("a plain client admitted again", || {
        let mut c = Client::connect(&s.addr());
        c.send("NICK back");
        c.send("USER back 0 * :Back");
        c.expect(|l| l.contains(" 001 back ") || l.starts_with("ERROR")).contains(" 001 ").then_some(())
    });
}

#[test]
fn without_the_plain_port_only_tls_is_served() {
    let dir = temp_dir("tls-only");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args([
            "--serve", "--bind", "127.0.0.1", "--no-plain", "--tls-port", "0", "--no-discovery", "--no-web",
            "--data-dir",
        ])
        .arg(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut port = None;
    for line in log.by_ref() {
        let line = line.unwrap();
        assert!(!line.contains("listening on "), "a plain port with --no-plain: {line}");
        if let Some(rest) = line.split("listening for TLS on ").nth(1) {
            port = rest.split(';').next().unwrap().rsplit(':').next().unwrap().parse::<u16>().ok();
        }
        if line.contains("history in") {
            break;
        }
    }
    let port = port.expect("no TLS port logged");
    let mut c = TlsClient::connect(port);
    c.send("NICK only");
    c.send("USER only 0 * :O");
    c.expect_has(" 001 only ");
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs the line-mode client over TLS against `127.0.0.1:port` with its
/// config in `config_home`, `input` on stdin; gives its exit status, stdout and stderr.
fn tls_cli(port: u16, config_home: &std::path::Path, extra: &[&str], input: &str) -> (bool, String, String) {
    let server = format!("127.0.0.1:{port}");
    let args = [&["--tls", "--server", &server, "--nick", "tee"][..], extra].concat();
    common::line_client(&args, config_home, input)
}

fn pin_line(config_home: &std::path::Path, port: u16) -> Option<String> {
    let conf = std::fs::read_to_string(config_home.join("lanchat/client.conf")).ok()?;
    let key = format!("pin.127.0.0.1:{port}=");
    conf.lines().find_map(|l| l.strip_prefix(&key)).map(str::to_string)
}

#[test]
fn the_line_client_pins_on_first_use_and_refuses_a_changed_certificate() {
    let config_home = temp_dir("tls-cli-config");
    let mut s = Server::start(&["--tls-port", "0"]);
    let (port, fp) = tls_of(&s);
    let mut bob = Client::register(&s.addr(), "bob");
    bob.send("JOIN #lobby");
    bob.expect_has(" 366 ");

    // First use: trusted, pinned in the config, and said.
    let (ok, out, err) = tls_cli(port, &config_home, &[], "first over TLS\n");
    assert!(ok, "{out}\n{err}");
    bob.expect_has(":tee!tee@127.0.0.1 PRIVMSG #lobby :first over TLS");
    assert!(out.contains(&format!("pinned the certificate of 127.0.0.1:{port}, SHA-256 {fp}")), "{out}");
    assert!(out.contains(&format!("TLS, the server's certificate is SHA-256 {fp}")), "{out}");
    assert_eq!(pin_line(&config_home, port), Some(fp.clone()));

    // Again: the pinned certificate is accepted, nothing new is pinned.
    let (ok, out, err) = tls_cli(port, &config_home, &[], "second over TLS\n");
    assert!(ok, "{out}\n{err}");
    bob.expect_has(":tee!tee@127.0.0.1 PRIVMSG #lobby :second over TLS");
    assert!(!out.contains("pinned"), "{out}");

    // The same address with another certificate (another data directory):
    // refused, with how to accept it, a failure status, and no retries.
    s.kill9();
    let other = Server::start_in(&temp_dir("tls-other"), &["--tls-port", &port.to_string()]);
    let (port2, fp2) = tls_of(&other);
    assert_eq!(port2, port);
    assert_ne!(fp2, fp);
    let (ok, out, err) = tls_cli(port, &config_home, &[], "to an impostor\n");
    assert!(!ok, "a refused certificate fails the run: {out}\n{err}");
    assert!(out.contains(&format!("the TLS certificate of 127.0.0.1:{port} changed. Pinned SHA-256 {fp}")), "{out}");
    assert!(out.contains(&format!("--accept-fingerprint {fp2}")), "{out}");
    assert!(err.contains(&format!("--accept-fingerprint {fp2}")), "{err}");
    assert!(err.contains("to #lobby: to an impostor"), "the line is reported undelivered: {err}");
    assert_eq!(out.matches("changed. Pinned").count(), 1, "one try, no reconnect loop: {out}");
    assert_eq!(pin_line(&config_home, port), Some(fp.clone()), "the pin is kept");

    // Accepted the documented way: pinned, and it connects.
    let mut carl = Client::register(&other.addr(), "carl");
    carl.send("JOIN #lobby");
    carl.expect_has(" 366 ");
    let (ok, out, err) = tls_cli(port, &config_home, &["--accept-fingerprint", &fp2.to_lowercase()], "accepted\n");
    assert!(ok, "{out}\n{err}");
    carl.expect_has(":tee!tee@127.0.0.1 PRIVMSG #lobby :accepted");
    assert_eq!(pin_line(&config_home, port), Some(fp2.clone()));
    let (ok, out, err) = tls_cli(port, &config_home, &[], "and again\n");
    assert!(ok, "{out}\n{err}");
    carl.expect_has(":tee!tee@127.0.0.1 PRIVMSG #lobby :and again");
}

#[test]
fn discovery_pins_a_fingerprint_but_never_replaces_a_pin() {
    let config_home = temp_dir("tls-discover-config");
    let s = Server::start(&["--tls-port", "0"]);
    let (port, fp) = tls_of(&s);
    let discover = || {
        let out = Command::new(env!("CARGO_BIN_EXE_lanchat"))
            .args(["--client", "--discover", "--discover-addr", &s.discovery_addr().unwrap()])
            .env("XDG_CONFIG_HOME", &config_home)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (out, err) = discover();
    assert!(out.contains(&format!("TLS port {port}, SHA-256 {fp}")), "{out}");
    assert!(err.contains(&format!("pinned the certificate of 127.0.0.1:{port}, SHA-256 {fp}")), "{err}");
    assert_eq!(pin_line(&config_home, port), Some(fp.clone()));
    // Pinned: the line client trusts it and says nothing new.
    let (ok, out, err) = tls_cli(port, &config_home, &[], "");
    assert!(ok && !out.contains("pinned the certificate"), "{out}\n{err}");

    // Another pin stays: a discovery reply never replaces one.
    let conf = config_home.join("lanchat/client.conf");
    let other = "AA:".repeat(31) + "AA";
    let text = std::fs::read_to_string(&conf).unwrap().replace(&fp, &other);
    std::fs::write(&conf, text).unwrap();
    let (_, err) = discover();
    assert!(err.contains(&format!("but SHA-256 {other} is pinned")), "{err}");
    assert!(err.contains(&format!("--accept-fingerprint {fp}")), "{err}");
    assert_eq!(pin_line(&config_home, port), Some(other));
}

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

use common::{Client, DEADLINE, Server, temp_dir};

/// The TLS port and fingerprint from the server's start-up log.
fn tls_of(s: &Server) -> (u16, String) {
    let line = s.startup_log.iter().find(|l| l.contains("listening for TLS on ")).expect("no TLS listener logged");
    let addr = line.split("listening for TLS on ").nth(1).unwrap().split(';').next().unwrap();
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    let fp = line.rsplit("fingerprint ").next().unwrap().trim().to_string();
    (port, fp)
}

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
fn without_the_plain_port_only_tls_is_served() {
    let dir = temp_dir("tls-only");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(["--serve", "--bind", "127.0.0.1", "--no-plain", "--tls-port", "0", "--no-discovery", "--data-dir"])
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

//! Test harness: the real server binary on loopback, real TCP clients.
//!
//! `LANCHAT_SERVER` holds the command that runs the server (split on
//! whitespace; e.g. `qemu-aarch64 dist/lanchat-aarch64-linux-musl`); by
//! default it is the binary cargo just built. The harness adds `--serve`,
//! a loopback bind, port 0 and a fresh data directory, and learns the port
//! from the server's log line "listening on ADDR".

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any single expectation may wait; generous for qemu-user.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `f` until it gives a value, and panics after [`DEADLINE`]: for
/// state that shows only in a file or /proc, with no event to wait on.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for`] a condition.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    wait_for(what, || cond().then_some(()))
}

/// The command that runs the server binary.
pub fn server_command() -> Vec<String> {
    match std::env::var("LANCHAT_SERVER") {
        Ok(cmd) if !cmd.trim().is_empty() => cmd.split_whitespace().map(String::from).collect(),
        _ => vec![env!("CARGO_BIN_EXE_lanchat").to_string()],
    }
}

/// A fresh, empty directory under the target dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The web port of a server, from its start-up log.
pub fn web_addr(s: &Server) -> String {
    let line = s.startup_log.iter().find(|l| l.contains("serving the web page")).expect("no web port logged");
    line.rsplit(' ').next().unwrap().to_string()
}

/// Sends `request` and reads the whole answer (the server closes after it).
pub fn http_bytes(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut out).unwrap();
    out
}

/// [`http_bytes`] as text.
pub fn http(addr: &str, request: &[u8]) -> String {
    String::from_utf8_lossy(&http_bytes(addr, request)).into_owned()
}

/// Runs the line-mode client (`--client --no-gui` and `args`) with its
/// config in `config_home` and `input` on stdin, to its end (killed if it
/// hangs, so the test fails instead of waiting for ever); its exit status,
/// stdout and stderr.
pub fn line_client(args: &[&str], config_home: &Path, input: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(["--client", "--no-gui"])
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let pid = child.id();
    let (done, watchdog) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watchdog.recv_timeout(DEADLINE).is_err() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// A running server process.
pub struct Server {
    child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    args: Vec<String>,
    /// The server's log lines, as they come.
    pub log: mpsc::Receiver<String>,
    /// The log lines up to "listening on".
    pub startup_log: Vec<String>,
}

impl Server {
    /// Starts a server with a fresh data directory and extra flags.
    pub fn start(args: &[&str]) -> Server {
        Server::start_in(&temp_dir("server"), args)
    }

    /// Starts a server on an existing data directory.
    pub fn start_in(dir: &Path, args: &[&str]) -> Server {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (child, port, log, startup_log) = spawn(dir, &args);
        Server { child, port, data_dir: dir.to_path_buf(), args, log, startup_log }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL and waits for it to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the server and starts it again on the same data directory and flags.
    pub fn restart(&mut self) {
        self.kill9();
        let (child, port, log, startup_log) = spawn(&self.data_dir, &self.args);
        self.child = child;
        self.port = port;
        self.log = log;
        self.startup_log = startup_log;
    }

    /// Kills the server and starts it again on the same port, so clients
    /// that reconnect find it.
    pub fn restart_same_port(&mut self) {
        self.kill9();
        let mut args = self.args.clone();
        args.extend(["--port".to_string(), self.port.to_string()]);
        let (child, port, log, startup_log) = spawn(&self.data_dir, &args);
        self.child = child;
        self.port = port;
        self.log = log;
        self.startup_log = startup_log;
    }

    /// `127.0.0.1:PORT` of the UDP discovery responder, if it runs.
    pub fn discovery_addr(&self) -> Option<String> {
        self.startup_log
            .iter()
            .find_map(|l| l.split("answering discovery on ").nth(1))
            .map(|a| a.trim_end_matches("/udp").to_string())
    }

    /// Waits for a log line containing `needle`.
    pub fn expect_log(&self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no server log line containing {needle:?}"),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn spawn(dir: &Path, args: &[String]) -> (Child, u16, mpsc::Receiver<String>, Vec<String>) {
    let cmd = server_command();
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .args(["--serve", "--bind", "127.0.0.1", "--port", "0", "--no-tls", "--discovery-port", "0", "--web-port", "0"])
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if std::env::var_os("LANCHAT_TEST_LOG").is_some() {
                eprintln!("server: {line}");
            }
            let _ = tx.send(line);
        }
    });
    let end = Instant::now() + DEADLINE;
    let mut startup = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                startup.push(line.clone());
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let port = addr.trim().rsplit(':').next().unwrap().parse().unwrap();
                    return (child, port, rx, startup);
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start: {:?}", child.wait());
            }
        }
    }
}

/// The TLS port and certificate fingerprint from a server's start-up log
/// (a server started with `--tls-port`).
pub fn tls_of(s: &Server) -> (u16, String) {
    let line = s.startup_log.iter().find(|l| l.contains("listening for TLS on ")).expect("no TLS listener logged");
    let addr = line.split("listening for TLS on ").nth(1).unwrap().split(';').next().unwrap();
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    let fp = line.rsplit("fingerprint ").next().unwrap().trim().to_string();
    (port, fp)
}

/// InspIRCd on loopback with its IRCv3 modules, run in the foreground and
/// killed by pid: no system service is involved. Host names are not
/// resolved and its DNS points at loopback, so nothing leaves 127.0.0.0/8.
pub struct Inspircd {
    child: Child,
    pub port: u16,
}

impl Inspircd {
    /// Starts InspIRCd; fails the test if it is not installed (`make test` installs it).
    pub fn start() -> Inspircd {
        let bin = PathBuf::from("/usr/sbin/inspircd");
        assert!(bin.exists(), "InspIRCd is not installed: `make test` installs it (Debian package inspircd)");
        let dir = temp_dir("inspircd");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.display();
        let conf = format!(
            r#"<server name="irc.test" description="test" network="TestNet">
<admin name="Test" nick="test" email="test@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<pid file="{d}/inspircd.pid">
<dns server="127.0.0.1" timeout="1">
<connect name="main" allow="*" resolvehostnames="no" timeout="60" threshold="1000" commandrate="100000" pingfreq="120" softsendq="1048576" hardsendq="1048576" recvq="65536" localmax="1000" globalmax="1000" maxchans="50" limit="5000" fakelag="off">
<module name="cap">
<module name="ircv3">
<module name="ircv3_ctctags">
<module name="ircv3_servertime">
<module name="ircv3_echomessage">
<module name="ircv3_batch">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{d}/ircd.log">
<options prefixquit="Quit: ">
"#
        );
        std::fs::write(dir.join("inspircd.conf"), conf).unwrap();
        let child = Command::new(bin)
            .args(["--nofork", "--runasroot", "--config"])
            .arg(dir.join("inspircd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ready when it accepts a connection.
        let end = Instant::now() + DEADLINE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "InspIRCd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Inspircd { child, port }
    }
}

impl Drop for Inspircd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Inspircd {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A raw IRC client over a real TCP connection.
pub struct Client {
    pub nick: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    sync_n: usize,
}

impl Client {
    /// Connects without registering.
    pub fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { nick: String::new(), stream, reader, sync_n: 0 }
    }

    /// Connects and registers as `nick`, waiting for the end of the welcome burst.
    pub fn register(addr: &str, nick: &str) -> Client {
        Client::register_caps(addr, nick, &[])
    }

    /// Connects, negotiates `caps` (all must be ACKed) and registers.
    pub fn register_caps(addr: &str, nick: &str, caps: &[&str]) -> Client {
        let mut c = Client::connect(addr);
        c.nick = nick.to_string();
        if !caps.is_empty() {
            c.send("CAP LS 302");
            c.send(&format!("CAP REQ :{}", caps.join(" ")));
            c.expect(|l| l.contains(" ACK "));
            c.send("CAP END");
        }
        c.send(&format!("NICK {nick}"));
        c.send(&format!("USER {nick} 0 * :Test {nick}"));
        c.expect(|l| l.contains(" 001 "));
        c.expect(|l| l.contains(" 376 ") || l.contains(" 422 "));
        c
    }

    /// Sends one line (CR LF added).
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap_or_else(|e| panic!("{}: write failed: {e}", self.nick));
    }

    /// Reads one line (without CR LF); None at EOF or on error. Panics at the deadline.
    pub fn read_line(&mut self, end: Instant) -> Option<String> {
        let mut buf = Vec::new();
        loop {
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) if buf.ends_with(b"\n") => {
                    let s = String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string();
                    return Some(s);
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if Instant::now() > end {
                        panic!(
                            "{}: timed out waiting for a line (partial: {:?})",
                            self.nick,
                            String::from_utf8_lossy(&buf)
                        );
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Reads until a line matches; answers PINGs on the way. Panics at the deadline or EOF.
    pub fn expect(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            match self.read_line(end) {
                Some(l) if pred(&l) => return l,
                Some(l) if l.starts_with("PING ") => {
                    let token = l[5..].to_string();
                    self.send(&format!("PONG {token}"));
                }
                Some(_) => {}
                None => panic!("{}: connection closed while waiting", self.nick),
            }
        }
    }

    /// Reads until a line contains `needle`.
    pub fn expect_has(&mut self, needle: &str) -> String {
        self.expect(|l| l.contains(needle))
    }

    /// Sends a PING and returns every line that arrived before its PONG:
    /// a barrier that proves what this client did (not) receive so far.
    pub fn sync(&mut self) -> Vec<String> {
        self.sync_n += 1;
        let token = format!("sync-{}", self.sync_n);
        self.send(&format!("PING {token}"));
        let end = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            match self.read_line(end) {
                Some(l) if l.contains(" PONG ") && l.ends_with(&token) => return seen,
                Some(l) => seen.push(l),
                None => panic!("{}: connection closed during sync", self.nick),
            }
        }
    }

    /// Reads until the server closes the connection; returns what came before.
    pub fn expect_closed(&mut self) -> Vec<String> {
        let end = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        while let Some(l) = self.read_line(end) {
            seen.push(l);
        }
        seen
    }
}

/// A client registered as `nick` (with `caps`, if any) that has joined `chan`.
pub fn joined_caps(addr: &str, nick: &str, chan: &str, caps: &[&str]) -> Client {
    let mut c = if caps.is_empty() { Client::register(addr, nick) } else { Client::register_caps(addr, nick, caps) };
    c.send(&format!("JOIN {chan}"));
    c.expect_has(" 366 ");
    c
}

/// A client registered as `nick`, without capabilities, that has joined `chan`.
pub fn joined(addr: &str, nick: &str, chan: &str) -> Client {
    joined_caps(addr, nick, chan, &[])
}

/// A tmpfs mounted for one test, unmounted when dropped.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// Fails the test when it cannot mount: the tests that need one are
    /// `#[ignore]`d, so they only run when asked to, as root (`make test`).
    pub fn mount(size: &str) -> Tmpfs {
        let dir = temp_dir("tmpfs");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status();
        match status {
            Ok(s) if s.success() => Tmpfs(dir),
            other => panic!("cannot mount a tmpfs on {} ({other:?}): this test needs root and mount(8)", dir.display()),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system under `dir` with a file until it refuses more.
pub fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = [0u8; 1024];
    while f.write_all(&chunk).is_ok() {}
    while f.write_all(&chunk[..1]).is_ok() {}
    path
}

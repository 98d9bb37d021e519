//! The web port end to end, over raw sockets on loopback: HTTP answers,
//! the WebSocket handshake and framing, and WebSocket clients chatting with
//! TCP clients through the real server process.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Client, DEADLINE, Server, http, web_addr};

fn status(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

/// A WebSocket client over a raw socket: masked frames out, frames in.
struct Ws {
    s: TcpStream,
    buf: Vec<u8>,
    /// The handshake's answer head.
    head: String,
}

#[derive(Debug, PartialEq)]
struct Frame {
    fin: bool,
    op: u8,
    data: Vec<u8>,
}

impl Ws {
    /// Connects with these extra request headers; panics unless answered 101.
    fn open(addr: &str, headers: &str) -> Ws {
        let ws = Ws::try_open(addr, headers);
        assert_eq!(status(&ws.head), "101", "{}", ws.head);
        ws
    }

    fn try_open(addr: &str, headers: &str) -> Ws {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let req = format!(
            "GET /irc HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut ws = Ws { s, buf: Vec::new(), head: String::new() };
        let end = loop {
            if let Some(i) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !ws.fill() {
                break ws.buf.len();
            }
        };
        ws.head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
        ws.buf.drain(..end);
        ws
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.s.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Sends one masked frame.
    fn frame(&mut self, first: u8, payload: &[u8]) {
        self.raw(&masked(first, payload));
    }

    fn send(&mut self, line: &str) {
        self.frame(0x81, line.as_bytes());
    }

    /// The next frame; None when the connection ends.
    fn next(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 2 {
                let (b0, b1) = (self.buf[0], self.buf[1]);
                assert_eq!(b1 & 0x80, 0, "the server masked a frame");
                let (len, at) = match b1 & 0x7f {
                    126 if self.buf.len() >= 4 => (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4),
                    127 if self.buf.len() >= 10 => {
                        (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    l => (l as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let data = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some(Frame { fin: b0 & 0x80 != 0, op: b0 & 0x0f, data });
                }
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// The next data frame as a line, answering IRC PINGs; panics on anything else.
    fn line(&mut self) -> Option<String> {
        loop {
            let f = self.next()?;
            match f.op {
                1 | 2 => {
                    let l = String::from_utf8(f.data).expect("non-UTF-8 line");
                    assert!(!l.contains(['\r', '\n']), "CR or LF in a frame: {l:?}");
                    if let Some(t) = l.strip_prefix("PING ") {
                        self.send(&format!("PONG {t}"));
                        continue;
                    }
                    return Some(l);
                }
                8 => return None,
                op => panic!("unexpected frame {op}"),
            }
        }
    }

    fn expect_has(&mut self, needle: &str) -> String {
        self.expect_any(&[needle])
    }

    fn expect_any(&mut self, needles: &[&str]) -> String {
        let end = Instant::now() + DEADLINE;
        while Instant::now() < end {
            match self.line() {
                Some(l) if needles.iter().any(|n| l.contains(n)) => return l,
                Some(_) => {}
                None => panic!("closed while waiting for {needles:?}"),
            }
        }
        panic!("timed out waiting for {needles:?}")
    }

    fn register(&mut self, nick: &str) {
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :{nick}"));
        self.expect_any(&[" 376 ", " 422 "]);
    }

    /// Frames until the close frame; returns the close code and what came before.
    fn expect_close(&mut self) -> (Option<u16>, Vec<String>) {
        let mut seen = Vec::new();
        while let Some(f) = self.next() {
            if f.op == 8 {
                return ((f.data.len() >= 2).then(|| u16::from_be_bytes([f.data[0], f.data[1]])), seen);
            }
            seen.push(String::from_utf8_lossy(&f.data).into_owned());
        }
        panic!("closed without a close frame after {seen:?}")
    }

    /// After the close frame the server closes the socket.
    fn expect_eof(&mut self) {
        while self.fill() {}
    }
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    lanchat::server::web::websocket::frame(&mut f, first, payload, Some([0x37, 0xfa, 0x21, 0x3d]));
    f
}

#[test]
fn the_page_and_http_errors() {
    let s = Server::start(&[]);
    let w = web_addr(&s);
    // The log says where the page is.
    assert!(s.startup_log.iter().any(|l| l.contains(&format!("open http://{w}/ in a browser"))), "{:?}", s.startup_log);
    let off = Server::start(&["--no-web"]);
    assert!(!off.startup_log.iter().any(|l| l.contains("web page")), "{:?}", off.startup_log);
    let page = http(&w, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&page), "200", "{page}");
    assert!(page.contains("Content-Type: text/html") && page.contains("<!doctype html>"), "{page}");
    for path in ["/app.js", "/style.css", "/index.html", "/?nick=a&channel=%23b"] {
        assert_eq!(status(&http(&w, format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())), "200", "{path}");
    }
    let head = http(&w, b"HEAD / HTTP/1.1\r\n\r\n");
    assert_eq!(status(&head), "200");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has a body: {head}");
    let cases: [(&[u8], &str); 8] = [
        (b"GET /nope HTTP/1.1\r\n\r\n", "404"),
        (b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "405"),
        (b"DELETE /irc HTTP/1.1\r\n\r\n", "405"),
        (b"hello there\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nbad header\r\n\r\n", "400"),
        (b"GET /irc HTTP/1.1\r\n\r\n", "426"),
        (b"GET /irc HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n", "426"),
        (b"GET /irc HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", "400"),
    ];
    for (req, want) in cases {
        let answer = http(&w, req);
        assert_eq!(status(&answer), want, "{}: {answer}", String::from_utf8_lossy(req));
    }
    assert!(http(&w, b"PUT / HTTP/1.1\r\n\r\n").contains("Allow: GET, HEAD"));
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(3000));
    assert_eq!(status(&http(&w, long.as_bytes())), "414");
    let big = format!("GET / HTTP/1.1\r\n{}\r\n", "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(300));
    assert_eq!(status(&http(&w, big.as_bytes())), "431");
}

#[test]
fn a_slow_request_times_out_with_408() {
    let s = Server::start(&["--register-timeout", "1"]);
    let start = Instant::now();
    let answer = http(&web_addr(&s), b"GET / HTTP/1.1\r\nHost: slow");
    assert_eq!(status(&answer), "408", "{answer}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn each_subprotocol_and_none() {
    let s = Server::start(&[]);
    let w = web_addr(&s);
    for (offer, chosen, op) in [
        ("binary.ircv3.net", Some("binary.ircv3.net"), 2),
        ("text.ircv3.net", Some("text.ircv3.net"), 1),
        ("text.ircv3.net, binary.ircv3.net", Some("text.ircv3.net"), 1),
        ("foo, binary.ircv3.net, text.ircv3.net", Some("binary.ircv3.net"), 2),
        ("", None, 1),
        ("foo", None, 1),
    ] {
        let header = if offer.is_empty() { String::new() } else { format!("Sec-WebSocket-Protocol: {offer}\r\n") };
        let mut ws = Ws::open(&w, &header);
        assert!(ws.head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{}", ws.head);
        let got = ws.head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Protocol: ").map(str::to_string));
        assert_eq!(got.as_deref(), chosen, "offered {offer:?}");
        ws.send("NICK sub");
        ws.send("USER sub 0 * :sub");
        let f = ws.next().unwrap();
        assert_eq!(f.op, op, "offered {offer:?}");
        assert!(String::from_utf8(f.data).unwrap().contains(" 001 sub "));
        ws.send("QUIT :bye");
        assert_eq!(ws.expect_close().0, Some(1000));
        ws.expect_eof();
    }
}

#[test]
fn websocket_and_tcp_clients_chat_with_history_and_canvas() {
    let s = Server::start(&[]);
    let w = web_addr(&s);
    let mut tcp = Client::register_caps(&s.addr(), "tina", &["message-tags"]);
    tcp.send("JOIN #room");
    tcp.expect_has(" 366 ");
    tcp.send("PRIVMSG #room :before you came");
    tcp.send("@+lanchat/stroke=1,ff0000,3,10,10,20,20 TAGMSG #room");
    tcp.sync();
    let mut ws = Ws::open(&w, "Sec-WebSocket-Protocol: text.ircv3.net\r\n");
    ws.send("CAP LS 302");
    ws.send("CAP REQ :server-time message-tags batch echo-message");
    ws.expect_has(" ACK ");
    ws.send("CAP END");
    ws.register("webby");
    ws.send("JOIN #room");
    // Replayed history with times, and the canvas.
    let old = ws.expect_has("before you came");
    assert!(old.starts_with("@") && old.contains("time="), "{old}");
    ws.expect_has("+lanchat/stroke=1,ff0000,3,10,10,20,20");
    tcp.expect_has(":webby!webby@127.0.0.1 JOIN #room");
    ws.send("PRIVMSG #room :hello from the web ☕");
    tcp.expect_has("PRIVMSG #room :hello from the web ☕");
    tcp.send("PRIVMSG #room :hello browser");
    ws.expect_has("PRIVMSG #room :hello browser");
    // (Stroke 1 is tina's: a stroke ID of its own.)
    ws.send("@+lanchat/stroke=2,0000ff,5,1,2,3,4 TAGMSG #room");
    tcp.expect_has("+lanchat/stroke=2,0000ff,5,1,2,3,4;msgid=");
    // Private conversation between two WebSocket clients.
    let mut ws2 = Ws::open(&w, "");
    ws2.register("webtwo");
    ws.send("PRIVMSG webtwo :psst");
    ws2.expect_has(":webby!webby@127.0.0.1 PRIVMSG webtwo :psst");
}

#[test]
fn fragments_pings_and_oversized_messages() {
    let s = Server::start(&[]);
    let mut tcp = Client::register(&s.addr(), "tina");
    let mut ws = Ws::open(&web_addr(&s), "Sec-WebSocket-Protocol: binary.ircv3.net\r\n");
    ws.register("frag");
    // A message in three fragments, a ping between them: one line, one pong.
    ws.frame(0x01, b"PRIVMSG tina :in ");
    ws.frame(0x89, b"are you there");
    ws.frame(0x00, b"three ");
    ws.frame(0x80, b"pieces");
    let pong = ws.next().unwrap();
    assert_eq!((pong.op, pong.data.as_slice()), (10, &b"are you there"[..]));
    tcp.expect_has(":frag!frag@127.0.0.1 PRIVMSG tina :in three pieces");
    // A frame split across writes, byte by byte.
    for b in masked(0x82, b"PRIVMSG tina :slowly") {
        ws.raw(&[b]);
    }
    tcp.expect_has("PRIVMSG tina :slowly");
    // An over-long message gets 417, like an over-long line, and the next one works.
    ws.frame(0x81, format!("PRIVMSG tina :{}", "x".repeat(20_000)).as_bytes());
    ws.expect_has(" 417 frag :Input line was too long");
    ws.send("PRIVMSG tina :still here");
    tcp.expect_has("PRIVMSG tina :still here");
    assert!(tcp.sync().iter().all(|l| !l.contains("xxxx")));
    // Not UTF-8: refused as on TCP (UTF8ONLY), and the connection stays.
    ws.frame(0x81, b"PRIVMSG tina :\xff\xfe");
    ws.expect_has("FAIL PRIVMSG INVALID_UTF8 :Input is not valid UTF-8");
    ws.send("PRIVMSG tina :after the bad bytes");
    tcp.expect_has("PRIVMSG tina :after the bad bytes");
    // Lines the server sends are one per frame, never longer than a line.
    let long = "y".repeat(400);
    tcp.send(&format!("PRIVMSG frag :{long}"));
    assert!(ws.expect_has(&long).len() < 600);
}

#[test]
fn protocol_violations_close_with_1002() {
    let s = Server::start(&[]);
    let mut tcp = Client::register(&s.addr(), "tina");
    tcp.send("JOIN #v");
    tcp.expect_has(" 366 ");
    let w = web_addr(&s);
    for (name, bad) in [
        ("unmasked", vec![0x81, 0x04, b'P', b'I', b'N', b'G']),
        ("reserved bits", masked(0xC1, b"PING x")),
        ("unknown opcode", masked(0x83, b"PING x")),
        ("long ping", masked(0x89, &[b'p'; 126])),
        ("stray continuation", masked(0x80, b"PING x")),
    ] {
        let mut ws = Ws::open(&w, "");
        ws.register(&format!("bad{}", name.len()));
        ws.send("JOIN #v");
        ws.expect_has(" 366 ");
        ws.raw(&bad);
        let (code, _) = ws.expect_close();
        assert_eq!(code, Some(1002), "{name}");
        ws.expect_eof();
        let quit = tcp.expect_has(" QUIT ");
        assert!(quit.contains("WebSocket"), "{name}: {quit}");
    }
}

#[test]
fn a_close_in_the_middle_of_a_line_drops_the_half_line() {
    let s = Server::start(&[]);
    let mut tcp = Client::register(&s.addr(), "tina");
    tcp.send("JOIN #c");
    tcp.expect_has(" 366 ");
    let mut ws = Ws::open(&web_addr(&s), "");
    ws.register("halfway");
    ws.send("JOIN #c");
    ws.expect_has(" 366 ");
    ws.frame(0x01, b"PRIVMSG #c :half a li");
    ws.frame(0x88, &1001u16.to_be_bytes());
    // The server echoes the close code, then closes.
    let (code, _) = ws.expect_close();
    assert_eq!(code, Some(1001));
    ws.expect_eof();
    let quit = tcp.expect_has(" QUIT ");
    assert!(quit.starts_with(":halfway!"), "{quit}");
    assert!(tcp.sync().iter().all(|l| !l.contains("half a li")));
}

#[test]
fn requests_being_read_count_against_the_per_ip_limit() {
    let s = Server::start(&["--max-per-ip", "2"]);
    let w = web_addr(&s);
    // Two requests that never finish hold both places...
    let mut slow: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&w).unwrap()).collect();
    for c in &mut slow {
        c.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    }
    // (the server has them once it answers a request after them)
    common::wait_until("both requests admitted", || status(&http(&w, b"GET / HTTP/1.1\r\n\r\n")) == "503");
    let mut irc = Client::connect(&s.addr());
    assert!(irc.expect_closed().iter().any(|l| l.contains("Too many connections from your address")));
    // ...until they are answered.
    for c in &mut slow {
        c.write_all(b"\r\n").unwrap();
        let mut answer = String::new();
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        c.read_to_string(&mut answer).unwrap();
        assert_eq!(status(&answer), "200");
    }
    common::wait_until("a place again", || status(&http(&w, b"GET / HTTP/1.1\r\n\r\n")) == "200");
}

#[test]
fn origins_other_than_the_page_are_refused() {
    let s = Server::start(&["--web-origin", "http://friend.example:9000"]);
    let w = web_addr(&s);
    let refused = Ws::try_open(&w, "Origin: http://evil.example\r\n");
    assert_eq!(status(&refused.head), "403", "{}", refused.head);
    let _ours = Ws::open(&w, &format!("Origin: http://{w}\r\n"));
    let _friend = Ws::open(&w, "Origin: http://friend.example:9000\r\n");
    let _tool = Ws::open(&w, "");
}

#[test]
fn limits_apply_as_for_tcp() {
    // The per-IP limit: the upgrade request itself is refused (as a TLS handshake is).
    let s = Server::start(&["--max-per-ip", "1", "--password", "sesame"]);
    let tcp = Client::connect(&s.addr());
    let refused = Ws::try_open(&web_addr(&s), "");
    assert_eq!(status(&refused.head), "503", "{}", refused.head);
    drop(tcp);
    // The password.
    let seen = common::wait_for("the TCP client's place to free", || {
        let mut ws = Ws::try_open(&web_addr(&s), "");
        (status(&ws.head) == "101").then(|| {
            ws.send("PASS wrong");
            ws.send("NICK p");
            ws.send("USER p 0 * :p");
            ws.expect_close().1
        })
    });
    assert!(seen.iter().any(|l| l.contains(" 464 ")), "{seen:?}");
    assert!(seen.last().is_some_and(|l| l.starts_with("ERROR ")), "{seen:?}");
}

#[test]
fn a_silent_websocket_client_is_pinged_then_dropped() {
    let s = Server::start(&["--ping-timeout", "2"]);
    let w = web_addr(&s);
    let mut tcp = Client::register(&s.addr(), "tina");
    tcp.send("JOIN #s");
    tcp.expect_has(" 366 ");
    // A silent client (no PONG) gets a PING, then is dropped.
    let mut quiet = Ws::open(&w, "");
    quiet.send("NICK quiet");
    quiet.send("USER quiet 0 * :q");
    quiet.send("JOIN #s");
    let quit = tcp.expect(|l| l.starts_with(":quiet!") && l.contains(" QUIT "));
    assert!(quit.contains("Ping timeout"), "{quit}");
    let mut pinged = false;
    while let Some(f) = quiet.next() {
        if f.op == 8 {
            break;
        }
        pinged |= f.data.starts_with(b"PING ");
    }
    assert!(pinged);
}

#[test]
fn a_websocket_client_that_stops_reading_is_cut_off_at_its_sendq() {
    let s = Server::start(&["--sendq", "65536", "--flood-rate", "0"]);
    let w = web_addr(&s);
    let mut tcp = Client::register(&s.addr(), "tina");
    tcp.send("JOIN #s");
    tcp.expect_has(" 366 ");
    let mut sleepy = Ws::open(&w, "");
    sleepy.register("sleepy");
    sleepy.send("JOIN #s");
    sleepy.expect_has(" 366 ");
    let text = "z".repeat(400);
    let mut dropped = None;
    for round in 0..2000 {
        let blob: String = (0..50).map(|i| format!("PRIVMSG #s :{round}-{i} {text}\r\n")).collect();
        tcp.send_raw(blob.as_bytes());
        tcp.send("PING :mark");
        let l = tcp.expect(|l| l.contains(" PONG ") || l.contains(" QUIT "));
        if l.contains(" QUIT ") {
            dropped = Some(l);
            break;
        }
    }
    let quit = dropped.expect("the sleeper was never dropped");
    assert!(quit.starts_with(":sleepy!") && quit.contains("SendQ exceeded"), "{quit}");
    tcp.sync();
}

/// The server's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An idle WebSocket holds no read or write buffer, like an idle TCP
/// connection: within the 8 KiB per idle connection that `make bench`
/// holds TCP to (scenario 3), which an 8 KiB read buffer alone would pass.
/// (RSS is too coarse to compare with TCP directly, or to use fewer
/// connections: a batch reuses memory the one before freed.)
#[test]
fn an_idle_websocket_holds_no_buffers() {
    const N: usize = 2000;
    lanchat::sys::raise_nofile(4 * N as u64 + 64);
    let s = Server::start(&["--max-per-ip", "10000"]);
    let w = web_addr(&s);
    let batch = |kind: &str| {
        let mut ws: Vec<Ws> = (0..N).map(|_| Ws::open(&w, "")).collect();
        for (i, c) in ws.iter_mut().enumerate() {
            c.send(&format!("NICK {kind}{i}"));
            c.send(&format!("USER {kind}{i} 0 * :idle"));
        }
        for c in &mut ws {
            c.expect_has(" 001 ");
        }
        ws
    };
    // Warm up: the allocator's, the tables' and the executor's first growth
    // is not per connection.
    let mut probe = Client::register(&s.addr(), "probe");
    let _warm = batch("x");
    probe.sync();
    let base = rss_kib(s.pid());
    let _idle = batch("w");
    probe.sync();
    let per = rss_kib(s.pid()).saturating_sub(base) as f64 / N as f64;
    eprintln!("an idle WebSocket: {per:.2} KiB");
    assert!(per <= 8.0, "{per:.2} KiB per idle WebSocket");
}

/// A client that floods pings and never reads their pongs gets no backlog of
/// them kept for it (that was unbounded memory from anyone on the LAN), and
/// its lines still go through.
#[test]
fn a_ping_flood_that_never_reads_its_pongs_grows_nothing() {
    let s = Server::start(&[]);
    let mut tcp = Client::register(&s.addr(), "tina");
    let mut ws = Ws::open(&web_addr(&s), "");
    ws.register("pinger");
    let base = rss_kib(s.pid());
    // 16 MB of pings; the 16 MB of pongs they ask for are never read.
    let ping = masked(0x89, &[b'p'; 125]);
    let blob: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 1000).collect();
    for _ in 0..128 {
        ws.raw(&blob);
    }
    ws.send("PRIVMSG tina :still here");
    tcp.expect_has("PRIVMSG tina :still here");
    let grown = rss_kib(s.pid()).saturating_sub(base);
    assert!(grown < 4096, "the server grew by {grown} KiB for 16 MB of unanswered pings");
}

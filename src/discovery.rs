//! LAN discovery: a client asks over UDP who serves lanchat, servers answer.
//!
//! The server only ever answers a query; it sends nothing on its own. The
//! client sends its query to the targets it is given: on a real LAN the
//! broadcast address, in tests a loopback address. Datagrams (UTF-8 text):
//!
//! ```text
//! query: LANCHAT-DISCOVER/1 <nonce>            padded with spaces to 256 bytes
//! reply: LANCHAT-SERVER/1 <nonce>\nname=<name>\nport=<port>\nversion=<v>\nusers=<n>\n
//! ```
//!
//! A reply is never larger than its query (no amplification), replies are
//! rate-limited, and anything malformed is ignored without an answer.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

const QUERY_MAGIC: &str = "LANCHAT-DISCOVER/1";
const REPLY_MAGIC: &str = "LANCHAT-SERVER/1";
/// The size the client pads its query to: the room a reply may take.
pub const QUERY_LEN: usize = 256;
/// Queries shorter than this are not answered: a reply could outgrow them.
pub const MIN_QUERY: usize = 64;
/// Anything longer is not a lanchat datagram.
pub const MAX_DATAGRAM: usize = 512;
/// The default discovery port (UDP), the same number as the IRC port.
pub const DEFAULT_PORT: u16 = 6667;

/// A server that answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Where to connect: the address the reply came from, with the IRC port.
    pub addr: SocketAddr,
    pub name: String,
    pub version: String,
    pub users: usize,
    /// The server's TLS port and certificate fingerprint (SHA-256,
    /// `AB:CD:...`), when it has TLS: a client may pin it without asking.
    pub tls: Option<(u16, String)>,
}

impl Found {
    /// "1 user", "3 users".
    pub fn users_text(&self) -> String {
        format!("{} user{}", self.users, if self.users == 1 { "" } else { "s" })
    }
}

/// The query datagram for `nonce`.
pub fn query(nonce: u64) -> Vec<u8> {
    let mut q = format!("{QUERY_MAGIC} {nonce:016x}").into_bytes();
    q.resize(QUERY_LEN, b' ');
    q
}

/// The nonce of a valid query, or None.
pub fn parse_query(datagram: &[u8]) -> Option<&str> {
    if datagram.len() < MIN_QUERY || datagram.len() > MAX_DATAGRAM {
        return None;
    }
    let text = std::str::from_utf8(datagram).ok()?.trim_end_matches(' ');
    let nonce = text.strip_prefix(QUERY_MAGIC)?.strip_prefix(' ')?;
    (nonce.len() == 16 && nonce.bytes().all(|b| b.is_ascii_hexdigit())).then_some(nonce)
}

/// The reply to a query of `query_len` bytes, or None if it would not fit.
pub fn reply(
    nonce: &str,
    name: &str,
    port: u16,
    tls: Option<(u16, &str)>,
    version: &str,
    users: usize,
    query_len: usize,
) -> Option<Vec<u8>> {
    let mut r = format!("{REPLY_MAGIC} {nonce}\nname={name}\nport={port}\nversion={version}\nusers={users}\n");
    if let Some((tls_port, fingerprint)) = tls {
        // The fingerprint without colons: 64 hex digits fit the 256-byte query.
        r += &format!("tls={tls_port}\nsha256={}\n", fingerprint.replace(':', ""));
    }
    (r.len() <= query_len).then(|| r.into_bytes())
}

/// Reads a reply to our `nonce` that came from `from`.
pub fn parse_reply(datagram: &[u8], nonce: u64, from: SocketAddr) -> Option<Found> {
    if datagram.len() > MAX_DATAGRAM {
        return None;
    }
    let text = std::str::from_utf8(datagram).ok()?;
    let mut lines = text.lines();
    let head = lines.next()?.strip_prefix(REPLY_MAGIC)?.strip_prefix(' ')?;
    if head != format!("{nonce:016x}") {
        return None;
    }
    let (mut name, mut port, mut version, mut users) = (None, None, None, None);
    let (mut tls_port, mut sha256) = (None, None);
    for l in lines {
        match l.split_once('=') {
            Some(("name", v)) if !v.is_empty() && !v.chars().any(char::is_control) => name = Some(v.to_string()),
            Some(("port", v)) => port = v.parse::<u16>().ok().filter(|p| *p != 0),
            Some(("version", v)) => version = Some(v.to_string()),
            Some(("users", v)) => users = v.parse().ok(),
            Some(("tls", v)) => tls_port = v.parse::<u16>().ok().filter(|p| *p != 0),
            Some(("sha256", v)) => sha256 = crate::client::trust::normalize(v),
            _ => {}
        }
    }
    let tls = tls_port.zip(sha256);
    Some(Found { addr: SocketAddr::new(from.ip(), port?), name: name?, version: version?, users: users?, tls })
}

/// Asks every target (`HOST:PORT`, a broadcast address on a LAN) and
/// collects the answers that arrive within `wait`, each server once.
pub fn discover(targets: &[String], wait: Duration) -> io::Result<Vec<Found>> {
    let mut addrs = Vec::new();
    for t in targets {
        addrs.extend(t.to_socket_addrs().map_err(|e| io::Error::new(e.kind(), format!("{t}: {e}")))?);
    }
    let socket = UdpSocket::bind(("0.0.0.0", 0))?;
    socket.set_broadcast(true)?;
    let nonce = random_nonce();
    let q = query(nonce);
    for a in &addrs {
        socket.send_to(&q, a)?;
    }
    let end = Instant::now() + wait;
    let mut found: Vec<Found> = Vec::new();
    let mut buf = [0u8; MAX_DATAGRAM + 1];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Some(f) = parse_reply(&buf[..n], nonce, from)
                    && !found.iter().any(|x| x.addr == f.addr)
                {
                    found.push(f);
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
            // An ICMP port-unreachable from a target with no server: keep listening.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name).then(a.addr.cmp(&b.addr)));
    Ok(found)
}

/// A nonce from the clock and the process id; it only has to tell our
/// replies from stale ones.
fn random_nonce() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_reply_round_trip() {
        let q = query(0xabc);
        assert_eq!(q.len(), QUERY_LEN);
        let nonce = parse_query(&q).unwrap();
        assert_eq!(nonce, "0000000000000abc");
        let r = reply(nonce, "pi", 6667, None, "0.1.0", 3, q.len()).unwrap();
        let from: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let f = parse_reply(&r, 0xabc, from).unwrap();
        let addr = "127.0.0.1:6667".parse().unwrap();
        assert_eq!(f, Found { addr, name: "pi".into(), version: "0.1.0".into(), users: 3, tls: None });
        assert_eq!(parse_reply(&r, 0xabd, from), None, "a stale nonce");
        // With TLS: the longest name that fits still leaves room for the fingerprint.
        let fp = ["AB"; 32].join(":");
        let name = "n".repeat(64);
        let r = reply(nonce, &name, 6667, Some((6697, &fp)), "0.1.0", 3, q.len()).unwrap();
        let f = parse_reply(&r, 0xabc, from).unwrap();
        assert_eq!(f.tls, Some((6697, fp)));
    }

    #[test]
    fn refuses_garbage_and_amplification() {
        assert_eq!(parse_query(b"LANCHAT-DISCOVER/1 0000000000000abc"), None, "too short to answer");
        assert_eq!(parse_query(&[b'x'; 100]), None);
        assert_eq!(parse_query(&[0xff; 300]), None);
        let mut long = query(1);
        long.resize(MAX_DATAGRAM + 1, b' ');
        assert_eq!(parse_query(&long), None);
        assert_eq!(reply("0000000000000001", &"n".repeat(300), 1, None, "v", 0, QUERY_LEN), None);
    }

    #[test]
    fn rate_limit_allows_a_burst_then_stops() {
        let mut r = crate::rate::TokenBucket::new(0.001, 3.0);
        let now = std::time::Instant::now();
        assert!(r.take(now).is_ok() && r.take(now).is_ok() && r.take(now).is_ok());
        assert!(r.take(now).is_err());
    }
}

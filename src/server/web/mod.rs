//! The web port: the page, embedded in the binary, and the IRCv3
//! WebSocket endpoint at `/irc`, on one plain TCP listener.
//!
//! Each connection gets one request (`Connection: close`): a file, an
//! error status, or the upgrade, after which the connection is an IRC
//! session like any other ([`super::session::serve`] over the adapters in
//! [`websocket`]), with every limit of a TCP client.

pub mod files;
pub mod http;
pub mod qr;
pub mod websocket;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};

use async_net::{TcpListener, TcpStream};
use log::{error, info};
use smol::io::{AsyncReadExt, AsyncWriteExt};

use self::http::{Request, Status};
use super::sock::{Half, Raw};
use super::state::Shared;

/// The page's files: path, content type, body.
const FILES: &[(&str, &str, &str)] = &[
    ("/", "text/html; charset=utf-8", include_str!("../../web/index.html")),
    ("/app.js", "text/javascript; charset=utf-8", include_str!("../../web/app.js")),
    ("/style.css", "text/css; charset=utf-8", include_str!("../../web/style.css")),
];

/// Requests being read at once: more wait in the listen queue. Each holds
/// a head buffer for at most the request timeout.
const MAX_READING: usize = 256;
/// The longest a request head may take to arrive (shorter if the
/// registration timeout is).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The web listener, ready to accept.
pub struct Web {
    listener: TcpListener,
    pub local: SocketAddr,
    /// One slot per request being read: a semaphore, so the accept loop
    /// waits (and new connections wait in the listen queue) when all are taken.
    slots: (Sender<()>, Receiver<()>),
}

impl Web {
    pub fn start(l: std::net::TcpListener) -> Result<Web, String> {
        let local = l.local_addr().map_err(|e| e.to_string())?;
        let listener = TcpListener::try_from(l).map_err(|e| format!("cannot listen on {local}: {e}"))?;
        Ok(Web { listener, local, slots: async_channel::bounded(MAX_READING) })
    }

    /// The page's addresses: one per LAN address when bound to all of them.
    pub fn page_urls(&self) -> Vec<String> {
        let port = self.local.port();
        let ips: Vec<IpAddr> = if self.local.ip().is_unspecified() {
            let mut v: Vec<IpAddr> = crate::sys::ipv4_addresses().into_iter().map(IpAddr::V4).collect();
            if v.is_empty() {
                v.push(IpAddr::from([127, 0, 0, 1]));
            }
            v
        } else {
            vec![self.local.ip()]
        };
        ips.iter().map(|ip| format!("http://{}/", SocketAddr::new(*ip, port))).collect()
    }

    pub async fn accept_loop(self, shared: Arc<Shared>) {
        loop {
            if self.slots.0.send(()).await.is_err() {
                return;
            }
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let reading = Reading(self.slots.1.clone());
                    shared.rt.spawn(connection(shared.clone(), stream, peer, reading));
                }
                Err(e) => {
                    let _ = self.slots.1.try_recv();
                    error!("accept failed: {e}");
                    smol::Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Holds a slot while a request is read; dropping it frees the slot.
struct Reading(Receiver<()>);

impl Drop for Reading {
    fn drop(&mut self) {
        let _ = self.0.try_recv();
    }
}

/// Reads one request and answers it; an upgrade turns into an IRC session.
async fn connection(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr, _reading: Reading) {
    // Counted against --max-per-ip while the request is read, as a TLS
    // handshake is: one address cannot hold every slot.
    let admitted = match super::handshakes::begin(&shared, peer) {
        Ok(slot) => slot,
        Err(why) => {
            info!("{peer}: refused before the HTTP request: {}", why.reason());
            return respond(&stream, Err(Status::Unavailable), false).await;
        }
    };
    let deadline = Instant::now() + REQUEST_TIMEOUT.min(shared.config.register_timeout);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let read = smol::future::or(async { Some(stream.read(&mut chunk).await) }, async {
            smol::Timer::at(deadline).await;
            None
        });
        match read.await {
            None => return respond(&stream, Err(Status::Timeout), false).await,
            Some(Ok(0) | Err(_)) => return,
            Some(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
        match http::parse(&buf) {
            Ok(None) => {}
            Ok(Some(_)) => break,
            Err(status) => return respond(&stream, Err(status), false).await,
        }
    }
    let Ok(Some((req, len))) = http::parse(&buf) else { return };
    let head_only = req.method == "HEAD";
    if req.path == "/upload" {
        if req.method != "POST" {
            let r = files::Refused {
                status: Status::MethodNotAllowed,
                text: "Upload with POST".into(),
                extra: "Allow: POST\r\n".into(),
            };
            let _ = write_within(&stream, &files::answer_text(&r), deadline).await;
            return;
        }
        let origin_ok = origin_allowed(req.header("origin"), req.header("host"), &shared.config.web_origins);
        match files::check_upload(&shared, &req, origin_ok, peer.ip()) {
            Ok(accepted) => {
                drop(admitted);
                let start = buf[len..].to_vec();
                files::to_thread(stream, "lanchat-upload", Box::new(move |s| files::receive(s, accepted, start, peer)));
            }
            Err(r) => {
                info!("{peer}: upload refused: {} {}", r.status.code().0, r.text);
                if write_within(&stream, &files::answer_text(&r), deadline).await {
                    drain(stream).await;
                }
            }
        }
        return;
    }
    if req.method != "GET" && !head_only {
        return respond(&stream, Err(Status::MethodNotAllowed), false).await;
    }
    if req.path == "/irc" {
        if head_only {
            return respond(&stream, Err(Status::MethodNotAllowed), true).await;
        }
        match upgrade(&req, &shared.config.web_origins, len == buf.len()) {
            Err(status) => {
                info!("{peer}: WebSocket refused: {}", status.code().0);
                respond(&stream, Err(status), false).await
            }
            Ok((answer, binary)) => {
                if write_within(&stream, answer.as_bytes(), deadline).await {
                    // A task of its own: this one's request buffers are not
                    // kept for the connection's life (an idle WebSocket costs
                    // what an idle TCP connection does).
                    drop(admitted);
                    let raw: Raw = stream.into();
                    let (reader, writer) = websocket::split(&raw);
                    let (reader, writer) = (Half::WsRead(Box::new(reader)), Half::WsWrite(Box::new(writer)));
                    if let Some(session) = super::session::serve(
                        shared.clone(),
                        reader,
                        writer,
                        raw,
                        peer,
                        super::session::Transport::WebSocket { binary },
                    ) {
                        shared.rt.spawn(session);
                    }
                }
            }
        }
        return;
    }
    if req.path.starts_with("/f/") {
        let why = match &shared.files {
            None => "File sharing is turned off on this server",
            Some(_) => "Too many downloads at once: try again in a moment",
        };
        let Some(slot) = shared.files.as_ref().and_then(|f| f.download_slot(peer.ip())) else {
            let r =
                files::Refused { status: Status::Unavailable, text: why.into(), extra: "Retry-After: 5\r\n".into() };
            let _ = write_within(&stream, &files::answer_text(&r), deadline).await;
            return;
        };
        drop(admitted);
        let (shared, path) = (shared.clone(), req.path.to_string());
        files::to_thread(
            stream,
            "lanchat-download",
            Box::new(move |s| {
                let _slot = slot;
                files::send(shared, s, &path, head_only)
            }),
        );
        return;
    }
    match FILES.iter().find(|(path, _, _)| *path == req.path || (req.path == "/index.html" && *path == "/")) {
        Some(&(_, kind, body)) => respond(&stream, Ok((kind, body)), head_only).await,
        None => respond(&stream, Err(Status::NotFound), head_only).await,
    }
}

/// Checks a WebSocket upgrade request; Ok: the 101 answer, and whether frames are binary.
fn upgrade(req: &Request<'_>, origins: &[String], nothing_after: bool) -> Result<(String, bool), Status> {
    if !req.has_token("upgrade", "websocket") || !req.has_token("connection", "upgrade") {
        return Err(Status::UpgradeRequired);
    }
    if req.header("sec-websocket-version") != Some("13") {
        return Err(Status::UpgradeRequired);
    }
    let key = req.header("sec-websocket-key").filter(|k| websocket::valid_key(k)).ok_or(Status::BadRequest)?;
    if !origin_allowed(req.header("origin"), req.header("host"), origins) {
        return Err(Status::Forbidden);
    }
    // A client sends no frame before our answer (RFC 6455 4.1).
    if !nothing_after {
        return Err(Status::BadRequest);
    }
    let chosen = websocket::choose(req.header("sec-websocket-protocol"));
    let protocol = chosen.map(|(p, _)| format!("Sec-WebSocket-Protocol: {p}\r\n")).unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{protocol}\r\n",
        websocket::accept_key(key)
    );
    Ok((answer, chosen.is_some_and(|(_, binary)| binary)))
}

/// A browser says which page opened the socket: only ours (its origin is
/// the `Host` it asked for) or one `--web-origin` allows. No `Origin`: not
/// a browser, so no page on the LAN can be speaking through it.
fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin.map(|o| o.trim_end_matches('/')) else { return true };
    if allowed.iter().any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let same = |host: &str| {
        origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host))
    };
    host.is_some_and(same)
}

/// Sends a file or an error status, then closes.
async fn respond(stream: &TcpStream, what: Result<(&str, &str), Status>, head_only: bool) {
    let (status, kind, body, extra) = match what {
        Ok((kind, body)) => ((200, "OK"), kind, body.to_string(), ""),
        Err(s) => {
            let extra = match s {
                Status::MethodNotAllowed => "Allow: GET, HEAD\r\n",
                Status::UpgradeRequired => "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                _ => "",
            };
            (s.code(), "text/plain; charset=utf-8", format!("{} {}\n", s.code().0, s.code().1), extra)
        }
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
         frame-ancestors 'none'\r\n{extra}\r\n",
        status.0,
        status.1,
        body.len()
    );
    if !head_only {
        out.push_str(&body);
    }
    let _ = write_within(stream, out.as_bytes(), Instant::now() + REQUEST_TIMEOUT).await;
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// After refusing an upload: reads and drops what the client still sends,
/// for a while, before closing (closing with unread data resets the
/// connection, and the answer with it). Still holds the request's slots.
async fn drain(mut stream: TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut left = files::DRAIN;
    let mut chunk = [0u8; 4096];
    let reading = async {
        while left > 0 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n as u64),
            }
        }
    };
    smol::future::or(reading, async {
        smol::Timer::after(files::DRAIN_TIME).await;
    })
    .await;
}

/// Writes all of `data` unless the peer stalls past `deadline`.
async fn write_within(stream: &TcpStream, data: &[u8], deadline: Instant) -> bool {
    let mut s = stream.clone();
    smol::future::or(async { s.write_all(data).await.is_ok() }, async {
        smol::Timer::at(deadline).await;
        false
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_origin_or_an_allowed_one_may_open_the_socket() {
        let host = Some("192.168.1.5:8080");
        assert!(origin_allowed(None, host, &[]));
        assert!(origin_allowed(Some("http://192.168.1.5:8080"), host, &[]));
        assert!(!origin_allowed(Some("http://evil.example"), host, &[]));
        assert!(!origin_allowed(Some("http://192.168.1.5:8080"), None, &[]));
        assert!(origin_allowed(Some("http://evil.example"), host, &["http://evil.example/".into()]));
        assert!(origin_allowed(Some("null"), host, &["*".into()]));
    }
}

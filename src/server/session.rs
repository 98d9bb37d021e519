//! One client connection: read lines, hand them to the command table under
//! the state lock, and leave cleanly.
//!
//! The session task owns the socket's reading half; its outbox's writer task
//! owns the writing. The lines of one read are handled under one lock (see
//! the lock discipline in [`super::state`]): the flood limit, a JOIN's replay
//! and the end of the batch are the only points where it lets go. Replays
//! are pushed without the lock, only as fast as the client reads them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::info;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::commands::{self, Conn, Cx, Flow, Replay};
use super::outbox::{Line, Outbox};
use super::sock::{Half, Raw};
use super::state::Shared;
use super::web::websocket;
use crate::line::{MAX_LINE, MAX_TAGS};
use crate::numeric;
use crate::rate::TokenBucket;

/// Bytes asked of one read: room for a sender's whole window of lines, so it
/// is handled, and fanned out, in one go.
const READ_CHUNK: usize = 8 * 1024;
/// Bytes asked of the first read after a pause: on a connection that cannot
/// wait for readiness (TLS), the buffer it waits with is all an idle
/// connection holds; on any, a burst of registrations asks 1 KiB each, not
/// 8 KiB whose freed holes stay in the heap. A read that fills it means
/// more is coming: the next asks READ_CHUNK.
const IDLE_READ: usize = 1024;
/// A JOIN's canvas is pushed once at most this much waits before it.
const CANVAS_ROOM: usize = 64 * 1024;

struct Session {
    shared: Arc<Shared>,
    conn: Conn,
    /// The flood limit (None: no limit).
    bucket: Option<TokenBucket>,
    /// Since when the client has been over the flood limit: only a token
    /// that was there without waiting for it ends that.
    throttled_since: Option<Instant>,
    waited: bool,
}

/// Serves one plain TCP connection, in a task of its own, until it closes.
pub fn run(shared: &Arc<Shared>, stream: async_net::TcpStream, peer: SocketAddr) {
    let raw: Raw = stream.into();
    if let Some(session) =
        serve(shared.clone(), Half::Plain(raw.clone()), Half::Plain(raw.clone()), raw, peer, Transport::Plain)
    {
        shared.rt.spawn(session);
    }
}

/// How a connection reaches the server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
    /// Binary frames or text frames (the subprotocol chosen).
    WebSocket {
        binary: bool,
    },
}

/// Serves one connection until it closes, reading from `reader` and writing
/// to `writer` (the socket's two sides, a TLS stream's two halves, or the
/// WebSocket framing's); `raw` is the socket. Unless over TLS, `raw` shows
/// what `reader` will read, so an idle connection waits for readiness and
/// holds no read buffer; a TLS stream may hold decrypted bytes the socket
/// no longer shows, so it reads instead.
pub fn serve<R, W>(
    shared: Arc<Shared>,
    reader: R,
    writer: W,
    raw: Raw,
    peer: SocketAddr,
    transport: Transport,
) -> Option<impl Future<Output = ()> + use<R, W>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // Set up before the future, which lives as long as the connection:
    // nothing `start` needs is kept in every connection's task.
    let session = Session::start(shared, writer, &raw, peer, transport)?;
    Some(session.live(reader, (transport != Transport::Tls).then_some(raw)))
}

impl Session {
    /// Starts the writer and adds the connection to the state, unless a
    /// limit refuses it (then it is told why and closed).
    fn start<W>(shared: Arc<Shared>, writer: W, raw: &Raw, peer: SocketAddr, transport: Transport) -> Option<Session>
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let cfg = &shared.config;
        let frames = match transport {
            Transport::WebSocket { binary } => Some(websocket::data_frame(binary)),
            _ => None,
        };
        let out = Outbox::start(&shared.rt, writer, raw.clone(), cfg.sendq, cfg.ping_timeout, frames);
        let ip = super::handshakes::client_ip(peer);
        let id = shared.next_id();
        let handshaking = shared.handshakes.pending(ip);
        let refused = {
            let mut st = shared.lock();
            let done = st.connect(id, ip, out.clone(), cfg, handshaking);
            if done.is_ok() && transport == Transport::Tls {
                st.set_secure(id);
            }
            done
        };
        if let Err(why) = refused {
            info!("{peer}: refused: {}", why.reason());
            out.push(&Line::from(format!("ERROR :Closing Link: {ip} ({})\r\n", why.reason())));
            out.close();
            return None;
        }
        info!("{peer}: connected");
        let bucket = (cfg.flood_rate > 0.0).then(|| TokenBucket::new(cfg.flood_rate, cfg.flood_burst));
        let conn = Conn::new(id, out, peer, &shared);
        Some(Session { shared, conn, bucket, throttled_since: None, waited: false })
    }

    /// Reads and handles lines until the connection ends, then takes the
    /// client out of the state. One future, not one calling another: each
    /// level would add its callee's size to every idle connection's task.
    /// (A block, not an `async fn`: an `async fn` keeps a second copy of its
    /// arguments in its state, 500 bytes per connection here.)
    #[allow(clippy::manual_async_fn)]
    fn live<R: AsyncRead + Unpin>(mut self, mut reader: R, peek: Option<Raw>) -> impl Future<Output = ()> {
        async move {
            // The settings through our own handle on them, not a copy per connection.
            let shared = self.shared.clone();
            let cfg = &shared.config;
            let mut buf: Vec<u8> = Vec::new();
            let mut discarding = false;
            let connected = Instant::now();
            let mut last_heard = connected;
            let mut pinged = false;
            let mut streaming = false;
            let reason: String = 'life: loop {
                let mut lines = Vec::new();
                let mut start = 0;
                while let Some(off) = buf[start..].iter().position(|&b| b == b'\n' || b == b'\r') {
                    let line = start..start + off;
                    start += off + 1;
                    if !std::mem::take(&mut discarding) && !line.is_empty() {
                        lines.push(line);
                    }
                }
                // Boxed: its state is needed only while lines are handled, not
                // in every idle connection's task.
                let handling = Box::pin(self.handle_lines(&buf, lines));
                if let Err(reason) = handling.await {
                    break 'life reason;
                }
                buf.drain(..start);
                if buf.len() > MAX_TAGS + MAX_LINE {
                    // An endless line: refuse it (once) and skip to its end, in bounded memory.
                    if !discarding {
                        let mut st = shared.lock();
                        let cx = Cx { st: &mut st, conn: &mut self.conn, shared: &shared };
                        cx.num(numeric::ERR_INPUTTOOLONG, &["Input line was too long"]);
                    }
                    buf.clear();
                    discarding = true;
                }
                let deadline = if !self.conn.registered {
                    connected + cfg.register_timeout
                } else if pinged {
                    last_heard + cfg.ping_timeout
                } else {
                    last_heard + cfg.ping_timeout / 2
                };
                let old = buf.len();
                if old == 0 {
                    // Idle: hold no read buffer while waiting (it is most of an
                    // idle connection's memory); it waits for readiness first.
                    buf = Vec::new();
                }
                // Small reads before registering too: a trickle that never
                // registers (slowloris) must not cost a whole chunk zeroed per byte.
                let small = old == 0 || !self.conn.registered;
                let chunk = if small && !streaming { IDLE_READ } else { READ_CHUNK };
                let reading = smol::future::or(
                    async {
                        if old == 0
                            && let Some(raw) = &peek
                        {
                            // (readiness, not a peek: its future is a third the size)
                            if let Err(e) = raw.readable().await {
                                return Some(Err(e));
                            }
                        }
                        buf.resize(old + chunk, 0);
                        Some(reader.read(&mut buf[old..]).await)
                    },
                    async {
                        smol::Timer::at(deadline).await;
                        None
                    },
                );
                match reading.await {
                    Some(Ok(n)) if n > 0 => {
                        streaming = n == chunk;
                        buf.truncate(old + n);
                        // Only the end of a line is a sign of life: bytes that
                        // trickle in without one (slowloris) never put off the
                        // ping timeout.
                        if buf[old..].iter().any(|&b| b == b'\n' || b == b'\r') {
                            last_heard = Instant::now();
                            pinged = false;
                        }
                        // A ready socket never makes the read wait: without this, a
                        // client that keeps sending holds an executor thread for good.
                        smol::future::yield_now().await;
                    }
                    Some(Ok(_)) | Some(Err(_)) if self.conn.out.overflowed() => {
                        break 'life "SendQ exceeded".into();
                    }
                    Some(Ok(_)) => break 'life "Connection closed".into(),
                    Some(Err(e)) => break 'life format!("Read error: {e}"),
                    None if !self.conn.registered => break 'life "Registration timeout".into(),
                    None if pinged => {
                        break 'life format!("Ping timeout: {} seconds", cfg.ping_timeout.as_secs());
                    }
                    None => {
                        buf.truncate(old);
                        pinged = true;
                        self.conn.out.push(&Line::from(format!("PING :{}\r\n", cfg.name)));
                    }
                }
            };
            let nick = shared.lock().disconnect(self.conn.id, &reason);
            info!("{}: disconnected ({}): {reason}", self.conn.peer, nick.as_deref().unwrap_or("*"));
        }
    }

    /// Handles the complete lines of one read under one lock, letting go
    /// only to wait out the flood limit or push a JOIN's replay. Err: the
    /// connection ends, for this reason.
    async fn handle_lines(&mut self, buf: &[u8], lines: Vec<std::ops::Range<usize>>) -> Result<(), String> {
        let shared = self.shared.clone();
        let mut lines = lines.into_iter().peekable();
        while lines.peek().is_some() {
            let mut wait = None;
            let mut replays = Vec::new();
            {
                let mut st = shared.lock();
                let mut cx = Cx { st: &mut st, conn: &mut self.conn, shared: &shared };
                let mut end = None;
                while let Some(line) = lines.peek() {
                    if let Some(bucket) = &mut self.bucket
                        && let Err(w) = bucket.take(Instant::now())
                    {
                        let since = *self.throttled_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > shared.config.flood_grace {
                            end = Some("Excess Flood".to_string());
                        } else {
                            wait = Some(w);
                        }
                        break;
                    }
                    if !std::mem::take(&mut self.waited) {
                        self.throttled_since = None;
                    }
                    let flow = commands::dispatch(&mut cx, &buf[line.clone()]);
                    lines.next();
                    match flow {
                        Flow::Continue => {}
                        Flow::Quit(reason) => {
                            end = Some(reason);
                            break;
                        }
                        Flow::Replay(r) => {
                            replays = r;
                            break;
                        }
                    }
                }
                // The burst never outlives the lock (see commands::Burst).
                commands::flush_burst(&mut cx);
                if let Some(reason) = end {
                    return Err(reason);
                }
            }
            for r in replays {
                self.push_replay(r).await.map_err(|()| "Connection closed".to_string())?;
            }
            if let Some(w) = wait {
                smol::Timer::after(w.min(Duration::from_secs(1))).await;
                self.waited = true;
            }
        }
        Ok(())
    }

    /// Pushes a JOIN replay to this client only as fast as it reads it.
    /// A client that reads nothing for the ping timeout meanwhile is cut off:
    /// the read loop, which would time it out, is not running while we wait.
    /// The canvas (at most a few hundred KiB) is taken and pushed in one go
    /// under the lock, once the queue is nearly empty: no live canvas line
    /// comes between its lines, so the joiner paints what everyone painted.
    async fn push_replay(&self, replay: Replay) -> Result<(), ()> {
        let out = &self.conn.out;
        let half = out.limit() / 2;
        let stall = self.shared.config.ping_timeout;
        let lines = replay.lines.into_iter().map(Some).chain(replay.canvas.as_ref().map(|_| None));
        for line in lines {
            let want = line.as_ref().map_or(half.min(CANVAS_ROOM), |l| half.saturating_sub(l.len()));
            while out.queued() > 0 && out.queued() > want {
                let room = smol::future::or(out.room(), async {
                    smol::Timer::after(stall).await;
                    false
                });
                if out.is_dead() || !room.await {
                    out.kill();
                    return Err(());
                }
            }
            let pushed = match (&line, &replay.canvas) {
                (Some(line), _) => out.push(line),
                (None, Some((key, name))) => {
                    let mut st = self.shared.lock();
                    let lines = st.canvas_mut().replay(key, name);
                    lines.iter().all(|l| out.push(l))
                }
                (None, None) => true,
            };
            if !pushed {
                return Err(());
            }
        }
        Ok(())
    }
}

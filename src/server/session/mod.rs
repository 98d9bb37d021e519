//! One client connection: read lines, parse, apply to the shared state.
//!
//! The session task owns the socket's reading half; its outbox's writer task
//! owns the writing. Each command takes the state lock once and pushes every
//! resulting line (replies and fan-out alike) before releasing it. Only bulk
//! replays (history, canvas) are pushed after the lock is released, paced by
//! the client's own reading, so a JOIN never holds anyone else up.
//!
//! The commands live in submodules by what they touch: [`register`]
//! (CAP, PASS, NICK, USER), [`channels`] (JOIN, PART, TOPIC, NAMES, LIST,
//! MODE), [`messages`] (PRIVMSG, NOTICE, TAGMSG and the canvas) and
//! [`queries`] (WHO, WHOIS, AWAY and the server's own information).

mod channels;
mod messages;
mod queries;
mod register;

use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_channel::Receiver;
use async_net::TcpStream;
use log::{debug, info};
use smol::io::AsyncReadExt;

use super::outbox::{Line, Outbox};
use super::state::{
    AWAYLEN, CHANNELLEN, Canvas, Caps, Channel, Client, ClientId, Member, NICKLEN, Shared, State, TOPICLEN, Topic,
    USERLEN, Variants, fold, valid_channel, valid_nick,
};
use crate::canvas;
use crate::clock;
use crate::line::{MAX_CLIENT_TAGS, MAX_LINE, MAX_TAGS, Message, ParseError};

/// The version string shown to clients.
pub const VERSION: &str = concat!("lanchat-", env!("CARGO_PKG_VERSION"));

/// Bytes asked of one read.
const READ_CHUNK: usize = 8 * 1024;

/// What a command tells the read loop.
enum Flow {
    Continue,
    /// Close the connection with this reason (sent as ERROR and in QUIT).
    Quit(String),
}

struct Session {
    shared: Arc<Shared>,
    id: ClientId,
    out: Outbox,
    room: Receiver<()>,
    peer: SocketAddr,
    registered: bool,
    /// CAP LS or REQ before registration holds registration until CAP END.
    cap_negotiating: bool,
    got_user: bool,
    pass_ok: bool,
    tokens: f64,
    refilled: Instant,
    throttled_since: Option<Instant>,
    batch_seq: u32,
    /// With one executor thread: channel messages handled but not fanned out yet.
    burst: Option<Burst>,
}

/// Consecutive PRIVMSG, NOTICE and TAGMSG of one client to one channel,
/// read in one go, reach each member in one push instead of one per message.
/// Per member, the lock and the cache misses of a push cost more than the
/// copy of a line, so a burst of twenty lines costs about what one did.
///
/// The messages are checked, journaled and put on the canvas as they are
/// handled; only the pushes wait. Anything else the client does flushes the
/// burst first, and so does the end of what was read, so every member still
/// sees this client's lines in the order sent. Only with one executor
/// thread: then nothing else runs between a message and the flush, and a
/// client joining meanwhile cannot get a message twice (replay and live).
#[derive(Default)]
pub(super) struct Burst {
    /// Casefolded channel; empty when nothing is held.
    key: String,
    /// The held lines for each kind of recipient ([`Variants::kind`]).
    lines: [String; 4],
    /// Which kinds the channel's members are, as bits: only those are formatted.
    kinds: u8,
}

/// Serves one connection until it closes.
pub async fn run(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let cfg = &shared.config;
    let (out, room) = Outbox::start(stream.clone(), cfg.sendq, cfg.ping_timeout);
    let ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let id = shared.next_id();
    {
        let mut st = shared.lock();
        let refused = if st.clients.len() >= cfg.max_clients {
            Some("Too many connections")
        } else if st.per_ip.get(&ip).copied().unwrap_or(0) >= cfg.max_per_ip {
            Some("Too many connections from your address")
        } else {
            None
        };
        if let Some(why) = refused {
            drop(st);
            info!("{peer}: refused: {why}");
            out.push(&Line::from(format!("ERROR :Closing Link: {ip} ({why})\r\n")));
            out.close();
            return;
        }
        *st.per_ip.entry(ip).or_default() += 1;
        // A host starting with ':' (IPv6) would read as a trailing parameter.
        let host = ip.to_string();
        let host = if host.starts_with(':') { format!("0{host}") } else { host };
        st.clients.insert(
            id,
            Client {
                nick: "*".into(),
                user: String::new(),
                realname: String::new(),
                host,
                ip,
                caps: Caps::default(),
                away: None,
                invisible: false,
                registered: false,
                channels: Vec::new(),
                out: out.clone(),
                signon: 0,
                last_spoke: Instant::now(),
            },
        );
    }
    info!("{peer}: connected");
    let mut s = Session {
        pass_ok: shared.config.password.is_none(),
        tokens: shared.config.flood_burst,
        burst: (shared.config.threads == 1).then(Burst::default),
        shared,
        id,
        out,
        room,
        peer,
        registered: false,
        cap_negotiating: false,
        got_user: false,
        refilled: Instant::now(),
        throttled_since: None,
        batch_seq: 0,
    };
    let reason = s.serve(stream).await;
    s.leave(&reason);
}

impl Session {
    async fn serve(&mut self, mut stream: TcpStream) -> String {
        // The settings through our own handle on them, not a copy per connection.
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut buf: Vec<u8> = Vec::new();
        let mut discarding = false;
        let connected = Instant::now();
        let mut last_heard = connected;
        let mut pinged = false;
        loop {
            let mut start = 0;
            while let Some(off) = buf[start..].iter().position(|&b| b == b'\n' || b == b'\r') {
                let line = start..start + off;
                start += off + 1;
                if std::mem::take(&mut discarding) || line.is_empty() {
                    continue;
                }
                if let Err(reason) = self.throttle().await {
                    return reason;
                }
                if let Flow::Quit(reason) = self.handle_line(&buf[line]).await {
                    return reason;
                }
            }
            self.flush_burst();
            buf.drain(..start);
            if buf.len() > MAX_TAGS + MAX_LINE {
                // An endless line: refuse it (once) and skip to its end, in bounded memory.
                if !discarding {
                    self.reply("417", ":Input line was too long");
                }
                buf.clear();
                discarding = true;
            }
            if buf.is_empty() && buf.capacity() > 4096 {
                buf = Vec::new();
            }
            let deadline = if !self.registered {
                connected + cfg.register_timeout
            } else if pinged {
                last_heard + cfg.ping_timeout
            } else {
                last_heard + cfg.ping_timeout / 2
            };
            let old = buf.len();
            if old == 0 {
                // Idle: hold no read buffer while waiting (it is most of an
                // idle connection's memory); a 1-byte peek waits for data.
                buf = Vec::new();
            }
            let read = smol::future::or(
                async {
                    if old == 0 {
                        match stream.peek(&mut [0u8; 1]).await {
                            Ok(0) => return Some(Ok(0)),
                            Err(e) => return Some(Err(e)),
                            Ok(_) => {}
                        }
                    }
                    // Room for a sender's whole burst (a window of lines), so it
                    // is handled, and fanned out, in one go.
                    buf.resize(old + READ_CHUNK, 0);
                    Some(stream.read(&mut buf[old..]).await)
                },
                async {
                    smol::Timer::at(deadline).await;
                    None
                },
            )
            .await;
            match read {
                Some(Ok(n)) if n > 0 => {
                    buf.truncate(old + n);
                    last_heard = Instant::now();
                    pinged = false;
                    // A ready socket never makes the read wait: without this, a
                    // client that keeps sending holds an executor thread for good.
                    smol::future::yield_now().await;
                }
                Some(Ok(_)) | Some(Err(_)) if self.out.overflowed() => {
                    return "SendQ exceeded".into();
                }
                Some(Ok(_)) => return "Connection closed".into(),
                Some(Err(e)) => return format!("Read error: {e}"),
                None if !self.registered => return "Registration timeout".into(),
                None if pinged => {
                    return format!("Ping timeout: {} seconds", cfg.ping_timeout.as_secs());
                }
                None => {
                    buf.truncate(old);
                    pinged = true;
                    self.out.push(&Line::from(format!("PING :{}\r\n", cfg.name)));
                }
            }
        }
    }

    /// The flood limit: a token bucket. Over it, commands are delayed; a
    /// client that stays over it longer than the grace time is disconnected.
    async fn throttle(&mut self) -> Result<(), String> {
        let cfg = &self.shared.config;
        if cfg.flood_rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * cfg.flood_rate).min(cfg.flood_burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.throttled_since = None;
            return Ok(());
        }
        let since = *self.throttled_since.get_or_insert(now);
        if now.duration_since(since) > cfg.flood_grace {
            return Err("Excess Flood".into());
        }
        let wait = (1.0 - self.tokens) / cfg.flood_rate;
        self.flush_burst();
        smol::Timer::after(std::time::Duration::from_secs_f64(wait)).await;
        self.refilled = Instant::now();
        self.tokens = 0.0;
        Ok(())
    }

    /// Removes the client, tells everyone who shared a channel, and closes.
    fn leave(&mut self, reason: &str) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        self.flush_burst_locked(&st);
        let Some(client) = st.clients.get(&self.id) else {
            return;
        };
        let (nick, prefix, ip) = (client.nick.clone(), client.prefix(), client.ip);
        if self.registered {
            let quit = format!(":{prefix} QUIT :{}", reason);
            let mut msg = Variants::new(&quit, "", SystemTime::now());
            let to = st.neighbours(self.id);
            st.fanout(to, &mut msg);
        }
        let line = Line::from(format!("ERROR :Closing Link: {ip} ({reason})\r\n"));
        self.out.push(&line);
        self.out.close();
        channels::part_all(&mut st, self.id);
        if st.nicks.get(&fold(&nick)) == Some(&self.id) {
            st.nicks.remove(&fold(&nick));
        }
        st.clients.remove(&self.id);
        if let Some(n) = st.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                st.per_ip.remove(&ip);
            }
        }
        drop(st);
        info!("{}: disconnected ({nick}): {reason}", self.peer);
    }

    /// Pushes `:server CODE nick rest` to this client.
    fn num(&self, st: &State, code: &str, rest: impl Display) {
        let nick = st.clients.get(&self.id).map_or("*", |c| c.nick.as_str());
        self.out.push(&Line::from(format!(":{} {code} {nick} {rest}\r\n", self.shared.config.name)));
    }

    /// [`Self::num`] taking the lock itself.
    fn reply(&self, code: &str, rest: impl Display) {
        let st = self.shared.lock();
        self.num(&st, code, rest);
    }

    async fn handle_line(&mut self, raw: &[u8]) -> Flow {
        let (tags_len, rest_len) = match raw.first() {
            Some(b'@') => {
                let sp = raw.iter().position(|&b| b == b' ').unwrap_or(raw.len());
                (sp + 1, raw.len().saturating_sub(sp + 1))
            }
            _ => (0, raw.len()),
        };
        if tags_len > MAX_TAGS || rest_len > MAX_LINE - 2 {
            self.reply("417", ":Input line was too long");
            return Flow::Continue;
        }
        if raw.contains(&0) {
            self.reply("400", "* :Input contains a NUL byte; it was dropped");
            return Flow::Continue;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            self.reply("400", "* :Input is not valid UTF-8; it was dropped");
            return Flow::Continue;
        };
        let msg = match Message::parse(text) {
            Ok(m) => m,
            Err(ParseError::NoCommand) => {
                self.reply("400", "* :Input has no command");
                return Flow::Continue;
            }
            Err(ParseError::TooManyParams) => {
                self.reply("400", "* :Too many parameters");
                return Flow::Continue;
            }
        };
        let cmd = msg.command.to_ascii_uppercase();
        debug!("{}: {}", self.peer, text);
        if let Some(b) = &self.burst
            && !b.key.is_empty()
            && !(matches!(cmd.as_str(), "PRIVMSG" | "NOTICE" | "TAGMSG") && fold(msg.param(0)) == b.key)
        {
            self.flush_burst();
        }
        let pre_registration = match cmd.as_str() {
            "PASS" | "NICK" | "USER" | "CAP" | "QUIT" | "PONG" => true,
            "PING" => self.shared.config.password.is_none(),
            _ => false,
        };
        if !self.registered && !pre_registration {
            self.reply("451", ":You have not registered");
            return Flow::Continue;
        }
        match cmd.as_str() {
            "CAP" => self.cap(&msg),
            "PASS" => self.pass(&msg),
            "NICK" => self.nick(&msg),
            "USER" => self.user(&msg),
            "QUIT" => {
                let text = msg.param(0);
                return Flow::Quit(if text.is_empty() { "Quit".into() } else { format!("Quit: {text}") });
            }
            "PING" => self.ping(&msg),
            "PONG" => {}
            "JOIN" => self.join(&msg).await,
            "PART" => self.part(&msg),
            "PRIVMSG" | "NOTICE" | "TAGMSG" => self.message(&cmd, &msg),
            "NAMES" => self.names(&msg),
            "WHO" => self.who(&msg),
            "WHOIS" => self.whois(&msg),
            "TOPIC" => self.topic(&msg),
            "LIST" => self.list(&msg),
            "MODE" => self.mode(&msg),
            "AWAY" => self.away(&msg),
            "USERHOST" => self.userhost(&msg),
            "ISON" => self.ison(&msg),
            "MOTD" => self.motd(),
            "LUSERS" => self.lusers(),
            "VERSION" => self.version(),
            "TIME" => {
                self.reply("391", format_args!("{} :{}", self.shared.config.name, clock::rfc3339(SystemTime::now())))
            }
            _ => self.reply("421", format_args!("{} :Unknown command", msg.command)),
        }
        if !self.registered && !self.pass_ok && self.got_user && !self.cap_negotiating && self.nick_set() {
            // PASS must come before registration completes; a wrong or missing one ends it.
            self.reply("464", ":Password incorrect");
            return Flow::Quit("Bad password".into());
        }
        Flow::Continue
    }
}

/// A parameter echoed in an error, cut short and stripped of control characters.
fn sanitize(s: &str, max: usize) -> String {
    // A middle parameter: no spaces, no control characters, no leading ':'.
    let s: String = s.trim_start_matches(':').chars().filter(|c| !c.is_control() && *c != ' ').take(max).collect();
    if s.is_empty() { "*".into() } else { s }
}

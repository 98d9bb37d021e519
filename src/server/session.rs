//! One client connection: read lines, parse, apply to the shared state.
//!
//! The session task owns the socket's reading half; its outbox's writer task
//! owns the writing. Each command takes the state lock once and pushes every
//! resulting line (replies and fan-out alike) before releasing it. Only bulk
//! replays (history, canvas) are pushed after the lock is released, paced by
//! the client's own reading, so a JOIN never holds anyone else up.

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
    AWAYLEN, Caps, Channel, Client, ClientId, NICKLEN, Shared, State, TOPICLEN, Topic, USERLEN, Variants,
    fold, valid_channel, valid_nick,
};
use crate::canvas;
use crate::clock;
use crate::line::{MAX_CLIENT_TAGS, MAX_LINE, MAX_TAGS, Message, ParseError};

/// The version string shown to clients.
pub const VERSION: &str = concat!("lanchat-", env!("CARGO_PKG_VERSION"));

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
}

/// Serves one connection until it closes.
pub async fn run(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let cfg = &shared.config;
    let (out, room) = Outbox::start(stream.clone(), cfg.sendq);
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
        let cfg = self.shared.config.clone();
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
                    buf.resize(old + 1024, 0);
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
                Some(Ok(_)) | Some(Err(_)) if self.out.overflowed() => return "SendQ exceeded".into(),
                Some(Ok(_)) => return "Connection closed".into(),
                Some(Err(e)) => return format!("Read error: {e}"),
                None if !self.registered => return "Registration timeout".into(),
                None if pinged => return format!("Ping timeout: {} seconds", cfg.ping_timeout.as_secs()),
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
        smol::Timer::after(std::time::Duration::from_secs_f64(wait)).await;
        self.refilled = Instant::now();
        self.tokens = 0.0;
        Ok(())
    }

    /// Removes the client, tells everyone who shared a channel, and closes.
    fn leave(&mut self, reason: &str) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let Some(client) = st.clients.get(&self.id) else { return };
        let (nick, prefix, ip) = (client.nick.clone(), client.prefix(), client.ip);
        if self.registered {
            let quit = format!(":{prefix} QUIT :{}", quit_text(reason));
            let mut msg = Variants::new(&quit, "", SystemTime::now());
            let to = st.neighbours(self.id);
            st.fanout(to, &mut msg);
        }
        let line = Line::from(format!("ERROR :Closing Link: {ip} ({reason})\r\n"));
        self.out.push(&line);
        self.out.close();
        part_all(&mut st, self.id);
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
            "TIME" => self.reply("391", format_args!("{} :{}", self.shared.config.name, clock::rfc3339(SystemTime::now()))),
            _ => self.reply("421", format_args!("{} :Unknown command", msg.command)),
        }
        if !self.registered && !self.pass_ok && self.got_user && !self.cap_negotiating && self.nick_set() {
            // PASS must come before registration completes; a wrong or missing one ends it.
            self.reply("464", ":Password incorrect");
            return Flow::Quit("Bad password".into());
        }
        Flow::Continue
    }

    fn nick_set(&self) -> bool {
        self.shared.lock().clients.get(&self.id).is_some_and(|c| c.nick != "*")
    }

    // ---- registration -------------------------------------------------

    fn cap(&mut self, msg: &Message<'_>) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let name = &shared.config.name;
        let nick = st.clients.get(&self.id).map_or("*".into(), |c| c.nick.clone());
        let sub = msg.param(0).to_ascii_uppercase();
        match sub.as_str() {
            "LS" => {
                if !self.registered {
                    self.cap_negotiating = true;
                }
                let all: Vec<&str> = Caps::ALL.iter().map(|(n, _)| *n).collect();
                self.out.push(&Line::from(format!(":{name} CAP {nick} LS :{}\r\n", all.join(" "))));
            }
            "LIST" => {
                let caps = st.clients.get(&self.id).map(|c| c.caps).unwrap_or_default();
                self.out.push(&Line::from(format!(":{name} CAP {nick} LIST :{}\r\n", caps.names())));
            }
            "REQ" => {
                if !self.registered {
                    self.cap_negotiating = true;
                }
                let wanted = msg.param(1);
                let mut add = Caps::default();
                let mut remove = Caps::default();
                let mut ok = !wanted.trim().is_empty();
                for w in wanted.split(' ').filter(|w| !w.is_empty()) {
                    let (neg, n) = match w.strip_prefix('-') {
                        Some(n) => (true, n),
                        None => (false, w),
                    };
                    match Caps::by_name(n) {
                        Some(c) if neg => remove.0 |= c.0,
                        Some(c) => add.0 |= c.0,
                        None => ok = false,
                    }
                }
                let verdict = if ok { "ACK" } else { "NAK" };
                if ok && let Some(c) = st.clients.get_mut(&self.id) {
                    c.caps = Caps((c.caps.0 | add.0) & !remove.0);
                }
                self.out.push(&Line::from(format!(":{name} CAP {nick} {verdict} :{}\r\n", wanted.trim())));
            }
            "END" => {
                self.cap_negotiating = false;
                drop(st);
                self.try_register();
            }
            _ => {
                let sub = if sub.is_empty() { "*" } else { msg.param(0) };
                self.num(&st, "410", format_args!("{sub} :Invalid CAP command"));
            }
        }
    }

    fn pass(&mut self, msg: &Message<'_>) {
        if self.registered {
            self.reply("462", ":You may not reregister");
            return;
        }
        if msg.params.is_empty() {
            self.reply("461", "PASS :Not enough parameters");
            return;
        }
        if let Some(want) = &self.shared.config.password {
            self.pass_ok = constant_time_eq(msg.param(0).as_bytes(), want.as_bytes());
        }
        if self.pass_ok {
            self.claim_nick();
        }
    }

    /// Reserves a nick that was given before the password (see [`Self::nick`]).
    fn claim_nick(&mut self) {
        let mut st = self.shared.lock();
        let Some(nick) = st.clients.get(&self.id).map(|c| c.nick.clone()) else { return };
        if nick == "*" {
            return;
        }
        let key = fold(&nick);
        match st.nicks.get(&key) {
            Some(holder) if *holder == self.id => {}
            Some(_) => {
                if let Some(c) = st.clients.get_mut(&self.id) {
                    c.nick = "*".into();
                }
                self.num(&st, "433", format_args!("{nick} :Nickname is already in use"));
            }
            None => {
                st.nicks.insert(key, self.id);
            }
        }
    }

    fn user(&mut self, msg: &Message<'_>) {
        if self.registered || self.got_user {
            self.reply("462", ":You may not reregister");
            return;
        }
        if msg.params.len() < 4 || msg.param(0).is_empty() {
            self.reply("461", "USER :Not enough parameters");
            return;
        }
        let user: String = msg
            .param(0)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.[]{}|^`\\".contains(*c))
            .take(USERLEN)
            .collect();
        let user = if user.is_empty() { "user".to_string() } else { user };
        {
            let mut st = self.shared.lock();
            if let Some(c) = st.clients.get_mut(&self.id) {
                c.user = user;
                c.realname = msg.param(3).chars().take(100).collect();
            }
        }
        self.got_user = true;
        self.try_register();
    }

    fn nick(&mut self, msg: &Message<'_>) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let new = msg.param(0);
        if new.is_empty() {
            self.num(&st, "431", ":No nickname given");
            return;
        }
        if !valid_nick(new) {
            self.num(&st, "432", format_args!("{} :Erroneous nickname", sanitize(new, NICKLEN + 1)));
            return;
        }
        let key = fold(new);
        let Some(client) = st.clients.get(&self.id) else { return };
        let old = client.nick.clone();
        if old == new {
            return;
        }
        if !self.pass_ok {
            // Before the password, a nick is noted but not reserved: someone
            // without the password must not keep the members from their nicks.
            if st.nicks.get(&fold(&old)) == Some(&self.id) {
                st.nicks.remove(&fold(&old));
            }
            if let Some(c) = st.clients.get_mut(&self.id) {
                c.nick = new.to_string();
            }
            return;
        }
        if st.nicks.get(&key).is_some_and(|holder| *holder != self.id) {
            self.num(&st, "433", format_args!("{new} :Nickname is already in use"));
            return;
        }
        let prefix = client.prefix();
        st.nicks.remove(&fold(&old));
        st.nicks.insert(key, self.id);
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.nick = new.to_string();
        }
        if self.registered {
            let line = format!(":{prefix} NICK {new}");
            let mut v = Variants::new(&line, "", SystemTime::now());
            let mut to = st.neighbours(self.id);
            to.push(self.id);
            st.fanout(to, &mut v);
            info!("{}: {old} is now {new}", self.peer);
        } else {
            drop(st);
            self.try_register();
        }
    }

    /// Completes registration once NICK, USER (and CAP END, PASS) are in.
    fn try_register(&mut self) {
        if self.registered || !self.got_user || self.cap_negotiating || !self.pass_ok || !self.nick_set() {
            return;
        }
        self.registered = true;
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut st = shared.lock();
        let Some(c) = st.clients.get_mut(&self.id) else { return };
        c.registered = true;
        c.signon = clock::unix_ms(SystemTime::now()) / 1000;
        let (nick, prefix) = (c.nick.clone(), c.prefix());
        info!("{}: registered as {prefix}", self.peer);
        let name = &cfg.name;
        self.num(&st, "001", format_args!(":Welcome to the {name} IRC network, {prefix}"));
        self.num(&st, "002", format_args!(":Your host is {name}, running version {VERSION}"));
        self.num(&st, "003", format_args!(":This server was created {}", clock::rfc3339(shared.started)));
        self.num(&st, "004", format_args!("{name} {VERSION} i nto o"));
        self.num(
            &st,
            "005",
            format_args!(
                "AWAYLEN={AWAYLEN} CASEMAPPING=ascii CHANLIMIT=#:{} CHANMODES=,,,nt CHANNELLEN={} CHANTYPES=# ELIST= HOSTLEN=64 LINELEN=512 MODES=4 NETWORK={name} NICKLEN={NICKLEN} PREFIX=(o)@ :are supported by this server",
                cfg.max_channels,
                super::state::CHANNELLEN
            ),
        );
        self.num(
            &st,
            "005",
            format_args!(
                "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1,JOIN:,PART:,NAMES:1,WHOIS:1 TOPICLEN={TOPICLEN} USERLEN={USERLEN} UTF8ONLY :are supported by this server"
            ),
        );
        self.lusers_locked(&st);
        self.motd_locked(&st);
        let _ = nick;
        drop(st);
    }

    // ---- simple queries -----------------------------------------------

    fn ping(&self, msg: &Message<'_>) {
        if msg.params.is_empty() {
            self.reply("409", ":No origin specified");
            return;
        }
        let name = &self.shared.config.name;
        let mut s = String::new();
        crate::line::write_message(&mut s, &[], Some(name), "PONG", &[name, msg.param(0)]);
        s.push_str("\r\n");
        self.out.push(&Line::from(s));
    }

    fn motd(&self) {
        let st = self.shared.lock();
        self.motd_locked(&st);
    }

    fn motd_locked(&self, st: &State) {
        let name = &self.shared.config.name;
        match &self.shared.motd {
            Some(text) => {
                self.num(st, "375", format_args!(":- {name} Message of the day - "));
                for l in text.lines() {
                    let l: String = l.chars().filter(|c| !c.is_control()).take(400).collect();
                    self.num(st, "372", format_args!(":- {l}"));
                }
                self.num(st, "376", ":End of /MOTD command.");
            }
            None => self.num(st, "422", ":MOTD File is missing"),
        }
    }

    fn lusers(&self) {
        let st = self.shared.lock();
        self.lusers_locked(&st);
    }

    fn lusers_locked(&self, st: &State) {
        let users = st.user_count();
        let unknown = st.clients.len() - users;
        self.num(st, "251", format_args!(":There are {users} users and 0 invisible on 1 servers"));
        if unknown > 0 {
            self.num(st, "253", format_args!("{unknown} :unknown connection(s)"));
        }
        self.num(st, "254", format_args!("{} :channels formed", st.channels.len()));
        self.num(st, "255", format_args!(":I have {users} clients and 0 servers"));
    }

    fn version(&self) {
        let st = self.shared.lock();
        self.num(&st, "351", format_args!("{VERSION} {} :lanchat LAN chat appliance", self.shared.config.name));
    }

    fn userhost(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "USERHOST :Not enough parameters");
            return;
        }
        let replies: Vec<String> = msg
            .params
            .iter()
            .take(5)
            .filter_map(|n| st.find_nick(n).and_then(|id| st.clients.get(&id)))
            .map(|c| format!("{}={}{}@{}", c.nick, if c.away.is_some() { '-' } else { '+' }, c.user, c.host))
            .collect();
        self.num(&st, "302", format_args!(":{}", replies.join(" ")));
    }

    fn ison(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "ISON :Not enough parameters");
            return;
        }
        let on: Vec<&str> = msg
            .params
            .iter()
            .flat_map(|p| p.split(' '))
            .filter_map(|n| st.find_nick(n).and_then(|id| st.clients.get(&id)))
            .map(|c| c.nick.as_str())
            .collect();
        self.num(&st, "303", format_args!(":{}", on.join(" ")));
    }

    fn away(&self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        let text: String = msg.param(0).chars().take(AWAYLEN).collect();
        let back = text.is_empty();
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.away = if back { None } else { Some(text) };
        }
        if back {
            self.num(&st, "305", ":You are no longer marked as being away");
        } else {
            self.num(&st, "306", ":You have been marked as being away");
        }
    }

    // ---- channels -------------------------------------------------------

    async fn join(&mut self, msg: &Message<'_>) {
        if msg.params.is_empty() {
            self.reply("461", "JOIN :Not enough parameters");
            return;
        }
        if msg.param(0) == "0" {
            let mut st = self.shared.lock();
            let names: Vec<String> = st
                .clients
                .get(&self.id)
                .map(|c| c.channels.iter().filter_map(|k| st.channels.get(k)).map(|ch| ch.name.clone()).collect())
                .unwrap_or_default();
            for name in names {
                part_one(&mut st, self.id, &name, "Left all channels");
            }
            return;
        }
        for name in msg.param(0).split(',').filter(|n| !n.is_empty()) {
            let replay = self.join_one(name);
            if let Some(lines) = replay {
                if self.push_paced(lines).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Joins one channel; returns the history and canvas lines to replay.
    fn join_one(&mut self, name: &str) -> Option<Vec<Line>> {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut st = shared.lock();
        if !valid_channel(name) {
            self.num(&st, "476", format_args!("{} :Bad Channel Mask", sanitize(name, 60)));
            return None;
        }
        let key = fold(name);
        let client = st.clients.get(&self.id)?;
        if client.channels.contains(&key) {
            return None;
        }
        if client.channels.len() >= cfg.max_channels {
            self.num(&st, "405", format_args!("{name} :You have joined too many channels"));
            return None;
        }
        let (prefix, caps) = (client.prefix(), client.caps);
        let now = SystemTime::now();
        let ch = st.channels.entry(key.clone()).or_insert_with(|| Channel {
            name: name.to_string(),
            topic: None,
            created: clock::unix_ms(now) / 1000,
            members: Vec::new(),
            no_external: true,
            topic_lock: true,
            canvas: Default::default(),
        });
        // Whoever creates a channel runs it.
        let op = ch.members.is_empty();
        ch.members.push((self.id, op));
        let chname = ch.name.clone();
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.channels.push(key.clone());
        }
        let line = format!(":{prefix} JOIN {chname}");
        let mut v = Variants::new(&line, "", now);
        let members: Vec<ClientId> = st.channels[&key].members.iter().map(|(m, _)| *m).collect();
        st.fanout(members, &mut v);
        info!("{}: joined {chname}", self.peer);
        self.topic_reply(&st, &key);
        self.names_reply(&st, &key);

        let mut replay = Vec::new();
        self.history_lines(&st, &key, &chname, caps, &mut replay);
        if caps.has(Caps::MESSAGE_TAGS) {
            replay.extend(st.channels[&key].canvas.strokes.iter().cloned());
        }
        Some(replay)
    }

    /// Formats the kept history of a channel for this client's capabilities.
    fn history_lines(&mut self, st: &State, key: &str, chname: &str, caps: Caps, out: &mut Vec<Line>) {
        let mut entries = st.history.recent(key).peekable();
        if entries.peek().is_none() {
            return;
        }
        let name = &self.shared.config.name;
        if caps.has(Caps::BATCH) && caps.has(Caps::SERVER_TIME) {
            self.batch_seq += 1;
            let id = format!("h{}x{}", self.id, self.batch_seq);
            out.push(Line::from(format!(":{name} BATCH +{id} chathistory {chname}\r\n")));
            for e in entries {
                let t = clock::rfc3339(clock::from_unix_ms(e.time_ms));
                out.push(Line::from(format!("@batch={id};time={t} {}\r\n", e.line)));
            }
            out.push(Line::from(format!(":{name} BATCH -{id}\r\n")));
        } else if caps.has(Caps::SERVER_TIME) {
            for e in entries {
                let t = clock::rfc3339(clock::from_unix_ms(e.time_ms));
                out.push(Line::from(format!("@time={t} {}\r\n", e.line)));
            }
        } else {
            for e in entries {
                out.push(Line::from(stamp_plain(&e.line, clock::from_unix_ms(e.time_ms)) + "\r\n"));
            }
        }
    }

    /// Pushes bulk lines to this client only as fast as it reads them.
    async fn push_paced(&self, lines: Vec<Line>) -> Result<(), ()> {
        let half = self.out.limit() / 2;
        for line in lines {
            while self.out.queued() + line.len() > half {
                if self.out.is_dead() || self.room.recv().await.is_err() {
                    return Err(());
                }
            }
            if !self.out.push(&line) {
                return Err(());
            }
        }
        Ok(())
    }

    fn part(&mut self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "PART :Not enough parameters");
            return;
        }
        let reason = msg.param(1);
        for name in msg.param(0).split(',').filter(|n| !n.is_empty()) {
            let key = fold(name);
            match st.channels.get(&key) {
                None => self.num(&st, "403", format_args!("{} :No such channel", sanitize(name, 60))),
                Some(ch) if ch.member(self.id).is_none() => {
                    self.num(&st, "442", format_args!("{} :You're not on that channel", ch.name))
                }
                Some(_) => {
                    part_one(&mut st, self.id, name, reason);
                    info!("{}: left {name}", self.peer);
                }
            }
        }
    }

    fn topic_reply(&self, st: &State, key: &str) {
        let Some(ch) = st.channels.get(key) else { return };
        match &ch.topic {
            Some(t) => {
                self.num(st, "332", format_args!("{} :{}", ch.name, t.text));
                self.num(st, "333", format_args!("{} {} {}", ch.name, t.setter, t.time));
            }
            None => self.num(st, "331", format_args!("{} :No topic is set", ch.name)),
        }
    }

    fn names_reply(&self, st: &State, key: &str) {
        let Some(ch) = st.channels.get(key) else { return };
        let caps = st.clients.get(&self.id).map(|c| c.caps).unwrap_or_default();
        let mut names = String::new();
        for (id, op) in &ch.members {
            let Some(c) = st.clients.get(id) else { continue };
            if names.len() > 350 {
                self.num(st, "353", format_args!("= {} :{}", ch.name, names));
                names.clear();
            }
            if !names.is_empty() {
                names.push(' ');
            }
            if *op {
                names.push('@');
            }
            if caps.has(Caps::USERHOST_IN_NAMES) {
                names.push_str(&c.prefix());
            } else {
                names.push_str(&c.nick);
            }
        }
        if !names.is_empty() {
            self.num(st, "353", format_args!("= {} :{}", ch.name, names));
        }
        self.num(st, "366", format_args!("{} :End of /NAMES list", ch.name));
    }

    fn names(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        let target = msg.param(0);
        if target.is_empty() {
            // Without a channel: the client's own channels, as most servers do.
            let keys = st.clients.get(&self.id).map(|c| c.channels.clone()).unwrap_or_default();
            for key in keys {
                self.names_reply(&st, &key);
            }
            self.num(&st, "366", "* :End of /NAMES list");
            return;
        }
        for name in target.split(',').filter(|n| !n.is_empty()) {
            let key = fold(name);
            if st.channels.contains_key(&key) {
                self.names_reply(&st, &key);
            } else {
                self.num(&st, "366", format_args!("{} :End of /NAMES list", sanitize(name, 60)));
            }
        }
    }

    fn who(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        let mask = msg.param(0);
        let name = &self.shared.config.name;
        let row = |chan: &str, c: &Client, op: bool| {
            let flags = format!("{}{}", if c.away.is_some() { 'G' } else { 'H' }, if op { "@" } else { "" });
            self.num(
                &st,
                "352",
                format_args!("{chan} {} {} {name} {} {flags} :0 {}", c.user, c.host, c.nick, c.realname),
            );
        };
        if let Some(ch) = st.channels.get(&fold(mask)) {
            for (id, op) in &ch.members {
                if let Some(c) = st.clients.get(id) {
                    row(&ch.name, c, *op);
                }
            }
        } else if let Some(c) = st.find_nick(mask).and_then(|id| st.clients.get(&id)) {
            row("*", c, false);
        }
        let shown = if mask.is_empty() { "*" } else { mask };
        self.num(&st, "315", format_args!("{} :End of /WHO list", sanitize(shown, 60)));
    }

    fn whois(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        // WHOIS [server] nick: the nick is the last parameter.
        let Some(target) = msg.params.last().copied().filter(|t| !t.is_empty()) else {
            self.num(&st, "431", ":No nickname given");
            return;
        };
        let name = &self.shared.config.name;
        match st.find_nick(target).and_then(|id| st.clients.get(&id).map(|c| (id, c))) {
            Some((id, c)) => {
                self.num(&st, "311", format_args!("{} {} {} * :{}", c.nick, c.user, c.host, c.realname));
                let chans: Vec<String> = c
                    .channels
                    .iter()
                    .filter_map(|k| st.channels.get(k))
                    .map(|ch| format!("{}{}", if ch.member(id) == Some(true) { "@" } else { "" }, ch.name))
                    .collect();
                if !chans.is_empty() {
                    self.num(&st, "319", format_args!("{} :{}", c.nick, chans.join(" ")));
                }
                self.num(&st, "312", format_args!("{} {name} :lanchat LAN chat appliance", c.nick));
                if let Some(away) = &c.away {
                    self.num(&st, "301", format_args!("{} :{away}", c.nick));
                }
                self.num(
                    &st,
                    "317",
                    format_args!("{} {} {} :seconds idle, signon time", c.nick, c.last_spoke.elapsed().as_secs(), c.signon),
                );
                self.num(&st, "318", format_args!("{} :End of /WHOIS list", c.nick));
            }
            None => {
                let t = sanitize(target, NICKLEN + 1);
                self.num(&st, "401", format_args!("{t} :No such nick/channel"));
                self.num(&st, "318", format_args!("{t} :End of /WHOIS list"));
            }
        }
    }

    fn list(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        let wanted: Vec<String> = msg.param(0).split(',').filter(|n| !n.is_empty()).map(fold).collect();
        self.num(&st, "321", "Channel :Users  Name");
        let mut chans: Vec<&Channel> = st.channels.values().collect();
        chans.sort_by(|a, b| a.name.cmp(&b.name));
        for ch in chans {
            if wanted.is_empty() || wanted.contains(&fold(&ch.name)) {
                let topic = ch.topic.as_ref().map_or("", |t| t.text.as_str());
                self.num(&st, "322", format_args!("{} {} :{topic}", ch.name, ch.members.len()));
            }
        }
        self.num(&st, "323", ":End of /LIST");
    }

    fn topic(&self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "TOPIC :Not enough parameters");
            return;
        }
        let key = fold(msg.param(0));
        let Some(ch) = st.channels.get(&key) else {
            self.num(&st, "403", format_args!("{} :No such channel", sanitize(msg.param(0), 60)));
            return;
        };
        if msg.params.len() < 2 {
            self.topic_reply(&st, &key);
            return;
        }
        match ch.member(self.id) {
            None => {
                self.num(&st, "442", format_args!("{} :You're not on that channel", ch.name));
                return;
            }
            Some(false) if ch.topic_lock => {
                self.num(&st, "482", format_args!("{} :You're not channel operator", ch.name));
                return;
            }
            Some(_) => {}
        }
        let Some(c) = st.clients.get(&self.id) else { return };
        let (nick, prefix) = (c.nick.clone(), c.prefix());
        let text: String = msg.param(1).chars().take(TOPICLEN).collect();
        let now = SystemTime::now();
        let Some(ch) = st.channels.get_mut(&key) else { return };
        ch.topic = if text.is_empty() {
            None
        } else {
            Some(Topic { text: text.clone(), setter: nick, time: clock::unix_ms(now) / 1000 })
        };
        let line = format!(":{prefix} TOPIC {} :{text}", ch.name);
        let members: Vec<ClientId> = ch.members.iter().map(|(m, _)| *m).collect();
        let mut v = Variants::new(&line, "", now);
        st.fanout(members, &mut v);
    }

    fn mode(&self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        let target = msg.param(0);
        if target.is_empty() {
            self.num(&st, "461", "MODE :Not enough parameters");
            return;
        }
        if target.starts_with('#') {
            self.channel_mode(&mut st, msg);
            return;
        }
        let Some(c) = st.clients.get(&self.id) else { return };
        if fold(target) != fold(&c.nick) {
            let code = if st.find_nick(target).is_some() { "502" } else { "401" };
            let text = if code == "502" { "Can't change mode for other users" } else { "No such nick/channel" };
            self.num(&st, code, format_args!("{} :{text}", sanitize(target, NICKLEN + 1)));
            return;
        }
        let modes = msg.param(1);
        if modes.is_empty() {
            let m = if c.invisible { "+i" } else { "+" };
            self.num(&st, "221", m);
            return;
        }
        let mut adding = true;
        let mut unknown = false;
        let mut invisible = c.invisible;
        for m in modes.chars() {
            match m {
                '+' => adding = true,
                '-' => adding = false,
                'i' => invisible = adding,
                _ => unknown = true,
            }
        }
        let (nick, changed) = (c.nick.clone(), invisible != c.invisible);
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.invisible = invisible;
        }
        if changed {
            let m = if invisible { "+i" } else { "-i" };
            self.out.push(&Line::from(format!(":{nick} MODE {nick} :{m}\r\n")));
        }
        if unknown {
            self.num(&st, "501", ":Unknown MODE flag");
        }
    }

    fn channel_mode(&self, st: &mut State, msg: &Message<'_>) {
        let key = fold(msg.param(0));
        let Some(ch) = st.channels.get(&key) else {
            self.num(st, "403", format_args!("{} :No such channel", sanitize(msg.param(0), 60)));
            return;
        };
        let modes = msg.param(1);
        if modes.is_empty() {
            self.num(st, "324", format_args!("{} {}", ch.name, ch.modes()));
            self.num(st, "329", format_args!("{} {}", ch.name, ch.created));
            return;
        }
        // Ban list queries (clients send them on join): we keep no lists.
        if msg.params.len() == 2 && matches!(modes, "b" | "+b") {
            self.num(st, "368", format_args!("{} :End of channel ban list", ch.name));
            return;
        }
        let chname = ch.name.clone();
        let is_op = ch.member(self.id) == Some(true);
        let mut args = msg.params.iter().skip(2);
        let mut adding = true;
        let mut applied = String::new();
        let mut applied_args: Vec<String> = Vec::new();
        let mut last_sign = ' ';
        for m in modes.chars() {
            match m {
                '+' => adding = true,
                '-' => adding = false,
                'n' | 't' | 'o' if !is_op => {
                    self.num(st, "482", format_args!("{chname} :You're not channel operator"));
                    return;
                }
                'n' | 't' => {
                    let Some(ch) = st.channels.get_mut(&key) else { return };
                    let flag = if m == 'n' { &mut ch.no_external } else { &mut ch.topic_lock };
                    if *flag != adding {
                        *flag = adding;
                        let sign = if adding { '+' } else { '-' };
                        if sign != last_sign {
                            applied.push(sign);
                            last_sign = sign;
                        }
                        applied.push(m);
                    }
                }
                'o' => {
                    let Some(who) = args.next() else {
                        self.num(st, "461", "MODE :Not enough parameters");
                        continue;
                    };
                    let Some(tid) = st.find_nick(who) else {
                        self.num(st, "401", format_args!("{} :No such nick/channel", sanitize(who, NICKLEN + 1)));
                        continue;
                    };
                    let Some(ch) = st.channels.get_mut(&key) else { return };
                    let Some(slot) = ch.members.iter_mut().find(|(m, _)| *m == tid) else {
                        self.num(st, "441", format_args!("{who} {chname} :They aren't on that channel"));
                        continue;
                    };
                    if slot.1 != adding {
                        slot.1 = adding;
                        let sign = if adding { '+' } else { '-' };
                        if sign != last_sign {
                            applied.push(sign);
                            last_sign = sign;
                        }
                        applied.push('o');
                        applied_args.push(st.clients.get(&tid).map_or(who.to_string(), |c| c.nick.clone()));
                    }
                }
                other => self.num(st, "472", format_args!("{other} :is unknown mode char to me")),
            }
        }
        if !applied.is_empty() {
            let Some(prefix) = st.clients.get(&self.id).map(|c| c.prefix()) else { return };
            let mut line = format!(":{prefix} MODE {chname} {applied}");
            for a in &applied_args {
                line.push(' ');
                line.push_str(a);
            }
            let members: Vec<ClientId> = st.channels[&key].members.iter().map(|(m, _)| *m).collect();
            st.fanout(members, &mut Variants::new(&line, "", SystemTime::now()));
        }
    }

    // ---- messages -------------------------------------------------------

    /// PRIVMSG, NOTICE and TAGMSG to a channel or a nick.
    fn message(&self, cmd: &str, msg: &Message<'_>) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let notice = cmd == "NOTICE";
        let tagmsg = cmd == "TAGMSG";
        let target = msg.param(0);
        if target.is_empty() {
            if !notice {
                self.num(&st, "411", format_args!(":No recipient given ({cmd})"));
            }
            return;
        }
        let text = msg.param(1);
        if !tagmsg && text.is_empty() {
            if !notice {
                self.num(&st, "412", ":No text to send");
            }
            return;
        }
        // Client-only tags are relayed; every other tag a client sends is ours to set.
        let mut client_tags = String::new();
        for (k, v) in msg.tags() {
            if k.len() > 1 && k.starts_with('+') && k[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b"-/.".contains(&b))
            {
                if !client_tags.is_empty() {
                    client_tags.push(';');
                }
                client_tags.push_str(k);
                if !v.is_empty() {
                    client_tags.push('=');
                    client_tags.push_str(v);
                }
            }
        }
        if client_tags.len() > MAX_CLIENT_TAGS {
            self.num(&st, "417", ":Input line was too long");
            return;
        }
        if tagmsg && client_tags.is_empty() {
            return;
        }
        let Some(sender) = st.clients.get(&self.id) else { return };
        let (prefix, caps) = (sender.prefix(), sender.caps);
        let now = SystemTime::now();
        let mut base = String::with_capacity(prefix.len() + target.len() + text.len() + 16);
        base.push(':');
        base.push_str(&prefix);
        base.push(' ');
        base.push_str(cmd);
        base.push(' ');

        if target.starts_with('#') {
            let key = fold(target);
            let Some(ch) = st.channels.get(&key) else {
                if !notice {
                    self.num(&st, "403", format_args!("{} :No such channel", sanitize(target, 60)));
                }
                return;
            };
            if ch.no_external && ch.member(self.id).is_none() {
                if !notice {
                    self.num(&st, "404", format_args!("{} :Cannot send to channel", ch.name));
                }
                return;
            }
            let chname = ch.name.clone();
            base.push_str(&chname);
            let mut canvas_change = None;
            if tagmsg {
                match canvas_tag(msg) {
                    Ok(change) => canvas_change = change,
                    Err(e) => {
                        self.num(&st, "400", format_args!("TAGMSG :Invalid canvas stroke: {e}"));
                        return;
                    }
                }
            } else {
                base.push_str(" :");
                base.push_str(text);
                // In the journal before anyone sees it: what was relayed is in history.
                st.history.append(&chname, clock::unix_ms(now), &Line::from(base.as_str()));
            }
            let mut v = Variants::new(&base, &client_tags, now);
            if tagmsg {
                v = v.tags_only();
            }
            let Some(ch) = st.channels.get_mut(&key) else { return };
            match canvas_change {
                Some(CanvasChange::Clear) => ch.canvas = Default::default(),
                Some(CanvasChange::Stroke) => {
                    if let Some(line) = v.for_caps(Caps::MESSAGE_TAGS) {
                        let max = shared.config.canvas_max;
                        ch.canvas.bytes += line.len();
                        ch.canvas.strokes.push_back(line);
                        while ch.canvas.bytes > max {
                            match ch.canvas.strokes.pop_front() {
                                Some(old) => ch.canvas.bytes -= old.len(),
                                None => break,
                            }
                        }
                    }
                }
                None => {}
            }
            let to: Vec<ClientId> = ch.members.iter().map(|(m, _)| *m).filter(|m| *m != self.id).collect();
            st.fanout(to, &mut v);
            if caps.has(Caps::ECHO_MESSAGE) {
                if let Some(line) = v.for_caps(caps) {
                    self.out.push(&line);
                }
            }
        } else {
            let Some(tid) = st.find_nick(target) else {
                if !notice {
                    self.num(&st, "401", format_args!("{} :No such nick/channel", sanitize(target, NICKLEN + 1)));
                }
                return;
            };
            let Some(tc) = st.clients.get(&tid) else { return };
            base.push_str(&tc.nick);
            if !tagmsg {
                base.push_str(" :");
                base.push_str(text);
            }
            let mut v = Variants::new(&base, &client_tags, now);
            if tagmsg {
                v = v.tags_only();
            }
            if tid != self.id || !caps.has(Caps::ECHO_MESSAGE) {
                st.fanout([tid], &mut v);
            }
            if caps.has(Caps::ECHO_MESSAGE) {
                if let Some(line) = v.for_caps(caps) {
                    self.out.push(&line);
                }
            }
            if cmd == "PRIVMSG" {
                if let Some(away) = &tc.away {
                    self.num(&st, "301", format_args!("{} :{away}", tc.nick));
                }
            }
        }
        if !tagmsg {
            if let Some(c) = st.clients.get_mut(&self.id) {
                c.last_spoke = Instant::now();
            }
        }
    }
}

enum CanvasChange {
    Stroke,
    Clear,
}

/// What a TAGMSG does to the channel's canvas; an invalid stroke is an error.
fn canvas_tag(msg: &Message<'_>) -> Result<Option<CanvasChange>, canvas::DecodeError> {
    if msg.tag(canvas::CLEAR_TAG).is_some() {
        return Ok(Some(CanvasChange::Clear));
    }
    match msg.tag(canvas::STROKE_TAG) {
        Some(v) => canvas::Stroke::decode(&crate::line::unescape_tag_value(v)).map(|_| Some(CanvasChange::Stroke)),
        None => Ok(None),
    }
}

/// Leaves one channel, telling its members; drops the channel when empty.
fn part_one(st: &mut State, id: ClientId, name: &str, reason: &str) {
    let key = fold(name);
    let Some(prefix) = st.clients.get(&id).map(|c| c.prefix()) else { return };
    let Some(ch) = st.channels.get(&key) else { return };
    let line = if reason.is_empty() {
        format!(":{prefix} PART {}", ch.name)
    } else {
        format!(":{prefix} PART {} :{reason}", ch.name)
    };
    let members: Vec<ClientId> = ch.members.iter().map(|(m, _)| *m).collect();
    st.fanout(members, &mut Variants::new(&line, "", SystemTime::now()));
    remove_member(st, id, &key);
}

/// Takes the client out of every channel without telling anyone (QUIT did).
fn part_all(st: &mut State, id: ClientId) {
    let keys = st.clients.get(&id).map(|c| c.channels.clone()).unwrap_or_default();
    for key in keys {
        remove_member(st, id, &key);
    }
}

fn remove_member(st: &mut State, id: ClientId, key: &str) {
    if let Some(ch) = st.channels.get_mut(key) {
        ch.members.retain(|(m, _)| *m != id);
        if ch.members.is_empty() {
            st.channels.remove(key);
        }
    }
    if let Some(c) = st.clients.get_mut(&id) {
        c.channels.retain(|k| k != key);
    }
}

/// The text of a QUIT broadcast for a closing reason.
fn quit_text(reason: &str) -> &str {
    reason
}

/// A history line for a client without server-time: `[HH:MM] ` before the
/// text (inside a CTCP ACTION, after its verb).
fn stamp_plain(line: &str, time: SystemTime) -> String {
    let hhmm = clock::local_hhmm(time);
    let Some(idx) = line.find(" :") else { return line.to_string() };
    let (head, text) = (&line[..idx], &line[idx + 2..]);
    match text.strip_prefix("\u{1}ACTION ") {
        Some(rest) => format!("{head} :\u{1}ACTION [{hhmm}] {rest}"),
        None => format!("{head} :[{hhmm}] {text}"),
    }
}

/// A parameter echoed in an error, cut short and stripped of control characters.
fn sanitize(s: &str, max: usize) -> String {
    let s: String = s.chars().filter(|c| !c.is_control() && *c != ' ').take(max).collect();
    if s.is_empty() { "*".into() } else { s }
}

/// Compares without an early exit, so timing does not reveal the password.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_history_gets_a_time_prefix() {
        let t = clock::from_unix_ms(0);
        let hhmm = clock::local_hhmm(t);
        assert_eq!(stamp_plain(":a!b@c PRIVMSG #x :hi", t), format!(":a!b@c PRIVMSG #x :[{hhmm}] hi"));
        assert_eq!(
            stamp_plain(":a!b@c PRIVMSG #x :\u{1}ACTION waves\u{1}", t),
            format!(":a!b@c PRIVMSG #x :\u{1}ACTION [{hhmm}] waves\u{1}")
        );
    }

    #[test]
    fn password_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}

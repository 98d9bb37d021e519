//! The connection actor: one thread, one TCP connection at a time,
//! registration, CAP negotiation, reconnection with backoff.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use async_channel::{Receiver, Sender};
use async_net::TcpStream;
use smol::future::or;
use smol::io::{AsyncReadExt, AsyncWriteExt};

use super::{Command, ConnState, Event, MsgKind, Settings, WANTED_CAPS};
use crate::canvas::{self, Stroke};
use crate::clock;
use crate::line::{Message, unescape_tag_value};

/// The front end's handle on the connection thread.
#[derive(Clone)]
pub struct Handle {
    tx: Sender<Command>,
}

impl Handle {
    /// Queues a command; never blocks. After the thread ended it is dropped.
    pub fn send(&self, cmd: Command) {
        let _ = self.tx.try_send(cmd);
    }
}

/// Starts the connection thread. It does nothing until [`Command::Connect`],
/// and ends after [`Command::Quit`] (or when every [`Handle`] is dropped).
pub fn spawn(on_event: impl Fn(Event) + Send + 'static) -> Handle {
    let (tx, rx) = async_channel::unbounded();
    std::thread::Builder::new()
        .name("lanchat-client".into())
        .spawn(move || smol::block_on(actor(rx, on_event)))
        .expect("cannot start the client thread");
    Handle { tx }
}

/// How one connection ended.
enum End {
    /// The user quit: stop.
    Quit,
    /// The user disconnected: wait for Connect.
    Disconnect,
    /// The user asked for other settings.
    Reconnect(Settings),
    /// The network or the server ended it: try again.
    Lost(String),
}

const PING_EVERY: Duration = Duration::from_secs(15);
const DEAD_AFTER: Duration = Duration::from_secs(45);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

async fn actor(rx: Receiver<Command>, emit: impl Fn(Event)) {
    let mut settings: Option<Settings> = None;
    let mut pending: VecDeque<(String, String)> = VecDeque::new();
    let mut quitting = false;
    let mut attempt = 0u32;
    // Channels to (re)join, beyond the one in the settings.
    let mut channels: Vec<String> = Vec::new();
    // The newest message shown per conversation, so a rejoin's history
    // replay shows only what was missed.
    let mut seen: Seen = HashMap::new();
    loop {
        let Some(s) = settings.clone() else {
            emit(Event::State(ConnState::Disconnected));
            for (target, text) in pending.drain(..) {
                emit(Event::NotSent { target, text, reason: "not connected".into() });
            }
            if quitting {
                return;
            }
            match rx.recv().await {
                Ok(Command::Connect(s)) => {
                    settings = Some(s);
                    attempt = 0;
                }
                Ok(Command::Quit) | Err(_) => return,
                Ok(Command::Say { target, text }) => {
                    emit(Event::NotSent { target, text, reason: "not connected".into() })
                }
                Ok(_) => {}
            }
            continue;
        };
        if !channels.contains(&s.channel) {
            channels.insert(0, s.channel.clone());
        }
        emit(Event::State(ConnState::Connecting));
        let mut conn = Conn::new(&s, &emit, &mut seen);
        let end = conn.run(&rx, &mut pending, &mut channels, &mut quitting).await;
        match end {
            End::Quit => {
                emit(Event::State(ConnState::Disconnected));
                for (target, text) in pending.drain(..) {
                    emit(Event::NotSent { target, text, reason: "quit before it could be sent".into() });
                }
                return;
            }
            End::Disconnect => {
                settings = None;
                channels.clear();
            }
            End::Reconnect(new) => {
                settings = Some(new);
                channels.clear();
                attempt = 0;
            }
            End::Lost(why) => {
                if conn.registered {
                    attempt = 0;
                }
                attempt += 1;
                emit(Event::System { target: None, text: format!("connection lost: {why}"), time: SystemTime::now() });
                if quitting {
                    settings = None;
                    continue;
                }
                let delay = Duration::from_millis(500u64 << attempt.min(6)).min(MAX_BACKOFF);
                emit(Event::State(ConnState::Reconnecting { attempt, delay }));
                // Wait out the backoff, still taking commands.
                let deadline = Instant::now() + delay;
                loop {
                    let cmd = or(async { rx.recv().await.ok() }, async {
                        smol::Timer::at(deadline).await;
                        None
                    })
                    .await;
                    match cmd {
                        None => break,
                        Some(Command::Quit) => return,
                        Some(Command::Disconnect) => {
                            settings = None;
                            channels.clear();
                            break;
                        }
                        Some(Command::Connect(new)) => {
                            settings = Some(new);
                            channels.clear();
                            attempt = 0;
                            break;
                        }
                        Some(Command::Say { target, text }) => pending.push_back((target, text)),
                        Some(Command::Join(c)) => channels.push(c),
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

/// Per conversation, the time and text of the newest message shown.
type Seen = HashMap<String, (SystemTime, String)>;

/// One TCP connection's state.
struct Conn<'a, E: Fn(Event)> {
    settings: &'a Settings,
    emit: &'a E,
    seen: &'a mut Seen,
    /// `seen` as it was when this connection began: a replay is checked
    /// against it, so a live line that overtakes the replay hides nothing.
    seen_before: Seen,
    nick: String,
    registered: bool,
    caps: Vec<String>,
    /// Capabilities offered so far by a multi-line CAP LS.
    offered: Vec<String>,
    /// Users of each channel we are in, by casefolded channel name.
    users: BTreeMap<String, Vec<String>>,
    /// NAMES replies being gathered.
    names: BTreeMap<String, Vec<String>>,
    /// Open `chathistory` batches.
    history_batches: Vec<String>,
    ping_sent: Option<(String, Instant)>,
    last_heard: Instant,
    out: Vec<u8>,
    warned_no_tags: bool,
}

impl<'a, E: Fn(Event)> Conn<'a, E> {
    fn new(settings: &'a Settings, emit: &'a E, seen: &'a mut Seen) -> Self {
        Conn {
            settings,
            emit,
            seen_before: seen.clone(),
            seen,
            nick: settings.nick.clone(),
            registered: false,
            caps: Vec::new(),
            offered: Vec::new(),
            users: BTreeMap::new(),
            names: BTreeMap::new(),
            history_batches: Vec::new(),
            ping_sent: None,
            last_heard: Instant::now(),
            out: Vec::new(),
            warned_no_tags: false,
        }
    }

    fn send(&mut self, line: &str) {
        // Never let a CR or LF from user text split one line into two commands.
        self.out.extend(line.bytes().filter(|&b| b != b'\r' && b != b'\n' && b != 0));
        self.out.extend_from_slice(b"\r\n");
    }

    fn system(&self, target: Option<&str>, text: String) {
        (self.emit)(Event::System { target: target.map(str::to_string), text, time: SystemTime::now() });
    }

    async fn run(
        &mut self,
        rx: &Receiver<Command>,
        pending: &mut VecDeque<(String, String)>,
        channels: &mut Vec<String>,
        quitting: &mut bool,
    ) -> End {
        let connect = or(async { Some(TcpStream::connect(self.settings.server.as_str()).await) }, async {
            smol::Timer::after(Duration::from_secs(10)).await;
            None
        });
        let mut stream = match connect.await {
            Some(Ok(s)) => s,
            Some(Err(e)) => return End::Lost(format!("cannot connect to {}: {e}", self.settings.server)),
            None => return End::Lost(format!("cannot connect to {}: timed out", self.settings.server)),
        };
        let _ = stream.set_nodelay(true);
        self.send("CAP LS 302");
        if let Some(p) = &self.settings.password {
            let p = p.clone();
            self.send(&format!("PASS :{p}"));
        }
        let nick = self.nick.clone();
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :lanchat user"));
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if !self.out.is_empty() {
                let out = std::mem::take(&mut self.out);
                if let Err(e) = stream.write_all(&out).await {
                    return End::Lost(e.to_string());
                }
            }
            #[allow(clippy::large_enum_variant)] // lives on the stack for one wake-up
            enum Wake {
                Read(std::io::Result<usize>),
                Cmd(Option<Command>),
                Tick,
            }
            let wake = or(async { Wake::Read(stream.read(&mut chunk).await) }, async {
                or(async { Wake::Cmd(rx.recv().await.ok()) }, async {
                    smol::Timer::after(Duration::from_secs(1)).await;
                    Wake::Tick
                })
                .await
            })
            .await;
            match wake {
                Wake::Read(Ok(0)) => return End::Lost("the server closed the connection".into()),
                Wake::Read(Err(e)) => return End::Lost(e.to_string()),
                Wake::Read(Ok(n)) => {
                    self.last_heard = Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                    let mut start = 0;
                    while let Some(off) = buf[start..].iter().position(|&b| b == b'\n') {
                        let raw = &buf[start..start + off];
                        start += off + 1;
                        let text = String::from_utf8_lossy(raw);
                        let text = text.trim_end_matches('\r');
                        if let Ok(msg) = Message::parse(text)
                            && let Some(end) = self.handle(&msg, pending, channels, quitting)
                        {
                            let out = std::mem::take(&mut self.out);
                            let _ = stream.write_all(&out).await;
                            return end;
                        }
                    }
                    buf.drain(..start);
                    if buf.len() > 64 * 1024 {
                        return End::Lost("the server sent an endless line".into());
                    }
                }
                Wake::Cmd(None) => {
                    self.send("QUIT");
                    let out = std::mem::take(&mut self.out);
                    let _ = stream.write_all(&out).await;
                    return End::Quit;
                }
                Wake::Cmd(Some(cmd)) => {
                    if let Some(end) = self.command(cmd, pending, channels, quitting) {
                        let out = std::mem::take(&mut self.out);
                        let _ = stream.write_all(&out).await;
                        return end;
                    }
                }
                Wake::Tick => {
                    let quiet = self.last_heard.elapsed();
                    if quiet > DEAD_AFTER {
                        return End::Lost("the server stopped answering".into());
                    }
                    let ping_due = match &self.ping_sent {
                        Some((_, at)) => at.elapsed() > PING_EVERY,
                        None => true,
                    };
                    if self.registered && ping_due {
                        let token = format!("lanchat-{}", clock::unix_ms(SystemTime::now()));
                        self.send(&format!("PING :{token}"));
                        self.ping_sent = Some((token, Instant::now()));
                    }
                }
            }
        }
    }

    fn command(
        &mut self,
        cmd: Command,
        pending: &mut VecDeque<(String, String)>,
        channels: &mut Vec<String>,
        quitting: &mut bool,
    ) -> Option<End> {
        match cmd {
            Command::Connect(s) => {
                self.send("QUIT :Changing server");
                return Some(End::Reconnect(s));
            }
            Command::Disconnect => {
                self.send("QUIT :Disconnected");
                return Some(End::Disconnect);
            }
            Command::Quit => {
                if !self.registered && !pending.is_empty() {
                    // Deliver what was typed first, then quit.
                    *quitting = true;
                    return None;
                }
                self.send("QUIT :Leaving");
                return Some(End::Quit);
            }
            Command::Say { target, text } => {
                if self.registered {
                    self.say(&target, &text);
                } else {
                    pending.push_back((target, text));
                }
            }
            Command::Nick(n) => self.send(&format!("NICK {n}")),
            Command::Join(c) => {
                if !channels.contains(&c) {
                    channels.push(c.clone());
                }
                self.send(&format!("JOIN {c}"));
            }
            Command::Part(c) => {
                channels.retain(|x| *x != c);
                self.send(&format!("PART {c}"));
            }
            Command::Stroke { channel, stroke } => {
                if self.tags_ok() {
                    self.send(&format!("@{}={} TAGMSG {channel}", canvas::STROKE_TAG, stroke.encode()));
                }
            }
            Command::Clear { channel } => {
                if self.tags_ok() {
                    self.send(&format!("@{} TAGMSG {channel}", canvas::CLEAR_TAG));
                }
            }
        }
        None
    }

    fn tags_ok(&mut self) -> bool {
        let ok = self.has_cap("message-tags");
        if !ok && !self.warned_no_tags {
            self.warned_no_tags = true;
            self.system(None, "this server does not support message-tags: the canvas is not shared".into());
        }
        ok
    }

    fn has_cap(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c == cap)
    }

    /// Sends a PRIVMSG, split to fit the line limit; `/me` becomes an ACTION.
    fn say(&mut self, target: &str, text: &str) {
        let (kind, body) = match text.strip_prefix("/me ") {
            Some(rest) => (MsgKind::Action, rest),
            None => (MsgKind::Privmsg, text),
        };
        // Room for ":nick!user@host PRIVMSG target :" as the server relays it.
        let room = (512usize - 2 - 10).saturating_sub(self.nick.len() + 80 + target.len() + 12).max(64);
        for part in split_utf8(body, room) {
            let wire = match kind {
                MsgKind::Action => format!("\u{1}ACTION {part}\u{1}"),
                _ => part.to_string(),
            };
            self.send(&format!("PRIVMSG {target} :{wire}"));
            if !self.has_cap("echo-message") {
                (self.emit)(Event::Message {
                    target: target.to_string(),
                    from: self.nick.clone(),
                    text: part.to_string(),
                    time: SystemTime::now(),
                    kind,
                    history: false,
                });
            }
        }
    }

    fn emit_users(&self, key: &str, channel: &str) {
        if let Some(list) = self.users.get(key) {
            (self.emit)(Event::Users { channel: channel.to_string(), nicks: list.clone() });
        }
    }

    fn handle(
        &mut self,
        msg: &Message<'_>,
        pending: &mut VecDeque<(String, String)>,
        channels: &[String],
        quitting: &mut bool,
    ) -> Option<End> {
        let from = msg.source_nick().unwrap_or("").to_string();
        let time = msg.tag("time").and_then(clock::parse_rfc3339).unwrap_or_else(SystemTime::now);
        let me = from.eq_ignore_ascii_case(&self.nick);
        match msg.command {
            "PING" => {
                let token = msg.param(0).to_string();
                self.send(&format!("PONG :{token}"));
            }
            "PONG" => {
                if let Some((token, at)) = &self.ping_sent
                    && msg.params.iter().any(|p| p == token)
                {
                    (self.emit)(Event::Rtt(at.elapsed()));
                }
            }
            "CAP" => match msg.param(1) {
                "LS" => {
                    // A multi-line LS has "*" before the list on every line but the last.
                    let list = msg.params.last().copied().unwrap_or("");
                    self.offered.extend(list.split(' ').map(|c| c.split('=').next().unwrap_or("").to_string()));
                    if msg.param(2) != "*" {
                        let offered = std::mem::take(&mut self.offered);
                        let want: Vec<&str> =
                            WANTED_CAPS.iter().copied().filter(|c| offered.iter().any(|o| o == c)).collect();
                        if want.is_empty() {
                            self.send("CAP END");
                        } else {
                            self.send(&format!("CAP REQ :{}", want.join(" ")));
                        }
                    }
                }
                "ACK" => {
                    self.caps.extend(
                        msg.params.last().unwrap_or(&"").split(' ').filter(|c| !c.is_empty()).map(String::from),
                    );
                    if !self.registered {
                        self.send("CAP END");
                    }
                }
                "NAK" if !self.registered => {
                    self.send("CAP END");
                }
                _ => {}
            },
            "001" => {
                self.registered = true;
                self.nick = msg.param(0).to_string();
                (self.emit)(Event::Nick(self.nick.clone()));
                (self.emit)(Event::State(ConnState::Connected));
                for c in channels.iter() {
                    let line = format!("JOIN {c}");
                    self.send(&line);
                }
                while let Some((target, text)) = pending.pop_front() {
                    self.say(&target, &text);
                }
                if *quitting {
                    self.send("QUIT :Leaving");
                    return Some(End::Quit);
                }
            }
            "433" | "432" => {
                let wanted = msg.param(1).to_string();
                let suggestion = suggest_nick(&wanted);
                (self.emit)(Event::NickTaken { wanted: wanted.clone(), suggestion: suggestion.clone() });
                if !self.registered {
                    // Not a dead end: register with the suggestion.
                    self.nick = suggestion.clone();
                    self.send(&format!("NICK {suggestion}"));
                }
            }
            "NICK" => {
                let new = msg.param(0).to_string();
                if me {
                    self.nick = new.clone();
                    (self.emit)(Event::Nick(new.clone()));
                }
                let keys: Vec<String> = self.users.keys().cloned().collect();
                for key in keys {
                    let list = self.users.get_mut(&key).expect("key exists");
                    if let Some(slot) = list.iter_mut().find(|n| strip_prefix(n).eq_ignore_ascii_case(&from)) {
                        let prefix: String = slot.chars().take_while(|c| "@+".contains(*c)).collect();
                        *slot = format!("{prefix}{new}");
                        self.system(Some(&key), format!("{from} is now known as {new}"));
                        self.emit_users(&key, &key);
                    }
                }
            }
            "JOIN" => {
                let chan = msg.param(0).to_string();
                let key = chan.to_ascii_lowercase();
                if me {
                    self.users.insert(key.clone(), Vec::new());
                } else if let Some(list) = self.users.get_mut(&key) {
                    list.push(from.clone());
                    self.emit_users(&key, &chan);
                }
                self.system(Some(&chan), format!("{from} joined {chan}"));
            }
            "PART" | "QUIT" => {
                let keys: Vec<String> = if msg.command == "PART" {
                    vec![msg.param(0).to_ascii_lowercase()]
                } else {
                    self.users.keys().cloned().collect()
                };
                for key in keys {
                    let Some(list) = self.users.get_mut(&key) else { continue };
                    let before = list.len();
                    list.retain(|n| !strip_prefix(n).eq_ignore_ascii_case(&from));
                    if before != list.len() {
                        let why = msg.params.get(if msg.command == "PART" { 1 } else { 0 }).copied().unwrap_or("");
                        let verb = if msg.command == "PART" { "left" } else { "quit" };
                        let text =
                            if why.is_empty() { format!("{from} {verb}") } else { format!("{from} {verb} ({why})") };
                        self.system(Some(&key), text);
                        self.emit_users(&key, &key);
                    }
                }
                if me && msg.command == "PART" {
                    self.users.remove(&msg.param(0).to_ascii_lowercase());
                }
            }
            "353" => {
                let key = msg.param(2).to_ascii_lowercase();
                let names = self.names.entry(key).or_default();
                for n in msg.param(3).split(' ').filter(|n| !n.is_empty()) {
                    names.push(n.split('!').next().unwrap_or(n).to_string());
                }
            }
            "366" => {
                let key = msg.param(1).to_ascii_lowercase();
                if let Some(names) = self.names.remove(&key) {
                    self.users.insert(key.clone(), names);
                    self.emit_users(&key, msg.param(1));
                }
            }
            "332" => self.system(Some(msg.param(1)), format!("topic: {}", msg.param(2))),
            "TOPIC" => self.system(Some(msg.param(0)), format!("{from} set the topic: {}", msg.param(1))),
            "BATCH" => {
                let id = msg.param(0);
                if let Some(id) = id.strip_prefix('+') {
                    if msg.param(1) == "chathistory" {
                        self.history_batches.push(id.to_string());
                    }
                } else if let Some(id) = id.strip_prefix('-') {
                    self.history_batches.retain(|b| b != id);
                }
            }
            "PRIVMSG" | "NOTICE" => {
                let target = msg.param(0);
                let mut text = msg.param(1);
                if msg.source.is_none() {
                    self.system(None, text.to_string());
                    return None;
                }
                let mut kind = if msg.command == "NOTICE" { MsgKind::Notice } else { MsgKind::Privmsg };
                if let Some(ctcp) = text.strip_prefix('\u{1}') {
                    let ctcp = ctcp.trim_end_matches('\u{1}');
                    match ctcp.strip_prefix("ACTION ") {
                        Some(action) => {
                            kind = MsgKind::Action;
                            text = action;
                        }
                        None => return None, // other CTCP queries are not shown
                    }
                }
                // A channel, or a private conversation named for the other person.
                let conversation = if target.starts_with('#') || me {
                    target.to_string()
                } else if from.contains('.') {
                    // A server notice.
                    self.system(None, text.to_string());
                    return None;
                } else {
                    from.clone()
                };
                let history = msg.tag("batch").is_some_and(|b| self.history_batches.iter().any(|h| h == b));
                let key = conversation.to_ascii_lowercase();
                if history
                    && self.seen_before.get(&key).is_some_and(|(t, last)| time < *t || (time == *t && text == last))
                {
                    return None; // shown before the connection was lost
                }
                if self.seen.get(&key).is_none_or(|(t, _)| time >= *t) {
                    self.seen.insert(key, (time, text.to_string()));
                }
                (self.emit)(Event::Message { target: conversation, from, text: text.to_string(), time, kind, history });
            }
            "TAGMSG" => {
                let channel = msg.param(0).to_string();
                if msg.tag(canvas::CLEAR_TAG).is_some() {
                    (self.emit)(Event::CanvasCleared { channel, by: from });
                } else if let Some(v) = msg.tag(canvas::STROKE_TAG)
                    && let Ok(stroke) = Stroke::decode(&unescape_tag_value(v))
                {
                    // Our own too: the replay of what we drew before a restart.
                    (self.emit)(Event::Stroke { channel, from, stroke });
                }
            }
            "ERROR" => return Some(End::Lost(msg.param(0).to_string())),
            // No MOTD is not worth a line in the log.
            "422" => {}
            code if code.len() == 3 && code.starts_with(['4', '5']) => {
                // Errors: show the human part, with the subject when there is one.
                let subject = if msg.params.len() > 2 { msg.param(1) } else { "" };
                let text = msg.params.last().copied().unwrap_or("");
                let line = if subject.is_empty() { text.to_string() } else { format!("{subject}: {text}") };
                self.system(None, line);
            }
            _ => {}
        }
        None
    }
}

fn strip_prefix(nick: &str) -> &str {
    nick.trim_start_matches(['@', '+'])
}

/// A free-looking variant of a taken nick: `nick_`, then `nick_2`, ...
pub fn suggest_nick(wanted: &str) -> String {
    let base: String = wanted.chars().take(26).collect();
    match base.rsplit_once('_') {
        Some((stem, n)) if n.parse::<u32>().is_ok() => format!("{stem}_{}", n.parse::<u32>().unwrap_or(1) + 1),
        _ if base.ends_with('_') => format!("{base}2"),
        _ if base.is_empty() => "guest".into(),
        _ => format!("{base}_"),
    }
}

/// Splits text into pieces of at most `max` bytes on char boundaries.
fn split_utf8(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max.max(1);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            // Less room than one character: take the character whole.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        // Prefer a space near the end.
        if let Some(sp) = rest[..cut].rfind(' ').filter(|&i| i > max / 2) {
            cut = sp + 1;
        }
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_suggestions() {
        assert_eq!(suggest_nick("alice"), "alice_");
        assert_eq!(suggest_nick("alice_"), "alice_2");
        assert_eq!(suggest_nick("alice_2"), "alice_3");
    }

    #[test]
    fn splits_on_boundaries() {
        assert_eq!(split_utf8("abc", 10), ["abc"]);
        let s = "é".repeat(10);
        for p in split_utf8(&s, 5) {
            assert!(p.len() <= 5);
        }
        assert_eq!(split_utf8(&s, 5).concat(), s);
        assert_eq!(split_utf8("éé", 1), ["é", "é"], "always advances");
    }
}

//! The client's protocol logic with no IO: registration, CAP negotiation,
//! nick trouble, user lists, history replay, pings and reconnection, as a
//! state machine fed with what happened ([`Core::on_line`], [`Core::on_command`],
//! [`Core::on_connected`], [`Core::on_lost`], [`Core::on_timer`]) that answers
//! with [`Action`]s. It reads no clock, draws no randomness of its own (the
//! reconnect jitter comes from a generator seeded by whoever makes it) and
//! owns no socket, so every case can be replayed from a server transcript in
//! a unit test; `conn.rs` does the IO.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use super::trust::{self, Verdict};
use super::{ChannelInfo, Command, ConnState, Event, MsgKind, Settings, TransferState, WANTED_CAPS};
use crate::canvas::{self, Stroke};
use crate::clock;
use crate::line::{Message, unescape_tag_value};
use crate::numeric::*;

const PING_EVERY: Duration = Duration::from_secs(15);
const DEAD_AFTER: Duration = Duration::from_secs(45);
/// The longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The token of a [`Command::Sync`]'s PING.
const SYNC_TOKEN: &str = "lanchat-sync";
/// The seed of [`Core::new`]: any fixed value, for tests.
const FIXED_SEED: u64 = 0x6c61_6e63_6861_7421;
/// NICKs sent while registering before giving up (a server that refuses
/// every variant must not see an endless stream of them).
const MAX_NICK_TRIES: u32 = 5;

/// The status prefixes a server uses when its ISUPPORT does not say:
/// owner, admin, op, halfop, voice.
pub const DEFAULT_PREFIXES: &str = "~&@%+";
/// The channel modes of [`DEFAULT_PREFIXES`].
const DEFAULT_PREFIX_MODES: &str = "qaohv";

/// A user-list entry without its status prefixes (`~@bob` is `bob`).
/// `prefixes` are the server's (ISUPPORT `PREFIX`), or [`DEFAULT_PREFIXES`].
pub fn bare_nick<'a>(entry: &'a str, prefixes: &str) -> &'a str {
    entry.trim_start_matches(|c| prefixes.contains(c))
}

/// How long to wait before the `attempt`th try in a row (1 is the first
/// after a loss) to connect: a random point in the upper three quarters of
/// a window that doubles from 2 s up to [`MAX_BACKOFF`], so 0.5-2 s, 1-4 s,
/// 2-8 s, 4-16 s, then 7.5-30 s. Clients that lost the same server at the
/// same moment come back spread over that window, not all at once.
fn backoff(attempt: u32, rng: &mut SplitMix64) -> Duration {
    let window = Duration::from_secs(2u64 << attempt.saturating_sub(1).min(4)).min(MAX_BACKOFF);
    let spread = (window * 3 / 4).as_millis() as u64;
    window / 4 + Duration::from_millis(rng.next() % spread)
}

/// SplitMix64 (Steele, Lea and Flood): a tiny generator, plenty for jitter.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The current time, passed in so the core never reads a clock.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    /// For timers.
    pub at: Instant,
    /// For the time of lines without a server-time tag, and PING tokens.
    pub wall: SystemTime,
}

impl Now {
    pub fn real() -> Now {
        Now { at: Instant::now(), wall: SystemTime::now() }
    }
}

/// What the core asks of the IO around it, in order.
#[allow(clippy::large_enum_variant)] // an Event with a Stroke; consumed at once
#[derive(Debug)]
pub enum Action {
    /// Open a TCP connection to `HOST:PORT` (dropping any current one) and
    /// report [`Core::on_connected`] or [`Core::on_lost`].
    Connect(String),
    /// Open a TCP connection to `addr` and make a TLS handshake on it that
    /// accepts only the certificate `pin` (or on first use any), then report
    /// [`Core::on_connected_tls`], [`Core::on_cert_changed`] or [`Core::on_lost`].
    ConnectTls { addr: String, pin: Option<String> },
    /// Write this line, CR LF added.
    Send(String),
    /// Hand this event to the front end.
    Emit(Event),
    /// Upload the file at `path` (at most `max` bytes) to `url` with
    /// `token`, reporting [`Event::Transfer`] `id`, then post the link to
    /// `target` through [`Core::on_uploaded`].
    Upload { id: u64, url: String, token: String, path: std::path::PathBuf, target: String, max: u64 },
    /// Write what was sent, then close the connection; it is not reported.
    Close,
    /// Write what was sent, close, and end: the core takes nothing more.
    Exit,
}

/// A line typed while it could not be sent.
struct Pending {
    target: String,
    text: String,
    kind: MsgKind,
}

/// Per conversation, the time and text of the newest message shown.
type Seen = HashMap<String, (SystemTime, String)>;

/// The state of one TCP connection.
struct Link {
    nick: String,
    up: bool,
    registered: bool,
    caps: Vec<String>,
    /// Capabilities offered so far by a multi-line CAP LS.
    offered: Vec<String>,
    /// The server's nick status prefixes (ISUPPORT PREFIX).
    prefixes: String,
    /// The channel modes those prefixes stand for, in the same order (`ov` for `@+`).
    prefix_modes: String,
    /// Channel modes that always take a parameter (CHANMODES lists A and B),
    /// and those that take one only when set (C).
    param_modes: (String, String),
    /// Users of each channel we are in, by lowercased channel name.
    users: BTreeMap<String, Vec<String>>,
    /// NAMES replies being gathered.
    names: BTreeMap<String, Vec<String>>,
    /// Open `chathistory` batches.
    history_batches: Vec<String>,
    /// `seen` as it was when this connection began: a replay is checked
    /// against it, so a live line that overtakes the replay hides nothing.
    seen_before: Seen,
    nick_tries: u32,
    fell_back: bool,
    ping_sent: Option<(String, Instant)>,
    next_ping: Option<Instant>,
    last_heard: Instant,
    warned_no_tags: bool,
    /// Snapshot pieces being gathered, by lowercased channel name.
    snapshots: HashMap<String, canvas::snapshot::Gather>,
    /// A LIST reply being gathered.
    list: Option<Vec<ChannelInfo>>,
    /// The server has MONITOR (ISUPPORT).
    monitor: bool,
    files: files::Files,
}

/// The client state machine. See the module doc.
pub struct Core {
    settings: Option<Settings>,
    /// The nick to register with: the settings', then the last one we had.
    nick: String,
    link: Option<Link>,
    retry_at: Option<Instant>,
    attempt: u32,
    /// Draws the reconnect jitter.
    rng: SplitMix64,
    pending: VecDeque<Pending>,
    /// Channels to (re)join, the settings' first.
    channels: Vec<String>,
    /// The newest message shown per conversation, so a rejoin's history
    /// replay shows only what was missed.
    seen: Seen,
    /// Our away message, set again after a reconnect.
    away: Option<String>,
    /// Nicks to MONITOR (private conversations).
    watched: Vec<String>,
    /// Quit once what is pending is delivered.
    quitting: bool,
    /// A [`Command::Sync`] waits for its PONG (sent when registered).
    sync: bool,
    /// The last [`Event::Transfer`] id given.
    next_transfer: u64,
    /// Uploads waiting for the connection's token.
    waiting_files: Vec<files::Waiting>,
    done: bool,
    out: Vec<Action>,
}

impl Default for Core {
    fn default() -> Self {
        Core::new()
    }
}

impl Core {
    /// A core whose reconnect jitter is always the same: for tests.
    pub fn new() -> Core {
        Core::with_seed(FIXED_SEED)
    }

    /// A core whose reconnect jitter is drawn from `seed`: give each
    /// client its own random one, so that after a server restart they do
    /// not all come back in the same second.
    pub fn with_seed(seed: u64) -> Core {
        Core {
            settings: None,
            nick: String::new(),
            link: None,
            retry_at: None,
            attempt: 0,
            rng: SplitMix64(seed),
            pending: VecDeque::new(),
            channels: Vec::new(),
            seen: HashMap::new(),
            away: None,
            watched: Vec::new(),
            quitting: false,
            sync: false,
            next_transfer: 0,
            waiting_files: Vec::new(),
            done: false,
            out: Vec::new(),
        }
    }

    /// Whether the core has ended ([`Action::Exit`] was given).
    pub fn done(&self) -> bool {
        self.done
    }

    /// When [`Core::on_timer`] is next due, if ever.
    pub fn next_timer(&self) -> Option<Instant> {
        let link = self.link.as_ref().filter(|l| l.up);
        let dead = link.map(|l| l.last_heard + DEAD_AFTER);
        let ping = link.and_then(|l| l.next_ping);
        [self.retry_at, dead, ping].into_iter().flatten().min()
    }

    fn emit(&mut self, ev: Event) {
        self.out.push(Action::Emit(ev));
    }

    fn send(&mut self, line: String) {
        self.out.push(Action::Send(line));
    }

    fn system(&mut self, target: Option<&str>, text: String, now: Now) {
        self.emit(Event::System { target: target.map(str::to_string), text, time: now.wall });
    }

    fn registered(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.registered)
    }

    fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    /// What the front end asked for.
    pub fn on_command(&mut self, cmd: Command, now: Now) -> Vec<Action> {
        if self.done {
            return Vec::new();
        }
        match cmd {
            Command::Connect(s) => {
                self.hang_up("Changing server");
                self.attempt = 0;
                self.nick = s.nick.clone();
                self.channels = vec![s.channel.clone()];
                self.settings = Some(s);
                self.connect(now);
            }
            Command::Disconnect => {
                self.hang_up("Disconnected");
                self.stop("not connected", false);
            }
            Command::Quit => self.quit(now),
            Command::Say { target, text } => self.say_or_queue(target, text, MsgKind::Privmsg, now),
            Command::Action { target, text } => self.say_or_queue(target, text, MsgKind::Action, now),
            Command::Nick(n) => {
                self.nick = n.clone();
                if self.link.as_ref().is_some_and(|l| l.up) {
                    self.send(format!("NICK {n}"));
                }
            }
            Command::Join(c) => {
                if self.registered() {
                    self.send(format!("JOIN {c}"));
                }
                if !self.channels.iter().any(|x| x.eq_ignore_ascii_case(&c)) {
                    self.channels.push(c);
                }
            }
            Command::Raw(line) => {
                if self.registered() {
                    self.send(line);
                } else {
                    self.system(None, format!("not sent, not connected: {line}"), now);
                }
            }
            Command::Part(c) => {
                if self.registered() {
                    self.send(format!("PART {c}"));
                }
                self.channels.retain(|x| !x.eq_ignore_ascii_case(&c));
            }
            Command::Stroke { channel, stroke } => {
                if self.tags_ok(now) {
                    self.send(format!("@{}={} TAGMSG {channel}", canvas::STROKE_TAG, stroke.encode()));
                }
            }
            Command::Clear { channel } => {
                if self.tags_ok(now) {
                    self.send(format!("@{} TAGMSG {channel}", canvas::CLEAR_TAG));
                }
            }
            Command::Sync => {
                self.sync = true;
                if self.registered() {
                    self.send(format!("PING :{SYNC_TOKEN}"));
                }
            }
            Command::Undo { channel, id } => {
                if self.tags_ok(now) {
                    self.send(format!("@{}={id} TAGMSG {channel}", canvas::UNDO_TAG));
                }
            }
            Command::SendFile { target, path } => self.send_file(target, path),
            Command::List | Command::Away(_) | Command::Typing { .. } | Command::Topic { .. } | Command::Watch(_) => {
                self.on_people_command(cmd)
            }
        }
        self.take()
    }

    /// The TCP connection asked for by [`Action::Connect`] is open: register.
    pub fn on_connected(&mut self, now: Now) -> Vec<Action> {
        let Some(link) = self.link.as_mut() else { return Vec::new() };
        link.up = true;
        link.last_heard = now.at;
        let nick = link.nick.clone();
        self.send("CAP LS 302".into());
        if let Some(p) = self.settings.as_ref().and_then(|s| s.password.clone()) {
            self.send(format!("PASS :{p}"));
        }
        self.send(format!("NICK {nick}"));
        self.send(format!("USER {nick} 0 * :lanchat user"));
        self.take()
    }

    /// The TLS connection asked for by [`Action::ConnectTls`] is open, and
    /// the server showed the certificate with this fingerprint: pin it on
    /// first use, refuse it if it is not the pinned one, and register.
    pub fn on_connected_tls(&mut self, fingerprint: &str, now: Now) -> Vec<Action> {
        let Some(s) = self.settings.as_mut().filter(|_| self.link.is_some()) else { return Vec::new() };
        match trust::check(s.pin.as_deref(), fingerprint) {
            Verdict::FirstUse => {
                s.pin = Some(fingerprint.to_string());
                let server = s.server.clone();
                self.system(None, trust::pinned_text(&server, fingerprint), now);
                self.emit(Event::Pinned { server, fingerprint: fingerprint.to_string() });
            }
            Verdict::Same => {}
            Verdict::Changed { pinned } => {
                self.out.push(Action::Close);
                return self.on_cert_changed(&pinned, fingerprint, now);
            }
        }
        self.emit(Event::Secure { fingerprint: fingerprint.to_string() });
        let mut actions = self.take();
        actions.extend(self.on_connected(now));
        actions
    }

    /// The TLS handshake of [`Action::ConnectTls`] failed because the server
    /// showed the certificate `seen`, not the pinned one: stop, and say how
    /// to accept it. No retry: the same certificate would be refused again.
    pub fn on_cert_changed(&mut self, pinned: &str, seen: &str, now: Now) -> Vec<Action> {
        let Some(server) = self.settings.as_ref().filter(|_| self.link.is_some()).map(|s| s.server.clone()) else {
            return Vec::new();
        };
        self.link = None;
        self.system(None, trust::changed_text(&server, pinned, seen), now);
        self.emit(Event::CertChanged { server, pinned: pinned.to_string(), seen: seen.to_string() });
        let exit = self.quitting;
        self.stop("the server's certificate changed", exit);
        self.take()
    }

    /// The connection could not be opened, or ended without [`Action::Close`].
    pub fn on_lost(&mut self, why: &str, now: Now) -> Vec<Action> {
        if self.link.is_some() {
            self.lost(why, now);
        }
        self.take()
    }

    /// Time passed: retry after the backoff, ping, notice a silent server.
    pub fn on_timer(&mut self, now: Now) -> Vec<Action> {
        if self.retry_at.is_some_and(|at| at <= now.at) {
            self.retry_at = None;
            self.connect(now);
        }
        if let Some(link) = self.link.as_mut().filter(|l| l.up) {
            if now.at.saturating_duration_since(link.last_heard) > DEAD_AFTER {
                self.out.push(Action::Close);
                self.lost("the server stopped answering", now);
            } else if link.next_ping.is_some_and(|at| at <= now.at) {
                let token = format!("lanchat-{}", clock::unix_ms(now.wall));
                link.next_ping = Some(now.at + PING_EVERY);
                link.ping_sent = Some((token.clone(), now.at));
                self.send(format!("PING :{token}"));
            }
        }
        self.take()
    }

    /// A line from the server.
    pub fn on_line(&mut self, msg: &Message<'_>, now: Now) -> Vec<Action> {
        let Some(link) = self.link.as_mut() else { return Vec::new() };
        link.last_heard = now.at;
        match msg.command {
            "PING" => self.send(format!("PONG :{}", msg.param(0))),
            "PONG" => {
                let rtt = match &link.ping_sent {
                    Some((token, at)) if msg.params.iter().any(|p| p == token) => Some(now.at - *at),
                    _ => None,
                };
                if let Some(rtt) = rtt {
                    self.emit(Event::Rtt(rtt));
                }
                if self.sync && msg.params.contains(&SYNC_TOKEN) {
                    self.sync = false;
                    self.emit(Event::Synced);
                }
            }
            "CAP" => self.on_cap(msg),
            "NICK" => self.on_nick(msg, now),
            "JOIN" => self.on_join(msg, now),
            "PART" | "QUIT" => self.on_leave(msg, now),
            "KICK" => self.on_kick(msg, now),
            "MODE" => self.on_mode(msg, now),
            "INVITE" => {
                let from = msg.source_nick().unwrap_or("");
                let (who, chan) = (msg.param(0), msg.param(1));
                if who.eq_ignore_ascii_case(&link.nick) {
                    self.system(None, format!("{from} invites you to {chan} (/join {chan})"), now);
                } else {
                    self.system(Some(chan), format!("{from} invited {who}"), now);
                }
            }
            // Standard replies (IRCv3): the command and the human part.
            "FAIL" | "WARN" => {
                if msg.command == "FAIL" && msg.param(0) == "UPLOAD" {
                    self.on_upload_refused(msg.params.last().copied().unwrap_or(""));
                }
                let text = format!("{}: {}", msg.param(0), msg.params.last().copied().unwrap_or(""));
                self.system(None, text, now)
            }
            "WALLOPS" => {
                let from = msg.source_nick().unwrap_or("");
                self.system(None, format!("operator notice from {from}: {}", msg.param(0)), now)
            }
            "TOPIC" => {
                let from = msg.source_nick().unwrap_or("");
                self.system(Some(msg.param(0)), format!("{from} set the topic: {}", msg.param(1)), now);
                self.emit(Event::Topic { channel: msg.param(0).into(), topic: msg.param(1).into() });
            }
            "AWAY" => self.on_away(msg),
            "BATCH" => {
                let id = msg.param(0);
                if let Some(id) = id.strip_prefix('+') {
                    if msg.param(1) == "chathistory" {
                        link.history_batches.push(id.to_string());
                    }
                } else if let Some(id) = id.strip_prefix('-') {
                    link.history_batches.retain(|b| b != id);
                }
            }
            "PRIVMSG" | "NOTICE" => self.on_chat(msg, now),
            "UPLOAD" => self.on_upload_grant(msg),
            "TAGMSG" => self.on_tagmsg(msg, now),
            "ERROR" => {
                self.out.push(Action::Close);
                self.lost(msg.param(0), now);
            }
            code => self.on_numeric(code, msg, now),
        }
        self.take()
    }

    /// A numeric reply: the few the core acts on by name, and any error.
    fn on_numeric(&mut self, code: &str, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        match Numeric::find(code) {
            Some(RPL_WELCOME) => self.on_welcome(msg, now),
            Some(RPL_ISUPPORT) => {
                self.on_isupport_files(msg);
                let Some(link) = self.link.as_mut() else { return };
                if let Some(v) = msg.params.iter().find_map(|p| p.strip_prefix("PREFIX=")) {
                    link.prefixes = v.split_once(')').map_or(v, |(_, chars)| chars).to_string();
                    link.prefix_modes = v.trim_start_matches('(').split(')').next().unwrap_or("").to_string();
                }
                if let Some(v) = msg.params.iter().find_map(|p| p.strip_prefix("CHANMODES=")) {
                    let mut kinds = v.split(',');
                    let (a, b, c) = (kinds.next(), kinds.next(), kinds.next());
                    link.param_modes = (format!("{}{}", a.unwrap_or(""), b.unwrap_or("")), c.unwrap_or("").to_string());
                }
                if !link.monitor && msg.params.iter().any(|p| *p == "MONITOR" || p.starts_with("MONITOR=")) {
                    link.monitor = true;
                    if !self.watched.is_empty() {
                        self.send(format!("MONITOR + {}", self.watched.join(",")));
                    }
                }
            }
            Some(n @ (ERR_ERRONEUSNICKNAME | ERR_NICKNAMEINUSE)) => {
                self.on_nick_refused(msg, n == ERR_ERRONEUSNICKNAME, now)
            }
            Some(RPL_NAMREPLY) => {
                let names = link.names.entry(msg.param(2).to_ascii_lowercase()).or_default();
                // userhost-in-names gives nick!user@host.
                let nicks = msg.param(3).split(' ').filter(|n| !n.is_empty());
                names.extend(nicks.map(|n| n.split('!').next().unwrap_or(n).to_string()));
            }
            Some(RPL_ENDOFNAMES) => {
                let key = msg.param(1).to_ascii_lowercase();
                if let Some(names) = link.names.remove(&key) {
                    link.users.insert(key.clone(), names);
                    self.emit_users(&key, msg.param(1));
                }
            }
            Some(RPL_TOPIC) => {
                self.system(Some(msg.param(1)), format!("topic: {}", msg.param(2)), now);
                self.emit(Event::Topic { channel: msg.param(1).into(), topic: msg.param(2).into() });
            }
            Some(
                n @ (RPL_AWAY | RPL_UNAWAY | RPL_NOWAWAY | RPL_WHOREPLY | RPL_LISTSTART | RPL_LIST | RPL_LISTEND
                | RPL_MONONLINE | RPL_MONOFFLINE),
            ) => self.on_people_numeric(n, msg, now),
            // The end of the welcome: what the server takes is known now.
            // (No MOTD is not worth a line in the log.)
            Some(RPL_ENDOFMOTD | ERR_NOMOTD) => self.files_settled(),
            _ if code.len() == 3 && code.starts_with(['4', '5']) => {
                // Errors, ours or another server's: the human part, with the subject when there is one.
                let subject = if msg.params.len() > 2 { msg.param(1) } else { "" };
                let text = msg.params.last().copied().unwrap_or("");
                let line = if subject.is_empty() { text.to_string() } else { format!("{subject}: {text}") };
                self.system(None, line, now);
            }
            _ => {}
        }
    }

    /// Opens a new connection with the current settings.
    fn connect(&mut self, now: Now) {
        let Some(s) = self.settings.as_ref() else { return };
        let connect = match s.tls {
            true => Action::ConnectTls { addr: s.server.clone(), pin: s.pin.clone() },
            false => Action::Connect(s.server.clone()),
        };
        self.link = Some(Link {
            nick: self.nick.clone(),
            up: false,
            registered: false,
            caps: Vec::new(),
            offered: Vec::new(),
            prefixes: DEFAULT_PREFIXES.to_string(),
            prefix_modes: DEFAULT_PREFIX_MODES.to_string(),
            param_modes: ("beIk".to_string(), "l".to_string()),
            users: BTreeMap::new(),
            names: BTreeMap::new(),
            history_batches: Vec::new(),
            seen_before: self.seen.clone(),
            nick_tries: 1,
            fell_back: false,
            ping_sent: None,
            next_ping: None,
            last_heard: now.at,
            warned_no_tags: false,
            snapshots: HashMap::new(),
            list: None,
            monitor: false,
            files: files::Files::default(),
        });
        self.emit(Event::State(ConnState::Connecting));
        self.out.push(connect);
    }

    /// Ends the current connection, if any, with a QUIT.
    fn hang_up(&mut self, why: &str) {
        self.fail_waiting_files("the connection was closed");
        if let Some(link) = self.link.take() {
            if link.up {
                self.send(format!("QUIT :{why}"));
            }
            self.out.push(Action::Close);
        }
        self.retry_at = None;
    }

    /// Stops connecting: what is pending is reported, then the state.
    fn stop(&mut self, reason: &str, exit: bool) {
        self.link = None;
        self.fail_waiting_files(reason);
        self.retry_at = None;
        self.settings = None;
        self.channels.clear();
        while let Some(p) = self.pending.pop_front() {
            self.emit(Event::NotSent { target: p.target, text: p.text, reason: reason.into() });
        }
        self.emit(Event::State(ConnState::Disconnected));
        if exit {
            self.done = true;
            self.out.push(Action::Exit);
        }
    }

    /// The connection ended on its own: try again after a backoff.
    fn lost(&mut self, why: &str, now: Now) {
        self.fail_waiting_files(why);
        if self.link.take().is_some_and(|l| l.registered) {
            self.attempt = 0;
        }
        self.attempt += 1;
        self.system(None, format!("connection lost: {why}"), now);
        if self.quitting {
            // The one more try for what was pending failed too.
            self.stop(why, true);
            return;
        }
        let delay = backoff(self.attempt, &mut self.rng);
        self.retry_at = Some(now.at + delay);
        self.emit(Event::State(ConnState::Reconnecting { attempt: self.attempt, delay }));
    }

    fn quit(&mut self, now: Now) {
        if !self.pending.is_empty() && self.settings.is_some() && !self.registered() {
            // Deliver what was typed first, then quit: one more try at once.
            self.quitting = true;
            if self.link.is_none() {
                self.retry_at = None;
                self.connect(now);
            }
            return;
        }
        self.hang_up("Leaving");
        self.stop("quit before it could be sent", true);
    }

    fn say_or_queue(&mut self, target: String, text: String, kind: MsgKind, now: Now) {
        if self.registered() {
            self.say(&target, &text, kind, now);
        } else if self.settings.is_some() {
            self.pending.push_back(Pending { target, text, kind });
        } else {
            self.emit(Event::NotSent { target, text, reason: "not connected".into() });
        }
    }

    fn tags_ok(&mut self, now: Now) -> bool {
        let Some(link) = self.link.as_mut().filter(|l| l.registered) else { return false };
        let ok = link.caps.iter().any(|c| c == "message-tags");
        if !ok && !link.warned_no_tags {
            link.warned_no_tags = true;
            self.system(None, "this server does not support message-tags: the canvas is not shared".into(), now);
        }
        ok
    }

    fn on_tagmsg(&mut self, msg: &Message<'_>, now: Now) {
        let channel = msg.param(0).to_string();
        let by = msg.source_nick().unwrap_or("").to_string();
        if let Some(state) = msg.tag("+typing") {
            self.on_typing(msg, state);
        } else if msg.tag(canvas::CLEAR_TAG).is_some() {
            self.emit(Event::CanvasCleared { channel, by });
        } else if let Some(v) = msg.tag(canvas::SNAPSHOT_TAG) {
            // Only the server sends snapshots (its source has no `!`): one
            // relayed from a member of the channel is ignored.
            if msg.source.is_none_or(|s| s.contains('!')) {
                return;
            }
            let Some(link) = self.link.as_mut() else { return };
            let gather = link.snapshots.entry(channel.to_ascii_lowercase()).or_default();
            match gather.piece(&unescape_tag_value(v)) {
                // Decoded here, on the connection's thread, not the window's.
                Some(Ok(png)) => match canvas::picture::decode_snapshot(&png) {
                    Ok(raster) => self.emit(Event::Snapshot { channel, raster }),
                    Err(e) => self.system(Some(&channel), format!("the canvas snapshot could not be read: {e}"), now),
                },
                Some(Err(e)) => self.system(Some(&channel), format!("the canvas snapshot could not be read: {e}"), now),
                None => {}
            }
        } else if let Some((id, count)) =
            msg.tag(canvas::UNDO_TAG).and_then(|v| canvas::parse_undo(&unescape_tag_value(v)))
        {
            self.emit(Event::Undo { channel, by, id, count });
        } else if let Some(v) = msg.tag(canvas::STROKE_TAG)
            && let Ok(stroke) = Stroke::decode(&unescape_tag_value(v))
        {
            // Our own too: the replay of what we drew before a restart.
            self.emit(Event::Stroke { channel, from: by, stroke });
        }
    }

    /// Sends a PRIVMSG, split to fit the line limit.
    fn say(&mut self, target: &str, text: &str, kind: MsgKind, now: Now) {
        let Some(link) = self.link.as_ref() else { return };
        let nick = link.nick.clone();
        let echo = link.caps.iter().any(|c| c == "echo-message");
        // Room for ":nick!user@host PRIVMSG target :" as the server relays it.
        let room = (512usize - 2 - 10).saturating_sub(nick.len() + 80 + target.len() + 12).max(64);
        for part in split_utf8(text, room) {
            let line = match kind {
                MsgKind::Action => format!("PRIVMSG {target} :\u{1}ACTION {part}\u{1}"),
                _ => format!("PRIVMSG {target} :{part}"),
            };
            self.send(line);
            if !echo {
                self.emit(Event::Message {
                    target: target.to_string(),
                    from: nick.clone(),
                    text: part.to_string(),
                    time: now.wall,
                    kind,
                    history: false,
                });
            }
        }
    }

    fn emit_users(&mut self, key: &str, channel: &str) {
        if let Some(list) = self.link.as_ref().and_then(|l| l.users.get(key)) {
            let nicks = list.clone();
            self.emit(Event::Users { channel: channel.to_string(), nicks });
        }
    }

    fn on_cap(&mut self, msg: &Message<'_>) {
        let Some(link) = self.link.as_mut() else { return };
        let list = msg.params.last().copied().unwrap_or("");
        let reply = match msg.param(1) {
            "LS" => {
                // A multi-line LS has "*" before the list on every line but the last.
                let names = list.split(' ').filter(|c| !c.is_empty()).map(|c| c.split('=').next().unwrap_or(c));
                link.offered.extend(names.map(String::from));
                if msg.params.len() > 3 && msg.param(2) == "*" {
                    return;
                }
                let offered = std::mem::take(&mut link.offered);
                let want: Vec<&str> = WANTED_CAPS.iter().copied().filter(|c| offered.iter().any(|o| o == c)).collect();
                if want.is_empty() { "CAP END".to_string() } else { format!("CAP REQ :{}", want.join(" ")) }
            }
            "ACK" => {
                link.caps.extend(list.split(' ').filter(|c| !c.is_empty()).map(String::from));
                if link.registered {
                    return;
                }
                "CAP END".to_string()
            }
            "NAK" if !link.registered => "CAP END".to_string(),
            _ => return,
        };
        self.send(reply);
    }

    fn on_welcome(&mut self, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        link.registered = true;
        link.nick = msg.param(0).to_string();
        link.next_ping = Some(now.at);
        self.nick = link.nick.clone();
        self.emit(Event::Nick(self.nick.clone()));
        self.emit(Event::State(ConnState::Connected));
        self.emit(Event::Files(None));
        for c in self.channels.clone() {
            self.send(format!("JOIN {c}"));
        }
        if let Some(m) = self.away.clone() {
            self.send(format!("AWAY :{m}"));
        }
        if self.sync {
            self.send(format!("PING :{SYNC_TOKEN}"));
        }
        while let Some(p) = self.pending.pop_front() {
            self.say(&p.target, &p.text, p.kind, now);
        }
        if self.quitting {
            self.hang_up("Leaving");
            self.stop("quit before it could be sent", true);
        }
    }

    /// 432 (erroneous nickname) and 433 (in use). While registering, a taken
    /// nick is followed by a few variants and a refused one by one fallback;
    /// then the connection stops, saying why, instead of trying for ever.
    fn on_nick_refused(&mut self, msg: &Message<'_>, invalid: bool, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        let wanted = msg.param(1).to_string();
        let reason = msg.params.last().copied().unwrap_or("").to_string();
        if link.registered {
            // Our own NICK: we keep the nick we have.
            let ev = if invalid {
                Event::NickInvalid { wanted, reason, fallback: None }
            } else {
                Event::NickTaken { suggestion: suggest_nick(&wanted), wanted }
            };
            return self.emit(ev);
        }
        let next = match invalid {
            true => (!link.fell_back).then(|| fallback_nick(&wanted)),
            false => Some(suggest_nick(&wanted)),
        };
        let next = next.filter(|_| link.nick_tries < MAX_NICK_TRIES);
        if let Some(n) = &next {
            link.fell_back |= invalid;
            link.nick_tries += 1;
            link.nick = n.clone();
        }
        if invalid {
            self.emit(Event::NickInvalid { wanted: wanted.clone(), reason, fallback: next.clone() });
        } else if let Some(s) = &next {
            self.emit(Event::NickTaken { wanted: wanted.clone(), suggestion: s.clone() });
        }
        if let Some(n) = next {
            return self.send(format!("NICK {n}"));
        }
        let why = format!("stopped: the server accepts none of the nicks tried, the last was {wanted}");
        self.system(None, why, now);
        self.hang_up("No usable nick");
        let exit = self.quitting;
        self.stop("no usable nick", exit);
    }

    fn on_nick(&mut self, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        let from = msg.source_nick().unwrap_or("");
        let new = msg.param(0);
        let me = from.eq_ignore_ascii_case(&link.nick);
        if me {
            link.nick = new.to_string();
        }
        let mut changed = Vec::new();
        for (key, list) in &mut link.users {
            if let Some(slot) = list.iter_mut().find(|n| bare_nick(n, &link.prefixes).eq_ignore_ascii_case(from)) {
                let status = slot.len() - bare_nick(slot, &link.prefixes).len();
                slot.truncate(status);
                slot.push_str(new);
                changed.push(key.clone());
            }
        }
        if me {
            self.nick = new.to_string();
            self.emit(Event::Nick(new.to_string()));
        }
        for key in changed {
            self.system(Some(&key), format!("{from} is now known as {new}"), now);
            self.emit_users(&key, &key);
        }
    }

    fn on_join(&mut self, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        let from = msg.source_nick().unwrap_or("");
        let chan = msg.param(0);
        let key = chan.to_ascii_lowercase();
        if from.eq_ignore_ascii_case(&link.nick) {
            link.users.insert(key, Vec::new());
            // Who of them is away: the flags of WHO's replies.
            self.send(format!("WHO {chan}"));
            self.emit(Event::Joined(chan.to_string()));
        } else {
            if let Some(list) = link.users.get_mut(&key) {
                list.push(from.to_string());
                self.emit_users(&key, chan);
            }
            self.emit(Event::Presence { nick: from.to_string(), online: true });
        }
        self.system(Some(chan), format!("{from} joined {chan}"), now);
    }

    fn on_leave(&mut self, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        let from = msg.source_nick().unwrap_or("");
        let part = msg.command == "PART";
        let (verb, why) = if part { ("left", msg.param(1)) } else { ("quit", msg.param(0)) };
        let text = if why.is_empty() { format!("{from} {verb}") } else { format!("{from} {verb} ({why})") };
        let me = from.eq_ignore_ascii_case(&link.nick);
        let only = part.then(|| msg.param(0).to_ascii_lowercase());
        let mut changed = Vec::new();
        for (key, list) in &mut link.users {
            if only.as_ref().is_some_and(|k| k != key) {
                continue;
            }
            let before = list.len();
            list.retain(|n| !bare_nick(n, &link.prefixes).eq_ignore_ascii_case(from));
            if before != list.len() {
                if me && part {
                    // We left: nobody is in it for us any more.
                    list.clear();
                }
                changed.push(key.clone());
            }
        }
        for key in changed {
            self.system(Some(&key), text.clone(), now);
            self.emit_users(&key, &key);
        }
        if !me && !part {
            self.emit(Event::Presence { nick: from.to_string(), online: false });
        }
        if me
            && let Some(key) = only
            && let Some(link) = self.link.as_mut()
        {
            link.users.remove(&key);
            self.emit(Event::Parted(msg.param(0).to_string()));
        }
    }

    /// `KICK #chan nick :reason`: out of the user list; when it is us, out
    /// of the channel (not rejoined on reconnecting).
    fn on_kick(&mut self, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        let from = msg.source_nick().unwrap_or("");
        let (chan, who, why) = (msg.param(0), msg.param(1), msg.param(2));
        let key = chan.to_ascii_lowercase();
        let me = who.eq_ignore_ascii_case(&link.nick);
        if let Some(list) = link.users.get_mut(&key) {
            // When it is us, nobody is in it for us any more.
            list.retain(|n| !me && !bare_nick(n, &link.prefixes).eq_ignore_ascii_case(who));
        }
        let whom = if me { "you" } else { who };
        let text = if why.is_empty() || why == from {
            format!("{from} kicked {whom} from {chan}")
        } else {
            format!("{from} kicked {whom} from {chan} ({why})")
        };
        self.system(Some(chan), text, now);
        self.emit_users(&key, chan);
        if me {
            self.channels.retain(|c| !c.eq_ignore_ascii_case(chan));
            if let Some(link) = self.link.as_mut() {
                link.users.remove(&key);
            }
        }
    }

    /// A channel's MODE: said in words ("alice gave voice to bob"), and
    /// operator and voice changes kept in the user list. Our own user modes
    /// are shown as they are.
    fn on_mode(&mut self, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        let from = msg.source_nick().unwrap_or("");
        let chan = msg.param(0);
        if !chan.starts_with(['#', '&']) {
            return self.system(None, format!("your modes: {}", msg.params[1..].join(" ")), now);
        }
        let key = chan.to_ascii_lowercase();
        let mut args = msg.params.iter().skip(2).copied();
        let mut adding = true;
        let mut said = Vec::new();
        let mut users_changed = false;
        for m in msg.param(1).chars() {
            if m == '+' || m == '-' {
                adding = m == '+';
                continue;
            }
            let status = link.prefix_modes.find(m);
            let takes =
                status.is_some() || link.param_modes.0.contains(m) || (adding && link.param_modes.1.contains(m));
            let arg = if takes { args.next().unwrap_or("") } else { "" };
            if let (Some(i), Some(list)) = (status, link.users.get_mut(&key)) {
                let symbol = link.prefixes.chars().nth(i).unwrap_or('@');
                if let Some(slot) = list.iter_mut().find(|n| bare_nick(n, &link.prefixes).eq_ignore_ascii_case(arg)) {
                    *slot = restatus(slot, &link.prefixes, symbol, adding);
                    users_changed = true;
                }
            }
            said.push(mode_words(m, adding, arg));
        }
        if !said.is_empty() {
            self.system(Some(chan), format!("{from} {}", said.join(", ")), now);
        }
        if users_changed {
            self.emit_users(&key, chan);
        }
    }

    fn on_chat(&mut self, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_ref() else { return };
        let target = msg.param(0);
        let mut text = msg.param(1);
        if msg.source.is_none() {
            return self.system(None, text.to_string(), now);
        }
        let from = msg.source_nick().unwrap_or("");
        let time = msg.tag("time").and_then(clock::parse_rfc3339).unwrap_or(now.wall);
        let mut kind = if msg.command == "NOTICE" { MsgKind::Notice } else { MsgKind::Privmsg };
        if let Some(ctcp) = text.strip_prefix('\u{1}') {
            match ctcp.trim_end_matches('\u{1}').strip_prefix("ACTION ") {
                Some(action) => {
                    kind = MsgKind::Action;
                    text = action;
                }
                None => return, // other CTCP queries are not shown
            }
        }
        let me = from.eq_ignore_ascii_case(&link.nick);
        // A channel, or a private conversation named for the other person.
        let conversation = if target.starts_with(['#', '&']) || me {
            target
        } else if from.contains('.') {
            // A server notice.
            return self.system(None, text.to_string(), now);
        } else {
            from
        };
        let history = msg.tag("batch").is_some_and(|b| link.history_batches.iter().any(|h| h == b));
        let key = conversation.to_ascii_lowercase();
        if history && link.seen_before.get(&key).is_some_and(|(t, last)| time < *t || (time == *t && text == last)) {
            return; // shown before the connection was lost
        }
        if self.seen.get(&key).is_none_or(|(t, _)| time >= *t) {
            self.seen.insert(key, (time, text.to_string()));
        }
        let (target, from, text) = (conversation.to_string(), from.to_string(), text.to_string());
        self.emit(Event::Message { target, from, text, time, kind, history });
    }
}

/// A user-list entry with the status `symbol` added or taken away, its
/// symbols kept in the server's order (`prefixes`).
fn restatus(entry: &str, prefixes: &str, symbol: char, on: bool) -> String {
    let nick = bare_nick(entry, prefixes);
    let has = &entry[..entry.len() - nick.len()];
    let mut out: String = prefixes.chars().filter(|c| if *c == symbol { on } else { has.contains(*c) }).collect();
    out.push_str(nick);
    out
}

/// One channel mode change in words, after who made it.
fn mode_words(m: char, on: bool, arg: &str) -> String {
    let (give, take) = match m {
        'o' => ("gave operator status to", "took operator status from"),
        'v' => ("gave voice to", "took voice from"),
        'b' => ("banned", "lifted the ban on"),
        'e' => ("exempted from bans", "ended the ban exemption of"),
        'k' => ("set the channel key", "removed the channel key"),
        'l' => ("limited the channel to", "removed the user limit"),
        'm' => ("made the channel moderated (only voiced users and operators speak)", "made the channel unmoderated"),
        'i' => ("made the channel invite-only", "opened the channel to everyone"),
        's' => ("made the channel secret", "made the channel public"),
        'd' => ("let only voiced users and operators draw", "let everyone draw"),
        't' => ("let only operators set the topic", "let everyone set the topic"),
        'n' => ("closed the channel to outside messages", "opened the channel to outside messages"),
        _ => {
            return format!("set mode {}{m}{}{arg}", if on { '+' } else { '-' }, if arg.is_empty() { "" } else { " " });
        }
    };
    let words = if on { give } else { take };
    match (m, on) {
        ('k', _) | ('l', false) => words.to_string(),
        ('l', true) => format!("{words} {arg} users"),
        _ if arg.is_empty() => words.to_string(),
        _ => format!("{words} {arg}"),
    }
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

/// A valid nick to register with instead of a refused one: `guest` and
/// digits derived from it, so the same bad nick always gives the same one.
pub fn fallback_nick(refused: &str) -> String {
    let h = refused.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("guest{}", h % 10_000)
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

#[path = "core_files.rs"]
mod files;
#[path = "core_people.rs"]
mod people;
#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
